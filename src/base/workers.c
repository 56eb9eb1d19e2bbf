/*
 * The process's pool of worker threads (base.h, workers_run).
 *
 * Jobs wait in a queue for the idle threads; a job that finds none idle (or
 * finds every idle one already claimed by a job queued before it) makes a
 * new thread, so a job starts at once whatever the others are doing.
 */
#include <pthread.h>
#include <stdlib.h>

#include "base/base.h"

struct job {
        void (*fn)(void *arg);
        void *arg;
        struct job *next;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static struct job *head, **tail = &head;
static unsigned queued;  /* jobs in the queue */
static unsigned idle;    /* threads waiting for one */
static unsigned threads; /* threads in the pool */

static void *worker(void *unused)
{
        (void)unused;
        pthread_mutex_lock(&mu);
        for (;;) {
                while (!head && idle < WORKERS_IDLE_MAX) {
                        idle++;
                        pthread_cond_wait(&wake, &mu);
                        idle--;
                }
                /*
                 * Enough wait already: this one ends. Checked before each
                 * wait, not only after a job, for a new thread whose job
                 * another took before it ran would else wait as one more.
                 */
                if (!head)
                        break;
                struct job *j = head;
                head = j->next;
                if (!head)
                        tail = &head;
                queued--;
                pthread_mutex_unlock(&mu);
                j->fn(j->arg);
                free(j);
                pthread_mutex_lock(&mu);
        }
        threads--;
        pthread_mutex_unlock(&mu);
        return NULL;
}

bool workers_try_run(void (*fn)(void *arg), void *arg)
{
        struct job *j = malloc(sizeof(*j));
        if (!j)
                return false;
        *j = (struct job){.fn = fn, .arg = arg};
        pthread_mutex_lock(&mu);
        *tail = j;
        tail = &j->next;
        queued++;
        bool spare = idle >= queued; /* an idle thread no earlier job has claimed */
        if (spare) {
                pthread_cond_signal(&wake);
                pthread_mutex_unlock(&mu);
                return true;
        }
        pthread_attr_t attr;
        pthread_t t;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        bool made = pthread_create(&t, &attr, worker, NULL) == 0;
        pthread_attr_destroy(&attr);
        if (made) {
                threads++;
                pthread_mutex_unlock(&mu);
                return true;
        }
        /* no thread: the job leaves the queue */
        struct job **p = &head;
        while (*p != j)
                p = &(*p)->next;
        *p = j->next;
        if (tail == &j->next)
                tail = p;
        queued--;
        pthread_mutex_unlock(&mu);
        free(j);
        return false;
}

void workers_run(void (*fn)(void *arg), void *arg)
{
        if (!workers_try_run(fn, arg))
                fn(arg); /* no thread: it runs here */
}

void workers_count(unsigned *nthreads, unsigned *nidle)
{
        pthread_mutex_lock(&mu);
        *nthreads = threads;
        *nidle = idle;
        pthread_mutex_unlock(&mu);
}
