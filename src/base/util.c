/* Allocation, errors, growable strings and clocks. */
#include "base.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void base_freep(void *p)
{
        free(*(void **)p);
}

void base_closep(int *fd)
{
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}

/* Out of memory: said, and the command ends with OSVM_EXIT_FAILURE at once
 * (no exit handlers: they may need memory too). Files are only ever replaced
 * whole (fs_write_atomic), so none is left half-written. */
static void *oom(size_t n)
{
        if (n)
                fprintf(stderr, "osvm: out of memory (allocating %zu bytes)\n", n);
        else
                fputs("osvm: out of memory\n", stderr);
        _exit(OSVM_EXIT_FAILURE);
}

void xoom(const char *what)
{
        fprintf(stderr, "osvm: out of memory (%s)\n", what);
        _exit(OSVM_EXIT_FAILURE);
}

void *xmalloc(size_t n)
{
        void *p = malloc(n ? n : 1);
        return p ? p : oom(n);
}

void *xcalloc(size_t n, size_t size)
{
        void *p = calloc(n ? n : 1, size ? size : 1);
        return p ? p : oom(n * size);
}

void *xrealloc(void *p, size_t n)
{
        void *q = realloc(p, n ? n : 1);
        return q ? q : oom(n);
}

char *xstrdup(const char *s)
{
        char *p = strdup(s);
        return p ? p : oom(strlen(s) + 1);
}

char *xstrndup(const char *s, size_t n)
{
        char *p = strndup(s, n);
        return p ? p : oom(strnlen(s, n) + 1);
}

/* jansson's allocations cannot fail either: out of memory ends osvm as above.
 * (Else a json_* call that got no memory returns NULL, or leaves out what it
 * was to add, and each of the many callers would have to tell which.) Set
 * before main, in every program that links this file. */
static void *json_xmalloc(size_t n)
{
        return xmalloc(n);
}

__attribute__((constructor)) static void base_json_alloc(void)
{
        json_set_alloc_funcs(json_xmalloc, free);
}

char *xvasprintf(const char *fmt, va_list ap)
{
        char *s;
        return vasprintf(&s, fmt, ap) < 0 ? oom(0) : s;
}

char *xasprintf(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        char *s = xvasprintf(fmt, ap);
        va_end(ap);
        return s;
}

int err_setv(osvm_err *e, int code, const char *fmt, va_list ap)
{
        if (!e)
                return -1;
        vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
        e->code = code;
        if (!e->exit)
                e->exit = OSVM_EXIT_FAILURE;
        return -1;
}

int err_set(osvm_err *e, int code, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        err_setv(e, code, fmt, ap);
        va_end(ap);
        return -1;
}

int err_sys(osvm_err *e, const char *fmt, ...)
{
        int code = errno;
        if (!e)
                return -1;
        char head[sizeof(e->msg)];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(head, sizeof(head), fmt, ap);
        va_end(ap);
        return err_set(e, code, "%s: %s", head, strerror(code));
}

int err_wrap(osvm_err *e, const char *fmt, ...)
{
        if (!e)
                return -1;
        char head[sizeof(e->msg)], old[sizeof(e->msg)];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(head, sizeof(head), fmt, ap);
        va_end(ap);
        memcpy(old, e->msg, sizeof(old));
        snprintf(e->msg, sizeof(e->msg), "%s: %s", head, old);
        return -1;
}

void err_clear(osvm_err *e)
{
        e->code = 0;
        e->exit = 0;
        e->msg[0] = '\0';
}

static void sb_grow(strbuf *b, size_t extra)
{
        if (b->len + extra + 1 <= b->cap)
                return;
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + extra + 1)
                cap *= 2;
        b->s = xrealloc(b->s, cap);
        b->cap = cap;
}

