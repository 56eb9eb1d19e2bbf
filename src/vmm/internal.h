/*
 * vmm internals shared by the files of src/vmm (not a public header).
 *
 * Guest physical memory is identity-mapped (guest virtual == guest physical):
 *
 *   0x0000_0000          page 0, never mapped
 *   0x0000_1000          page tables, GDT, IDT, TSS + I/O bitmap, CPL0
 *                        handlers, CPL0 stack: present, supervisor-only
 *   VMM_STUB_ADDR        the syscall stub: present, user, read-only
 *   0x0020_0000          user memory (2 MiB pages, user, writable):
 *                        ELF image, brk heap upward, mmap area downward
 *   stack_lo - 2 MiB     guard (not present): a stack overflow faults
 *   [stack_lo, mem_size) the initial stack
 */
#ifndef OSVM_VMM_INTERNAL_H
#define OSVM_VMM_INTERNAL_H

#include <linux/kvm.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/base.h"
#include "vmm/proc_abi.h"
#include "vmm/vmm.h"

#define VMM_PAGE       4096ull
#define VMM_HUGE       (2ull << 20)
#define VMM_PML4_ADDR  0x1000ull
#define VMM_PDPT_ADDR  0x2000ull
#define VMM_PD_ADDR    0x3000ull /* four PDs: 0x3000..0x6fff */
#define VMM_PT_ADDR    0x7000ull /* 4 KiB pages of the first 2 MiB */
#define VMM_GDT_ADDR   0x8000ull
#define VMM_IDT_ADDR   0x9000ull
#define VMM_TSS_ADDR   0xa000ull /* 0x68 bytes + 8 KiB I/O bitmap + 0xff */
#define VMM_TSS_LIMIT  (0x68ull + 0x2000ull)
#define VMM_CPL0_ADDR  0xd000ull /* exception handlers, 8 bytes per vector */
#define VMM_STUB_ADDR  0xe000ull /* syscall entry (LSTAR) */
#define VMM_KSTACK_LO  0x10000ull
#define VMM_KSTACK_TOP 0x20000ull
#define VMM_USER_BASE  VMM_HUGE
#define VMM_LOAD_BASE  0x400000ull /* where a static-pie image goes */

#define VMM_PORT_SYSCALL 0xe0 /* allowed at CPL3 by the TSS I/O bitmap */
#define VMM_PORT_FAULT   0xe1 /* used by the CPL0 exception handlers only */

/* The syscall stubs (stub.c); uid, gid patched into the PVM one. */
#define VMM_STUB_PLAIN_LEN  7
#define VMM_STUB_PVM_LEN    745
#define VMM_STUB_PVM_UID    0x2d8
#define VMM_STUB_PVM_GID    0x2dc
#define VMM_STUB_PVM_IOFLAG 0x2e8 /* nonzero: staged I/O on */
/* The immediate of the stub's `cmp $3, %rdi` before it answers ioctl on
 * fds 0-2 with ENOTTY itself: 0 sends every ioctl to the VMM (spec->tty). */
#define VMM_STUB_PVM_IOCTL_FDS 0xc4

/*
 * Staged I/O (on PVM for images loaded at or above VMM_LOAD_BASE; on the
 * process platform for every image): the request is read ahead into guest
 * memory and the stub serves read(0) from it; the stub collects write(1) in
 * a buffer that the VMM sends on before it serves any other call and at the
 * end. The header (u64 fields at these offsets) and the two buffers lie
 * where the platform's stub expects them (struct vmm_io_area). The header is
 * guest memory, so the VMM trusts none of it: it keeps its own input length
 * and bounds what it reads back.
 */
#define VMM_IO_IN_POS  0x00 /* guest: staged input consumed */
#define VMM_IO_IN_LEN  0x08 /* host: staged input */
#define VMM_IO_IN_EOF  0x10 /* host: the input ends there */
#define VMM_IO_OUT_LEN 0x18 /* guest: staged output */
#define VMM_IO_IN_OK   0x20 /* host: fd 0 is the request */
#define VMM_IO_OUT_OK  0x28 /* host: fd 1 is the result */
#define VMM_IO_OK_LO   0x30 /* host: buffers the stub may use: */
#define VMM_IO_OK_HI   0x38 /*   [OK_LO, OK_HI) */
#define VMM_IO_ST_LO   0x40 /*   or [ST_LO, ST_HI) */
#define VMM_IO_ST_HI   0x48
struct vmm_io_area {
        uint64_t hdr;              /* the header's page (where the stub sees it) */
        uint64_t in_buf, in_cap;   /* the staged request */
        uint64_t out_buf, out_cap; /* the staged result */
        uint64_t user_lo;          /* the lowest user buffer the stub may serve */
};
/* On KVM (PVM's stub, stub.c): the user area's first 2 MiB, which an image
 * at VMM_LOAD_BASE leaves free. */
