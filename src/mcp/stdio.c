/*
 * The stdio transport: the server is a child process; one JSON message per
 * line on its stdin and stdout; its stderr is its log.
 *
 * One loop (pump) writes what is queued, reads stdout and stderr, and hands
 * each complete line to the client. A handler may send while a message is
 * being delivered: the line is queued and the running loop writes it.
 */
#include "mcp/transport.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define STDERR_LINE_MAX   4096
#define STDERR_TAIL_LINES 6    /* the last lines of stderr kept, said when the server ends */
#define STDERR_TAIL_BYTES 512  /* of each, kept */
#define STDERR_TAIL_SHOWN 200  /* of each, shown (sanitized) */
#define STDERR_TAIL_ROOM  1000 /* of the message, for all of them */
#define MALFORMED_LOGGED  5    /* malformed lines logged at warn; the rest at debug */
#define MALFORMED_MAX     1000 /* past this many in a row the server is dropped */
#define SHUTDOWN_GRACE_MS 500

struct stdio_transport {
        struct mcp_transport base;
        pid_t pid;
        int in_fd, out_fd, err_fd; /* -1 once closed */
        strbuf out;                /* queued bytes for the server's stdin, at most max_message */
        size_t out_off;
        bool stuck;                       /* the queue passed its cap: the server does not read */
        struct mcp_line_reader out_lines; /* of stdout */
        char errline[STDERR_LINE_MAX];
        size_t errlen;
        char tail[STDERR_TAIL_LINES][STDERR_TAIL_BYTES]; /* a ring of the last lines */
        unsigned ntail;                                  /* lines kept in all */
        bool err_skipping; /* the rest of a line longer than errline: dropped */
        bool in_pump;
        bool exited;
        int status;
        int out_err;                   /* errno of a read of its stdout that failed, or 0 */
        int stat_fd;                   /* its /proc/PID/stat, or -1 until opened */
        uint64_t seen_running_ns;      /* when a look at /proc last found it running */
        struct mcp_confined *confined; /* its sandbox's host side; NULL on the host */
        struct spin_wait spin;         /* how long a wait for its output takes */
};

static void note_exit(struct stdio_transport *s, int status)
{
        s->exited = true;
        s->status = status;
}

/* Describes how the child ended, into buf. */
static const char *exit_words(const struct stdio_transport *s, char *buf, size_t n)
{
        if (s->out_err)
                snprintf(buf, n, "could not be read from: %s", strerror(s->out_err));
        else if (!s->exited)
                snprintf(buf, n, "closed its output");
        else if (WIFEXITED(s->status))
                snprintf(buf, n, "exited with status %d", WEXITSTATUS(s->status));
        else if (WIFSIGNALED(s->status))
                snprintf(buf, n, "was killed by signal %d (%s)", WTERMSIG(s->status),
                         strsignal(WTERMSIG(s->status)));
        else
                snprintf(buf, n, "ended");
        return buf;
}

static void close_fd(int *fd)
{
        if (*fd >= 0)
                close(*fd);
        *fd = -1;
}

/* Reaps the child if it has ended, waiting up to ms. */
static bool reap(struct stdio_transport *s, int ms)
{
        if (s->exited)
                return true;
        for (int waited = 0;; waited += 5) {
                int st;
                pid_t r = waitpid(s->pid, &st, WNOHANG);
                if (r == s->pid) {
                        note_exit(s, st);
                        return true;
                }
                if (r < 0 && errno != EINTR) {
                        note_exit(s, 0);
                        return true;
                }
                if (waited >= ms)
                        return false;
                nanosleep(&(struct timespec){0, 5000000}, NULL);
        }
}

static void deliver_line(struct mcp_line_reader *r, char *line, size_t len)
{
        if (len && line[len - 1] == '\r')
                line[--len] = '\0';
        if (len == 0)
                return;
        json_error_t jerr;
        json_t *msg = mcp_json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!msg || !json_is_object(msg)) {
                r->malformed++;
                r->malformed_run++;
                enum log_level lvl = r->malformed <= MALFORMED_LOGGED ? LOG_WARN : LOG_DEBUG;
                log_msg(lvl, "%s: skipped a malformed line from the server (%s): %.*s",
                        r->t->server_name, msg ? "not a JSON object" : jerr.text,
                        text_cut(line, 80), line);
                json_decref(msg);
                return;
        }
        r->malformed_run = 0;
        r->t->on_message(r->t->ctx, msg);
        json_decref(msg);
}

