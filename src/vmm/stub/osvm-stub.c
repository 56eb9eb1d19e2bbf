/*
 * osvm-stub: the other side of the process platform (docs/vmm.md). A
 * freestanding static-pie program (no libc, no relocations) that osvm
 * embeds, starts once per osvm process as the "zygote" (in new namespaces,
 * with an empty root, by src/sandbox), and that forks one stub process per
 * call from there.
 *
 * The zygote installs the one seccomp filter every stub inherits, then
 * serves osvm's requests on fd 3: FORK (a stub for the guest memory memfd
 * and the image memfd passed along) and REAP (a stub's wait status).
 *
 * A stub (which has no copy of the zygote's system call page: the zygote
 * keeps it out of every fork) maps guest memory at the guest's own
 * addresses, closes every fd but the guest memory's, takes the trap
 * signals on a signal stack in the guest memory's system pages, arms
 * Syscall User Dispatch, and enters the program with rt_sigreturn. Every
 * `syscall` the program executes then traps (SIGSYS from SUD, or from the
 * filter's RET_TRAP when SUD is off or missing), or comes from a patched
 * site (proc_patch.c) through stub_patch_entry, into stub_serve(): the calls
 * whose answer is a constant or one osvm gave ahead (the break's growth
 * within a room, the limits, random bytes) are answered there, every other
 * one is handed to osvm through the control page and answered by osvm's
 * syscall layer.
 * A fault (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP) is handed over the same
 * way and ends the call. The program can write over all of this memory and
 * jump anywhere in it: the boundary is the filter, which lets nothing
 * through but the stub's own allow-list from the stub's own instruction.
 */
#include <stddef.h>
#include <stdint.h>

#include "vmm/proc_abi.h"

/* Every symbol is this program's own: reached RIP-relative, never through a
 * GOT (the program has no relocations and runs at its link address). */
#pragma GCC visibility push(hidden)

/* ---- the kernel's ABI (x86-64), without libc ---- */

#define NR_read            0
#define NR_mmap            9
#define NR_mprotect        10
#define NR_munmap          11
#define NR_brk             12
#define NR_mincore         27
#define NR_mremap          25
#define NR_rt_sigaction    13
#define NR_rt_sigprocmask  14
#define NR_rt_sigreturn    15
#define NR_ioctl           16
#define NR_sched_yield     24
#define NR_madvise         28
#define NR_getpid          39
#define NR_sendmsg         46
#define NR_recvmsg         47
#define NR_clone           56
#define NR_exit            60
#define NR_wait4           61
#define NR_getrlimit       97
#define NR_getuid          102
#define NR_getgid          104
#define NR_geteuid         107
#define NR_getegid         108
#define NR_getppid         110
#define NR_sigaltstack     131
#define NR_prctl           157
#define NR_arch_prctl      158
#define NR_gettid          186
#define NR_futex           202
#define NR_set_tid_address 218
#define NR_exit_group      231
#define NR_set_robust_list 273
#define NR_prlimit64       302
#define NR_seccomp         317
#define NR_getrandom       318
#define NR_readlink        89
#define NR_readlinkat      267
#define NR_rseq            334
#define NR_dup3            292
#define NR_close_range     436

#define E_AGAIN  11
#define E_NOENT  2
#define E_NOTTY  25
#define E_NOSYS  38
#define E_PERM   1
#define E_SRCH   3
#define E_INVAL  22
#define E_FAULT  14
#define E_NOEXEC 8

#define SIGILL_  4
#define SIGTRAP_ 5
#define SIGBUS_  7
#define SIGFPE_  8
#define SIGSEGV_ 11
#define SIGCHLD_ 17
#define SIGSYS_  31
#define SIGKILL_ 9

#define SA_SIGINFO_  4u
#define SA_ONSTACK_  0x08000000u
#define SA_RESTORER_ 0x04000000u
#define SA_NODEFER_  0x40000000u

#define PROT_READ_      1
#define PROT_WRITE_     2
#define PROT_EXEC_      4
#define MAP_SHARED_     0x01
#define MAP_PRIVATE_    0x02
#define MAP_FIXED_      0x10
#define MAP_ANONYMOUS_  0x20
#define MAP_POPULATE_   0x8000
#define MREMAP_MAYMOVE_ 1
#define MREMAP_FIXED_   2
#define MADV_DONTFORK_  10

#define MADV_POPULATE_READ_  22
#define MADV_POPULATE_WRITE_ 23

#define FUTEX_WAIT_ 0
#define FUTEX_WAKE_ 1

#define PR_SET_PDEATHSIG_             1
#define PR_SET_NO_NEW_PRIVS_          38
#define PR_SET_SYSCALL_USER_DISPATCH_ 59
#define PR_SYS_DISPATCH_ON_           1

#define ARCH_SET_FS_ 0x1002
#define CLONE_PIDFD_ 0x1000

#define SYS_SECCOMP_       1 /* si_code of a seccomp SIGSYS */
#define SYS_USER_DISPATCH_ 2 /* si_code of a SUD SIGSYS */
#define AUDIT_ARCH_X86_64_ 0xc000003eu

#define RLIMIT_CPU_      0
#define RLIMIT_FSIZE_    1
#define RLIMIT_CORE_     4
#define RLIMIT_NPROC_    6
#define RLIMIT_NOFILE_   7
#define RLIMIT_MEMLOCK_  8
#define RLIMIT_AS_       9
#define RLIMIT_MSGQUEUE_ 12

#define SOL_SOCKET_ 1
#define SCM_RIGHTS_ 1
#define WNOHANG_    1
#define WALL_       0x40000000

struct ksigaction {
        void *handler;
        unsigned long flags;
        void (*restorer)(void);
        uint64_t mask;
};

struct kstack {
        uint64_t sp;
        int32_t flags, pad;
        uint64_t size;
};

struct ksigcontext {
        uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
        uint64_t rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
        uint16_t cs, gs, fs, ss;
        uint64_t err, trapno, oldmask, cr2;
        uint64_t fpstate;
        uint64_t reserved[8];
};

struct kucontext {
        uint64_t flags, link;
        struct kstack stack;
        struct ksigcontext mc;
        uint64_t sigmask;
};

struct ksiginfo {
        int32_t signo, errno_, code, pad;
        uint64_t addr; /* si_addr, or si_call_addr for SIGSYS */
        int32_t syscall;
        uint32_t arch;
        uint8_t rest[96];
};

_Static_assert(sizeof(struct ksigcontext) == 256, "sigcontext");
_Static_assert(offsetof(struct kucontext, mc) == 40, "ucontext");
_Static_assert(offsetof(struct kucontext, sigmask) == 296, "ucontext");
_Static_assert(sizeof(struct ksiginfo) == 128, "siginfo");

struct kiovec {
        void *base;
        uint64_t len;
};

struct kmsghdr {
        void *name;
        uint32_t namelen, pad;
        struct kiovec *iov;
        uint64_t iovlen;
        void *control;
        uint64_t controllen;
        int32_t flags, pad2;
};

/* One SCM_RIGHTS message: up to a FORK's fds (three a stub). */
#define KCMSG_FDS (3 * VMM_PROC_FORK_MAX)
struct kcmsg {
        uint64_t len;
        int32_t level, type;
        int32_t fds[KCMSG_FDS];
};

struct krlimit {
        uint64_t cur, max;
};

