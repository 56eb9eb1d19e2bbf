/*
 * The gateway: `osvm mcp serve` as one MCP server (protocol 2025-11-25) in
 * front of every registered server, or of those named. Each tool call is
 * routed by the isolation policy through the hub, as the agent's calls are
 * (a VM or trapped process per call, the server directly, or refused), and
 * recorded in the audit log.
 *
 * Names are qualified SERVER__NAME (tools, prompts, resources' names), and
 * resource URIs osvm-gw://SERVER/URI, so that two servers never clash;
 * docs/gateway.md. A session is one client (stdio: the one on stdin; HTTP:
 * each Mcp-Session-Id). Requests other than initialize and ping run each in
 * a thread of their own, so that a ping or a second call never waits behind
 * a long call; notifications/cancelled sets the call's cancel flag, which
 * the hub passes on (notifications/cancelled to the server, the VM stopped).
 */
#include "mcp/mcp.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <poll.h>
#include <pthread.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define GW_SEP          "__"
#define GW_URI_PREFIX   "osvm-gw://"
#define GW_INFLIGHT_MAX 64u  /* requests of one session running at once */
#define GW_LIST_PAGES   64u  /* pages of a server's resources/list or prompts/list followed */
#define GW_NAME_SHOWN   120u /* bytes of an unknown name quoted back */
#define GW_POLL_MS      5000u

struct gw_call {
        struct gw_call *next;
        struct mcp_gw_session *s;
        json_t *id, *params, *token;
        char *method;
        volatile sig_atomic_t cancel;
        struct mcp_watch *watch; /* NULL, or stdin, when this call's thread holds its reading */
};

struct mcp_gw_session {
        struct mcp_gateway *g;
        mcp_gw_send_fn send;
        void *ctx;
        pthread_mutex_t mu;
        pthread_cond_t idle;
        struct gw_call *calls;
        unsigned ncalls;
        bool closing;
        bool listed;       /* it asked for the tools: list_changed is owed to it */
        unsigned gen_seen; /* the hub's tools generation it was told of */
        char *client;      /* its clientInfo.name, sanitized */
        char id[48];
        struct mcp_gw_session *next; /* in g->sessions */
};

struct mcp_gateway {
        struct mcp_hub *hub;
        const struct mcp_registry *reg;
        size_t n;
        char **ids;   /* the servers fronted */
        char **tools; /* globs over the qualified names of the tools served; NULL: all */
        json_t *caps, *instructions_of;
        char *instructions;
        size_t max_message;
        pthread_mutex_t mu;
        struct mcp_gw_session *sessions;
        /* every enabled server (no names given): the registry is watched */
        bool watch;
        char *reg_path;
        struct stat reg_st;
        struct mcp_registry **regs; /* read again as it changed; their strings are served */
        size_t nregs;
        pthread_t poller;
        bool polling;
        pthread_mutex_t stop_mu;
        pthread_cond_t stop_cv;
        bool stop;
};

/* ---- messages ---- */

static json_t *rpc_error(json_t *id, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static json_t *rpc_error(json_t *id, int code, const char *fmt, ...)
{
        char buf[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        _cleanup_free_ char *clean = text_sanitize(buf, 0);
        return json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", id ? id : json_null(),
                         "error", "code", code, "message", clean);
}

static json_t *rpc_result(json_t *id, json_t *result)
{
        return json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "result", result);
}

/* A name from the client, as it may be quoted back (sanitized, cut short). */
static char *shown(const char *s)
{
        if (!s)
                return xstrdup("(none)");
        size_t n = strlen(s);
        strbuf b = {0};
        sb_add_sanitized(&b, s, n < GW_NAME_SHOWN ? n : GW_NAME_SHOWN, 0);
        if (n > GW_NAME_SHOWN)
                sb_add(&b, "...");
        return sb_steal(&b);
}

static void send_to(struct mcp_gw_session *s, json_t *msg, json_t *request_id)
{
        if (msg)
                s->send(s->ctx, msg, request_id);
        json_decref(msg);
}

/* ---- the servers fronted: a snapshot, as the registry may change ---- */

struct gw_ids {
        char **ids;
        size_t n;
};

static struct gw_ids ids_of(struct mcp_gateway *g)
{
        pthread_mutex_lock(&g->mu);
        struct gw_ids v = {xcalloc(g->n + 1, sizeof(char *)), g->n};
        memcpy(v.ids, g->ids, g->n * sizeof(char *));
        pthread_mutex_unlock(&g->mu);
        return v;
}

static void ids_free(struct gw_ids *v)
{
        free(v->ids);
}
#define _cleanup_ids_ __attribute__((cleanup(ids_free)))

/* ---- qualified names ---- */

static char *qualify(const char *id, const char *name)
{
        return xasprintf("%s" GW_SEP "%s", id, name);
}

/* Whether the tool of qualified name q is served: --tools names it. */
static bool served(const struct mcp_gateway *g, const char *q)
{
        for (size_t i = 0; g->tools && g->tools[i]; i++)
                if (fnmatch(g->tools[i], q, 0) == 0)
                        return true;
        return !g->tools;
}

/* The server of a qualified name and the name it gave; the first server
 * (in the order served) whose prefix fits and that has such an item. */
static const char *unqualify(struct mcp_gateway *g, const char *q, const char **name,
                             bool (*has)(struct mcp_gateway *, const char *, const char *,
                                         const struct mcp_call_opts *),
                             const struct mcp_call_opts *o)
{
        _cleanup_ids_ struct gw_ids v = ids_of(g);
        if (!q)
                return NULL;
        for (size_t i = 0; i < v.n; i++) {
                size_t n = strlen(v.ids[i]);
                if (strncmp(q, v.ids[i], n) == 0 && strncmp(q + n, GW_SEP, 2) == 0 && q[n + 2] &&
                    (!has || has(g, v.ids[i], q + n + 2, o))) {
                        *name = q + n + 2;
                        return v.ids[i];
                }
        }
        return NULL;
}

static char *qualify_uri(const char *id, const char *uri)
{
        return xasprintf(GW_URI_PREFIX "%s/%s", id, uri);
}

static const char *unqualify_uri(struct mcp_gateway *g, const char *q, const char **uri)
{
        _cleanup_ids_ struct gw_ids v = ids_of(g);
        size_t p = strlen(GW_URI_PREFIX);
        if (!q || strncmp(q, GW_URI_PREFIX, p) != 0)
                return NULL;
        for (size_t i = 0; i < v.n; i++) {
                size_t n = strlen(v.ids[i]);
                if (strncmp(q + p, v.ids[i], n) == 0 && q[p + n] == '/') {
                        *uri = q + p + n + 1;
                        return v.ids[i];
                }
        }
        return NULL;
}

