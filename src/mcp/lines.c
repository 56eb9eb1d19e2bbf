/*
 * Channels of one JSON message a line (MCP over stdio, the host calls of
 * tools and of μVM-1): reading lines bounded in length, writing one.
 */
#include "mcp/mcp.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void mcp_read_lines(int fd, size_t max, mcp_line_fn on_line, void *ctx)
{
        strbuf line = {0};
        bool skipping = false; /* the rest of a line over max */
        char buf[65536];
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                for (size_t off = 0; off < (size_t)n;) {
                        char *nl = memchr(buf + off, '\n', (size_t)n - off);
                        size_t take = nl ? (size_t)(nl - (buf + off)) : (size_t)n - off;
                        if (!skipping && line.len + take > max) {
                                skipping = true;
                                line.len = 0;
                                if (!on_line(ctx, NULL, 0))
                                        goto out;
                        }
                        if (!skipping)
                                sb_addn(&line, buf + off, take);
                        off += take + (nl ? 1 : 0);
                        if (!nl)
                                break;
                        bool go_on = skipping || on_line(ctx, line.s ? line.s : "", line.len);
                        skipping = false;
                        line.len = 0;
                        if (!go_on)
                                goto out;
                }
        }
out:
        sb_free(&line);
}

bool mcp_send_line(int fd, json_t *msg)
{
        char *s = json_dumps(msg, JSON_COMPACT);
        if (!s)
                return false;
        size_t len = strlen(s);
        s[len] = '\n'; /* replaces the NUL: write len + 1 bytes */
        bool ok = true;
        for (size_t off = 0; off <= len && ok;) {
                ssize_t w = send(fd, s + off, len + 1 - off, MSG_NOSIGNAL);
                if (w < 0 && errno == EINTR)
                        continue;
                ok = w > 0;
                off += w > 0 ? (size_t)w : 0;
        }
        free(s);
        return ok;
}
