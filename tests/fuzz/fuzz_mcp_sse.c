/*
 * The SSE parser (src/mcp/sse.c): what an MCP server sends on a
 * text/event-stream, in chunks of any size.
 *
 * Input: a selector byte (the data cap, and after how many events the
 * handler stops the stream), a byte that chooses the chunk boundaries, then
 * the stream. Checked beyond "no crash, no leak": the stream fed whole and
 * fed in those chunks gives the same events, the same last id and retry and
 * the same error, and these are the ones an independent reading of the
 * specification's field rules gives (WHATWG HTML, "Interpreting an event
 * stream"), with sse.h's deliberate differences: an event whose data is
 * empty is not dispatched, an event name is cut at SSE_MAX_EVENT_NAME - 1
 * bytes, an id longer than SSE_MAX_ID is ignored, a retry is capped, and a
 * line or an event's data past the cap is an error.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/sse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_EVENTS 4096

struct event {
        char name[SSE_MAX_EVENT_NAME];
        char *data;
        size_t len;
};

struct record {
        struct event ev[MAX_EVENTS];
        size_t n;
        size_t stop_after; /* 0: never */
        int rc;            /* of the feeding: 0, or the osvm_err code */
        char last_id[SSE_MAX_ID + 1];
        long retry_ms;
};

static void record_free(struct record *r)
{
        for (size_t i = 0; i < r->n; i++)
                free(r->ev[i].data);
        r->n = 0;
}

static int on_event(void *ctx, const char *event, const char *data, size_t len)
{
        struct record *r = ctx;
        if (data[len] != '\0')
                abort(); /* the data is NUL-terminated at len */
        if (!event || strlen(event) >= SSE_MAX_EVENT_NAME || len == 0)
                abort(); /* a name within its bound; an event has data */
        if (r->n == MAX_EVENTS)
                abort(); /* more events than the input has blank lines */
        struct event *e = &r->ev[r->n++];
        snprintf(e->name, sizeof(e->name), "%s", event);
        e->data = malloc(len);
        memcpy(e->data, data, len);
        e->len = len;
        return r->stop_after && r->n >= r->stop_after;
}

/* ---- the specification's reading, over the whole stream ---- */

struct ref {
        struct record *r;
        size_t max_data;
        char *buf; /* the data buffer, each data line + "\n" */
        size_t len;
        char event[SSE_MAX_EVENT_NAME];
        bool failed;
};

static void ref_dispatch(struct ref *f)
{
        /* the spec: an empty buffer dispatches nothing; else drop the last LF */
        size_t len = f->len ? f->len - 1 : 0;
        if (len > 0) { /* sse.h: an event with empty data is not dispatched either */
                if (f->r->n == MAX_EVENTS)
                        abort();
                struct event *e = &f->r->ev[f->r->n++];
                snprintf(e->name, sizeof(e->name), "%s", f->event[0] ? f->event : "message");
                e->data = malloc(len);
                memcpy(e->data, f->buf, len);
                e->len = len;
                if (f->r->stop_after && f->r->n >= f->r->stop_after) {
                        f->r->rc = SSE_E_CALLBACK;
                        f->failed = true;
                }
        }
        f->len = 0;
        f->event[0] = '\0';
}

static void ref_line(struct ref *f, const char *s, size_t n)
{
        if (n == 0) {
                ref_dispatch(f);
                return;
        }
        if (s[0] == ':')
                return;
        const char *colon = memchr(s, ':', n);
        size_t flen = colon ? (size_t)(colon - s) : n;
        const char *v = colon ? colon + 1 : s + n;
        size_t vlen = n - (size_t)(v - s);
        if (vlen && v[0] == ' ')
                v++, vlen--;
        if (flen == 4 && !memcmp(s, "data", 4)) {
                /* the cap counts the joined data: the lines and the LFs between them */
                size_t joined = f->len + vlen; /* f->len holds one LF per earlier line */
                if (joined > f->max_data) {
                        f->r->rc = SSE_E_TOO_LARGE;
                        f->failed = true;
                        return;
                }
                f->buf = realloc(f->buf, f->len + vlen + 1);
                memcpy(f->buf + f->len, v, vlen);
                f->len += vlen;
                f->buf[f->len++] = '\n';
        } else if (flen == 5 && !memcmp(s, "event", 5)) {
                size_t k = vlen < SSE_MAX_EVENT_NAME - 1 ? vlen : SSE_MAX_EVENT_NAME - 1;
                memcpy(f->event, v, k);
                f->event[k] = '\0';
        } else if (flen == 2 && !memcmp(s, "id", 2)) {
                if (!memchr(v, '\0', vlen) && vlen <= SSE_MAX_ID) {
                        memcpy(f->r->last_id, v, vlen);
                        f->r->last_id[vlen] = '\0';
                }
        } else if (flen == 5 && !memcmp(s, "retry", 5)) {
                bool digits = vlen > 0;
                for (size_t i = 0; i < vlen; i++)
                        digits &= v[i] >= '0' && v[i] <= '9';
                if (digits) {
                        long ms = 0;
                        for (size_t i = 0; i < vlen && ms <= SSE_MAX_RETRY_MS; i++)
                                ms = ms * 10 + (v[i] - '0');
                        f->r->retry_ms = ms > SSE_MAX_RETRY_MS ? SSE_MAX_RETRY_MS : ms;
                }
        }
}

