/*
 * The server sandbox: a stdio MCP server started confined (src/sandbox/),
 * its only way out osvm's proxy (proxy.c).
 *
 * What the server sees in the full tier: an empty read-only root holding
 * the system's software directories (/usr, /bin, /sbin, /lib*), the /etc
 * files programs need (the loader cache, CA certificates, name service
 * switch, hosts, time zone), its command's own install prefix when that is
 * elsewhere, the package its arguments name (the folder above their
 * node_modules, or their folder), its microvm_mounts, a private /tmp (also
 * its HOME), its own /proc and a minimal /dev. Not the user's home, not
 * /root, /var, /run, /srv, /mnt or the host's /tmp: where a package or a
 * command sits in a folder that broad, a narrower part of it is bound
 * (too_broad).
 */
#include "mcp/tls.h"
#include "mcp/transport.h"
#include "sandbox/sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The proxy's port on the sandbox's own loopback. */
#define SANDBOX_PROXY_PORT 3128
/* Where the sandbox sees the session CA's folder (ca.pem, bundle.pem). */
#define SANDBOX_CA_DIR "/etc/osvm-session-ca"

static const char *const system_dirs[] = {"/usr",   "/bin",   "/sbin",  "/lib",
                                          "/lib64", "/lib32", "/libx32"};
static const char *const etc_files[] = {
    "/etc/ld.so.cache", "/etc/ld.so.conf",      "/etc/ld.so.conf.d",
    "/etc/ssl",         "/etc/ca-certificates", "/etc/ca-certificates.conf",
    "/etc/pki",         "/etc/alternatives",    "/etc/nsswitch.conf",
    "/etc/hosts",       "/etc/localtime",       "/etc/protocols",
    "/etc/services",    "/etc/mime.types",      "/etc/host.conf",
    "/etc/gai.conf",
};
static const char *const devices[] = {"/dev/null", "/dev/zero", "/dev/full", "/dev/random",
                                      "/dev/urandom"};
/* Variables of the user's environment a server may have: nothing secret. */
static const char *const env_kept[] = {"LANG", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "TZ"};

struct mcp_confined {
        enum mcp_tier tier;
        struct mcp_proxy *proxy;
        struct sbx_cgroup cg;
        bool has_cg;
        char *tmpdir; /* the reduced tier's private temporary directory */
};

const char *mcp_tier_name(enum mcp_tier t)
{
        return t == MCP_TIER_SANDBOX ? "sandbox" : t == MCP_TIER_REDUCED ? "reduced" : "host";
}

const char *mcp_server_where(const struct mcp_server_conf *s, enum mcp_tier t)
{
        return s->kind == MCP_KIND_HTTP ? "remote" : mcp_tier_name(t);
}

static bool env_is(const char *name)
{
        const char *v = getenv(name);
        return v && !strcmp(v, "1");
}

enum mcp_tier mcp_sandbox_tier(char *why, size_t n)
{
        char uw[200];
        if (sbx_userns_usable(uw, sizeof(uw))) {
                snprintf(why, n, "%s", "");
                return MCP_TIER_SANDBOX;
        }
        if (!env_is(MCP_NO_LANDLOCK_ENV) && sbx_landlock_abi() >= 1) {
                snprintf(why, n, "no user namespaces (%s)", uw);
                return MCP_TIER_REDUCED;
        }
        snprintf(why, n, "no user namespaces (%s) and no Landlock (%s)", uw,
                 env_is(MCP_NO_LANDLOCK_ENV) ? MCP_NO_LANDLOCK_ENV "=1"
                                             : "the kernel does not have it");
        return MCP_TIER_HOST;
}

/* How the limits hold here: "cgroup v2 and rlimits", or "rlimits only". */
static const char *limits_how(char *buf, size_t n)
{
        const char *kind = sbx_cgroup_kind(NULL, 0);
        snprintf(buf, n, "%s%s", kind ? kind : "rlimits only", kind ? " and rlimits" : "");
        return buf;
}

char *mcp_sandbox_text(const struct iso_sandbox *sb, enum mcp_tier tier)
{
        strbuf b = {0};
        char why[400];
        mcp_sandbox_tier(why, sizeof(why));
        if (tier == MCP_TIER_HOST)
                sb_addf(&b, "NO SANDBOX here (%s); fallback %s", why,
                        sb->fallback == ISO_FALLBACK_DENY ? "deny: it does not start"
                                                          : "direct: it runs on the host");
        else
                sb_addf(&b, "%s%s%s%s", tier == MCP_TIER_REDUCED ? "reduced sandbox (" : "sandbox",
                        tier == MCP_TIER_REDUCED ? why : "",
                        tier == MCP_TIER_REDUCED ? ": Landlock, seccomp, limits)" : "",
                        tier == MCP_TIER_REDUCED && sbx_landlock_abi() < 4
                            ? " [its TCP is not walled off: Landlock before ABI 4]"
                            : "");
        sb_add(&b, "; mounts: ");
        if (!sb->mounts->n)
                sb_add(&b, "none");
        for (size_t i = 0; i < sb->mounts->n; i++) {
                const struct iso_mount *m = &sb->mounts->v[i];
                sb_addf(&b, "%s", i ? ", " : "");
                sb_add_sanitized(&b, m->host_path, strlen(m->host_path), 0);
                if (strcmp(m->host_path, m->vm_path) && tier == MCP_TIER_SANDBOX) {
                        sb_add(&b, " at ");
                        sb_add_sanitized(&b, m->vm_path, strlen(m->vm_path), 0);
                }
                sb_add(&b, m->readonly ? " (ro)" : " (rw)");
        }
        sb_add(&b, "; network: ");
        if (!sb->allow->n)
                sb_add(&b, "none");
        for (size_t i = 0; i < sb->allow->n; i++) {
                sb_addf(&b, "%s", i ? ", " : "");
                sb_add_sanitized(&b, sb->allow->v[i], strlen(sb->allow->v[i]), 0);
        }
        if (sb->allow->n)
                sb_add(&b, " (through osvm's proxy)");
        sb_addf(&b, "; limits: %u MiB, %u processes", sb->memory_mb, sb->max_procs);
        if (sb->vcpus)
                sb_addf(&b, ", %u CPU%s%s", sb->vcpus, sb->vcpus == 1 ? "" : "s",
                        sbx_cgroup_usable() ? "" : " (not enforced: no cgroup)");
        char how[64];
        sb_addf(&b, " (%s)", limits_how(how, sizeof(how)));
        for (size_t i = 0; sb->secrets && i < sb->secrets->n; i++) {
                const struct iso_secret_bind *s = &sb->secrets->v[i];
                sb_add(&b, i ? ", " : "; secrets: ");
                sb_add_sanitized(&b, s->env, strlen(s->env), 0);
                sb_add(&b, " (");
                sb_add_sanitized(&b, s->secret, strlen(s->secret), 0);
                sb_add(&b, ") for ");
                for (size_t k = 0; k < s->hosts.n; k++) {
                        sb_add(&b, k ? "," : "");
                        sb_add_sanitized(&b, s->hosts.v[k], strlen(s->hosts.v[k]), 0);
                }
                if (s->headers.n)
                        sb_add(&b, " in headers ");
                for (size_t k = 0; k < s->headers.n; k++) {
                        sb_add(&b, k ? "," : "");
                        sb_add_sanitized(&b, s->headers.v[k], strlen(s->headers.v[k]), 0);
                }
                sb_add(&b, s->body ? " and the body" : "");
        }
        return sb_steal(&b);
}