static bool has_tool(struct mcp_gateway *g, const char *id, const char *tool,
                     const struct mcp_call_opts *o)
{
        osvm_err e = {0};
        /* (listing them first, when they are not known yet, is the call's wait) */
        struct mcp_call_opts lo = {.cancel = o ? o->cancel : NULL, .watch = o ? o->watch : NULL};
        json_t *tools = mcp_hub_tools(g->hub, id, &lo, &e);
        size_t i;
        json_t *t;
        json_array_foreach(tools, i, t)
        {
                if (!strcmp(json_string_value(json_object_get(t, "name")), tool))
                        return true;
        }
        return false;
}

/* ---- where calls run, in words ---- */

static const char *route_words(const struct iso_decision *d)
{
        switch (d->route) {
        case ISO_ROUTE_UNIKERNEL:
                return d->platform == ISO_PLATFORM_PROCESS
                           ? "each call in its own trapped process (the process platform: no KVM "
                             "here)"
                           : "each call in its own fresh VM (KVM)";
        case ISO_ROUTE_DIRECT:
                /* where the server's process runs: the decision's tier */
                if (d->tier && !strcmp(d->tier, "remote"))
                        return "on the server itself, reached by URL (not on this host)";
                if (d->sandboxed && d->tier && !strcmp(d->tier, "reduced"))
                        return "in the server's own process, in osvm's reduced sandbox on this "
                               "host (Landlock and seccomp; not a VM)";
                if (d->sandboxed)
                        return "in the server's own process, confined in osvm's sandbox on this "
                               "host (not a VM)";
                return "directly in the server's own process on this host, outside any VM";
        case ISO_ROUTE_DENY:
                return "refused by the isolation policy";
        case ISO_ROUTE_MICROVM:
                break;
        }
        return "in a microVM";
}

static void describe_routes(struct mcp_gateway *g, const char *id, json_t *tools, strbuf *b)
{
        const char *kinds[4] = {0};
        unsigned counts[4] = {0};
        size_t i;
        json_t *t;
        json_array_foreach(tools, i, t)
        {
                const char *name = json_string_value(json_object_get(t, "name"));
                _cleanup_free_ char *q = qualify(id, name);
                if (!served(g, q))
                        continue;
                struct iso_decision d;
                mcp_hub_preview(g->hub, id, name, &d);
                const char *w = route_words(&d);
                iso_decision_free(&d);
                for (size_t k = 0; k < 4; k++)
                        if (!kinds[k] || kinds[k] == w) {
                                kinds[k] = w;
                                counts[k]++;
                                break;
                        }
        }
        _cleanup_free_ char *sid = text_sanitize(id, 0);
        sb_addf(b, "- %s: ", sid);
        if (!kinds[0])
                sb_add(b, g->tools && json_array_size(tools) ? "none of its tools is served here"
                                                             : "no tools listed");
        for (size_t k = 0; k < 4 && kinds[k]; k++)
                sb_addf(b, "%s%u tool%s run %s", k ? "; " : "", counts[k],
                        counts[k] == 1 ? "" : "s", kinds[k]);
        sb_add(b, ".\n");
}

/* ---- starting: every server reached once, in parallel ---- */

struct start {
        struct mcp_gateway *g;
        const char *id;
        json_t *info, *tools;
        osvm_err e;
};

static void *start_one(void *arg)
{
        struct start *st = arg;
        struct mcp_call_opts o = {.timeout_ms = 30000};
        st->info = mcp_hub_describe(st->g->hub, st->id, &o, &st->e);
        if (st->info)
                st->tools = mcp_hub_tools(st->g->hub, st->id, &o, &st->e);
        return NULL;
}

/* The union of what the servers offer, as this gateway serves it. */
static void merge_caps(json_t *caps, json_t *theirs)
{
        if (json_object_get(theirs, "resources")) {
                json_t *r = json_object_get(caps, "resources");
                if (!r)
                        json_object_set_new(caps, "resources",
                                            r = json_pack("{s:b}", "listChanged", 1));
                if (json_is_true(
                        json_object_get(json_object_get(theirs, "resources"), "subscribe")))
                        json_object_set_new(r, "subscribe", json_true());
        }
        if (json_object_get(theirs, "prompts") && !json_object_get(caps, "prompts"))
                json_object_set_new(caps, "prompts", json_pack("{s:b}", "listChanged", 1));
        if (json_object_get(theirs, "completions") && !json_object_get(caps, "completions"))
                json_object_set_new(caps, "completions", json_object());
        if (json_object_get(theirs, "logging") && !json_object_get(caps, "logging"))
                json_object_set_new(caps, "logging", json_object());
}

static void *poll_loop(void *arg);

/*
 * A fronted server's own notification, passed on to every session: log
 * messages with the server's id as (the head of) the logger, resource
 * updates with the URI qualified, list changes as they are.
 */
static void server_notified(void *ctx, const char *id, const char *method, json_t *params)
{
        struct mcp_gateway *g = ctx;
        static const char *const passed[] = {
            "notifications/message", "notifications/resources/updated",
            "notifications/resources/list_changed", "notifications/prompts/list_changed", NULL};
        bool pass = false;
        for (size_t i = 0; passed[i]; i++)
                pass |= !strcmp(method, passed[i]);
        if (!pass)
                return;
        json_t *p = json_is_object(params) ? json_deep_copy(params) : json_object();
        if (!strcmp(method, "notifications/message")) {
                const char *logger = json_string_value(json_object_get(p, "logger"));
                char *l = logger ? xasprintf("%s/%s", id, logger) : xstrdup(id);
                json_object_set_new(p, "logger", json_string(l));
                free(l);
        }
        const char *uri = json_string_value(json_object_get(p, "uri"));
        if (uri) {
                char *q = qualify_uri(id, uri);
                json_object_set_new(p, "uri", json_string(q));
                free(q);
        }
        json_t *msg = json_pack("{s:s, s:s, s:o}", "jsonrpc", "2.0", "method", method, "params", p);
        pthread_mutex_lock(&g->mu);
        for (struct mcp_gw_session *s = g->sessions; s; s = s->next)
                s->send(s->ctx, msg, NULL);
        pthread_mutex_unlock(&g->mu);
        json_decref(msg);
}

