/*
 * The MCP client (src/mcp/client.c) and the stdio transport's line reader
 * (src/mcp/stdio.c): what a server writes on its stdout is hostile. A
 * client runs over a transport of this target's (mcp_client_over) whose
 * output is read, in chunks the input chooses, by the stdio transport's own
 * line reader (mcp_line_reader_take); no process is started. The client
 * initializes, lists the tools, calls one, pings and reads a resource, each
 * request taking the lines the "server" has until its answer comes (or the
 * input ends): responses, notifications (progress, list_changed, logs) and
 * the server's own requests (elicitation, sampling, roots, ping, unknown).
 *
 * Input: a selector byte (the message cap, whether there are handlers,
 * roots and a progress callback), a byte that chooses the chunk
 * boundaries, then the server's output. Checked beyond "no crash, no leak":
 * every message the client sends is JSON-RPC 2.0; each request of the
 * server's gets exactly one answer, with its id, sent while it is handled;
 * an accepted elicitation's content holds only the schema's properties and
 * all its required ones; progress is reported only for the request in
 * flight; tools listed have clean names within their bound, none twice; a
 * tools/call result has a content array.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz {
        struct mcp_transport base; /* the client's */
        struct mcp_transport spy;  /* where the reader delivers: checked, then passed on */
        struct mcp_line_reader rd;
        const char *in;
        size_t n, off;
        uint32_t x; /* chooses the chunks; 0: the rest at once */
        /* the server's request being handled */
        json_t *req_id;
        json_t *req;
        unsigned answers;
        bool in_call; /* a request of the client's is in flight (progress may come) */
};

static struct fz F;

static void check_answer(json_t *msg)
{
        json_t *id = json_object_get(msg, "id");
        json_t *res = json_object_get(msg, "result"), *err = json_object_get(msg, "error");
        if (!F.req_id || !id || !json_equal(id, F.req_id))
                abort(); /* an answer to the request being handled, with its id */
        if (!res == !err)
                abort(); /* a result or an error */
        if (err && (!json_is_integer(json_object_get(err, "code")) ||
                    !json_is_string(json_object_get(err, "message"))))
                abort();
        F.answers++;
        const char *method = json_string_value(json_object_get(F.req, "method"));
        const char *action = json_string_value(json_object_get(res, "action"));
        if (method && !strcmp(method, "elicitation/create") && res) {
                if (!action || (strcmp(action, "accept") && strcmp(action, "decline") &&
                                strcmp(action, "cancel")))
                        abort();
                json_t *content = json_object_get(res, "content");
                if (strcmp(action, "accept") && content)
                        abort(); /* content only with accept */
                json_t *params = json_object_get(F.req, "params");
                const char *mode = json_string_value(json_object_get(params, "mode"));
                if (content && (!mode || !strcmp(mode, "form"))) {
                        json_t *schema = json_object_get(params, "requestedSchema");
                        json_t *props = json_object_get(schema, "properties");
                        const char *key;
                        json_t *v;
                        json_object_foreach(content, key, v)
                        {
                                if (!json_object_get(props, key))
                                        abort(); /* only the schema's properties */
                        }
                        size_t i;
                        json_t *r;
                        json_array_foreach(json_object_get(schema, "required"), i, r)
                        {
                                if (json_is_string(r) &&
                                    !json_object_get(content, json_string_value(r)))
                                        abort(); /* every required one */
                        }
                }
        }
}

static int fz_send(struct mcp_transport *t, json_t *msg, const struct mcp_wait *w, osvm_err *e)
{
        (void)t, (void)w, (void)e;
        const char *jv = json_string_value(json_object_get(msg, "jsonrpc"));
        if (!json_is_object(msg) || !jv || strcmp(jv, "2.0"))
                abort();
        char *line = json_dumps(msg, JSON_COMPACT);
        if (!line || strchr(line, '\n'))
                abort(); /* one line a message */
        free(line);
        json_t *method = json_object_get(msg, "method"), *id = json_object_get(msg, "id");
        if (method) {
                if (!json_is_string(method) || (id && !json_is_integer(id)))
                        abort(); /* the client's requests have integer ids */
        } else {
                check_answer(msg);
        }
        return 0;
}

static int fz_poll(struct mcp_transport *t, const struct mcp_wait *w, osvm_err *e)
{
        (void)t;
        if (F.rd.too_large) {
                F.rd.too_large = false;
                return err_set(e, MCP_E_TOO_LARGE, "fuzz: a message over the cap");
        }
        if (w->done && *w->done)
                return 0;
        if (F.off >= F.n)
                return err_set(e, MCP_E_CLOSED, "fuzz: the server closed its output");
        size_t k = F.n - F.off;
        if (F.x) {
                F.x ^= F.x << 13, F.x ^= F.x >> 17, F.x ^= F.x << 5;
                size_t want = 1 + (F.x >> 7) % 64;
                k = want < k ? want : k;
        }
        mcp_line_reader_take(&F.rd, F.in + F.off, k);
        F.off += k;
        return 0;
}