/* Splits what was read from stdout into lines, bounded by max_message. */
void mcp_line_reader_take(struct mcp_line_reader *r, const char *data, size_t n)
{
        r->cut.max = r->t->max_message;
        size_t used;
        for (; n; data += used, n -= used) {
                enum mcp_cut cut = mcp_line_cut(&r->cut, data, n, &used);
                if (cut == MCP_CUT_TOO_LONG) {
                        log_warn("%s: refused a message larger than %zu bytes", r->t->server_name,
                                 r->t->max_message);
                        r->too_large = true;
                } else if (cut == MCP_CUT_LINE) {
                        deliver_line(r, r->cut.line.s, r->cut.line.len);
                }
        }
}

void mcp_line_reader_free(struct mcp_line_reader *r)
{
        sb_free(&r->cut.line);
}

/* A complete stderr line: to the debug log, and into the tail. */
static void stderr_line(struct stdio_transport *s)
{
        s->errline[s->errlen] = '\0';
        if (s->errlen && s->errline[s->errlen - 1] == '\r')
                s->errline[--s->errlen] = '\0';
        log_debug("%s: %s", s->base.server_name, s->errline);
        if (s->errlen)
                snprintf(s->tail[s->ntail++ % STDERR_TAIL_LINES], STDERR_TAIL_BYTES, "%s",
                         s->errline);
        s->errlen = 0;
}

static void take_stderr(struct stdio_transport *s, const char *data, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                if (data[i] == '\n') {
                        if (!s->err_skipping)
                                stderr_line(s);
                        s->err_skipping = false;
                        continue;
                }
                if (s->err_skipping)
                        continue;
                if (s->errlen == sizeof(s->errline) - 1) { /* the line, cut; its rest dropped */
                        stderr_line(s);
                        s->err_skipping = true;
                        continue;
                }
                s->errline[s->errlen++] = data[i];
        }
}

/* Reads what fd has; false at end of file or on error. */
static bool read_some(struct stdio_transport *s, int fd, bool is_stdout)
{
        char buf[65536];
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
                return true;
        if (r < 0 && is_stdout)
                s->out_err = errno; /* (not "closed its output": said as it is) */
        if (r <= 0)
                return false;
        if (is_stdout)
                mcp_line_reader_take(&s->out_lines, buf, (size_t)r);
        else
                take_stderr(s, buf, (size_t)r);
        return true;
}

/*
 * The server went away: how it ended and the last lines of its stderr (read
 * to its end first, bounded, sanitized), and how to install an interpreter
 * that those lines say is missing.
 */
static int closed_error(struct stdio_transport *s, osvm_err *e)
{
        char how[96];
        reap(s, 200);
        for (int reads = 0; s->err_fd >= 0 && reads < 64; reads++) {
                char buf[4096];
                ssize_t r = read(s->err_fd, buf, sizeof(buf));
                if (r <= 0)
                        break; /* its end, or nothing more for now */
                take_stderr(s, buf, (size_t)r);
        }
        if (s->errlen)
                stderr_line(s);
        /* The newest lines that fit in the message, each sanitized and cut. */
        char shown[STDERR_TAIL_LINES][STDERR_TAIL_SHOWN + 4];
        unsigned kept = s->ntail < STDERR_TAIL_LINES ? s->ntail : STDERR_TAIL_LINES, n = 0;
        size_t room = STDERR_TAIL_ROOM;
        strbuf all = {0};
        while (n < kept) {
                const char *line = s->tail[(s->ntail - 1 - n) % STDERR_TAIL_LINES];
                strbuf l = {0};
                sb_add_sanitized(&l, line, strlen(line), 0);
                size_t cut = l.len;
                if (cut > STDERR_TAIL_SHOWN) {
                        cut = STDERR_TAIL_SHOWN;
                        while (cut && ((unsigned char)l.s[cut] & 0xC0) == 0x80)
                                cut--;
                }
                snprintf(shown[n], sizeof(shown[n]), "%.*s%s", (int)cut, l.s,
                         cut < l.len ? "..." : "");
                sb_free(&l);
                if (strlen(shown[n]) + 3 > room)
                        break;
                room -= strlen(shown[n]) + 3;
                sb_addf(&all, "%s\n", line);
                n++;
        }
        strbuf b = {0};
        sb_addf(&b, "%s: the server %s", s->base.server_name, exit_words(s, how, sizeof(how)));
        if (n)
                sb_addf(&b, "; the last %s of its stderr:", n == 1 ? "line" : "lines");
        for (unsigned i = n; i-- > 0;)
                sb_addf(&b, "\n  %s", shown[i]);
        char hint[256];
        if (n && mcp_command_missing_in(all.s, hint, sizeof(hint)))
                sb_addf(&b, "\n%s", hint);
        sb_free(&all);
        err_set(e, MCP_E_CLOSED, "%s", b.s);
        sb_free(&b);
        return -1;
}