json_t *mcp_sandbox_json(const struct iso_sandbox *sb, enum mcp_tier tier)
{
        char why[400], how[64];
        mcp_sandbox_tier(why, sizeof(why));
        json_t *mounts = json_array(), *allow = json_array();
        for (size_t i = 0; i < sb->mounts->n; i++) {
                const struct iso_mount *m = &sb->mounts->v[i];
                json_array_append_new(
                    mounts, json_pack("{s:s, s:s, s:b}", "host_path", m->host_path, "path",
                                      tier == MCP_TIER_SANDBOX ? m->vm_path : m->host_path,
                                      "readonly", m->readonly));
        }
        for (size_t i = 0; i < sb->allow->n; i++)
                json_array_append_new(allow, json_string(sb->allow->v[i]));
        return json_pack("{s:s, s:s, s:s, s:o, s:o, s:{s:i, s:i, s:i, s:s}, s:s}", "tier",
                         mcp_tier_name(tier), "why", sb->why, "reduced_because",
                         tier == MCP_TIER_SANDBOX ? "" : why, "mounts", mounts, "network_allow",
                         allow, "limits", "memory_mb", (int)sb->memory_mb, "max_processes",
                         (int)sb->max_procs, "vcpus", (int)sb->vcpus, "enforced_by",
                         limits_how(how, sizeof(how)), "fallback", iso_fallback_name(sb->fallback));
}

/* ---- a list of strings, owned ---- */

struct strs {
        size_t n, cap;
        char **v;
};

static void strs_add(struct strs *s, char *owned)
{
        if (s->n + 2 > s->cap) {
                s->cap = s->cap ? 2 * s->cap : 16;
                s->v = xrealloc(s->v, s->cap * sizeof(char *));
        }
        s->v[s->n++] = owned;
        s->v[s->n] = NULL;
}

static void strs_free(struct strs *s)
{
        for (size_t i = 0; i < s->n; i++)
                free(s->v[i]);
        free(s->v);
        memset(s, 0, sizeof(*s));
}

static bool under_system(const char *path)
{
        for (size_t i = 0; i < sizeof(system_dirs) / sizeof(system_dirs[0]); i++)
                if (fs_under(path, system_dirs[i]))
                        return true;
        return false;
}

/*
 * Whether binding dir would show the server more than it needs: the root,
 * the user's home or a folder above it, a folder that holds osvm's own
 * configuration or state (the registry, the audit log, the secrets file),
 * or the host's shared temporary folders. A server's script in the home
 * (python3 ~/server.py), a command in ~/.local/bin or a package in
 * ~/node_modules would otherwise bring all of that into its view.
 */
static bool too_broad(const char *dir)
{
        static const char *const shared[] = {"/", "/home", "/tmp", "/var/tmp", "/dev/shm"};
        for (size_t i = 0; i < sizeof(shared) / sizeof(shared[0]); i++)
                if (!strcmp(dir, shared[i]))
                        return true;
        const char *home = getenv("HOME");
        char *own[PATHS_OWN_MAX + 1];
        size_t n = paths_own(own);
        if (home && *home == '/')
                own[n++] = fs_real_or_same(home);
        bool broad = fs_holds_any(dir, own, n);
        for (size_t i = 0; i < n; i++)
                free(own[i]);
        return broad;
}

/* The outermost node_modules folder that file is in, else NULL. A new
 * string. */
static char *outer_node_modules(const char *file)
{
        const char *nm = strstr(file, "/node_modules/");
        return nm ? xstrndup(file, (size_t)(nm - file) + strlen("/node_modules")) : NULL;
}

char *mcp_sandbox_package(const char *file, bool *narrowed)
{
        *narrowed = false;
        char *real = realpath(file, NULL);
        struct stat st;
        if (!real || stat(real, &st) < 0 || !S_ISREG(st.st_mode)) {
                free(real);
                return NULL;
        }
        _cleanup_free_ char *nm = outer_node_modules(real);
        char *root = fs_dirname(nm ? nm : real);
        if (!too_broad(root)) {
                free(real);
                return root;
        }
        free(root);
        *narrowed = true;
        if (nm && !too_broad(nm)) {
                free(real);
                return xstrdup(nm);
        }
        return real;
}

/* The install prefix of the command at real (<prefix>/bin/<cmd> ->
 * <prefix>); where that is too broad, the command's own folder, else the
 * command alone. A new string. */
static char *command_root(const char *real)
{
        _cleanup_free_ char *bin = fs_dirname(real);
        char *prefix = fs_dirname(bin);
        if (strcmp(prefix, "/") && !too_broad(prefix))
                return prefix;
        free(prefix);
        return too_broad(bin) ? xstrdup(real) : xstrdup(bin);
}

