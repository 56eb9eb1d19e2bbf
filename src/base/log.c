/*
 * The log: stderr at the chosen level, and a bounded file in the state
 * directory (rotated once to .1 when it passes LOG_FILE_MAX_BYTES).
 *
 * Every message goes through the sanitizer here, once, whoever wrote it and
 * whatever it quotes (a server's error, a tool's output, a file name): no
 * caller can forget to. In the file a message is one line (a newline in it
 * is shown as \n), so that no text can forge a record; on stderr a message
 * of several lines keeps them, each further line indented under its tag.
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

/* This thread's batch (log_batch_begin): its lines for the file. */
static _Thread_local struct {
        unsigned depth;
        strbuf lines;
} batch;

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
                _cleanup_free_ char *shown = text_sanitize(v, 0);
                fprintf(stderr, "WARN: OSVM_LOG=%s is not a level (error, warn, info, debug)\n",
                        shown);
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

/* The longest message kept, before it is sanitized (which may make it longer). */
#define LOG_MSG_MAX 3072

/* Writes whole lines to the file, rotating it first when they would pass its size. */
static void file_append_locked(const char *lines, size_t n)
{
        open_file_locked();
        if (lg.fd < 0)
                return;
        if (lg.size + (off_t)n > LOG_FILE_MAX_BYTES)
                rotate_locked();
        if (lg.fd >= 0 && write(lg.fd, lines, n) == (ssize_t)n)
                lg.size += (off_t)n;
}

static void file_write_locked(enum log_level lvl, const char *msg, size_t len)
{
        if (!batch.depth) {
                open_file_locked();
                if (lg.fd < 0)
                        return;
        }
        char stamp[TIME_STAMP_LEN + 1];
        time_utc_stamp(stamp);
        strbuf line = {0};
        sb_addf(&line, "%s [%d] %s: ", stamp, self_pid(), log_level_name(lvl));
        sb_add_sanitized(&line, msg, len, 0);
        sb_add(&line, "\n");
        if (batch.depth)
                sb_addn(&batch.lines, line.s, line.len);
        else
                file_append_locked(line.s, line.len);
        sb_free(&line);
}

void log_batch_begin(void)
{
        batch.depth++;
}

void log_batch_end(void)
{
        if (!batch.depth || --batch.depth)
                return;
        if (batch.lines.len) {
                pthread_mutex_lock(&lg.lock);
                file_append_locked(batch.lines.s, batch.lines.len);
                pthread_mutex_unlock(&lg.lock);
        }
        sb_free(&batch.lines);
}

/* The message on stderr: its first line after the tag, each further line
 * indented, so that no line of it can pass for a message of its own. On a
 * terminal it first clears the line it starts on, where a spinner or a
 * progress line may stand (they are redrawn after it). */
static void stderr_write_locked(enum log_level lvl, const char *msg, size_t len)
{
        static const char *const tags[] = {"ERROR", "WARN", "INFO", "DEBUG"};
        static const char *const colors[] = {"\033[31m", "\033[33m", "", "\033[2m"};
        bool color = term_color(2);
        strbuf b = {0};
        sb_addf(&b, "%s%s%s:%s ", color ? "\r\033[K" : "", color ? colors[lvl] : "", tags[lvl],
                color ? "\033[0m" : "");
        strbuf text = {0};
        sb_add_sanitized(&text, msg, len, TEXT_MULTILINE);
        for (const char *p = text.s, *nl; p; p = nl ? nl + 1 : NULL) {
                nl = strchr(p, '\n');
                if (p != text.s)
                        sb_add(&b, "\n  ");
                sb_addn(&b, p, nl ? (size_t)(nl - p) : strlen(p));
        }
        sb_add(&b, "\n");
        fputs(b.s, stderr);
        sb_free(&text);
        sb_free(&b);
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
        bool to_stderr = lvl <= lg.level;
        bool to_file = lg.dir && lvl <= (lg.level > LOG_INFO ? lg.level : LOG_INFO);
        if (!to_stderr && !to_file)
                return;
        int saved = errno;
        char msg[LOG_MSG_MAX];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        size_t len = n < 0 ? 0 : (size_t)n;
        if (len >= sizeof(msg)) {
                /* cut, and not inside a character: back to the last one's
                 * first byte, and before it when it is not whole */
                len = sizeof(msg) - 1;
                size_t at = len;
                while (at && ((unsigned char)msg[at - 1] & 0xC0) == 0x80)
                        at--;
                unsigned char c = at ? (unsigned char)msg[at - 1] : 0;
                size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
                if (at && len - (at - 1) < need)
                        len = at - 1;
        }
        pthread_mutex_lock(&lg.lock);
        if (to_stderr)
                stderr_write_locked(lvl, msg, len);
        if (to_file)
                file_write_locked(lvl, msg, len);
        pthread_mutex_unlock(&lg.lock);
        errno = saved;
}

void log_close(void)
{
        log_set_file_dir(NULL);
}
