/*
 * The log: stderr at the chosen level, and a bounded file in the state
 * directory (rotated once to .1 when it passes LOG_FILE_MAX_BYTES).
 */
#include "base.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static struct {
        enum log_level level;
        char *dir; /* where the file goes; NULL: no file */
        int fd;    /* -1 until opened */
        bool file_failed;
        off_t size;
        pthread_mutex_t lock;
} lg = {.level = LOG_WARN, .fd = -1, .lock = PTHREAD_MUTEX_INITIALIZER};

static const char *const names[] = {"error", "warn", "info", "debug"};

const char *log_level_name(enum log_level lvl)
{
        return (unsigned)lvl < 4 ? names[lvl] : "?";
}

int log_level_parse(const char *s)
{
        for (int i = 0; i < 4; i++)
                if (strcasecmp(s, names[i]) == 0)
                        return i;
        if (strcasecmp(s, "warning") == 0)
                return LOG_WARN;
        return -1;
}

void log_init(void)
{
        const char *v = getenv("OSVM_LOG");
        if (!v || !*v)
                return;
        int lvl = log_level_parse(v);
        if (lvl < 0) {
                fprintf(stderr, "WARN: OSVM_LOG=%s is not a level (error, warn, info, debug)\n", v);
                return;
        }
        lg.level = (enum log_level)lvl;
}

void log_set_level(enum log_level lvl)
{
        lg.level = lvl;
}

enum log_level log_get_level(void)
{
        return lg.level;
}

void log_set_file_dir(const char *dir)
{
        pthread_mutex_lock(&lg.lock);
        free(lg.dir);
        lg.dir = dir ? xstrdup(dir) : NULL;
        if (lg.fd >= 0)
                close(lg.fd);
        lg.fd = -1;
        lg.file_failed = false;
        pthread_mutex_unlock(&lg.lock);
}

static void open_file_locked(void)
{
        if (lg.fd >= 0 || lg.file_failed || !lg.dir)
                return;
        lg.file_failed = true; /* until it works: one try per process */
        if (fs_mkdir_p(lg.dir, 0700, NULL) < 0)
                return;
        char *path = xasprintf("%s/osvm.log", lg.dir);
        lg.fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        free(path);
        struct stat st;
        if (lg.fd < 0 || fstat(lg.fd, &st) < 0)
                return;
        lg.size = st.st_size;
        lg.file_failed = false;
}

static void rotate_locked(void)
{
        char *path = xasprintf("%s/osvm.log", lg.dir);
        char *old = xasprintf("%s/osvm.log.1", lg.dir);
        rename(path, old);
        close(lg.fd);
        lg.fd = -1;
        free(path);
        free(old);
        open_file_locked();
}

static void file_write_locked(enum log_level lvl, const char *msg)
{
        open_file_locked();
        if (lg.fd < 0)
                return;
        struct timespec ts;
        struct tm tm;
        char stamp[32];
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
        char line[4096];
        int n = snprintf(line, sizeof(line), "%s.%03ldZ [%d] %s: %s\n", stamp, ts.tv_nsec / 1000000,
                         (int)getpid(), log_level_name(lvl), msg);
        if (n < 0)
                return;
        if ((size_t)n >= sizeof(line))
                n = sizeof(line) - 1, line[n - 1] = '\n';
        if (lg.size + n > LOG_FILE_MAX_BYTES) {
                rotate_locked();
                if (lg.fd < 0)
                        return;
        }
        if (write(lg.fd, line, (size_t)n) == n)
                lg.size += n;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
        bool to_stderr = lvl <= lg.level;
        bool to_file = lg.dir && lvl <= (lg.level > LOG_INFO ? lg.level : LOG_INFO);
        if (!to_stderr && !to_file)
                return;
        char msg[3072];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        int saved = errno;
        pthread_mutex_lock(&lg.lock);
        if (to_stderr) {
                static const char *const tags[] = {"ERROR", "WARN", "INFO", "DEBUG"};
                static const char *const colors[] = {"\033[31m", "\033[33m", "", "\033[2m"};
                bool color = term_color(2);
                fprintf(stderr, "%s%s:%s %s\n", color ? colors[lvl] : "", tags[lvl],
                        color ? "\033[0m" : "", msg);
        }
        if (to_file)
                file_write_locked(lvl, msg);
        pthread_mutex_unlock(&lg.lock);
        errno = saved;
}

void log_close(void)
{
        log_set_file_dir(NULL);
}
