/*
 * osvm's secrets: values a sandboxed MCP server may use but never holds.
 * They are kept in the desktop keyring where one runs (a Secret Service on
 * the session bus, reached through libsecret, which is loaded only then),
 * else in one file of the state directory, <state>/secrets.json (0600, in a
 * 0700 folder), a JSON object of name -> value; osvm refuses a file that
 * others may read. $OSVM_SECRET_STORE (auto, file, keyring) chooses;
 * $OSVM_SECRETS_FILE names the file and means the file. `osvm secret list`
 * says which store holds them.
 *
 * A server's policy binds a secret to a variable of its environment and to
 * the hosts (and headers) where it may be sent; the server's variable holds
 * a placeholder, and osvm's proxy (proxy.c) puts the value in its place on
 * requests to those hosts only. docs/mcp-sandbox.md#secrets.
 */
#include "mcp/mcp.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libsecret/secret.h>
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

/* ---- the desktop keyring ----
 *
 * libsecret is opened at run time, and only when a session bus is there to
 * look on: osvm needs neither it nor GLib on a host without a desktop. Its
 * functions are reached through this table. A keyring "runs" when a Secret
 * Service owns its name on the session bus now; osvm does not start one.
 */
static const SecretSchema schema = {
    .name = "org.osvm.Secret",
    .flags = SECRET_SCHEMA_NONE,
    .attributes = {{"name", SECRET_SCHEMA_ATTRIBUTE_STRING}, {"NULL", 0}},
};

static struct {
        bool tried, usable;
        char why[256]; /* why not, or the Secret Service's bus name */
        SecretService *(*service_get_sync)(SecretServiceFlags, GCancellable *, GError **);
        gboolean (*store_sync)(const SecretSchema *, const gchar *, const gchar *, const gchar *,
                               GCancellable *, GError **, ...);
        gchar *(*lookup_sync)(const SecretSchema *, GCancellable *, GError **, ...);
        gboolean (*clear_sync)(const SecretSchema *, GCancellable *, GError **, ...);
        GList *(*search_sync)(const SecretSchema *, SecretSearchFlags, GCancellable *, GError **,
                              ...);
        GHashTable *(*get_attributes)(SecretRetrievable *);
        void (*password_free)(gchar *);
        gchar *(*name_owner)(GDBusProxy *);
        gpointer (*hash_lookup)(GHashTable *, gconstpointer);
        void (*hash_unref)(GHashTable *);
        void (*list_free_full)(GList *, GDestroyNotify);
        void (*object_unref)(gpointer);
        void (*error_free)(GError *);
        void (*g_free)(gpointer);
} kr;

static void *sym(void *h, const char *name, bool *ok)
{
        void *f = dlsym(h, name);
        if (!f)
                *ok = false;
        return f;
}

