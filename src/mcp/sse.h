/*
 * An incremental parser of Server-Sent Events (text/event-stream), private
 * to src/mcp/. It is fed the stream in chunks of any size and calls back
 * once per dispatched event. The stream is untrusted: every buffer it keeps
 * is bounded (one event's data by max_data, a line by max_data plus a
 * little), so a hostile server cannot make it grow without limit.
 */
#ifndef OSVM_MCP_SSE_H
#define OSVM_MCP_SSE_H

#include "base/base.h"

#define SSE_MAX_ID         1024 /* longer ids are ignored, as ids with NUL are */
#define SSE_MAX_EVENT_NAME 64   /* longer event names are truncated */
#define SSE_MAX_RETRY_MS   600000

/* Errors sse_feed reports in osvm_err.code. */
enum { SSE_E_TOO_LARGE = 1, SSE_E_CALLBACK };

/* Called per event with data (NUL-terminated, len bytes); non-zero stops the parser. */
typedef int (*sse_event_fn)(void *ctx, const char *event, const char *data, size_t len);

struct sse_buf {
        char *p;
        size_t len, cap;
};

struct sse_parser {
        size_t max_data;     /* cap on one event's data, in bytes */
        struct sse_buf line; /* the line being read */
        struct sse_buf data; /* the event's data lines so far, joined with \n */
        bool has_data;       /* a data field was seen in this event */
        bool after_cr;       /* the last byte was CR: skip an LF that follows */
        bool started;        /* past a possible byte order mark */
        char event[SSE_MAX_EVENT_NAME];
        char last_id[SSE_MAX_ID + 1]; /* the last event id ("" when none) */
        bool id_seen;                 /* some id field was seen */
        long retry_ms;                /* the last retry field; -1 when none */
        uint64_t events;              /* events dispatched so far */
};

void sse_init(struct sse_parser *p, size_t max_data);
/* Forgets the partial event and line (for a new stream); keeps last_id and retry_ms. */
void sse_reset_stream(struct sse_parser *p);
void sse_free(struct sse_parser *p);
/*
 * Feeds n bytes. Calls fn for each complete event that has data (an event
 * without data, such as a priming event that only sets an id, is not
 * dispatched). Returns 0, or -1 with e set: SSE_E_TOO_LARGE when an
 * event's data or a line passes the cap (the parser must then be reset
 * before further use), SSE_E_CALLBACK when fn returned non-zero.
 */
int sse_feed(struct sse_parser *p, const char *buf, size_t n, sse_event_fn fn, void *ctx,
             osvm_err *e);

#endif
