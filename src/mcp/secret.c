/*
 * osvm's secrets: values a sandboxed MCP server may use but never holds.
 * They are kept in one file of the state directory, <state>/secrets.json
 * (0600, in a 0700 folder), a JSON object of name -> value; osvm refuses a
 * file that others may read. The desktop keyring (libsecret) is not used by
 * this build: `osvm secret list` says which store holds them.
 *
 * A server's policy binds a secret to a variable of its environment and to
 * the hosts (and headers) where it may be sent; the server's variable holds
 * a placeholder, and osvm's proxy (proxy.c) puts the value in its place on
 * requests to those hosts only. docs/mcp-sandbox.md#secrets.
 */
#include "mcp/mcp.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECRET_FILE      "secrets.json"
#define SECRET_FILE_MAX  (4u * 1024 * 1024)
#define SECRET_NAME_MAX  64u
#define PLACEHOLDER_HEAD "osvm_secret_"

static pthread_mutex_t store_mu = PTHREAD_MUTEX_INITIALIZER;

bool mcp_secret_name_ok(const char *name)
{
        size_t n = strlen(name);
        if (n == 0 || n > SECRET_NAME_MAX)
                return false;
        for (const char *c = name; *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                      (*c >= '0' && *c <= '9') || *c == '_' || *c == '-' || *c == '.'))
                        return false;
        return true;
}

const char *mcp_secret_value_problem(const char *v, size_t len)
{
        if (len == 0)
                return "the value is empty";
        if (len > MCP_SECRET_VALUE_MAX)
                return "the value is longer than 8192 bytes";
        if (strlen(v) != len)
                return "the value holds a NUL byte";
        if (!text_header_value_ok(v))
                return "the value holds a control character (it is sent in an HTTP header)";
        return NULL;
}

char *mcp_secret_store_path(void)
{
        const char *f = getenv("OSVM_SECRETS_FILE");
        if (f && *f)
                return xstrdup(f);
        _cleanup_free_ char *dir = paths_state_dir();
        return xasprintf("%s/" SECRET_FILE, dir);
}

char *mcp_secret_store_text(void)
{
        _cleanup_free_ char *p = mcp_secret_store_path();
        _cleanup_free_ char *shown = text_sanitize(p, 0);
        return xasprintf("a file readable by you alone (0600): %s (the desktop keyring, libsecret, "
                         "is not used by this build)",
                         shown);
}

/* The store as an object (empty when there is no file yet); NULL with e. */
static json_t *load(const char *path, osvm_err *e)
{
        /* what is read is the file checked: one open, no link followed */
        struct stat st;
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0 && errno == ENOENT)
                return json_object();
        if (fd < 0 && errno != ELOOP) {
                err_sys(e, "reading the secret store %s", path);
                return NULL;
        }
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
                err_set(e, EPERM, "the secret store %s is not a regular file of yours", path);
                return NULL;
        }
        if (st.st_mode & 077) {
                err_set(e, EPERM,
                        "the secret store %s may be read by others (mode %03o): osvm does not use "
                        "it; chmod 600 it, or remove it and set the secrets again",
                        path, (unsigned)(st.st_mode & 0777));
                return NULL;
        }
        char *text = NULL;
        size_t len = 0;
        if (fs_read_fd(fd, path, SECRET_FILE_MAX, &text, &len, e) < 0)
                return NULL;
        json_error_t je;
        json_t *j = json_loadb(text, len, 0, &je);
        explicit_bzero(text, len);
        free(text);
        if (!json_is_object(j)) {
                json_decref(j);
                err_set(e, EINVAL, "the secret store %s is not a JSON object (line %d)", path,
                        je.line);
                return NULL;
        }
        return j;
}

static int save(const char *path, json_t *j, osvm_err *e)
{
        _cleanup_free_ char *dir = fs_dirname(path);
        if (fs_mkdir_p(dir, 0700, e) < 0)
                return -1;
        char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
        if (!text)
                return err_set(e, ENOMEM, "encoding the secret store");
        size_t n = strlen(text);
        int r = fs_write_atomic(path, text, n, 0600, e);
        explicit_bzero(text, n);
        free(text);
        return r;
}

int mcp_secret_set(const char *name, const char *value, size_t len, osvm_err *e)
{
        if (!mcp_secret_name_ok(name))
                return err_set(e, EINVAL,
                               "not a secret name: use 1 to 64 letters, digits, '_', '-' or '.'");
        const char *why = mcp_secret_value_problem(value, len);
        if (why)
                return err_set(e, EINVAL, "secret %s: %s", name, why);
        _cleanup_free_ char *path = mcp_secret_store_path();
        pthread_mutex_lock(&store_mu);
        int r = -1;
        json_t *j = load(path, e);
        if (j) {
                json_object_set_new(j, name, json_stringn(value, len));
                r = save(path, j, e);
                json_decref(j);
        }
        pthread_mutex_unlock(&store_mu);
        return r;
}

int mcp_secret_rm(const char *name, osvm_err *e)
{
        _cleanup_free_ char *path = mcp_secret_store_path();
        pthread_mutex_lock(&store_mu);
        int r = -1;
        json_t *j = load(path, e);
        if (j) {
                if (json_object_del(j, name) < 0)
                        r = err_set(e, ENOENT, "no secret named %s", name);
                else
                        r = save(path, j, e);
                json_decref(j);
        }
        pthread_mutex_unlock(&store_mu);
        return r;
}

char *mcp_secret_get(const char *name, osvm_err *e)
{
        _cleanup_free_ char *path = mcp_secret_store_path();
        pthread_mutex_lock(&store_mu);
        json_t *j = load(path, e);
        pthread_mutex_unlock(&store_mu);
        if (!j)
                return NULL;
        const char *v = json_string_value(json_object_get(j, name));
        char *out = v && !mcp_secret_value_problem(v, strlen(v)) ? xstrdup(v) : NULL;
        json_decref(j);
        if (!out)
                err_set(e, ENOENT, "no secret named %s (osvm secret set %s)", name, name);
        return out;
}

int mcp_secret_names(struct iso_strlist *out, osvm_err *e)
{
        *out = (struct iso_strlist){0};
        _cleanup_free_ char *path = mcp_secret_store_path();
        pthread_mutex_lock(&store_mu);
        json_t *j = load(path, e);
        pthread_mutex_unlock(&store_mu);
        if (!j)
                return -1;
        out->v = xcalloc(json_object_size(j) + 1, sizeof(char *));
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) out->v[out->n++] = xstrdup(k);
        json_decref(j);
        return 0;
}

char *mcp_secret_placeholder(void)
{
        unsigned char r[16];
        size_t got = 0;
        while (got < sizeof(r)) {
                ssize_t n = getrandom(r + got, sizeof(r) - got, 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        log_error("getrandom: %s", strerror(errno));
                        abort();
                }
                got += (size_t)n;
        }
        strbuf b = {0};
        sb_add(&b, PLACEHOLDER_HEAD);
        for (size_t i = 0; i < sizeof(r); i++)
                sb_addf(&b, "%02x", r[i]);
        return sb_steal(&b);
}