/* Whether a keyring runs (once a process; under store_mu). */
static bool keyring_usable(void)
{
        if (kr.tried)
                return kr.usable;
        kr.tried = true;
        const char *bus = getenv("DBUS_SESSION_BUS_ADDRESS");
        const char *rt = getenv("XDG_RUNTIME_DIR");
        _cleanup_free_ char *sock = rt && *rt ? xasprintf("%s/bus", rt) : NULL;
        if (!(bus && *bus) && !(sock && access(sock, F_OK) == 0)) {
                snprintf(kr.why, sizeof(kr.why), "no session bus (DBUS_SESSION_BUS_ADDRESS)");
                return false;
        }
        void *h = dlopen("libsecret-1.so.0", RTLD_NOW | RTLD_LOCAL);
        if (!h) {
                snprintf(kr.why, sizeof(kr.why), "libsecret is not installed (libsecret-1-0)");
                return false;
        }
        bool ok = true;
        *(void **)&kr.service_get_sync = sym(h, "secret_service_get_sync", &ok);
        *(void **)&kr.store_sync = sym(h, "secret_password_store_sync", &ok);
        *(void **)&kr.lookup_sync = sym(h, "secret_password_lookup_sync", &ok);
        *(void **)&kr.clear_sync = sym(h, "secret_password_clear_sync", &ok);
        *(void **)&kr.search_sync = sym(h, "secret_password_search_sync", &ok);
        *(void **)&kr.get_attributes = sym(h, "secret_retrievable_get_attributes", &ok);
        *(void **)&kr.password_free = sym(h, "secret_password_free", &ok);
        *(void **)&kr.name_owner = sym(h, "g_dbus_proxy_get_name_owner", &ok);
        *(void **)&kr.hash_lookup = sym(h, "g_hash_table_lookup", &ok);
        *(void **)&kr.hash_unref = sym(h, "g_hash_table_unref", &ok);
        *(void **)&kr.list_free_full = sym(h, "g_list_free_full", &ok);
        *(void **)&kr.object_unref = sym(h, "g_object_unref", &ok);
        *(void **)&kr.error_free = sym(h, "g_error_free", &ok);
        *(void **)&kr.g_free = sym(h, "g_free", &ok);
        if (!ok) { /* (never closed: GLib cannot be unloaded) */
                snprintf(kr.why, sizeof(kr.why), "libsecret lacks a function osvm uses");
                return false;
        }
        GError *err = NULL;
        SecretService *svc = kr.service_get_sync(SECRET_SERVICE_NONE, NULL, &err);
        if (!svc) {
                _cleanup_free_ char *m = text_sanitize(err ? err->message : "?", 0);
                snprintf(kr.why, sizeof(kr.why), "the session bus: %s", m);
                if (err)
                        kr.error_free(err);
                return false;
        }
        gchar *owner = kr.name_owner((GDBusProxy *)svc);
        kr.object_unref(svc);
        if (!owner) {
                snprintf(kr.why, sizeof(kr.why), "no Secret Service runs on the session bus");
                return false;
        }
        _cleanup_free_ char *shown = text_sanitize(owner, 0);
        kr.g_free(owner);
        snprintf(kr.why, sizeof(kr.why), "%s", shown);
        kr.usable = true;
        return true;
}

enum store { STORE_FILE, STORE_KEYRING };

/* Which store this call uses (under store_mu); -1 with e when the keyring is
 * asked for and none runs, or $OSVM_SECRET_STORE is not a store. */
static int which_store(osvm_err *e)
{
        const char *f = getenv("OSVM_SECRETS_FILE");
        const char *want = getenv("OSVM_SECRET_STORE");
        if (!want || !*want || !strcmp(want, "auto"))
                return f && *f ? STORE_FILE : keyring_usable() ? STORE_KEYRING : STORE_FILE;
        if (!strcmp(want, "file"))
                return STORE_FILE;
        if (!strcmp(want, "keyring")) {
                if (keyring_usable())
                        return STORE_KEYRING;
                return err_set(e, ENOENT,
                               "OSVM_SECRET_STORE=keyring, but the desktop keyring cannot be "
                               "used: %s",
                               kr.why);
        }
        _cleanup_free_ char *shown = text_sanitize(want, 0);
        return err_set(e, EINVAL, "OSVM_SECRET_STORE=%s: not a store (auto, file or keyring)",
                       shown);
}

/* e from a GError of the keyring, which it frees. */
static int keyring_error(GError *err, const char *what, osvm_err *e)
{
        _cleanup_free_ char *m = text_sanitize(err ? err->message : "it failed", 0);
        if (err)
                kr.error_free(err);
        return err_set(e, EIO, "the desktop keyring: %s: %s", what, m);
}

static int keyring_set(const char *name, const char *value, osvm_err *e)
{
        GError *err = NULL;
        _cleanup_free_ char *label = xasprintf("osvm secret %s", name);
        if (!kr.store_sync(&schema, SECRET_COLLECTION_DEFAULT, label, value, NULL, &err, "name",
                           name, NULL))
                return keyring_error(err, "storing the secret", e);
        return 0;
}