struct mcp_gateway *mcp_gateway_new(struct mcp_hub *hub, const struct mcp_registry *reg,
                                    char *const *only, char *const *tools, size_t max_message,
                                    osvm_err *e)
{
        struct mcp_gateway *g = xcalloc(1, sizeof(*g));
        g->hub = hub;
        if (tools) {
                size_t n = 0;
                while (tools[n])
                        n++;
                g->tools = xcalloc(n + 1, sizeof(char *));
                for (size_t i = 0; i < n; i++)
                        g->tools[i] = xstrdup(tools[i]);
        }
        g->reg = reg;
        g->max_message = max_message ? max_message : MCP_DEFAULT_MAX_MESSAGE;
        g->ids = xcalloc(reg->n + 1, sizeof(char *));
        pthread_mutex_init(&g->mu, NULL);
        pthread_mutex_init(&g->stop_mu, NULL);
        pthread_cond_init(&g->stop_cv, NULL);
        for (size_t i = 0; i < reg->n; i++) {
                const struct mcp_server_conf *s = &reg->v[i];
                bool named = false;
                for (size_t k = 0; only && only[k]; k++)
                        named |= !strcmp(only[k], s->id);
                if (only ? named : s->enabled)
                        g->ids[g->n++] = s->id;
        }
        for (size_t k = 0; only && only[k]; k++) {
                const struct mcp_server_conf *s = mcp_registry_find(reg, only[k]);
                if (!s || !s->enabled) {
                        _cleanup_free_ char *name = shown(only[k]);
                        err_set(e, s ? EPERM : ENOENT,
                                s ? "server \"%s\" is disabled in the registry"
                                  : "no MCP server \"%s\" is registered ('osvm mcp list' shows "
                                    "them)",
                                name);
                        e->exit = OSVM_EXIT_USAGE;
                        mcp_gateway_free(g);
                        return NULL;
                }
        }
        g->watch = !only && reg->path;
        if (g->watch) {
                g->reg_path = xstrdup(reg->path);
                if (stat(g->reg_path, &g->reg_st) < 0)
                        memset(&g->reg_st, 0, sizeof(g->reg_st));
        }
        g->caps = json_pack("{s:{s:b}}", "tools", "listChanged", 1);
        g->instructions_of = json_object();
        struct start *st = xcalloc(g->n + 1, sizeof(*st));
        pthread_t *th = xcalloc(g->n + 1, sizeof(*th));
        for (size_t i = 0; i < g->n; i++) {
                st[i] = (struct start){.g = g, .id = g->ids[i]};
                if (pthread_create(&th[i], NULL, start_one, &st[i]) != 0)
                        start_one(&st[i]), th[i] = 0;
        }
        strbuf b = {0};
        sb_addf(&b,
                "osvm fronts %zu MCP server%s here. Names are qualified SERVER" GW_SEP
                "NAME (tools, prompts), resource URIs " GW_URI_PREFIX "SERVER/URI. osvm's "
                "isolation policy decides where each tool call runs, call by call, and every "
                "call is recorded in osvm's audit log.",
                g->n, g->n == 1 ? "" : "s");
        for (size_t k = 0; g->tools && g->tools[k]; k++) {
                _cleanup_free_ char *p = text_sanitize(g->tools[k], 0);
                sb_addf(&b, "%s%s", k ? ", " : " Of their tools only those named are served: ", p);
        }
        sb_add(&b, g->tools ? ".\nWhere they run now:\n" : " Where they run now:\n");
        for (size_t i = 0; i < g->n; i++) {
                if (th[i])
                        pthread_join(th[i], NULL);
                if (!st[i].info) {
                        log_warn("%s", st[i].e.msg);
                        _cleanup_free_ char *sid = text_sanitize(st[i].id, 0);
                        sb_addf(&b, "- %s: not reachable when osvm started (tried again on use).\n",
                                sid);
                        continue;
                }
                merge_caps(g->caps, json_object_get(st[i].info, "capabilities"));
                describe_routes(g, st[i].id, st[i].tools, &b);
                json_t *ins = json_object_get(st[i].info, "instructions");
                if (json_is_string(ins))
                        json_object_set(g->instructions_of, st[i].id, ins);
                json_decref(st[i].info);
        }
        const char *key;
        json_t *v;
        json_object_foreach(g->instructions_of, key, v)
        {
                _cleanup_free_ char *sid = text_sanitize(key, 0);
                strbuf one = {0};
                sb_add_sanitized(&one, json_string_value(v), json_string_length(v), TEXT_MULTILINE);
                sb_addf(&b, "\nFrom %s:\n%s\n", sid, one.s ? one.s : "");
                sb_free(&one);
        }
        g->instructions = sb_steal(&b);
        /* a glob that names no tool is most likely mistyped */
        for (size_t k = 0; g->tools && g->tools[k]; k++) {
                bool hit = false;
                for (size_t i = 0; i < g->n && !hit; i++) {
                        size_t j;
                        json_t *t;
                        json_array_foreach(st[i].tools, j, t)
                        {
                                _cleanup_free_ char *q = qualify(
                                    st[i].id, json_string_value(json_object_get(t, "name")));
                                hit = hit || fnmatch(g->tools[k], q, 0) == 0;
                        }
                }
                _cleanup_free_ char *p = text_sanitize(g->tools[k], 0);
                if (!hit)
                        log_warn("gateway: --tools %s names no tool of the servers reached (tools "
                                 "are named SERVER" GW_SEP "TOOL: 'osvm mcp tools' lists them)",
                                 p);
        }
        free(st);
        free(th);
        mcp_hub_set_notify(hub, server_notified, g);
        g->polling = pthread_create(&g->poller, NULL, poll_loop, g) == 0;
        return g;
}

/* ---- sessions ---- */

void mcp_gw_session_id(char *buf, size_t n)
{
        uint8_t r[16] = {0};
        ssize_t got = -1;
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
                got = read(fd, r, sizeof(r));
                close(fd);
        }
        if (got != (ssize_t)sizeof(r)) { /* never expected; unique in this run at least */
                uint64_t t = time_mono_ns();
                memcpy(r, &t, sizeof(t));
        }
        size_t k = 0;
        for (size_t i = 0; i < sizeof(r) && k + 2 < n; i++) {
                buf[k++] = "0123456789abcdef"[r[i] >> 4];
                buf[k++] = "0123456789abcdef"[r[i] & 15];
        }
        buf[k] = '\0';
}

