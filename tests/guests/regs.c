/*
 * The registers a system call keeps: every general register but rax (the
 * result), rcx and r11 (the kernel's return address and flags), the flags
 * the guest set, and the vector registers (xmm0-15, and the upper halves of
 * ymm0-15 where AVX is on), across a call the platform's stub answers
 * (getpid), one it stages (write to fd 1) and one osvm serves (write to fd
 * 2). Prints "registers kept" and exits 0, or names the first register
 * that changed.
 */
#include <cpuid.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>

struct gprs {
        uint64_t rbx, rbp, rdx, rsi, rdi, r8, r9, r10, r12, r13, r14, r15, flags;
};
static const char *const names[] = {"rbx", "rbp", "rdx", "rsi", "rdi", "r8",   "r9",
                                    "r10", "r12", "r13", "r14", "r15", "flags"};

/* Sets every kept register from `in`, makes call nr (rdi, rsi, rdx from
 * in), and stores them all into `out`. */
static long call_keeping(long nr, const struct gprs *in, struct gprs *out)
{
        long r;
        __asm__ volatile("push %%rbp\n\t"
                         "push %%rbx\n\t"
                         "push %%rax\n\t" /* the number */
                         "push %[out]\n\t"
                         "mov %[in], %%rax\n\t"
                         "mov 0x00(%%rax), %%rbx\n\t"
                         "mov 0x08(%%rax), %%rbp\n\t"
                         "mov 0x10(%%rax), %%rdx\n\t"
                         "mov 0x18(%%rax), %%rsi\n\t"
                         "mov 0x20(%%rax), %%rdi\n\t"
                         "mov 0x28(%%rax), %%r8\n\t"
                         "mov 0x30(%%rax), %%r9\n\t"
                         "mov 0x38(%%rax), %%r10\n\t"
                         "mov 0x40(%%rax), %%r12\n\t"
                         "mov 0x48(%%rax), %%r13\n\t"
                         "mov 0x50(%%rax), %%r14\n\t"
                         "mov 0x58(%%rax), %%r15\n\t"
                         "pushq 0x60(%%rax)\n\t"
                         "popfq\n\t"
                         "mov 8(%%rsp), %%rax\n\t"
                         "syscall\n\t"
                         "pushfq\n\t"
                         "push %%rax\n\t"
                         "mov 16(%%rsp), %%rax\n\t" /* out */
                         "mov %%rbx, 0x00(%%rax)\n\t"
                         "mov %%rbp, 0x08(%%rax)\n\t"
                         "mov %%rdx, 0x10(%%rax)\n\t"
                         "mov %%rsi, 0x18(%%rax)\n\t"
                         "mov %%rdi, 0x20(%%rax)\n\t"
                         "mov %%r8, 0x28(%%rax)\n\t"
                         "mov %%r9, 0x30(%%rax)\n\t"
                         "mov %%r10, 0x38(%%rax)\n\t"
                         "mov %%r12, 0x40(%%rax)\n\t"
                         "mov %%r13, 0x48(%%rax)\n\t"
                         "mov %%r14, 0x50(%%rax)\n\t"
                         "mov %%r15, 0x58(%%rax)\n\t"
                         "mov 8(%%rsp), %%rbx\n\t" /* the flags */
                         "mov %%rbx, 0x60(%%rax)\n\t"
                         "pop %%rax\n\t"
                         "add $24, %%rsp\n\t"
                         "pop %%rbx\n\t"
                         "pop %%rbp"
                         : "=a"(r)
                         : "a"(nr), [in] "r"(in), [out] "r"(out)
                         : "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13",
                           "r14", "r15", "memory", "cc");
        return r;
}

static int check_gprs(long nr, long fd, const char *what, const char *msg)
{
        struct gprs in, out;
        uint64_t *w = (uint64_t *)&in;
        for (unsigned i = 0; i < sizeof(in) / 8; i++)
                w[i] = 0x1badc0de00000000ull + i * 0x01010101ull;
        in.rdi = (uint64_t)fd;
        in.rsi = (uint64_t)(uintptr_t)msg;
        in.rdx = msg ? strlen(msg) : 0;
        /* CF, PF, ZF, SF and DF clear (the ABI's), the reserved bit 1 and IF */
        in.flags = 0x202 | 0x1 | 0x4 | 0x40 | 0x80;
        memset(&out, 0, sizeof(out));
        long r = call_keeping(nr, &in, &out);
        if (msg && r != (long)strlen(msg)) {
                printf("%s: returned %ld\n", what, r);
                return 1;
        }
        const uint64_t *a = (const uint64_t *)&in, *b = (const uint64_t *)&out;
        for (unsigned i = 0; i < sizeof(in) / 8; i++) {
                uint64_t mask = i == 12 ? 0xcd5 : ~0ull; /* the arithmetic flags and DF */
                if ((a[i] ^ b[i]) & mask) {
                        printf("%s: %s was 0x%llx, is 0x%llx\n", what, names[i],
                               (unsigned long long)a[i], (unsigned long long)b[i]);
                        return 1;
                }
        }
        return 0;
}

