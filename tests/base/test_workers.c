/*
 * The worker pool (src/base/workers.c): a job never waits behind another,
 * an idle thread is used again, and the idle ones are kept to a bound.
 */
#include "testutil.h"

#include "base/base.h"

#include <pthread.h>
#include <time.h>
#include <unistd.h>

/* Only guards a hang (a job that waited behind another): generous. */
#define HANG_GUARD_S 120

struct gate {
        pthread_mutex_t mu;
        pthread_cond_t cv;
        unsigned started, finished;
        bool open;
        pthread_t who[32];
};

static struct gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, false, {0}};

static void reset(void)
{
        pthread_mutex_lock(&g.mu);
        g.started = g.finished = 0;
        g.open = false;
        pthread_mutex_unlock(&g.mu);
}

/* Waits, under g.mu, until cond holds or the guard runs out. */
static bool wait_for(bool (*cond)(void))
{
        struct timespec end;
        clock_gettime(CLOCK_REALTIME, &end);
        end.tv_sec += HANG_GUARD_S;
        while (!cond())
                if (pthread_cond_timedwait(&g.cv, &g.mu, &end) != 0)
                        return cond();
        return true;
}

static bool is_open(void)
{
        return g.open;
}

/* A job that stays until the gate opens. */
static void held(void *arg)
{
        (void)arg;
        pthread_mutex_lock(&g.mu);
        g.who[g.started++ % 32] = pthread_self();
        pthread_cond_broadcast(&g.cv);
        wait_for(is_open);
        g.finished++;
        pthread_cond_broadcast(&g.cv);
        pthread_mutex_unlock(&g.mu);
}

/* A job that opens the gate: it can only run if it does not wait behind held(). */
static void opener(void *arg)
{
        (void)arg;
        pthread_mutex_lock(&g.mu);
        g.who[g.started++ % 32] = pthread_self();
        g.open = true;
        g.finished++;
        pthread_cond_broadcast(&g.cv);
        pthread_mutex_unlock(&g.mu);
}

/* A job that only counts itself. */
static void quick(void *arg)
{
        (void)arg;
        pthread_mutex_lock(&g.mu);
        g.started++;
        g.finished++;
        pthread_cond_broadcast(&g.cv);
        pthread_mutex_unlock(&g.mu);
}

static unsigned burst_end; /* finished when a burst of quick jobs is done */

static bool burst_done(void)
{
        return g.finished >= burst_end;
}

static bool one_finished(void)
{
        return g.finished == 1;
}

static bool two_finished(void)
{
        return g.finished == 2;
}

static bool ten_started(void)
{
        return g.started == 10;
}

static bool ten_finished(void)
{
        return g.finished == 10;
}

/* Waits until the pool is at rest within its bound: every thread idle, at
 * most WORKERS_IDLE_MAX of them (or the guard runs out). */
static void settle(unsigned *threads, unsigned *idle)
{
        for (int i = 0; i < HANG_GUARD_S * 100; i++) {
                workers_count(threads, idle);
                if (*threads <= WORKERS_IDLE_MAX && *threads == *idle)
                        return;
                usleep(10000);
        }
}

static void test_never_waits_behind(void **state)
{
        (void)state;
        reset();
        workers_run(held, NULL);
        workers_run(opener, NULL);
        pthread_mutex_lock(&g.mu);
        bool done = wait_for(two_finished);
        pthread_mutex_unlock(&g.mu);
        assert_true(done);
        assert_false(pthread_equal(g.who[0], g.who[1]));
}

static void test_idle_thread_used_again(void **state)
{
        (void)state;
        unsigned threads, idle;
        /* let every thread of the test before settle: all idle */
        for (int i = 0; i < HANG_GUARD_S * 100; i++) {
                workers_count(&threads, &idle);
                if (threads == idle)
                        break;
                usleep(10000);
        }
        assert_int_equal(threads, idle);
        assert_true(threads >= 1);
        reset();
        workers_run(opener, NULL);
        pthread_mutex_lock(&g.mu);
        bool done = wait_for(one_finished);
        pthread_mutex_unlock(&g.mu);
        assert_true(done);
        unsigned after;
        workers_count(&after, &idle);
        assert_int_equal(after, threads); /* no new thread was made */
}

static void test_idle_bounded(void **state)
{
        (void)state;
        reset();
        for (int i = 0; i < 10; i++)
                workers_run(held, NULL);
        pthread_mutex_lock(&g.mu);
        bool all = wait_for(ten_started); /* each on a thread of its own */
        unsigned threads, idle;
        workers_count(&threads, &idle);
        assert_true(all);
        assert_true(threads >= 10);
        g.open = true;
        pthread_cond_broadcast(&g.cv);
        all = wait_for(ten_finished);
        pthread_mutex_unlock(&g.mu);
        assert_true(all);
        settle(&threads, &idle);
        assert_true(threads <= WORKERS_IDLE_MAX);
        assert_int_equal(threads, idle);
}

/*
 * Bursts of short jobs: idle threads finish theirs and take the queued ones
 * while the threads made for those are still starting. Such a thread finds
 * nothing to do when it runs at last, and must not stay as one idle thread
 * more than the bound.
 */
static void test_idle_bounded_under_churn(void **state)
{
        (void)state;
        reset();
        for (unsigned round = 0; round < 200; round++) {
                for (int i = 0; i < 16; i++)
                        workers_run(quick, NULL);
                pthread_mutex_lock(&g.mu);
                burst_end = 16 * (round + 1);
                bool done = wait_for(burst_done);
                pthread_mutex_unlock(&g.mu);
                assert_true(done);
                /* at rest after each burst: one more idle thread would wait
                 * until the next burst used it */
                unsigned threads, idle;
                settle(&threads, &idle);
                assert_true(threads <= WORKERS_IDLE_MAX);
                assert_int_equal(threads, idle);
        }
}

/* workers_try_run runs the job on a thread of the pool, not in the caller. */
static void test_try_run(void **state)
{
        (void)state;
        reset();
        assert_true(workers_try_run(opener, NULL));
        pthread_mutex_lock(&g.mu);
        bool done = wait_for(one_finished);
        pthread_mutex_unlock(&g.mu);
        assert_true(done);
        assert_false(pthread_equal(g.who[0], pthread_self()));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_never_waits_behind),
            cmocka_unit_test(test_idle_thread_used_again),
            cmocka_unit_test(test_idle_bounded),
            cmocka_unit_test(test_idle_bounded_under_churn),
            cmocka_unit_test(test_try_run),
        };
        return cmocka_run_group_tests_name("workers", tests, NULL, NULL);
}
