/*
 * Not a guest: a host process for bench_platform (bench/vmm.md), the floor
 * of a fresh process per call. N times (argv[1]), a fork whose child exits
 * at once and its reaping, from a small static process as the process
 * platform's zygote is one.
 */
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
        long n = argc > 1 ? atol(argv[1]) : 100;
        for (long i = 0; i < n; i++) {
                pid_t p = fork();
                if (p == 0)
                        syscall(SYS_exit_group, 0);
                if (p < 0 || waitpid(p, NULL, 0) != p)
                        return 1;
        }
        return 0;
}