static int ms_until(uint64_t deadline_ns)
{
        if (!deadline_ns)
                return 100;
        uint64_t now = time_mono_ns();
        if (now >= deadline_ns)
                return 0;
        uint64_t ms = (deadline_ns - now + 999999) / 1000000;
        return ms > 100 ? 100 : (int)ms; /* wake up to look at the cancel flag */
}

static int stuck_error(const struct stdio_transport *s, osvm_err *e)
{
        return err_set(e, MCP_E_PROTOCOL,
                       "%s: the server does not read its input: what osvm has for it passed the "
                       "cap of %zu bytes (max_message); the server is dropped",
                       s->base.server_name, s->base.max_message);
}

/* Writes what it can of the queue to the server's stdin (non-blocking). */
static void write_queued(struct stdio_transport *s)
{
        ssize_t wr = write(s->in_fd, s->out.s + s->out_off, s->out.len - s->out_off);
        if (wr > 0)
                s->out_off += (size_t)wr;
        else if (wr < 0 && errno != EAGAIN && errno != EINTR)
                close_fd(&s->in_fd); /* EPIPE: it stopped reading */
        if (s->out_off == s->out.len) {
                s->out.len = s->out_off = 0;
        } else if (s->out_off >= s->out.len / 2) {
                /* drop what was written, so the buffer stays as small as the queue */
                memmove(s->out.s, s->out.s + s->out_off, s->out.len - s->out_off);
                s->out.len -= s->out_off;
                s->out_off = 0;
                s->out.s[s->out.len] = '\0';
        }
}

/*
 * Runs until the queued output is written (flush) or, otherwise, until at
 * least one message was delivered; both stop at done, cancel, the deadline,
 * or the server going away.
 */