void sb_addf(strbuf *b, const char *fmt, ...)
{
        /* formatted once where it fits in the room left, twice where not */
        size_t room = b->cap - b->len;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(room ? b->s + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
                if (room)
                        b->s[b->len] = '\0';
                return;
        }
        if ((size_t)n >= room) {
                sb_grow(b, (size_t)n);
                va_start(ap, fmt);
                vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
                va_end(ap);
        }
        b->len += (size_t)n;
}

void sb_reserve(strbuf *b, size_t n)
{
        sb_grow(b, n);
}

void sb_add(strbuf *b, const char *s)
{
        sb_addn(b, s, strlen(s));
}

void sb_addn(strbuf *b, const char *s, size_t n)
{
        sb_grow(b, n);
        memcpy(b->s + b->len, s, n);
        b->len += n;
        b->s[b->len] = '\0';
}

void sb_free(strbuf *b)
{
        free(b->s);
        *b = (strbuf){0};
}

char *sb_steal(strbuf *b)
{
        char *s = b->s ? b->s : xstrdup("");
        *b = (strbuf){0};
        return s;
}

static pid_t pid_known; /* 0: not asked yet in this process */

static void pid_forget(void)
{
        pid_known = 0;
}

static void pid_watch_forks(void)
{
        pthread_atfork(NULL, NULL, pid_forget);
}

int self_pid(void)
{
        static pthread_once_t once = PTHREAD_ONCE_INIT;
        pthread_once(&once, pid_watch_forks);
        pid_t p = __atomic_load_n(&pid_known, __ATOMIC_RELAXED);
        if (!p) {
                p = getpid();
                __atomic_store_n(&pid_known, p, __ATOMIC_RELAXED);
        }
        return (int)p;
}

uint64_t time_mono_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* n as width decimal digits, zero-padded, at out. */
static void put_digits(char *out, unsigned long long n, int width)
{
        for (int i = width - 1; i >= 0; i--, n /= 10)
                out[i] = (char)('0' + n % 10);
}

void time_utc_stamp(char out[TIME_STAMP_LEN + 1])
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        time_utc_format(ts, out);
}

void time_utc_format(struct timespec ts, char out[TIME_STAMP_LEN + 1])
{
        /* (from 1970 to the last second of 9999: four digits of year) */
        long long secs = ts.tv_sec > 0 ? (long long)ts.tv_sec : 0;
        if (secs > 253402300799ll)
                secs = 253402300799ll;
        long long days = secs / 86400, sod = secs % 86400;
        /* The civil date of a day count since 1970-01-01 (proleptic Gregorian):
         * counted in eras of 400 years from 0000-03-01, so that the leap day
         * is the last day of a year that starts in March. */
        long long z = days + 719468;
        long long era = z / 146097;
        long long doe = z - era * 146097;                                      /* 0..146096 */
        long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* 0..399 */
        long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* 0..365 */
        long long mp = (5 * doy + 2) / 153;                                    /* March = 0 */
        long long day = doy - (153 * mp + 2) / 5 + 1;
        long long month = mp < 10 ? mp + 3 : mp - 9;
        long long year = yoe + era * 400 + (month <= 2);
        memcpy(out, "0000-00-00T00:00:00.000Z", TIME_STAMP_LEN + 1);
        put_digits(out, (unsigned long long)year, 4);
        put_digits(out + 5, (unsigned long long)month, 2);
        put_digits(out + 8, (unsigned long long)day, 2);
        put_digits(out + 11, (unsigned long long)(sod / 3600), 2);
        put_digits(out + 14, (unsigned long long)(sod / 60 % 60), 2);
        put_digits(out + 17, (unsigned long long)(sod % 60), 2);
        put_digits(out + 20, (unsigned long long)(ts.tv_nsec / 1000000), 3);
}

struct timespec time_after(clockid_t clock, uint64_t ns)
{
        struct timespec ts;
        clock_gettime(clock, &ts);
        uint64_t at = (uint64_t)ts.tv_nsec + ns;
        ts.tv_sec += (time_t)(at / 1000000000u);
        ts.tv_nsec = (long)(at % 1000000000u);
        return ts;
}
