/*
 * base: what every layer of osvm shares.
 *
 * Errors that carry context (osvm_err), the log, bounded file I/O with
 * atomic replacement, the standard directories, the terminal's capabilities
 * and the session state that the status line reports.
 */
#ifndef OSVM_BASE_H
#define OSVM_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#define OSVM_VERSION "0.1.0"

/* Process exit codes; docs/exit-codes.md explains each. */
enum osvm_exit {
        OSVM_EXIT_OK = 0,
        OSVM_EXIT_FAILURE = 1,       /* the command ran and failed */
        OSVM_EXIT_USAGE = 2,         /* bad command line */
        OSVM_EXIT_CONFIG = 3,        /* a configuration file is invalid */
        OSVM_EXIT_DENIED = 4,        /* the isolation policy refuses the call */
        OSVM_EXIT_TOOL_ERROR = 5,    /* the tool ran and reported an error */
        OSVM_EXIT_NEEDS_INPUT = 6,   /* the agent needs arguments the prompt did not give */
        OSVM_EXIT_INTERRUPTED = 130, /* cancelled by Ctrl-C */
};

/* ---- cleanup helpers (GCC/Clang `cleanup` attribute) ---- */

void base_freep(void *p);
void base_closep(int *fd);
#define _cleanup_free_  __attribute__((cleanup(base_freep)))
#define _cleanup_close_ __attribute__((cleanup(base_closep)))

/* Returns *pp and clears it, so that a cleanup attribute does not free it. */
static inline void *base_steal(void *pp)
{
        void **p = pp;
        void *v = *p;
        *p = NULL;
        return v;
}

/* Allocation that cannot fail: out of memory, it says so on stderr and ends
 * the process with OSVM_EXIT_FAILURE. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
/* What those do out of memory, for memory a library failed to get (what
 * names it): says so and ends the process with OSVM_EXIT_FAILURE. */
_Noreturn void xoom(const char *what);

/* ---- errors that carry context ----
 *
 * A function that fails fills an osvm_err and returns -1. A caller that adds
 * context calls err_wrap(), which puts its words in front: the user sees the
 * whole chain ("loading /x/isolation_config.json: reading: Permission denied").
 */
typedef struct osvm_err {
        int code;       /* an errno value, or 0 */
        int exit;       /* the exit code a command should end with */
        char msg[2048]; /* "" while no error is set */
} osvm_err;

