/*
 * The least a stdio gateway can do, as the floor for bench/gateway.sh: start
 * the server on a pair of pipes and copy bytes both ways, one thread, one
 * poll, nothing parsed, routed or recorded. What it adds to a call is the
 * second process hop alone.
 *
 * usage: gateway_relay CMD [ARG...]
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
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

int main(int argc, char **argv)
{
        if (argc < 2) {
                fprintf(stderr, "usage: gateway_relay CMD [ARG...]\n");
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
                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (p[0].revents && !copy(0, to_srv[1]))
                        break;
                if (p[1].revents && !copy(from_srv[0], 1))
                        break;
        }
        close(to_srv[1]); /* the server's end of input: it exits */
        waitpid(pid, NULL, 0);
        return 0;
}
