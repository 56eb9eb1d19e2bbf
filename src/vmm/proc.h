/*
 * The process platform's parts, and what they give each other:
 *  - proc_zygote.c: the zygote, the process that forks every stub and reaps
 *    it, and the pidfds osvm holds on stubs;
 *  - proc_mem.c: the control pages and guest memories osvm keeps mapped
 *    from one call to the next, and their wipe;
 *  - proc_x86_64.c: one guest (the platform's operations, vmm_platform_ops),
 *    and where its stub runs.
 * The design, and why it holds: docs/vmm.md, "The process platform".
 */
#ifndef OSVM_VMM_PROC_H
#define OSVM_VMM_PROC_H

#include "vmm/internal.h"

/* Bounds that only guard against a stub or zygote that never answers. */
#define PROC_SETUP_WAIT_MS 10000
#define PROC_DEATH_WAIT_MS 5000
/* How often a wait looks whether the stub died unseen (its robust list,
 * which normally reports a death at once, lives in memory the guest can
 * overwrite). */
#define PROC_SLICE_MS 50

/* The stub program, embedded (proc_blob.c). */
extern const uint8_t vmm_stub_blob[];
extern const uint8_t vmm_stub_blob_end[];

/* ---- patched system call sites (proc_patch.c) ---- */

/* img's copy with its system call sites patched: its fd, serial, and the
 * trampolines' offset in it and length; false where there is none (yet:
 * load counts a load of img, which may make it; or none to patch). */
bool vmm_proc_patched(const struct vmm_image *img, bool load, int *fd, uint64_t *serial,
                      uint64_t *tramp_off, uint64_t *tramp_len);
/* The sites patched in img's copy (0 before it is made). */
size_t vmm_proc_patch_count(const struct vmm_image *img);

/* ---- the zygote and stubs' pidfds (proc_zygote.c) ---- */

/* Waits for fd to be readable, at most ms; 0, or -ETIMEDOUT. */
int vmm_proc_wait_readable(int fd, int ms);
/* The pid here of the process a pidfd names, or 0. */
int vmm_proc_pidfd_pid(int pidfd);
/* SIGKILL to the process of pidfd. */
void vmm_proc_pidfd_kill(int pidfd);
/*
 * n stubs (1 to VMM_PROC_FORK_MAX), each for per of fds in turn (memfd,
 * ctlfd, and imgfd when per is 3), in one request: pids[i] > 0 with its
 * pidfd in pidfds[i], or -errno with pidfds[i] -1. 0, or -1 with e when
 * the zygote made none.
 */
int vmm_proc_zyg_fork(const int *fds, size_t per, size_t n, int *pids, int *pidfds, osvm_err *e);
/* The wait status of an ended stub (pid as the zygote sees it): >= 0, or
 * -errno (-EAGAIN: not ended). */
int vmm_proc_zyg_reap(int pid);
/* Whether the platform can run here (the zygote starts), with why in words. */
bool vmm_proc_probe(char *why, size_t n);
/* Ends the zygote (every stub with it); the next request starts another. */
void vmm_proc_zyg_stop(void);

/* ---- kept pages (proc_mem.c) ---- */

/* A control page for vm (vm->proc.ctl, zeroed) and its guest memory
 * (vm->mem, vm->mem_size bytes of zero): kept ones where there are, memory
 * that last served the image of serial (0: not known) first. 0, or -1 with
 * e. */
int vmm_proc_slot_take(struct vmm_vm *vm, uint64_t serial, osvm_err *e);
/* vm's page and memory back, for another stub: only once no process can
 * map them any more. */
void vmm_proc_slot_give(struct vmm_vm *vm);
/* vm's stub was killed: its pidfd (taken from vm), page and memory wait for
 * its end. */
void vmm_proc_slot_retire(struct vmm_vm *vm);
/* Waits for every stub killed to end (or be given up on), and drops the
 * guest memory kept (at shutdown). */
void vmm_proc_slots_settle(void);

#endif
