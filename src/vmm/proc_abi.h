/*
 * The process platform's shared ABI: what osvm (proc_*.c) and its stub
 * program (stub/osvm-stub.c, freestanding: no libc) agree on. Only
 * fixed-size types; both sides include it.
 *
 * Guest memory is one memfd whose offsets are guest addresses. The stub maps
 * [VMM_PROC_LIST_AT, VMM_PROC_SYS_END) of it (the page list, the signal
 * stack and the staged request and result: its "system pages", below the
 * user area) and the user area at the same addresses, as osvm maps the whole
 * of it at vm->mem. The control pages at VMM_PROC_SYS are a memfd of their
 * own, one of a few that osvm keeps mapped for good and gives one stub at a
 * time (zeroed between two): osvm then never touches a page of guest memory
 * it would have to tear down. The first holds struct vmm_proc_ctl; the
 * second is the stub's stack while it sets itself up (its only writable
 * memory then: it mapped both populated before it wrote anything). The stub
 * program itself lies below the control pages, so all of the stub's own is
 * in the first 2 MiB: one page table.
 * Everything the stub maps is writable by the guest: osvm trusts nothing it
 * reads there beyond a number to act on as the guest's own request.
 */
#ifndef OSVM_VMM_PROC_ABI_H
#define OSVM_VMM_PROC_ABI_H

#define VMM_PROC_ABI 9

/* The control pages (a plain number, for the assembler too): the control
 * page itself, then the stub's stack while it sets up, whose top is
 * VMM_PROC_SYS + VMM_PROC_CTL_SIZE. */
#define VMM_PROC_SYS      0x100000
#define VMM_PROC_CTL_SIZE 0x2000

/* Two words at the control page's end where the stub's way back into the
 * guest (gadget.S's stub_resume) keeps the guest's rsp and rip: a stub has
 * no writable memory of its own. A plain number, for the assembler too. */
#define VMM_PROC_RESUME 0x100ff0

/* Patched system call sites (proc_patch.c; plain numbers, for the assembler
 * too): where the trampolines jump, as an offset from the stub's entry
 * point (gadget.S's stub_patch_entry), the words holding the guest's flags
 * (for a moment) and rsp while the stub serves a patched call, the stack
 * it serves it on (the signal stack's top, unless the guest's rsp is on
 * the signal stack), and the pages of trampolines, mapped from the
 * patched image right below the control pages (in no mapping of guest
 * memory's, which they would split). */
#define VMM_PROC_PATCH_OFF   0x10
#define VMM_PROC_PATCH_FLAGS 0x100fe0
#define VMM_PROC_PATCH_RSP   0x100fe8
#define VMM_PROC_PATCH_STACK 0x120000
#define VMM_PROC_ALT_LO      0x110000
#define VMM_PROC_TRAMP       0xfc000
#define VMM_PROC_TRAMP_PAGES 4

#ifndef __ASSEMBLER__
#include <stdint.h>

#define VMM_PROC_LIST_AT  0x102000ull /* from here guest memory again */
#define VMM_PROC_LIST     0x102000ull /* pages to touch ahead, u64 each (bit 0: write) */
#define VMM_PROC_LIST_MAX 1024
/* A list this short is in the control page instead (list_inline): the
 * stub then touches no page for it, and osvm wipes none. */
#define VMM_PROC_LIST_INLINE 256
#define VMM_PROC_ALT         0x110000ull /* the signal stack */
#define VMM_PROC_ALT_SIZE    0x10000ull
#define VMM_PROC_IO_IN       0x120000ull /* the staged request (its header: the control page's io) */
#define VMM_PROC_IO_OUT      0x190000ull /* the staged result */
#define VMM_PROC_SYS_END     0x200000ull /* the user area's start */

/*
 * The state word (a futex shared by both processes):
 *  - RUN, the stub's tid | FUTEX_WAITERS: the guest runs (osvm sets it to
 *    start the guest and to answer a call, then waits while it holds); a
 *    robust futex list makes the kernel add FUTEX_OWNER_DIED and wake osvm
 *    when the stub dies meanwhile;
 *  - the values below, set by the stub.
 */
