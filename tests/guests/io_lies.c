/* Hostile: lies in the staged I/O header that the stub shares with the VMM
 * (guest memory: at 0x200000 on PVM, at 0x120000 on the process platform;
 * the address in hex as the argument): a huge output length, an input
 * position past the end, a buffer range that covers the system pages. The
 * VMM must bound all of it; at worst the guest faults on its own. Prints
 * "done" and exits 0 when it got that far. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
        uintptr_t at = argc > 1 ? strtoull(argv[1], NULL, 16) : 0x200000;
        volatile uint64_t *io = (volatile uint64_t *)at;
        char buf[16];
        io[1] = UINT64_MAX;     /* in_len */
        io[0] = UINT64_MAX - 4; /* in_pos */
        long r = syscall(SYS_read, 0, buf, sizeof(buf));
        io[3] = UINT64_MAX;                    /* out_len: the VMM sends at most its buffer */
        syscall(SYS_getcwd, buf, sizeof(buf)); /* any call that reaches the host */
        io[6] = 0;                             /* ok_lo: "any buffer is fine" */
        r = syscall(SYS_write, 2, "done\n", 5);
        return r == 5 ? 0 : 1;
}
