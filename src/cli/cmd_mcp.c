/*
 * `osvm mcp`: the server registry and tool calls. What servers send (tool
 * names, descriptions, progress, results, errors) and what the registry
 * file holds is sanitized before it is shown.
 */
#include "cli/cli.h"
#include "mcp/mcp.h"
#include "vmm/vmm.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail(osvm_err *e)
{
        log_error("%s", e->msg);
        if (e->code == MCP_E_CANCELLED || ui_interrupted)
                return OSVM_EXIT_INTERRUPTED;
        return e->exit ? e->exit : OSVM_EXIT_FAILURE;
}

/* ---- add, remove, list, import ---- */

/* A stdio server's command that is not there is said at once; the server
 * is registered all the same, as the command may be installed later. */
static void warn_missing_command(const char *name, const char *cmd)
{
        char *found = mcp_command_find(cmd);
        if (found) {
                free(found);
                return;
        }
        char hint[256];
        bool known = mcp_command_install_hint(cmd, hint, sizeof(hint));
        _cleanup_free_ char *shown = text_sanitize(cmd, 0);
        log_warn("%s: the command \"%s\" is not found (%s)%s%s. The server is registered all the "
                 "same; it will start once the command is there",
                 name, shown, strchr(cmd, '/') ? "no executable file there" : "not on PATH",
                 known ? ": " : "", known ? hint : "");
}

/* The server policy `mcp add` and `mcp import` write: sandboxed unless told not to. */
struct sandbox_opts {
        bool off;
        json_t *mounts;  /* an array of mount objects */
        json_t *allow;   /* an array of "host[:port]" */
        json_t *secrets; /* an array of "ENV=NAME@HOSTS[/HEADERS][/body]" */
        const char *memory;
};

/* "HOST[:GUEST][:rw|:ro]" into a mount object; NULL with a message in e. */
static json_t *mount_spec(const char *spec, osvm_err *e)
{
        _cleanup_free_ char *copy = xstrdup(spec);
        bool rw = false;
        size_t n = strlen(copy);
        if (n > 3 && (!strcmp(copy + n - 3, ":rw") || !strcmp(copy + n - 3, ":ro"))) {
                rw = copy[n - 2] == 'r' && copy[n - 1] == 'w';
                copy[n - 3] = '\0';
        }
        char *guest = strchr(copy, ':');
        if (guest)
                *guest++ = '\0';
        char *host = NULL;
        if (copy[0] == '~' && (copy[1] == '/' || !copy[1])) {
                const char *home = getenv("HOME");
                _cleanup_free_ char *full = xasprintf("%s%s", home ? home : "", copy + 1);
                host = realpath(full, NULL);
        } else if (copy[0]) {
                host = realpath(copy, NULL);
        }
        if (!host) {
                err_set(e, errno ? errno : EINVAL,
                        "--mount %s: the host path is not there (HOST[:GUEST][:rw])", spec);
                e->exit = OSVM_EXIT_USAGE;
                return NULL;
        }
        if (!strcmp(host, "/")) {
                free(host);
                err_set(e, EINVAL, "--mount %s: the whole host file system cannot be mounted",
                        spec);
                e->exit = OSVM_EXIT_USAGE;
                return NULL;
        }
        if (guest && guest[0] != '/') {
                free(host);
                err_set(e, EINVAL, "--mount %s: the path inside must be absolute", spec);
                e->exit = OSVM_EXIT_USAGE;
                return NULL;
        }
        json_t *m = json_pack("{s:s, s:s, s:b}", "host_path", host, "vm_path",
                              guest && *guest ? guest : host, "readonly", !rw);
        free(host);
        return m;
}

/* A file named on the server's command line that sits in a folder too broad
 * to show it (its script in the home): the sandbox shows it that file (or
 * its node_modules) alone, which add says, with what to do when it needs
 * more. */
static void say_narrowed(const char *name, const char *arg)
{
        bool narrowed;
        _cleanup_free_ char *shown_of = mcp_sandbox_package(arg, &narrowed);
        if (!narrowed)
                return;
        _cleanup_free_ char *who = text_sanitize(name, 0);
        _cleanup_free_ char *view = text_sanitize(shown_of, 0);
        printf("%s: its sandbox shows it only %s, not the folder that holds it (your home, a "
               "folder of osvm's own files or one all users share: too broad); a server that "
               "needs the files beside it wants a folder of its own, or --mount\n",
               who, view);
}

/* A folder named on the server's command line is mounted read-only at its own
 * path (the server could not see it otherwise), unless a --mount covers it. */
static void mount_dir_args(const char *name, char *const *argv, json_t *mounts)
{
        for (size_t i = 1; argv[i]; i++) {
                if (argv[i][0] == '-' || (!strchr(argv[i], '/') && strcmp(argv[i], ".")))
                        continue;
                struct stat st;
                bool there = stat(argv[i], &st) == 0;
                if (there && S_ISREG(st.st_mode))
                        say_narrowed(name, argv[i]);
                char *real = there && S_ISDIR(st.st_mode) ? realpath(argv[i], NULL) : NULL;
                if (!real)
                        continue;
                if (!strcmp(real, "/")) {
                        /* the whole host is not a mount: the server sees what --mount gives */
                        free(real);
                        continue;
                }
                bool covered = false;
                size_t k;
                json_t *m;
                json_array_foreach(mounts, k, m)
                {
                        const char *h = json_string_value(json_object_get(m, "host_path"));
                        size_t l = h ? strlen(h) : 0;
                        covered |= h && !strncmp(real, h, l) && (real[l] == '/' || !real[l]);
                }
                if (!covered) {
                        json_array_append_new(mounts,
                                              json_pack("{s:s, s:s, s:b}", "host_path", real,
                                                        "vm_path", real, "readonly", true));
                        _cleanup_free_ char *shown = text_sanitize(real, 0);
                        _cleanup_free_ char *who = text_sanitize(name, 0);
                        printf("%s: %s mounted read-only in its sandbox (--mount %s:rw lets it "
                               "write there)\n",
                               who, shown, shown);
                }
                free(real);
        }
}

/*
 * Drops a policy that a server of this name left in the isolation config at
 * path (its secrets, its tools' settings: not the new server's, which starts
 * from what its flags say); *dropped says whether there was one.
 */
static int drop_left_policy(const char *path, const char *name, bool *dropped, osvm_err *e)
{
        struct iso_config cfg;
        struct iso_diags d = {0};
        /* writes the default file when there is none */
        int opened = iso_config_open(&cfg, &d);
        bool named = opened == 0 && iso_config_server(&cfg, name);
        iso_config_free(&cfg);
        struct stat st;
        if (opened < 0 && lstat(path, &st) < 0) {
                /* no file to edit: say why the default one could not be made */
                err_set(e, ENOENT, "%s", d.n ? d.v[0].text : path);
                e->exit = OSVM_EXIT_CONFIG;
                iso_diags_free(&d);
                return -1;
        }
        iso_diags_free(&d);
        *dropped = named;
        if (named && iso_config_remove_server(path, name, &d, e) < 0) {
                for (size_t i = 0; i < d.n; i++)
                        log_error("%s", d.v[i].text);
                iso_diags_free(&d);
                return -1;
        }
        return 0;
}

/* Writes the server's sandbox policy into the isolation config at path;
 * *replaced says that a policy left there under its name was dropped first. */
