/* The server registry, mcp_servers.json: loading, checking and editing. */
#include "mcp/mcp.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REGISTRY_MAX_BYTES (4u * 1024 * 1024)
#define ID_MAX             64

char *mcp_registry_path(void)
{
        _cleanup_free_ char *dir = paths_config_dir();
        return xasprintf("%s/%s", dir, MCP_REGISTRY_FILE);
}

/* Ids go on command lines and into tool names: keep them plain. */
static const char *id_problem(const char *id)
{
        size_t n = strlen(id);
        if (n == 0 || n > ID_MAX)
                return "must be 1 to 64 characters";
        for (const char *p = id; *p; p++)
                if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
                        return "may hold only letters, digits, '-', '_' and '.'";
        return NULL;
}

static char **strv_new(size_t n)
{
        return xcalloc(n + 1, sizeof(char *));
}

static void strv_free(char **v)
{
        for (size_t i = 0; v && v[i]; i++)
                free(v[i]);
        free(v);
}

static size_t strv_len(char *const *v)
{
        size_t n = 0;
        while (v && v[n])
                n++;
        return n;
}

/* Splits a command line on blanks (the original osvm's stdio "url"). */
static char **split_words(const char *s)
{
        size_t cap = 8, n = 0;
        char **v = strv_new(cap);
        while (*s) {
                while (isspace((unsigned char)*s))
                        s++;
                if (!*s)
                        break;
                const char *start = s;
                while (*s && !isspace((unsigned char)*s))
                        s++;
                if (n == cap) {
                        v = xrealloc(v, (cap * 2 + 1) * sizeof(char *));
                        cap *= 2;
                }
                char *w = xmalloc((size_t)(s - start) + 1);
                memcpy(w, start, (size_t)(s - start));
                w[s - start] = '\0';
                v[n++] = w;
                v[n] = NULL;
        }
        return v;
}

/* Why a configured header cannot be sent, or NULL: every name and value osvm sends is checked. */
static const char *header_problem(const char *name, json_t *val)
{
        if (!text_header_name_ok(name))
                return "the name is not a valid header name (letters, digits and !#$%&'*+-.^_`|~)";
        if (!json_is_string(val))
                return "expected a string";
        if (!text_header_value_ok(json_string_value(val)))
                return "the value holds a control character (a line break, NUL, ...), which "
                       "cannot go in an HTTP header";
        return NULL;
}

