/* mmap MAP_FIXED over a page of its own read-only data: the page reads as
 * zero, takes writes, and what the engine reads from it (write(1) of it) is
 * what the program wrote, on every platform (on the process platform both
 * processes map guest memory there again). Prints the page back, then "ok". */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const char ro[3 * 4096] __attribute__((aligned(4096))) = "read-only data";

int main(void)
{
        uint8_t *page = (uint8_t *)ro + 4096;
        void *p = mmap(page, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
                       -1, 0);
        if (p != page) {
                printf("mmap: %p\n", p);
                return 1;
        }
        int zero = 1;
        for (int i = 0; i < 4096; i++)
                zero &= page[i] == 0;
        static const char msg[] = "written over the image\n";
        memcpy(page, msg, sizeof(msg) - 1);
        write(1, page, sizeof(msg) - 1);
        printf("%s%s\n", zero ? "zero " : "not zero ", strcmp(ro, "read-only data") ? "" : "ok");
        return 0;
}