static void tell_if_changed(struct mcp_gw_session *s)
{
        unsigned gen = mcp_hub_tools_gen(s->g->hub);
        pthread_mutex_lock(&s->mu);
        bool due = s->listed && gen != s->gen_seen && !s->closing;
        s->gen_seen = gen;
        pthread_mutex_unlock(&s->mu);
        if (due)
                send_to(s,
                        json_pack("{s:s, s:s}", "jsonrpc", "2.0", "method",
                                  "notifications/tools/list_changed"),
                        NULL);
}

static bool same_file(const struct stat *a, const struct stat *b)
{
        return a->st_ino == b->st_ino && a->st_size == b->st_size &&
               a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/*
 * The registry changed: servers enabled in it now are served (new ones
 * added to the hub), those removed or disabled no longer are; osvm's own
 * pack stays. The clients hear of it as a change of tools.
 */
static void reload_registry(struct mcp_gateway *g)
{
        struct stat st;
        if (stat(g->reg_path, &st) < 0)
                memset(&st, 0, sizeof(st));
        if (same_file(&st, &g->reg_st))
                return;
        g->reg_st = st;
        struct mcp_registry *nr = xcalloc(1, sizeof(*nr));
        osvm_err e = {0};
        if (mcp_registry_load(g->reg_path, nr, &e) < 0) {
                log_warn("gateway: %s changed but cannot be read; serving what was there: %s",
                         g->reg_path, e.msg);
                free(nr);
                return;
        }
        pthread_mutex_lock(&g->mu);
        char **ids = xcalloc(nr->n + g->n + 1, sizeof(char *));
        size_t n = 0;
        for (size_t i = 0; i < g->n; i++) /* the built-in pack is not in the file */
                if (!mcp_registry_find(nr, g->ids[i]) && !strcmp(g->ids[i], "osvm-mcp"))
                        ids[n++] = g->ids[i];
        for (size_t i = 0; i < nr->n; i++)
                if (nr->v[i].enabled)
                        ids[n++] = nr->v[i].id;
        bool changed = n != g->n;
        for (size_t i = 0; i < n && !changed; i++)
                changed = strcmp(ids[i], g->ids[i]) != 0;
        free(g->ids);
        g->ids = ids;
        g->n = n;
        g->regs = xrealloc(g->regs, (g->nregs + 1) * sizeof(*g->regs));
        g->regs[g->nregs++] = nr;
        pthread_mutex_unlock(&g->mu);
        for (size_t i = 0; i < nr->n; i++)
                if (nr->v[i].enabled)
                        mcp_hub_add_server(g->hub, &nr->v[i]);
        log_info("gateway: the registry changed; serving %zu server%s%s", n, n == 1 ? "" : "s",
                 changed ? "" : " (the same ones)");
}

static void *poll_loop(void *arg)
{
        struct mcp_gateway *g = arg;
        const char *v = getenv("OSVM_GATEWAY_POLL_MS");
        unsigned ms = v && atoi(v) > 0 ? (unsigned)atoi(v) : GW_POLL_MS;
        pthread_mutex_lock(&g->stop_mu);
        while (!g->stop) {
                struct timespec ts = time_after(CLOCK_REALTIME, (uint64_t)ms * 1000000ull);
                pthread_cond_timedwait(&g->stop_cv, &g->stop_mu, &ts);
                if (g->stop)
                        break;
                pthread_mutex_unlock(&g->stop_mu);
                if (g->watch)
                        reload_registry(g);
                mcp_hub_poll(g->hub);
                pthread_mutex_lock(&g->mu);
                for (struct mcp_gw_session *s = g->sessions; s; s = s->next)
                        tell_if_changed(s);
                pthread_mutex_unlock(&g->mu);
                pthread_mutex_lock(&g->stop_mu);
        }
        pthread_mutex_unlock(&g->stop_mu);
        return NULL;
}

struct mcp_gw_session *mcp_gw_session_new(struct mcp_gateway *g, mcp_gw_send_fn send, void *ctx,
                                          const char *id)
{
        struct mcp_gw_session *s = xcalloc(1, sizeof(*s));
        s->g = g;
        s->send = send;
        s->ctx = ctx;
        pthread_mutex_init(&s->mu, NULL);
        pthread_cond_init(&s->idle, NULL);
        snprintf(s->id, sizeof(s->id), "%s", id);
        s->client = xstrdup("?");
        pthread_mutex_lock(&g->mu);
        s->next = g->sessions;
        g->sessions = s;
        pthread_mutex_unlock(&g->mu);
        return s;
}

void mcp_gw_session_close(struct mcp_gw_session *s, bool cancel)
{
        if (!s)
                return;
        struct mcp_gateway *g = s->g;
        pthread_mutex_lock(&g->mu);
        for (struct mcp_gw_session **p = &g->sessions; *p; p = &(*p)->next)
                if (*p == s) {
                        *p = s->next;
                        break;
                }
        pthread_mutex_unlock(&g->mu);
        /* what it asked for is waited for, cancelled first when the client is gone */
        pthread_mutex_lock(&s->mu);
        s->closing = cancel;
        for (struct gw_call *c = s->calls; c && cancel; c = c->next)
                c->cancel = 1;
        while (s->ncalls)
                pthread_cond_wait(&s->idle, &s->mu);
        pthread_mutex_unlock(&s->mu);
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->idle);
        free(s->client);
        free(s);
}

/* ---- the requests that run in threads of their own ---- */

static void on_progress(void *ctx, const struct mcp_progress *p)
{
        struct gw_call *c = ctx;
        if (c->cancel)
                return;
        json_t *params =
            json_pack("{s:O, s:f}", "progressToken", c->token, "progress", p->progress);
        if (p->total >= 0)
                json_object_set_new(params, "total", json_real(p->total));
        if (p->message) {
                _cleanup_free_ char *m = text_sanitize(p->message, 0);
                json_object_set_new(params, "message", json_string(m));
        }
        send_to(c->s,
                json_pack("{s:s, s:s, s:o}", "jsonrpc", "2.0", "method", "notifications/progress",
                          "params", params),
                c->id);
}

static struct mcp_call_opts call_opts(struct gw_call *c, char *caller, size_t n)
{
        snprintf(caller, n, "gateway %s session %s", c->s->client, c->s->id);
        return (struct mcp_call_opts){
            .cancel = &c->cancel,
            .caller = caller,
            .on_progress = c->token ? on_progress : NULL,
            .progress_ctx = c,
            .watch = c->watch,
        };
}

