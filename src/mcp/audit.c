/*
 * The audit log: one JSON line a tool call, for every call the hub runs
 * (the gateway's, the agent's, `osvm mcp call`'s), in
 * $XDG_STATE_HOME/osvm/audit.jsonl (0600). Each record carries the SHA-256
 * of the record before it ("prev") and of itself ("hash"), so that `osvm
 * audit verify` finds an edited, removed or reordered line and names it.
 * When the file passes its size it is rotated (audit.jsonl.1 ... .5) and the
 * new file goes on from the old file's last hash. docs/audit.md.
 *
 * A record that cannot be written never fails the call: it is said once.
 */
#include "mcp/mcp.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define AUDIT_FILE        "audit.jsonl"
#define AUDIT_KEEP        5u                    /* rotated files kept: audit.jsonl.1 .. .5 */
#define AUDIT_MAX_DEFAULT (16ull * 1024 * 1024) /* bytes of one file before it is rotated */
#define AUDIT_TAIL_READ   65536u                /* the last record is found in this much */
#define AUDIT_TEXT_MAX    1024u                 /* bytes of one text field (error, reason) */
#define AUDIT_REASONS_MAX 16u
#define AUDIT_HASH_TAIL   (sizeof(",\"hash\":\"") - 1 + SHA256_HEX_LEN + 2)
static const char zero_hash[SHA256_HEX_LEN + 1] =
    "0000000000000000000000000000000000000000000000000000000000000000";

static pthread_mutex_t audit_mu = PTHREAD_MUTEX_INITIALIZER;
static bool audit_warned;

/* What this process last appended (under audit_mu): while the file is the same
 * one, of the size it left it, the chain goes on from here without reading it. */
static struct {
        dev_t dev;
        ino_t ino;
        off_t size;
        char hash[SHA256_HEX_LEN + 1];
        json_int_t seq;
        bool valid;
} last;

/* The log's path, its lock file and the log, kept open between records
 * (under audit_mu); -1 while closed. */
static struct {
        char path[512];
        int lock, fd;
} kept = {.lock = -1, .fd = -1};

char *mcp_audit_path(void)
{
        const char *f = getenv("OSVM_AUDIT_FILE");
        if (f && *f)
                return xstrdup(f);
        _cleanup_free_ char *dir = paths_state_dir();
        return xasprintf("%s/" AUDIT_FILE, dir);
}

static uint64_t max_bytes(void)
{
        const char *v = getenv("OSVM_AUDIT_MAX_BYTES");
        char *end;
        unsigned long long n = v ? strtoull(v, &end, 10) : 0;
        return v && *v && !*end && n >= 1024 ? n : AUDIT_MAX_DEFAULT;
}

json_t *mcp_audit_text(const char *s, size_t max)
{
        if (!s)
                return json_null();
        size_t n = strlen(s);
        strbuf b = {0};
        sb_add_sanitized(&b, s, n < max ? n : max, 0);
        json_t *j = json_string(b.s ? b.s : "");
        sb_free(&b);
        return j ? j : json_string("?");
}

/* A string for the record, cut at AUDIT_TEXT_MAX. */
static json_t *text(const char *s)
{
        return mcp_audit_text(s, AUDIT_TEXT_MAX);
}

/* Opens a file of the log for appending: created 0600, never through a
 * symbolic link, and only a regular file of ours. */
static int open_log(const char *path, osvm_err *e)
{
        int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return err_set(e, errno, "opening %s: %s", path, strerror(errno));
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
                close(fd);
                return err_set(e, EPERM, "%s is not a regular file owned by this user; refused",
                               path);
        }
        if ((st.st_mode & 0777) != 0600)
                (void)fchmod(fd, 0600);
        return fd;
}

