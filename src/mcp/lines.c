/*
 * Channels of one JSON message a line (MCP over stdio, the host calls of
 * tools and of μVM-1): reading lines bounded in length, writing one.
 */
#include "mcp/mcp.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* How long one wait for a slow peer lasts (see mcp_send_line). */
#define SEND_SLICE_MS 100u

enum mcp_cut mcp_line_cut(struct mcp_line_cut *c, const char *data, size_t n, size_t *used)
{
        if (c->taken) {
                c->line.len = 0;
                c->taken = false;
        }
        *used = 0;
        while (*used < n) {
                const char *at = data + *used, *nl = memchr(at, '\n', n - *used);
                size_t take = nl ? (size_t)(nl - at) : n - *used;
                *used += take + (nl ? 1 : 0);
                if (!c->skipping && c->line.len + take > c->max) {
                        c->line.len = 0;
                        c->skipping = !nl; /* its end is here already: nothing to drop */
                        return MCP_CUT_TOO_LONG;
                }
                if (c->skipping) {
                        c->skipping = !nl;
                        continue;
                }
                sb_addn(&c->line, at, take); /* (allocates even when take is 0) */
                if (nl) {
                        c->taken = true;
                        return MCP_CUT_LINE;
                }
        }
        return MCP_CUT_MORE;
}

void mcp_read_lines(int fd, size_t max, mcp_line_fn on_line, void *ctx)
{
        struct mcp_line_cut c = {.max = max};
        char buf[65536];
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                size_t used;
                for (size_t off = 0; off < (size_t)n; off += used) {
                        enum mcp_cut r = mcp_line_cut(&c, buf + off, (size_t)n - off, &used);
                        if (r == MCP_CUT_TOO_LONG && !on_line(ctx, NULL, 0))
                                goto out;
                        if (r == MCP_CUT_LINE && !on_line(ctx, c.line.s, c.line.len))
                                goto out;
                }
        }
out:
        sb_free(&c.line);
}

int mcp_send_line(int fd, json_t *msg, uint64_t deadline_ns, uint32_t stall_ms, const char **why)
{
        const char *dummy;
        if (!why)
                why = &dummy;
        *why = NULL;
        if (!stall_ms)
                stall_ms = MCP_SEND_STALL_MS;
        char *s = json_dumps(msg, JSON_COMPACT);
        if (!s) {
                *why = "an answer that cannot be written as JSON";
                return MCP_E_PROTOCOL;
        }
        size_t len = strlen(s);
        s[len] = '\n'; /* replaces the NUL: write len + 1 bytes */
        /* The stall is counted in slices of waiting, not on the clock: a
         * process stopped a while (Ctrl-Z) does not find its peer stalled. */
        unsigned slice_ms = stall_ms < SEND_SLICE_MS ? stall_ms : SEND_SLICE_MS;
        unsigned idle = 0, idle_max = (stall_ms + slice_ms - 1) / slice_ms;
        size_t off = 0;
        int rc = 0;
        while (off <= len) {
                ssize_t w = send(fd, s + off, len + 1 - off, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (w > 0) {
                        off += (size_t)w;
                        idle = 0;
                        continue;
                }
                if (w < 0 && errno == EINTR)
                        continue;
                if (w == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
                        *why = "the peer is gone";
                        rc = MCP_E_CLOSED;
                        break;
                }
                uint64_t now = time_mono_ns();
                if (deadline_ns && now >= deadline_ns) {
                        *why = "the call's time is up and the peer has not read its answer";
                        rc = MCP_E_TIMEOUT;
                        break;
                }
                if (idle >= idle_max) {
                        *why = "the peer has not read its answer for too long";
                        rc = MCP_E_TIMEOUT;
                        break;
                }
                int ms = (int)slice_ms;
                if (deadline_ns && (deadline_ns - now) / 1000000 < (uint64_t)ms)
                        ms = (int)((deadline_ns - now) / 1000000) + 1;
                struct pollfd p = {.fd = fd, .events = POLLOUT};
                int r = poll(&p, 1, ms);
                if (r == 0)
                        idle++;
                else if (r < 0 && errno != EINTR)
                        idle = idle_max; /* cannot wait: give up at the next turn */
        }
        free(s);
        return rc;
}