static int write_sandbox_policy(const char *path, const char *name, const struct sandbox_opts *o,
                                bool *replaced, osvm_err *e)
{
        if (drop_left_policy(path, name, replaced, e) < 0)
                return -1;
        struct iso_diags d = {0};
        const char *as[7];
        size_t n = 0;
        _cleanup_free_ char *mounts = NULL, *allow = NULL, *mem = NULL, *secrets = NULL;
        if (o->off) {
                /* on the host, and its calls go straight to it: no image of its
                 * tools is tried (none exists for a server osvm did not build) */
                as[n++] = "sandbox=false";
                as[n++] = "execution_mode=direct";
        } else {
                char *mj = json_dumps(o->mounts, JSON_COMPACT);
                char *aj = json_dumps(o->allow, JSON_COMPACT);
                mounts = xasprintf("microvm_mounts=%s", mj);
                allow = xasprintf("network.allow=%s", aj);
                free(mj);
                free(aj);
                as[n++] = "sandbox=true";
                /* its calls go to the server in its sandbox (no image of its tools is tried:
                 * none exists for a server osvm did not build) */
                as[n++] = "execution_mode=microvm";
                as[n++] = mounts;
                as[n++] = allow;
                if (json_array_size(o->secrets)) {
                        char *sj = json_dumps(o->secrets, JSON_COMPACT);
                        secrets = xasprintf("secrets=%s", sj);
                        free(sj);
                        as[n++] = secrets;
                }
                if (o->memory) {
                        mem = xasprintf("microvm_config.memory_mb=%s", o->memory);
                        as[n++] = mem;
                }
        }
        int r = iso_config_set(path, name, as, n, &d, e);
        for (size_t i = 0; r < 0 && i < d.n; i++)
                log_error("%s", d.v[i].text);
        iso_diags_free(&d);
        return r;
}

/* Says what a --secret binding needs that is not there yet: the secret, its hosts allowed. */
static void secret_hints(const char *name, const struct iso_secret_bind *b, json_t *allow)
{
        _cleanup_free_ char *who = text_sanitize(name, 0);
        osvm_err e = {0};
        char *v = mcp_secret_get(b->secret, &e);
        if (v) {
                explicit_bzero(v, strlen(v));
                free(v);
        } else {
                printf("%s: the secret %s is not set yet (osvm secret set %s); the server "
                       "starts without its variable until it is\n",
                       who, b->secret, b->secret);
        }
        for (size_t i = 0; i < b->hosts.n; i++) {
                /* host[:port] or [v6][:port]; HTTPS when no port is named */
                char h[300];
                snprintf(h, sizeof(h), "%s", b->hosts.v[i]);
                long port = 443;
                char *close = h[0] == '[' ? strchr(h, ']') : NULL;
                char *colon = strrchr(close ? close : h, ':');
                if (colon && (close || strchr(h, ':') == colon)) {
                        port = strtol(colon + 1, NULL, 10);
                        *colon = '\0';
                }
                const char *hn = h[0] == '[' ? h + 1 : h;
                if (close)
                        *close = '\0';
                bool listed = false;
                size_t k;
                json_t *a;
                json_array_foreach(allow, k, a) listed |=
                    mcp_allow_entry_admits(json_string_value(a), hn, port);
                if (!listed)
                        printf("%s: %s is bound to %s but not on its network allow-list: add "
                               "--allow-net %s to reach it\n",
                               who, b->env, b->hosts.v[i], b->hosts.v[i]);
        }
}

/* After a policy left behind was dropped (shown: the name, sanitized): replaced
 * by the flags' for a stdio server; removed for one reached by URL. */
static void say_replaced(const char *shown, bool url)
{
        if (url)
                printf("%s: the entry isolation_config.json already had for %s is removed (a "
                       "server reached by URL has no sandbox; its calls take the config's "
                       "defaults)\n",
                       shown, shown);
        else
                printf("%s: the entry isolation_config.json already had for %s is replaced\n",
                       shown, shown);
}

/* One of --mount, --allow-net, --secret, --memory, --no-sandbox; false when c is none. */
static bool sandbox_opt(int c, struct sandbox_opts *o, int *r, osvm_err *e)
{
        switch (c) {
        case 'K': {
                struct iso_secret_bind b;
                const char *why = iso_secret_bind_parse(optarg, &b);
                if (why) {
                        _cleanup_free_ char *shown = text_sanitize(optarg, 0);
                        err_set(e, EINVAL, "--secret %s: %s", shown, why);
                        e->exit = OSVM_EXIT_USAGE;
                        *r = -1;
                } else {
                        iso_secret_bind_free(&b);
                        json_array_append_new(o->secrets, json_string(optarg));
                }
                return true;
        }
        case 'm': {
                json_t *m = mount_spec(optarg, e);
                if (!m)
                        *r = -1;
                else
                        json_array_append_new(o->mounts, m);
                return true;
        }
        case 'n':
                /* the config's validator checks it whole when it is written */
                if (!optarg[0] || strchr(optarg, '/') || strchr(optarg, ' ')) {
                        err_set(e, EINVAL, "--allow-net %s: not HOST[:PORT]", optarg);
                        e->exit = OSVM_EXIT_USAGE;
                        *r = -1;
                } else
                        json_array_append_new(o->allow, json_string(optarg));
                return true;
        case 'M':
                o->memory = optarg;
                return true;
        case 'N':
                o->off = true;
                return true;
        }
        return false;
}

#define SANDBOX_OPTIONS                                                                            \
        {"mount", required_argument, NULL, 'm'}, {"allow-net", required_argument, NULL, 'n'},      \
            {"memory", required_argument, NULL, 'M'}, {"secret", required_argument, NULL, 'K'},    \
        {                                                                                          \
                "no-sandbox", no_argument, NULL, 'N'                                               \
        }

/* Each OAuth option of mcp add and its field in the registry's "oauth" object. */
static const struct {
        int opt;
        const char *field;
} oauth_opts[] = {{'I', "client_id"},           {'S', "client_secret"},   {'O', "scope"},
                  {'D', "client_metadata_url"}, {'Y', "client_key_file"}, {'J', "id_token_file"},
                  {'P', "idp_token_endpoint"},  {'Q', "idp_client_id"}};

/* Sets the field of option c when it is an OAuth option; false when it is not. */
static bool oauth_opt(int c, json_t *oauth)
{
        for (size_t i = 0; i < sizeof(oauth_opts) / sizeof(oauth_opts[0]); i++)
                if (oauth_opts[i].opt == c) {
                        json_object_set_new(oauth, oauth_opts[i].field, json_string(optarg));
                        return true;
                }
        return false;
}

/* A file as it was before a change of several steps (each written whole),
 * put back whole should a later step fail. */
struct file_snapshot {
        bool had;
        char *text;
        size_t len;
        unsigned mode;
};

static int snapshot_take(const char *path, size_t max, struct file_snapshot *s, osvm_err *e)
{
        struct stat st;
        if (lstat(path, &st) < 0 && errno == ENOENT)
                return 0;
        s->had = true;
        s->mode = stat(path, &st) == 0 ? (unsigned)(st.st_mode & 07777) : 0600;
        return fs_read_file(path, max, &s->text, &s->len, e);
}

static void snapshot_restore(const char *path, const struct file_snapshot *s)
{
        osvm_err e = {0};
        if (!s->had ? unlink(path) < 0 && errno != ENOENT && err_sys(&e, "%s: removing", path)
                    : fs_write_atomic(path, s->text, s->len, s->mode, &e) < 0)
                log_error("%s: could not be put back as it was: %s", path, e.msg);
}

