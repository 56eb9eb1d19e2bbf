/* Helpers shared by the unit tests. */
#ifndef OSVM_TESTUTIL_H
#define OSVM_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Makes a fresh directory /tmp/osvm-NAME-XXXXXX into buf; 0 on success. */
static inline int tu_tempdir(char *buf, size_t n, const char *name)
{
        snprintf(buf, n, "/tmp/osvm-%s-XXXXXX", name);
        return mkdtemp(buf) ? 0 : -1;
}

static inline int tu_remove_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
        (void)st, (void)flag, (void)f;
        return remove(path);
}

/* Removes a directory tree; 0 on success. */
static inline int tu_rmrf(const char *dir)
{
        return nftw(dir, tu_remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Sets *flag to 1 ms milliseconds from now, from another thread (a Ctrl-C
 * while a call waits): tu_later_start, then tu_later_join. */
struct tu_later {
        volatile sig_atomic_t *flag;
        unsigned ms;
        pthread_t thread;
};

static inline void *tu_later_run(void *arg)
{
        struct tu_later *l = arg;
        struct timespec d = {(time_t)(l->ms / 1000), (long)(l->ms % 1000) * 1000000};
        nanosleep(&d, NULL);
        *l->flag = 1;
        return NULL;
}

static inline void tu_later_start(struct tu_later *l, volatile sig_atomic_t *flag, unsigned ms)
{
        l->flag = flag;
        l->ms = ms;
        *flag = 0;
        if (pthread_create(&l->thread, NULL, tu_later_run, l) != 0)
                abort();
}

static inline void tu_later_join(struct tu_later *l)
{
        pthread_join(l->thread, NULL);
}

/*
 * Plays a peer that writes the line req (with its newline) again and again
 * to the non-blocking fd and never reads: returns the number of lines written
 * once the other end closed the channel (POLLHUP here), or -1 when it has not
 * after guard_ms (a bound that only guards a hang).
 */
static inline long tu_flood_until_hup(int fd, const char *req, unsigned guard_ms)
{
        static char buf[16384];
        size_t len = strlen(req), n = sizeof(buf) / len * len, sent = 0;
        for (size_t i = 0; i + len <= n; i += len)
                memcpy(buf + i, req, len);
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        for (int waited = 0; waited < (int)guard_ms; waited += 100) {
                if (poll(&p, 1, 100) > 0 && (p.revents & POLLHUP))
                        return (long)(sent / len);
                if (p.revents & POLLOUT) {
                        /* whole lines only: a write cut short goes on where it stopped */
                        size_t off = sent % n;
                        ssize_t w = write(fd, buf + off, n - off);
                        sent += w > 0 ? (size_t)w : 0;
                }
        }
        return -1;
}

/*
 * Starts argv (a test server on loopback) with its stdout on a pipe and
 * waits for the line "PORT <n>" it prints once it listens (60 s at most: a
 * bound that only guards a hang). Returns its pid and the port in *port, or
 * -1 when it did not start.
 */
static inline pid_t tu_spawn_port(char *const argv[], int *port)
{
        int pfd[2];
        if (pipe(pfd) < 0)
                return -1;
        pid_t pid = fork();
        if (pid == 0) {
                dup2(pfd[1], 1);
                close(pfd[0]);
                close(pfd[1]);
                execvp(argv[0], argv);
                _exit(127);
        }
        close(pfd[1]);
        char line[64] = {0};
        size_t n = 0;
        struct pollfd p = {.fd = pfd[0], .events = POLLIN};
        while (pid > 0 && n < sizeof(line) - 1 && !strchr(line, '\n') && poll(&p, 1, 60000) > 0) {
                ssize_t r = read(pfd[0], line + n, sizeof(line) - 1 - n);
                if (r <= 0)
                        break;
                n += (size_t)r;
        }
        close(pfd[0]);
        if (pid > 0 && sscanf(line, "PORT %d", port) != 1) {
                fprintf(stderr, "%s did not start (it said \"%s\")\n", argv[0], line);
                kill(pid, SIGTERM);
                waitpid(pid, NULL, 0);
                return -1;
        }
        return pid;
}

/* A TCP listener on 127.0.0.1 at a free port (*port); asserts it is made. */
static inline int tu_listen_loopback(unsigned *port)
{
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t l = sizeof(sin);
        assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
        assert_int_equal(listen(fd, 16), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &l), 0);
        *port = ntohs(sin.sin_port);
        return fd;
}

/* A TCP connection to 127.0.0.1:port; asserts it is made. */
static inline int tu_dial_loopback(unsigned port)
{
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sin = {.sin_family = AF_INET,
                                  .sin_port = htons((uint16_t)port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
        return fd;
}

#endif