#define VMM_KVM_IO_HDR     0x200000ull
#define VMM_KVM_IO_IN_BUF  0x201000ull
#define VMM_KVM_IO_OUT_BUF 0x300000ull
#define VMM_KVM_IO_OUT_CAP 0x100000ull
#define VMM_WARMUP_ADDR    (VMM_STUB_ADDR + 0x800)
#define VMM_WARMUP_LEN     44
#define VMM_WARM_LIST      0x380000ull /* the warm-up's page list (in the result buffer) */
#define VMM_WARM_MAX       1024        /* pages in a profile */
extern const uint8_t vmm_stub_plain[VMM_STUB_PLAIN_LEN];
extern const uint8_t vmm_stub_pvm[VMM_STUB_PVM_LEN];
extern const uint8_t vmm_warmup_code[VMM_WARMUP_LEN];

#define VMM_MAX_FDS     64
#define VMM_MAX_MAPS    4096
#define VMM_MAX_ARGS_SZ (256u << 10)

/* ---- the image (elf.c) ---- */

struct vmm_seg {
        uint64_t vaddr, memsz, off, filesz; /* vaddr before the bias */
        uint32_t flags;                     /* PF_R, PF_W, PF_X */
};

/* A parsed image, cached per path: the file's bytes in a sealed memfd that
 * each VM maps copy-on-write. */
struct vmm_image {
        char *path;
        dev_t dev;
        ino_t ino;
        int64_t mtime_ns, ctime_ns; /* ctime: a chmod or chown is a change too */
        uint64_t size;
        int memfd;
        const uint8_t *bytes; /* read-only mapping of the memfd */
        bool pie;
        uint64_t bias; /* added to every vaddr */
        uint64_t entry, phdr, phnum;
        uint64_t lo, hi; /* loaded range, biased, page-aligned */
        size_t nseg;
        struct vmm_seg seg[16];
        bool can_map;    /* segments page-congruent and not sharing pages */
        uint64_t serial; /* this load's number, never another's (1 on) */
        unsigned refs;
        /* Pages the program touched in its first runs (bit 0: written), learned
         * by the reaper and touched ahead by the pool's warm-up. Under the pool's lock. */
        uint64_t *profile;
        size_t nprofile;
        unsigned profiled_runs;
        /* Its system call sites patched, on the process platform (proc_patch.c). */
        struct vmm_proc_patch *patch;
};

/* Parses bytes (a whole file) into img; 0 or -1 with e naming the problem. */
int vmm_elf_parse(const uint8_t *bytes, uint64_t size, struct vmm_image *img, osvm_err *e);
/* Returns the cached image for path (a new reference), loading it when needed. */
struct vmm_image *vmm_image_get(const char *path, osvm_err *e);
void vmm_image_put(struct vmm_image *img);
/* Another reference to img. */
struct vmm_image *vmm_image_ref(struct vmm_image *img);
void vmm_image_cache_clear(void);
/* A serial no image has (for a patched copy of one). */
uint64_t vmm_image_serial_new(void);
/* The process platform's state of an image's patched system call sites
 * (proc_patch.c): made with the image, freed with it. */
struct vmm_proc_patch *vmm_proc_patch_new(void);
void vmm_proc_patch_free(struct vmm_image *img);
/* The length of the x86-64 instruction at p (n bytes readable), or -1 where
 * none in 64-bit mode starts (x86_len.c). */
int vmm_x86_insn_len(const uint8_t *p, size_t n);
/* Places the image's segments into guest memory mem (copy-on-write when it can). */
int vmm_image_load(const struct vmm_image *img, uint8_t *mem, uint64_t mem_size, osvm_err *e);

/* ---- mounts (fs.c) ---- */

struct vmm_fs_mount {
        char *vm_path; /* normalized, absolute, no trailing slash */
        size_t vm_len;
        int dirfd; /* O_PATH|O_DIRECTORY on the host directory */
        bool readonly;
};

struct vmm_fs {
        size_t n;
        struct vmm_fs_mount m[VMM_MAX_MOUNTS];
        /* osvm's own files that the mounts hold, as the host resolves them:
         * never the guest's (an open of them or below them is ENOENT) */
        const char *hidden[PATHS_OWN_MAX];
        size_t nhidden;
};

int vmm_fs_init(struct vmm_fs *fs, const struct vmm_mount *mounts, size_t n, osvm_err *e);
void vmm_fs_fini(struct vmm_fs *fs);
/*
 * Normalizes path (absolute, or relative to the absolute base) lexically
 * into out: no `.`, `..` or repeated slashes; `..` stops at `/`. Returns 0
 * or -ENAMETOOLONG.
 */