/* The registry's bound (src/mcp/registry.c reads it with the same). */
#define REGISTRY_SNAPSHOT_MAX (4u * 1024 * 1024)

/*
 * An option `add` does not know, or one without its value. The first is
 * most often the server's own, typed without the -- that keeps it the
 * server's (`osvm mcp add NAME npx -y PACKAGE`): say where it goes.
 */
static int add_option_error(char **argv, int c)
{
        char shortopt[3] = {'-', (char)optopt, '\0'};
        /* as typed (a missing value's option, an unknown long one), else the
         * unknown short option's letter (in a cluster optind may not have
         * moved on) */
        const char *opt = "?";
        if ((c == ':' || optopt == 0) && optind > 0)
                opt = argv[optind - 1];
        else if (optopt > 0 && optopt < 128 && isprint(optopt))
                opt = shortopt;
        /* the name alone, never a value given with = (it may be a secret) */
        _cleanup_free_ char *name = xstrndup(opt, strcspn(opt, "="));
        _cleanup_free_ char *shown = text_sanitize(name, 0);
        if (c == ':')
                return cli_usage_error(&cli_cmd_mcp, "%s needs a value", shown);
        return cli_usage_error(&cli_cmd_mcp,
                               "%s is not an option of 'osvm mcp add'; a server's own options go "
                               "after --: osvm mcp add NAME [OPTIONS] -- CMD [ARGS...]",
                               shown);
}

static int add(int argc, char **argv)
{
        static const struct option opts[] = {{"env", required_argument, NULL, 'e'},
                                             {"url", required_argument, NULL, 'u'},
                                             {"header", required_argument, NULL, 'H'},
                                             SANDBOX_OPTIONS,
                                             {"init-timeout", required_argument, NULL, 'T'},
                                             {"elicitation", required_argument, NULL, 'E'},
                                             {"client-id", required_argument, NULL, 'I'},
                                             {"client-secret", required_argument, NULL, 'S'},
                                             {"scope", required_argument, NULL, 'O'},
                                             {"client-metadata-url", required_argument, NULL, 'D'},
                                             {"client-key", required_argument, NULL, 'Y'},
                                             {"id-token-file", required_argument, NULL, 'J'},
                                             {"idp-token-endpoint", required_argument, NULL, 'P'},
                                             {"idp-client-id", required_argument, NULL, 'Q'},
                                             {0}};
        const char *init_timeout = NULL, *elicitation = NULL;
        json_t *oauth = json_object();
        char **env = xcalloc((size_t)argc + 1, sizeof(char *));
        char **headers = xcalloc((size_t)argc + 1, sizeof(char *));
        size_t nenv = 0, nhdr = 0;
        const char *url = NULL;
        char *path = NULL;
        int c, r = 0;
        struct sandbox_opts so = {
            .mounts = json_array(), .allow = json_array(), .secrets = json_array()};
        struct file_snapshot before = {0}, cfg_before = {0};
        char *cfg_path = NULL;
        bool any_sandbox_opt = false, replaced = false;
        osvm_err e = {0};
        optind = 0;
        int saved_opterr = opterr;
        opterr = 0; /* said below, with the remedy */
        while ((c = getopt_long(argc, argv, ":e:u:H:", opts, NULL)) != -1) {
                if (c == '?' || c == ':') {
                        r = add_option_error(argv, c);
                        goto out;
                }
                if (c == 'e')
                        env[nenv++] = optarg;
                else if (c == 'H')
                        headers[nhdr++] = optarg;
                else if (c == 'u')
                        url = optarg;
                else if (c == 'T')
                        init_timeout = optarg;
                else if (c == 'E')
                        elicitation = optarg;
                else if (oauth_opt(c, oauth))
                        ;
                else if (sandbox_opt(c, &so, &r, &e)) {
                        any_sandbox_opt = true;
                        if (r < 0) {
                                r = fail(&e);
                                goto out;
                        }
                } else {
                        r = cli_usage_error(&cli_cmd_mcp, "unknown option");
                        goto out;
                }
        }
        if (optind >= argc) {
                r = cli_usage_error(
                    &cli_cmd_mcp,
                    "usage: osvm mcp add NAME [--env K=V] [--mount HOST[:GUEST][:rw]] "
                    "[--allow-net HOST[:PORT]] [--secret ENV=NAME@HOST] [--memory MB] "
                    "[--no-sandbox] -- CMD "
                    "ARGS... | osvm mcp add NAME --url URL");
                goto out;
        }
        const char *name = argv[optind++];
        if (optind < argc && strcmp(argv[optind], "--") == 0)
                optind++;
        if (!url && optind >= argc) {
                r = cli_usage_error(&cli_cmd_mcp, "give the server's command after --, or --url");
                goto out;
        }
        if (!url && mcp_url_is_http(argv[optind])) {
                /* never the URL itself: it may hold a credential */
                _cleanup_free_ char *shown = text_sanitize(name, 0);
                r = cli_usage_error(&cli_cmd_mcp,
                                    "%s: its command is a URL; a server reached by URL is added "
                                    "with --url: osvm mcp add %s --url URL",
                                    shown, shown);
                goto out;
        }
        if (url && (optind < argc || nenv)) {
                r = cli_usage_error(&cli_cmd_mcp, "--url takes no command and no --env");
                goto out;
        }
        if (url && any_sandbox_opt) {
                r = cli_usage_error(&cli_cmd_mcp,
                                    "--mount, --allow-net, --secret, --memory and --no-sandbox are "
                                    "for a "
                                    "server osvm starts (stdio), not a URL");
                goto out;
        }
        if (!url && json_object_size(oauth)) {
                r = cli_usage_error(&cli_cmd_mcp,
                                    "the OAuth options (--client-id, --client-secret, "
                                    "--scope, ...) are for --url");
                goto out;
        }
        char *end = NULL;
        unsigned long ms = init_timeout ? strtoul(init_timeout, &end, 10) : 0;
        if (init_timeout && (!*init_timeout || *end || ms < 1 || ms > 3600000)) {
                r = cli_usage_error(&cli_cmd_mcp,
                                    "--init-timeout takes milliseconds (1 to 3600000)");
                goto out;
        }
        if (elicitation && strcmp(elicitation, "decline") && strcmp(elicitation, "defaults")) {
                r = cli_usage_error(&cli_cmd_mcp, "--elicitation takes decline or defaults");
                goto out;
        }
        if (!url && so.off && json_array_size(so.secrets)) {
                r = cli_usage_error(&cli_cmd_mcp, "--secret needs the sandbox (its proxy adds the "
                                                  "value): not with --no-sandbox");
                goto out;
        }
        /* A stdio server's policy goes into the config first, then the server
         * into the registry: stopped between the two (killed, out of memory),
         * osvm has a policy for no server, never a server without its policy
         * (which would run on the host). A step that fails puts both back. */
        path = mcp_registry_path();
        cfg_path = iso_config_path();
        if (snapshot_take(path, REGISTRY_SNAPSHOT_MAX, &before, &e) < 0 ||
            snapshot_take(cfg_path, ISO_CONFIG_MAX_BYTES, &cfg_before, &e) < 0) {
                r = fail(&e);
                goto out;
        }
        if (!url) {
                if (!so.off)
                        mount_dir_args(name, argv + optind, so.mounts);
                r = write_sandbox_policy(cfg_path, name, &so, &replaced, &e);
        } else {
                /* a server reached by URL runs elsewhere: no sandbox, no
                 * secrets; its policy is the config's defaults until set */
                r = drop_left_policy(cfg_path, name, &replaced, &e);
        }
        bool added = false;
        if (r == 0) {
                r = url ? mcp_registry_add_http(path, name, url, headers, &e)
                        : mcp_registry_add_stdio(path, name, argv + optind, env, &e);
                added = r == 0;
        }
        if (r == 0 && init_timeout)
                r = mcp_registry_set(path, name, "init_timeout_ms", json_integer((json_int_t)ms),
                                     &e);
        if (r == 0 && elicitation)
                r = mcp_registry_set(path, name, "elicitation", json_string(elicitation), &e);
        if (r == 0 && json_object_size(oauth))
                r = mcp_registry_set(path, name, "oauth", json_incref(oauth), &e);
        if (r < 0) {
                if (added)
                        snapshot_restore(path, &before);
                snapshot_restore(cfg_path, &cfg_before);
                r = fail(&e);
                goto out;
        }
        char *shown = text_sanitize(name, 0), *where = text_sanitize(url, 0);
        if (url)
                printf("added %s (%s)\n", shown, where);
        else if (so.off)
                printf("added %s (stdio, on the host: no sandbox)\n", shown);
        else
                printf("added %s (stdio, sandboxed: %zu mount%s, network %s)\n", shown,
                       json_array_size(so.mounts), json_array_size(so.mounts) == 1 ? "" : "s",
                       json_array_size(so.allow) ? "through osvm to the allowed hosts" : "none");
        if (replaced)
                say_replaced(shown, url != NULL);
        free(shown);
        free(where);
        if (!url)
                warn_missing_command(name, argv[optind]);
        for (size_t i = 0; i < json_array_size(so.secrets); i++) {
                struct iso_secret_bind b;
                if (!iso_secret_bind_parse(json_string_value(json_array_get(so.secrets, i)), &b)) {
                        secret_hints(name, &b, so.allow);
                        iso_secret_bind_free(&b);
                }
        }
        r = OSVM_EXIT_OK;
out:
        opterr = saved_opterr;
        free(before.text);
        free(cfg_before.text);
        free(cfg_path);
        json_decref(so.mounts);
        json_decref(so.allow);
        json_decref(so.secrets);
        json_decref(oauth);
        free(path);
        free(env);
        free(headers);
        return r;
}

