/* Hostile on the process platform: `syscall` executed from memory the
 * guest wrote itself (the heap, the stack, an mmap area), not from libc.
 * Every one traps and is served by the engine as any other: the output
 * says what each returned, then "ok". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* mov %rdi,%rax; mov %rsi,%rdi; mov %rdx,%rsi; mov %rcx,%rdx; syscall; ret */
static const uint8_t code[] = {0x48, 0x89, 0xf8, 0x48, 0x89, 0xf7, 0x48, 0x89,
                               0xd6, 0x48, 0x89, 0xca, 0x0f, 0x05, 0xc3};
typedef long (*sc3)(long nr, long a, long b, long c);

static long run_at(uint8_t *where, long nr, long a, long b, long c)
{
        memcpy(where, code, sizeof(code));
        return ((sc3)(void *)where)(nr, a, b, c);
}

int main(void)
{
        static const char msg[] = "written by a syscall on the heap\n";
        uint8_t *heap = malloc(64);
        long r1 = run_at(heap, 1 /* write */, 1, (long)msg, sizeof(msg) - 1);
        uint8_t stack[64];
        long r2 = run_at(stack, 39 /* getpid */, 0, 0, 0);
        uint8_t *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        long r3 = m == MAP_FAILED ? -1 : run_at(m, 63 /* uname */, 0, 0, 0);
        long r4 = m == MAP_FAILED ? -1 : run_at(m + 100, 2 /* open */, (long)"/etc/passwd", 0, 0);
        printf("heap write %ld, stack getpid %ld, mmap uname(NULL) %ld, open /etc/passwd %ld\n", r1,
               r2, r3, r4);
        puts(r1 == (long)sizeof(msg) - 1 && r2 == 1 && r3 == -14 && r4 == -2 ? "ok" : "wrong");
        return 0;
}