/* What the server needs to run, read-only: into ro (paths as the host has them). */
static void needed_paths(char *const *argv, struct strs *ro)
{
        for (size_t i = 0; i < sizeof(system_dirs) / sizeof(system_dirs[0]); i++)
                strs_add(ro, xstrdup(system_dirs[i]));
        for (size_t i = 0; i < sizeof(etc_files) / sizeof(etc_files[0]); i++)
                strs_add(ro, xstrdup(etc_files[i]));
        char *cmd = mcp_command_find(argv[0]);
        char *real = cmd ? realpath(cmd, NULL) : NULL;
        if (real && !under_system(real))
                strs_add(ro, command_root(real)); /* its install prefix */
        if (cmd && strcmp(cmd, real ? real : "") && !under_system(cmd)) {
                /* the name it was found by (a symlink), as well: its folder,
                 * or itself where that is too broad */
                char *dir = fs_dirname(cmd);
                if (strcmp(dir, "/") && !too_broad(dir)) {
                        strs_add(ro, dir);
                } else {
                        free(dir);
                        strs_add(ro, xstrdup(cmd));
                }
        }
        free(real);
        free(cmd);
        for (size_t i = 1; argv[i]; i++) {
                if (argv[i][0] == '-' || !strchr(argv[i], '/'))
                        continue;
                bool narrowed;
                char *root = mcp_sandbox_package(argv[i], &narrowed);
                if (narrowed)
                        log_info("%s: only %s is bound in the sandbox (the folder around it is "
                                 "too broad to show a server)",
                                 argv[i], root);
                if (root && !under_system(root))
                        strs_add(ro, root);
                else
                        free(root);
        }
}

/* Where the binds (nb of them) show the sandbox osvm's own files: into
 * hidden, as the sandbox sees them, to be made empty there. */
static void own_paths_shown(const struct sbx_bind *binds, size_t nb, struct strs *hidden)
{
        char *own[PATHS_OWN_MAX];
        size_t nown = paths_own(own);
        for (size_t i = 0; i < nb; i++) {
                _cleanup_free_ char *src = fs_real_or_same(binds[i].src);
                for (size_t j = 0; j < nown; j++) {
                        if (!fs_under(own[j], src))
                                continue;
                        /* own[j] below src, where the sandbox sees src */
                        size_t l = strlen(src), d = strlen(binds[i].dst);
                        l -= l && src[l - 1] == '/';
                        d -= d && binds[i].dst[d - 1] == '/';
                        strs_add(hidden, xasprintf("%.*s%s", (int)d, binds[i].dst, own[j] + l));
                }
        }
        for (size_t j = 0; j < nown; j++)
                free(own[j]);
}

/* At most this many Landlock rules are made to allow a mount around osvm's
 * own files; past it, the mount is allowed whole (and said). */
#define AROUND_MAX 4096

/*
 * The reduced tier's Landlock allows a folder with everything below it, so a
 * mount that holds osvm's own files (own, nown of them) is allowed around
 * them instead: each entry of dir but the one on the way down to them, and
 * on the way down the names alone. Symbolic links among the entries are left
 * out (a rule follows them). Into ro or rw (by rw) and list; false when there
 * were too many entries (the caller allows dir whole).
 */
static bool allow_around(const char *dir, char *const *own, size_t nown, bool rw, struct strs *ro,
                         struct strs *rwl, struct strs *list, size_t *budget)
{
        for (size_t j = 0; j < nown; j++)
                if (!strcmp(own[j], dir))
                        return true; /* the mount is osvm's own folder: nothing of it */
        DIR *d = opendir(dir);
        if (!d)
                return true; /* nothing to allow */
        strs_add(list, xstrdup(dir));
        bool ok = true;
        struct dirent *e;
        while (ok && (e = readdir(d)) != NULL) {
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                        continue;
                if (*budget == 0) {
                        ok = false;
                        break;
                }
                --*budget;
                char *path = xasprintf("%s%s%s", dir, strcmp(dir, "/") ? "/" : "", e->d_name);
                struct stat st;
                if (lstat(path, &st) < 0 || S_ISLNK(st.st_mode)) {
                        free(path);
                } else if (fs_holds_any(path, own, nown)) {
                        /* (one of osvm's folders itself is allowed nothing) */
                        ok = allow_around(path, own, nown, rw, ro, rwl, list, budget);
                        free(path);
                } else {
                        strs_add(rw ? rwl : ro, path);
                }
        }
        closedir(d);
        return ok;
}

/* The reduced tier's Landlock rules for mount m: the folder whole, or, where
 * it holds osvm's own files, around them. */
static void allow_mount(const char *name, const struct iso_mount *m, char *const *own, size_t nown,
                        struct strs *ro, struct strs *rw, struct strs *list)
{
        _cleanup_free_ char *host = fs_real_or_same(m->host_path);
        if (!fs_holds_any(host, own, nown)) {
                strs_add(m->readonly ? ro : rw, xstrdup(m->host_path));
                return;
        }
        struct strs around[3] = {{0}, {0}, {0}}; /* ro, rw, list */
        size_t budget = AROUND_MAX;
        bool ok = allow_around(host, own, nown, !m->readonly, &around[0], &around[1], &around[2],
                               &budget);
        struct strs *into[3] = {ro, rw, list};
        for (size_t k = 0; k < 3; k++) {
                if (ok) { /* the strings move: around keeps none */
                        for (size_t i = 0; i < around[k].n; i++)
                                strs_add(into[k], around[k].v[i]);
                        around[k].n = 0;
                }
                strs_free(&around[k]);
        }
        if (ok) {
                log_info("%s: its mount of %s is allowed around osvm's own files", name, host);
                return;
        }
        log_warn("%s: its mount of %s holds osvm's own files among more than %d entries, too "
                 "many to allow around them: the reduced sandbox shows them; mount a narrower "
                 "folder",
                 name, host, AROUND_MAX);
        strs_add(m->readonly ? ro : rw, xstrdup(m->host_path));
}

/* argv with its file arguments as real paths: relative ones made absolute
 * (the sandbox's cwd is /), symlinks resolved (only their targets are bound). */
static char **absolute_argv(char *const *argv, struct strs *keep)
{
        size_t n = 0;
        while (argv[n])
                n++;
        char **v = xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++) {
                v[i] = argv[i];
                struct stat st;
                if (i && argv[i][0] != '-' && strchr(argv[i], '/') && stat(argv[i], &st) == 0 &&
                    S_ISREG(st.st_mode)) {
                        char *real = realpath(argv[i], NULL);
                        if (real) {
                                strs_add(keep, real);
                                v[i] = real;
                        }
                }
        }
        return v;
}