static int remove_cmd(int argc, char **argv)
{
        if (argc != 2)
                return cli_usage_error(&cli_cmd_mcp, "usage: osvm mcp remove NAME");
        _cleanup_free_ char *path = mcp_registry_path();
        osvm_err e = {0};
        if (mcp_registry_remove(path, argv[1], &e) < 0)
                return fail(&e);
        _cleanup_free_ char *shown = text_sanitize(argv[1], 0);
        /* Its policy goes with it: after it, so that no server is ever left
         * without its sandbox. The built-in pack's stays: that server is
         * back under its name at once. */
        int had = 0;
        _cleanup_free_ char *cfg = iso_config_path();
        struct stat st;
        if (strcmp(argv[1], "osvm-mcp") != 0 && lstat(cfg, &st) == 0) {
                struct iso_diags d = {0};
                had = iso_config_remove_server(cfg, argv[1], &d, &e);
                for (size_t i = 0; had < 0 && i < d.n; i++)
                        log_error("%s", d.v[i].text);
                iso_diags_free(&d);
                if (had < 0) {
                        err_wrap(&e, "removed %s, but its isolation policy stays in %s", shown,
                                 cfg);
                        return fail(&e);
                }
        }
        printf(had > 0 ? "removed %s and its isolation policy\n" : "removed %s\n", shown);
        return OSVM_EXIT_OK;
}

static int import(int argc, char **argv)
{
        static const struct option opts[] = {SANDBOX_OPTIONS, {0}};
        struct sandbox_opts so = {
            .mounts = json_array(), .allow = json_array(), .secrets = json_array()};
        osvm_err e = {0};
        int c, r = 0;
        char *path = NULL, *cfg_path = NULL;
        optind = 0;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1)
                if (!sandbox_opt(c, &so, &r, &e)) {
                        r = cli_usage_error(&cli_cmd_mcp, "unknown option");
                        goto out;
                } else if (r < 0) {
                        r = fail(&e);
                        goto out;
                }
        if (argc - optind != 1) {
                r = cli_usage_error(&cli_cmd_mcp, "usage: osvm mcp import [--mount ...] "
                                                  "[--allow-net ...] [--memory MB] "
                                                  "[--no-sandbox] FILE");
                goto out;
        }
        const char *file = argv[optind];
        path = mcp_registry_path();
        struct mcp_registry before = {0}, after = {0};
        mcp_registry_load(path, &before, &e);
        size_t added, skipped;
        if (mcp_registry_import(path, file, &added, &skipped, &e) < 0) {
                mcp_registry_free(&before);
                r = fail(&e);
                goto out;
        }
        /* each stdio server it added gets the sandbox policy; one reached by
         * URL loses a policy left under its name */
        r = OSVM_EXIT_OK;
        cfg_path = iso_config_path();
        if (mcp_registry_load(path, &after, &e) == 0)
                for (size_t i = 0; i < after.n; i++) {
                        const struct mcp_server_conf *s = &after.v[i];
                        if (mcp_registry_find(&before, s->id))
                                continue;
                        bool replaced = false;
                        _cleanup_free_ char *shown = text_sanitize(s->id, 0);
                        if (s->kind != MCP_KIND_STDIO) {
                                if (drop_left_policy(cfg_path, s->id, &replaced, &e) < 0)
                                        r = fail(&e);
                                else if (replaced)
                                        say_replaced(shown, true);
                                continue;
                        }
                        struct sandbox_opts one = so;
                        one.mounts = json_deep_copy(so.mounts);
                        if (!so.off)
                                mount_dir_args(s->id, s->argv, one.mounts);
                        if (write_sandbox_policy(cfg_path, s->id, &one, &replaced, &e) < 0) {
                                r = fail(&e);
                        } else if (replaced) {
                                say_replaced(shown, false);
                        }
                        json_decref(one.mounts);
                }
        mcp_registry_free(&before);
        mcp_registry_free(&after);
        char *shown = text_sanitize(file, 0);
        printf("imported %zu server%s from %s (%zu skipped)%s\n", added, added == 1 ? "" : "s",
               shown, skipped, added && !so.off ? ", sandboxed" : "");
        free(shown);
out:
        free(path);
        free(cfg_path);
        json_decref(so.mounts);
        json_decref(so.allow);
        json_decref(so.secrets);
        return r;
}

static bool json_flag(int *argc, char **argv)
{
        bool json = false;
        int k = 0;
        for (int i = 0; i < *argc; i++) {
                if (strcmp(argv[i], "--json") == 0)
                        json = true;
                else
                        argv[k++] = argv[i];
        }
        *argc = k;
        return json;
}