/* The value, a new string; NULL with e (ENOENT when there is none). */
static char *keyring_get(const char *name, osvm_err *e)
{
        GError *err = NULL;
        gchar *v = kr.lookup_sync(&schema, NULL, &err, "name", name, NULL);
        if (!v) {
                if (err)
                        keyring_error(err, "looking the secret up", e);
                else
                        err_set(e, ENOENT, "no secret named %s (osvm secret set %s)", name, name);
                return NULL;
        }
        char *out = mcp_secret_value_problem(v, strlen(v)) ? NULL : xstrdup(v);
        kr.password_free(v); /* (it clears the memory) */
        if (!out)
                err_set(e, EINVAL, "the secret %s in the desktop keyring is not a value osvm sends",
                        name);
        return out;
}

static int keyring_rm(const char *name, osvm_err *e)
{
        GError *err = NULL;
        if (!kr.clear_sync(&schema, NULL, &err, "name", name, NULL)) {
                if (err)
                        return keyring_error(err, "removing the secret", e);
                return err_set(e, ENOENT, "no secret named %s", name);
        }
        return 0;
}

static int keyring_names(struct iso_strlist *out, osvm_err *e)
{
        GError *err = NULL;
        GList *items = kr.search_sync(&schema, SECRET_SEARCH_ALL, NULL, &err, NULL);
        if (!items && err)
                return keyring_error(err, "listing the secrets", e);
        size_t n = 0;
        for (GList *l = items; l; l = l->next)
                n++;
        out->v = xcalloc(n + 1, sizeof(char *));
        for (GList *l = items; l; l = l->next) {
                GHashTable *attrs = kr.get_attributes(l->data);
                const char *name = attrs ? kr.hash_lookup(attrs, "name") : NULL;
                if (name && mcp_secret_name_ok(name)) /* (another program may have written it) */
                        out->v[out->n++] = xstrdup(name);
                if (attrs)
                        kr.hash_unref(attrs);
        }
        kr.list_free_full(items, kr.object_unref);
        return 0;
}

char *mcp_secret_store_text(void)
{
        pthread_mutex_lock(&store_mu);
        osvm_err e = {0};
        int st = which_store(&e);
        bool keyring_runs = keyring_usable();
        char why[sizeof(kr.why)];
        snprintf(why, sizeof(why), "%s", kr.why);
        pthread_mutex_unlock(&store_mu);
        if (st < 0)
                return xstrdup(e.msg);
        if (st == STORE_KEYRING)
                return xasprintf("the desktop keyring (libsecret; the Secret Service %s)", why);
        _cleanup_free_ char *p = mcp_secret_store_path();
        _cleanup_free_ char *shown = text_sanitize(p, 0);
        if (keyring_runs)
                return xasprintf("a file readable by you alone (0600): %s (chosen by "
                                 "$OSVM_SECRET_STORE or $OSVM_SECRETS_FILE over the desktop "
                                 "keyring that runs)",
                                 shown);
        return xasprintf("a file readable by you alone (0600): %s (no desktop keyring to use: %s)",
                         shown, why);
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
        int r = -1, st = which_store(e);
        if (st == STORE_KEYRING) {
                r = keyring_set(name, value, e);
                pthread_mutex_unlock(&store_mu);
                return r;
        }
        json_t *j = st < 0 ? NULL : load(path, e);
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
        int r = -1, st = which_store(e);
        if (st == STORE_KEYRING) {
                r = keyring_rm(name, e);
                pthread_mutex_unlock(&store_mu);
                return r;
        }
        json_t *j = st < 0 ? NULL : load(path, e);
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
        int st = which_store(e);
        if (st == STORE_KEYRING) {
                char *v = keyring_get(name, e);
                pthread_mutex_unlock(&store_mu);
                return v;
        }
        json_t *j = st < 0 ? NULL : load(path, e);
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
        int st = which_store(e);
        if (st == STORE_KEYRING) {
                int r = keyring_names(out, e);
                pthread_mutex_unlock(&store_mu);
                return r;
        }
        json_t *j = st < 0 ? NULL : load(path, e);
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