int vmm_fs_normalize(const char *base, const char *path, char *out, size_t n);
/*
 * Finds the mount holding the normalized path: returns its index and sets
 * *rest to the path below it ("." for the mount's root), or -ENOENT.
 */
int vmm_fs_lookup(const struct vmm_fs *fs, const char *norm, const char **rest);
/*
 * Opens rest below mount i with openat2(RESOLVE_BENEATH|RESOLVE_NO_MAGICLINKS),
 * so that neither `..` nor a symbolic link leaves the mount. Refuses writes
 * on a read-only mount (-EROFS) and anything but regular files, directories
 * (and, with O_PATH, symbolic links). Returns a host fd or -errno.
 */
int vmm_fs_open(const struct vmm_fs *fs, int i, const char *rest, int flags, unsigned mode);
/* Before rest below mount i is made or removed (mkdir, unlink): -ENOENT when
 * it or its folder is one of osvm's own files or below one, else 0. */
int vmm_fs_may_change(const struct vmm_fs *fs, int i, const char *rest);
/* Set when openat2 is missing (set by hand to test the fallback walk). */
extern bool vmm_fs_no_openat2;
/*
 * The one rule for every mode a guest sets (open/openat/creat with O_CREAT,
 * mkdir/mkdirat, fchmod): the permission bits only, without group and other
 * write (as under umask 022); no setuid, setgid or sticky bit.
 */
#define VMM_FS_MODE_MASK 0755u
unsigned vmm_fs_mode(uint64_t guest_mode);
/* True when the open host fd is the root directory of one of the mounts
 * (whatever path led there): its mode is not the guest's to change. */
bool vmm_fs_is_root(const struct vmm_fs *fs, int fd);

/* ---- platforms (platform.c): how the guest runs under the one syscall layer ---- */

/* Why a platform's run returned. */
enum vmm_exit_kind {
        VMM_EXIT_SYSCALL, /* the guest asks for system call nr with arguments a */
        VMM_EXIT_AGAIN,   /* interrupted (a kick): look at the clock and the cancel flag */
        VMM_EXIT_STOPPED, /* the platform stopped the guest (vmm_stop: a fault, an error) */
};

struct vmm_exit {
        enum vmm_exit_kind kind;
        uint64_t nr;
        uint64_t a[6]; /* rdi rsi rdx r10 r8 r9 */
};

struct vmm_vm;

/*
 * A platform: how guest memory is made and reached, how the program is
 * entered, and how its system calls come out to the syscall layer. The layer
 * (syscall.c, sys_*.c, fs.c), the image (elf.c), the stack, the limits and
 * the results (run.c) are the same on every platform; a platform knows no
 * system call.
 * Guest memory is vm->mem on every platform: [0, mem_size) of guest
 * addresses at vm->mem + address, the syscall layer reading and writing it
 * directly. Only the system pages below VMM_USER_BASE differ.
 */
#define VMM_PREPARE_MAX 8 /* guests a platform prepares in one go */

