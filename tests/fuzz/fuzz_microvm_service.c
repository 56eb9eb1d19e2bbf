/*
 * μVM-1's host-call requests (microvm_request_check, src/microvm/service.c):
 * the agent inside the VM is untrusted, and every line it writes on its
 * fd 3 is checked as a system call is before anything is served. The check
 * has no side effect (nothing runs, nothing is read or written).
 *
 * Input: one request line as the service reads it. The registry has one
 * enabled server, "srv", and one disabled, "off".
 *
 * Checked beyond "no crash, no leak": a request it accepts is a JSON
 * object whose op is one of the protocol's, whose strings (but an llm
 * body) are at most 256 bytes without NUL, whose server (where the op
 * names one) is "srv", and a hello of protocol MICROVM_PROTOCOL; a request
 * it refuses has a message that can be sent back to the agent (it is
 * UTF-8, so that the answer line can be made).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "microvm/microvm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
        if (!ok)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static struct mcp_server_conf conf[2] = {{.id = "srv", .enabled = true},
                                                 {.id = "off", .enabled = false}};
        static const struct mcp_registry reg = {.n = 2, .v = conf};
        static const char *const known[] = {"hello",  "tool.decide", "tool.call", "llm",
                                            "status", "events",      "config"};
        char why[1024];
        why[0] = '\0';
        json_t *req = microvm_request_check((const char *)data, size, &reg, why, sizeof(why));
        if (!req) {
                check(why[0] != '\0');
                /* the answer the service sends carries it */
                json_t *ans = json_pack("{s:b, s:s}", "ok", 0, "error", why);
                check(ans != NULL);
                json_decref(ans);
                return 0;
        }
        check(json_is_object(req));
        const char *op = json_string_value(json_object_get(req, "op"));
        check(op != NULL);
        size_t i = 0;
        while (i < sizeof(known) / sizeof(known[0]) && strcmp(op, known[i]))
                i++;
        check(i < sizeof(known) / sizeof(known[0]));
        const char *key;
        json_t *v;
        json_object_foreach(req, key, v)
        {
                if (!strcmp(key, "op") || !json_is_string(v))
                        continue;
                check(strlen(json_string_value(v)) == json_string_length(v));
                check(!strcmp(key, "body") || json_string_length(v) <= 256);
        }
        if (!strcmp(op, "tool.decide") || !strcmp(op, "tool.call")) {
                const char *server = json_string_value(json_object_get(req, "server"));
                check(server && !strcmp(server, "srv"));
                check(json_is_string(json_object_get(req, "tool")));
        }
        if (!strcmp(op, "hello"))
                check(json_integer_value(json_object_get(req, "protocol")) == MICROVM_PROTOCOL);
        json_decref(req);
        return 0;
}