static int list(int argc, char **argv)
{
        bool json = json_flag(&argc, argv);
        if (argc != 1)
                return cli_usage_error(&cli_cmd_mcp, "usage: osvm mcp list [--json]");
        struct mcp_registry reg;
        int r = cli_load_registry(&reg);
        if (r)
                return r;
        struct iso_host host;
        cli_probe_host(&host);
        mcp_registry_add_builtin(&reg, &host);
        struct iso_config cfg = {0};
        struct iso_diags d = {0};
        bool have_cfg = iso_config_open(&cfg, &d) == 0;
        iso_diags_free(&d);
        json_t *arr = json_array();
        for (size_t i = 0; i < reg.n; i++) {
                const struct mcp_server_conf *s = &reg.v[i];
                strbuf cmd = {0};
                for (size_t k = 0; s->argv && s->argv[k]; k++)
                        sb_addf(&cmd, "%s%s", k ? " " : "", s->argv[k]);
                const char *where = s->kind == MCP_KIND_HTTP ? s->url : cmd.s ? cmd.s : "";
                struct iso_sandbox sb = {0};
                if (have_cfg && s->kind == MCP_KIND_STDIO && !s->own_pack)
                        iso_server_sandbox(&cfg, s->id, &sb);
                char why[400] = "";
                enum mcp_tier tier = sb.wanted ? mcp_sandbox_tier(why, sizeof(why)) : MCP_TIER_HOST;
                if (json) {
                        json_t *o =
                            json_pack("{s:s, s:s, s:s, s:b, s:s}", "name", s->id, "transport",
                                      s->kind == MCP_KIND_HTTP ? "http" : "stdio", "target", where,
                                      "enabled", s->enabled, "tier", mcp_server_where(s, tier));
                        if (sb.wanted)
                                json_object_set_new(o, "sandbox", mcp_sandbox_json(&sb, tier));
                        json_array_append_new(arr, o);
                } else {
                        _cleanup_free_ char *id = text_sanitize(s->id, 0);
                        _cleanup_free_ char *target = text_sanitize(where, 0);
                        printf("%-20s %-5s %-8s %s%s\n", id,
                               s->kind == MCP_KIND_HTTP ? "http" : "stdio",
                               mcp_server_where(s, tier), target, s->enabled ? "" : "  (disabled)");
                        if (sb.wanted) {
                                _cleanup_free_ char *line = mcp_sandbox_text(&sb, tier);
                                printf("%-20s %s\n", "", line);
                        }
                }
                sb_free(&cmd);
        }
        if (json)
                ui_print_json(arr);
        else if (!reg.n)
                printf("no MCP servers registered; add one with 'osvm mcp add'\n");
        json_decref(arr);
        if (have_cfg)
                iso_config_free(&cfg);
        mcp_registry_free(&reg);
        return OSVM_EXIT_OK;
}

/* ---- tools and calls: they need the servers running ---- */

/* The first line of a tool's description, sanitized, in at most 80 columns. */
static char *first_line(const char *s)
{
        strbuf b = {0};
        sb_add_sanitized(&b, s ? s : "", s ? strcspn(s, "\n") : 0, 0);
        char *line = ui_fit_columns(b.s, 80, term_utf8());
        sb_free(&b);
        return line;
}

static int tools(int argc, char **argv)
{
        bool json = json_flag(&argc, argv);
        if (argc > 2)
                return cli_usage_error(&cli_cmd_mcp, "usage: osvm mcp tools [NAME | URL] [--json]");
        const char *only = argc == 2 ? argv[1] : NULL;
        struct cli_servers x;
        int r = cli_servers_open(&x, &only);
        if (r)
                return r;
        json_t *all = json_object();
        ui_catch_interrupt();
        struct mcp_call_opts o = {.cancel = &ui_interrupted};
        /* every server at once: one that hangs delays none of the others */
        if (!only || mcp_registry_find(&x.reg, only))
                mcp_hub_start(x.hub, only, &o);
        for (size_t i = 0; i < x.reg.n; i++) {
                const struct mcp_server_conf *s = &x.reg.v[i];
                if ((only && strcmp(s->id, only) != 0) || (!only && !s->enabled))
                        continue;
                osvm_err e = {0};
                json_t *t = mcp_hub_tools(x.hub, s->id, &o, &e);
                if (!t) {
                        r = fail(&e);
                        continue;
                }
                json_object_set(all, s->id, t);
                if (json)
                        continue;
                size_t k;
                json_t *tool;
                json_array_foreach(t, k, tool)
                {
                        _cleanup_free_ char *id = text_sanitize(s->id, 0);
                        _cleanup_free_ char *name =
                            text_sanitize(json_string_value(json_object_get(tool, "name")), 0);
                        _cleanup_free_ char *desc =
                            first_line(json_string_value(json_object_get(tool, "description")));
                        printf("%s/%-28s %s\n", id, name, desc);
                }
        }
        if (only && !mcp_registry_find(&x.reg, only)) {
                log_error("no MCP server \"%s\" is registered", only);
                r = OSVM_EXIT_USAGE;
        }
        /* one shape: {"SERVER": [tools...]}, whether one server was named or all */
        if (json && (!r || json_object_size(all)))
                ui_print_json(all);
        json_decref(all);
        cli_servers_close(&x);
        return r;
}

/* The tool's declared type for an argument, from its inputSchema. */
static const char *arg_type(json_t *tool, const char *key)
{
        json_t *props = json_object_get(json_object_get(tool, "inputSchema"), "properties");
        json_t *type = json_object_get(json_object_get(props, key), "type");
        return json_string_value(type);
}

/* key=value words as an arguments object, typed by the schema. */
static json_t *parse_args(json_t *tool, char **words, int n, osvm_err *e)
{
        if (n == 1 && words[0][0] == '{') {
                json_error_t jerr;
                json_t *v = json_loads(words[0], JSON_REJECT_DUPLICATES, &jerr);
                if (!json_is_object(v)) {
                        json_decref(v);
                        err_set(e, EINVAL, "the arguments are not a JSON object: %s",
                                v ? "another JSON value" : jerr.text);
                        e->exit = OSVM_EXIT_USAGE;
                        return NULL;
                }
                return v;
        }
        json_t *args = json_object();
        for (int i = 0; i < n; i++) {
                char *eq = strchr(words[i], '=');
                if (!eq || eq == words[i]) {
                        json_decref(args);
                        err_set(e, EINVAL, "\"%s\" is not key=value (or give one JSON object)",
                                words[i]);
                        e->exit = OSVM_EXIT_USAGE;
                        return NULL;
                }
                *eq = '\0';
                const char *key = words[i], *val = eq + 1;
                const char *type = arg_type(tool, key);
                json_t *v = NULL;
                if (type && (!strcmp(type, "integer") || !strcmp(type, "number"))) {
                        char *end;
                        errno = 0;
                        double d = strtod(val, &end);
                        bool ok = *val && !*end && !errno && isfinite(d);
                        if (ok && !strcmp(type, "integer"))
                                ok = d == (double)(json_int_t)d;
                        if (ok)
                                v = !strcmp(type, "integer") ? json_integer((json_int_t)d)
                                                             : json_real(d);
                } else if (type && !strcmp(type, "boolean")) {
                        v = !strcmp(val, "true")    ? json_true()
                            : !strcmp(val, "false") ? json_false()
                                                    : NULL;
                } else if (type && (!strcmp(type, "array") || !strcmp(type, "object"))) {
                        v = json_loads(val, 0, NULL);
                } else if (type) {
                        v = json_string(val);
                } else {
                        /* No schema for it: JSON when it reads as JSON, else a string. */
                        v = json_loads(val, JSON_DECODE_ANY, NULL);
                        if (!v)
                                v = json_string(val);
                }
                if (!v) {
                        json_decref(args);
                        err_set(e, EINVAL, "%s: \"%s\" is not a valid %s", key, val, type);
                        e->exit = OSVM_EXIT_USAGE;
                        return NULL;
                }
                json_object_set_new(args, key, v);
        }
        return args;
}