static json_t *list_tools(struct gw_call *c)
{
        struct mcp_gateway *g = c->s->g;
        _cleanup_ids_ struct gw_ids v = ids_of(g);
        pthread_mutex_lock(&c->s->mu);
        c->s->listed = true;
        pthread_mutex_unlock(&c->s->mu);
        unsigned gen = mcp_hub_tools_gen(g->hub);
        json_t *out = json_array(), *seen = json_object();
        for (size_t i = 0; i < v.n; i++) {
                osvm_err e = {0};
                struct mcp_call_opts o = {.cancel = &c->cancel};
                json_t *tools = mcp_hub_tools(g->hub, v.ids[i], &o, &e);
                if (!tools) {
                        log_warn("%s", e.msg);
                        continue;
                }
                size_t k;
                json_t *t;
                json_array_foreach(tools, k, t)
                {
                        const char *name = json_string_value(json_object_get(t, "name"));
                        _cleanup_free_ char *q = qualify(v.ids[i], name);
                        if (!served(g, q))
                                continue;
                        if (json_object_get(seen, q)) {
                                _cleanup_free_ char *sq = text_sanitize(q, 0);
                                log_warn("gateway: two tools would be named %s; the first is kept",
                                         sq);
                                continue;
                        }
                        json_object_set_new(seen, q, json_true());
                        struct iso_decision d;
                        mcp_hub_preview(g->hub, v.ids[i], name, &d);
                        json_t *copy = json_copy(t);
                        json_object_set_new(copy, "name", json_string(q));
                        json_t *meta = json_object_get(copy, "_meta");
                        meta = json_is_object(meta) ? json_copy(meta) : json_object();
                        json_object_set_new(meta, "osvm/server", json_string(v.ids[i]));
                        json_object_set_new(meta, "osvm/tool", json_string(name));
                        json_object_set_new(meta, "osvm/route",
                                            json_string(iso_route_name(d.route)));
                        if (d.route == ISO_ROUTE_DIRECT && d.tier)
                                json_object_set_new(meta, "osvm/tier", json_string(d.tier));
                        json_object_set_new(copy, "_meta", meta);
                        iso_decision_free(&d);
                        json_array_append_new(out, copy);
                }
        }
        json_decref(seen);
        pthread_mutex_lock(&c->s->mu);
        c->s->gen_seen = gen;
        pthread_mutex_unlock(&c->s->mu);
        return json_pack("{s:o}", "tools", out);
}

/* tools/call: the answer, or NULL when none is to be sent (cancelled). */
static json_t *call_tool(struct gw_call *c)
{
        struct mcp_gateway *g = c->s->g;
        json_t *nj = json_object_get(c->params, "name");
        const char *q = json_string_value(nj);
        if (!q || strlen(q) != json_string_length(nj))
                return rpc_error(c->id, MCP_RPC_INVALID_PARAMS, "tools/call needs a tool name");
        const char *tool = NULL;
        char caller[256];
        struct mcp_call_opts o = call_opts(c, caller, sizeof(caller));
        const char *id = served(g, q) ? unqualify(g, q, &tool, has_tool, &o) : NULL;
        if (!id) {
                _cleanup_free_ char *name = shown(q);
                return rpc_error(c->id, MCP_RPC_INVALID_PARAMS,
                                 "Unknown tool: %s (tools are named SERVER" GW_SEP
                                 "TOOL; tools/list lists them)",
                                 name);
        }
        json_t *args = json_object_get(c->params, "arguments");
        if (args && !json_is_object(args) && !json_is_null(args))
                return rpc_error(c->id, MCP_RPC_INVALID_PARAMS,
                                 "tools/call: the arguments must be an object");
        if (json_is_null(args))
                args = NULL;
        struct iso_decision d;
        osvm_err e = {0};
        json_t *r = mcp_hub_call(g->hub, id, tool, args, &o, &d, &e);
        enum iso_route route = d.route;
        iso_decision_free(&d);
        if (r)
                return rpc_result(c->id, r);
        if (e.code == MCP_E_CANCELLED || c->cancel)
                return NULL;
        if (route != ISO_ROUTE_DENY && e.code <= -32000 && e.code >= -32768)
                return rpc_error(c->id, e.code, "%s", e.msg);
        _cleanup_free_ char *msg = text_sanitize(e.msg, 0);
        return rpc_result(c->id, mcp_text_result(true, "%s", msg));
}

/* Whether server id declared cap ("resources", "prompts", "logging", ...). */
static bool offers(struct gw_call *c, const char *id, const char *cap)
{
        osvm_err e = {0};
        struct mcp_call_opts o = {.cancel = &c->cancel};
        json_t *info = mcp_hub_describe(c->s->g->hub, id, &o, &e);
        bool yes = json_object_get(json_object_get(info, "capabilities"), cap) != NULL;
        json_decref(info);
        return yes;
}

/* Every item of a list method from every server that offers it, qualified. */
static json_t *list_all(struct gw_call *c, const char *method, const char *key, const char *cap)
{
        struct mcp_gateway *g = c->s->g;
        _cleanup_ids_ struct gw_ids v = ids_of(g);
        json_t *out = json_array();
        for (size_t i = 0; i < v.n; i++) {
                osvm_err e = {0};
                struct mcp_call_opts o = {.cancel = &c->cancel};
                bool has = offers(c, v.ids[i], cap);
                json_t *cursor = NULL;
                for (unsigned page = 0; has && page < GW_LIST_PAGES; page++) {
                        json_t *params = cursor ? json_pack("{s:O}", "cursor", cursor) : NULL;
                        json_t *r = mcp_hub_request(g->hub, v.ids[i], method, params, &o, &e);
                        json_decref(params);
                        json_decref(cursor);
                        cursor = NULL;
                        if (!r) {
                                log_warn("%s", e.msg);
                                break;
                        }
                        size_t k;
                        json_t *item;
                        json_array_foreach(json_object_get(r, key), k, item)
                        {
                                if (!json_is_object(item))
                                        continue;
                                json_t *copy = json_copy(item);
                                const char *name = json_string_value(json_object_get(item, "name"));
                                if (name) {
                                        char *qn = qualify(v.ids[i], name);
                                        json_object_set_new(copy, "name", json_string(qn));
                                        free(qn);
                                }
                                static const char *const uris[] = {"uri", "uriTemplate"};
                                for (size_t u = 0; u < 2; u++) {
                                        const char *uri =
                                            json_string_value(json_object_get(item, uris[u]));
                                        if (uri) {
                                                char *qu = qualify_uri(v.ids[i], uri);
                                                json_object_set_new(copy, uris[u], json_string(qu));
                                                free(qu);
                                        }
                                }
                                json_array_append_new(out, copy);
                        }
                        json_t *next = json_object_get(r, "nextCursor");
                        if (json_is_string(next))
                                cursor = json_incref(next);
                        json_decref(r);
                        if (!cursor)
                                break;
                }
                json_decref(cursor);
        }
        return json_pack("{s:o}", key, out);
}

