/*
 * The least a stdio gateway can do, as the floor for bench/gateway.sh: start
 * the server on a pair of pipes and copy bytes both ways, one thread, one
 * poll, nothing parsed, routed or recorded. What it adds to a call is the
 * second process hop alone.
 *
 * With --spin US it polls with no timeout for up to US microseconds before
 * each blocking poll, as osvm does (spin_poll): the hop then costs no
 * wake-up of the relay, and what is left between it and osvm is osvm's own
 * work on the call's path.
 *
 * With --busy REQ_US,ANS_US it works (spins on the clock) that long before
 * it passes on what the client sent and what the server sent: a stand-in
 * for a gateway's own work on the call's path, to see what that work costs
 * a call (docs/gateway.md).
 *
 * usage: gateway_relay [--spin US] [--busy REQ_US,ANS_US] CMD [ARG...]
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

/* Copies what from has to to; false at its end or on an error. */
static bool copy(int from, int to)
{
        char buf[65536];
        ssize_t n = read(from, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
                return true;
        for (ssize_t off = 0; n > 0 && off < n;) {
                ssize_t w = write(to, buf + off, (size_t)(n - off));
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return false;
                off += w;
        }
        return n > 0;
}

static long long now_ns(void)
{
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return t.tv_sec * 1000000000ll + t.tv_nsec;
}

/* poll(p, 2, -1), after polling for up to spin_ns with no timeout. */
static int wait_ready(struct pollfd *p, long long spin_ns)
{
        for (long long end = now_ns() + spin_ns; spin_ns > 0 && now_ns() < end;) {
                int r = poll(p, 2, 0);
                if (r != 0)
                        return r;
        }
        return poll(p, 2, -1);
}

/* Keeps the CPU for ns (the stand-in for a gateway's work). */
static void busy(long long ns)
{
        for (long long end = now_ns() + ns; ns > 0 && now_ns() < end;)
                ;
}

int main(int argc, char **argv)
{
        long long spin_ns = 0, busy_req_ns = 0, busy_ans_ns = 0;
        while (argc > 2 && argv[1][0] == '-') {
                if (!strcmp(argv[1], "--spin")) {
                        spin_ns = atoll(argv[2]) * 1000;
                } else if (!strcmp(argv[1], "--busy")) {
                        const char *comma = strchr(argv[2], ',');
                        busy_req_ns = atoll(argv[2]) * 1000;
                        busy_ans_ns = comma ? atoll(comma + 1) * 1000 : busy_req_ns;
                } else {
                        break;
                }
                argv += 2;
                argc -= 2;
        }
        if (argc < 2 || argv[1][0] == '-') {
                fprintf(stderr,
                        "usage: gateway_relay [--spin US] [--busy REQ_US,ANS_US] CMD [ARG...]\n");
                return 2;
        }
        int to_srv[2], from_srv[2];
        if (pipe(to_srv) < 0 || pipe(from_srv) < 0) {
                perror("pipe");
                return 1;
        }
        pid_t pid = fork();
        if (pid < 0) {
                perror("fork");
                return 1;
        }
        if (pid == 0) {
                dup2(to_srv[0], 0);
                dup2(from_srv[1], 1);
                close(to_srv[0]);
                close(to_srv[1]);
                close(from_srv[0]);
                close(from_srv[1]);
                execvp(argv[1], argv + 1);
                perror(argv[1]);
                _exit(127);
        }
        close(to_srv[0]);
        close(from_srv[1]);
        struct pollfd p[2] = {{0, POLLIN, 0}, {from_srv[0], POLLIN, 0}};
        for (;;) {
                if (wait_ready(p, spin_ns) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (p[0].revents) {
                        busy(busy_req_ns);
                        if (!copy(0, to_srv[1]))
                                break;
                }
                if (p[1].revents) {
                        busy(busy_ans_ns);
                        if (!copy(from_srv[0], 1))
                                break;
                }
        }
        close(to_srv[1]); /* the server's end of input: it exits */
        waitpid(pid, NULL, 0);
        return 0;
}