static int pump(struct stdio_transport *s, const struct mcp_wait *w, bool flush, osvm_err *e)
{
        s->in_pump = true;
        int rc = 0;
        bool tried_write = false;
        for (;;) {
                bool out_pending = s->out_off < s->out.len && s->in_fd >= 0;
                if (flush && !out_pending)
                        break;
                if (w->done && *w->done && !out_pending)
                        break;
                if (s->out_lines.too_large) {
                        s->out_lines.too_large = false;
                        rc = err_set(e, MCP_E_TOO_LARGE,
                                     "%s: the server sent a message larger than %zu bytes "
                                     "(refused)",
                                     s->base.server_name, s->base.max_message);
                        break;
                }
                if (s->stuck) {
                        rc = stuck_error(s, e);
                        break;
                }
                if (s->out_lines.malformed_run >= MALFORMED_MAX) {
                        rc = err_set(e, MCP_E_PROTOCOL,
                                     "%s: %u malformed lines in a row; the server is dropped",
                                     s->base.server_name, s->out_lines.malformed_run);
                        break;
                }
                if (w->cancel && *w->cancel) {
                        rc = mcp_err_cancelled(e, "%s: cancelled", s->base.server_name);
                        break;
                }
                if (s->out_fd < 0) {
                        rc = closed_error(s, e);
                        break;
                }
                if (out_pending && !tried_write) {
                        /* the pipe has room as a rule: no poll before the first write */
                        tried_write = true;
                        write_queued(s);
                        continue;
                }
                int timeout = ms_until(w->deadline_ns);
                if (w->deadline_ns && timeout == 0) {
                        rc = err_set(e, MCP_E_TIMEOUT, "%s: timed out", s->base.server_name);
                        break;
                }
                struct mcp_watch *watch = w->watch && w->watch->fd >= 0 ? w->watch : NULL;
                struct pollfd p[4] = {{s->out_fd, POLLIN, 0},
                                      {s->err_fd, POLLIN, 0},
                                      {out_pending ? s->in_fd : -1, POLLOUT, 0},
                                      {watch ? watch->fd : -1, POLLIN, 0}};
                int n = spin_poll(&s->spin, p, 4, timeout);
                if (n < 0 && errno != EINTR) {
                        rc = err_sys(e, "%s: poll", s->base.server_name);
                        break;
                }
                if (n <= 0)
                        continue;
                if (p[3].revents)
                        mcp_watch_fire(watch);
                if (p[2].revents & (POLLOUT | POLLERR | POLLHUP))
                        write_queued(s);
                if (p[1].revents && !read_some(s, s->err_fd, false))
                        close_fd(&s->err_fd);
                bool delivered = false;
                if (p[0].revents) {
                        if (!read_some(s, s->out_fd, true))
                                close_fd(&s->out_fd);
                        delivered = true;
                }
                if (!flush && delivered && !(s->out_off < s->out.len))
                        break;
        }
        s->in_pump = false;
        return rc;
}

static int stdio_send(struct mcp_transport *t, json_t *msg, const struct mcp_wait *w, osvm_err *e)
{
        struct stdio_transport *s = (struct stdio_transport *)t;
        if (s->in_fd < 0)
                return err_set(e, MCP_E_CLOSED, "%s: the server no longer reads its input",
                               t->server_name);
        if (s->stuck)
                return stuck_error(s, e);
        /* Compact JSON escapes every newline inside strings: one line a message. */
        char *line = json_dumps(msg, JSON_COMPACT);
        if (!line)
                return err_set(e, ENOMEM, "%s: cannot serialize a message", t->server_name);
        /* Bounded: a server that sends requests and never reads the answers is dropped. */
        size_t queued = s->out.len - s->out_off, n = strlen(line) + 1;
        if (queued > 0 &&
            n > t->max_message - (queued < t->max_message ? queued : t->max_message)) {
                free(line);
                s->stuck = true;
                return stuck_error(s, e);
        }
        sb_add(&s->out, line);
        sb_add(&s->out, "\n");
        free(line);
        if (s->in_pump)
                return 0; /* the running loop writes it */
        return pump(s, w, true, e);
}

static int stdio_poll(struct mcp_transport *t, const struct mcp_wait *w, osvm_err *e)
{
        return pump((struct stdio_transport *)t, w, false, e);
}

/*
 * Whether the process runs, rather than being on its way out though not yet
 * reapable: killed (a SIGKILL pending), its leader exiting (PF_EXITING) or a
 * zombie while its other threads end. A server killed a moment ago is then
 * started again before a request is sent to it, not sent the request and
 * found dead. 1: it runs; 0: on its way out, or a zombie; -1: not known.
 *
 * One read of /proc/PID/stat, kept open (the child is ours and not reaped
 * while it is open, so the pid names no other process): its state, its
 * flags and its pending signals. A fatal signal is put in the pending set of
 * each of the process's threads, the leader's among them, which is the set
 * this file shows.
 */
