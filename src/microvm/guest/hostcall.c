/* The host-call client: one JSON request a line on fd 3, one answer a line. */
#include "microvm/guest/guest.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* Bytes read past the last answer's newline. */
static strbuf pending_in;
static guest_asker asker;

void guest_set_asker(guest_asker ask)
{
        asker = ask;
}

static int write_all(const char *s, size_t len)
{
        while (len) {
                ssize_t w = write(GUEST_HOST_FD, s, len);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return -1;
                s += w;
                len -= (size_t)w;
        }
        return 0;
}

/* One line from the host (a new string without its newline), or NULL at its end. */
static char *read_line(void)
{
        for (;;) {
                char *nl = pending_in.len ? memchr(pending_in.s, '\n', pending_in.len) : NULL;
                if (nl) {
                        size_t n = (size_t)(nl - pending_in.s);
                        char *line = xmalloc(n + 1);
                        memcpy(line, pending_in.s, n);
                        line[n] = '\0';
                        memmove(pending_in.s, nl + 1, pending_in.len - n - 1);
                        pending_in.len -= n + 1;
                        return line;
                }
                char buf[65536];
                ssize_t r = read(GUEST_HOST_FD, buf, sizeof(buf));
                if (r < 0 && errno == EINTR) /* Ctrl-C: the host ends the call itself */
                        continue;
                if (r <= 0)
                        return NULL;
                sb_addn(&pending_in, buf, (size_t)r);
        }
}

/* Sends v (stolen) as one line: 0, -ENOMEM (it cannot be written as JSON)
 * or -EPIPE (the supervisor is gone). */
static int send_line(json_t *v)
{
        char *s = json_dumps(v, JSON_COMPACT);
        json_decref(v);
        if (!s)
                return -ENOMEM;
        size_t len = strlen(s);
        s[len] = '\n'; /* in place of the NUL: the line is the len + 1 bytes */
        int w = write_all(s, len + 1);
        free(s);
        return w < 0 ? -EPIPE : 0;
}

/*
 * A server's request put to the agent while a tool call of its runs: asked
 * (a sampling request's LLM call is a host call of its own, made from here)
 * and answered with {"op": "answer", "id", "result" | "error"}.
 */
static int answer_ask(json_t *ask)
{
        json_t *id = json_object_get(ask, "id");
        const char *kind = json_string_value(json_object_get(ask, "kind"));
        const char *server = json_string_value(json_object_get(ask, "server"));
        json_t *params = json_object_get(ask, "params");
        osvm_err e = {0};
        json_t *result = NULL;
        if (!json_is_integer(id))
                return 0; /* not a question the host can be answered on */
        if (!asker)
                err_set(&e, -1, "the agent asks nobody here");
        else if (!kind || !server || !json_is_object(params))
                err_set(&e, EPROTO, "a question without its kind, server or params");
        else
                result = asker(kind, server, params, &e);
        json_t *ans = json_pack("{s:s, s:O}", "op", "answer", "id", id);
        if (result)
                json_object_set_new(ans, "result", result);
        else
                json_object_set_new(ans, "error", json_string(e.msg[0] ? e.msg : "declined"));
        return send_line(ans);
}

json_t *guest_call(json_t *req, void (*on_pending)(void *ctx, json_t *line), void *ctx, osvm_err *e)
{
        const char *op = json_string_value(json_object_get(req, "op"));
        char what[32];
        snprintf(what, sizeof(what), "%s", op ? op : "?");
        int w = send_line(req);
        if (w == -ENOMEM) {
                err_set(e, ENOMEM, "host call %s: cannot serialize it", what);
                return NULL;
        }
        if (w < 0) {
                err_set(e, EPIPE, "host call %s: the supervisor is gone", what);
                return NULL;
        }
        for (;;) {
                char *line = read_line();
                if (!line) {
                        err_set(e, EPIPE, "host call %s: the supervisor is gone", what);
                        return NULL;
                }
                json_t *ans = json_loads(line, JSON_ALLOW_NUL, NULL); /* \u0000 is valid JSON */
                free(line);
                if (!json_is_object(ans)) {
                        json_decref(ans);
                        err_set(e, EPROTO, "host call %s: an answer that is not JSON", what);
                        return NULL;
                }
                if (json_is_true(json_object_get(ans, "pending"))) {
                        json_t *ask = json_object_get(ans, "ask");
                        if (json_is_object(ask) && answer_ask(ask) < 0) {
                                json_decref(ans);
                                err_set(e, EPIPE, "host call %s: the supervisor is gone", what);
                                return NULL;
                        }
                        if (!ask && on_pending)
                                on_pending(ctx, ans);
                        json_decref(ans);
                        continue;
                }
                if (!json_is_true(json_object_get(ans, "ok"))) {
                        const char *msg = json_string_value(json_object_get(ans, "error"));
                        err_set(e, EPERM, "%s", msg ? msg : "refused");
                        json_int_t x = json_integer_value(json_object_get(ans, "exit"));
                        if (x > 0 && x < 256)
                                e->exit = (int)x;
                        if (json_is_true(json_object_get(ans, "cancelled")))
                                e->code = MCP_E_CANCELLED;
                        json_decref(ans);
                        return NULL;
                }
                return ans;
        }
}