static void reference(const char *s, size_t n, size_t max_data, struct record *r)
{
        struct ref f = {.r = r, .max_data = max_data};
        r->retry_ms = -1;
        size_t bom = n >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3) ? 3 : 0;
        s += bom, n -= bom;
        size_t line_cap = max_data + 64;
        for (size_t i = 0; i < n && !f.failed;) {
                size_t k = i;
                while (k < n && s[k] != '\r' && s[k] != '\n')
                        k++;
                /* the cap counts a first line's byte order mark, which is read with it */
                if (k - i + (i == 0 ? bom : 0) > line_cap) {
                        r->rc = SSE_E_TOO_LARGE;
                        break;
                }
                if (k == n)
                        break; /* an unterminated line is not processed */
                ref_line(&f, s + i, k - i);
                i = k + 1;
                if (s[k] == '\r' && i < n && s[i] == '\n')
                        i++;
        }
        free(f.buf);
}

/* ---- the parser, fed in chunks ---- */

static void parse(const char *s, size_t n, size_t max_data, uint8_t seed, struct record *r)
{
        struct sse_parser p;
        sse_init(&p, max_data);
        uint32_t x = seed ? seed * 2654435761u : 0;
        osvm_err e = {0};
        r->rc = 0;
        for (size_t off = 0; off < n;) {
                size_t k = n - off;
                if (x) { /* chunks of 1 to 16 bytes, chosen by the seed */
                        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
                        size_t want = 1 + (x >> 7) % 16;
                        k = want < k ? want : k;
                }
                if (sse_feed(&p, s + off, k, on_event, r, &e) < 0) {
                        if (e.code != SSE_E_TOO_LARGE && e.code != SSE_E_CALLBACK)
                                abort(); /* only the errors sse.h names */
                        r->rc = e.code;
                        break;
                }
                off += k;
        }
        if (p.events != r->n)
                abort(); /* the count it keeps is the events it dispatched */
        snprintf(r->last_id, sizeof(r->last_id), "%s", p.last_id);
        r->retry_ms = p.retry_ms;
        sse_free(&p);
}

static void same(const struct record *a, const struct record *b)
{
        if (a->n != b->n || a->rc != b->rc || strcmp(a->last_id, b->last_id) ||
            a->retry_ms != b->retry_ms)
                abort();
        for (size_t i = 0; i < a->n; i++)
                if (strcmp(a->ev[i].name, b->ev[i].name) || a->ev[i].len != b->ev[i].len ||
                    memcmp(a->ev[i].data, b->ev[i].data, a->ev[i].len))
                        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 2)
                return 0;
        static const size_t caps[] = {16, 256, 4096, 1u << 20};
        size_t max_data = caps[data[0] & 3];
        size_t stop_after = (data[0] >> 2) & 7;
        const char *s = (const char *)data + 2;
        size_t n = size - 2;

        static struct record whole, chunked, ref;
        whole.stop_after = chunked.stop_after = ref.stop_after = stop_after;
        parse(s, n, max_data, 0, &whole);
        parse(s, n, max_data, data[1], &chunked);
        memset(ref.last_id, 0, sizeof(ref.last_id));
        ref.rc = 0;
        reference(s, n, max_data, &ref);
        same(&whole, &chunked);
        same(&whole, &ref);
        record_free(&whole);
        record_free(&chunked);
        record_free(&ref);
        return 0;
}