static int proc_running(struct stdio_transport *s)
{
        if (s->stat_fd < 0) {
                char path[64];
                snprintf(path, sizeof(path), "/proc/%d/stat", (int)s->pid);
                s->stat_fd = open(path, O_RDONLY | O_CLOEXEC);
                if (s->stat_fd < 0)
                        return -1; /* no /proc: waitpid alone decides */
        }
        char buf[2048];
        ssize_t n = pread(s->stat_fd, buf, sizeof(buf) - 1, 0);
        if (n <= 0)
                return -1;
        buf[n] = '\0';
        /* after the name's last ')': state (field 3), then one field a space;
         * flags is field 9 and the pending signals field 31 */
        char *p = strrchr(buf, ')');
        if (!p || p[1] != ' ')
                return -1;
        char state = p[2];
        unsigned long long flags = 0, pending = 0;
        unsigned field = 3;
        for (char *q = p + 2; *q && field < 31;) {
                q = strchr(q, ' ');
                if (!q)
                        return -1;
                q++;
                field++;
                if (field == 9)
                        flags = strtoull(q, NULL, 10);
                else if (field == 31)
                        pending = strtoull(q, NULL, 10);
        }
        if (field < 31)
                return -1;
        return !(state == 'Z' || state == 'X' || (flags & 0x4 /* PF_EXITING */) ||
                 (pending & (1ull << (SIGKILL - 1))));
}

/* How long a look at /proc that found the server running vouches for it,
 * to the one quick check that comes next: the look the hub makes as it picks
 * a connection covers the check of the request that follows at once. */
#define RUNNING_SEEN_NS 1000000ull

/* thorough: one read of /proc/PID/stat (proc_running); waitpid only when
 * that does not say it runs. Otherwise waitpid, unless such a look found it
 * running a moment ago and no quick check has used that yet. */
static bool stdio_alive(struct mcp_transport *t, bool thorough)
{
        struct stdio_transport *s = (struct stdio_transport *)t;
        if (s->out_fd < 0 || s->in_fd < 0 || s->stuck || s->exited)
                return false;
        uint64_t now = time_mono_ns();
        if (thorough) {
                int running = proc_running(s);
                if (running > 0) {
                        __atomic_store_n(&s->seen_running_ns, now, __ATOMIC_RELAXED);
                        return true;
                }
                return !reap(s, 0) && running < 0;
        }
        if (now - __atomic_exchange_n(&s->seen_running_ns, 0, __ATOMIC_RELAXED) < RUNNING_SEEN_NS)
                return true;
        return !reap(s, 0);
}

static void stdio_close(struct mcp_transport *t)
{
        struct stdio_transport *s = (struct stdio_transport *)t;
        /* The spec's order: close stdin, wait, SIGTERM, wait, SIGKILL. */
        close_fd(&s->in_fd);
        if (!reap(s, SHUTDOWN_GRACE_MS)) {
                kill(-s->pid, SIGTERM);
                if (!reap(s, SHUTDOWN_GRACE_MS)) {
                        kill(-s->pid, SIGKILL);
                        reap(s, 1000);
                }
        }
        close_fd(&s->out_fd);
        close_fd(&s->err_fd);
        close_fd(&s->stat_fd);
        mcp_confined_end(s->confined);
        sb_free(&s->out);
        mcp_line_reader_free(&s->out_lines);
        free(s);
}

static bool stdio_set_call(struct mcp_transport *t, const char *call_id, const char *tool,
                           json_t *egress)
{
        return mcp_confined_set_call(((struct stdio_transport *)t)->confined, call_id, tool,
                                     egress);
}

static const struct mcp_transport_ops stdio_ops = {
    .name = "stdio",
    .watches = true,
    .send = stdio_send,
    .poll = stdio_poll,
    .alive = stdio_alive,
    .set_call = stdio_set_call,
    .close = stdio_close,
};

/* environ with the extra K=V entries put first (so they win) */
static char **merged_env(char *const *extra)
{
        size_t n = 0, m = 0;
        while (environ[n])
                n++;
        while (extra && extra[m])
                m++;
        char **env = xcalloc(n + m + 1, sizeof(char *));
        size_t k = 0;
        for (size_t i = 0; i < m; i++)
                env[k++] = extra[i];
        for (size_t i = 0; i < n; i++) {
                const char *eq = strchr(environ[i], '=');
                size_t keylen = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
                bool overridden = false;
                for (size_t j = 0; j < m && !overridden; j++)
                        overridden =
                            strncmp(extra[j], environ[i], keylen) == 0 && extra[j][keylen] == '=';
                if (!overridden)
                        env[k++] = environ[i];
        }
        return env;
}

