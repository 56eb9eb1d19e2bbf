/*
 * Hostile on the process platform: writes over the stub's control page and
 * signal stack (guest addresses 0x100000 and 0x110000, below the user area;
 * on KVM they are not mapped and the first write faults), then makes a
 * system call. MODE:
 *   zero ones       the whole control page
 *   died setup-err  the state word, as the stub's death or a failed set-up,
 *                   then runs on without a system call
 *   forge           a system call request of its own (write "forged") while
 *                   it runs on
 *   spin remap fd   the stub's own knobs: its spin count, the ranges it maps
 *                   again, its memory's fd
 *   altstack        the signal stack
 *   brk             the break's fields, absurd, then brk and mmap calls
 *   answers         the writable range widened over the stack's guard,
 *                   then a getrandom into it: the stub faults
 *   rsp-alt         system calls (answered by the stub, staged, served by
 *                   osvm: stderr) with the stack pointer inside the signal stack:
 *                   the kernel's frames go below it, so its words above the
 *                   stack pointer and in the red zone below are kept
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../../src/vmm/proc_abi.h"

#define CTL 0x100000ul

/* Runs on for about n cycles without a system call (osvm looks at the
 * state word at least every 50 ms while the guest runs). */
static void hold(uint64_t n)
{
        uint64_t t0 = __builtin_ia32_rdtsc();
        while (__builtin_ia32_rdtsc() - t0 < n)
                ;
}

/* A system call made with rsp at sp. */
static long on_stack(uint64_t sp, long nr, long a0, long a1, long a2)
{
        long r;
        __asm__ volatile("mov %%rsp, %%r12\n\t"
                         "mov %[sp], %%rsp\n\t"
                         "syscall\n\t"
                         "mov %%r12, %%rsp"
                         : "=a"(r)
                         : [sp] "r"(sp), "a"(nr), "D"(a0), "S"(a1), "d"(a2)
                         : "rcx", "r11", "r12", "memory");
        return r;
}

static int rsp_alt(void)
{
        static const char msg[] = "on the signal stack\n";
        uint64_t sp = 0x120000 - 0x100; /* near its top, where a frame would go */
        volatile uint64_t *near = (volatile uint64_t *)(sp - 128);
        for (int i = 0; i < 48; i++)
                near[i] = 0x5157ac0000000000ull + (uint64_t)i;
        long pid = on_stack(sp, SYS_getpid, 0, 0, 0);
        long wrote = on_stack(sp, SYS_write, 1, (long)msg, sizeof(msg) - 1);
        static const char err[] = "served on the signal stack\n";
        long served = on_stack(sp, SYS_write, 2, (long)err, sizeof(err) - 1);
        for (int i = 0; i < 48; i++)
                if (near[i] != 0x5157ac0000000000ull + (uint64_t)i) {
                        printf("word %d at 0x%llx changed\n", i - 16,
                               (unsigned long long)(uintptr_t)&near[i]);
                        return 1;
                }
        printf("pid %ld, wrote %ld and %ld\n", pid, wrote, served);
        return pid > 0 && wrote == sizeof(msg) - 1 && served == sizeof(err) - 1 ? 0 : 1;
}

int main(int argc, char **argv)
{
        const char *mode = argc > 1 ? argv[1] : "zero";
        volatile uint32_t *w = (volatile uint32_t *)CTL;
        volatile uint64_t *q = (volatile uint64_t *)CTL;
        if (!strcmp(mode, "zero"))
                memset((void *)CTL, 0, 4096);
        else if (!strcmp(mode, "ones"))
                memset((void *)CTL, 0xff, 4096);
        else if (!strcmp(mode, "died")) {
                w[0] = 0x40000000u | 0x80000000u | w[2]; /* w[2]: the stub's tid */
                hold(2000000000ull);
        } else if (!strcmp(mode, "setup-err")) {
                w[0] = 0x3ffffff3u;
                hold(2000000000ull);
        } else if (!strcmp(mode, "forge")) {
                static const char msg[] = "forged\n";
                q[4] = 1; /* nr: write */
                q[5] = 1;
                q[6] = (uint64_t)(uintptr_t)msg;
                q[7] = sizeof(msg) - 1;
                __atomic_store_n(&w[0], 0x3ffffff1u, __ATOMIC_RELEASE);
                hold(2000000000ull);
        } else if (!strcmp(mode, "spin"))
                w[3] = 0xffffffffu;
        else if (!strcmp(mode, "remap")) {
                for (int i = 0; i < 64; i++)
                        q[20 + i] = 0x7f0000000000ull + (uint64_t)i * 4096;
        } else if (!strcmp(mode, "fd"))
                for (int i = 0; i < 512; i++)
                        w[i] ^= 0x5a5a5a5au;
        else if (!strcmp(mode, "altstack"))
                memset((void *)0x110000, 0xcc, 0x10000);
        else if (!strcmp(mode, "brk")) {
                struct vmm_proc_ctl *c = (struct vmm_proc_ctl *)CTL;
                c->brk_lo = 0;
                c->brk_cur = ~0ull - 4095;
                c->brk_room = ~0ull;
                syscall(SYS_brk, 0);
                syscall(SYS_brk, 1ull << 46);
                /* served: osvm takes the break back as a brk call */
                mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                c->brk_cur = 0x1000;
                syscall(SYS_brk, 0x2000);
                mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        } else if (!strcmp(mode, "rsp-alt")) {
                if (rsp_alt())
                        return 1;
        } else if (!strcmp(mode, "answers")) {
                struct vmm_proc_ctl *c = (struct vmm_proc_ctl *)CTL;
                uint64_t guard = c->guard_lo;
                c->guard_lo = c->stack_lo;
                c->rand_used = 0;
                syscall(SYS_getrandom, (void *)(uintptr_t)(guard + 4096), 8, 0);
        }
        static const char after[] = "after\n";
        write(1, after, sizeof(after) - 1);
        return 0;
}
