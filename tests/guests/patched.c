/*
 * Patched system call sites on the process platform (src/vmm/proc_patch.c):
 * a `mov $nr, %eax; syscall` site becomes a jump to a trampoline that enters
 * the stub. What a guest sees of that, and what a hostile one can do with it.
 *
 *   patched MODE
 *
 * MODE: regs        from such sites (a call the stub answers, one it stages,
 *                   one osvm serves), with the direction flag set: every
 *                   register a system call keeps is kept, rcx is the address
 *                   past the syscall instruction and r11 the flags, as the
 *                   instruction leaves them; prints "registers kept"
 *       rip         writes a message named rip-relatively right before the
 *                   syscall (`lea msg(%rip), %rsi; syscall`: a site whose
 *                   instruction the trampoline runs displaced, its
 *                   displacement made to reach the same message); prints
 *                   "rip-relative ok"
 *       code        prints whether its own getpid site reads as built or
 *                   patched (a jmp, e9)
 *       entry       finds the stub's way in from its getpid site's
 *                   trampoline and jumps there itself, with rsp pointing
 *                   nowhere, the direction flag set and rcx naming where to
 *                   go back: served as a system call from there; prints
 *                   "landed, wrote 6"
 *       tramp-write writes over its trampolines (read-only: a fault)
 *       tramp-int3  jumps to a trampoline's padding (int3: a fault)
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define FLAGS_KEPT 0xcd5 /* CF PF AF ZF SF DF OF */

struct regs {
        uint64_t rbx, rbp, rdx, rsi, rdi, r8, r9, r10, r12, r13, r14, r15, rcx, r11, flags;
};

/* Sets the registers from in (rdi, rsi, rdx: the call's arguments), the
 * direction flag too, makes call NR from a `mov $NR, %eax; syscall` site,
 * and stores them into out; the address past the syscall in *ret. */