/* Progress on stderr: on a terminal one line, redrawn and never wider than
 * the window (so that "\r" reaches its start); else a line each. */
static void show_progress(void *ctx, const struct mcp_progress *p)
{
        _cleanup_free_ char *tool = text_sanitize(ctx, 0); /* from the command line */
        _cleanup_free_ char *msg = text_sanitize(p->message, 0);
        _cleanup_free_ char *text = p->total > 0
                                        ? xasprintf("%.0f/%.0f %s", p->progress, p->total, msg)
                                        : xasprintf("%.0f %s", p->progress, msg);
        bool tty = isatty(STDERR_FILENO);
        _cleanup_free_ char *line =
            tty ? xasprintf("%s: %s", tool, text) : xasprintf("progress: %s", text);
        unsigned cols = ui_term_columns(STDERR_FILENO);
        _cleanup_free_ char *fit = ui_fit_columns(line, cols > 1 ? cols - 1 : 79, term_utf8());
        fprintf(stderr, tty ? "\r\033[K%s" : "%s\n", fit);
}

/* A string field of a block, sanitized on one line ("?" when not a string). */
static char *field(json_t *v)
{
        return text_sanitize(json_is_string(v) ? json_string_value(v) : "?", 0);
}

/* The content blocks for a person, sanitized. */
static void print_content(json_t *result, FILE *f)
{
        strbuf out = {0};
        size_t i;
        json_t *b;
        json_array_foreach(json_object_get(result, "content"), i, b)
        {
                _cleanup_free_ char *type = field(json_object_get(b, "type"));
                if (!strcmp(type, "text")) {
                        const char *t = json_string_value(json_object_get(b, "text"));
                        size_t n = t ? strlen(t) : 0;
                        sb_add_sanitized(&out, t ? t : "", n, TEXT_MULTILINE);
                        if (!n || t[n - 1] != '\n')
                                sb_add(&out, "\n");
                } else if (!strcmp(type, "image") || !strcmp(type, "audio")) {
                        const char *data = json_string_value(json_object_get(b, "data"));
                        _cleanup_free_ char *mime = field(json_object_get(b, "mimeType"));
                        sb_addf(&out, "[%s: %s, %zu bytes of base64]\n", type, mime,
                                data ? strlen(data) : 0);
                } else if (!strcmp(type, "resource_link")) {
                        _cleanup_free_ char *uri = field(json_object_get(b, "uri"));
                        sb_addf(&out, "[resource link: %s]\n", uri);
                } else if (!strcmp(type, "resource")) {
                        json_t *r = json_object_get(b, "resource");
                        const char *t = json_string_value(json_object_get(r, "text"));
                        _cleanup_free_ char *uri = field(json_object_get(r, "uri"));
                        if (t) {
                                sb_add_sanitized(&out, t, strlen(t), TEXT_MULTILINE);
                                sb_add(&out, "\n");
                        } else {
                                sb_addf(&out, "[resource: %s]\n", uri);
                        }
                } else {
                        sb_addf(&out, "[%s block]\n", type);
                }
        }
        json_t *sc = json_object_get(result, "structuredContent");
        if (sc && !json_array_size(json_object_get(result, "content"))) {
                char *s = json_dumps(sc, JSON_INDENT(2));
                sb_add_sanitized(&out, s ? s : "", s ? strlen(s) : 0, TEXT_MULTILINE);
                sb_add(&out, "\n");
                free(s);
        }
        if (out.len)
                fputs(out.s, f);
        sb_free(&out);
}

static int call(int argc, char **argv)
{
        bool json = json_flag(&argc, argv);
        uint32_t timeout = 0;
        int k = 1;
        if (argc > 2 && !strcmp(argv[1], "--timeout")) {
                timeout = (uint32_t)strtoul(argv[2], NULL, 10);
                if (!timeout)
                        return cli_usage_error(&cli_cmd_mcp, "--timeout takes milliseconds");
                k = 3;
        }
        if (argc - k < 2)
                return cli_usage_error(&cli_cmd_mcp, "usage: osvm mcp call [--timeout MS] NAME "
                                                     "TOOL [JSON | key=value ...] [--json]");
        const char *server = argv[k], *tool = argv[k + 1];
        struct cli_servers x;
        int r = cli_servers_open(&x, &server);
        if (r)
                return r;
        mcp_hub_set_caller(x.hub, "osvm mcp call");
        osvm_err e = {0};
        ui_catch_interrupt();
        json_t *egress = json_array();
        bool egress_seen = false;
        struct mcp_call_opts o = {.timeout_ms = timeout,
                                  .cancel = &ui_interrupted,
                                  .on_progress = show_progress,
                                  .progress_ctx = (void *)tool,
                                  .egress = egress,
                                  .egress_seen = &egress_seen};
        json_t *args = NULL, *result = NULL, *schema_tool = NULL;
        struct iso_decision dec = {0};
        int nwords = argc - k - 2;
        char **words = argv + k + 2;
        if (nwords && !(nwords == 1 && words[0][0] == '{')) {
                /* key=value needs the tool's schema to type the values. */
                json_t *list = mcp_hub_tools(x.hub, server, &o, &e);
                if (!list) {
                        r = fail(&e);
                        goto out;
                }
                size_t i;
                json_t *t;
                json_array_foreach(list, i, t)
                {
                        if (!strcmp(json_string_value(json_object_get(t, "name")), tool))
                                schema_tool = t;
                }
        }
        if (nwords && !(args = parse_args(schema_tool, words, nwords, &e))) {
                r = fail(&e);
                goto out;
        }
        uint64_t t0 = time_mono_ns();
        result = mcp_hub_call(x.hub, server, tool, args, &o, &dec, &e);
        uint64_t took = time_mono_ns() - t0;
        if (isatty(STDERR_FILENO))
                fprintf(stderr, "\r\033[K");
        if (!result) {
                if (e.code == MCP_E_CANCELLED || ui_interrupted)
                        r = OSVM_EXIT_INTERRUPTED;
                else
                        r = e.exit ? e.exit : OSVM_EXIT_FAILURE;
                /* A refusal was said, with its remedy, by the decision's own
                 * log line; it is not said again. */
                if (dec.route != ISO_ROUTE_DENY)
                        log_error("%s", e.msg);
                goto out;
        }
        bool is_error = json_is_true(json_object_get(result, "isError"));
        if (json) {
                json_t *reasons = json_array();
                for (size_t i = 0; i < dec.nreasons; i++)
                        json_array_append_new(reasons, json_string(dec.reasons[i].text));
                char *status =
                    ui_status_line(session_get(), time_mono_ns(), (struct ui_style){true, false});
                json_t *v =
                    json_pack("{s:s, s:s, s:o, s:s, s:o, s:f, s:O, s:s}", "server", server, "tool",
                              tool, "arguments", args ? json_incref(args) : json_object(), "mode",
                              iso_route_name(dec.route), "reasons", reasons, "duration_ms",
                              (double)took / 1e6, "result", result, "status", status);
                if (dec.route == ISO_ROUTE_UNIKERNEL) /* a VM (kvm) or a trapped process */
                        json_object_set_new(v, "platform",
                                            json_string(iso_platform_name(dec.platform)));
                if (dec.route == ISO_ROUTE_DIRECT && dec.tier) /* where its server runs */
                        json_object_set_new(v, "tier", json_string(dec.tier));
                /* what it reached out to (null: not seen), as its audit record has it */
                json_object_set_new(v, "egress", egress_seen ? json_incref(egress) : json_null());
                free(status);
                ui_print_json(v);
                json_decref(v);
        } else {
                print_content(result, is_error ? stderr : stdout);
        }
        r = is_error ? OSVM_EXIT_TOOL_ERROR : OSVM_EXIT_OK;
out:
        iso_decision_free(&dec);
        json_decref(result);
        json_decref(args);
        json_decref(egress);
        cli_servers_close(&x);
        return r;
}

