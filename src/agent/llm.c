/*
 * What the two LLM planners share, apart from HTTP (llm_http.c): the
 * planner's configuration, the request with the key added, and the checks
 * that every field of a reply gets before it is believed.
 */
#include "agent/llm.h"

#include <errno.h>
#include <string.h>

const char llm_system_prompt[] =
    "You are osvm, an AI agent on the user's command line. Each tool you call runs in its own "
    "isolated virtual machine. Call tools when they help answer the request, then answer "
    "concisely in plain text.";

/* ---- text from the endpoint ---- */

char *llm_printable(const char *s, size_t max)
{
        if (!s)
                return xstrdup("");
        size_t n = strnlen(s, max);
        char *out = xmalloc(n + 4);
        for (size_t i = 0; i < n; i++) {
                unsigned char ch = (unsigned char)s[i];
                out[i] = ch < 0x20 || ch >= 0x7f ? '?' : (char)ch;
        }
        strcpy(out + n, s[n] ? "..." : "");
        return out;
}

void llm_add_text(strbuf *b, json_t *s)
{
        const char *t = json_string_value(s);
        size_t n = json_string_length(s);
        sb_addn(b, "", 0);
        while (t && n) {
                size_t k = strnlen(t, n);
                sb_addn(b, t, k);
                if (k == n)
                        break;
                sb_add(b, "\xEF\xBF\xBD"); /* the NUL, which a C string cannot hold */
                t += k + 1;
                n -= k + 1;
        }
}

/* ---- the planner's configuration ---- */

static unsigned retry_base_from_env(void)
{
        const char *s = getenv("OSVM_AI_RETRY_BASE_MS");
        if (!s || !*s)
                return LLM_DEFAULT_RETRY_BASE_MS;
        char *end;
        errno = 0;
        unsigned long v = strtoul(s, &end, 10);
        if (*end || errno || v > LLM_MAX_RETRY_WAIT_MS || *s == '-') {
                log_warn("OSVM_AI_RETRY_BASE_MS=%s is not a number of ms up to %d; using %d", s,
                         LLM_MAX_RETRY_WAIT_MS, LLM_DEFAULT_RETRY_BASE_MS);
                return LLM_DEFAULT_RETRY_BASE_MS;
        }
        return (unsigned)v;
}

int llm_planner_init(struct llm_planner *lp, const struct agent_ai_config *c, const char *what,
                     const char *def_url, const char *path, osvm_err *e)
{
        memset(lp, 0, sizeof(*lp));
        const char *url = c->url && *c->url ? c->url : def_url;
        if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
                /* never the value itself: a URL may hold a credential */
                return err_set(e, EINVAL, "%s: the URL is not an http:// or https:// one (%s)",
                               what, c->url && *c->url && c->source ? c->source : "the default");
        if (!c->model || !*c->model)
                return err_set(e, EINVAL, "%s: no model is configured (set OSVM_AI_MODEL)", what);
        if (c->key && !text_header_value_ok(c->key))
                return err_set(e, EINVAL,
                               "%s: the API key holds a control character (a line break?), which "
                               "cannot go in an HTTP header",
                               what);
        size_t n = strlen(url), pn = strlen(path);
        /* the full endpoint given as the URL is taken as it is */
        if (n >= pn && strcmp(url + n - pn, path) == 0) {
                lp->endpoint = xstrdup(url);
        } else {
                while (n > 0 && url[n - 1] == '/')
                        n--;
                lp->endpoint = xasprintf("%.*s%s", (int)n, url, path);
        }
        lp->model = xstrdup(c->model);
        lp->key = c->key && *c->key ? xstrdup(c->key) : NULL;
        lp->timeout_ms = c->timeout_ms ? c->timeout_ms : LLM_DEFAULT_TIMEOUT_MS;
        lp->max_retries = c->max_retries;
        lp->retry_base_ms = retry_base_from_env();
        return 0;
}

void llm_planner_fini(struct llm_planner *lp)
{
        free(lp->endpoint);
        free(lp->model);
        if (lp->key) {
                explicit_bzero(lp->key, strlen(lp->key));
                free(lp->key);
        }
}