/* The last line of fd (at most AUDIT_TAIL_READ bytes back), or NULL. */
static char *last_line(int fd)
{
        struct stat st;
        if (fstat(fd, &st) < 0 || st.st_size == 0)
                return NULL;
        size_t n = st.st_size < AUDIT_TAIL_READ ? (size_t)st.st_size : AUDIT_TAIL_READ;
        char *buf = xmalloc(n + 1);
        ssize_t got = pread(fd, buf, n, st.st_size - (off_t)n);
        if (got <= 0) {
                free(buf);
                return NULL;
        }
        size_t end = (size_t)got;
        while (end && buf[end - 1] == '\n')
                end--;
        size_t start = end;
        while (start && buf[start - 1] != '\n')
                start--;
        char *line = xmalloc(end - start + 1);
        memcpy(line, buf + start, end - start);
        line[end - start] = '\0';
        free(buf);
        return line;
}

/* The hash and seq of a record line; false when it is not one. */
static bool record_head(const char *line, char hash[SHA256_HEX_LEN + 1], json_int_t *seq)
{
        json_t *j = line ? json_loads(line, 0, NULL) : NULL;
        const char *h = json_string_value(json_object_get(j, "hash"));
        bool ok = h && strlen(h) == SHA256_HEX_LEN && json_is_integer(json_object_get(j, "seq"));
        if (ok) {
                memcpy(hash, h, SHA256_HEX_LEN + 1);
                *seq = json_integer_value(json_object_get(j, "seq"));
        }
        json_decref(j);
        return ok;
}

/* Where the chain goes on from: the last record of the log, or of the file
 * rotated last when the log is empty; zeros and -1 when there is none. */
static void chain_head(int fd, const char *path, char prev[SHA256_HEX_LEN + 1], json_int_t *seq)
{
        memcpy(prev, zero_hash, sizeof(zero_hash));
        *seq = -1;
        char *line = last_line(fd);
        if (!line) {
                _cleanup_free_ char *old = xasprintf("%s.1", path);
                int ofd = open(old, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                if (ofd >= 0) {
                        line = last_line(ofd);
                        close(ofd);
                }
        }
        if (line && !record_head(line, prev, seq)) {
                /* a damaged last line: chained to what it is, which verify will name */
                sha256_hex(line, strlen(line), prev);
                *seq = -1;
        }
        free(line);
}

/* Renames path to path.1 (and on up to .AUDIT_KEEP, the oldest dropped). */
static void rotate(const char *path)
{
        for (unsigned i = AUDIT_KEEP; i >= 1; i--) {
                _cleanup_free_ char *from =
                    i == 1 ? xstrdup(path) : xasprintf("%s.%u", path, i - 1);
                _cleanup_free_ char *to = xasprintf("%s.%u", path, i);
                if (rename(from, to) < 0 && errno != ENOENT)
                        log_warn("audit: rotating %s: %s", from, strerror(errno));
        }
}

static const char *status_of(const struct mcp_audit_call *a)
{
        if (a->result)
                return json_is_true(json_object_get(a->result, "isError")) ? "tool_error" : "ok";
        if (a->dec->route == ISO_ROUTE_DENY)
                return "denied";
        if (a->err && a->err->code == MCP_E_CANCELLED)
                return "cancelled";
        if (a->err && a->err->code == MCP_E_TIMEOUT)
                return "timeout";
        return "error";
}

static bool audit_off(void)
{
        const char *off = getenv("OSVM_AUDIT");
        return off && !strcmp(off, "0");
}

/* The members of an object as its compact JSON has them, without the braces:
 * "k":v,"k":v (ASCII only, in the order they were set). */
static char *members(json_t *o)
{
        char *t = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER);
        json_decref(o);
        if (!t)
                return NULL;
        size_t n = strlen(t);
        memmove(t, t + 1, n - 2);
        t[n - 2] = '\0';
        return t;
}

/* Adds one value as the record has it: compact JSON, ASCII only; NULL: null. */
static void add_value(strbuf *b, const json_t *v)
{
        char *t = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_ENSURE_ASCII |
                                        JSON_PRESERVE_ORDER)
                    : NULL;
        sb_add(b, t ? t : "null");
        free(t);
}

