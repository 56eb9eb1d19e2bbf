/* Server-Sent Events, parsed incrementally with bounded buffers (sse.h). */
#include "mcp/sse.h"

#include <string.h>

void sse_init(struct sse_parser *p, size_t max_data)
{
        memset(p, 0, sizeof(*p));
        p->max_data = max_data;
        p->retry_ms = -1;
}

void sse_reset_stream(struct sse_parser *p)
{
        p->line.len = 0;
        p->data.len = 0;
        p->has_data = false;
        p->after_cr = false;
        p->started = false;
        p->event[0] = '\0';
}

void sse_free(struct sse_parser *p)
{
        free(p->line.p);
        free(p->data.p);
        p->line = (struct sse_buf){0};
        p->data = (struct sse_buf){0};
}

/* Appends n bytes, keeping room for a NUL; the caller has checked the cap. */
static void buf_add(struct sse_buf *b, const char *s, size_t n)
{
        if (b->cap - b->len < n + 1) {
                size_t cap = b->cap ? b->cap : 256;
                while (cap - b->len < n + 1)
                        cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
                b->p = xrealloc(b->p, cap);
                b->cap = cap;
        }
        memcpy(b->p + b->len, s, n);
        b->len += n;
        b->p[b->len] = '\0';
}

static size_t line_cap(const struct sse_parser *p)
{
        return p->max_data > SIZE_MAX - 64 ? SIZE_MAX : p->max_data + 64;
}

static int too_large(osvm_err *e, size_t max)
{
        return err_set(e, SSE_E_TOO_LARGE, "an event is larger than the limit of %zu bytes", max);
}

static int dispatch(struct sse_parser *p, sse_event_fn fn, void *ctx, osvm_err *e)
{
        bool has = p->has_data && p->data.len > 0;
        const char *ev = p->event[0] ? p->event : "message";
        int rc = 0;
        if (has) {
                p->events++;
                if (fn(ctx, ev, p->data.p, p->data.len) != 0)
                        rc = err_set(e, SSE_E_CALLBACK, "the event handler stopped the stream");
        }
        p->data.len = 0;
        p->has_data = false;
        p->event[0] = '\0';
        return rc;
}

static bool all_digits(const char *s, size_t n)
{
        if (n == 0)
                return false;
        for (size_t i = 0; i < n; i++)
                if (s[i] < '0' || s[i] > '9')
                        return false;
        return true;
}

/* One complete line (without its terminator). */
static int process_line(struct sse_parser *p, const char *s, size_t n, sse_event_fn fn, void *ctx,
                        osvm_err *e)
{
        if (!p->started) {
                p->started = true;
                if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
                        s += 3, n -= 3;
        }
        if (n == 0)
                return dispatch(p, fn, ctx, e);
        if (s[0] == ':')
                return 0; /* a comment */

        const char *colon = memchr(s, ':', n);
        size_t flen = colon ? (size_t)(colon - s) : n;
        const char *v = colon ? colon + 1 : s + n;
        size_t vlen = n - (size_t)(v - s);
        if (vlen > 0 && v[0] == ' ')
                v++, vlen--;

        if (flen == 4 && memcmp(s, "data", 4) == 0) {
                size_t sep = p->has_data ? 1 : 0;
                if (p->data.len > p->max_data || vlen + sep > p->max_data - p->data.len)
                        return too_large(e, p->max_data);
                if (sep)
                        buf_add(&p->data, "\n", 1);
                buf_add(&p->data, v, vlen);
                p->has_data = true;
        } else if (flen == 5 && memcmp(s, "event", 5) == 0) {
                size_t k = vlen < sizeof(p->event) - 1 ? vlen : sizeof(p->event) - 1;
                memcpy(p->event, v, k);
                p->event[k] = '\0';
        } else if (flen == 2 && memcmp(s, "id", 2) == 0) {
                if (vlen <= SSE_MAX_ID && !memchr(v, '\0', vlen)) {
                        memcpy(p->last_id, v, vlen);
                        p->last_id[vlen] = '\0';
                        if (vlen > 0)
                                p->id_seen = true;
                }
        } else if (flen == 5 && memcmp(s, "retry", 5) == 0) {
                if (all_digits(v, vlen)) {
                        long ms = 0;
                        for (size_t i = 0; i < vlen && ms <= SSE_MAX_RETRY_MS; i++)
                                ms = ms * 10 + (v[i] - '0');
                        p->retry_ms = ms > SSE_MAX_RETRY_MS ? SSE_MAX_RETRY_MS : ms;
                }
        }
        /* Other fields are ignored, as the SSE specification says. */
        return 0;
}

int sse_feed(struct sse_parser *p, const char *buf, size_t n, sse_event_fn fn, void *ctx,
             osvm_err *e)
{
        size_t i = 0;
        while (i < n) {
                char c = buf[i];
                if (p->after_cr) {
                        p->after_cr = false;
                        if (c == '\n') {
                                i++;
                                continue;
                        }
                }
                if (c == '\r' || c == '\n') {
                        p->after_cr = c == '\r';
                        i++;
                        int rc =
                            process_line(p, p->line.p ? p->line.p : "", p->line.len, fn, ctx, e);
                        p->line.len = 0;
                        if (rc < 0)
                                return -1;
                        continue;
                }
                size_t run = 0;
                while (i + run < n && buf[i + run] != '\r' && buf[i + run] != '\n')
                        run++;
                if (p->line.len > line_cap(p) || run > line_cap(p) - p->line.len)
                        return too_large(e, p->max_data);
                buf_add(&p->line, buf + i, run);
                i += run;
        }
        return 0;
}
