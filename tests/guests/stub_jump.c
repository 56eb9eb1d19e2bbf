/*
 * Hostile on the process platform: finds the stub's own code, as an attacker
 * would (the return address the kernel left in the last signal frame on the
 * signal stack), and runs the stub's system call instruction with its own
 * registers, or the zygote's.
 *
 *   stub_jump MODE RESTORER_OFF SC_INSN_OFF ZYG_OFF   (offsets in the stub
 *   program, from nm; the test passes them)
 *
 * MODE: openat getpid clone kill munmap  (not on the stub's allow-list)
 *       mmap-high mmap-stub futex-pi prctl madvise arch-get  (on it, with
 *       arguments the filter refuses; mmap-stub: its own code over the
 *       zygote's page, to run the zygote's system calls)
 *       mmap-anon  (allowed: private memory over its own; it confuses itself)
 *       prlimit-raise (allowed: raising a hard limit fails)
 *       sud-off (allowed: Syscall User Dispatch off; the filter traps instead)
 *       mmap-locked (allowed: locked memory past RLIMIT_MEMLOCK 0 needs a
 *       capability the stub must not have)
 *       exit (exit_group past the engine)
 *       sigaction-ign sigreturn-block handler-fault (its signal handling)
 *       zyg (the zygote's instruction, unmapped in every stub)
 * It prints "reached MODE: RESULT" when it came back.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uintptr_t insn;

static long gadget(uintptr_t at, long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
        register long r10 __asm__("r10") = a3;
        register long r8 __asm__("r8") = a4;
        register long r9 __asm__("r9") = a5;
        register uintptr_t t __asm__("r12") = at;
        long r;
        __asm__ volatile("call *%%r12"
                         : "=a"(r)
                         : "a"(nr), "D"(a0), "S"(a1), "d"(a2), "r"(r10), "r"(r8), "r"(r9), "r"(t)
                         : "rcx", "r11", "memory");
        return r;
}

/* A system call that traps whatever the platform patched: from the data
 * segment, which no patched site covers (guest memory is executable, as
 * on KVM). */
static long trap(long nr)
{
        static uint8_t here[] = {0x0f, 0x05, 0xc3}; /* syscall; ret */
        long r;
        __asm__ volatile("call *%1" : "=a"(r) : "r"(here), "a"(nr) : "rcx", "r11", "memory");
        return r;
}

static void fault_handler(int sig)
{
        (void)sig;
        *(volatile int *)8 = 1;
}

/* Where rt_sigreturn resumes it, every signal blocked: a system call. */
static void after_sigreturn(void)
{
        static const char m[] = "every signal blocked; a system call now\n";
        trap(39);
        write(2, m, sizeof(m) - 1);
        _exit(0);
}

static uint64_t resume_stack[1024] __attribute__((aligned(16)));