static void add_env(struct strs *env, const char *k, const char *v)
{
        strs_add(env, xasprintf("%s=%s", k, v));
}

static bool env_named(const char *kv, const struct strs *names)
{
        for (size_t i = 0; i < names->n; i++) {
                size_t l = strlen(names->v[i]);
                if (!strncmp(kv, names->v[i], l) && kv[l] == '=')
                        return true;
        }
        return false;
}

/* The whitelist, the server's own variables from the registry (less those
 * a secret's placeholder takes), the placeholders, the proxy's. */
static void make_env(struct strs *env, char *const *extra, const struct strs *secret_env,
                     const struct strs *secret_names, const char *home, unsigned port)
{
        add_env(env, "PATH", "/usr/local/bin:/usr/bin:/bin");
        add_env(env, "HOME", home);
        add_env(env, "TMPDIR", home);
        for (size_t i = 0; i < sizeof(env_kept) / sizeof(env_kept[0]); i++) {
                const char *v = getenv(env_kept[i]);
                if (v)
                        add_env(env, env_kept[i], v);
        }
        for (size_t i = 0; extra && extra[i]; i++)
                if (!env_named(extra[i], secret_names))
                        strs_add(env, xstrdup(extra[i]));
        for (size_t i = 0; i < secret_env->n; i++)
                strs_add(env, xstrdup(secret_env->v[i]));
        char http[64], socks[64];
        snprintf(http, sizeof(http), "http://127.0.0.1:%u", port);
        snprintf(socks, sizeof(socks), "socks5h://127.0.0.1:%u", port);
        static const char *const http_vars[] = {
            "HTTP_PROXY",  "HTTPS_PROXY",      "http_proxy",
            "https_proxy", "npm_config_proxy", "npm_config_https_proxy",
            "PIP_PROXY",   "YARN_HTTP_PROXY",  "YARN_HTTPS_PROXY"};
        for (size_t i = 0; i < sizeof(http_vars) / sizeof(http_vars[0]); i++)
                add_env(env, http_vars[i], http);
        add_env(env, "ALL_PROXY", socks);
        add_env(env, "all_proxy", socks);
        add_env(env, "NO_PROXY", "");
        add_env(env, "no_proxy", "");
        add_env(env, "NODE_USE_ENV_PROXY", "1");
        add_env(env, "OSVM_SANDBOX", "1");
}

/* Says a thing about a server once a run. */
static bool first_time(const char *what, const char *name)
{
        static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
        static struct strs said;
        char *key = xasprintf("%s\n%s", what, name);
        pthread_mutex_lock(&mu);
        bool first = true;
        for (size_t i = 0; i < said.n && first; i++)
                first = strcmp(said.v[i], key) != 0;
        if (first && said.n < 256)
                strs_add(&said, key);
        else
                free(key);
        pthread_mutex_unlock(&mu);
        return first;
}

/* The server filter, built once a run (libseccomp's compile is the larger part
 * of its cost) and shared by every spawn: a borrowed program. */
static int server_filter(struct sock_fprog *out, osvm_err *e)
{
        static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
        static struct sock_fprog prog;
        pthread_mutex_lock(&mu);
        int r = prog.filter ? 0 : sbx_server_filter(&prog, e);
        *out = prog;
        pthread_mutex_unlock(&mu);
        return r;
}

static int loopback_listener(uint16_t *port, osvm_err *e)
{
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t l = sizeof(sin);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 128) < 0 ||
            getsockname(fd, (struct sockaddr *)&sin, &l) < 0) {
                err_sys(e, "the sandbox's proxy listener");
                if (fd >= 0)
                        close(fd);
                return -1;
        }
        *port = ntohs(sin.sin_port);
        return fd;
}

bool mcp_confined_set_call(struct mcp_confined *c, const char *call_id, const char *tool,
                           json_t *egress)
{
        if (!c || !c->proxy)
                return false;
        mcp_proxy_set_call(c->proxy, call_id, tool, egress);
        return true;
}

void mcp_confined_end(struct mcp_confined *c)
{
        if (!c)
                return;
        mcp_proxy_stop(c->proxy);
        if (c->has_cg)
                sbx_cgroup_end(&c->cg);
        if (c->tmpdir) {
                /* the reduced tier's files: removed with the server */
                fs_remove_tree(c->tmpdir);
                free(c->tmpdir);
        }
        free(c);
}

/* The server's secrets, ready for its proxy: placeholders made, values read. */
struct secrets {
        size_t n;
        struct mcp_proxy_secret v[MCP_PROXY_SECRETS_MAX];
        struct strs env, names, owned;
        const char *ca_dir; /* the session CA's folder on the host; NULL: no secrets */
};

static void secrets_free(struct secrets *x)
{
        for (size_t i = 0; i < x->n; i++)
                explicit_bzero((char *)x->v[i].value, strlen(x->v[i].value));
        for (size_t i = 0; i < x->env.n; i++)
                explicit_bzero(x->env.v[i], strlen(x->env.v[i]));
        strs_free(&x->env);
        strs_free(&x->names);
        strs_free(&x->owned);
}

static int secrets_make(const char *name, const struct iso_secret_binds *binds, enum mcp_tier tier,
                        struct secrets *x, osvm_err *e)
{
        for (size_t i = 0; binds && i < binds->n && x->n < MCP_PROXY_SECRETS_MAX; i++) {
                const struct iso_secret_bind *b = &binds->v[i];
                strs_add(&x->names, xstrdup(b->env));
                osvm_err ge = {0};
                char *value = mcp_secret_get(b->secret, &ge);
                if (!value) {
                        log_warn("%s: %s: %s is left out of its environment", name, ge.msg, b->env);
                        continue;
                }
                char *ph = mcp_secret_placeholder();
                strs_add(&x->owned, value);
                strs_add(&x->owned, ph);
                strs_add(&x->env, xasprintf("%s=%s", b->env, ph));
                x->v[x->n++] = (struct mcp_proxy_secret){b->secret, ph,          value,
                                                         &b->hosts, &b->headers, b->body};
        }
        if (!x->n)
                return 0;
        x->ca_dir = mcp_tls_session_dir(e);
        if (!x->ca_dir)
                return err_wrap(e, "%s: its secrets", name);
        const char *seen = tier == MCP_TIER_SANDBOX ? SANDBOX_CA_DIR : x->ca_dir;
        strs_add(&x->env, xasprintf("NODE_EXTRA_CA_CERTS=%s/ca.pem", seen));
        static const char *const bundle_vars[] = {"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE",
                                                  "CURL_CA_BUNDLE", "GIT_SSL_CAINFO"};
        for (size_t i = 0; i < sizeof(bundle_vars) / sizeof(bundle_vars[0]); i++) {
                strs_add(&x->env, xasprintf("%s=%s/bundle.pem", bundle_vars[i], seen));
                strs_add(&x->names, xstrdup(bundle_vars[i]));
        }
        strs_add(&x->names, xstrdup("NODE_EXTRA_CA_CERTS"));
        return 0;
}