struct vmm_platform_ops {
        enum vmm_platform id;
        const char *name;
        /* The guest runs on the calling thread (KVM_RUN), which only a signal
         * gets out of: vmm_run arms the kick timers for it. */
        bool kicks;
        /* Usable here? why says what it can do, or what is missing and how to fix it. */
        bool (*probe)(char *why, size_t n);
        /* Guest memory of mem_mb (vm->mem, vm->mem_size), its layout
         * (vmm_vm_layout) and the platform's control state, ready to load. */
        int (*create)(struct vmm_vm *vm, uint32_t mem_mb, osvm_err *e);
        /* Places the image's segments into guest memory. */
        int (*load)(struct vmm_vm *vm, const struct vmm_image *img, osvm_err *e);
        /* The registers the program starts with: rip, rsp, the rest zero. */
        int (*enter)(struct vmm_vm *vm, uint64_t rip, uint64_t rsp, osvm_err *e);
        /* Staged I/O: true when the platform's stub serves fds 0 and 1 from
         * guest memory in this call (and sets it up), in the area io. */
        bool (*io_setup)(struct vmm_vm *vm);
        const struct vmm_io_area *io;
        /* Where the staged I/O header lies in memory osvm shares with the
         * stub (the process platform's control page), or NULL: then at
         * io->hdr in guest memory. */
        volatile uint64_t *(*io_hdr)(struct vmm_vm *vm);
        /* Runs the guest until it asks for a system call, stops, or a kick
         * interrupts it. */
        void (*run)(struct vmm_vm *vm, struct vmm_exit *x);
        /* The answer to the system call of the last run: the guest's rax. */
        void (*complete)(struct vmm_vm *vm, int64_t ret);
        int (*set_fs_base)(struct vmm_vm *vm, uint64_t base);
        uint64_t (*fs_base)(struct vmm_vm *vm);
        /* Zeroes whole guest pages [lo, hi) and gives their host memory back. */
        void (*zero)(struct vmm_vm *vm, uint64_t lo, uint64_t hi);
        /* Copies len bytes into / out of guest memory at gpa (checked by the
         * caller): the same bytes as through vm->mem, but where the platform
         * can without touching vm->mem (the process platform writes its
         * memfd: a page osvm touched costs a first-touch fault and, once the
         * guest is torn down, a TLB flush on every CPU osvm runs on). For the
         * engine's own writes (the stack, the staged request and result); the
         * syscall layer reaches guest memory through vm->mem. */
        void (*copy_in)(struct vmm_vm *vm, uint64_t gpa, const void *src, size_t len);
        void (*copy_out)(struct vmm_vm *vm, uint64_t gpa, void *dst, size_t len);
        /* The call is over: the guest must not run on (it is torn down later). */
        void (*halt)(struct vmm_vm *vm);
        /* Ends the guest (if it still runs) and frees everything. */
        void (*destroy)(struct vmm_vm *vm);
        /* The pool: n guests alike (1 to VMM_PREPARE_MAX, at once where the
         * platform can: one request to the zygote), each created, img loaded
         * (may be NULL) and the nlist pages of list warmed up (bit 0:
         * written), so that a call starts at once. ok[i] says which are
         * ready (the others hold nothing); how many; e says why the first
         * that failed did. */
        size_t (*prepare)(struct vmm_vm *const *vms, bool *ok, size_t n, uint32_t mem_mb,
                          struct vmm_image *img, const uint64_t *list, size_t nlist, osvm_err *e);
        /* Several guests prepared together cost less each than one alone
         * (the process platform: one request to the zygote for all). */
        bool prepare_shares;
        /* The reaper: the guest pages of a used guest that are in memory,
         * sorted, bit 0 set for a page written (not the image's own). */
        size_t (*touched)(struct vmm_vm *vm, uint64_t *out, size_t max);
};

extern const struct vmm_platform_ops vmm_platform_kvm;
extern const struct vmm_platform_ops vmm_platform_process;
/* Ends the process platform's zygote (vmm_shutdown); a later run starts another. */
void vmm_proc_shutdown(void);
/* The process platform's guest memories kept for the next calls, once the
 * stubs ended meanwhile have given theirs back (waiting up to wait_ms for
 * them): how many, of mem_mb MiB. */
size_t vmm_proc_kept_memory(uint32_t mem_mb, int wait_ms);
/* The platform a spec's choice comes to here (AUTO: KVM where usable), or
 * NULL with e set. */
const struct vmm_platform_ops *vmm_platform_pick(enum vmm_platform want, osvm_err *e);
/* For a prepare of several guests: e, unless it says why one failed already,
 * says what mine does. */
void vmm_first_error(osvm_err *e, const osvm_err *mine);
const struct vmm_platform_ops *vmm_platform_ops(enum vmm_platform p);
/*
 * The pages of [first, last) (guest addresses) of a host mapping at base in
 * process pid (0: this one) that are present, from /proc/PID/pagemap: bit 0
 * set where the page is no longer a file's (written). Skips the guard and
 * the warm-up list. Returns the count (at most max), sorted.
 */
size_t vmm_pagemap_touched(const struct vmm_vm *vm, int pid, uintptr_t base, uint64_t *out,
                           size_t max);
/*
 * A CPU exception in words, the same on every platform: vector, error code,
 * the faulting address (cr2, for #PF), rip, the privilege level; sys names
 * what lies below VMM_USER_BASE on this platform.
 */
void vmm_fault_words(const struct vmm_vm *vm, unsigned vector, uint64_t err, uint64_t cr2,
                     uint64_t rip, unsigned cpl, const char *sys, char *why, size_t n);
/* The exit code of a CPU exception: 128 + the signal Linux would send. */
int vmm_fault_code(unsigned vector);

/* ---- one VM (kvm_x86_64.c) ---- */

struct vmm_fd {
        /* HOST: the host-call channel, read and written; the caller's socket */
        enum { VMM_FD_FREE = 0, VMM_FD_IN, VMM_FD_OUT, VMM_FD_FILE, VMM_FD_HOST } kind;
        /*
         * How the caller's fd of IN/OUT/HOST may block: never (a regular
         * file, nothing), a pipe, terminal or device (waited on with poll,
         * written at most PIPE_BUF bytes at a time), or a socket (sent and
         * received without waiting, waited on with poll).
         */
        enum { VMM_STREAM_NO = 0, VMM_STREAM_PIPE, VMM_STREAM_SOCK } stream;
        int host;   /* host fd; for IN/OUT/HOST the caller's (not ours), may be -1 */
        int mount;  /* for FILE: the mount index */
        char *path; /* for FILE: the normalized guest path */
        bool dir;
};