/*
 * The fields of a call's record that come from who called and the decision
 * alone ("caller" to "tool", and "route" to "reasons"), serialized for the
 * last such pair and kept: a client's calls of one tool have the same ones,
 * and sanitizing and escaping the reasons is most of a record's work. key:
 * what they were made from, every input byte for byte.
 */
static struct {
        pthread_mutex_t mu;
        strbuf key;
        char *who, *route;
        pid_t pid;
} kept_fields = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void key_add(strbuf *k, const char *s)
{
        if (s) {
                sb_addn(k, "s", 1);
                sb_addn(k, s, strlen(s) + 1);
        } else {
                sb_addn(k, "n", 1);
        }
}

/* Adds a call_id as the record has it: quoted as it is when it is only
 * letters, digits and '-' (the hub's "PID-N"), which sanitizing and escaping
 * leave as they are; else sanitized and escaped. */
static void add_call_id(strbuf *b, const char *id)
{
        size_t n = strspn(id, "0123456789-abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
        if (!id[n] && n <= AUDIT_TEXT_MAX) {
                sb_addn(b, "\"", 1);
                sb_addn(b, id, n);
                sb_addn(b, "\"", 1);
                return;
        }
        json_t *t = text(id);
        add_value(b, t);
        json_decref(t);
}

/*
 * A call's record is
 *   {"seq","time", <what is known before the answer>, <the outcome>, "prev", "hash"}
 * with the keys in that fixed order. What is known before the answer (who
 * called, the server and tool, the arguments' hash and size, the route and
 * its reasons) is serialized by mcp_audit_prepare while the server works on
 * the call; after the answer only the outcome is written out, and seq, time
 * and prev under the log's lock.
 */
void mcp_audit_prepare(struct mcp_audit_call *a)
{
        if (a->known || audit_off())
                return;
        const struct iso_decision *d = a->dec;
        char args_hash[SHA256_HEX_LEN + 1];
        char *args = a->args ? json_dumps(a->args, JSON_COMPACT | JSON_SORT_KEYS) : xstrdup("{}");
        size_t args_len = args ? strlen(args) : 0;
        sha256_hex(args ? args : "", args_len, args_hash);
        free(args);
        pid_t pid = self_pid();
        strbuf key = {0};
        key_add(&key, a->caller);
        key_add(&key, d->policy.server);
        key_add(&key, d->policy.tool);
        sb_addf(&key, "%d %d %d %zu", (int)d->route,
                d->route == ISO_ROUTE_UNIKERNEL ? (int)d->platform : -1, d->fell_back, d->nreasons);
        key_add(&key, d->route == ISO_ROUTE_DIRECT ? d->tier : NULL);
        for (size_t i = 0; i < d->nreasons && i < AUDIT_REASONS_MAX; i++)
                key_add(&key, d->reasons[i].text);
        pthread_mutex_lock(&kept_fields.mu);
        if (kept_fields.pid != pid || kept_fields.key.len != key.len ||
            memcmp(kept_fields.key.s, key.s, key.len) != 0) {
                json_t *w = json_object();
                json_object_set_new(w, "caller", text(a->caller));
                json_object_set_new(w, "pid", json_integer(pid));
                json_object_set_new(w, "server", text(d->policy.server));
                json_object_set_new(w, "tool", text(d->policy.tool));
                json_t *reasons = json_array();
                for (size_t i = 0; i < d->nreasons && i < AUDIT_REASONS_MAX; i++)
                        json_array_append_new(reasons, text(d->reasons[i].text));
                json_t *r = json_object();
                json_object_set_new(r, "route", json_string(iso_route_name(d->route)));
                if (d->route == ISO_ROUTE_UNIKERNEL)
                        json_object_set_new(r, "platform",
                                            json_string(iso_platform_name(d->platform)));
                if (d->route == ISO_ROUTE_DIRECT && d->tier)
                        json_object_set_new(r, "tier", json_string(d->tier));
                json_object_set_new(r, "fell_back", json_boolean(d->fell_back));
                json_object_set_new(r, "reasons", reasons);
                free(kept_fields.who);
                free(kept_fields.route);
                kept_fields.who = members(w);
                kept_fields.route = members(r);
                sb_free(&kept_fields.key);
                if (kept_fields.who && kept_fields.route) {
                        kept_fields.key = key;
                        key = (strbuf){0};
                        kept_fields.pid = pid;
                } else { /* (out of memory) made again at the next call */
                        kept_fields.pid = 0;
                }
        }
        strbuf b = {0};
        sb_add(&b, kept_fields.who ? kept_fields.who : "\"caller\":null");
        if (a->call_id) {
                sb_add(&b, ",\"call_id\":");
                add_call_id(&b, a->call_id);
        }
        sb_addf(&b, ",\"args_sha256\":\"%s\",\"bytes_in\":%zu,", args_hash, args_len);
        sb_add(&b, kept_fields.route ? kept_fields.route : "\"route\":null");
        pthread_mutex_unlock(&kept_fields.mu);
        sb_free(&key);
        a->known = sb_steal(&b);
}

/* Every field of a call's record between "time" and "prev". */
static char *call_fields(struct mcp_audit_call *a)
{
        mcp_audit_prepare(a);
        const char *status = status_of(a);
        size_t known = strlen(a->known);
        strbuf b = {0};
        sb_reserve(&b, known + 192); /* the rest, short of an error's words or any egress */
        sb_addn(&b, a->known, known);
        sb_add(&b, ",\"status\":\"");
        sb_add(&b, status);
        sb_add(&b, "\"");
        if (!a->result && a->err) {
                json_t *err = text(a->err->msg);
                sb_add(&b, ",\"error\":");
                add_value(&b, err);
                json_decref(err);
        }
        size_t out = a->result ? json_dumpb(a->result, NULL, 0, JSON_COMPACT) : 0;
        sb_addf(&b, ",\"bytes_out\":%zu,\"duration_us\":%llu,\"egress\":", out,
                (unsigned long long)(a->duration_ns / 1000));
        /* the tool's host calls: only a tool in a VM or trapped process is seen making them */
        if (json_is_array(a->egress) && !json_array_size(a->egress))
                sb_add(&b, "[]");
        else
                add_value(&b, a->egress);
        sb_add(&b, !strcmp(status, "timeout") ? ",\"limits_hit\":[\"timeout_ms\"]"
                                              : ",\"limits_hit\":[]");
        return b.s;
}

static char *secret_fields(const struct mcp_audit_secret *s)
{
        json_t *r = json_object();
        json_object_set_new(r, "event", json_string("secret"));
        json_object_set_new(r, "pid", json_integer(self_pid()));
        json_object_set_new(r, "server", text(s->server));
        json_object_set_new(r, "secret", text(s->secret));
        json_object_set_new(r, "host", text(s->host));
        json_object_set_new(r, "port", json_integer(s->port));
        json_object_set_new(r, "status", json_string(s->refused ? "refused" : "substituted"));
        json_object_set_new(r, "where", text(s->where));
        if (s->why)
                json_object_set_new(r, "error", text(s->why));
        if (s->call_id) {
                json_object_set_new(r, "call_id", text(s->call_id));
                json_object_set_new(r, "tool", text(s->tool));
        }
        return members(r);
}

/* The line of a record: seq, time, the fields, prev, and "hash" (of the line
 * without it) last. */
static char *seal(json_int_t seq, const char *fields, const char *prev)
{
        char when[TIME_STAMP_LEN + 1], head[64 + TIME_STAMP_LEN];
        time_utc_stamp(when);
        int hn =
            snprintf(head, sizeof(head), "{\"seq\":%lld,\"time\":\"%s\",", (long long)seq, when);
        static const char mid[] = ",\"prev\":\"", key[] = ",\"hash\":\"";
        size_t fn = strlen(fields), pn = strlen(prev);
        /* what is hashed: head, the fields, "prev" and "} */
        size_t hashed = (size_t)hn + fn + strlen(mid) + pn + 2;
        /* one allocation: the hash and its key take the closing brace's place */
        char *line = xmalloc(hashed - 1 + strlen(key) + SHA256_HEX_LEN + sizeof("\"}\n"));
        char *p = mempcpy(line, head, (size_t)hn);
        p = mempcpy(p, fields, fn);
        p = mempcpy(p, mid, strlen(mid));
        p = mempcpy(p, prev, pn);
        p = mempcpy(p, "\"}", 2);
        char hash[SHA256_HEX_LEN + 1];
        sha256_hex(line, hashed, hash);
        p = mempcpy(p - 1, key, strlen(key));
        p = mempcpy(p, hash, SHA256_HEX_LEN);
        memcpy(p, "\"}\n", sizeof("\"}\n"));
        return line;
}

/* Opens the lock file beside path (the directory too, at the first record). */
static int open_lock(const char *path, osvm_err *e)
{
        _cleanup_free_ char *lock_path = xasprintf("%s.lock", path);
        int lock = open(lock_path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (lock < 0 && errno == ENOENT) {
                _cleanup_free_ char *dir = fs_dirname(path);
                if (fs_mkdir_p(dir, 0700, e) < 0)
                        return -1;
                lock = open(lock_path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        }
        if (lock < 0)
                return err_set(e, errno, "opening %s: %s", lock_path, strerror(errno));
        return lock;
}

/* Closes what is kept open; the chain is read again at the next record. */
static void forget(void)
{
        if (kept.fd >= 0)
                close(kept.fd);
        if (kept.lock >= 0)
                close(kept.lock);
        kept.fd = kept.lock = -1;
        kept.path[0] = '\0';
        last.valid = false;
}

/*
 * Appends one record under the lock that every osvm takes to append. The
 * lock file and the log stay open between records: while the path still
 * names the file this process last wrote, of the size it left it, a record
 * costs the lock, one lstat and its write. Otherwise (another process
 * appended or rotated, the file was removed or replaced) the log is opened
 * again and the chain read from its last line.
 */
static int append(const char *fields, osvm_err *e)
{
        _cleanup_free_ char *path = mcp_audit_path();
        if (strcmp(kept.path, path) != 0) {
                forget();
                if (strlen(path) >= sizeof(kept.path))
                        return err_set(e, ENAMETOOLONG, "%s: the path is too long", path);
                kept.lock = open_lock(path, e);
                if (kept.lock < 0)
                        return -1;
                snprintf(kept.path, sizeof(kept.path), "%s", path);
        }
        /* (another osvm holds it only while it appends one line) */
        while (flock(kept.lock, LOCK_EX) < 0 && errno == EINTR)
                ;
        int rc = -1;
        char prev[SHA256_HEX_LEN + 1];
        json_int_t seq;
        struct stat st;
        if (kept.fd >= 0 && last.valid && lstat(path, &st) == 0 && st.st_dev == last.dev &&
            st.st_ino == last.ino && st.st_size == last.size) {
                memcpy(prev, last.hash, sizeof(prev));
                seq = last.seq;
        } else {
                last.valid = false;
                if (kept.fd >= 0)
                        close(kept.fd);
                kept.fd = open_log(path, e);
                if (kept.fd < 0)
                        goto out;
                chain_head(kept.fd, path, prev, &seq);
                if (fstat(kept.fd, &st) < 0) {
                        err_set(e, errno, "reading %s: %s", path, strerror(errno));
                        goto out;
                }
        }
        char *line = seal(seq + 1, fields, prev);
        size_t len = strlen(line);
        if (st.st_size > 0 && (uint64_t)st.st_size + len > max_bytes()) {
                close(kept.fd);
                rotate(path);
                kept.fd = open_log(path, e);
                if (kept.fd < 0 || fstat(kept.fd, &st) < 0) {
                        free(line);
                        goto out;
                }
        }
        ssize_t w = write(kept.fd, line, len);
        last.valid = false;
        if (w != (ssize_t)len) {
                err_set(e, w < 0 ? errno : EIO, "writing %s: %s", path,
                        w < 0 ? strerror(errno) : "short write");
        } else {
                rc = 0;
                /* appended under the lock to a file of st's size: it is now this long */
                last.dev = st.st_dev;
                last.ino = st.st_ino;
                last.size = st.st_size + (off_t)len;
                /* the hash sealed into the line: its last 66 bytes hold it */
                memcpy(last.hash, line + len - 3 - SHA256_HEX_LEN, SHA256_HEX_LEN);
                last.hash[SHA256_HEX_LEN] = '\0';
                last.seq = seq + 1;
                last.valid = true;
        }
        free(line);
out:
        flock(kept.lock, LOCK_UN);
        if (rc < 0)
                forget();
        return rc;
}

/* Appends one record; what (a format): the record's subject, worded only for the
 * warning. */
static void record(const char *fields, const char *what, ...) __attribute__((format(printf, 2, 3)));
static void record(const char *fields, const char *what, ...)
{
        osvm_err e = {0};
        pthread_mutex_lock(&audit_mu);
        if (!fields)
                err_set(&e, ENOMEM, "could not encode the record");
        if (!fields || append(fields, &e) < 0) {
                char subject[300];
                va_list ap;
                va_start(ap, what);
                vsnprintf(subject, sizeof(subject), what, ap);
                va_end(ap);
                log_msg(audit_warned ? LOG_DEBUG : LOG_WARN, "audit: %s was not recorded: %s",
                        subject, e.msg);
                audit_warned = true;
        }
        pthread_mutex_unlock(&audit_mu);
}

void mcp_audit_record(struct mcp_audit_call *a)
{
        if (!audit_off()) {
                _cleanup_free_ char *fields = call_fields(a);
                record(fields, "the call of %s/%s", a->dec->policy.server, a->dec->policy.tool);
        }
        free(a->known);
        a->known = NULL;
}

void mcp_audit_secret(const struct mcp_audit_secret *s)
{
        if (audit_off())
                return;
        _cleanup_free_ char *fields = secret_fields(s);
        record(fields, "a use of secret %s by %s", s->secret, s->server);
}

/* ---- verify ---- */

struct verify {
        strbuf *out;
        unsigned problems;
        char prev[SHA256_HEX_LEN + 1];
        json_int_t seq;
        bool started;
        bool rotated; /* the oldest file is a rotated one: the chain may start later */
        size_t records;
};

static void problem(struct verify *v, const char *file, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void problem(struct verify *v, const char *file, size_t line, const char *fmt, ...)
{
        if (++v->problems > 50)
                return;
        char buf[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        _cleanup_free_ char *shown = text_sanitize(file, 0);
        sb_addf(v->out, "%s line %zu: %s\n", shown, line, buf);
}

/* Checks one line; the chain goes on from it whatever it holds. */
static void verify_line(struct verify *v, const char *file, size_t no, const char *s, size_t n)
{
        char actual[SHA256_HEX_LEN + 1];
        sha256_hex(s, n, actual); /* what a damaged line is chained by */
        json_error_t jerr;
        json_t *j = json_loadb(s, n, 0, &jerr);
        const char *hash = json_string_value(json_object_get(j, "hash"));
        const char *prev = json_string_value(json_object_get(j, "prev"));
        json_t *seqj = json_object_get(j, "seq");
        static const char tail_start[] = ",\"hash\":\"";
        if (!j || !hash || !prev || !json_is_integer(seqj) || n < AUDIT_HASH_TAIL + 2 ||
            memcmp(s + n - AUDIT_HASH_TAIL, tail_start, sizeof(tail_start) - 1)) {
                problem(v, file, no, "not an audit record (%s)",
                        j ? "a field is missing or the line is reformatted" : "not JSON");
                json_decref(j);
                memcpy(v->prev, actual, sizeof(actual));
                v->seq = -2;
                v->started = true;
                return;
        }
        /* the hash is of the line as written, without its "hash" field */
        size_t bn = n - AUDIT_HASH_TAIL;
        char *b = xmalloc(bn + 2);
        memcpy(b, s, bn);
        b[bn] = '}';
        b[bn + 1] = '\0';
        char want[SHA256_HEX_LEN + 1];
        sha256_hex(b, bn + 1, want);
        free(b);
        json_int_t seq = json_integer_value(seqj);
        if (strcmp(want, hash) != 0)
                problem(v, file, no, "record %lld was edited (its hash does not match its content)",
                        (long long)seq);
        if (!v->started) {
                if (seq != 0 && !v->rotated)
                        problem(v, file, no,
                                "the log starts at record %lld: the records before it were "
                                "removed",
                                (long long)seq);
                else if (seq != 0)
                        sb_addf(v->out,
                                "note: the log starts at record %lld (the ones before were rotated "
                                "away)\n",
                                (long long)seq);
        } else if (strcmp(prev, v->prev) != 0) {
                if (v->seq >= 0 && seq > v->seq + 1)
                        problem(v, file, no,
                                "record %lld does not follow record %lld: record%s %lld%s%.0lld "
                                "%s removed",
                                (long long)seq, (long long)v->seq, seq > v->seq + 2 ? "s" : "",
                                (long long)v->seq + 1, seq > v->seq + 2 ? " to " : "",
                                seq > v->seq + 2 ? (long long)seq - 1 : 0LL,
                                seq > v->seq + 2 ? "were" : "was");
                else if (v->seq >= 0 && seq <= v->seq)
                        problem(v, file, no,
                                "record %lld comes after record %lld: the lines were reordered "
                                "or repeated",
                                (long long)seq, (long long)v->seq);
                else
                        problem(v, file, no,
                                "record %lld does not follow the line before it (its prev hash "
                                "does not match)",
                                (long long)seq);
        }
        memcpy(v->prev, hash, SHA256_HEX_LEN + 1);
        v->seq = seq;
        v->started = true;
        v->records++;
        json_decref(j);
}

static int verify_file(struct verify *v, const char *path, osvm_err *e)
{
        char *data = NULL;
        size_t len = 0;
        if (fs_read_file(path, (size_t)1 << 30, &data, &len, e) < 0)
                return -1;
        _cleanup_free_ char *name = xstrdup(strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
        size_t no = 0;
        for (size_t off = 0; off < len;) {
                char *nl = memchr(data + off, '\n', len - off);
                size_t n = nl ? (size_t)(nl - (data + off)) : len - off;
                no++;
                if (!nl)
                        problem(v, name, no, "the last line is cut short (no newline)");
                verify_line(v, name, no, data + off, n);
                off += n + 1;
        }
        free(data);
        return 0;
}

int mcp_audit_verify(const char *path, strbuf *report, size_t *records, osvm_err *e)
{
        struct verify v = {.out = report, .seq = -1};
        memcpy(v.prev, zero_hash, sizeof(zero_hash));
        bool any = false;
        for (unsigned i = AUDIT_KEEP; i >= 1; i--) {
                _cleanup_free_ char *old = xasprintf("%s.%u", path, i);
                if (access(old, F_OK) != 0)
                        continue;
                v.rotated = !any;
                if (verify_file(&v, old, e) < 0)
                        return -1;
                any = true;
        }
        if (access(path, F_OK) == 0) {
                if (verify_file(&v, path, e) < 0)
                        return -1;
        } else if (!any) {
                return err_set(e, ENOENT, "no audit log at %s (no call was recorded yet)", path);
        }
        if (v.problems > 50)
                sb_addf(report, "... and %u more problems\n", v.problems - 50);
        if (records)
                *records = v.records;
        return (int)v.problems;
}
