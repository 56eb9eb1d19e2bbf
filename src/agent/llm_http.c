/*
 * The HTTP side of the LLM planners: one JSON POST on libcurl's easy
 * interface, with a timeout per attempt, retries with exponential backoff on
 * 429 and 5xx (honouring Retry-After within bounds), a bounded reply, and a
 * cancel flag checked while the transfer runs and while it waits to retry.
 *
 * The endpoint is untrusted: its status, headers and body are checked and
 * bounded, and any of its words quoted in a message are made printable.
 * (Inside μVM-1 the agent has no network: microvm/guest/llm.c stands in for
 * this file and asks the supervisor, which runs this code.)
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

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
        curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- one attempt ---- */

struct attempt {
        volatile sig_atomic_t *cancel;
        strbuf body; /* grown by doubling: a large reply costs linear time */
        bool too_large;
        long retry_after_ms; /* -1: none given */
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
        struct attempt *a = ud;
        size_t n = size * nmemb;
        if (n > LLM_MAX_REPLY_BYTES - a->body.len) {
                a->too_large = true;
                return 0;
        }
        sb_addn(&a->body, ptr, n);
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
        json_t *j = json_loadb(body, len, JSON_ALLOW_NUL, NULL);
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

        /* The endpoint as messages and the log name it: a key in the URL
         * (?key=, user:pass@, a token in the path) is never shown. */
        char shown[256];
        char *pub = mcp_url_public(r->url);
        snprintf(shown, sizeof(shown), "%s", pub ? pub : "the LLM endpoint");
        free(pub);

        /* Every header is checked before anything is sent: a key holding CR LF would
         * otherwise add headers of its own. */
        for (const char *const *h = r->headers; h && *h; h++) {
                const char *why = mcp_header_problem(*h);
                if (why) {
                        strbuf name = {0}; /* the name only: the value may be the key */
                        size_t n = strcspn(*h, ":");
                        sb_add_sanitized(&name, *h, n < 64 ? n : 64, 0);
                        err_set(e, EINVAL,
                                "refusing to send the header %s to %s: %s; nothing was sent",
                                name.s, shown, why);
                        sb_free(&name);
                        return -1;
                }
        }
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
                sb_free(&a.body);
                a.too_large = false;
                a.retry_after_ms = -1;
                errbuf[0] = '\0';
                if (attempts)
                        (*attempts)++;
                log_debug("llm: POST %s (attempt %u)", shown, try + 1);
                CURLcode cc = curl_easy_perform(curl);
                long status = 0;
                curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);

                if (cc == CURLE_ABORTED_BY_CALLBACK) {
                        cancelled_err(e);
                        break;
                }
                if (cc == CURLE_WRITE_ERROR && a.too_large) {
                        err_set(e, EMSGSIZE, "%s: the reply is larger than %u bytes", shown,
                                LLM_MAX_REPLY_BYTES);
                        break;
                }
                if (cc == CURLE_OPERATION_TIMEDOUT) {
                        err_set(e, ETIMEDOUT, "%s: no reply within the timeout of %u ms", shown,
                                timeout);
                        break;
                }
                if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
                    cc == CURLE_COULDNT_RESOLVE_PROXY || cc == CURLE_SSL_CONNECT_ERROR ||
                    cc == CURLE_PEER_FAILED_VERIFICATION) {
                        err_set(e, ECONNREFUSED, "cannot reach %s: %s", shown,
                                errbuf[0] ? errbuf : curl_easy_strerror(cc));
                        break;
                }
                if (cc != CURLE_OK) {
                        err_set(e, EIO, "%s: %s", shown,
                                errbuf[0] ? errbuf : curl_easy_strerror(cc));
                        break;
                }
                if (status >= 200 && status < 300) {
                        json_error_t je;
                        json_t *j = a.body.len
                                        ? json_loadb(a.body.s, a.body.len, JSON_ALLOW_NUL, &je)
                                        : NULL;
                        if (!j) {
                                err_set(e, EPROTO, "%s: the reply is not valid JSON%s%s", shown,
                                        a.body.len ? ": " : " (empty body)",
                                        a.body.len ? je.text : "");
                                break;
                        }
                        *reply = j;
                        rc = 0;
                        break;
                }
                char *why = error_excerpt(a.body.s, a.body.len);
                if ((status == 401 || status == 403) && r->keyless) {
                        err_set(e, EACCES,
                                "%s wants an API key and none is configured (set OSVM_AI_KEY); "
                                "HTTP %ld: %s",
                                shown, status, why);
                        free(why);
                        break;
                }
                if (status == 401 || status == 403) {
                        err_set(e, EACCES, "the API key was refused (HTTP %ld from %s): %s", status,
                                shown, why);
                        free(why);
                        break;
                }
                bool retryable = status == 429 || (status >= 500 && status <= 599);
                if (!retryable || try >= r->max_retries) {
                        if (retryable)
                                err_set(e, EIO, "%s answered HTTP %ld %u times; giving up: %s",
                                        shown, status, try + 1, why);
                        else
                                err_set(e, EIO, "%s answered HTTP %ld: %s", shown, status, why);
                        free(why);
                        break;
                }
                long wait = a.retry_after_ms >= 0 ? a.retry_after_ms : backoff_ms(r, try);
                log_info("llm: %s answered HTTP %ld (%s); retrying in %ld ms", shown, status, why,
                         wait);
                free(why);
                if (!wait_ms(r, wait)) {
                        cancelled_err(e);
                        break;
                }
        }
        sb_free(&a.body);
        curl_slist_free_all(hdrs);
        curl_easy_cleanup(curl);
        return rc;
}