struct vmm_range {
        uint64_t lo, hi;
};

/* The pages a guest memory's memfd held after its last wipe (mem_wipe in
 * proc_mem.c), all zero: while no page of it was given back since (a
 * hole punched), a memfd that holds as many pages holds these and no
 * other. */
#define VMM_PROC_WIPED_MAX 16
struct vmm_proc_wiped {
        bool known; /* ext[] holds every page the memfd held after the wipe */
        size_t n;
        struct vmm_range ext[VMM_PROC_WIPED_MAX];
        uint64_t bytes; /* their sum */
};

/* A guest of the process platform (proc_x86_64.c): its memory's memfd and
 * its stub process. */
struct vmm_proc_as {
        int memfd;
        int ctlfd; /* the control page's memfd (a slot osvm keeps mapped) */
        struct vmm_proc_ctl *ctl;
        int imgfd;    /* the image's memfd the stub maps (borrowed), or -1 */
        int pidfd;    /* the stub, or -1 before it is made */
        int nspid;    /* its pid as the zygote sees it (its tid, in RUN) */
        int hostpid;  /* its pid here (for /proc), 0 until looked up */
        uint32_t run; /* the state word's RUN value */
        bool started; /* RUN set once: the first run starts the program */
        bool gone;    /* reaped: status holds its wait status */
        int status;
        bool spin;     /* a spare CPU: spin before sleeping */
        int placed;    /* the CPU the stub is held on (place_stub), or -1 */
        size_t nremap; /* ranges the stub maps again before it resumes */
        size_t nro;    /* image ranges mapped read-only in both processes */
        struct vmm_range ro[VMM_PROC_MAX_SEGS];
        int64_t ro_delta[VMM_PROC_MAX_SEGS]; /* a range's offset in the image memfd, less lo */
        uint64_t ro_serial;          /* the image (its serial) ro[] maps in osvm's view, 0: none */
        struct vmm_proc_wiped wiped; /* what guest memory held when it was last wiped */
};

struct vmm_vm {
        const struct vmm_platform_ops *plat;
        struct vmm_proc_as proc; /* the process platform */
        /* KVM */
        int vmfd, vcpufd;
        struct kvm_run *run;
        size_t run_size;
        uint8_t *mem;
        uint64_t mem_size;
        uint32_t memory_mb;
        bool huge_pages; /* set before vmm_vm_create: see spec->huge_pages */

        /* the guest process */
        uint64_t stack_lo, guard_lo; /* guard is [guard_lo, stack_lo) */
        uint64_t brk_start, brk_cur; /* heap [brk_start, brk_cur) */
        struct vmm_range *maps;      /* mmap areas, sorted by lo */
        size_t nmaps;
        struct vmm_fd fds[VMM_MAX_FDS];
        struct vmm_fs fs;
        const struct vmm_image *img;
        struct vmm_image *prepared; /* image loaded ahead by the pool, or NULL */
        bool pooled;                /* taken from the pool (vmm_pool_give counts it back) */
        uint64_t fs_base;
        char *cwd; /* normalized guest path */

        /* the run */
        const struct vmm_spec *spec;
        struct vmm_limits lim;
        uint64_t start_ns, deadline_ns;
        bool cpl0_syscalls; /* VT-x/AMD-V: the stub runs at CPL0 and sysretq returns */
        bool mode_known;
        bool io_on;         /* staged I/O in use */
        int out_stream;     /* how spec->out_fd may block (vmm_fds_std) */
        uint64_t io_in_len; /* the host's own copy */
        bool io_in_eof;
        bool done;
        uint64_t unknown_seen[8]; /* bitmap of syscall numbers already logged */
        struct vmm_result *res;
};

/* Creates a VM with mem_mb of guest memory and one vCPU in long mode at CPL3. */
int vmm_vm_create(struct vmm_vm *vm, uint32_t mem_mb, osvm_err *e);
void vmm_vm_destroy(struct vmm_vm *vm);
/* Writes page tables, GDT, IDT, TSS, stubs into guest memory and sets the
 * vCPU's control registers and MSRs. */
int vmm_vm_setup_cpu(struct vmm_vm *vm, osvm_err *e);
int vmm_vm_set_entry(struct vmm_vm *vm, uint64_t rip, uint64_t rsp, osvm_err *e);
int vmm_vm_set_fs_base(struct vmm_vm *vm, uint64_t base);
/* The guest's FS base now (the guest may change it itself with wrfsbase). */
uint64_t vmm_vm_fs_base(struct vmm_vm *vm);
/*
 * Runs the vCPU once through `syscall` to the stub and back to the VMM,
 * touching the n pages of list first: the first KVM_RUN (~250 us on PVM) and
 * the first touch of each page (~40 us on PVM) are paid here, off the
 * request path; and the exit tells whether syscalls enter at CPL0 (sets
 * vm->cpl0_syscalls).
 */