int err_set(osvm_err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int err_setv(osvm_err *e, int code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
int err_sys(osvm_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int err_wrap(osvm_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void err_clear(osvm_err *e);

/* ---- the log ----
 *
 * Messages go to stderr at or above the chosen level and, at info or above
 * (debug when chosen), to a bounded log file in the state directory.
 */
enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Reads OSVM_LOG; adjust by -v/-q with log_set_level(). */
void log_init(void);
void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);
/* Parses "error", "warn", "info", "debug" (or "warning"); -1 when unknown. */
int log_level_parse(const char *s);
const char *log_level_name(enum log_level lvl);
/* Opens the log file lazily below dir; NULL disables the file. */
void log_set_file_dir(const char *dir);
/* The file is rotated to .1 past this many bytes. */
#define LOG_FILE_MAX_BYTES (1024 * 1024)
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The messages this thread logs between begin and end (which nest) go to the
 * file together, in one write at the end: a call's trace of several lines
 * costs one system call, and no other thread's line falls between them. */
void log_batch_begin(void);
void log_batch_end(void);
void log_close(void);

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* ---- files ---- */

/*
 * Reads a whole regular file of at most max bytes into a NUL-terminated
 * buffer. Names the reason on failure: a directory, not a regular file,
 * too large, unreadable.
 */
int fs_read_file(const char *path, size_t max, char **out, size_t *len, osvm_err *e);
/* The same from fd, open on path (named in errors): for a caller that has
 * checked the file it opened, so that what is read is what was checked. */
int fs_read_fd(int fd, const char *path, size_t max, char **out, size_t *len, osvm_err *e);
/* The start of a file the kernel makes (/proc): one read of at most cap - 1
 * bytes into buf, NUL-terminated, with nothing allocated (for a file looked
 * at often); the bytes read, or -1. */
ssize_t fs_read_proc(const char *path, char *buf, size_t cap);
/* Writes data to path through a temporary file in the same directory, fsync
 * and rename, with the given mode. */
int fs_write_atomic(const char *path, const void *data, size_t len, unsigned mode, osvm_err *e);
/* Like fs_write_atomic, but fails with EEXIST (and writes nothing) when path
 * exists: link(2) of the finished temporary file publishes it. */
int fs_create_atomic(const char *path, const void *data, size_t len, unsigned mode, osvm_err *e);
/* mkdir -p with the given mode for the directories it creates. */
int fs_mkdir_p(const char *path, unsigned mode, osvm_err *e);
/* Removes path and all below it, not following symbolic links or crossing
 * mounts; best effort. */
void fs_remove_tree(const char *path);
/* The directory part of path (a new string). */
char *fs_dirname(const char *path);
/* Whether path is dir or below it, by their words (no link is followed):
 * "/a/b" is under "/a" and "/", "/ab" is not under "/a". */
bool fs_under(const char *path, const char *dir);
/* Whether one of the n paths is dir or below it (fs_under). */
bool fs_holds_any(const char *dir, char *const *paths, size_t n);
/* path as the host resolves it (links followed) where it exists, else as
 * given. A new string. */
char *fs_real_or_same(const char *path);
/* ~ or ~/x expanded against $HOME; other paths copied. */
char *fs_expand_home(const char *path);

/* ---- standard directories ---- */

/* $OSVM_HOME, else $XDG_CONFIG_HOME/osvm, else $HOME/.config/osvm. */
char *paths_config_dir(void);
/* $XDG_STATE_HOME/osvm, else $HOME/.local/state/osvm. */
char *paths_state_dir(void);
/* osvm's own files, which no guest or server ever sees, as the host
 * resolves them (symlinks followed where they exist): its configuration
 * folder (the registry, the policy, ai.json, the gateway's token), its state
 * folder (the audit log, the secrets file, the logs) and a secrets file put
 * elsewhere ($OSVM_SECRETS_FILE). Into out, new strings; returns how many. */
#define PATHS_OWN_MAX 3
size_t paths_own(char *out[PATHS_OWN_MAX]);
/* osvm's own images (the tool pack, μVM-1's agent) beside the binary: the
 * build tree's unikernels/ or the installed ../lib/osvm/unikernels; NULL when
 * neither is there. */
char *paths_images_dir(void);

/* ---- the terminal ---- */

/* Saves the terminal's settings (stdin's, when a terminal) and puts them back
 * at exit and on a fatal signal (SIGTERM, SIGHUP, SIGSEGV, ...), which then
 * takes its course, and while Ctrl-Z has osvm stopped; term_restore() puts
 * them back now. */
void term_guard(void);
void term_restore(void);
/* True when the locale's character set is UTF-8 (after setlocale(LC_ALL, "")). */
bool term_utf8(void);
/* True when fd is a terminal and NO_COLOR is unset or empty. */
bool term_color(int fd);

/* ---- text ---- */

/* True when s (len bytes) is well-formed UTF-8 without NUL bytes. */
bool text_valid_utf8(const char *s, size_t len);
/* How many bytes of s to keep to cut it at most max bytes long without
 * cutting a character in two: for "%.*s" (a plain "%.80s" may end in half a
 * character, which no JSON string takes). */
int text_cut(const char *s, size_t max);

/* A growable string. */
typedef struct strbuf {
        char *s;
        size_t len, cap;
} strbuf;
void sb_addf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_add(strbuf *b, const char *s);
/* n bytes of s (which may hold NULs), kept NUL-terminated. */
void sb_addn(strbuf *b, const char *s, size_t n);
void sb_free(strbuf *b);
/* Room for n more bytes, so that adding them reallocates nothing. */
void sb_reserve(strbuf *b, size_t n);
/* Returns the string and leaves b empty. */
char *sb_steal(strbuf *b);

/*
 * Text from outside osvm (servers, tools, guests, LLMs, files, the command
 * line) is never shown raw: whatever reaches the terminal or the log goes
 * through this one sanitizer first. It passes printable text, UTF-8
 * included, and shows everything else so that it can be read but not obeyed:
 * C0 controls in caret form (ESC as ^[, BEL as ^G, CR as ^M), DEL as ^?, C1
 * controls and the bidirectional overrides as \u009b or \u202e, and bytes
 * that are not well-formed UTF-8 as \xNN. Nothing it lets through can move
 * the cursor, clear the screen, set the window's title, write the clipboard
 * (OSC 52), ring the bell or reorder what follows.
 */
#define TEXT_MULTILINE 1u /* keep newlines and tabs (else shown as \n and a space) */
void sb_add_sanitized(strbuf *b, const char *s, size_t len, unsigned flags);
/* s (NULL: "") sanitized, as a new string. */
char *text_sanitize(const char *s, unsigned flags);

/* HTTP header names (RFC 9110 tokens) and values (no CR, LF, NUL or other
 * control but tab): every name and value osvm sends is checked with these. */
bool text_header_name_ok(const char *s);
/* One character of such a name (an RFC 9110 tchar). */
bool text_token_char(char c);
bool text_header_value_ok(const char *s);

/* ---- time ---- */

uint64_t time_mono_ns(void);
/* The time ns from now on clock (CLOCK_MONOTONIC, CLOCK_REALTIME), as
 * pthread_cond_timedwait takes it for a condition variable of that clock. */
struct timespec time_after(clockid_t clock, uint64_t ns);

/* Now in UTC as ISO 8601 to the millisecond, "2026-12-08T03:32:51.123Z": the
 * stamp of the log's lines and the audit's records. (gmtime_r and strftime
 * take the time zone's lock and cost more than the whole of a record.) */
#define TIME_STAMP_LEN 24
void time_utc_stamp(char out[TIME_STAMP_LEN + 1]);
/* The same of ts (a time of CLOCK_REALTIME; before 1970 counts as 1970, after
 * 9999 as the year 9999). */
void time_utc_format(struct timespec ts, char out[TIME_STAMP_LEN + 1]);

/* This process's id: asked of the kernel once, and again in a child after a fork. */
int self_pid(void);

/* ---- waiting on file descriptors, spinning first (spin.c) ----
 *
 * spin_poll is poll() for a wait whose answers tend to come fast: while a
 * CPU is idle it polls with no timeout for up to twice the time this wait
 * has taken on average (at most spin_max()) before it blocks, so that a
 * quick answer costs no wake-up from sleep. The struct keeps that average:
 * one per place that waits, zeroed at first, used by one thread at a time.
 */
struct pollfd;
struct spin_wait {
        uint64_t avg_ns; /* how long this wait has taken, a moving average; 0: not known */
};
int spin_poll(struct spin_wait *sw, struct pollfd *fds, unsigned n, int timeout_ms);
/* The longest spin, in ns (OSVM_SPIN_US; 0 where this process does not spin:
 * one CPU, no /proc/loadavg, or OSVM_SPIN_US=0). */
uint64_t spin_max(void);

/* ---- SHA-256 (FIPS 180-4; sha256.c) ---- */

#define SHA256_LEN     32
#define SHA256_HEX_LEN 64
struct sha256 {
        uint32_t h[8];
        uint64_t len;
        uint8_t buf[64];
};
void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t n);
void sha256_final(struct sha256 *s, uint8_t out[SHA256_LEN]);
/* The digest of data in lower-case hex, NUL-terminated. */
void sha256_hex(const void *data, size_t n, char out[SHA256_HEX_LEN + 1]);
/* Whether the CPU's SHA instructions (x86-64 SHA-NI) do the hashing, as they
 * do where CPUID says they are there; the portable code does elsewhere. */
bool sha256_accelerated(void);
/* The portable code even where the CPU's instructions are there (for the
 * tests, which run both). */
void sha256_force_portable(bool on);

/* ---- a pool of threads for work that must not wait (workers.c) ----
 *
 * workers_run runs fn(arg) on a thread of its own: an idle thread of the
 * process's pool when one is free, else a new one, so that no job ever
 * waits behind another. Up to WORKERS_IDLE_MAX threads stay for the next
 * job; the rest end when theirs does. (A new thread per job costs a clone,
 * the first touch of its stack's pages and, when it ends, a TLB shootdown to
 * give the stack back: more than a short call through the gateway takes.)
 * fn runs in the caller when no thread can be made. A pooled thread keeps
 * nothing from one job to the next but its signal mask, the one of the
 * thread that made it.
 */
#define WORKERS_IDLE_MAX 4u
void workers_run(void (*fn)(void *arg), void *arg);
/* As workers_run, but false (and fn not run) when no thread can be had. */
bool workers_try_run(void (*fn)(void *arg), void *arg);
/* Threads in the pool now, and how many of them wait for a job. */
void workers_count(unsigned *threads, unsigned *idle);

/* ---- the session state ----
 *
 * One value for the whole process that later layers update as they run VMs
 * and reach servers; the status line is printed from it.
 */
enum session_net { SESSION_NET_UNKNOWN = 0, SESSION_NET_OFF, SESSION_NET_ALLOW };

enum session_server_state {
        SESSION_SERVER_CONFIGURED = 0, /* known from the config, not started */
        SESSION_SERVER_UP,             /* running */
        SESSION_SERVER_DOWN,           /* started, then stopped or died */
};

#define SESSION_MAX_SERVERS 64

struct session_server {
        char name[128];
        char where[64]; /* the VM it runs in ("μVM-1") or "host" */
        enum session_server_state state;
};

struct osvm_session {
        uint64_t start_ns;      /* time_mono_ns() at start */
        unsigned live_microvms; /* microVMs owned by this process, alive now */
        unsigned unikernels_run;
        /* The same on the engine's process platform (trapped processes, no VM):
         * the agent's process alive now, and tool images run. */
        unsigned live_agent_procs;
        unsigned unikernel_procs_run;
        unsigned fallbacks; /* calls that did not run in the mode configured */
        enum session_net net;
        unsigned net_allow_count;
        size_t nservers;
        struct session_server servers[SESSION_MAX_SERVERS];
};

/* The process's session. */
struct osvm_session *session_get(void);
void session_reset(struct osvm_session *s, uint64_t start_ns);
/* Adds or updates a server entry; silently ignores entries past the maximum. */
void session_set_server(struct osvm_session *s, const char *name, const char *where,
                        enum session_server_state state);
void session_note_microvm(struct osvm_session *s, int delta);
void session_note_unikernel(struct osvm_session *s);
/* The same for the process platform: a trapped process, never called a VM. */
void session_note_agent_proc(struct osvm_session *s, int delta);
void session_note_unikernel_proc(struct osvm_session *s);
void session_note_fallback(struct osvm_session *s);
void session_set_net(struct osvm_session *s, enum session_net net, unsigned allow_count);

#endif