/* Reads one server entry; fills e and returns -1 on a bad value. */
static int read_entry(const char *file, const char *id, json_t *o, struct mcp_server_conf *s,
                      osvm_err *e)
{
        static const char *const known[] = {"name",
                                            "url",
                                            "transport_type",
                                            "auth",
                                            "enabled",
                                            "extra_config",
                                            "command",
                                            "args",
                                            "env",
                                            "headers",
                                            "github_url",
                                            "local_path",
                                            "init_timeout_ms",
                                            "elicitation",
                                            "oauth",
                                            "disabled",
                                            "cwd",
                                            NULL};
        const char *why = id_problem(id);
        if (why)
                return err_set(e, EINVAL, "%s: server id \"%s\" %s", file, id, why);
        if (!json_is_object(o))
                return err_set(e, EINVAL, "%s: %s: expected an object", file, id);
        const char *key;
        json_t *val;
        json_object_foreach(o, key, val)
        {
                bool ok = false;
                for (size_t i = 0; known[i] && !ok; i++)
                        ok = strcmp(key, known[i]) == 0;
                if (!ok)
                        log_warn("%s: %s.%s: unknown field (ignored)", file, id, key);
        }
        s->id = xstrdup(id);
        json_t *name = json_object_get(o, "name");
        s->name = xstrdup(json_is_string(name) ? json_string_value(name) : id);
        json_t *en = json_object_get(o, "enabled");
        if (en && !json_is_boolean(en))
                return err_set(e, EINVAL, "%s: %s.enabled: expected true or false", file, id);
        s->enabled = !en || json_is_true(en);
        json_t *dis = json_object_get(o, "disabled"); /* the format of other clients */
        if (dis && !json_is_boolean(dis))
                return err_set(e, EINVAL, "%s: %s.disabled: expected true or false", file, id);
        if (json_is_true(dis))
                s->enabled = false;
        json_t *it = json_object_get(o, "init_timeout_ms");
        if (it && (!json_is_integer(it) || json_integer_value(it) < 1 ||
                   json_integer_value(it) > 3600000))
                return err_set(e, EINVAL,
                               "%s: %s.init_timeout_ms: expected milliseconds from 1 to 3600000",
                               file, id);
        s->init_timeout_ms = it ? (uint32_t)json_integer_value(it) : 0;
        json_t *el = json_object_get(o, "elicitation");
        const char *els = json_string_value(el);
        if (el && (!els || (strcmp(els, "decline") && strcmp(els, "defaults"))))
                return err_set(e, EINVAL,
                               "%s: %s.elicitation: expected \"decline\" or \"defaults\"", file,
                               id);
        s->elicit_defaults = els && !strcmp(els, "defaults");
        json_t *oa = json_object_get(o, "oauth");
        if (oa && !json_is_object(oa))
                return err_set(e, EINVAL, "%s: %s.oauth: expected an object", file, id);
        static const char *const oauth_fields[] = {
            "client_id",           "client_secret",   "scope",
            "client_metadata_url", "client_key_file", "id_token_file",
            "idp_token_endpoint",  "idp_client_id"};
        char **oauth_dst[] = {
            &s->oauth_client_id,           &s->oauth_client_secret,   &s->oauth_scope,
            &s->oauth_client_metadata_url, &s->oauth_client_key_file, &s->oauth_id_token_file,
            &s->oauth_idp_token_endpoint,  &s->oauth_idp_client_id};
        for (size_t i = 0; i < sizeof(oauth_fields) / sizeof(oauth_fields[0]); i++) {
                json_t *v = json_object_get(oa, oauth_fields[i]);
                if (v && (!json_is_string(v) || !text_header_value_ok(json_string_value(v))))
                        return err_set(e, EINVAL,
                                       "%s: %s.oauth.%s: expected a string without control "
                                       "characters",
                                       file, id, oauth_fields[i]);
                if (v)
                        *oauth_dst[i] = xstrdup(json_string_value(v));
        }

        const char *type = json_string_value(json_object_get(o, "transport_type"));
        json_t *url = json_object_get(o, "url"), *cmd = json_object_get(o, "command");
        if (url && !json_is_string(url) && !json_is_null(url))
                return err_set(e, EINVAL, "%s: %s.url: expected a string", file, id);
        if (cmd && !json_is_string(cmd))
                return err_set(e, EINVAL, "%s: %s.command: expected a string", file, id);
        if (type && strcmp(type, "stdio") && strcmp(type, "http"))
                return err_set(e, EINVAL,
                               "%s: %s.transport_type: \"%s\" is not supported; allowed: stdio, "
                               "http",
                               file, id, type);
        bool http = type ? strcmp(type, "http") == 0
                         : (!cmd && json_is_string(url) &&
                            (!strncmp(json_string_value(url), "http://", 7) ||
                             !strncmp(json_string_value(url), "https://", 8)));
        if (http) {
                const char *u = json_string_value(url);
                if (!u || (strncmp(u, "http://", 7) && strncmp(u, "https://", 8)))
                        return err_set(e, EINVAL,
                                       "%s: %s.url: an http server needs an http:// "
                                       "or https:// URL",
                                       file, id);
                s->kind = MCP_KIND_HTTP;
                s->url = xstrdup(u);
                json_t *hdrs = json_object_get(o, "headers");
                json_t *auth = json_object_get(o, "auth");
                if (hdrs && !json_is_object(hdrs))
                        return err_set(e, EINVAL, "%s: %s.headers: expected an object", file, id);
                s->headers = strv_new(json_object_size(hdrs) + 1);
                size_t n = 0;
                json_object_foreach(hdrs, key, val)
                {
                        const char *bad = header_problem(key, val);
                        if (bad) {
                                char *k = text_sanitize(key, 0);
                                err_set(e, EINVAL, "%s: %s.headers.%s: %s", file, id, k, bad);
                                free(k);
                                return -1;
                        }
                        s->headers[n++] = xasprintf("%s: %s", key, json_string_value(val));
                }
                const char *atype = json_string_value(json_object_get(auth, "auth_type"));
                json_t *tok = json_object_get(auth, "token");
                const char *token = json_string_value(tok);
                if (atype && tok) {
                        const char *bad = header_problem("Authorization", tok);
                        if (bad)
                                return err_set(e, EINVAL, "%s: %s.auth.token: %s", file, id, bad);
                        if (strcmp(atype, "bearer") == 0)
                                s->headers[n++] = xasprintf("Authorization: Bearer %s", token);
                        else if (strcmp(atype, "api_key") == 0)
                                s->headers[n++] = xasprintf("X-API-Key: %s", token);
                        else
                                log_warn("%s: %s.auth: auth_type \"%s\" is not supported", file, id,
                                         atype);
                }
                return 0;
        }

        s->kind = MCP_KIND_STDIO;
        if (cmd) {
                json_t *args = json_object_get(o, "args");
                if (args && !json_is_array(args))
                        return err_set(e, EINVAL, "%s: %s.args: expected an array of strings", file,
                                       id);
                s->argv = strv_new(json_array_size(args) + 1);
                s->argv[0] = xstrdup(json_string_value(cmd));
                for (size_t i = 0; i < json_array_size(args); i++) {
                        json_t *a = json_array_get(args, i);
                        if (!json_is_string(a))
                                return err_set(e, EINVAL, "%s: %s.args[%zu]: expected a string",
                                               file, id, i);
                        s->argv[i + 1] = xstrdup(json_string_value(a));
                }
        } else if (json_is_string(url)) {
                s->argv = split_words(json_string_value(url));
                /* The original osvm stored a bare script path for node servers. */
                size_t n = strv_len(s->argv);
                if (n == 1 && strlen(s->argv[0]) > 3 &&
                    strcmp(s->argv[0] + strlen(s->argv[0]) - 3, ".js") == 0) {
                        s->argv = xrealloc(s->argv, 3 * sizeof(char *));
                        s->argv[1] = s->argv[0];
                        s->argv[0] = xstrdup("node");
                        s->argv[2] = NULL;
                }
        }
        if (!s->argv || !s->argv[0] || !*s->argv[0])
                return err_set(e, EINVAL,
                               "%s: %s: a stdio server needs \"command\" (or a \"url\" "
                               "holding its command line)",
                               file, id);
        json_t *cwd = json_object_get(o, "cwd");
        if (cwd && !json_is_string(cwd) && !json_is_null(cwd))
                return err_set(e, EINVAL, "%s: %s.cwd: expected a string", file, id);
        if (json_is_string(cwd)) {
                char *d = fs_expand_home(json_string_value(cwd));
                s->cwd = d;
        }
        json_t *env = json_object_get(o, "env");
        if (env && !json_is_object(env))
                return err_set(e, EINVAL, "%s: %s.env: expected an object", file, id);
        s->env = strv_new(json_object_size(env));
        size_t n = 0;
        json_object_foreach(env, key, val)
        {
                if (!json_is_string(val) || !*key || strchr(key, '='))
                        return err_set(e, EINVAL, "%s: %s.env.%s: expected a string", file, id,
                                       key);
                s->env[n++] = xasprintf("%s=%s", key, json_string_value(val));
        }
        return 0;
}

