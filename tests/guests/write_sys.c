/* Hostile: writes to the VM's own system pages (default: the page tables;
 * argv[1] picks another address in hex: 0xd000 CPL0 code, 0xe000 the
 * syscall stub, 0x9000 the IDT, 0xa000 the TSS). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
        uintptr_t a = argc > 1 ? strtoull(argv[1], NULL, 16) : 0x1000;
        *(volatile uint64_t *)a = 0x8000000000000087ull; /* a 1 GiB user page at 0 */
        printf("wrote 0x%lx: contained nothing\n", (unsigned long)a);
        return 0;
}