/* The one server fronted that offers cap, or NULL when none or several do. */
static const char *only_offering(struct gw_call *c, const char *cap)
{
        struct mcp_gateway *g = c->s->g;
        _cleanup_ids_ struct gw_ids v = ids_of(g);
        const char *found = NULL;
        for (size_t i = 0; i < v.n; i++) {
                bool has = offers(c, v.ids[i], cap);
                if (has && found)
                        return NULL;
                if (has)
                        found = v.ids[i];
        }
        return found;
}

/* A request about one item, sent on to its server with the name or URI as
 * the server gave it; resource URIs in the answer qualified again. */
static json_t *forward(struct gw_call *c)
{
        struct mcp_gateway *g = c->s->g;
        json_t *params = json_is_object(c->params) ? json_deep_copy(c->params) : json_object();
        const char *id = NULL, *plain = NULL;
        json_t *where = params; /* the object holding the name or URI */
        const char *key = "name";
        if (!strcmp(c->method, "resources/read") || !strncmp(c->method, "resources/sub", 13) ||
            !strncmp(c->method, "resources/unsub", 15)) {
                key = "uri";
        } else if (!strcmp(c->method, "completion/complete")) {
                where = json_object_get(params, "ref");
                const char *type = json_string_value(json_object_get(where, "type"));
                key = type && !strcmp(type, "ref/resource") ? "uri" : "name";
        }
        const char *q = json_string_value(json_object_get(where, key));
        if (q)
                id = !strcmp(key, "uri") ? unqualify_uri(g, q, &plain)
                                         : unqualify(g, q, &plain, NULL, NULL);
        if (!id && q) {
                /* unqualified: the one server that offers such things, when only one does */
                const char *cap = !strncmp(c->method, "prompts/", 8)          ? "prompts"
                                  : !strcmp(c->method, "completion/complete") ? "completions"
                                                                              : "resources";
                id = only_offering(c, cap);
                plain = q;
        }
        if (!id) {
                _cleanup_free_ char *name = shown(q);
                json_decref(params);
                return rpc_error(c->id, MCP_RPC_INVALID_PARAMS, "%s: unknown %s %s (%s)", c->method,
                                 !strcmp(key, "uri") ? "resource" : "prompt", name,
                                 !strcmp(key, "uri") ? "URIs are " GW_URI_PREFIX "SERVER/URI"
                                                     : "names are SERVER" GW_SEP "NAME");
        }
        json_object_set_new(where, key, json_string(plain));
        char caller[256];
        struct mcp_call_opts o = call_opts(c, caller, sizeof(caller));
        osvm_err e = {0};
        json_t *r = mcp_hub_request(g->hub, id, c->method, params, &o, &e);
        json_decref(params);
        if (!r) {
                if (e.code == MCP_E_CANCELLED || c->cancel)
                        return NULL;
                return rpc_error(c->id, e.code <= -32000 && e.code >= -32768 ? e.code : -32603,
                                 "%s", e.msg);
        }
        size_t i;
        json_t *item;
        json_array_foreach(json_object_get(r, "contents"), i, item)
        {
                const char *uri = json_string_value(json_object_get(item, "uri"));
                if (uri) {
                        char *qu = qualify_uri(id, uri);
                        json_object_set_new(item, "uri", json_string(qu));
                        free(qu);
                }
        }
        return rpc_result(c->id, r);
}

/* logging/setLevel: to every server that logs. */
static json_t *set_level(struct gw_call *c)
{
        struct mcp_gateway *g = c->s->g;
        _cleanup_ids_ struct gw_ids v = ids_of(g);
        for (size_t i = 0; i < v.n; i++) {
                osvm_err e = {0};
                struct mcp_call_opts o = {.cancel = &c->cancel};
                bool logs = offers(c, v.ids[i], "logging");
                json_t *r =
                    logs ? mcp_hub_request(g->hub, v.ids[i], "logging/setLevel", c->params, &o, &e)
                         : NULL;
                if (logs && !r)
                        log_warn("%s", e.msg);
                json_decref(r);
        }
        return rpc_result(c->id, json_object());
}

static void call_job(void *arg)
{
        struct gw_call *c = arg;
        struct mcp_gw_session *s = c->s;
        json_t *answer;
        /* a tool call minds stdin while it waits (call_tool); the rest pass
         * its reading on now */
        if (strcmp(c->method, "tools/call") != 0)
                mcp_watch_fire(c->watch);
        if (!strcmp(c->method, "tools/list"))
                answer = rpc_result(c->id, list_tools(c));
        else if (!strcmp(c->method, "tools/call"))
                answer = call_tool(c);
        else if (!strcmp(c->method, "resources/list"))
                answer = rpc_result(c->id, list_all(c, c->method, "resources", "resources"));
        else if (!strcmp(c->method, "resources/templates/list"))
                answer =
                    rpc_result(c->id, list_all(c, c->method, "resourceTemplates", "resources"));
        else if (!strcmp(c->method, "prompts/list"))
                answer = rpc_result(c->id, list_all(c, c->method, "prompts", "prompts"));
        else if (!strcmp(c->method, "logging/setLevel"))
                answer = set_level(c);
        else
                answer = forward(c);
        if (c->cancel) { /* cancelled: no answer, as the spec says */
                json_decref(answer);
                answer = NULL;
        }
        send_to(s, answer, c->id);
        tell_if_changed(s);
        pthread_mutex_lock(&s->mu);
        for (struct gw_call **p = &s->calls; *p; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        break;
                }
        s->ncalls--;
        pthread_cond_broadcast(&s->idle);
        pthread_mutex_unlock(&s->mu);
        json_decref(c->id);
        json_decref(c->params);
        json_decref(c->token);
        free(c->method);
        free(c);
}

