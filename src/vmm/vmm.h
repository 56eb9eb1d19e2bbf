/*
 * vmm: the engine. Runs one static Linux x86-64 ELF (musl or glibc, static
 * or static-pie) made for that one call, with no guest kernel, on one of two
 * platforms: a fresh KVM virtual machine (the host puts the vCPU straight
 * into 64-bit long mode at CPL3), or, where /dev/kvm is missing, a trapped
 * process (a stub process per call whose every system call traps out to
 * osvm, confined by a kill-by-default seccomp filter and namespaces). The
 * program's system calls are served here, on the host, by one syscall layer
 * under the call's limits and mounts, whichever platform runs it.
 * docs/vmm.md explains how.
 *
 * Guest input is hostile: every guest pointer and length is checked against
 * guest memory before it is used; a guest that faults, loops, floods or lies
 * is stopped and the result says why in words.
 */
#ifndef OSVM_VMM_H
#define OSVM_VMM_H

#include <stdbool.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>

#include "base/base.h"

/* The version of the image format that docs/vmm.md describes. */
#define VMM_IMAGE_FORMAT 1

/* A host directory visible to the guest at vm_path (absolute, no `..`). */
struct vmm_mount {
        const char *host_path;
        const char *vm_path;
        bool readonly; /* true unless the policy says `readonly: false` */
};

/* Zero fields take the defaults below. */
struct vmm_limits {
        uint32_t memory_mb;        /* guest memory, VMM_MEM_MIN_MB..VMM_MEM_MAX_MB */
        uint32_t timeout_ms;       /* wall time from start to exit (UINT32_MAX: ~49 days) */
        uint64_t max_output_bytes; /* written to the guest's fds 1 and 2 together */
        uint64_t max_syscalls;     /* system calls served by the host (on PVM the constant
                                    * ones answered inside the guest are not counted) */
};

#define VMM_DEFAULT_MEMORY_MB    128
#define VMM_DEFAULT_TIMEOUT_MS   10000
#define VMM_DEFAULT_MAX_OUTPUT   (64ull << 20)
#define VMM_DEFAULT_MAX_SYSCALLS 1000000ull
#define VMM_MEM_MIN_MB           8
#define VMM_MEM_MAX_MB           4096
#define VMM_MAX_MOUNTS           16
/* How soon a set spec->cancel stops a VM at the latest. */
#define VMM_CANCEL_TICK_MS 20

/* Where a program runs. */
enum vmm_platform {
        VMM_PLATFORM_AUTO = 0, /* KVM where /dev/kvm is usable, else the process platform */
        VMM_PLATFORM_KVM,      /* a KVM virtual machine */
        VMM_PLATFORM_PROCESS,  /* a trapped process (no hardware virtualization) */
};

struct vmm_spec {
        const char *image;       /* path of a static x86-64 ELF */
        const char *const *argv; /* NULL-terminated; argv[0] defaults to the image path */
        const char *const *envp; /* NULL-terminated, may be NULL */
        int in_fd;               /* the guest's fd 0; -1 reads as end of file */
        int out_fd;              /* the guest's fd 1; -1 discards */
        int err_fd;              /* the guest's fd 2; -1 discards */
        /*
         * The guest's fd 3, the host-call channel (docs/tool-images.md): a
         * socket the guest reads and writes, served by the caller; reads wait
         * at most until the deadline. -1 (or 0, when unset): no fd 3.
         */
        int host_fd;
        const struct vmm_mount *mounts;
        size_t nmounts;
        const char *cwd; /* the guest's working directory; NULL for "/" */
        /*
         * fds 0-2 may be the user's terminal (the agent's μVM-1): the guest
         * may read its settings and window size and switch line editing,
         * echo and signals (TCGETS, TCSETS*, TIOCGWINSZ; nothing else), and
         * its input is not read ahead. The caller restores the terminal.
         */
        bool tty;
        /* With tty: flags (NULL-terminated) that end a read of the terminal
         * with EINTR while one is set, such as the caller's Ctrl-C flag; a
         * signal that comes while the read waits ends it too. */
        volatile sig_atomic_t *const *tty_wake;
        /*
         * The caller's cancel flag (its Ctrl-C), or NULL: once it is non-zero
         * the VM stops (res->end VMM_END_CANCELLED, why "cancelled", exit
         * code 130) within about VMM_CANCEL_TICK_MS, whatever the guest is
         * doing: running, or waiting in a read, a write, a sleep or a futex.
         * The flag may be set from a signal handler on any thread.
         */
        volatile sig_atomic_t *cancel;
        /*
         * Guest memory in 2 MiB host pages where the host allows them (and a
         * VM of its own, never one from the pool): fewer first-touch faults
         * for a big, long-lived program (μVM-1), more host memory.
         */
        bool huge_pages;
        struct vmm_limits limits;
        enum vmm_platform platform;
};