static int spawn_confined(const char *name, const struct iso_sandbox *sb, char *const *argv,
                          char *const *env, const int stdio[3], pid_t *pid,
                          struct mcp_confined **out, osvm_err *e)
{
        *out = NULL;
        char why[400];
        enum mcp_tier tier = mcp_sandbox_tier(why, sizeof(why));
        if (tier == MCP_TIER_HOST) {
                if (sb->fallback == ISO_FALLBACK_DENY) {
                        err_set(e, EPERM,
                                "%s: refusing to start the server: its policy asks for a sandbox "
                                "(%s) and none can be made here: %s; its fallback is \"deny\"",
                                name, sb->why, why);
                        e->exit = OSVM_EXIT_DENIED;
                        return -1;
                }
                log_warn("%s: NO SANDBOX: its policy asks for one (%s) but none can be made here: "
                         "%s; its fallback is \"direct\": the server runs on the host, unconfined, "
                         "with your files, network and environment (osvm isolation set %s "
                         "fallback=deny refuses instead)",
                         name, sb->why, why, name);
                return 0;
        }
        struct mcp_confined *c = xcalloc(1, sizeof(*c));
        c->tier = tier;
        struct strs keep = {0}, ro = {0}, rw = {0}, envs = {0}, hidden = {0};
        struct strs llro = {0}, llrw = {0}, lllist = {0}; /* the reduced tier's Landlock */
        struct secrets *sec = xcalloc(1, sizeof(*sec));
        char **av = absolute_argv(argv, &keep);
        needed_paths(av, &ro);
        struct sbx_bind *binds = NULL;
        size_t nb = 0;
        struct sock_fprog filter = {0};
        int sp[2] = {-1, -1}, lfd = -1;
        uint16_t port = SANDBOX_PROXY_PORT;
        int rc = -1;
        const char *home = "/tmp";
        if (tier == MCP_TIER_REDUCED) {
                const char *t = getenv("TMPDIR");
                c->tmpdir = xasprintf("%s/osvm-sandbox-XXXXXX", t && *t == '/' ? t : "/tmp");
                if (!mkdtemp(c->tmpdir)) {
                        err_sys(e, "%s: the sandbox's private directory", name);
                        free(c->tmpdir);
                        c->tmpdir = NULL;
                        goto out;
                }
                home = c->tmpdir;
                if ((lfd = loopback_listener(&port, e)) < 0)
                        goto out;
        } else if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sp) < 0) {
                err_sys(e, "%s: the sandbox's bridge", name);
                goto out;
        }
        if (server_filter(&filter, e) < 0)
                goto out;
        if (secrets_make(name, sb->secrets, tier, sec, e) < 0)
                goto out;
        if (sec->ca_dir)
                strs_add(&ro, xstrdup(sec->ca_dir));
        make_env(&envs, env, &sec->env, &sec->names, home, port);

        /* the file system: binds (full tier) or Landlock rules on host paths (reduced) */
        binds = xcalloc(ro.n + sb->mounts->n + 1, sizeof(*binds));
        for (size_t i = 0; i < ro.n; i++)
                binds[nb++] = (struct sbx_bind){
                    ro.v[i],
                    sec->ca_dir && !strcmp(ro.v[i], sec->ca_dir) ? SANDBOX_CA_DIR : ro.v[i], false};
        bool remapped = false;
        for (size_t i = 0; i < sb->mounts->n; i++) {
                const struct iso_mount *m = &sb->mounts->v[i];
                if (!strcmp(m->host_path, "/") || !strcmp(m->vm_path, "/")) {
                        log_warn("%s: a mount of / (the whole host, or over the sandbox's root) is "
                                 "left out",
                                 name);
                        continue;
                }
                binds[nb++] = (struct sbx_bind){m->host_path, m->vm_path, !m->readonly};
                remapped |= strcmp(m->host_path, m->vm_path) != 0;
        }
        /* osvm's own files are never the server's, whatever a mount shows:
         * made empty in the full tier, allowed around in the reduced one */
        if (tier == MCP_TIER_SANDBOX)
                own_paths_shown(binds, nb, &hidden);
        struct sbx_landlock ll = {0};
        if (tier == MCP_TIER_SANDBOX) {
                strs_add(&llro, xstrdup("/"));
                strs_add(&llrw, xstrdup("/tmp"));
                strs_add(&llrw, xstrdup("/dev"));
                for (size_t i = 0; i < sb->mounts->n; i++)
                        if (!sb->mounts->v[i].readonly)
                                strs_add(&llrw, xstrdup(sb->mounts->v[i].vm_path));
        } else {
                for (size_t i = 0; i < ro.n; i++)
                        strs_add(&llro, xstrdup(ro.v[i]));
                char *own[PATHS_OWN_MAX];
                size_t nown = paths_own(own);
                for (size_t i = 0; i < sb->mounts->n; i++)
                        allow_mount(name, &sb->mounts->v[i], own, nown, &llro, &llrw, &lllist);
                for (size_t j = 0; j < nown; j++)
                        free(own[j]);
                strs_add(&llrw, xstrdup(c->tmpdir));
                for (size_t i = 0; i < sizeof(devices) / sizeof(devices[0]); i++)
                        strs_add(&llrw, xstrdup(devices[i]));
        }
        ll.ro = (const char *const *)llro.v;
        ll.nro = llro.n;
        ll.rw = (const char *const *)llrw.v;
        ll.nrw = llrw.n;
        ll.list = (const char *const *)lllist.v;
        ll.nlist = lllist.n;
        ll.connect_port = port;

        /* limits */
        uint64_t mem = (uint64_t)sb->memory_mb << 20;
        struct sbx_rlimit lim[] = {
            {RLIMIT_NPROC, sb->max_procs}, {RLIMIT_CORE, 0}, {RLIMIT_DATA, mem}};
        char cgname[64];
        char nbuf[300];
        snprintf(cgname, sizeof(cgname), "%s",
                 iso_names_problem(name, "x", nbuf, sizeof(nbuf)) ? "server" : name);
        c->has_cg = sbx_cgroup_make(&c->cg, cgname, mem, sb->max_procs, sb->vcpus) == 0;
        uint64_t tmp = (uint64_t)(sb->memory_mb / 2 < ISO_SERVER_TMP_MAX_MB ? sb->memory_mb / 2
                                                                            : ISO_SERVER_TMP_MAX_MB)
                       << 20;
        struct sbx_spec s = {
            .ns = tier == MCP_TIER_SANDBOX ? SBX_NS_ALL : 0,
            .empty_root = tier == MCP_TIER_SANDBOX,
            .stdio = {stdio[0], stdio[1], stdio[2]},
            .rlimits = lim,
            .nrlimits = sizeof(lim) / sizeof(lim[0]),
            .pdeathsig = SIGKILL,
            .seccomp = &filter,
            .exec_fd = -1,
            .path = NULL,
            .argv = av,
            .envp = envs.v,
            .binds = binds,
            .nbinds = nb,
            .hidden = (const char *const *)hidden.v,
            .nhidden = hidden.n,
            .tmp_bytes = tmp ? tmp : (1u << 20),
            .proc_dev = true,
            .cwd = tier == MCP_TIER_SANDBOX ? "/" : c->tmpdir,
            .own_pgroup = true,
            .bridge = tier == MCP_TIER_SANDBOX,
            .bridge_fd = sp[1],
            .bridge_port = port,
            .landlock = sbx_landlock_abi() >= 1 && !env_is(MCP_NO_LANDLOCK_ENV) ? &ll : NULL,
            .cgroup_fds = c->has_cg ? c->cg.procs_fd : NULL,
            .ncgroup_fds = c->has_cg ? (size_t)c->cg.n : 0,
        };
        char *path = mcp_command_find(av[0]);
        if (!path) {
                char hint[256];
                err_set(e, ENOENT, "%s: starting %s: no such command", name, av[0]);
                if (mcp_command_install_hint(av[0], hint, sizeof(hint)))
                        snprintf(e->msg + strlen(e->msg), sizeof(e->msg) - strlen(e->msg), " (%s)",
                                 hint);
                goto free_ll;
        }
        if (path[0] != '/') {
                char *abs = realpath(path, NULL);
                free(path);
                path = abs ? abs : xstrdup(av[0]);
        }
        s.path = path;
        struct sbx_child ch;
        int r = sbx_spawn(&s, &ch, e);
        free(path);
        if (r < 0) {
                err_wrap(e, "%s: starting the server in its sandbox", name);
                goto free_ll;
        }
        close(ch.pidfd);
        if (tier == MCP_TIER_SANDBOX && ch.ns != SBX_NS_ALL) {
                /* never less than the tier said */
                kill(ch.pid, SIGKILL);
                waitpid(ch.pid, NULL, 0);
                err_set(e, EPERM, "%s: the sandbox did not get its namespaces (%s)", name, ch.note);
                goto free_ll;
        }
        if (tier == MCP_TIER_SANDBOX) {
                close(sp[1]);
                sp[1] = -1;
                lfd = sbx_bridge_recv(sp[0], e);
                if (lfd < 0) {
                        kill(ch.pid, SIGKILL);
                        waitpid(ch.pid, NULL, 0);
                        goto free_ll;
                }
        }
        c->proxy = mcp_proxy_start_secrets(name, lfd, sb->allow, sec->v, sec->n, e);
        lfd = -1;
        if (!c->proxy) {
                kill(ch.pid, SIGKILL);
                waitpid(ch.pid, NULL, 0);
                goto free_ll;
        }
        *pid = ch.pid;
        if (first_time("tier", name)) {
                if (!strcmp(sb->why, "\"use_microvm\": true") ||
                    strstr(sb->why, "\"microvm\"") != NULL)
                        log_warn("%s: MicroVM engine not available; running server in sandbox",
                                 name);
                if (tier == MCP_TIER_SANDBOX)
                        log_info("%s: running in its sandbox (%s): namespaces, empty root, "
                                 "seccomp%s, %s%s; network: %zu allowed host%s through osvm",
                                 name, sb->why, s.landlock ? ", Landlock" : "",
                                 c->has_cg ? "" : "rlimits only, ", c->cg.what, sb->allow->n,
                                 sb->allow->n == 1 ? "" : "s");
                else
                        log_warn("%s: REDUCED sandbox: %s; Landlock, seccomp, rlimits%s only "
                                 "(the host's files outside its view are walled off, not "
                                 "hidden)%s%s",
                                 name, why, c->has_cg ? " and cgroups" : "",
                                 remapped ? "; its mounts are at their host paths" : "",
                                 sbx_landlock_abi() < 4
                                     ? "; its TCP is NOT walled off (Landlock before ABI 4 has "
                                       "no network rules): it can connect anywhere"
                                     : "");
        }
        rc = 1;