static int logout(int argc, char **argv)
{
        if (argc != 2)
                return cli_usage_error(&cli_cmd_mcp, "usage: osvm mcp logout NAME");
        osvm_err e = {0};
        bool had;
        if (mcp_oauth_logout(argv[1], &had, &e) < 0)
                return fail(&e);
        _cleanup_free_ char *shown = text_sanitize(argv[1], 0);
        printf(had ? "logged out of %s: its tokens are removed\n" : "no tokens were kept for %s\n",
               shown);
        return OSVM_EXIT_OK;
}

/* `osvm mcp serve --pack NAME`: one built-in pack, as the registry's osvm-mcp entry runs it. */
static int serve_pack(const char *name)
{
        struct iso_config cfg;
        int r = cli_load_config(&cfg);
        if (r)
                return r;
        struct iso_host host;
        cli_probe_host(&host);
        cli_start_vm_pool(&host);
        osvm_err e = {0};
        if (mcp_serve(name, &cfg, &host, STDIN_FILENO, STDOUT_FILENO, &e) < 0) {
                log_error("%s", e.msg);
                r = OSVM_EXIT_FAILURE;
        }
        vmm_shutdown();
        iso_config_free(&cfg);
        return r;
}

/* The gateway's bearer token, beside the config: made on first use, 0600. */
static char *gateway_token(char **where, osvm_err *e)
{
        _cleanup_free_ char *reg = mcp_registry_path();
        _cleanup_free_ char *dir = fs_dirname(reg);
        *where = xasprintf("%s/gateway_token", dir);
        if (fs_mkdir_p(dir, 0700, e) < 0)
                return NULL;
        char fresh[80], half[40];
        mcp_gw_session_id(fresh, sizeof(fresh));
        mcp_gw_session_id(half, sizeof(half));
        strcat(fresh, half);
        if (fs_create_atomic(*where, fresh, strlen(fresh), 0600, e) < 0 && e->code != EEXIST)
                return NULL;
        memset(e, 0, sizeof(*e));
        struct stat st;
        if (lstat(*where, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
            (st.st_mode & 077)) {
                err_set(e, EPERM,
                        "%s must be a regular file of yours that no one else may read (chmod 600 "
                        "it, or remove it to have a new one made)",
                        *where);
                return NULL;
        }
        char *tok = NULL;
        size_t len = 0;
        if (fs_read_file(*where, 256, &tok, &len, e) < 0)
                return NULL;
        while (len && (tok[len - 1] == '\n' || tok[len - 1] == ' '))
                tok[--len] = '\0';
        bool ok = len >= 32;
        for (size_t i = 0; i < len; i++)
                ok &= (tok[i] >= '0' && tok[i] <= '9') || (tok[i] >= 'a' && tok[i] <= 'z') ||
                      (tok[i] >= 'A' && tok[i] <= 'Z') || tok[i] == '-' || tok[i] == '_';
        if (!ok) {
                free(tok);
                err_set(e, EINVAL,
                        "%s does not hold a token (32 or more letters and digits); remove it to "
                        "have a new one made",
                        *where);
                return NULL;
        }
        return tok;
}

static void on_term(int sig)
{
        (void)sig;
        ui_interrupted = 1;
}

/* `--http [ADDR:]PORT` */
static int parse_listen(const char *v, char *addr, size_t n, unsigned *port)
{
        const char *colon = strrchr(v, ':');
        const char *p = colon ? colon + 1 : v;
        char *end;
        errno = 0;
        unsigned long x = strtoul(p, &end, 10);
        if (!*p || *end || errno || x > 65535 || (colon && (size_t)(colon - v) >= n))
                return -1;
        snprintf(addr, n, "%.*s", colon ? (int)(colon - v) : 0, v);
        *port = (unsigned)x;
        return 0;
}

static int serve_http(struct mcp_gateway *g, const char *listen, bool no_auth)
{
        char addr[64];
        unsigned port;
        if (parse_listen(listen, addr, sizeof(addr), &port) < 0)
                return cli_usage_error(&cli_cmd_mcp, "--http takes [ADDR:]PORT, such as 8808 or "
                                                     "127.0.0.1:8808");
        osvm_err e = {0};
        _cleanup_free_ char *where = NULL;
        _cleanup_free_ char *token = no_auth ? NULL : gateway_token(&where, &e);
        if (!token && !no_auth)
                return fail(&e);
        struct mcp_gw_http *h = mcp_gw_http_start(g, addr[0] ? addr : NULL, port, token, &e);
        if (!h)
                return fail(&e);
        if (no_auth)
                log_warn("--no-auth: any program on this machine can call every tool through "
                         "the gateway");
        const char *host = addr[0] ? addr : "127.0.0.1";
        if (strncmp(host, "127.", 4) != 0)
                log_warn("serving on %s, not on loopback: anyone who can reach it and holds the "
                         "token can call every tool",
                         host);
        char *url = xasprintf("http://%s:%u/mcp", host, mcp_gw_http_port(h));
        if (no_auth)
                fprintf(stderr, "osvm: serving MCP at %s\n", url);
        else
                fprintf(stderr,
                        "osvm: serving MCP at %s\n"
                        "osvm: the bearer token is in %s:\n"
                        "Authorization: Bearer %s\n"
                        "osvm: a client's configuration (Claude Code .mcp.json, VS Code, Cursor):\n"
                        "{\"mcpServers\": {\"osvm\": {\"type\": \"http\", \"url\": \"%s\",\n"
                        "  \"headers\": {\"Authorization\": \"Bearer %s\"}}}}\n",
                        url, where, token, url, token);
        free(url);
        struct sigaction sa = {.sa_handler = on_term};
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
        ui_catch_interrupt();
        while (!ui_interrupted)
                usleep(100000);
        mcp_gw_http_stop(h);
        return OSVM_EXIT_OK;
}

/* The globs of --tools GLOB[,GLOB...] (each --tools adds its own): a
 * NULL-terminated array into globs, which it cuts at the commas; NULL when
 * one is empty. */
static char **tool_globs(char *globs)
{
        size_t n = 1;
        for (const char *c = globs; *c; c++)
                n += *c == ',';
        char **v = xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++) {
                v[i] = globs;
                globs += strcspn(globs, ",");
                if (*globs)
                        *globs++ = '\0';
                if (!*v[i]) {
                        free(v);
                        return NULL;
                }
        }
        return v;
}

/* `osvm mcp serve [--http [ADDR:]PORT] [--tools GLOB,...] [NAME...]`: the
 * gateway, every enabled server (or those named) behind one, all their tools
 * (or those the globs name). */