static const char *const threaded[] = {
    "tools/list",     "tools/call",          "resources/list",        "resources/templates/list",
    "resources/read", "resources/subscribe", "resources/unsubscribe", "prompts/list",
    "prompts/get",    "completion/complete", "logging/setLevel",      NULL};

/* Set while a thread that reads stdio handles a line: the call the line
 * starts is left here for that thread to run (read_turn). */
static _Thread_local struct gw_call **taking;

static void start_call(struct mcp_gw_session *s, const char *method, json_t *id, json_t *params)
{
        pthread_mutex_lock(&s->mu);
        bool busy = s->ncalls >= GW_INFLIGHT_MAX, dup = false;
        for (struct gw_call *c = s->calls; c; c = c->next)
                dup |= json_equal(c->id, id);
        if (busy || dup || s->closing) {
                pthread_mutex_unlock(&s->mu);
                send_to(s,
                        dup ? rpc_error(id, -32600,
                                        "Invalid Request: id is in use by a request "
                                        "still running")
                            : rpc_error(id, -32000,
                                        "too many requests at once (%u are running); try again",
                                        GW_INFLIGHT_MAX),
                        id);
                return;
        }
        struct gw_call *c = xcalloc(1, sizeof(*c));
        c->s = s;
        c->id = json_incref(id);
        c->params = json_is_object(params) ? json_incref(params) : json_object();
        json_t *token = json_object_get(json_object_get(params, "_meta"), "progressToken");
        c->token = json_is_string(token) || json_is_integer(token) ? json_incref(token) : NULL;
        c->method = xstrdup(method);
        c->next = s->calls;
        s->calls = c;
        s->ncalls++;
        pthread_mutex_unlock(&s->mu);
        if (taking && !*taking)
                *taking = c; /* the thread that read it runs it (read_turn) */
        else
                workers_run(call_job, c);
}

static void cancel_call(struct mcp_gw_session *s, json_t *params)
{
        json_t *rid = json_object_get(params, "requestId");
        pthread_mutex_lock(&s->mu);
        for (struct gw_call *c = s->calls; c; c = c->next)
                if (rid && json_equal(c->id, rid)) {
                        c->cancel = 1;
                        log_debug("gateway: the client cancelled a %s", c->method);
                }
        pthread_mutex_unlock(&s->mu);
}

static json_t *initialize(struct mcp_gw_session *s, json_t *params)
{
        const char *want = json_string_value(json_object_get(params, "protocolVersion"));
        static const char *const known[] = {MCP_PROTOCOL_VERSION, "2025-06-18", "2025-03-26", NULL};
        const char *v = MCP_PROTOCOL_VERSION;
        for (size_t i = 0; want && known[i]; i++)
                if (!strcmp(want, known[i]))
                        v = known[i];
        const char *client =
            json_string_value(json_object_get(json_object_get(params, "clientInfo"), "name"));
        pthread_mutex_lock(&s->mu);
        free(s->client);
        s->client = shown(client ? client : "?");
        pthread_mutex_unlock(&s->mu);
        return json_pack("{s:s, s:O, s:{s:s, s:s}, s:s}", "protocolVersion", v, "capabilities",
                         s->g->caps, "serverInfo", "name", "osvm", "version", OSVM_VERSION,
                         "instructions", s->g->instructions);
}

bool mcp_gw_handle(struct mcp_gw_session *s, json_t *msg)
{
        if (!json_is_object(msg)) {
                send_to(s,
                        rpc_error(NULL, -32600,
                                  json_is_array(msg)
                                      ? "Invalid Request: batches are not supported (MCP "
                                        "2025-11-25 has none); send one message at a time"
                                      : "Invalid Request: a message must be a JSON object"),
                        NULL);
                return false;
        }
        json_t *id = json_object_get(msg, "id");
        json_t *mj = json_object_get(msg, "method");
        const char *method = json_string_value(mj);
        json_t *params = json_object_get(msg, "params");
        const char *jv = json_string_value(json_object_get(msg, "jsonrpc"));
        bool id_ok = !id || json_is_string(id) || json_is_integer(id);
        if (!jv || strcmp(jv, "2.0") || !id_ok || (mj && !method) ||
            (method && strlen(method) != json_string_length(mj)) ||
            (params && !json_is_object(params))) {
                if (id || !mj)
                        send_to(s,
                                rpc_error(id_ok ? id : NULL, -32600,
                                          "Invalid Request: not a JSON-RPC 2.0 request"),
                                id_ok ? id : NULL);
                return false;
        }
        if (!method)
                return false; /* a response: osvm asks its clients nothing */
        if (!id) {
                if (!strcmp(method, "notifications/cancelled"))
                        cancel_call(s, params);
                return true; /* initialized, roots/list_changed, ...: nothing to do */
        }
        if (!strcmp(method, "initialize"))
                send_to(s, rpc_result(id, initialize(s, params)), id);
        else if (!strcmp(method, "ping"))
                send_to(s, rpc_result(id, json_object()), id);
        else {
                for (size_t i = 0; threaded[i]; i++)
                        if (!strcmp(method, threaded[i])) {
                                start_call(s, method, id, params);
                                return true;
                        }
                _cleanup_free_ char *m = shown(method);
                send_to(s, rpc_error(id, MCP_RPC_METHOD_NOT_FOUND, "Method not found: %s", m), id);
        }
        return true;
}

/* ---- stdio ---- */

struct stdio_out {
        int fd;
        pthread_mutex_t mu;
        bool broken;
};

static void stdio_send(void *ctx, json_t *msg, json_t *request_id)
{
        (void)request_id;
        struct stdio_out *o = ctx;
        char *text = json_dumps(msg, JSON_COMPACT);
        if (!text)
                return;
        size_t len = strlen(text);
        text[len] = '\n';
        pthread_mutex_lock(&o->mu);
        for (size_t off = 0; off <= len && !o->broken;) {
                ssize_t w = write(o->fd, text + off, len + 1 - off);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0) {
                        o->broken = true; /* the client is gone; stdin's end follows */
                        break;
                }
                off += (size_t)w;
        }
        pthread_mutex_unlock(&o->mu);
        free(text);
}