/* ---- reply checking ---- */

const struct agent_tool *llm_resolve_tool(const struct agent_toolset *ts, json_t *name, osvm_err *e)
{
        const char *s = json_string_value(name);
        if (!s) {
                err_set(e, EPROTO, "the model called a tool without a name");
                return NULL;
        }
        if (strlen(s) != json_string_length(name)) {
                err_set(e, EPROTO, "the model called a tool whose name holds a NUL byte");
                return NULL;
        }
        for (size_t i = 0; ts && i < ts->n; i++)
                if (strcmp(ts->v[i].api_name, s) == 0)
                        return &ts->v[i];
        char *p = llm_printable(s, AGENT_API_NAME_MAX + 16);
        err_set(e, ENOENT, "the model called a tool that does not exist: \"%s\"", p);
        free(p);
        return NULL;
}

int llm_check_call_id(json_t *id, osvm_err *e)
{
        const char *s = json_string_value(id);
        if (!s || !*s)
                return err_set(e, EPROTO, "a tool call in the reply has no id");
        size_t n = json_string_length(id);
        if (n > LLM_MAX_CALL_ID)
                return err_set(e, EPROTO, "a tool call id in the reply is longer than %d bytes",
                               LLM_MAX_CALL_ID);
        if (strlen(s) != n)
                return err_set(e, EPROTO, "a tool call id in the reply holds a NUL byte");
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] >= 0x7f)
                        return err_set(e, EPROTO,
                                       "a tool call id in the reply has a byte that is not "
                                       "printable ASCII");
        return 0;
}

void llm_step_clear(struct agent_step *s)
{
        for (size_t i = 0; i < s->ncalls; i++) {
                free(s->calls[i].id);
                json_decref(s->calls[i].arguments);
        }
        free(s->calls);
        free(s->text);
        memset(s, 0, sizeof(*s));
}

void llm_planner_free(struct agent_planner *p)
{
        if (!p)
                return;
        struct llm_planner *lp = (struct llm_planner *)p;
        llm_planner_fini(lp);
        free(lp);
}

/* The key and the API's own header, as "Name: value" lines. */
static char *key_header(const struct llm_planner *lp)
{
        return lp->key ? xasprintf(lp->key_fmt, lp->key) : NULL;
}

int llm_post_body(struct agent_planner *p, const char *body, json_t **reply, osvm_err *e)
{
        struct llm_planner *lp = (struct llm_planner *)p;
        char *key = key_header(lp);
        const char *hdrs[] = {lp->extra_header ? lp->extra_header : key,
                              lp->extra_header ? key : NULL, NULL};
        struct llm_request r = {
            .url = lp->endpoint,
            .headers = hdrs,
            .body = body,
            .timeout_ms = lp->timeout_ms,
            .max_retries = lp->max_retries,
            .retry_base_ms = lp->retry_base_ms,
            .cancel = lp->p.cancel,
            .keyless = !lp->key,
        };
        int rc = llm_post_json(&r, reply, NULL, e);
        if (key) {
                explicit_bzero(key, strlen(key));
                free(key);
        }
        return rc;
}

int llm_round(struct llm_planner *lp, json_t *req, llm_parse_fn parse,
              const struct agent_toolset *ts, struct agent_step *out, osvm_err *e)
{
        const char *api = lp->p.ops->name;
        char *body = json_dumps(req, JSON_COMPACT);
        json_decref(req);
        if (!body)
                return err_set(e, ENOMEM, "%s: cannot serialize the request", api);
        json_t *reply = NULL;
        int rc = llm_post_body(&lp->p, body, &reply, e);
        free(body);
        if (rc < 0)
                return err_wrap(e, "%s", api);
        rc = parse(reply, ts, out, e);
        json_decref(reply);
        if (rc < 0) {
                llm_step_clear(out);
                char *shown = mcp_url_public(lp->endpoint); /* never a key in the URL */
                err_wrap(e, "%s: %s", api, shown ? shown : "the LLM endpoint");
                free(shown);
                return -1;
        }
        return 0;
}