static int serve(int argc, char **argv)
{
        if (argc == 3 && !strcmp(argv[1], "--pack"))
                return serve_pack(argv[2]);
        const char *listen = NULL;
        bool no_auth = false, some_tools = false;
        char **names = xcalloc((size_t)argc + 1, sizeof(char *));
        strbuf globs = {0};
        struct cli_servers x;
        size_t n = 0;
        int r = 0;
        for (int i = 1; i < argc && !r; i++) {
                if (!strcmp(argv[i], "--http") && i + 1 < argc) {
                        listen = argv[++i];
                } else if (!strcmp(argv[i], "--no-auth")) {
                        no_auth = true;
                } else if (!strcmp(argv[i], "--tools") && i + 1 < argc) {
                        sb_addf(&globs, "%s%s", some_tools ? "," : "", argv[++i]);
                        some_tools = true;
                } else if (argv[i][0] == '-') {
                        r = cli_usage_error(&cli_cmd_mcp,
                                            "usage: osvm mcp serve [--http [ADDR:]PORT] "
                                            "[--tools GLOB,...] [NAME...] | osvm mcp serve --pack "
                                            "osvm-mcp");
                } else {
                        names[n++] = argv[i];
                }
        }
        if (!r && no_auth && !listen)
                r = cli_usage_error(&cli_cmd_mcp, "--no-auth goes with --http");
        char **tools = !r && some_tools ? tool_globs(globs.s ? globs.s : (char[]){""}) : NULL;
        if (!r && some_tools && !tools)
                r = cli_usage_error(&cli_cmd_mcp, "--tools takes globs over SERVER__TOOL names, "
                                                  "separated by commas, none of them empty");
        if (!r)
                r = cli_servers_open(&x, NULL);
        if (r) {
                free(names);
                free(tools);
                sb_free(&globs);
                return r;
        }
        cli_start_vm_pool(&x.host);
        osvm_err e = {0};
        struct mcp_gateway *g = mcp_gateway_new(x.hub, &x.reg, n ? names : NULL, tools, 0, &e);
        if (!g) {
                r = fail(&e);
        } else if (listen) {
                r = serve_http(g, listen, no_auth);
                mcp_gateway_free(g);
        } else {
                log_info("serving MCP on stdio: %s", mcp_gateway_instructions(g));
                mcp_gateway_serve_stdio(g, STDIN_FILENO, STDOUT_FILENO);
                mcp_gateway_free(g);
        }
        free(names);
        free(tools);
        sb_free(&globs);
        cli_servers_close(&x);
        vmm_shutdown();
        return r;
}

static int run_mcp(int argc, char **argv)
{
        static const struct cli_verb verbs[] = {
            {"add", add},     {"remove", remove_cmd}, {"list", list},   {"import", import},
            {"tools", tools}, {"call", call},         {"serve", serve}, {"logout", logout}};
        return cli_run_verb(&cli_cmd_mcp, verbs, sizeof(verbs) / sizeof(verbs[0]), argc, argv);
}

const struct cli_cmd cli_cmd_mcp = {
    .name = "mcp",
    .summary = "register MCP servers, list their tools, call them",
    .help = "usage: osvm mcp add NAME [--env K=V]... [--mount HOST[:GUEST][:rw]]...\n"
            "           [--allow-net HOST[:PORT]]... [--secret ENV=NAME@HOST[,HOST...]\n"
            "           [/HEADER[,HEADER...]][/body]]... [--memory MB] [--no-sandbox]\n"
            "           [OPTIONS] -- CMD [ARGS...]\n"
            "       osvm mcp add NAME --url URL [--header 'Name: value']... [OPTIONS]\n"
            "         OPTIONS: --init-timeout MS, --elicitation decline|defaults,\n"
            "         --client-id ID [--client-secret S] [--scope S] (OAuth, pre-registered),\n"
            "         --client-metadata-url URL (OAuth: a client ID metadata document),\n"
            "         --client-key FILE (with --client-id: private_key_jwt, a PEM key),\n"
            "         --id-token-file FILE --idp-token-endpoint URL [--idp-client-id ID]\n"
            "         (with --client-id: enterprise-managed, the IdP's ID token exchanged)\n"
            "       osvm mcp remove NAME\n"
            "       osvm mcp logout NAME\n"
            "       osvm mcp list [--json]\n"
            "       osvm mcp import [--mount HOST[:GUEST][:rw]]... [--allow-net HOST[:PORT]]...\n"
            "           [--memory MB] [--no-sandbox] FILE\n"
            "       osvm mcp tools [NAME | URL] [--json]\n"
            "       osvm mcp serve [NAME...] [--http [ADDR:]PORT [--no-auth]] [--tools GLOB,...]\n"
            "       osvm mcp call [--timeout MS] NAME|URL TOOL [JSON | key=value...] [--json]\n"
            "\n"
            "A stdio server added or imported runs confined in osvm's sandbox: no network\n"
            "but osvm's proxy to the --allow-net hosts, none of your files but its\n"
            "--mount folders (read-only unless :rw), none of your environment. 'list'\n"
            "shows each server's tier; docs/mcp-sandbox.md says what each holds.\n"
            "--secret gives it a secret it never holds ('osvm secret set NAME' first):\n"
            "its variable ENV holds a placeholder, and osvm's proxy puts the value in\n"
            "its place on requests to the HOSTs only (also --allow-net them), in the\n"
            "named headers (none named: any header), in the body only with /body;\n"
            "e.g. --secret GITHUB_PERSONAL_ACCESS_TOKEN=github@api.github.com/Authorization\n"
            "\n"
            "MCP servers are kept in mcp_servers.json beside the isolation config: stdio\n"
            "servers (a command osvm starts) and Streamable HTTP servers (a URL). 'import'\n"
            "reads the common {\"mcpServers\": {NAME: {command, args, env}}} files.\n"
            "A stdio server's policy (isolation_config.json) is written from add's flags\n"
            "alone, and 'remove' takes it out with the server.\n"
            "'tools' and 'call' also take a Streamable HTTP URL in place of a NAME.\n"
            "A server that asks for OAuth is signed in to on first use: osvm prints the\n"
            "URL and opens it with $BROWSER (or xdg-open); tokens are kept per server\n"
            "under the state directory until 'logout'.\n"
            "The built-in osvm-mcp server (the Solana tool pack) is there without being\n"
            "added.\n"
            "\n"
            "'serve' is the gateway: one MCP server on stdio in front of every enabled\n"
            "server (or the NAMEs), tools named SERVER__TOOL, each call routed by the\n"
            "isolation policy as below and recorded in the audit log ('osvm audit').\n"
            "Point an MCP client (Claude Code, Codex, VS Code) at 'osvm mcp serve'.\n"
            "With --http it serves Streamable HTTP at http://127.0.0.1:PORT/mcp instead\n"
            "(loopback unless ADDR says otherwise), each request needing the bearer\n"
            "token kept in gateway_token beside the config (made on first use, printed\n"
            "with a client's configuration); Ctrl-C ends it. --no-auth (loopback only)\n"
            "serves without the token: any local program can then call every tool.\n"
            "--tools serves only the tools whose SERVER__TOOL name matches a glob\n"
            "(e.g. --tools 'everything__echo,fs__read_*'); the others are neither\n"
            "listed nor callable.\n"
            "\n"
            "'call' asks the isolation policy where the call runs ('osvm isolation explain\n"
            "NAME/TOOL' shows the decision): in a fresh unikernel VM when the tool has an\n"
            "image, else directly on the server when the policy allows the fallback.\n"
            "Arguments are one JSON object or key=value pairs typed by the tool's schema.\n"
            "Progress is shown on stderr; Ctrl-C cancels the call. With --json, the call,\n"
            "its mode, reasons, duration and result are printed as one JSON object.\n"
            "\n"
            "Exit codes: 0 ok, 1 failure, 2 usage, 3 config invalid, 4 refused by policy,\n"
            "5 the tool reported an error, 130 cancelled.\n",
    .run = run_mcp,
};
