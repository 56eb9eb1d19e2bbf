/* Hostile: takes memory through brk, then mmap, until none is left. */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
        unsigned long got = 0;
        for (int i = 0; i < 100000; i++) {
                void *cur = (void *)syscall(SYS_brk, 0);
                void *want = (char *)cur + (1 << 20);
                if ((void *)syscall(SYS_brk, want) != want)
                        break;
                memset(cur, 1, 1 << 20);
                got++;
        }
        for (;;) {
                void *p =
                    mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (p == MAP_FAILED) {
                        printf("mmap failed after %lu MiB\n", got);
                        return 1;
                }
                memset(p, 1, 1 << 20);
                got++;
        }
}