struct kphdr {
        uint32_t type, flags;
        uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

struct kehdr {
        uint8_t ident[16];
        uint16_t type, machine;
        uint32_t version;
        uint64_t entry, phoff, shoff;
        uint32_t flags;
        uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};

struct sock_filter_ {
        uint16_t code;
        uint8_t jt, jf;
        uint32_t k;
};

struct sock_fprog_ {
        uint16_t len;
        struct sock_filter_ *filter;
};

/* gadget.S */
long stub_sc(long nr, long a0, long a1, long a2, long a3, long a4, long a5);
long zyg_sc(long nr, long a0, long a1, long a2, long a3, long a4, long a5);
long zyg_fork(long flags, int *pidfd, uint64_t stack, long memfd, long ctlfd, long imgfd);
extern char stub_sc_end[], zyg_sc_end[], zyg_page[];
extern char _end[]; /* the linker's: the end of this program's image */
void stub_from_fork(void);
void stub_mapped(void);
extern const struct kehdr __ehdr_start; /* the linker's: this program's ELF header */
void stub_restorer(void);
__attribute__((noreturn)) void stub_enter(void *uc);
__attribute__((noreturn)) void stub_resume(struct ksigcontext *g);
__attribute__((noreturn)) void stub_serve(struct ksigcontext *g);
__attribute__((noreturn)) void stub_main(long *sp);

#define sc0(n)             stub_sc((n), 0, 0, 0, 0, 0, 0)
#define sc1(n, a)          stub_sc((n), (long)(a), 0, 0, 0, 0, 0)
#define sc2(n, a, b)       stub_sc((n), (long)(a), (long)(b), 0, 0, 0, 0)
#define sc3(n, a, b, c)    stub_sc((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define sc4(n, a, b, c, d) stub_sc((n), (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define sc6(n, a, b, c, d, e, f)                                                                   \
        stub_sc((n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

/* The compiler may call these for struct copies and zeroing. */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
__attribute__((optimize("no-tree-loop-distribute-patterns"))) void *memset(void *d, int c, size_t n)
{
        volatile uint8_t *p = d;
        while (n--)
                *p++ = (uint8_t)c;
        return d;
}

__attribute__((optimize("no-tree-loop-distribute-patterns"))) void *memcpy(void *d, const void *s,
                                                                           size_t n)
{
        volatile uint8_t *p = d;
        const uint8_t *q = s;
        while (n--)
                *p++ = *q++;
        return d;
}

static struct vmm_proc_ctl *const ctl = (struct vmm_proc_ctl *)VMM_PROC_SYS;

static uint32_t load32(const uint32_t *p)
{
        return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void post(uint32_t state)
{
        __atomic_store_n(&ctl->state, state, __ATOMIC_RELEASE);
        sc3(NR_futex, &ctl->state, FUTEX_WAKE_, 1);
}

/* Sleeps for good (osvm ends the call and kills this process). */
__attribute__((noreturn)) static void sleep_forever(void)
{
        uint32_t z = 0;
        for (;;)
                sc4(NR_futex, &z, FUTEX_WAIT_, 0, 0);
}

/* Waits while the state word holds v (spinning first when osvm allows it). */
static uint32_t wait_while(uint32_t v)
{
        uint32_t s, spin = ctl->spin;
        for (uint32_t i = 0; i < spin; i++) {
                if ((s = load32(&ctl->state)) != v)
                        return s;
                __builtin_ia32_pause();
        }
        while ((s = load32(&ctl->state)) == v)
                sc4(NR_futex, &ctl->state, FUTEX_WAIT_, v, 0);
        return s;
}

/* ---- the trap ---- */

static void apply_answer(void)
{
        if (ctl->fs_set) {
                ctl->fs_set = 0;
                uint64_t base = ctl->fs_base;
                if (sc2(NR_arch_prctl, ARCH_SET_FS_, base) == 0)
                        ctl->fs_cur = base;
        }
        uint64_t n = ctl->nremap;
        ctl->nremap = 0;
        for (uint64_t i = 0; i < n && i < VMM_PROC_MAX_REMAPS; i++) {
                uint64_t lo = ctl->remap[i][0], hi = ctl->remap[i][1];
                if (hi > lo)
                        sc6(NR_mmap, lo, hi - lo, PROT_READ_ | PROT_WRITE_ | PROT_EXEC_,
                            MAP_SHARED_ | MAP_FIXED_, ctl->memfd, lo);
        }
}

/* Where user memory starts (internal.h's VMM_USER_BASE): below it only the
 * stub's system pages. */
#define USER_BASE 0x200000ull

/* Whether the guest may read [buf, buf + len): its user area or its stack. */
static int user_readable(uint64_t buf, uint64_t len)
{
        uint64_t end = buf + len;
        return end >= buf && ((buf >= USER_BASE && end <= ctl->guard_lo) ||
                              (buf >= ctl->stack_lo && end <= ctl->mem_size));
}

/*
 * True when the guest's [buf, buf + len) is memory the stub may write for it:
 * user memory below the guard, but for the image's read-only segments (which
 * it maps as such), or the stack. A range the guest forged in the control
 * page only makes the stub fault, which ends the call as the guest's own
 * fault would.
 */
static int user_writable(uint64_t buf, uint64_t len)
{
        uint64_t end = buf + len;
        if (!user_readable(buf, len))
                return 0;
        if (buf >= ctl->stack_lo && end <= ctl->mem_size)
                return 1;
        uint64_t nseg = ctl->nseg < VMM_PROC_MAX_SEGS ? ctl->nseg : VMM_PROC_MAX_SEGS;
        for (uint64_t i = 0; i < nseg; i++)
                if (buf < ctl->seg[i].addr + ctl->seg[i].len && ctl->seg[i].addr < end)
                        return 0;
        return 1;
}

/* Whether the guest's string at p is "/proc/self/exe". */
static int is_proc_self_exe(uint64_t p)
{
        static const char exe[] = "/proc/self/exe";
        if (!user_readable(p, sizeof(exe)))
                return 0;
        for (unsigned i = 0; i < sizeof(exe); i++)
                if (((volatile const char *)p)[i] != exe[i])
                        return 0;
        return 1;
}

/*
 * The calls whose answer is a constant, answered without osvm (the set the
 * KVM platform's PVM stub answers inside the guest), and those osvm gave it
 * the answers to ahead: brk within its room, the limits, a few random bytes;
 * true when answered.
 */
static int fast_path(struct ksigcontext *g)
{
        uint64_t nr = g->rax;
        int64_t r;
        switch (nr) {
        case NR_getpid:
        case NR_gettid:
        case NR_set_tid_address:
                r = 1;
                break;
        case NR_getppid:
        case NR_set_robust_list:
        case NR_sched_yield:
                r = 0;
                break;
        case NR_rseq:
                r = -E_NOSYS;
                break;
        case NR_getuid:
        case NR_geteuid:
                r = ctl->uid;
                break;
        case NR_getgid:
        case NR_getegid:
                r = ctl->gid;
                break;
        case NR_ioctl:
                if (g->rdi >= ctl->ioctl_fds)
                        return 0;
                r = -E_NOTTY;
                break;
        case NR_mprotect:
        case NR_madvise:
                if (g->rdi & 0xfff)
                        return 0;
                r = 0;
                break;
        case NR_rt_sigprocmask:
                if (g->rdx || g->r10 != 8)
                        return 0;
                r = 0;
                break;
        case NR_rt_sigaction:
                if (g->rdx || g->r10 != 8 || g->rdi < 1 || g->rdi > 64)
                        return 0;
                r = 0;
                break;
        case NR_brk: {
                /* a growth within the room osvm gave, or a break it would
                 * refuse, as osvm answers it; a shrink goes to osvm */
                uint64_t cur = ctl->brk_cur, want = g->rdi;
                if (want >= cur && want <= ctl->brk_room)
                        ctl->brk_cur = want;
                else if (want >= ctl->brk_lo && want <= ctl->brk_room)
                        return 0;
                r = (int64_t)ctl->brk_cur;
                break;
        }
        case NR_getrlimit:
        case NR_prlimit64: {
                int get = nr == NR_getrlimit;
                uint64_t res = get ? g->rdi : g->rsi, old = get ? g->rsi : g->r10;
                if (!get && g->rdi > 1) {
                        r = -E_SRCH;
                } else if (res >= VMM_PROC_NLIMITS) {
                        r = -E_INVAL;
                } else {
                        if (old && !user_writable(old, 16))
                                return 0; /* osvm's EFAULT */
                        if (old)
                                ((volatile uint64_t *)old)[0] = ((volatile uint64_t *)old)[1] =
                                    ctl->rlim[res];
                        r = 0;
                }
                break;
        }
        case NR_getrandom: {
                uint64_t used = ctl->rand_used, n = g->rsi;
                if (!n || used > VMM_PROC_RAND || n > VMM_PROC_RAND - used ||
                    !user_writable(g->rdi, n))
                        return 0;
                memcpy((void *)g->rdi, (const void *)&ctl->rand[used], n);
                ctl->rand_used = used + n;
                r = (int64_t)n;
                break;
        }
        case NR_readlink:
        case NR_readlinkat: {
                /* the executable's link, where no mount holds /proc: ENOENT
                 * as osvm answers it (after its own checks of the buffer) */
                int at = nr == NR_readlinkat;
                uint64_t path = at ? g->rsi : g->rdi, buf = at ? g->rdx : g->rsi;
                uint64_t size = at ? g->r10 : g->rdx;
                if (!ctl->exe_enoent || (at && (int32_t)g->rdi != -100 /* AT_FDCWD */) ||
                    (int64_t)size <= 0 || !user_writable(buf, size) || !is_proc_self_exe(path))
                        return 0;
                r = -E_NOENT;
                break;
        }
        case NR_arch_prctl:
                if (g->rdi != ARCH_SET_FS_ || g->rsi >= (1ull << 47))
                        return 0;
                r = sc2(NR_arch_prctl, ARCH_SET_FS_, g->rsi);
                if (r == 0)
                        ctl->fs_cur = g->rsi;
                break;
        default:
                return 0;
        }
        g->rax = (uint64_t)r;
        return 1;
}

/*
 * The staged request and result (their header, internal.h's VMM_IO_*, in
 * the control page), when osvm turned them on: read(0) from the request
 * osvm read ahead into guest memory, write(1) into the result buffer osvm
 * sends on. The header is the guest's to write as all the stub's memory is:
 * a buffer outside the user areas it names goes the slow way (EFAULT from
 * osvm), and every bound is checked before a byte moves.
 */
#define IO_IN_POS  0
#define IO_IN_LEN  1
#define IO_IN_EOF  2
#define IO_OUT_LEN 3
#define IO_IN_OK   4
#define IO_OUT_OK  5
#define IO_OK_LO   6
#define IO_OK_HI   7
#define IO_ST_LO   8
#define IO_ST_HI   9
#define IO_IN_BUF  VMM_PROC_IO_IN
#define IO_OUT_BUF VMM_PROC_IO_OUT
#define IO_OUT_CAP (VMM_PROC_SYS_END - VMM_PROC_IO_OUT)
_Static_assert(VMM_PROC_IO_IN == VMM_PROC_ALT + VMM_PROC_ALT_SIZE,
               "the request right above the signal stack");

static int io_buffer_ok(volatile uint64_t *h, uint64_t buf, uint64_t len)
{
        uint64_t end = buf + len;
        if (end < buf)
                return 0;
        return (buf >= h[IO_OK_LO] && end <= h[IO_OK_HI]) ||
               (buf >= h[IO_ST_LO] && end <= h[IO_ST_HI]);
}

static int io_fast(struct ksigcontext *g)
{
        volatile uint64_t *h = ctl->io;
        if (!ctl->io_on)
                return 0;
        if (g->rax == 0 && g->rdi == 0 && h[IO_IN_OK]) {
                if (!io_buffer_ok(h, g->rsi, g->rdx))
                        return 0;
                uint64_t in_len = h[IO_IN_LEN], pos = h[IO_IN_POS];
                if (pos > in_len || in_len > IO_OUT_BUF - IO_IN_BUF)
                        return 0;
                uint64_t n = in_len - pos;
                if (!n) {
                        if (!h[IO_IN_EOF])
                                return 0; /* osvm waits for more */
                        g->rax = 0;
                        return 1;
                }
                if (n > g->rdx)
                        n = g->rdx;
                memcpy((void *)g->rsi, (const void *)(IO_IN_BUF + pos), n);
                h[IO_IN_POS] = pos + n;
                g->rax = n;
                return 1;
        }
        if (g->rax == 1 && g->rdi == 1 && h[IO_OUT_OK]) {
                if (!io_buffer_ok(h, g->rsi, g->rdx))
                        return 0;
                uint64_t out = h[IO_OUT_LEN];
                if (out > IO_OUT_CAP || g->rdx > IO_OUT_CAP - out)
                        return 0; /* full: osvm sends it on first */
                memcpy((void *)(IO_OUT_BUF + out), (const void *)g->rsi, g->rdx);
                h[IO_OUT_LEN] = out + g->rdx;
                g->rax = g->rdx;
                return 1;
        }
        return 0;
}

/* A system call of the guest's, trapped (g: the kernel's frame, from
 * handler) or from a patched site (g: the frame gadget.S's stub_patch_entry
 * built): answered here, or by osvm. */
void stub_serve(struct ksigcontext *g)
{
        if (fast_path(g) || io_fast(g))
                stub_resume(g);
        ctl->nr = g->rax;
        ctl->a[0] = g->rdi;
        ctl->a[1] = g->rsi;
        ctl->a[2] = g->rdx;
        ctl->a[3] = g->r10;
        ctl->a[4] = g->r8;
        ctl->a[5] = g->r9;
        ctl->rip = g->rip;
        ctl->rsp = g->rsp;
        post(VMM_PROC_SYSCALL);
        /* the guest's end: osvm has all it needs (guest memory is
         * its memfd), so the process ends now, unless osvm is to
         * read which pages it touched. The state word no longer
         * names this thread, so the robust list leaves it be. */
        if ((g->rax == NR_exit_group || g->rax == NR_exit) && !ctl->park)
                sc1(NR_exit_group, 0);
        wait_while(VMM_PROC_SYSCALL);
        g->rax = (uint64_t)ctl->ret;
        apply_answer();
        stub_resume(g);
}

static void handler(int sig, struct ksiginfo *si, struct kucontext *uc)
{
        struct ksigcontext *g = &uc->mc;
        if (sig == SIGSYS_ && (si->code == SYS_USER_DISPATCH_ || si->code == SYS_SECCOMP_) &&
            si->arch == AUDIT_ARCH_X86_64_) {
                stub_serve(g);
        }
        /* a fault, a 32-bit system call, or a signal nobody should send */
        ctl->sig = (uint64_t)sig;
        ctl->code = (uint64_t)(int64_t)si->code;
        ctl->arch = sig == SIGSYS_ ? si->arch : 0;
        ctl->nr = g->rax;
        ctl->trapno = g->trapno;
        ctl->errcode = g->err;
        ctl->addr = sig == SIGSYS_ ? si->addr : g->cr2;
        ctl->rip = g->rip;
        ctl->rsp = g->rsp;
        post(VMM_PROC_FAULT);
        sleep_forever();
}

/* ---- a stub: set up in the zygote's fork, then the guest ---- */

/* The zygote's socket to osvm: its last fd (RLIMIT_NOFILE 64), moved there
 * from 3 (where it came) before anything else, so that every fd below it is
 * a request's and one close_range ends them all. */
#define ZSOCK_START 3
#define ZSOCK       63

/* The signals the stub takes (the guest's traps and faults); every other
 * one stays blocked while the guest runs. */
#define SIGBIT(s) (1ull << ((s)-1))
#define GUEST_MASK                                                                                 \
        (~(SIGBIT(SIGSYS_) | SIGBIT(SIGSEGV_) | SIGBIT(SIGBUS_) | SIGBIT(SIGILL_) |                \
           SIGBIT(SIGFPE_) | SIGBIT(SIGTRAP_)))

__attribute__((noreturn)) static void setup_failed(uint32_t step, long err)
{
        ctl->err_step = step;
        ctl->err = -err;
        post(VMM_PROC_SETUP_ERR);
        sc1(NR_exit_group, 127);
        __builtin_unreachable();
}

static long map_fixed(uint64_t addr, uint64_t len, long prot, long flags, long fd, uint64_t off)
{
        long r = sc6(NR_mmap, addr, len, prot, flags | MAP_FIXED_, fd, off);
        return r < 0 && r > -4096 ? r : 0;
}

/* Touches the listed pages ahead (runs of pages, one madvise each). */
static void populate(void)
{
        uint64_t n = ctl->nlist < VMM_PROC_LIST_MAX ? ctl->nlist : VMM_PROC_LIST_MAX;
        const uint64_t *list =
            n <= VMM_PROC_LIST_INLINE ? ctl->list_inline : (const uint64_t *)VMM_PROC_LIST;
        for (uint64_t i = 0; i < n;) {
                uint64_t lo = list[i] & ~0xfffull, w = list[i] & 1, hi = lo + 4096;
                uint64_t j = i + 1;
                while (j < n && (list[j] & ~0xfffull) == hi && (list[j] & 1) == w) {
                        hi += 4096;
                        j++;
                }
                sc3(NR_madvise, lo, hi - lo, w ? MADV_POPULATE_WRITE_ : MADV_POPULATE_READ_);
                i = j;
        }
}

static void set_limit(int res, uint64_t v)
{
        struct krlimit l = {v, v};
        long r = sc4(NR_prlimit64, 0, res, &l, 0);
        if (r < 0)
                setup_failed(VMM_PROC_STEP_LIMITS, r);
}

/* A new stub, from zyg_fork (gadget.S), with its control pages mapped,
 * populated (touched at once, not by a fault: a first touch costs ~25 us
 * where the host is itself a PVM guest), and running on the second. */
__attribute__((noreturn, used)) void stub_child(long memfd, long ctlfd, long imgfd);
void stub_child(long memfd, long ctlfd, long imgfd)
{
        /* The page list and the signal stack from guest memory, populated
         * where they are used. */
        long r;
        if (ctl->host_abi != VMM_PROC_ABI)
                setup_failed(VMM_PROC_STEP_ABI, -E_INVAL);
        ctl->memfd = (int32_t)memfd;
        ctl->imgfd = (int32_t)imgfd;
        ctl->ctlfd = (int32_t)ctlfd;
        ctl->sock = ZSOCK;
        uint64_t size = ctl->mem_size, guard = ctl->guard_lo, stack = ctl->stack_lo;
        const long rwx = PROT_READ_ | PROT_WRITE_ | PROT_EXEC_;
        if (!(USER_BASE <= guard && guard <= stack && stack < size && size <= (1ull << 32)))
                setup_failed(VMM_PROC_STEP_MAP_MEM, -E_INVAL);
        /* the system pages and the user area below the guard in one mapping
         * (the same memfd at the same offsets; the system pages executable
         * as the user area is: the guest gains nothing), then the stack */
        _Static_assert(VMM_PROC_SYS_END == USER_BASE,
                       "the system pages end where user memory starts");
        if ((r = map_fixed(VMM_PROC_LIST_AT, guard - VMM_PROC_LIST_AT, rwx, MAP_SHARED_, memfd,
                           VMM_PROC_LIST_AT)) < 0 ||
            (r = map_fixed(stack, size - stack, rwx, MAP_SHARED_, memfd, stack)) < 0)
                setup_failed(VMM_PROC_STEP_MAP_MEM, r);
        uint64_t nl = ctl->nlist < VMM_PROC_LIST_MAX ? ctl->nlist : VMM_PROC_LIST_MAX;
        if (nl > VMM_PROC_LIST_INLINE)
                sc3(NR_madvise, VMM_PROC_LIST, (nl * 8 + 4095) & ~4095ull, MADV_POPULATE_READ_);
        /* the top of the signal stack, where the kernel writes each frame,
         * with the request's first page right above it; the result's first
         * page */
        sc3(NR_madvise, VMM_PROC_IO_IN - 0x2000, 0x3000, MADV_POPULATE_WRITE_);
        sc3(NR_madvise, VMM_PROC_IO_OUT, 0x1000, MADV_POPULATE_WRITE_);
        uint64_t nseg = ctl->nseg < VMM_PROC_MAX_SEGS ? ctl->nseg : VMM_PROC_MAX_SEGS;
        for (uint64_t i = 0; i < nseg; i++) {
                const struct vmm_proc_seg *s = &ctl->seg[i];
                /* the trampolines of patched sites (proc_patch.c): every
                 * guest of such an image runs them, so they are mapped
                 * populated, as its pages are touched ahead */
                long how = MAP_PRIVATE_ | (s->addr == VMM_PROC_TRAMP ? MAP_POPULATE_ : 0);
                if (imgfd < 0 || (r = map_fixed(s->addr, s->len, s->prot, how, imgfd, s->off)) < 0)
                        setup_failed(VMM_PROC_STEP_MAP_IMAGE, imgfd < 0 ? -E_INVAL : r);
        }
        /* every fd but guest memory's: the zygote's socket, the control
         * page's and the image's (close_range, flags 0: all the filter lets
         * through) */
        if ((memfd > 0 && (r = sc3(NR_close_range, 0, memfd - 1, 0)) < 0) ||
            (r = sc3(NR_close_range, memfd + 1, 0xffffffffu, 0)) < 0)
                setup_failed(VMM_PROC_STEP_CLOSE, r);
        populate();
        /* the trap handlers, the signal stack and the fixed limits came along
         * from the zygote */
        if ((r = sc2(NR_prctl, PR_SET_PDEATHSIG_, SIGKILL_)) < 0)
                setup_failed(VMM_PROC_STEP_SIGNALS, r);

        /* the robust list: when this process dies while the guest runs, the
         * kernel marks the state word and wakes osvm */
        uint32_t tid = (uint32_t)sc0(NR_gettid);
        ctl->tid = tid;
        ctl->robust_entry = (uint64_t)&ctl->robust_head[0];
        ctl->robust_head[0] = (uint64_t)&ctl->robust_entry;
        ctl->robust_head[1] = (uint64_t)((char *)&ctl->state - (char *)&ctl->robust_entry);
        ctl->robust_head[2] = 0;
        sc2(NR_set_robust_list, ctl->robust_head, 24);

        set_limit(RLIMIT_NPROC_, 0);
        set_limit(RLIMIT_NOFILE_, 0);
        if (ctl->rlim_as)
                set_limit(RLIMIT_AS_, ctl->rlim_as);

        /* Syscall User Dispatch: every system call outside the stub's own
         * instruction traps; no selector (nothing the guest could flip) */
        ctl->sud = sc6(NR_prctl, PR_SET_SYSCALL_USER_DISPATCH_, PR_SYS_DISPATCH_ON_,
                       (long)stub_sc_end, 1, 0, 0) == 0;
        ctl->abi = VMM_PROC_ABI;

        uint32_t run = tid | VMM_PROC_WAITERS, s = VMM_PROC_NEW;
        if (!__atomic_compare_exchange_n(&ctl->state, &s, VMM_PROC_READY, 0, __ATOMIC_ACQ_REL,
                                         __ATOMIC_ACQUIRE) &&
            s != run)
                sleep_forever(); /* osvm gave up on this stub */
        if (s != run) {
                sc3(NR_futex, &ctl->state, FUTEX_WAKE_, 1);
                if (wait_while(VMM_PROC_READY) != run)
                        sleep_forever();
        }
        apply_answer();

        /* enter the program: every register from the frame, FPU state reset */
        struct {
                uint64_t pretcode;
                struct kucontext uc;
                struct ksiginfo si;
        } f;
        memset(&f, 0, sizeof(f));
        f.uc.stack = (struct kstack){VMM_PROC_ALT, 0, 0, VMM_PROC_ALT_SIZE};
        f.uc.mc.rip = ctl->entry_rip;
        f.uc.mc.rsp = ctl->entry_rsp;
        f.uc.mc.eflags = 0x202;
        f.uc.mc.cs = 0x33;
        f.uc.mc.ss = 0x2b;
        f.uc.sigmask = GUEST_MASK;
        stub_enter(&f.uc);
}

/* ---- the zygote ---- */

#define zsc1(n, a)          zyg_sc((n), (long)(a), 0, 0, 0, 0, 0)
#define zsc3(n, a, b, c)    zyg_sc((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define zsc4(n, a, b, c, d) zyg_sc((n), (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)

/* A small BPF assembler: instructions with symbolic jump targets. */
enum {
        L_ALLOW = 200,
        L_KILL,
        L_TRAP,
        L_STUB,
        L_ZYG,
        L_FUTEX,
        L_MMAP,
        L_MMAP2,
        L_MMAP3,
        L_MMAP4,
        L_MADV,
        L_MADV2,
        L_PRCTL,
        L_PRCTL2,
        L_PRLIM,
        L_PRLIM2,
        L_ARCH,
        L_ARCH2,
        L_CLOSE,
        L_CLOSE2,
        L_CLONE,
        L_CLONE2,
        L_ZCLOSE,
        L_ZCLOSE2,
        L_ZLO,
        L_SLO,
        L_ZHI,
        L_FUTEX2,
        L_NEXT = 0xff
};
#define MAXI 128
struct bpf {
        struct sock_filter_ ins[MAXI];
        uint8_t tjt[MAXI], tjf[MAXI];
        uint8_t at[256];
        unsigned n;
};

static void emit(struct bpf *b, uint16_t code, uint32_t k, uint8_t jt, uint8_t jf)
{
        if (b->n < MAXI) {
                b->ins[b->n] = (struct sock_filter_){code, 0, 0, k};
                b->tjt[b->n] = jt;
                b->tjf[b->n] = jf;
        }
        b->n++;
}

static void label(struct bpf *b, uint8_t l)
{
        b->at[l] = (uint8_t)b->n;
}

#define LD(off)       emit(b, 0x20, (off), L_NEXT, L_NEXT)
#define JEQ(k, t, f)  emit(b, 0x15, (k), (t), (f))
#define JGE(k, t, f)  emit(b, 0x35, (k), (t), (f))
#define JSET(k, t, f) emit(b, 0x45, (k), (t), (f))
#define RET(k)        emit(b, 0x06, (k), L_NEXT, L_NEXT)
#define ARG_LO(i)     (16 + 8 * (i))
#define ARG_HI(i)     (20 + 8 * (i))

#define RET_KILL  0x80000000u /* SECCOMP_RET_KILL_PROCESS */
#define RET_TRAP  0x00030000u
#define RET_ALLOW 0x7fff0000u

/* Loads argument i's low half once its high half is found 0 (else the
 * process is killed); mid: a label of its own for the way on. */
static void load_arg32(struct bpf *b, unsigned i, uint8_t mid)
{
        LD(ARG_HI(i));
        JEQ(0, mid, L_KILL);
        label(b, mid);
        LD(ARG_LO(i));
}

static int build_filter(struct bpf *b)
{
        uint64_t s = (uint64_t)stub_sc_end, z = (uint64_t)zyg_sc_end;
        b->n = 0;
        LD(4); /* arch */
        JEQ(AUDIT_ARCH_X86_64_, L_NEXT, L_TRAP);
        LD(0); /* nr */
        JSET(0x40000000, L_TRAP, L_NEXT);
        LD(12); /* instruction_pointer, high half */
        JEQ((uint32_t)(s >> 32), L_SLO, L_ZHI);
        label(b, L_SLO);
        LD(8);
        JEQ((uint32_t)s, L_STUB, L_ZHI);
        label(b, L_ZHI);
        LD(12);
        JEQ((uint32_t)(z >> 32), L_ZLO, L_TRAP);
        label(b, L_ZLO);
        LD(8);
        JEQ((uint32_t)z, L_ZYG, L_TRAP);

        label(b, L_STUB);
        LD(0);
        JEQ(NR_futex, L_FUTEX, L_NEXT);
        JEQ(NR_rt_sigreturn, L_ALLOW, L_NEXT);
        JEQ(NR_exit_group, L_ALLOW, L_NEXT);
        JEQ(NR_exit, L_ALLOW, L_NEXT);
        JEQ(NR_gettid, L_ALLOW, L_NEXT);
        JEQ(NR_close_range, L_CLOSE, L_NEXT);
        JEQ(NR_sigaltstack, L_ALLOW, L_NEXT);
        JEQ(NR_rt_sigaction, L_ALLOW, L_NEXT);
        JEQ(NR_set_robust_list, L_ALLOW, L_NEXT);
        JEQ(NR_mmap, L_MMAP, L_NEXT);
        JEQ(NR_madvise, L_MADV, L_NEXT);
        JEQ(NR_prctl, L_PRCTL, L_NEXT);
        JEQ(NR_prlimit64, L_PRLIM, L_NEXT);
        JEQ(NR_arch_prctl, L_ARCH, L_KILL);
        /* futex: FUTEX_WAIT or FUTEX_WAKE, nothing else (no PI, no requeue) */
        label(b, L_FUTEX);
        LD(ARG_HI(1));
        JEQ(0, L_NEXT, L_KILL);
        LD(ARG_LO(1));
        JEQ(FUTEX_WAIT_, L_ALLOW, L_NEXT);
        JEQ(FUTEX_WAKE_, L_ALLOW, L_KILL);
        /* mmap: at a fixed address from the trampolines' pages (right below
         * the control page) up to 4 GiB, less than 4 GiB long (so never
         * over this program, below them) */
        label(b, L_MMAP);
        LD(ARG_HI(0));
        JEQ(0, L_MMAP2, L_KILL);
        label(b, L_MMAP2);
        LD(ARG_LO(0));
        JGE((uint32_t)VMM_PROC_TRAMP, L_MMAP3, L_KILL);
        label(b, L_MMAP3);
        LD(ARG_HI(1));
        JEQ(0, L_MMAP4, L_KILL);
        label(b, L_MMAP4);
        LD(ARG_LO(3));
        JSET(MAP_FIXED_, L_ALLOW, L_KILL);
        /* madvise: populate only */
        label(b, L_MADV);
        load_arg32(b, 2, L_MADV2);
        JEQ(MADV_POPULATE_READ_, L_ALLOW, L_NEXT);
        JEQ(MADV_POPULATE_WRITE_, L_ALLOW, L_KILL);
        /* prctl: the parent-death signal and Syscall User Dispatch */
        label(b, L_PRCTL);
        load_arg32(b, 0, L_PRCTL2);
        JEQ(PR_SET_PDEATHSIG_, L_ALLOW, L_NEXT);
        JEQ(PR_SET_SYSCALL_USER_DISPATCH_, L_ALLOW, L_KILL);
        /* prlimit64: its own limits (lowered: raising a hard limit needs a
         * capability the stub does not have) */
        label(b, L_PRLIM);
        load_arg32(b, 0, L_PRLIM2);
        JEQ(0, L_ALLOW, L_KILL);
        /* close_range: flags 0 (no CLOSE_RANGE_UNSHARE, no CLOEXEC) */
        label(b, L_CLOSE);
        load_arg32(b, 2, L_CLOSE2);
        JEQ(0, L_ALLOW, L_KILL);
        /* arch_prctl: ARCH_SET_FS */
        label(b, L_ARCH);
        load_arg32(b, 0, L_ARCH2);
        JEQ(ARCH_SET_FS_, L_ALLOW, L_KILL);

        label(b, L_ZYG);
        LD(0);
        JEQ(NR_recvmsg, L_ALLOW, L_NEXT);
        JEQ(NR_sendmsg, L_ALLOW, L_NEXT);
        JEQ(NR_wait4, L_ALLOW, L_NEXT);
        JEQ(NR_close_range, L_ZCLOSE, L_NEXT);
        JEQ(NR_exit_group, L_ALLOW, L_NEXT);
        JEQ(NR_clone, L_CLONE, L_KILL);
        label(b, L_CLONE);
        LD(ARG_HI(0));
        JEQ(0, L_CLONE2, L_KILL);
        label(b, L_CLONE2);
        LD(ARG_LO(0));
        JEQ(SIGCHLD_ | CLONE_PIDFD_, L_ALLOW, L_KILL);
        /* close_range: flags 0, as a stub's */
        label(b, L_ZCLOSE);
        load_arg32(b, 2, L_ZCLOSE2);
        JEQ(0, L_ALLOW, L_KILL);

        label(b, L_ALLOW);
        RET(RET_ALLOW);
        label(b, L_KILL);
        RET(RET_KILL);
        label(b, L_TRAP);
        RET(RET_TRAP);
        if (b->n > MAXI)
                return -1;
        /* resolve the jumps (forward only, at most 255 ahead) */
        for (unsigned i = 0; i < b->n; i++) {
                uint8_t t[2] = {b->tjt[i], b->tjf[i]};
                uint8_t o[2];
                for (int k = 0; k < 2; k++) {
                        unsigned to = t[k] == L_NEXT ? i + 1 : b->at[t[k]];
                        if (to <= i || to - i - 1 > 255)
                                return -1;
                        o[k] = (uint8_t)(to - i - 1);
                }
                if ((b->ins[i].code & 0x07) == 0x05) { /* a jump */
                        b->ins[i].jt = o[0];
                        b->ins[i].jf = o[1];
                }
        }
        return 0;
}

/* A message of len bytes to osvm, with nfds fds. */
static long zsend_fds(const void *msg, uint64_t len, const int *fds, unsigned nfds)
{
        struct kiovec v = {(void *)msg, len};
        struct kcmsg c = {16 + 4 * nfds, SOL_SOCKET_, SCM_RIGHTS_, {0}};
        for (unsigned i = 0; i < nfds && i < KCMSG_FDS; i++)
                c.fds[i] = fds[i];
        struct kmsghdr h = {0, 0, 0, &v, 1, nfds ? &c : 0, nfds ? 16 + 4 * nfds : 0, 0, 0};
        return zsc3(NR_sendmsg, ZSOCK, &h, 0x4000 /* MSG_NOSIGNAL */);
}

static long zsend(int64_t type, int64_t arg, int64_t arg2)
{
        struct vmm_proc_msg m = {(uint32_t)type, 0, arg, arg2};
        return zsend_fds(&m, sizeof(m), 0, 0);
}

/* A FORK: n stubs, each for per of the nfds fds in turn; one answer with
 * each stub's pid (or -errno) and the pidfds of those made. */
static void fork_stubs(uint64_t n, uint64_t per, const int *fds, unsigned nfds, uint64_t stack)
{
        struct vmm_proc_forked f = {VMM_PROC_MSG_FORK, 0, {0}};
        int pidfds[VMM_PROC_FORK_MAX];
        unsigned made = 0;
        int ok = n >= 1 && n <= VMM_PROC_FORK_MAX && (per == 2 || per == 3) && nfds == n * per;
        f.n = n >= 1 && n <= VMM_PROC_FORK_MAX ? (uint32_t)n : 0;
        for (uint32_t i = 0; i < f.n; i++) {
                int pidfd = -1;
                f.pid[i] = -E_INVAL;
                if (ok) {
                        const int *mine = &fds[i * per];
                        f.pid[i] = zyg_fork(SIGCHLD_ | CLONE_PIDFD_, &pidfd, stack, mine[0],
                                            mine[1], per == 3 ? mine[2] : -1);
                }
                if (f.pid[i] > 0)
                        pidfds[made++] = pidfd;
        }
        zsend_fds(&f, sizeof(f), pidfds, made);
}

/*
 * Makes this program's own pages private anonymous memory with the same
 * bytes and protections: fork copies the page tables of anonymous memory,
 * not of a file's, so a stub starts with the stub's code mapped instead of
 * taking a page fault for each page it runs (each costs ~25 us where the
 * host is itself a PVM guest). Each PT_LOAD: an anonymous copy made
 * elsewhere, given the segment's protection, moved over the original. The
 * writable ones (the zygote's data) stay out of every fork (MADV_DONTFORK):
 * no stub uses them, and a fork would write-protect them in the zygote,
 * which then pays a copy-on-write fault and a TLB flush for each page it
 * writes after every fork. *end: where the image ends.
 */
static long own_image_anonymous(uintptr_t *end)
{
        const struct kehdr *eh = &__ehdr_start;
        const struct kphdr *ph = (const struct kphdr *)((uintptr_t)eh + eh->phoff);
        /* where the image lies against its link addresses (none, linked at
         * a fixed address; where the kernel put it, a position-independent
         * one): the segment that holds the ELF header */
        uintptr_t base = (uintptr_t)eh;
        for (unsigned i = 0; i < eh->phnum; i++)
                if (ph[i].type == 1 /* PT_LOAD */ && ph[i].offset == 0)
                        base = (uintptr_t)eh - ph[i].vaddr;
        *end = (uintptr_t)eh;
        for (unsigned i = 0; i < eh->phnum; i++) {
                if (ph[i].type != 1 /* PT_LOAD */ || !ph[i].memsz)
                        continue;
                uintptr_t lo = (base + ph[i].vaddr) & ~0xfffull;
                uintptr_t hi = (base + ph[i].vaddr + ph[i].memsz + 0xfff) & ~0xfffull;
                long prot = ((ph[i].flags & 4) ? PROT_READ_ : 0) |
                            ((ph[i].flags & 2) ? PROT_WRITE_ : 0) |
                            ((ph[i].flags & 1) ? PROT_EXEC_ : 0);
                long tmp = zyg_sc(NR_mmap, 0, (long)(hi - lo), PROT_READ_ | PROT_WRITE_,
                                  MAP_PRIVATE_ | MAP_ANONYMOUS_, -1, 0);
                if (tmp < 0 && tmp > -4096)
                        return tmp;
                memcpy((void *)tmp, (const void *)lo, hi - lo);
                long r = zyg_sc(NR_mprotect, tmp, (long)(hi - lo), prot, 0, 0, 0);
                if (r == 0)
                        r = zyg_sc(NR_mremap, tmp, (long)(hi - lo), (long)(hi - lo),
                                   MREMAP_MAYMOVE_ | MREMAP_FIXED_, (long)lo, 0);
                if (r >= 0 && (prot & PROT_WRITE_))
                        r = zyg_sc(NR_madvise, (long)lo, (long)(hi - lo), MADV_DONTFORK_, 0, 0, 0);
                if (r < 0 && r > -4096)
                        return r;
                if (hi > *end)
                        *end = hi;
        }
        return 0;
}

/* An entry of the auxiliary vector the kernel left above the zygote's
 * arguments and environment at `sp`, or 0. */
static uint64_t aux_value(const long *sp, uint64_t type)
{
        const long *p = sp + 1 + sp[0] + 1; /* envp */
        while (*p)
                p++;
        for (const uint64_t *aux = (const uint64_t *)(p + 1); aux[0]; aux += 2)
                if (aux[0] == type)
                        return aux[1];
        return 0;
}

/*
 * The stack every stub starts on (zyg_fork, gadget.S): a region of its own
 * right above the image (in the same 2 MiB, so a stub needs no page table
 * more for it), whose top word, stub_from_fork's address, is the one page
 * of it the zygote writes, once. The zygote's own stack stays out of every
 * fork (MADV_DONTFORK, as its data): a stub starts with nothing of the
 * zygote's that the zygote writes, so a fork write-protects nothing. The
 * top of the stack, or a -errno.
 */
#define STUB_STACK           (32u << 10)
#define MAP_FIXED_NOREPLACE_ 0x100000

/*
 * Unmaps the vDSO and the pages the kernel keeps below it (vvar), which
 * neither the zygote nor a stub uses (the handlers have their own
 * restorer): they lie far from the image, and a stub that inherits them
 * needs three page-table pages for them (~50 us each where the host is
 * itself a PVM guest). Found from the auxiliary vector (AT_SYSINFO_EHDR),
 * its size from its ELF header, the vvar pages below by probing (mincore
 * fails on an unmapped page). A hole or a failure leaves them: it costs
 * only time.
 */
static void drop_vdso(long *sp)
{
        uint64_t base = aux_value(sp, 33 /* AT_SYSINFO_EHDR */);
        if (!base || (base & 0xfff))
                return;
        const struct kehdr *eh = (const struct kehdr *)base;
        const struct kphdr *ph = (const struct kphdr *)(base + eh->phoff);
        uint64_t hi = base;
        for (unsigned i = 0; i < eh->phnum && i < 16; i++)
                if (ph[i].type == 1 /* PT_LOAD */ && base + ph[i].vaddr + ph[i].memsz > hi)
                        hi = base + ph[i].vaddr + ph[i].memsz;
        hi = (hi + 0xfff) & ~0xfffull;
        uint64_t lo = base;
        uint8_t v;
        for (int i = 0;
             i < 16 && zyg_sc(NR_mincore, (long)(lo - 4096), 4096, (long)&v, 0, 0, 0) == 0; i++)
                lo -= 4096;
        zyg_sc(NR_munmap, (long)lo, (long)(hi - lo), 0, 0, 0, 0);
}

static long stub_stack(uintptr_t image_end, long *zyg_sp)
{
        long r = zyg_sc(NR_mmap, (long)image_end, STUB_STACK, PROT_READ_ | PROT_WRITE_,
                        MAP_PRIVATE_ | MAP_ANONYMOUS_ | MAP_FIXED_NOREPLACE_, -1, 0);
        if (r < 0 && r > -4096)
                r = zyg_sc(NR_mmap, 0, STUB_STACK, PROT_READ_ | PROT_WRITE_,
                           MAP_PRIVATE_ | MAP_ANONYMOUS_, -1, 0);
        if (r < 0 && r > -4096)
                return r;
        /* the words a new stub returns through from its clone and from its
         * first mmap (gadget.S) */
        uint64_t top = (uint64_t)r + STUB_STACK - 16;
        ((volatile uint64_t *)top)[0] = (uint64_t)stub_from_fork;
        ((volatile uint64_t *)top)[1] = (uint64_t)stub_mapped;
        /* the zygote's stack: the pages below where it started, to the end
         * of that page (its frames grow down from there; above are only its
         * arguments and environment, which it reads). Not past that page:
         * kernels before 6.9 put the vDSO and vvar pages at a random place
         * just above the stack, and madvise cannot split those (EINVAL). The
         * kernel leaves a gap below a stack: that hole in the range only
         * makes madvise say ENOMEM. */
        uintptr_t sp = (uintptr_t)zyg_sp & ~0xfffull;
        long m = zyg_sc(NR_madvise, (long)(sp - (256u << 10)), (long)((256u << 10) + 4096),
                        MADV_DONTFORK_, 0, 0, 0);
        if (m < 0 && m != -12 /* ENOMEM */)
                return m;
        /* Above that page, to the stack's end: the auxiliary vector and the
         * strings, the executable's name (AT_EXECFN) the last of them,
         * ending a word below the end. Nothing of them is a guest's to read,
         * and a stub that inherited them would hold three page-table pages
         * for them alone, this far from the image. Failing leaves them. */
        const char *name = (const char *)aux_value(zyg_sp, 31 /* AT_EXECFN */);
        if (name && (uintptr_t)name > sp) {
                uintptr_t end = (uintptr_t)name;
                while (*(const char *)end)
                        end++;
                end = (end + 1 + 8 + 0xfff) & ~0xfffull;
                if (end > sp + 4096)
                        zyg_sc(NR_madvise, (long)(sp + 4096), (long)(end - sp - 4096),
                               MADV_DONTFORK_, 0, 0, 0);
        }
        return (long)top;
}

/* Stubs that ended, reaped when the zygote looks (after every REAP_EVERY
 * requests, and at a REAP), their wait status kept for a REAP that asks
 * (the last ENDED). An ended stub's pidfd reads as ended before it is
 * reaped: osvm waits on nothing here. */
#define ENDED      256
#define REAP_EVERY 8
static struct {
        long pid, status;
} ended[ENDED];
static unsigned ended_next;

static void reap_all(void)
{
        int st;
        long pid;
        while ((pid = zsc4(NR_wait4, -1, &st, WNOHANG_ | WALL_, 0)) > 0) {
                ended[ended_next % ENDED].pid = pid;
                ended[ended_next % ENDED].status = st;
                ended_next++;
        }
}

__attribute__((noreturn)) static void zygote(long *sp)
{
        if (zyg_sc(NR_dup3, ZSOCK_START, ZSOCK, 0, 0, 0, 0) != ZSOCK)
                zsc1(NR_exit_group, 1); /* nowhere to say it: osvm sees no HELLO */
        zsc3(NR_close_range, ZSOCK_START, ZSOCK_START, 0);
        struct bpf b;
        memset(&b, 0, sizeof(b));
        /* the filter relies on all of this program lying below the
         * trampolines' pages (where the lowest mapping it allows starts) */
        if ((uint64_t)_end > VMM_PROC_TRAMP || build_filter(&b) < 0) {
                zsend(VMM_PROC_MSG_HELLO, -E_NOEXEC, VMM_PROC_ZSTEP_FILTER);
                zsc1(NR_exit_group, 1);
        }
        uint64_t all = ~0ull;
        zyg_sc(NR_rt_sigprocmask, 2 /* SIG_SETMASK */, (long)&all, 0, 8, 0, 0);
        /* each step, said with its error when it fails (proc_zygote.c words it) */
        long step = VMM_PROC_ZSTEP_IMAGE;
        uintptr_t image_end = 0;
        long r = own_image_anonymous(&image_end);
        /* the page of the zygote's system call instruction: no stub has it
         * (the instruction ends the page, so a fork's child returns onto
         * the next one) */
        if (r == 0)
                r = zyg_sc(NR_madvise, (long)zyg_page, 4096, MADV_DONTFORK_, 0, 0, 0);
        long stack = 0;
        if (r == 0) {
                step = VMM_PROC_ZSTEP_STACK;
                stack = stub_stack(image_end, sp);
        }
        drop_vdso(sp);
        if (stack < 0)
                r = stack;
        /* the stubs' trap handlers and signal stack, inherited by every fork
         * (the zygote itself never takes one: it has no guest) */
        struct kstack alt = {VMM_PROC_ALT, 0, 0, VMM_PROC_ALT_SIZE};
        if (r == 0) {
                step = VMM_PROC_ZSTEP_ALTSTACK;
                r = zyg_sc(NR_sigaltstack, (long)&alt, 0, 0, 0, 0, 0);
        }
        static const int trap[] = {SIGSYS_, SIGSEGV_, SIGBUS_, SIGILL_, SIGFPE_, SIGTRAP_};
        for (unsigned i = 0; i < sizeof(trap) / sizeof(trap[0]) && r == 0; i++) {
                /* a trap returns through stub_resume, not rt_sigreturn:
                 * SIGSYS then leaves the mask as the guest had it; a fault
                 * handler never returns */
                struct ksigaction sa = {(void *)handler, SA_SIGINFO_ | SA_ONSTACK_ | SA_RESTORER_,
                                        stub_restorer, ~0ull};
                if (trap[i] == SIGSYS_) {
                        sa.flags |= SA_NODEFER_;
                        sa.mask = 0;
                }
                step = VMM_PROC_ZSTEP_SIGACTION;
                r = zyg_sc(NR_rt_sigaction, trap[i], (long)&sa, 0, 8, 0, 0);
        }
        if (r < 0) {
                zsend(VMM_PROC_MSG_HELLO, r, step);
                zsc1(NR_exit_group, 1);
        }
        /* its own limits: no core, no files written, a small fd table */
        static const int zero[] = {RLIMIT_CORE_, RLIMIT_FSIZE_, RLIMIT_MEMLOCK_, RLIMIT_MSGQUEUE_};
        for (unsigned i = 0; i < sizeof(zero) / sizeof(zero[0]); i++) {
                struct krlimit l = {0, 0};
                zyg_sc(NR_prlimit64, 0, zero[i], (long)&l, 0, 0, 0);
        }
        struct krlimit nofile = {64, 64};
        zyg_sc(NR_prlimit64, 0, RLIMIT_NOFILE_, (long)&nofile, 0, 0, 0);
        /* Syscall User Dispatch with no selector, on and off again: whether
         * the stubs will trap with it (else the filter's RET_TRAP does) */
        long sud = zyg_sc(NR_prctl, PR_SET_SYSCALL_USER_DISPATCH_, PR_SYS_DISPATCH_ON_,
                          (long)zyg_sc_end, 1, 0, 0) == 0;
        if (sud)
                zyg_sc(NR_prctl, PR_SET_SYSCALL_USER_DISPATCH_, 0 /* off */, 0, 0, 0, 0);
        struct sock_fprog_ prog = {(uint16_t)b.n, b.ins};
        step = VMM_PROC_ZSTEP_NO_NEW_PRIVS;
        r = zyg_sc(NR_prctl, PR_SET_NO_NEW_PRIVS_, 1, 0, 0, 0, 0);
        if (r == 0) {
                step = VMM_PROC_ZSTEP_SECCOMP;
                r = zsc3(NR_seccomp, 1 /* SECCOMP_SET_MODE_FILTER */, 0, &prog);
        }
        zsend(VMM_PROC_MSG_HELLO, r < 0 ? r : VMM_PROC_ABI, r < 0 ? step : sud);
        if (r < 0)
                zsc1(NR_exit_group, 1);
        unsigned since_reap = 0;
        for (;;) {
                struct vmm_proc_msg m;
                struct kiovec v = {&m, sizeof(m)};
                struct kcmsg c;
                memset(&c, 0, sizeof(c));
                struct kmsghdr h = {0, 0, 0, &v, 1, &c, sizeof(c), 0, 0};
                r = zsc3(NR_recvmsg, ZSOCK, &h, 0x40000000 /* MSG_CMSG_CLOEXEC */);
                if (r == 0)
                        zsc1(NR_exit_group, 0); /* osvm is gone */
                if (r < 0) {
                        if (r == -4 /* EINTR */)
                                continue;
                        zsc1(NR_exit_group, 1);
                }
                unsigned nfds = 0;
                if (h.controllen >= 16 + 4 && c.level == SOL_SOCKET_ && c.type == SCM_RIGHTS_ &&
                    c.len >= 16 && c.len <= sizeof(c))
                        nfds = (unsigned)(c.len - 16) / 4;
                if (m.type == VMM_PROC_MSG_FORK && r == sizeof(m)) {
                        fork_stubs((uint64_t)m.arg, (uint64_t)m.arg2, c.fds, nfds, (uint64_t)stack);
                } else if (m.type == VMM_PROC_MSG_REAP && r == sizeof(m)) {
                        reap_all();
                        since_reap = 0;
                        long st = -E_AGAIN;
                        for (unsigned i = 0; i < ENDED; i++)
                                if (ended[i].pid == m.arg && m.arg > 0) {
                                        st = ended[i].status;
                                        ended[i].pid = 0;
                                }
                        zsend(VMM_PROC_MSG_REAP, st, 0);
                }
                if (++since_reap >= REAP_EVERY) {
                        reap_all();
                        since_reap = 0;
                }
                /* the request's fds and the new stubs' pidfds: every fd below
                 * the socket */
                zsc3(NR_close_range, 0, ZSOCK - 1, 0);
        }
}

void stub_main(long *sp)
{
        zygote(sp);
}
