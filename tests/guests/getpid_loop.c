/* The benchmark's system call loop: N getpid calls (answered by the stub on
 * the process platform, by the guest's stub on PVM), or with "served" N
 * umask calls, which the host's syscall layer answers. Made as programs make
 * them (getpid(), umask(): musl's `mov $nr, %eax; syscall`, a site the
 * process platform patches), or with "trap" from a syscall instruction in
 * the data segment, which no patched site covers: it always traps there. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static long trap(long nr, long a0)
{
        static unsigned char here[] = {0x0f, 0x05, 0xc3}; /* syscall; ret */
        long r;
        __asm__ volatile("call *%1"
                         : "=a"(r)
                         : "r"(here), "a"(nr), "D"(a0)
                         : "rcx", "r11", "memory");
        return r;
}

int main(int argc, char **argv)
{
        long n = argc > 1 ? atol(argv[1]) : 0;
        int served = argc > 2 && !strcmp(argv[2], "served");
        int trapping = argc > 3 && !strcmp(argv[3], "trap");
        for (long i = 0; i < n; i++) {
                if (trapping)
                        trap(served ? SYS_umask : SYS_getpid, 022);
                else if (served)
                        umask(022);
                else
                        getpid();
        }
        return 0;
}