typedef uint8_t vec[32];

/* Loads the 16 vector registers (xmm or ymm, by op and prefix p) from in[],
 * makes the call, and stores them into out[]. */
// clang-format off
#define EACH16(F, op, p)                                                                           \
        F(op, p, 0) F(op, p, 1) F(op, p, 2) F(op, p, 3) F(op, p, 4) F(op, p, 5) F(op, p, 6)       \
        F(op, p, 7) F(op, p, 8) F(op, p, 9) F(op, p, 10) F(op, p, 11) F(op, p, 12) F(op, p, 13)   \
        F(op, p, 14) F(op, p, 15)
// clang-format on
#define VLOAD(op, p, i)  op " " #i "*32(%[in]), %%" #p "mm" #i "\n\t"
#define VSTORE(op, p, i) op " %%" #p "mm" #i ", " #i "*32(%[out])\n\t"
#define VCALL(op, p)     EACH16(VLOAD, op, p) "syscall\n\t" EACH16(VSTORE, op, p)
#define VCLOBBERS                                                                                  \
        "rcx", "r11", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",    \
            "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15"

static int check_vectors(long nr, long fd, const char *what, const char *msg, int avx)
{
        static vec in[16], out[16];
        for (int i = 0; i < 16; i++)
                for (int k = 0; k < 32; k++)
                        in[i][k] = (uint8_t)(0x40 + i * 7 + k);
        memset(out, 0, sizeof(out));
        size_t len = msg ? strlen(msg) : 0;
        long r;
        register long a0 __asm__("rdi") = fd;
        register long a1 __asm__("rsi") = (long)msg;
        register long a2 __asm__("rdx") = (long)len;
        if (avx)
                __asm__ volatile(VCALL("vmovdqu", y) "vzeroupper"
                                 : "=a"(r)
                                 : "a"(nr), "r"(a0), "r"(a1), "r"(a2), [in] "r"(in), [out] "r"(out)
                                 : VCLOBBERS);
        else
                __asm__ volatile(VCALL("movdqu", x)
                                 : "=a"(r)
                                 : "a"(nr), "r"(a0), "r"(a1), "r"(a2), [in] "r"(in), [out] "r"(out)
                                 : VCLOBBERS);
        if (msg && r != (long)len) {
                printf("%s: returned %ld\n", what, r);
                return 1;
        }
        size_t n = avx ? 32 : 16;
        for (int i = 0; i < 16; i++)
                if (memcmp(in[i], out[i], n)) {
                        printf("%s: %s%d changed\n", what, avx ? "ymm" : "xmm", i);
                        return 1;
                }
        return 0;
}

/* AVX usable: the CPU has it and the OS saves the ymm state (XCR0 bits 1-2). */
static int avx_on(void)
{
        unsigned a, b, c, d;
        if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE) || !(c & bit_AVX))
                return 0;
        uint32_t lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        return (lo & 6) == 6;
}

int main(void)
{
        static const char out[] = "staged\n", err[] = "served\n";
        int avx = avx_on();
        if (check_gprs(SYS_getpid, 0, "getpid", NULL) ||
            check_gprs(SYS_write, 1, "write(1)", out) ||
            check_gprs(SYS_write, 2, "write(2)", err) ||
            check_vectors(SYS_getpid, 0, "getpid", NULL, 0) ||
            check_vectors(SYS_write, 1, "write(1)", out, 0) ||
            check_vectors(SYS_write, 2, "write(2)", err, 0) ||
            (avx && (check_vectors(SYS_getpid, 0, "getpid", NULL, 1) ||
                     check_vectors(SYS_write, 1, "write(1)", out, 1) ||
                     check_vectors(SYS_write, 2, "write(2)", err, 1))))
                return 1;
        printf("registers kept%s\n", avx ? " (and ymm)" : "");
        return 0;
}