#define CALL_AT_SITE(NR, in, out, ret)                                                             \
        pin = (uint64_t) & (in);                                                                   \
        pout = (uint64_t)(out);                                                                    \
        pret = (uint64_t)(ret);                                                                    \
        __asm__ volatile("push %%rbp\n\t"                                                          \
                         "push %%rbx\n\t"                                                          \
                         "push %%rsi\n\t" /* ret */                                                \
                         "push %%rdi\n\t" /* out */                                                \
                         "mov 0x00(%%rax), %%rbx\n\t"                                              \
                         "mov 0x08(%%rax), %%rbp\n\t"                                              \
                         "mov 0x10(%%rax), %%rdx\n\t"                                              \
                         "mov 0x18(%%rax), %%rsi\n\t"                                              \
                         "mov 0x20(%%rax), %%rdi\n\t"                                              \
                         "mov 0x28(%%rax), %%r8\n\t"                                               \
                         "mov 0x30(%%rax), %%r9\n\t"                                               \
                         "mov 0x38(%%rax), %%r10\n\t"                                              \
                         "mov 0x40(%%rax), %%r12\n\t"                                              \
                         "mov 0x48(%%rax), %%r13\n\t"                                              \
                         "mov 0x50(%%rax), %%r14\n\t"                                              \
                         "mov 0x58(%%rax), %%r15\n\t"                                              \
                         "std\n\t"                                                                 \
                         "mov $" #NR ", %%eax\n\t"                                                 \
                         "syscall\n\t"                                                             \
                         "1:\n\t"                                                                  \
                         "pushfq\n\t"                                                              \
                         "cld\n\t"                                                                 \
                         "push %%rax\n\t"                                                          \
                         "mov 0x10(%%rsp), %%rax\n\t" /* out */                                    \
                         "mov %%rbx, 0x00(%%rax)\n\t"                                              \
                         "mov %%rbp, 0x08(%%rax)\n\t"                                              \
                         "mov %%rdx, 0x10(%%rax)\n\t"                                              \
                         "mov %%rsi, 0x18(%%rax)\n\t"                                              \
                         "mov %%rdi, 0x20(%%rax)\n\t"                                              \
                         "mov %%r8, 0x28(%%rax)\n\t"                                               \
                         "mov %%r9, 0x30(%%rax)\n\t"                                               \
                         "mov %%r10, 0x38(%%rax)\n\t"                                              \
                         "mov %%r12, 0x40(%%rax)\n\t"                                              \
                         "mov %%r13, 0x48(%%rax)\n\t"                                              \
                         "mov %%r14, 0x50(%%rax)\n\t"                                              \
                         "mov %%r15, 0x58(%%rax)\n\t"                                              \
                         "mov %%rcx, 0x60(%%rax)\n\t"                                              \
                         "mov %%r11, 0x68(%%rax)\n\t"                                              \
                         "mov 0x08(%%rsp), %%rcx\n\t" /* the flags after */                        \
                         "mov %%rcx, 0x70(%%rax)\n\t"                                              \
                         "mov 0x18(%%rsp), %%rdx\n\t" /* ret */                                    \
                         "lea 1b(%%rip), %%rcx\n\t"                                                \
                         "mov %%rcx, (%%rdx)\n\t"                                                  \
                         "pop %%rax\n\t"                                                           \
                         "add $24, %%rsp\n\t"                                                      \
                         "pop %%rbx\n\t"                                                           \
                         "pop %%rbp\n\t"                                                           \
                         : "+a"(pin), "+D"(pout), "+S"(pret)                                       \
                         :                                                                         \
                         : "rcx", "rdx", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",     \
                           "memory", "cc")

static const char *const names[] = {"rbx", "rbp", "rdx", "rsi", "rdi", "r8",
                                    "r9",  "r10", "r12", "r13", "r14", "r15"};

static int check(const char *what, const struct regs *in, const struct regs *out, uint64_t ret)
{
        const uint64_t *a = (const uint64_t *)in, *b = (const uint64_t *)out;
        for (int i = 0; i < 12; i++)
                if (a[i] != b[i]) {
                        printf("%s: %s changed: %#llx -> %#llx\n", what, names[i],
                               (unsigned long long)a[i], (unsigned long long)b[i]);
                        return 1;
                }
        if (out->rcx != ret) {
                printf("%s: rcx %#llx, not the address past the syscall %#llx\n", what,
                       (unsigned long long)out->rcx, (unsigned long long)ret);
                return 1;
        }
        if (!(out->flags & 0x400)) {
                printf("%s: the direction flag was lost\n", what);
                return 1;
        }
        if ((out->r11 & FLAGS_KEPT) != (out->flags & FLAGS_KEPT)) {
                printf("%s: r11 %#llx is not the flags %#llx\n", what, (unsigned long long)out->r11,
                       (unsigned long long)out->flags);
                return 1;
        }
        return 0;
}

static int regs(void)
{
        static const char msg1[] = "to fd 1\n", msg2[] = "to fd 2\n";
        struct regs in, out;
        uint64_t ret, pin, pout, pret;
        uint64_t *v = (uint64_t *)&in;
        for (int i = 0; i < 12; i++)
                v[i] = 0x1111111111111111ull * (uint64_t)(i + 1);
        /* getpid: the stub answers */
        memset(&out, 0, sizeof(out));
        CALL_AT_SITE(39, in, &out, &ret);
        if (check("getpid", &in, &out, ret))
                return 1;
        /* write(1): staged by the stub; write(2): osvm serves it */
        in.rdi = 1;
        in.rsi = (uint64_t)msg1;
        in.rdx = sizeof(msg1) - 1;
        CALL_AT_SITE(1, in, &out, &ret);
        if (check("write 1", &in, &out, ret))
                return 1;
        in.rdi = 2;
        in.rsi = (uint64_t)msg2;
        CALL_AT_SITE(1, in, &out, &ret);
        if (check("write 2", &in, &out, ret))
                return 1;
        puts("registers kept");
        return 0;
}

/* The getpid site of this program (musl's: `mov $39, %eax; syscall`), where
 * a trampoline replaced it, or NULL. */
static const uint8_t *patched_site(void)
{
        const uint8_t *p = (const uint8_t *)(uintptr_t)getpid;
        return p[0] == 0xe9 && p[5] == 0x0f && p[6] == 0x05 ? p : NULL;
}

__attribute__((used)) static uint64_t saved_rsp;

__attribute__((used)) static void landed_c(long r)
{
        printf("landed, wrote %ld\n", r);
        fflush(stdout);
        _exit(0);
}

/* Where the stub goes back to: rax holds the result; the stack is ours again. */
__asm__(".text\n"
        "landed:\n\t"
        "cld\n\t"
        "mov saved_rsp(%rip), %rsp\n\t"
        "mov %rax, %rdi\n\t"
        "call landed_c\n\t"
        "ud2\n");
void landed(void);

static int entry(void)
{
        const uint8_t *site = patched_site();
        if (!site) {
                puts("no patched site");
                return 1;
        }
        int32_t rel;
        memcpy(&rel, site + 1, 4);
        const uint8_t *slot = site + 5 + rel;
        if (slot[10] != 0xe9) {
                puts("no jump in the trampoline");
                return 1;
        }
        memcpy(&rel, slot + 11, 4);
        uintptr_t in = (uintptr_t)(slot + 15 + rel);
        static const char msg[] = "hello\n";
        register uintptr_t to __asm__("r8") = in;
        __asm__ volatile("mov %%rsp, saved_rsp(%%rip)\n\t"
                         "mov $1, %%eax\n\t"
                         "mov $1, %%edi\n\t"
                         "lea landed(%%rip), %%rcx\n\t"
                         "mov $0x10, %%rsp\n\t"
                         "std\n\t"
                         "jmp *%%r8\n\t"
                         :
                         : "S"(msg), "d"(sizeof(msg) - 1), "r"(to)
                         : "rax", "rdi", "rcx", "memory");
        return 1; /* not reached */
}

static const uint8_t *a_slot(void)
{
        const uint8_t *site = patched_site();
        if (!site)
                return NULL;
        int32_t rel;
        memcpy(&rel, site + 1, 4);
        return site + 5 + rel;
}

/* The message of mode rip, and its length. */
__asm__(".section .rodata\n"
        "ripmsg: .ascii \"rip-relative ok\\n\"\n"
        ".text\n");

static int rip(void)
{
        long r;
        __asm__ volatile("mov $1, %%eax\n\t"
                         "mov $1, %%edi\n\t"
                         "mov $16, %%edx\n\t"
                         "lea ripmsg(%%rip), %%rsi\n\t"
                         "syscall\n\t"
                         : "=a"(r)
                         :
                         : "rdi", "rsi", "rdx", "rcx", "r11", "memory");
        return r == 16 ? 0 : 1;
}

int main(int argc, char **argv)
{
        const char *mode = argc > 1 ? argv[1] : "";
        if (!strcmp(mode, "regs"))
                return regs();
        if (!strcmp(mode, "rip"))
                return rip();
        if (!strcmp(mode, "code")) {
                const uint8_t *p = (const uint8_t *)(uintptr_t)getpid;
                puts(p[0] == 0xe9 ? "site patched" : p[0] == 0xb8 ? "site as built" : "?");
                return 0;
        }
        if (!strcmp(mode, "entry"))
                return entry();
        if (!strcmp(mode, "tramp-write") || !strcmp(mode, "tramp-int3")) {
                volatile uint8_t *slot = (volatile uint8_t *)a_slot();
                if (!slot) {
                        puts("no patched site");
                        return 1;
                }
                if (mode[6] == 'w')
                        slot[0] = 0x90;
                else
                        ((void (*)(void))(uintptr_t)(slot + 15))();
                puts("after");
                return 0;
        }
        fprintf(stderr, "patched: unknown mode %s\n", mode);
        return 2;
}