static void free_conf(struct mcp_server_conf *s)
{
        free(s->id);
        free(s->name);
        strv_free(s->argv);
        strv_free(s->env);
        free(s->url);
        strv_free(s->headers);
        free(s->oauth_client_id);
        free(s->oauth_client_secret);
        free(s->oauth_scope);
        free(s->oauth_client_metadata_url);
        free(s->oauth_client_key_file);
        free(s->oauth_id_token_file);
        free(s->oauth_idp_token_endpoint);
        free(s->oauth_idp_client_id);
        free(s->cwd);
}

void mcp_registry_free(struct mcp_registry *reg)
{
        for (size_t i = 0; i < reg->n; i++)
                free_conf(&reg->v[i]);
        free(reg->v);
        free(reg->path);
        memset(reg, 0, sizeof(*reg));
}

/* Reads the document; a missing file is {}. */
static json_t *load_doc(const char *path, osvm_err *e)
{
        char *text = NULL;
        size_t len;
        struct stat st;
        if (stat(path, &st) < 0 && errno == ENOENT)
                return json_object();
        if (fs_read_file(path, REGISTRY_MAX_BYTES, &text, &len, e) < 0)
                return NULL;
        json_error_t jerr;
        json_t *doc = len ? json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr) : json_object();
        free(text);
        if (!doc) {
                err_set(e, EINVAL, "%s:%d:%d: invalid JSON: %s", path, jerr.line, jerr.column,
                        jerr.text);
                e->exit = OSVM_EXIT_CONFIG;
                return NULL;
        }
        if (!json_is_object(doc)) {
                json_decref(doc);
                err_set(e, EINVAL, "%s: the top level must be an object of servers", path);
                e->exit = OSVM_EXIT_CONFIG;
                return NULL;
        }
        return doc;
}

