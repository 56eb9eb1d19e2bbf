/*
 * Hostile: time values the kernel would refuse or that overflow a naive sum
 * (raw system calls, so that libc checks nothing first). Prints one line a
 * call; with "abstime" it then sleeps until the end of time on an absolute
 * clock, and with "futex" waits on a futex as long, which the host must cut
 * at the call's time limit.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void show(const char *what, long r)
{
        printf("%s: %s\n", what, r == 0 ? "0" : strerror(r < 0 ? errno : (int)r));
}

int main(int argc, char **argv)
{
        struct timespec bad[] = {{0, 1000000000}, {0, -1}, {-1, 0}, {INT64_MIN, 0}};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                char what[64];
                snprintf(what, sizeof(what), "nanosleep {%lld, %ld}", (long long)bad[i].tv_sec,
                         bad[i].tv_nsec);
                show(what, syscall(SYS_nanosleep, &bad[i], NULL));
                snprintf(what, sizeof(what), "clock_nanosleep abs {%lld, %ld}",
                         (long long)bad[i].tv_sec, bad[i].tv_nsec);
                show(what,
                     syscall(SYS_clock_nanosleep, CLOCK_REALTIME, TIMER_ABSTIME, &bad[i], NULL));
        }
        struct timespec past = {1, 0};
        show("clock_nanosleep abs past",
             syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &past, NULL));
        fflush(stdout);
        struct timespec end = {INT64_MAX, 999999999};
        if (argc > 1 && !strcmp(argv[1], "abstime"))
                show("clock_nanosleep abs end of time",
                     syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &end, NULL));
        if (argc > 1 && !strcmp(argv[1], "futex")) {
                static int word;
                show("futex wait until the end of time",
                     syscall(SYS_futex, &word, 0 /* FUTEX_WAIT */, 0, &end, NULL, 0));
        }
        printf("ok\n");
        return 0;
}