int main(int argc, char **argv)
{
        if (argc < 5) {
                fprintf(stderr, "usage: stub_jump MODE RESTORER_OFF SC_INSN_OFF ZYG_OFF\n");
                return 2;
        }
        const char *mode = argv[1];
        uintptr_t roff = strtoull(argv[2], NULL, 16), ioff = strtoull(argv[3], NULL, 16);
        uintptr_t zoff = strtoull(argv[4], NULL, 16);
        fprintf(stderr, "looking for the stub\n");
        trap(39); /* a frame on the signal stack */
        uintptr_t base = 0;
        /* the stub program lies below its control page (1 MiB) */
        for (uintptr_t a = 0x110000; a < 0x120000 && !base; a += 8) {
                uintptr_t v = *(volatile uintptr_t *)a;
                if (v >= 0x10000 + roff && v < 0x100000 && ((v - roff) & 0xfff) == 0)
                        base = v - roff;
        }
        if (!base) {
                printf("no stub found\n");
                return 3;
        }
        insn = base + ioff;
        fprintf(stderr, "the stub's system call instruction is at 0x%lx\n", (unsigned long)insn);
        long r = 0;
        if (!strcmp(mode, "openat"))
                r = gadget(insn, 257, -100, (long)"/etc/passwd", 0, 0, 0, 0);
        else if (!strcmp(mode, "getpid"))
                r = gadget(insn, 39, 0, 0, 0, 0, 0, 0);
        else if (!strcmp(mode, "clone"))
                r = gadget(insn, 56, 17 | 0x1000, 0, 0, 0, 0, 0);
        else if (!strcmp(mode, "kill"))
                r = gadget(insn, 62, 1, 9, 0, 0, 0, 0);
        else if (!strcmp(mode, "mmap-high"))
                r = gadget(insn, 9, 0x7f0000000000, 4096, 7, 0x22 | 0x10, -1, 0);
        else if (!strcmp(mode, "mmap-stub"))
                r = gadget(insn, 9, (long)((base + zoff) & ~0xfffull), 4096, 7, 0x22 | 0x10, -1, 0);
        else if (!strcmp(mode, "futex-pi"))
                r = gadget(insn, 202, 0x400000, 6 /* FUTEX_LOCK_PI */, 0, 0, 0, 0);
        else if (!strcmp(mode, "munmap"))
                r = gadget(insn, 11, 0x400000, 4096, 0, 0, 0, 0);
        else if (!strcmp(mode, "prctl"))
                r = gadget(insn, 157, 4 /* PR_SET_DUMPABLE */, 1, 0, 0, 0, 0);
        else if (!strcmp(mode, "madvise"))
                r = gadget(insn, 28, 0x400000, 4096, 4 /* MADV_DONTNEED */, 0, 0, 0);
        else if (!strcmp(mode, "arch-get"))
                r = gadget(insn, 158, 0x1003, 0x400000, 0, 0, 0, 0);
        else if (!strcmp(mode, "mmap-anon")) {
                /* anonymous memory over its own heap's next pages: the guest's
                 * view parts from the engine's; only it is confused */
                char *p = malloc(1 << 20);
                uintptr_t at = ((uintptr_t)p + 0x10000) & ~0xfffull;
                r = gadget(insn, 9, (long)at, 4096, 3, 0x22 | 0x10, -1, 0);
        } else if (!strcmp(mode, "prlimit-raise")) {
                /* RLIMIT_NOFILE up from 0, within fs.nr_open: only a capability
                 * (CAP_SYS_RESOURCE, which the stub has not) could allow it */
                uint64_t lim[2] = {64, 64};
                r = gadget(insn, 302, 0, 7, (long)lim, 0, 0, 0);
        } else if (!strcmp(mode, "mmap-locked")) {
                char *p = malloc(1 << 20);
                uintptr_t at = ((uintptr_t)p + 0x10000) & ~0xfffull;
                r = gadget(insn, 9, (long)at, 4096, 3, 0x22 | 0x10 | 0x2000 /* MAP_LOCKED */, -1,
                           0);
        } else if (!strcmp(mode, "sud-off")) {
                r = gadget(insn, 157, 59 /* PR_SET_SYSCALL_USER_DISPATCH */, 0 /* off */, 0, 0, 0,
                           0);
                /* from here each call reaches the filter, which traps it as well */
                printf("pid %d; ", getpid());
                fflush(stdout);
        } else if (!strcmp(mode, "exit"))
                r = gadget(insn, 231, 0, 0, 0, 0, 0, 0);
        else if (!strcmp(mode, "sigaction-ign")) {
                uint64_t sa[4] = {1 /* SIG_IGN */, 0, 0, 0};
                r = gadget(insn, 13, 31 /* SIGSYS */, (long)sa, 0, 8, 0, 0);
                trap(39);
                fprintf(stderr, "SIGSYS ignored: %ld; a system call now\n", r);
        } else if (!strcmp(mode, "handler-fault")) {
                /* its own handler for SIGSYS that faults, every signal blocked */
                uint64_t sa[4] = {(uint64_t)(uintptr_t)fault_handler, 0x04000000, 0, ~0ull};
                sa[2] = (uint64_t)(uintptr_t)fault_handler;
                r = gadget(insn, 13, 31, (long)sa, 0, 8, 0, 0);
                trap(39);
                fprintf(stderr, "its own SIGSYS handler: %ld; a system call now\n", r);
        } else if (!strcmp(mode, "sigreturn-block")) {
                /* rt_sigreturn from a frame of its own: every signal blocked,
                 * resuming in after_sigreturn */
                static uint64_t frame[64 + 128];
                memset(frame, 0, sizeof(frame));
                uint64_t *uc = frame + 1, *mc = uc + 5;
                mc[16] = (uint64_t)(uintptr_t)after_sigreturn;         /* rip */
                mc[15] = (uint64_t)(uintptr_t)&resume_stack[1024 - 1]; /* rsp */
                mc[17] = 0x202;
                ((uint16_t *)&mc[18])[0] = 0x33;
                ((uint16_t *)&mc[18])[3] = 0x2b;
                uc[37] = ~0ull; /* uc_sigmask: all blocked */
                uc[3] = 2;      /* uc_stack: SS_DISABLE */
                /* rsp at the ucontext once `call` pushed its return address */
                __asm__ volatile("mov %0, %%rsp\n"
                                 "mov $15, %%eax\n"
                                 "call *%1\n" ::"r"(uc + 1),
                                 "r"(insn)
                                 : "memory");
        } else if (!strcmp(mode, "zyg"))
                r = gadget(base + zoff, 39, 0, 0, 0, 0, 0, 0);
        else {
                fprintf(stderr, "unknown mode %s\n", mode);
                return 2;
        }
        printf("reached %s: %ld\n", mode, r);
        fflush(stdout);
        return 0;
}