struct mcp_transport *mcp_stdio_open(const char *name, char *const *argv, char *const *env,
                                     const char *cwd, const struct iso_sandbox *sb,
                                     size_t max_message, volatile sig_atomic_t *cancel, osvm_err *e)
{
        if (!argv || !argv[0] || !argv[0][0]) {
                err_set(e, EINVAL, "%s: no command to start", name);
                return NULL;
        }
        struct stat st;
        if (cwd && (stat(cwd, &st) < 0 || !S_ISDIR(st.st_mode))) {
                _cleanup_free_ char *shown = text_sanitize(cwd, 0);
                err_set(e, ENOTDIR, "%s: its working directory (cwd) %s is not a directory", name,
                        shown);
                return NULL;
        }
        /* A server that dies must not take osvm with it through SIGPIPE. */
        signal(SIGPIPE, SIG_IGN);
        int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1};
        if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
                err_sys(e, "%s: pipe", name);
                goto fail;
        }
        struct mcp_confined *confined = NULL;
        pid_t pid;
        if (sb && sb->wanted) {
                int fds[3] = {in[0], out[1], errp[1]};
                int c = mcp_confine_spawn(name, sb, argv, env, fds, cancel, &pid, &confined, e);
                if (c < 0)
                        goto fail;
                if (c > 0) {
                        if (cwd)
                                log_warn("%s: its working directory (cwd) does not apply in "
                                         "the sandbox: it starts in its package's folder or /; "
                                         "name files by absolute path, mounted with --mount",
                                         name);
                        goto started;
                }
        }
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, in[0], 0);
        posix_spawn_file_actions_adddup2(&fa, out[1], 1);
        posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
        if (cwd)
                posix_spawn_file_actions_addchdir_np(&fa, cwd);
        posix_spawnattr_init(&attr);
        /* Its own process group: Ctrl-C at the terminal cancels a call, not the server. */
        posix_spawnattr_setpgroup(&attr, 0);
        sigset_t none;
        sigemptyset(&none);
        posix_spawnattr_setsigmask(&attr, &none);
        sigset_t deflt;
        sigemptyset(&deflt);
        sigaddset(&deflt, SIGPIPE);
        sigaddset(&deflt, SIGINT);
        sigaddset(&deflt, SIGTERM);
        posix_spawnattr_setsigdefault(&attr, &deflt);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                            POSIX_SPAWN_SETSIGDEF);
        char **envp = merged_env(env);
        int r = posix_spawnp(&pid, argv[0], &fa, &attr, argv, envp);
        free(envp);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        if (r != 0) {
                char hint[256];
                errno = r;
                err_sys(e, "%s: starting %s", name, argv[0]);
                if (r == ENOENT && mcp_command_install_hint(argv[0], hint, sizeof(hint)))
                        snprintf(e->msg + strlen(e->msg), sizeof(e->msg) - strlen(e->msg), " (%s)",
                                 hint);
                goto fail;
        }
started:
        close(in[0]);
        close(out[1]);
        close(errp[1]);
        struct stdio_transport *s = xcalloc(1, sizeof(*s));
        s->base.ops = &stdio_ops;
        s->base.max_message = max_message ? max_message : MCP_DEFAULT_MAX_MESSAGE;
        snprintf(s->base.server_name, sizeof(s->base.server_name), "%s", name);
        s->pid = pid;
        s->confined = confined;
        s->in_fd = in[1];
        s->out_fd = out[0];
        s->err_fd = errp[0];
        s->stat_fd = -1;
        s->out_lines.t = &s->base;
        fcntl(s->in_fd, F_SETFL, O_NONBLOCK);
        fcntl(s->out_fd, F_SETFL, O_NONBLOCK);
        fcntl(s->err_fd, F_SETFL, O_NONBLOCK);
        log_debug("%s: started %s (pid %d%s)", name, argv[0], (int)pid,
                  confined ? ", confined" : "");
        return &s->base;
fail:
        for (int i = 0; i < 2; i++) {
                if (in[i] >= 0)
                        close(in[i]);
                if (out[i] >= 0)
                        close(out[i]);
                if (errp[i] >= 0)
                        close(errp[i]);
        }
        return NULL;
}
