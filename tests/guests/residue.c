/*
 * What one call leaves in guest memory, and what the next one finds:
 * `residue write` fills its bss, 2 MiB of break, 2 MiB of mmap and 64 KiB of
 * stack with a mark, and has the engine read its request (a page of the
 * mark) into a page of its read-only data (readv: served by the syscall
 * layer, not a stub); `residue check` looks at the same places and prints
 * "clean", or where it found eight bytes of the mark in a row, after the
 * first line of that read-only page as the engine reads it (writev). No
 * call may see another's bytes. `residue write-bss` and `residue write-mmap`
 * mark 64 KiB alone, of the bss or of the mmap area: few pages, which the
 * process platform keeps and zeroes in place for the next call.
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#define MARK  0xa5
#define SPAN  (2u << 20)
#define STACK (64u << 10)
#define SMALL (64u << 10)

static unsigned char bss[256u << 10];
static const char ro_page[4096] __attribute__((aligned(4096))) = "the read-only page\n";

/* Whether an aligned 8-byte word of p is all mark: a byte alone could be
 * this guest's own (a return address on the stack, say). */
static int found(const char *what, const volatile unsigned char *p, size_t n)
{
        for (size_t i = (8 - (unsigned long)p % 8) % 8; i + 8 <= n; i += 8) {
                size_t k = 0;
                while (k < 8 && p[i + k] == MARK)
                        k++;
                if (k == 8) {
                        printf("%s: bytes %zu-%zu hold the last guest's mark\n", what, i, i + 7);
                        return 1;
                }
        }
        return 0;
}

__attribute__((noinline)) static int stack_area(int write)
{
        volatile unsigned char buf[STACK];
        if (write) {
                for (size_t i = 0; i < STACK; i++)
                        buf[i] = MARK;
                return 0;
        }
        return found("the stack", buf, STACK);
}

int main(int argc, char **argv)
{
        const char *mode = argc > 1 ? argv[1] : "check";
        int write = !strcmp(mode, "write");
        unsigned char *cur = (unsigned char *)syscall(SYS_brk, 0);
        if ((unsigned char *)syscall(SYS_brk, cur + SPAN) != cur + SPAN) {
                printf("brk failed\n");
                return 2;
        }
        unsigned char *m =
            mmap(NULL, SPAN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) {
                printf("mmap failed\n");
                return 2;
        }
        if (!strcmp(mode, "write-bss") || !strcmp(mode, "write-mmap")) {
                memset(mode[6] == 'b' ? bss : m, MARK, SMALL);
                printf("written\n");
                return 0;
        }
        struct iovec v = {(void *)ro_page, 4096};
        if (write) {
                if (readv(0, &v, 1) != 4096) { /* the engine writes it: its view of the page */
                        printf("readv of the request failed\n");
                        return 2;
                }
                memset(bss, MARK, sizeof(bss));
                memset(cur, MARK, SPAN);
                memset(m, MARK, SPAN);
                stack_area(1);
                printf("written\n");
                return 0;
        }
        v.iov_len = strlen("the read-only page\n");
        if (writev(1, &v, 1) != (ssize_t)v.iov_len) {
                printf("writev of the read-only page failed\n");
                return 2;
        }
        if (found("the bss", bss, sizeof(bss)) || found("the break", cur, SPAN) ||
            found("the mmap area", m, SPAN) || stack_area(0))
                return 1;
        printf("clean\n");
        return 0;
}