static void fz_close(struct mcp_transport *t)
{
        (void)t;
        mcp_line_reader_free(&F.rd);
}

static const struct mcp_transport_ops fz_ops = {
    .name = "fuzz",
    .send = fz_send,
    .poll = fz_poll,
    .close = fz_close,
};

/* Every message the reader delivers: requests of the server's are answered once. */
static void spy_message(void *ctx, json_t *msg)
{
        (void)ctx;
        if (!json_is_object(msg))
                abort(); /* the reader delivers objects only */
        json_t *id = json_object_get(msg, "id");
        bool request = id && json_object_get(msg, "method");
        if (request) {
                F.req_id = id;
                F.req = msg;
                F.answers = 0;
        }
        F.base.on_message(F.base.ctx, msg);
        if (request && F.answers != 1)
                abort(); /* exactly one answer */
        F.req_id = F.req = NULL;
}

static json_t *on_elicit(void *ctx, const char *server, json_t *params)
{
        (void)ctx, (void)server;
        const char *msg = json_string_value(json_object_get(params, "message"));
        if (msg && strstr(msg, "cancel"))
                return json_pack("{s:s}", "action", "cancel");
        return json_pack("{s:s, s:{s:s, s:i, s:b}}", "action", "accept", "content", "name", "osvm",
                         "age", 3, "ok", 1);
}

static json_t *on_sample(void *ctx, const char *server, json_t *params, osvm_err *e)
{
        (void)ctx, (void)server;
        if (json_object_get(params, "decline"))
                return err_set(e, -1, "declined"), NULL;
        return json_pack("{s:s, s:{s:s, s:s}, s:s}", "role", "assistant", "content", "type", "text",
                         "text", "ok", "model", "fuzz");
}

static void on_progress(void *ctx, const struct mcp_progress *p)
{
        (void)ctx, (void)p;
        if (!F.in_call)
                abort(); /* only while a request waits */
}

static void check_tools(json_t *tools)
{
        json_t *seen = json_object();
        size_t i;
        json_t *t;
        json_array_foreach(tools, i, t)
        {
                json_t *name = json_object_get(t, "name");
                const char *s = json_string_value(name);
                size_t n = json_string_length(name);
                if (!s || !n || n > MCP_TOOL_NAME_MAX || strlen(s) != n)
                        abort(); /* a name, within its bound */
                for (size_t k = 0; k < n; k++)
                        if ((unsigned char)s[k] < 0x20 || s[k] == 0x7f)
                                abort(); /* no control characters */
                if (json_object_get(seen, s))
                        abort(); /* none twice */
                json_object_set_new(seen, s, json_true());
        }
        json_decref(seen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 2)
                return 0;
        log_set_level(LOG_ERROR);
        static const size_t caps[] = {MCP_DEFAULT_MAX_MESSAGE, 4096, 256, 64};
        memset(&F, 0, sizeof(F));
        F.base.ops = &fz_ops;
        F.base.max_message = caps[data[0] & 3];
        snprintf(F.base.server_name, sizeof(F.base.server_name), "fuzz");
        F.spy = F.base;
        F.spy.on_message = spy_message;
        F.rd.t = &F.spy;
        F.in = (const char *)data + 2;
        F.n = size - 2;
        F.x = data[1] ? data[1] * 2654435761u : 0;

        struct mcp_handlers h = {.elicit = on_elicit, .sample = on_sample};
        json_t *roots = json_pack("[{s:s, s:s}]", "uri", "file:///tmp", "name", "tmp");
        struct mcp_endpoint ep = {
            .name = "fuzz",
            .handlers = data[0] & 4 ? &h : NULL,
            .roots = data[0] & 8 ? roots : NULL,
        };
        struct mcp_call_opts o = {.on_progress = data[0] & 16 ? on_progress : NULL};
        osvm_err e = {0};
        F.in_call = true;
        struct mcp_client *c = mcp_client_over(&F.base, &ep, &o, &e);
        F.in_call = false;
        if (!c) {
                json_decref(roots);
                return 0;
        }
        F.spy.max_message = F.base.max_message;
        F.in_call = true;
        json_t *tools = mcp_list_tools(c, &o, &e);
        F.in_call = false;
        if (tools)
                check_tools(tools);
        json_decref(tools);
        json_t *args = json_pack("{s:s}", "message", "hi");
        F.in_call = true;
        json_t *r = mcp_call_tool(c, "echo", args, &o, &e);
        F.in_call = false;
        if (r && !json_is_array(json_object_get(r, "content")))
                abort();
        json_decref(r);
        json_decref(args);
        F.in_call = true;
        mcp_ping(c, &o, &e);
        json_t *params = json_pack("{s:s}", "uri", "file:///tmp/x");
        r = mcp_request(c, "resources/read", params, &o, &e);
        F.in_call = false;
        json_decref(r);
        json_decref(params);
        mcp_take_tools_changed(c);
        mcp_close(c);
        json_decref(roots);
        return 0;
}