enum vmm_end {
        VMM_END_EXIT = 0,  /* the program called exit: exit_code is its status */
        VMM_END_FAULT,     /* a CPU exception, an abort or an emulator failure */
        VMM_END_LIMIT,     /* stopped past a limit; why names it */
        VMM_END_CANCELLED, /* spec->cancel was set: exit_code 130 */
        VMM_END_ERROR,     /* the VM could not be set up or run; vmm_run returned -1 */
};

/* Where the time went, in nanoseconds. */
struct vmm_timing {
        uint64_t create_ns;   /* KVM VM, vCPU and memory (0 when taken from the pool) */
        uint64_t load_ns;     /* image, page tables, stack, registers */
        uint64_t run_ns;      /* first KVM_RUN to the end */
        uint64_t syscall_ns;  /* of run_ns, spent serving system calls */
        uint64_t teardown_ns; /* on the caller's path (0 when handed to the reaper) */
};

struct vmm_result {
        enum vmm_platform platform; /* the one that ran (AUTO when none could) */
        enum vmm_end end;
        int exit_code; /* for VMM_END_EXIT; 128+signal for an abort; else 125 */
        char why[512]; /* the fault or limit in words; "" for a plain exit */
        uint64_t syscalls;
        uint64_t output_bytes;
        struct vmm_timing t;
};

/*
 * Runs spec->image to its end. Returns 0 when the VM ran (res->end says how
 * it ended: exit, fault or limit) and -1 with e set (and res->end ==
 * VMM_END_ERROR) when it could not run: no /dev/kvm, a bad image, a bad
 * mount. Thread-safe: several calls may run at once on different threads.
 * Uses the signal SIGRTMIN+4 (a handler that only marks the vCPU, installed
 * once) to stop a vCPU at its deadline and, with spec->cancel, to look at
 * the flag every VMM_CANCEL_TICK_MS; keeps SIGPIPE blocked in the calling
 * thread while it runs. The caller's fds are used, never closed; every wait
 * on them ends at the deadline or on cancel.
 */
int vmm_run(const struct vmm_spec *spec, struct vmm_result *res, osvm_err *e);

/* Checks that path is an image the engine would run, loading it as a run
 * does (a regular file of at most 256 MiB, a static x86-64 ELF), without
 * KVM and without caching it; -1 with the reason in e when it is not. */
int vmm_image_check(const char *path, osvm_err *e);

/* Probes /dev/kvm: true when usable; otherwise why says what is wrong and how to fix it. */
bool vmm_probe(char *why, size_t n);
/* OSVM_NO_KVM=1 in the environment makes osvm treat /dev/kvm as absent (read
 * once per process): the host without KVM, on any host, for tests and users. */
#define VMM_NO_KVM_ENV "OSVM_NO_KVM"

/* "auto", "kvm" or "process". */
const char *vmm_platform_name(enum vmm_platform p);
/* Parses a platform name; false (out unchanged) for anything else. */
bool vmm_platform_parse(const char *s, enum vmm_platform *out);
/* The platform AUTO comes to on this host. */
enum vmm_platform vmm_platform_auto(void);
/*
 * Whether platform p (AUTO: the one it comes to) can run programs here;
 * why says what it runs with (for the process platform: the trap, the
 * namespaces) or what is missing and how to fix it.
 */
bool vmm_platform_probe(enum vmm_platform p, char *why, size_t n);

/* A short name for an end ("exit", "fault", "limit", "cancelled", "error"). */
const char *vmm_end_name(enum vmm_end end);

/*
 * Optional speed-up for a long-lived process (the agent, the benchmark):
 * a background thread keeps n guests of memory_mb created ahead of need on
 * the platform AUTO comes to (calls with another memory size or platform
 * make their own) and tears used ones down off the request path; more (up
 * to 16) while calls side by side outrun it, n again once they stop. Each
 * still serves one call only. Once per process until vmm_shutdown(), which
 * stops the thread and frees everything, the image cache included.
 */
int vmm_pool_start(unsigned n, uint32_t memory_mb, osvm_err *e);
/* The same on platform p (AUTO: as vmm_pool_start); calls on another
 * platform make their own guests. */
int vmm_pool_start_platform(enum vmm_platform p, unsigned n, uint32_t memory_mb, osvm_err *e);
void vmm_shutdown(void);

#endif