free_ll:
        strs_free(&llro);
        strs_free(&llrw);
        strs_free(&lllist);
out:
        if (sp[0] >= 0)
                close(sp[0]);
        if (sp[1] >= 0)
                close(sp[1]);
        if (lfd >= 0)
                close(lfd);
        if (c->has_cg)
                sbx_cgroup_close_fds(&c->cg);
        free(binds);
        free(av);
        strs_free(&keep);
        strs_free(&ro);
        strs_free(&rw);
        for (size_t i = 0; i < envs.n; i++)
                explicit_bzero(envs.v[i], strlen(envs.v[i]));
        strs_free(&envs);
        strs_free(&hidden);
        secrets_free(sec);
        free(sec);
        if (rc == 1)
                *out = c;
        else
                mcp_confined_end(c);
        return rc;
}

/* ---- npx and uvx: the package fetched in a step of its own ---- */

#define CACHE_IN_SANDBOX "/osvm-cache"
#define FETCH_WAIT_MS    300000 /* the fetch step's bound */

/* A package runner whose first start fetches the package. */
struct fetcher {
        const char *tool;          /* whose output the fetch step shows: "npm" */
        const char *registry;      /* in words: "the npm registry" */
        const char *const *egress; /* the fetch step's only destinations */
        /* the package its command line runs, or NULL: not this runner's */
        const char *(*package)(char *const *argv);
        /* the fetch step's command line (the array malloc'd, the words argv's) */
        char **(*fetch_argv)(char *const *argv, const char *pkg);
        /* its variables: the cache as the sandbox sees it; offline for the server's start */
        void (*env)(struct strs *envs, const char *cache, bool offline);
};

