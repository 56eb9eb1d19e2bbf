/* Hostile: `out` and `in` at CPL3 to the port given in hex (default 0x3f8),
 * including the VMM's fault port 0xe1. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
        unsigned short port = argc > 1 ? (unsigned short)strtoul(argv[1], NULL, 16) : 0x3f8;
        if (argc > 2) {
                unsigned char v;
                __asm__ volatile("inb %1, %0" : "=a"(v) : "d"(port));
        } else {
                __asm__ volatile("outb %0, %1" ::"a"((unsigned char)1), "d"(port));
        }
        printf("port 0x%x: I/O allowed\n", port);
        return 0;
}