int vmm_vm_warmup(struct vmm_vm *vm, const uint64_t *list, size_t n, osvm_err *e);
/* The layout of the VM's memory (stack, guard) for its size. */
void vmm_vm_layout(struct vmm_vm *vm);

/* ---- the pool and the reaper (pool.c) ---- */

/* Takes a guest of platform plat made ahead with mem_mb of memory and img
 * loaded, set up and warmed up. When none is ready for the image the pool
 * works for and plat prepares several for less (prepare_shares), the
 * caller makes every guest missing in one go and takes one; false when none
 * is taken (then the pool prepares for img from now on). */
bool vmm_pool_take(const struct vmm_platform_ops *plat, uint32_t mem_mb, struct vmm_image *img,
                   struct vmm_vm *vm);
/* The pages img's program touched in its first runs that a guest of vm's
 * layout has (bit 0: written), malloc'd, or NULL (*n 0). */
uint64_t *vmm_pool_profile(const struct vmm_image *img, const struct vmm_vm *vm, size_t *n);
/* Whether the reaper will learn which pages a run of img in vm touches
 * (the image's first runs): then the guest must stay until it is torn down. */
bool vmm_pool_learns(const struct vmm_image *img, const struct vmm_vm *vm);
/* Tears vm down, on the reaper thread when the pool runs; the reaper first
 * learns which pages the run of img touched. */
void vmm_pool_give(struct vmm_vm *vm, struct vmm_image *img);
/* Waits until the pool is full and the reaper has nothing left (for the benchmark). */
void vmm_pool_wait_idle(void);
/* The guests ready now and the size the pool keeps (grown with the calls). */
void vmm_pool_counts(unsigned *now, unsigned *size);
/* Calls in vmm_run now, in this process (the process platform places a
 * call's stub only while calls run side by side). */
int vmm_calls_running(void);
int vmm_kvm_fd(osvm_err *e);
/* True when /dev/kvm is PVM (the stub runs at CPL3 and has fast paths). */
bool vmm_kvm_is_pvm(void);
/* Describes the exception at a VMM_PORT_FAULT exit in words. */
void vmm_vm_describe_fault(struct vmm_vm *vm, unsigned vector, char *why, size_t n);

/* ---- the host's constants (run.c) ---- */

/* osvm's uid and gid, as the guest sees them: read once per process (a
 * system call each costs ~3 us where the host is itself a PVM guest, and
 * every call asks for them several times). */
uint32_t vmm_host_uid(void);
uint32_t vmm_host_gid(void);

/* ---- stopping the VM (run.c) ---- */