static const char *runner_is(char *const *argv, const char *name)
{
        const char *base = strrchr(argv[0], '/');
        base = base ? base + 1 : argv[0];
        return strcmp(base, name) ? NULL : base;
}

/* npx [-y] [--package PKG | -p PKG] [--] PKG ... */
static const char *npx_package(char *const *argv)
{
        if (!runner_is(argv, "npx"))
                return NULL;
        for (size_t i = 1; argv[i]; i++) {
                if (!strcmp(argv[i], "--"))
                        return argv[i + 1];
                if (argv[i][0] != '-')
                        return argv[i];
                if (!strcmp(argv[i], "-p") || !strcmp(argv[i], "--package"))
                        return argv[i + 1];
        }
        return NULL;
}

static char **npx_fetch_argv(char *const *argv, const char *pkg)
{
        (void)argv;
        char **v = xcalloc(8, sizeof(char *));
        const char *w[] = {"npm", "exec", "--yes", "--package", pkg, "--", "true"};
        for (size_t i = 0; i < 7; i++)
                v[i] = (char *)w[i];
        return v;
}

static void npx_env(struct strs *envs, const char *cache, bool offline)
{
        strs_add(envs, xasprintf("npm_config_cache=%s/npm", cache));
        strs_add(envs, xstrdup("npm_config_update_notifier=false"));
        if (offline)
                strs_add(envs, xstrdup("npm_config_offline=true"));
}

/*
 * uvx [OPTIONS] COMMAND [ARGS] (and `uv tool run`, which it is): the
 * options before COMMAND, those of them that take a value as the next word,
 * and the package (--from's value, else COMMAND, which may be PKG@VERSION).
 */
static const char *const uvx_valued[] = {"--from",
                                         "--with",
                                         "--with-editable",
                                         "--with-requirements",
                                         "--python",
                                         "-p",
                                         "--index",
                                         "--default-index",
                                         "--index-url",
                                         "-i",
                                         "--extra-index-url",
                                         "--find-links",
                                         "-f",
                                         "--constraints",
                                         "--overrides",
                                         "--build-constraints",
                                         "--index-strategy",
                                         "--keyring-provider",
                                         "--resolution",
                                         "--prerelease",
                                         "--exclude-newer",
                                         "--refresh-package",
                                         "--reinstall-package",
                                         "--upgrade-package",
                                         "-P",
                                         "--config-setting",
                                         "-C",
                                         "--link-mode",
                                         "--python-platform",
                                         "--cache-dir",
                                         "--config-file",
                                         "--directory",
                                         "--project",
                                         "--color",
                                         "--env-file",
                                         "--allow-insecure-host"};

/* Where uvx's own words start (after `uv tool run`), or 0: not uvx. */
static size_t uvx_start(char *const *argv)
{
        if (runner_is(argv, "uvx"))
                return 1;
        if (runner_is(argv, "uv") && argv[1] && !strcmp(argv[1], "tool") && argv[2] &&
            !strcmp(argv[2], "run"))
                return 3;
        return 0;
}

/* The index of COMMAND (argv[i] == NULL where there is none); from: --from's value. */
static size_t uvx_command(char *const *argv, const char **from)
{
        size_t i = uvx_start(argv);
        *from = NULL;
        for (; argv[i]; i++) {
                if (!strcmp(argv[i], "--"))
                        return i + 1;
                if (argv[i][0] != '-')
                        return i;
                if (!strncmp(argv[i], "--from=", 7))
                        *from = argv[i] + 7;
                for (size_t k = 0; k < sizeof(uvx_valued) / sizeof(uvx_valued[0]); k++)
                        if (!strcmp(argv[i], uvx_valued[k]) && argv[i + 1]) {
                                if (!strcmp(argv[i], "--from"))
                                        *from = argv[i + 1];
                                i++;
                                break;
                        }
        }
        return i;
}

static const char *uvx_package(char *const *argv)
{
        if (!uvx_start(argv))
                return NULL;
        const char *from;
        size_t c = uvx_command(argv, &from);
        return from ? from : argv[c];
}

/* The same options, then `--from PKG` where they had none, then `python -c pass`:
 * the tool's environment made, nothing of it run. */
static char **uvx_fetch_argv(char *const *argv, const char *pkg)
{
        const char *from;
        size_t c = uvx_command(argv, &from);
        char **v = xcalloc(c + 6, sizeof(char *));
        size_t n = 0;
        for (size_t i = 0; i < c; i++)
                if (strcmp(argv[i], "--"))
                        v[n++] = argv[i];
        if (!from) {
                v[n++] = "--from";
                v[n++] = (char *)pkg;
        }
        v[n++] = "python";
        v[n++] = "-c";
        v[n++] = "pass";
        return v;
}

static void uvx_env(struct strs *envs, const char *cache, bool offline)
{
        strs_add(envs, xasprintf("UV_CACHE_DIR=%s/uv", cache));
        /* the host's Python (its folders are bound), never one fetched from elsewhere */
        strs_add(envs, xstrdup("UV_PYTHON_DOWNLOADS=never"));
        strs_add(envs, xstrdup("UV_NO_PROGRESS=1"));
        if (offline)
                strs_add(envs, xstrdup("UV_OFFLINE=1"));
}