static int from_doc(const char *path, json_t *doc, struct mcp_registry *reg, osvm_err *e)
{
        memset(reg, 0, sizeof(*reg));
        reg->path = xstrdup(path);
        reg->v = xcalloc(json_object_size(doc) + 1, sizeof(*reg->v));
        const char *id;
        json_t *o;
        json_object_foreach(doc, id, o)
        {
                if (read_entry(path, id, o, &reg->v[reg->n++], e) < 0) {
                        e->exit = OSVM_EXIT_CONFIG;
                        mcp_registry_free(reg);
                        return -1;
                }
        }
        return 0;
}

int mcp_registry_load(const char *path, struct mcp_registry *reg, osvm_err *e)
{
        memset(reg, 0, sizeof(*reg));
        json_t *doc = load_doc(path, e);
        if (!doc)
                return -1;
        int r = from_doc(path, doc, reg, e);
        json_decref(doc);
        return r;
}

const struct mcp_server_conf *mcp_registry_find(const struct mcp_registry *reg, const char *id)
{
        for (size_t i = 0; i < reg->n; i++)
                if (strcmp(reg->v[i].id, id) == 0)
                        return &reg->v[i];
        return NULL;
}

void mcp_server_endpoint(const struct mcp_server_conf *s, struct mcp_endpoint *ep)
{
        memset(ep, 0, sizeof(*ep));
        ep->name = s->id;
        if (s->kind == MCP_KIND_HTTP) {
                ep->url = s->url;
                ep->headers = s->headers;
        } else {
                ep->argv = s->argv;
                ep->env = s->env;
                ep->cwd = s->cwd;
        }
}

void mcp_server_reach(const struct mcp_server_conf *s, struct iso_reach *r)
{
        *r = (struct iso_reach){.remote = s->kind == MCP_KIND_HTTP, .own_pack = s->own_pack};
}

/* ---- edits ---- */

/* Checks the edited document, then writes it atomically (0600 for a new file). */
static int save_doc(const char *path, json_t *doc, osvm_err *e)
{
        struct mcp_registry check;
        if (from_doc(path, doc, &check, e) < 0)
                return err_wrap(e, "not saved");
        mcp_registry_free(&check);
        _cleanup_free_ char *dir = fs_dirname(path);
        if (fs_mkdir_p(dir, 0700, e) < 0)
                return -1;
        _cleanup_free_ char *text = json_dumps(doc, JSON_INDENT(2));
        _cleanup_free_ char *out = xasprintf("%s\n", text ? text : "{}");
        struct stat st;
        unsigned mode = stat(path, &st) == 0 ? (unsigned)(st.st_mode & 07777) : 0600;
        return fs_write_atomic(path, out, strlen(out), mode, e);
}

/* Shell-quotes one word into b when it needs it, for the "url" command line. */
static void add_word(strbuf *b, const char *w)
{
        if (b->len)
                sb_add(b, " ");
        bool plain = *w != '\0';
        for (const char *p = w; *p; p++)
                plain = plain && (isalnum((unsigned char)*p) || strchr("@%+=:,./-_", *p));
        if (plain) {
                sb_add(b, w);
                return;
        }
        sb_add(b, "'");
        for (const char *p = w; *p; p++)
                sb_add(b, *p == '\'' ? "'\\''" : (char[]){*p, '\0'});
        sb_add(b, "'");
}

static int add_entry(const char *path, const char *id, json_t *entry, osvm_err *e)
{
        const char *why = id_problem(id);
        if (why) {
                json_decref(entry);
                err_set(e, EINVAL, "server id \"%s\" %s", id, why);
                e->exit = OSVM_EXIT_USAGE;
                return -1;
        }
        json_t *doc = load_doc(path, e);
        if (!doc) {
                json_decref(entry);
                return -1;
        }
        if (json_object_get(doc, id)) {
                json_decref(entry);
                json_decref(doc);
                return err_set(e, EEXIST, "a server \"%s\" is already registered (remove it first)",
                               id);
        }
        json_object_set_new(doc, id, entry);
        int r = save_doc(path, doc, e);
        json_decref(doc);
        return r;
}