/*
 * stdin is read by one thread at a time, which takes turns with the pool
 * (leader and followers): the thread that read a line that starts a call
 * runs the call, so that it starts on the thread that was woken for its
 * line, not after a second wake-up. The reading passes to a pool thread as
 * soon as another line may be waiting: at once when more was read than the
 * line, else when stdin turns readable while the call waits on a stdio
 * server (the wait minds stdin: mcp_watch), or before the call waits in any
 * other way (a VM, an HTTP server, a server's start). A ping or a cancel is
 * thus read while a call runs, and a call answered before the next line
 * comes costs no wake-up of another thread. The state of the reading (what
 * was read and not yet taken, the line so far) goes with the turn.
 */
struct stdio_in {
        struct mcp_gw_session *s;
        int fd;
        char buf[65536];
        size_t off, n;           /* buf[off..n): read, not yet taken */
        struct mcp_line_cut cut; /* the line so far; its max: the gateway's max_message */
        pthread_mutex_t mu;
        pthread_cond_t cv;
        bool ended;            /* stdin's end (or an error reading it) was reached */
        struct spin_wait spin; /* how long the client takes to send the next line */
};

/* One complete line: a message, a parse error or the refusal of a line over max. */
static void take_line(struct stdio_in *in, const char *line, size_t len, bool too_long)
{
        if (too_long) {
                send_to(in->s,
                        rpc_error(NULL, -32600,
                                  "Invalid Request: a message over %zu bytes, the limit, was "
                                  "refused",
                                  in->cut.max),
                        NULL);
                return;
        }
        while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
                len--;
        if (!len)
                return;
        json_error_t jerr;
        json_t *msg = mcp_json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
        if (!msg)
                send_to(in->s, rpc_error(NULL, -32700, "Parse error: %s", jerr.text), NULL);
        else
                mcp_gw_handle(in->s, msg);
        json_decref(msg);
}

static void read_turn(struct stdio_in *in);

static void read_turn_job(void *in)
{
        read_turn(in);
}

/* A turn held by a call's thread (read_turn), passed on when its watch fires. */
struct held_turn {
        struct stdio_in *in;
        bool passed; /* a pool thread reads now: in is no longer this thread's */
};

static void pass_turn(void *ctx)
{
        struct held_turn *t = ctx;
        t->passed = workers_try_run(read_turn_job, t->in);
}

/* Reads and handles lines, and runs the calls they start, until the reading
 * passes to another thread (a call's watch fired) or stdin ends. */
static void read_turn(struct stdio_in *in)
{
        for (;;) {
                if (in->off == in->n) {
                        if (spin_max()) {
                                /* a client that sends its next line soon is
                                 * waited for spinning (base.h: spin_poll) */
                                struct pollfd p = {.fd = in->fd, .events = POLLIN};
                                spin_poll(&in->spin, &p, 1, -1);
                        }
                        ssize_t r = read(in->fd, in->buf, sizeof(in->buf));
                        if (r < 0 && errno == EINTR)
                                continue;
                        if (r <= 0)
                                break;
                        in->off = 0;
                        in->n = (size_t)r;
                }
                size_t used;
                enum mcp_cut cut =
                    mcp_line_cut(&in->cut, in->buf + in->off, in->n - in->off, &used);
                in->off += used;
                if (cut == MCP_CUT_MORE)
                        continue;
                struct gw_call *mine = NULL;
                taking = &mine;
                if (cut == MCP_CUT_TOO_LONG)
                        take_line(in, NULL, 0, true);
                else
                        take_line(in, in->cut.line.s, in->cut.line.len, false);
                taking = NULL;
                if (!mine)
                        continue;
                /* the reading goes on elsewhere when the watch fires (from then
                 * on, in is not ours), unless no thread can be had: then the
                 * call runs first */
                struct held_turn held = {.in = in};
                struct mcp_watch watch = {.fd = in->fd, .ready = pass_turn, .ctx = &held};
                mine->watch = &watch;
                if (in->off < in->n)
                        mcp_watch_fire(&watch); /* the next line is here already */
                call_job(mine);
                if (held.passed)
                        return;
        }
        pthread_mutex_lock(&in->mu);
        in->ended = true;
        pthread_cond_broadcast(&in->cv);
        pthread_mutex_unlock(&in->mu);
}

int mcp_gateway_serve_stdio(struct mcp_gateway *g, int in_fd, int out)
{
        struct stdio_out o = {.fd = out};
        pthread_mutex_init(&o.mu, NULL);
        char id[40];
        mcp_gw_session_id(id, sizeof(id));
        struct mcp_gw_session *s = mcp_gw_session_new(g, stdio_send, &o, id);
        struct stdio_in *in = xcalloc(1, sizeof(*in));
        *in = (struct stdio_in){.s = s, .fd = in_fd, .cut.max = g->max_message};
        pthread_mutex_init(&in->mu, NULL);
        pthread_cond_init(&in->cv, NULL);
        read_turn(in);
        pthread_mutex_lock(&in->mu);
        while (!in->ended)
                pthread_cond_wait(&in->cv, &in->mu);
        pthread_mutex_unlock(&in->mu);
        /* The end of input is how a stdio client shuts down (then TERM, KILL):
         * what runs is let finish, each call within its own time limit. */
        mcp_gw_session_close(s, false);
        sb_free(&in->cut.line);
        pthread_mutex_destroy(&in->mu);
        pthread_cond_destroy(&in->cv);
        free(in);
        pthread_mutex_destroy(&o.mu);
        return 0;
}

const char *mcp_gateway_instructions(const struct mcp_gateway *g)
{
        return g->instructions;
}

void mcp_gateway_free(struct mcp_gateway *g)
{
        if (!g)
                return;
        mcp_hub_set_notify(g->hub, NULL, NULL);
        if (g->polling) {
                pthread_mutex_lock(&g->stop_mu);
                g->stop = true;
                pthread_cond_broadcast(&g->stop_cv);
                pthread_mutex_unlock(&g->stop_mu);
                pthread_join(g->poller, NULL);
        }
        json_decref(g->caps);
        json_decref(g->instructions_of);
        free(g->instructions);
        free(g->ids);
        for (size_t i = 0; g->tools && g->tools[i]; i++)
                free(g->tools[i]);
        free(g->tools);
        for (size_t i = 0; i < g->nregs; i++) {
                mcp_registry_free(g->regs[i]);
                free(g->regs[i]);
        }
        free(g->regs);
        free(g->reg_path);
        pthread_mutex_destroy(&g->mu);
        pthread_mutex_destroy(&g->stop_mu);
        pthread_cond_destroy(&g->stop_cv);
        free(g);
}