static const char *const npm_egress[] = {"registry.npmjs.org:443", NULL};
static const char *const pypi_egress[] = {"pypi.org:443", "files.pythonhosted.org:443", NULL};
static const struct fetcher fetchers[] = {
    {"npm", "the npm registry", npm_egress, npx_package, npx_fetch_argv, npx_env},
    {"uv", "PyPI", pypi_egress, uvx_package, uvx_fetch_argv, uvx_env},
};

/* Waits for the fetch step to end, bounded and cancellable; its exit status, -1 past
 * the bound (or when it cannot be waited for), -2 when *cancel was set. */
static int wait_fetch(pid_t pid, volatile sig_atomic_t *cancel)
{
        uint64_t until = time_mono_ns() + (uint64_t)FETCH_WAIT_MS * 1000000ull;
        for (;;) {
                int st;
                pid_t r = waitpid(pid, &st, WNOHANG);
                if (r == pid)
                        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                if (r < 0 && errno != EINTR)
                        return -1;
                bool cancelled = cancel && *cancel;
                if (cancelled || time_mono_ns() >= until) {
                        kill(pid, SIGKILL);
                        waitpid(pid, NULL, 0);
                        return cancelled ? -2 : -1;
                }
                usleep(20000);
        }
}

int mcp_confine_spawn(const char *name, const struct iso_sandbox *sb, char *const *argv,
                      char *const *env, const int stdio[3], volatile sig_atomic_t *cancel,
                      pid_t *pid, struct mcp_confined **out, osvm_err *e)
{
        const struct fetcher *f = NULL;
        const char *pkg = NULL;
        for (size_t i = 0; !pkg && i < sizeof(fetchers) / sizeof(fetchers[0]); i++)
                if ((pkg = fetchers[i].package(argv)) != NULL)
                        f = &fetchers[i];
        char why[400];
        enum mcp_tier tier = mcp_sandbox_tier(why, sizeof(why));
        if (!pkg || tier == MCP_TIER_HOST)
                return spawn_confined(name, sb, argv, env, stdio, pid, out, e);
        /*
         * npx, uvx: the runner's cache is the server's own folder on the host,
         * kept across starts (<state dir>/sandbox/<server>), writable in the
         * sandbox. The first start fetches the package in a step of its own
         * whose only egress is the package registry; the server then runs with
         * the runner offline, under its own allow-list.
         */
        char nbuf[300];
        if (iso_names_problem(name, "x", nbuf, sizeof(nbuf)))
                return spawn_confined(name, sb, argv, env, stdio, pid, out, e);
        _cleanup_free_ char *state = paths_state_dir();
        _cleanup_free_ char *dir = xasprintf("%s/sandbox/%s", state, name);
        if (fs_mkdir_p(dir, 0700, e) < 0)
                return -1;
        struct iso_mount *mv = xcalloc(sb->mounts->n + 1, sizeof(*mv));
        for (size_t i = 0; i < sb->mounts->n; i++)
                mv[i] = sb->mounts->v[i];
        mv[sb->mounts->n] = (struct iso_mount){dir, CACHE_IN_SANDBOX, false};
        struct iso_mounts mounts = {sb->mounts->n + 1, mv};
        struct iso_sandbox with_cache = *sb;
        with_cache.mounts = &mounts;
        const char *seen = tier == MCP_TIER_SANDBOX ? CACHE_IN_SANDBOX : dir;
        struct strs base = {0};
        for (size_t i = 0; env && env[i]; i++)
                strs_add(&base, xstrdup(env[i]));
        /* the marker of a fetch done, by runner and package */
        unsigned long h = 5381;
        for (const char *c = f->registry; *c; c++)
                h = h * 33 + (unsigned char)*c;
        for (const char *c = pkg; *c; c++)
                h = h * 33 + (unsigned char)*c;
        _cleanup_free_ char *marker = xasprintf("%s/fetched-%08lx", dir, h & 0xffffffffUL);
        int rc = 0;
        if (access(marker, F_OK) != 0) {
                size_t ne = 0;
                while (f->egress[ne])
                        ne++;
                struct iso_strlist reg = {ne, (char **)f->egress};
                struct iso_sandbox fetch = with_cache;
                fetch.allow = &reg;
                static const struct iso_secret_binds none;
                fetch.secrets = &none; /* the fetch step has no secrets */
                strbuf hosts = {0};
                for (size_t i = 0; i < ne; i++)
                        sb_addf(&hosts, "%s%s", i ? ", " : "", f->egress[i]);
                _cleanup_free_ char *shown = text_sanitize(pkg, 0);
                log_warn("%s: first start: fetching %s from %s (this step's only egress: %s; the "
                         "server's own network stays as its allow-list says)",
                         name, shown, f->registry, hosts.s ? hosts.s : "");
                sb_free(&hosts);
                struct strs envs = {0};
                for (size_t i = 0; i < base.n; i++)
                        strs_add(&envs, xstrdup(base.v[i]));
                f->env(&envs, seen, false);
                char **fargv = f->fetch_argv(argv, pkg);
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                int fstdio[3] = {null, 2, 2};
                pid_t fpid;
                struct mcp_confined *fc = NULL;
                rc = spawn_confined(name, &fetch, fargv, envs.v, fstdio, &fpid, &fc, e);
                free(fargv);
                strs_free(&envs);
                if (null >= 0)
                        close(null);
                if (rc == 1) {
                        int st = wait_fetch(fpid, cancel);
                        mcp_confined_end(fc);
                        if (st == -2) {
                                rc = mcp_err_cancelled(
                                    e, "%s: first start: fetching %s was cancelled", name, shown);
                        } else if (st != 0) {
                                rc = -1;
                                err_set(e, EIO,
                                        "%s: first start: fetching %s failed (%s %d); %s's "
                                        "output is above",
                                        name, shown, st < 0 ? "no end within" : "exit status",
                                        st < 0 ? FETCH_WAIT_MS : st, f->tool);
                        } else {
                                int fd = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
                                if (fd >= 0)
                                        close(fd);
                        }
                } else if (rc == 0) {
                        rc = -1;
                        err_set(e, EPERM, "%s: no sandbox for the fetch step", name);
                }
        }
        if (rc >= 0) {
                f->env(&base, seen, true);
                rc = spawn_confined(name, &with_cache, argv, base.v, stdio, pid, out, e);
        }
        strs_free(&base);
        free(mv);
        return rc;
}
