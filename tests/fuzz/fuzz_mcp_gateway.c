/*
 * The message dispatch of `osvm mcp serve` (src/mcp/gateway.c): what a
 * client sends the gateway, one JSON message a line on stdin, read by the
 * line reader (src/mcp/lines.c) and dispatched by mcp_gw_handle. The
 * gateway fronts an empty registry: no server is started, and every tool,
 * prompt or resource named is unknown.
 *
 * Input: the client's lines. Checked beyond "no crash, no leak, no hang":
 * every line the gateway writes is a JSON-RPC 2.0 object, a response (an id
 * and exactly one of result or error, an error with an integer code and a
 * message free of control characters) or a notification; a response's id is
 * null or one the client sent; and every well-formed request that was not
 * cancelled gets an answer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "isolation/isolation.h"
#include "mcp/mcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct mcp_gateway *gw;

static struct mcp_gateway *gateway(void)
{
        static struct mcp_registry reg;
        static struct iso_config cfg;
        static struct iso_host host;
        if (gw)
                return gw;
        log_set_level(LOG_ERROR);
        struct iso_diags d = {0};
        if (iso_config_parse("{}", 2, "fuzz", &cfg, &d) < 0)
                abort();
        iso_diags_free(&d);
        struct mcp_hub *hub = mcp_hub_new(&reg, &cfg, &host);
        osvm_err e = {0};
        gw = mcp_gateway_new(hub, &reg, NULL, 0, &e);
        if (!gw)
                abort();
        return gw;
}

/* Is this message a request the gateway must answer (mcp_gw_handle's rules)? */
static bool answerable(json_t *m)
{
        json_t *id = json_object_get(m, "id"), *mj = json_object_get(m, "method");
        json_t *params = json_object_get(m, "params");
        const char *jv = json_string_value(json_object_get(m, "jsonrpc"));
        return jv && !strcmp(jv, "2.0") && (json_is_string(id) || json_is_integer(id)) &&
               json_is_string(mj) && strlen(json_string_value(mj)) == json_string_length(mj) &&
               (!params || json_is_object(params));
}

/* The index of a value equal to v in the array a, or -1. */
static long find(json_t *a, json_t *v)
{
        for (size_t i = 0; i < json_array_size(a); i++)
                if (json_equal(json_array_get(a, i), v))
                        return (long)i;
        return -1;
}

static bool clean_text(const char *s)
{
        for (; *s; s++)
                if (((unsigned char)*s < 0x20 && *s != '\n') || *s == 0x7f)
                        return false;
        return true;
}

static void check_output(const char *out, size_t n, json_t *sent_ids, json_t *owed)
{
        size_t i = 0;
        while (i < n) {
                const char *nl = memchr(out + i, '\n', n - i);
                if (!nl)
                        abort(); /* every message ends its line */
                size_t len = (size_t)(nl - (out + i));
                json_t *m = json_loadb(out + i, len, JSON_ALLOW_NUL, NULL);
                if (!json_is_object(m))
                        abort(); /* one JSON object a line */
                const char *jv = json_string_value(json_object_get(m, "jsonrpc"));
                if (!jv || strcmp(jv, "2.0"))
                        abort();
                json_t *id = json_object_get(m, "id");
                json_t *res = json_object_get(m, "result"), *err = json_object_get(m, "error");
                if (json_object_get(m, "method")) {
                        if (id || res || err)
                                abort(); /* the gateway asks its clients nothing */
                } else {
                        if (!id || !res == !err)
                                abort(); /* a response: an id, a result or an error */
                        if (err) {
                                const char *msg =
                                    json_string_value(json_object_get(err, "message"));
                                if (!json_is_integer(json_object_get(err, "code")) || !msg ||
                                    !clean_text(msg))
                                        abort();
                        }
                        if (!json_is_null(id) && find(sent_ids, id) < 0)
                                abort(); /* an id the client sent */
                        long k = find(owed, id);
                        if (k >= 0)
                                json_array_remove(owed, (size_t)k);
                }
                json_decref(m);
                i += len + 1;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct mcp_gateway *g = gateway();
        int in = memfd_create("fuzz-in", MFD_CLOEXEC), out = memfd_create("fuzz-out", MFD_CLOEXEC);
        if (in < 0 || out < 0 || write(in, data, size) != (ssize_t)size ||
            lseek(in, 0, SEEK_SET) != 0)
                abort();

        /* What was sent (ids), and the requests owed an answer. */
        json_t *sent_ids = json_array(), *owed = json_array(), *cancelled = json_array();
        const char *s = (const char *)data;
        for (size_t i = 0; i < size;) {
                const char *nl = memchr(s + i, '\n', size - i);
                if (!nl)
                        break; /* an unterminated last line is not read */
                size_t len = (size_t)(nl - (s + i));
                size_t t = len;
                while (t && (s[i + t - 1] == '\r' || s[i + t - 1] == ' '))
                        t--;
                json_t *m =
                    t ? mcp_json_loadb(s + i, t, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL)
                      : NULL;
                json_t *id = json_object_get(m, "id");
                if (id)
                        json_array_append(sent_ids, id);
                if (json_is_object(m) && answerable(m))
                        json_array_append(owed, id);
                const char *method = json_string_value(json_object_get(m, "method"));
                if (method && !strcmp(method, "notifications/cancelled")) {
                        json_t *rid = json_object_get(json_object_get(m, "params"), "requestId");
                        if (rid)
                                json_array_append(cancelled, rid);
                }
                json_decref(m);
                i += len + 1;
        }

        if (mcp_gateway_serve_stdio(g, in, out) != 0)
                abort();

        off_t n = lseek(out, 0, SEEK_END);
        char *text = malloc((size_t)n + 1);
        if (pread(out, text, (size_t)n, 0) != n)
                abort();
        check_output(text, (size_t)n, sent_ids, owed);
        for (size_t k = 0; k < json_array_size(owed); k++)
                if (find(cancelled, json_array_get(owed, k)) < 0)
                        abort(); /* a request nobody cancelled went unanswered */
        free(text);
        json_decref(sent_ids);
        json_decref(owed);
        json_decref(cancelled);
        close(in);
        close(out);
        return 0;
}
