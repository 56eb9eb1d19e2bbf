/*
 * The HTTP side of the LLM planners: one JSON POST on libcurl's easy
 * interface, with a timeout per attempt, retries with exponential backoff on
 * 429 and 5xx (honouring Retry-After within bounds), a bounded reply, and a
 * cancel flag checked while the transfer runs and while it waits to retry.
 *
 * The endpoint is untrusted: its status, headers and body are checked and
 * bounded, and any of its words quoted in a message are made printable.
 */
#include "agent/llm.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define LLM_CONNECT_MS     30000
#define LLM_EXCERPT        300 /* bytes of an error body quoted */
#define LLM_SLEEP_STEP_MS  50  /* longest sleep between checks of cancel */
#define LLM_MAX_HEADER_VAL 64

const char llm_system_prompt[] =
    "You are osvm, an AI agent on the user's command line. Each tool you call runs in its own "
    "isolated virtual machine. Call tools when they help answer the request, then answer "
    "concisely in plain text.";

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
        curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

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

/* ---- one attempt ---- */

struct attempt {
        volatile sig_atomic_t *cancel;
        char *body;
        size_t len;
        bool too_large;
        long retry_after_ms; /* -1: none given */
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
        struct attempt *a = ud;
        size_t n = size * nmemb;
        if (n > LLM_MAX_REPLY_BYTES - a->len) {
                a->too_large = true;
                return 0;
        }
        a->body = xrealloc(a->body, a->len + n + 1);
        memcpy(a->body + a->len, ptr, n);
        a->len += n;
        a->body[a->len] = '\0';
        return n;
}

