/*
 * Waiting with a spin first (src/base/spin.c): spin_poll answers as poll()
 * does whether it spins or blocks, keeps to its timeout, learns how long its
 * wait takes, and OSVM_SPIN_US sets or stops the spinning.
 */
#include "testutil.h"

#include "base/base.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct writer {
        int fd;
        unsigned delay_us;
};

static void *write_later(void *arg)
{
        struct writer *w = arg;
        usleep(w->delay_us);
        assert_int_equal(write(w->fd, "x", 1), 1);
        return NULL;
}

/* One wait on a pipe that another thread writes to after delay_us. */
static void wait_for_write(struct spin_wait *sw, unsigned delay_us)
{
        int p[2];
        assert_int_equal(pipe(p), 0);
        struct writer w = {p[1], delay_us};
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, write_later, &w), 0);
        struct pollfd fd = {.fd = p[0], .events = POLLIN};
        int r;
        do
                r = spin_poll(sw, &fd, 1, -1);
        while (r < 0 && errno == EINTR);
        assert_int_equal(r, 1);
        assert_true(fd.revents & POLLIN);
        pthread_join(t, NULL);
        close(p[0]);
        close(p[1]);
}

/* Readiness is reported as poll() reports it, whether the wait spins (its
 * waits were short) or blocks (they were long). */
static void test_answers_as_poll(void **state)
{
        (void)state;
        struct spin_wait sw = {0};
        for (int i = 0; i < 20; i++)
                wait_for_write(&sw, 50);
        /* (a process that never spins keeps no average) */
        assert_true(spin_max() ? sw.avg_ns > 0 && sw.avg_ns <= 2 * spin_max() : sw.avg_ns == 0);
        struct spin_wait slow = {.avg_ns = 10 * spin_max() + 1};
        wait_for_write(&slow, 2000);
        /* data already there: at once, and a timeout of 0 is poll's own */
        int p[2];
        assert_int_equal(pipe(p), 0);
        assert_int_equal(write(p[1], "x", 1), 1);
        struct pollfd fd = {.fd = p[0], .events = POLLIN};
        assert_int_equal(spin_poll(&sw, &fd, 1, -1), 1);
        assert_int_equal(spin_poll(&sw, &fd, 1, 0), 1);
        char c;
        assert_int_equal(read(p[0], &c, 1), 1);
        assert_int_equal(spin_poll(&sw, &fd, 1, 0), 0);
        close(p[0]);
        close(p[1]);
}

/* Nothing comes: spin_poll returns 0 once the timeout has passed, not before,
 * though its spin was as long as it may be (a lower bound only). */
static void test_keeps_to_timeout(void **state)
{
        (void)state;
        int p[2];
        assert_int_equal(pipe(p), 0);
        struct pollfd fd = {.fd = p[0], .events = POLLIN};
        struct spin_wait sw = {.avg_ns = spin_max() / 2 + 1};
        for (int ms = 1; ms <= 40; ms *= 4) {
                uint64_t t0 = time_mono_ns();
                int r = spin_poll(&sw, &fd, 1, ms);
                uint64_t took = time_mono_ns() - t0;
                if (r < 0 && errno == EINTR)
                        continue;
                assert_int_equal(r, 0);
                assert_true(took >= (uint64_t)ms * 1000000ull);
        }
        close(p[0]);
        close(p[1]);
}

/* Long waits push the average past the longest spin (and no further than
 * twice it): such a wait is not spun on. */
static void test_learns_long_waits(void **state)
{
        (void)state;
        if (!spin_max()) {
                fprintf(stderr, "skipped: this process does not spin (one CPU, a CPU quota "
                                "under two, or OSVM_SPIN_US=0): nothing to learn\n");
                skip();
        }
        int p[2];
        assert_int_equal(pipe(p), 0);
        struct pollfd fd = {.fd = p[0], .events = POLLIN};
        struct spin_wait sw = {0};
        unsigned long ms = spin_max() / 1000000 + 2; /* longer than any spin */
        for (int i = 0; i < 40; i++)
                spin_poll(&sw, &fd, 1, (int)ms);
        assert_true(sw.avg_ns > spin_max());
        assert_true(sw.avg_ns <= 2 * spin_max());
        close(p[0]);
        close(p[1]);
}

static const char *self_path;

/* spin_max() of this program run again with OSVM_SPIN_US=value (NULL: unset):
 * a new process, as the setting is read once. */
static uint64_t max_with(const char *value)
{
        int p[2];
        assert_int_equal(pipe(p), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                if (value)
                        setenv("OSVM_SPIN_US", value, 1);
                else
                        unsetenv("OSVM_SPIN_US");
                dup2(p[1], 1);
                execl(self_path, self_path, "--spin-max", (char *)NULL);
                _exit(127);
        }
        close(p[1]);
        char out[64] = "";
        ssize_t n = read(p[0], out, sizeof(out) - 1);
        close(p[0]);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        assert_true(n > 0);
        return strtoull(out, NULL, 10);
}

/* OSVM_SPIN_US sets the longest spin; 0 stops it; a value that is not a
 * number of microseconds up to the limit leaves the default. Where the
 * process cannot spin at all (one CPU), nothing turns it on. */
static void test_env(void **state)
{
        (void)state;
        uint64_t dflt = max_with(NULL);
        assert_true(dflt == 0 || dflt == 300000);
        bool can = dflt != 0;
        assert_true(max_with("0") == 0);
        assert_true(max_with("50") == (can ? 50000 : 0));
        assert_true(max_with("10000") == (can ? 10000000 : 0));
        assert_true(max_with("10001") == dflt);
        assert_true(max_with("-5") == dflt);
        assert_true(max_with("12us") == dflt);
        assert_true(max_with("99999999999999999999") == dflt);
}

int main(int argc, char **argv)
{
        if (argc == 2 && !strcmp(argv[1], "--spin-max")) {
                printf("%llu\n", (unsigned long long)spin_max());
                return 0;
        }
        self_path = argv[0];
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_answers_as_poll),
            cmocka_unit_test(test_keeps_to_timeout),
            cmocka_unit_test(test_learns_long_waits),
            cmocka_unit_test(test_env),
        };
        return cmocka_run_group_tests_name("spin", tests, NULL, NULL);
}