static json_t *stdio_entry(const char *id, char *const *argv, char *const *env)
{
        strbuf line = {0};
        json_t *args = json_array();
        for (size_t i = 0; argv[i]; i++) {
                add_word(&line, argv[i]);
                if (i)
                        json_array_append_new(args, json_string(argv[i]));
        }
        json_t *envo = json_object();
        for (size_t i = 0; env && env[i]; i++) {
                const char *eq = strchr(env[i], '=');
                if (!eq)
                        continue;
                char *k = xstrdup(env[i]);
                k[eq - env[i]] = '\0';
                json_object_set_new(envo, k, json_string(eq + 1));
                free(k);
        }
        json_t *o = json_pack("{s:s, s:s, s:s, s:n, s:b, s:{}, s:n, s:n, s:s, s:o, s:o}", "name",
                              id, "url", line.s ? line.s : "", "transport_type", "stdio", "auth",
                              "enabled", 1, "extra_config", "github_url", "local_path", "command",
                              argv[0], "args", args, "env", envo);
        sb_free(&line);
        return o;
}

int mcp_registry_add_stdio(const char *path, const char *id, char *const *argv, char *const *env,
                           osvm_err *e)
{
        if (!argv || !argv[0] || !*argv[0]) {
                err_set(e, EINVAL, "no command given for server \"%s\"", id);
                e->exit = OSVM_EXIT_USAGE;
                return -1;
        }
        for (size_t i = 0; env && env[i]; i++) {
                const char *eq = strchr(env[i], '=');
                if (!eq || eq == env[i]) {
                        err_set(e, EINVAL, "--env \"%s\" is not KEY=VALUE", env[i]);
                        e->exit = OSVM_EXIT_USAGE;
                        return -1;
                }
        }
        return add_entry(path, id, stdio_entry(id, argv, env), e);
}

static json_t *http_entry(const char *id, const char *url, char *const *headers)
{
        json_t *h = json_object();
        for (size_t i = 0; headers && headers[i]; i++) {
                const char *colon = strchr(headers[i], ':');
                if (!colon)
                        continue;
                char *k = xstrdup(headers[i]);
                k[colon - headers[i]] = '\0';
                const char *v = colon + 1;
                while (*v == ' ')
                        v++;
                json_object_set_new(h, k, json_string(v));
                free(k);
        }
        return json_pack("{s:s, s:s, s:s, s:n, s:b, s:{}, s:n, s:n, s:o}", "name", id, "url", url,
                         "transport_type", "http", "auth", "enabled", 1, "extra_config",
                         "github_url", "local_path", "headers", h);
}

int mcp_registry_add_http(const char *path, const char *id, const char *url, char *const *headers,
                          osvm_err *e)
{
        for (size_t i = 0; headers && headers[i]; i++) {
                const char *why = mcp_header_problem(headers[i]);
                if (why) {
                        /* the name only: the value may be a secret */
                        strbuf name = {0};
                        size_t n = strcspn(headers[i], ":");
                        sb_add_sanitized(&name, headers[i], n < 64 ? n : 64, 0);
                        err_set(e, EINVAL, "--header \"%s\": %s", name.s, why);
                        sb_free(&name);
                        e->exit = OSVM_EXIT_USAGE;
                        return -1;
                }
        }
        return add_entry(path, id, http_entry(id, url, headers), e);
}

int mcp_registry_set(const char *path, const char *id, const char *field, json_t *value,
                     osvm_err *e)
{
        json_t *doc = load_doc(path, e);
        if (!doc) {
                json_decref(value);
                return -1;
        }
        json_t *entry = json_object_get(doc, id);
        int r;
        if (!json_is_object(entry)) {
                json_decref(value);
                r = err_set(e, ENOENT, "no server \"%s\" in %s", id, path);
        } else {
                if (value)
                        json_object_set_new(entry, field, value);
                else
                        json_object_del(entry, field);
                r = save_doc(path, doc, e);
        }
        json_decref(doc);
        return r;
}

int mcp_registry_remove(const char *path, const char *id, osvm_err *e)
{
        json_t *doc = load_doc(path, e);
        if (!doc)
                return -1;
        int r;
        if (json_object_del(doc, id) < 0)
                r = err_set(e, ENOENT, "no server \"%s\" in %s", id, path);
        else
                r = save_doc(path, doc, e);
        json_decref(doc);
        return r;
}