/* Stops the VM with an end and a reason. */
void vmm_stop(struct vmm_vm *vm, enum vmm_end end, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* True when spec->cancel is set; the VM then stops, "cancelled", unless it
 * had stopped already. */
bool vmm_cancelled(struct vmm_vm *vm);
/* Kick signals this thread has taken (the handler counts them), so that a
 * wait can tell the engine's own kick from a signal meant for the caller. */
extern _Thread_local volatile sig_atomic_t vmm_kicks;

/*
 * ---- the syscall layer ----
 *
 * syscall.c checks and copies guest memory and hands each call to the file
 * of its area: sys_fd.c (the fd table), sys_io.c (reading and writing),
 * sys_file.c (paths and files), sys_mm.c (memory), sys_time.c (clocks,
 * sleeps, futex), sys_proc.c (the process: ids, limits, signals, exit). A
 * handler vmm_sys_NAME takes the call's arguments as the guest passed them
 * and returns the guest's rax (a value, or -errno).
 */

/* -- guest memory, the dispatch (syscall.c) -- */

/* True when [gpa, gpa+len) lies in user memory (overflow-safe). */
bool vmm_guest_ok(const struct vmm_vm *vm, uint64_t gpa, uint64_t len);
/* Host pointer for a checked range, or NULL. */
void *vmm_guest_ptr(const struct vmm_vm *vm, uint64_t gpa, uint64_t len);
/* Copies a NUL-terminated guest string of at most n-1 bytes into out: 0,
 * -EFAULT, or -ENAMETOOLONG when no NUL comes within n bytes. */
int vmm_guest_str(struct vmm_vm *vm, uint64_t gpa, char *out, size_t n);
/* Copies len bytes into / out of the guest's memory at gpa, checked: 0 or
 * -EFAULT. */
int vmm_guest_put(struct vmm_vm *vm, uint64_t gpa, const void *src, size_t len);
int vmm_guest_get(struct vmm_vm *vm, uint64_t gpa, void *dst, size_t len);
/* Serves system call nr with arguments a (rdi rsi rdx r10 r8 r9); returns
 * the guest's rax. */
int64_t vmm_syscall(struct vmm_vm *vm, uint64_t nr, const uint64_t a[6]);

/* -- the fd table (sys_fd.c) -- */

/* The guest's fd, or NULL when fd is not one of its open fds. */
struct vmm_fd *vmm_fd_get(struct vmm_vm *vm, uint64_t fd);
/* The lowest free fd at or above from, or -EMFILE. */
int vmm_fd_alloc(struct vmm_vm *vm, uint64_t from);
void vmm_fds_close(struct vmm_vm *vm);
int64_t vmm_sys_close(struct vmm_vm *vm, uint64_t fd);
int64_t vmm_sys_lseek(struct vmm_vm *vm, uint64_t fd, uint64_t off, uint64_t whence);
int64_t vmm_sys_dup(struct vmm_vm *vm, uint64_t fd);
/* dup2, and dup3 (which refuses to == fd). */
int64_t vmm_sys_dup2(struct vmm_vm *vm, uint64_t fd, uint64_t to, bool dup3);
int64_t vmm_sys_fcntl(struct vmm_vm *vm, uint64_t fd, uint64_t cmd, uint64_t arg);
/* fsync and fdatasync. */
int64_t vmm_sys_fsync(struct vmm_vm *vm, uint64_t fd);
/* Terminal ioctls on fds 0-2 where spec->tty says they may be the user's
 * terminal; ENOTTY for everything else. */
int64_t vmm_sys_ioctl(struct vmm_vm *vm, uint64_t fd, uint64_t cmd, uint64_t arg);

/* -- reading and writing (sys_io.c) -- */

/* The one blocking wait of the syscall layer: until fd is ready for events
 * or until `until`, within the call's deadline and its cancel flag (what it
 * returns: its comment in sys_io.c). */
int vmm_wait_until(struct vmm_vm *vm, int fd, short events, uint64_t until, const char *what);
/* Sets the guest's fds 0-3 up from vm->spec (the request, the result, the
 * log, the host-call channel), each with how it may block. */
void vmm_fds_std(struct vmm_vm *vm);
/* Staged I/O: set up at the start (after vmm_fds_std); sends staged output
 * on (0, or -1 when the VM stopped). */
void vmm_io_start(struct vmm_vm *vm);
void vmm_io_flush(struct vmm_vm *vm);
/* Writes n words of the staged I/O header from field (a VMM_IO_* offset) on. */
void vmm_io_hdr_write(struct vmm_vm *vm, uint64_t field, const uint64_t *v, size_t n);
int64_t vmm_sys_read(struct vmm_vm *vm, uint64_t fd, uint64_t buf, uint64_t len);
int64_t vmm_sys_write(struct vmm_vm *vm, uint64_t fd, uint64_t buf, uint64_t len);
/* readv and writev (wr) with off -1, preadv and pwritev at off. */
int64_t vmm_sys_rwv(struct vmm_vm *vm, bool wr, uint64_t fd, uint64_t iov, uint64_t cnt,
                    int64_t off);
/* pread64 and pwrite64 (wr). */
int64_t vmm_sys_pread(struct vmm_vm *vm, bool wr, uint64_t fd, uint64_t buf, uint64_t len,
                      int64_t off);

/* -- paths and files (sys_file.c) -- */

/* open, creat and openat (dirfd AT_FDCWD for the first two). */
int64_t vmm_sys_openat(struct vmm_vm *vm, int64_t dirfd, uint64_t gpath, uint64_t flags,
                       uint64_t mode);
int64_t vmm_sys_fstat(struct vmm_vm *vm, uint64_t fd, uint64_t buf);
/* stat, lstat (flags AT_SYMLINK_NOFOLLOW) and newfstatat. */
int64_t vmm_sys_stat(struct vmm_vm *vm, int64_t dirfd, uint64_t gpath, uint64_t buf,
                     uint64_t flags);
/* readlink and readlinkat. */
int64_t vmm_sys_readlink(struct vmm_vm *vm, int64_t dirfd, uint64_t gpath, uint64_t buf,
                         uint64_t size);
/* access, faccessat and faccessat2 (flags: AT_SYMLINK_NOFOLLOW). */
int64_t vmm_sys_access(struct vmm_vm *vm, int64_t dirfd, uint64_t gpath, uint64_t mode,
                       uint64_t flags);
/* mkdir and mkdirat (mk, arg the mode); unlink, rmdir and unlinkat (arg
 * AT_REMOVEDIR or not). */
int64_t vmm_sys_dirop(struct vmm_vm *vm, bool mk, int64_t dirfd, uint64_t gpath, uint64_t arg);
int64_t vmm_sys_ftruncate(struct vmm_vm *vm, uint64_t fd, uint64_t len);
int64_t vmm_sys_fchmod(struct vmm_vm *vm, uint64_t fd, uint64_t mode);
/* getdents64. */
int64_t vmm_sys_getdents(struct vmm_vm *vm, uint64_t fd, uint64_t buf, uint64_t len);
int64_t vmm_sys_chdir(struct vmm_vm *vm, uint64_t gpath);
int64_t vmm_sys_getcwd(struct vmm_vm *vm, uint64_t buf, uint64_t size);

/* -- memory (sys_mm.c) -- */

/* a rounded up to a whole page. */
uint64_t vmm_page_up(uint64_t a);
/* brk(want): grows the heap up to vmm_brk_room, zeroes what a shrink gives
 * back; the break after it. */
int64_t vmm_brk(struct vmm_vm *vm, uint64_t want);
/* The highest break a growth reaches without overlapping an mmap area or the
 * stack's guard (what a platform may grant without the layer). */
uint64_t vmm_brk_room(const struct vmm_vm *vm);
int64_t vmm_sys_mmap(struct vmm_vm *vm, uint64_t addr, uint64_t len, uint64_t prot, uint64_t flags,
                     int64_t fd, uint64_t off);
int64_t vmm_sys_munmap(struct vmm_vm *vm, uint64_t addr, uint64_t len);
int64_t vmm_sys_mremap(struct vmm_vm *vm, uint64_t old, uint64_t oldlen, uint64_t newlen,
                       uint64_t flags);
/* mprotect, madvise, msync, mlock and munlock. */
int64_t vmm_sys_mprotect(uint64_t addr);

/* -- time (sys_time.c) -- */

/* clock_gettime (gettime) and clock_getres. */
int64_t vmm_sys_clock(struct vmm_vm *vm, bool gettime, uint64_t clk, uint64_t buf);
int64_t vmm_sys_gettimeofday(struct vmm_vm *vm, uint64_t tvp, uint64_t tzp);
int64_t vmm_sys_time(struct vmm_vm *vm, uint64_t tloc);
int64_t vmm_sys_nanosleep(struct vmm_vm *vm, uint64_t req);
int64_t vmm_sys_clock_nanosleep(struct vmm_vm *vm, uint64_t clk, uint64_t flags, uint64_t req);
int64_t vmm_sys_futex(struct vmm_vm *vm, uint64_t uaddr, uint64_t op, uint64_t val,
                      uint64_t timeout);

/* -- the process (sys_proc.c) -- */

/* The guest's limit res (below RLIM_NLIMITS), soft and hard alike. */
uint64_t vmm_rlimit(const struct vmm_vm *vm, unsigned res);
/* n (at most VMM_RANDOM_MAX) random bytes into buf, from a pool this thread
 * draws a page at a time from the host and wipes as it gives them: each byte
 * goes to one guest once. False when the host gives none. */
#define VMM_RANDOM_MAX 256
bool vmm_random(void *buf, size_t n);
int64_t vmm_sys_uname(struct vmm_vm *vm, uint64_t buf);
int64_t vmm_sys_sysinfo(struct vmm_vm *vm, uint64_t buf);
/* getrlimit; prlimit64 (pid 0 or 1, the new limit ignored). */
int64_t vmm_sys_getrlimit(struct vmm_vm *vm, uint64_t res, uint64_t old);
int64_t vmm_sys_prlimit(struct vmm_vm *vm, uint64_t pid, uint64_t res, uint64_t old);
/* getresuid (uid) and getresgid: at, the call's three addresses. */
int64_t vmm_sys_getresid(struct vmm_vm *vm, bool uid, const uint64_t at[3]);
int64_t vmm_sys_getrandom(struct vmm_vm *vm, uint64_t buf, uint64_t len);
/* exit and exit_group. */
int64_t vmm_sys_exit(struct vmm_vm *vm, uint64_t code);
int64_t vmm_sys_kill(struct vmm_vm *vm, uint64_t pid, uint64_t sig);
int64_t vmm_sys_tkill(struct vmm_vm *vm, uint64_t tid, uint64_t sig);
int64_t vmm_sys_tgkill(struct vmm_vm *vm, uint64_t tgid, uint64_t tid, uint64_t sig);
int64_t vmm_sys_rt_sigaction(struct vmm_vm *vm, uint64_t sig, uint64_t oact, uint64_t size);
int64_t vmm_sys_rt_sigprocmask(struct vmm_vm *vm, uint64_t oldset, uint64_t size);
int64_t vmm_sys_arch_prctl(struct vmm_vm *vm, uint64_t code, uint64_t addr);
int64_t vmm_sys_prctl(struct vmm_vm *vm, uint64_t option, uint64_t arg);
int64_t vmm_sys_sched_getaffinity(struct vmm_vm *vm, uint64_t len, uint64_t mask_addr);

#endif