#define VMM_PROC_NEW       0u          /* osvm made it; the stub is not set up yet */
#define VMM_PROC_READY     0x3ffffff0u /* set up, waiting for RUN */
#define VMM_PROC_SYSCALL   0x3ffffff1u /* a system call in nr, a: waiting for RUN */
#define VMM_PROC_FAULT     0x3ffffff2u /* a fault in sig, code, trapno, err, addr, rip */
#define VMM_PROC_SETUP_ERR 0x3ffffff3u /* setting up failed at step (errno err) */
#define VMM_PROC_WAITERS   0x80000000u /* FUTEX_WAITERS */
#define VMM_PROC_DIED      0x40000000u /* FUTEX_OWNER_DIED */

/* The image ranges the stub maps from the image memfd (read-only, shared
 * by every call of that image). */
#define VMM_PROC_MAX_SEGS 16
struct vmm_proc_seg {
        uint64_t addr, len, off;
        uint32_t prot, pad;
};

/* Guest ranges the stub maps from guest memory again before it resumes the
 * guest (a MAP_FIXED mmap over the image's read-only pages). */
#define VMM_PROC_MAX_REMAPS 4

/* The limits the stub answers getrlimit with (Linux's RLIM_NLIMITS), and
 * the random bytes it has for getrandom. */
#define VMM_PROC_NLIMITS 16
#define VMM_PROC_RAND    64

struct vmm_proc_ctl {
        uint32_t state;
        uint32_t abi;      /* stub: VMM_PROC_ABI once set up */
        uint32_t tid;      /* stub: its thread id */
        uint32_t spin;     /* osvm: rounds the stub may spin before it sleeps */
        uint32_t sud;      /* stub: 1 when Syscall User Dispatch traps, 0: seccomp only */
        uint32_t err_step; /* stub: the setup step that failed */
        int64_t err;       /* stub: its errno */
        /* a trap, by the stub */
        uint64_t nr, a[6], rip, rsp;
        uint64_t sig, code, trapno, errcode, addr, arch;
        /* the answer, by osvm */
        int64_t ret;
        uint64_t fs_set, fs_base; /* set FS to fs_base before resuming */
        uint64_t nremap;
        uint64_t remap[VMM_PROC_MAX_REMAPS][2];
        uint64_t fs_cur; /* stub: the FS base it last set */
        /* set up, by osvm before the stub starts */
        uint32_t host_abi;
        int32_t memfd, imgfd, sock, ctlfd; /* the stub's fds */
        uint32_t io_on;                    /* osvm: the staged request and result (io) are on */
        uint32_t pad2;
        uint64_t mem_size, guard_lo, stack_lo;
        uint64_t nseg;
        struct vmm_proc_seg seg[VMM_PROC_MAX_SEGS];
        uint64_t nlist;   /* entries in list_inline, or past VMM_PROC_LIST_INLINE at
                           * VMM_PROC_LIST */
        uint64_t rlim_as; /* RLIMIT_AS of the stub */
        uint64_t entry_rip, entry_rsp;
        /* answers the stub gives itself */
        uint32_t uid, gid;
        uint32_t ioctl_fds;  /* ioctl on fds below this is ENOTTY without osvm */
        uint32_t exe_enoent; /* readlink("/proc/self/exe") is ENOENT (no mount holds it):
                              * glibc's static start asks */
        uint32_t pad3;
        uint32_t park; /* osvm: 1: after the guest's exit, wait to be killed (osvm
                        * reads which pages it touched); 0: end at once */
        /* the break: brk_cur, as the stub grows it up to brk_room (osvm sets
         * all three before the guest runs and after each call it serves, and
         * takes brk_cur back, as the guest's brk, before it serves one); a
         * shrink, which zeroes memory, goes to osvm */
        uint64_t brk_lo, brk_cur, brk_room;
        /* prlimit64 and getrlimit: the limits of osvm's layer by resource
         * (soft and hard alike) */
        uint64_t rlim[VMM_PROC_NLIMITS];
        /* getrandom, while these last: bytes osvm drew for this guest alone,
         * the first rand_used of them given */
        uint64_t rand_used;
        uint8_t rand[VMM_PROC_RAND];
        /* the robust futex list naming state (the stub's) */
        uint64_t robust_head[3], robust_entry;
        uint64_t list_inline[VMM_PROC_LIST_INLINE];
        /* the staged I/O header (internal.h's VMM_IO_*): here rather than in
         * guest memory, so that osvm reads and writes it without a system
         * call and the stub touches one page less */
        uint64_t io[10];
};