int mcp_registry_import(const char *path, const char *file, size_t *added, size_t *skipped,
                        osvm_err *e)
{
        *added = *skipped = 0;
        json_t *src = load_doc(file, e);
        if (!src)
                return -1;
        json_t *servers = json_object_get(src, "mcpServers");
        if (!servers) /* VS Code's mcp.json */
                servers = json_object_get(src, "servers");
        if (!json_is_object(servers)) {
                json_decref(src);
                err_set(e, EINVAL, "%s: no \"mcpServers\" (or VS Code's \"servers\") object", file);
                e->exit = OSVM_EXIT_CONFIG;
                return -1;
        }
        json_t *doc = load_doc(path, e);
        if (!doc) {
                json_decref(src);
                return -1;
        }
        int r = 0;
        const char *id;
        json_t *o;
        json_object_foreach(servers, id, o)
        {
                const char *why = id_problem(id);
                json_t *cmd = json_object_get(o, "command"), *url = json_object_get(o, "url");
                const char *type = json_string_value(json_object_get(o, "type"));
                if (!type)
                        type = json_string_value(json_object_get(o, "transport"));
                json_t *entry = NULL;
                if (why) {
                        log_warn("%s: skipped \"%s\": the name %s", file, id, why);
                } else if (json_object_get(doc, id)) {
                        log_warn("%s: skipped \"%s\": already registered", file, id);
                } else if (type && !strcmp(type, "sse")) {
                        /* the 2024-11-05 transport: a GET stream plus an endpoint to POST to */
                        log_warn("%s: skipped \"%s\": it uses the legacy HTTP+SSE transport "
                                 "(2024-11-05), which osvm does not speak; if the server also "
                                 "offers Streamable HTTP, add that URL with 'osvm mcp add %s "
                                 "--url URL'",
                                 file, id, id);
                } else if (json_is_string(cmd)) {
                        json_t *args = json_object_get(o, "args"), *env = json_object_get(o, "env");
                        size_t n = json_array_size(args);
                        char **argv = strv_new(n + 1);
                        argv[0] = xstrdup(json_string_value(cmd));
                        for (size_t i = 0; i < n; i++)
                                argv[i + 1] =
                                    xstrdup(json_is_string(json_array_get(args, i))
                                                ? json_string_value(json_array_get(args, i))
                                                : "");
                        char **envv = strv_new(json_object_size(env));
                        size_t k = 0;
                        const char *key;
                        json_t *val;
                        json_object_foreach(env, key, val)
                        {
                                if (json_is_string(val))
                                        envv[k++] = xasprintf("%s=%s", key, json_string_value(val));
                        }
                        entry = stdio_entry(id, argv, envv);
                        strv_free(argv);
                        strv_free(envv);
                        json_t *cwd = json_object_get(o, "cwd");
                        if (json_is_string(cwd))
                                json_object_set(entry, "cwd", cwd);
                } else if (json_is_string(url)) {
                        entry = http_entry(id, json_string_value(url), NULL);
                        json_t *h = json_object_get(o, "headers");
                        if (json_is_object(h))
                                json_object_set(entry, "headers", h);
                } else {
                        log_warn("%s: skipped \"%s\": neither \"command\" nor \"url\"", file, id);
                }
                if (entry) {
                        json_t *dis = json_object_get(o, "disabled");
                        if (json_is_true(dis) || json_is_false(json_object_get(o, "enabled")))
                                json_object_set_new(entry, "enabled", json_false());
                        json_object_set_new(doc, id, entry);
                        (*added)++;
                } else {
                        (*skipped)++;
                }
        }
        if (*added)
                r = save_doc(path, doc, e);
        json_decref(doc);
        json_decref(src);
        return r;
}

bool mcp_registry_add_builtin(struct mcp_registry *reg, const struct iso_host *host)
{
        if (mcp_registry_find(reg, "osvm-mcp"))
                return false;
        json_t *tools = mcp_builtin_tools(host, "osvm-mcp");
        if (!tools)
                return false;
        json_decref(tools);
        char exe[512];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n <= 0)
                return false;
        exe[n] = '\0';
        reg->v = xrealloc(reg->v, (reg->n + 1) * sizeof(*reg->v));
        char **argv = strv_new(5);
        argv[0] = xstrdup(exe);
        argv[1] = xstrdup("mcp");
        argv[2] = xstrdup("serve");
        argv[3] = xstrdup("--pack");
        argv[4] = xstrdup("osvm-mcp");
        reg->v[reg->n++] = (struct mcp_server_conf){
            .id = xstrdup("osvm-mcp"),
            .name = xstrdup("osvm-mcp (built in)"),
            .kind = MCP_KIND_STDIO,
            .argv = argv,
            .env = strv_new(0),
            .enabled = true,
            .own_pack = true,
        };
        return true;
}
