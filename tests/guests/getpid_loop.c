/* The benchmark's system call loop: N getpid calls (answered by the stub on
 * the process platform, by the guest's stub on PVM), or with "served" N
 * umask calls, which the host's syscall layer answers. */
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
        long n = argc > 1 ? atol(argv[1]) : 0;
        long nr = argc > 2 && !strcmp(argv[2], "served") ? SYS_umask : SYS_getpid;
        for (long i = 0; i < n; i++)
                syscall(nr, 022);
        return 0;
}