/* Retry-After: delta-seconds only (an HTTP date falls back to our own backoff). */
static size_t on_header(char *buf, size_t size, size_t nmemb, void *ud)
{
        struct attempt *a = ud;
        size_t n = size * nmemb;
        static const char name[] = "retry-after:";
        if (n > sizeof(name) - 1 && strncasecmp(buf, name, sizeof(name) - 1) == 0) {
                char val[LLM_MAX_HEADER_VAL + 1];
                size_t vn = n - (sizeof(name) - 1);
                if (vn > LLM_MAX_HEADER_VAL)
                        vn = LLM_MAX_HEADER_VAL;
                memcpy(val, buf + sizeof(name) - 1, vn);
                val[vn] = '\0';
                char *p = val, *end;
                while (*p == ' ' || *p == '\t')
                        p++;
                errno = 0;
                unsigned long secs = strtoul(p, &end, 10);
                if (end != p && *p != '-' && errno == 0 &&
                    (*end == '\0' || *end == '\r' || *end == '\n' || *end == ' '))
                        a->retry_after_ms = secs > LLM_MAX_RETRY_WAIT_MS / 1000
                                                ? LLM_MAX_RETRY_WAIT_MS
                                                : (long)secs * 1000;
        }
        return n;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
        (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
        struct attempt *a = ud;
        return a->cancel && *a->cancel ? 1 : 0;
}

static bool cancelled(const struct llm_request *r)
{
        return r->cancel && *r->cancel;
}

/* The message an error reply carries ({"error":{"message":...}} in both APIs), else an excerpt. */
static char *error_excerpt(const char *body, size_t len)
{
        if (!body || len == 0)
                return xstrdup("(empty body)");
        json_t *j = json_loadb(body, len, 0, NULL);
        const char *msg = NULL;
        if (json_is_object(j)) {
                json_t *err = json_object_get(j, "error");
                if (json_is_object(err))
                        msg = json_string_value(json_object_get(err, "message"));
                else if (json_is_string(err))
                        msg = json_string_value(err);
                if (!msg)
                        msg = json_string_value(json_object_get(j, "message"));
        }
        char *out = llm_printable(msg ? msg : body, LLM_EXCERPT);
        json_decref(j);
        return out;
}

/* Sleeps ms in short steps; false when cancelled meanwhile. */
static bool wait_ms(const struct llm_request *r, long ms)
{
        while (ms > 0) {
                if (cancelled(r))
                        return false;
                long step = ms < LLM_SLEEP_STEP_MS ? ms : LLM_SLEEP_STEP_MS;
                struct timespec ts = {.tv_sec = step / 1000, .tv_nsec = (step % 1000) * 1000000L};
                nanosleep(&ts, NULL);
                ms -= step;
        }
        return !cancelled(r);
}

static long backoff_ms(const struct llm_request *r, unsigned retry)
{
        uint64_t ms = r->retry_base_ms;
        for (unsigned i = 0; i < retry && ms < LLM_MAX_RETRY_WAIT_MS; i++)
                ms *= 2;
        return ms > LLM_MAX_RETRY_WAIT_MS ? LLM_MAX_RETRY_WAIT_MS : (long)ms;
}

static int cancelled_err(osvm_err *e)
{
        err_set(e, ECANCELED, "cancelled");
        e->exit = OSVM_EXIT_INTERRUPTED;
        return -1;
}

int llm_post_json(const struct llm_request *r, json_t **reply, unsigned *attempts, osvm_err *e)
{
        *reply = NULL;
        if (attempts)
                *attempts = 0;
        pthread_once(&curl_once, curl_init);
        if (curl_init_rc != CURLE_OK)
                return err_set(e, 0, "cannot initialise libcurl: %s",
                               curl_easy_strerror(curl_init_rc));

        CURL *curl = curl_easy_init();
        if (!curl)
                return err_set(e, ENOMEM, "cannot initialise libcurl");
        struct curl_slist *hdrs = NULL;
        for (const char *const *h = r->headers; h && *h; h++)
                hdrs = curl_slist_append(hdrs, *h);
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        hdrs = curl_slist_append(hdrs, "Accept: application/json");
        hdrs = curl_slist_append(hdrs, "Expect:");

        uint32_t timeout = r->timeout_ms ? r->timeout_ms : LLM_DEFAULT_TIMEOUT_MS;
        char errbuf[CURL_ERROR_SIZE];
        struct attempt a = {.cancel = r->cancel};
        curl_easy_setopt(curl, CURLOPT_URL, r->url);
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, r->body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(r->body));
        curl_easy_setopt(curl, CURLOPT_USERAGENT, "osvm/" OSVM_VERSION);
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)timeout);
        curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                         (long)(timeout < LLM_CONNECT_MS ? timeout : LLM_CONNECT_MS));
        curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &a);
        curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(curl, CURLOPT_HEADERDATA, &a);
        curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &a);
        curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);

        int rc = -1;
        for (unsigned try = 0;; try++) {
                if (cancelled(r)) {
                        cancelled_err(e);
                        break;
                }
                free(a.body);
                a.body = NULL;
                a.len = 0;
                a.too_large = false;
                a.retry_after_ms = -1;
                errbuf[0] = '\0';
                if (attempts)
                        (*attempts)++;
                log_debug("llm: POST %s (attempt %u)", r->url, try + 1);
                CURLcode cc = curl_easy_perform(curl);
                long status = 0;
                curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);

                if (cc == CURLE_ABORTED_BY_CALLBACK) {
                        cancelled_err(e);
                        break;
                }
                if (cc == CURLE_WRITE_ERROR && a.too_large) {
                        err_set(e, EMSGSIZE, "%s: the reply is larger than %u bytes", r->url,
                                LLM_MAX_REPLY_BYTES);
                        break;
                }
                if (cc == CURLE_OPERATION_TIMEDOUT) {
                        err_set(e, ETIMEDOUT, "%s: no reply within the timeout of %u ms", r->url,
                                timeout);
                        break;
                }
                if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
                    cc == CURLE_COULDNT_RESOLVE_PROXY || cc == CURLE_SSL_CONNECT_ERROR ||
                    cc == CURLE_PEER_FAILED_VERIFICATION) {
                        err_set(e, ECONNREFUSED, "cannot reach %s: %s", r->url,
                                errbuf[0] ? errbuf : curl_easy_strerror(cc));
                        break;
                }
                if (cc != CURLE_OK) {
                        err_set(e, EIO, "%s: %s", r->url,
                                errbuf[0] ? errbuf : curl_easy_strerror(cc));
                        break;
                }
                if (status >= 200 && status < 300) {
                        json_error_t je;
                        json_t *j = a.body ? json_loadb(a.body, a.len, 0, &je) : NULL;
                        if (!j) {
                                err_set(e, EPROTO, "%s: the reply is not valid JSON%s%s", r->url,
                                        a.body ? ": " : " (empty body)", a.body ? je.text : "");
                                break;
                        }
                        *reply = j;
                        rc = 0;
                        break;
                }
                char *why = error_excerpt(a.body, a.len);
                if ((status == 401 || status == 403) && r->keyless) {
                        err_set(e, EACCES,
                                "%s wants an API key and none is configured (set OSVM_AI_KEY); "
                                "HTTP %ld: %s",
                                r->url, status, why);
                        free(why);
                        break;
                }
                if (status == 401 || status == 403) {
                        err_set(e, EACCES, "the API key was refused (HTTP %ld from %s): %s", status,
                                r->url, why);
                        free(why);
                        break;
                }
                bool retryable = status == 429 || (status >= 500 && status <= 599);
                if (!retryable || try >= r->max_retries) {
                        if (retryable)
                                err_set(e, EIO, "%s answered HTTP %ld %u times; giving up: %s",
                                        r->url, status, try + 1, why);
                        else
                                err_set(e, EIO, "%s answered HTTP %ld: %s", r->url, status, why);
                        free(why);
                        break;
                }
                long wait = a.retry_after_ms >= 0 ? a.retry_after_ms : backoff_ms(r, try);
                log_info("llm: %s answered HTTP %ld (%s); retrying in %ld ms", r->url, status, why,
                         wait);
                free(why);
                if (!wait_ms(r, wait)) {
                        cancelled_err(e);
                        break;
                }
        }
        free(a.body);
        curl_slist_free_all(hdrs);
        curl_easy_cleanup(curl);
        return rc;
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
                return err_set(e, EINVAL, "%s: the URL \"%s\" is not an http:// or https:// URL",
                               what, url);
        if (!c->model || !*c->model)
                return err_set(e, EINVAL, "%s: no model is configured (set OSVM_AI_MODEL)", what);
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
        size_t n = strnlen(s, LLM_MAX_CALL_ID + 1);
        if (n > LLM_MAX_CALL_ID)
                return err_set(e, EPROTO, "a tool call id in the reply is longer than %d bytes",
                               LLM_MAX_CALL_ID);
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

int llm_round(struct llm_planner *lp, json_t *req, const char *key_fmt, const char *extra_header,
              llm_parse_fn parse, const struct agent_toolset *ts, struct agent_step *out,
              osvm_err *e)
{
        const char *api = lp->p.ops->name;
        char *body = json_dumps(req, JSON_COMPACT);
        json_decref(req);
        if (!body)
                return err_set(e, ENOMEM, "%s: cannot serialize the request", api);
        char *key = lp->key ? xasprintf(key_fmt, lp->key) : NULL;
        const char *hdrs[] = {extra_header ? extra_header : key, extra_header ? key : NULL, NULL};
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
        json_t *reply = NULL;
        int rc = llm_post_json(&r, &reply, NULL, e);
        if (key) {
                explicit_bzero(key, strlen(key));
                free(key);
        }
        free(body);
        if (rc < 0)
                return err_wrap(e, "%s", api);
        rc = parse(reply, ts, out, e);
        json_decref(reply);
        if (rc < 0) {
                llm_step_clear(out);
                return err_wrap(e, "%s: %s", api, lp->endpoint);
        }
        return 0;
}