/* The zygote's socket (SOCK_SEQPACKET): osvm asks, the zygote answers. */
enum {
        VMM_PROC_MSG_HELLO = 1, /* zygote: ready, arg = VMM_PROC_ABI (or -errno), arg2 bit 0:
                                 * Syscall User Dispatch works here */
        VMM_PROC_MSG_FORK,      /* osvm: arg stubs (1 to VMM_PROC_FORK_MAX), each for arg2
                                 * of the fds passed, in turn (memfd, ctlfd, and imgfd
                                 * when arg2 is 3); zygote: a struct vmm_proc_forked,
                                 * the pidfds of the stubs made passed in order */
        VMM_PROC_MSG_REAP,      /* osvm: arg = a pid; zygote: arg = its wait status,
                                 * or -EAGAIN (not ended, or ended long ago). The
                                 * zygote reaps the ended stubs every eighth
                                 * request and at each REAP, and keeps the
                                 * last 256 statuses. */
};
struct vmm_proc_msg {
        uint32_t type, pad;
        int64_t arg, arg2;
};
#define VMM_PROC_FORK_MAX 8
struct vmm_proc_forked {
        uint32_t type, n;               /* VMM_PROC_MSG_FORK, the stubs asked for */
        int64_t pid[VMM_PROC_FORK_MAX]; /* each stub's pid (> 0), or -errno */
};

/* The zygote's steps: a HELLO with arg an -errno says in arg2 which failed. */
enum {
        VMM_PROC_ZSTEP_FILTER = 1, /* its filter could not be built, or it lies too low */
        VMM_PROC_ZSTEP_IMAGE,    /* its own pages made anonymous: mmap, mprotect, mremap, madvise */
        VMM_PROC_ZSTEP_STACK,    /* the stubs' stack, and its own kept out of forks */
        VMM_PROC_ZSTEP_ALTSTACK, /* sigaltstack */
        VMM_PROC_ZSTEP_SIGACTION, /* the trap handlers */
        VMM_PROC_ZSTEP_NO_NEW_PRIVS,
        VMM_PROC_ZSTEP_SECCOMP,
};

/* The setup steps, for err_step. */
enum {
        VMM_PROC_STEP_ABI = 1,
        VMM_PROC_STEP_MAP_MEM,
        VMM_PROC_STEP_MAP_IMAGE,
        VMM_PROC_STEP_CLOSE,
        VMM_PROC_STEP_SIGNALS,
        VMM_PROC_STEP_LIMITS,
};

_Static_assert(VMM_PROC_LIST_AT == VMM_PROC_SYS + VMM_PROC_CTL_SIZE,
               "guest memory's system pages start past the control pages");
_Static_assert(sizeof(struct vmm_proc_ctl) <= VMM_PROC_PATCH_FLAGS - VMM_PROC_SYS &&
                   VMM_PROC_PATCH_FLAGS + 8 == VMM_PROC_PATCH_RSP &&
                   VMM_PROC_PATCH_RSP + 8 == VMM_PROC_RESUME &&
                   VMM_PROC_RESUME + 16 == VMM_PROC_SYS + 4096,
               "the patched calls' and stub_resume's words at the control page's end, past "
               "the fields");
_Static_assert(VMM_PROC_PATCH_STACK == VMM_PROC_ALT + VMM_PROC_ALT_SIZE &&
                   VMM_PROC_ALT_LO == VMM_PROC_ALT,
               "a patched call is served on the signal stack");
_Static_assert(VMM_PROC_TRAMP + VMM_PROC_TRAMP_PAGES * 4096 == VMM_PROC_SYS,
               "the trampolines' pages right below the control pages (mapped apart from "
               "guest memory's, they split no mapping of it)");

#endif /* __ASSEMBLER__ */
#endif
