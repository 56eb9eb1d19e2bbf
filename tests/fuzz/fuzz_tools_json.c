/*
 * The tool pack's JSON module (src/tools/json.c) and the parsers built on it
 * (src/tools/common.c): what a tool reads from the host (its request, a
 * host-call answer, a JSON-RPC body) is hostile.
 *
 * Input: one selector byte, then the text. Checked beyond "no crash, no
 * leak": a document that parses dumps, the dump parses again, and dumping
 * that gives the same text (compact and indented).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tools/json.h"
#include "tools/tools.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void round_trip(const char *text, size_t n)
{
        struct jv_error e;
        struct jv *v = jv_parse(text, n, NULL, &e);
        if (!v)
                return;
        for (int flags = JV_COMPACT; flags <= JV_INDENT; flags++) {
                size_t len1 = 0, len2 = 0;
                char *d1 = jv_dump(v, flags, &len1);
                if (!d1)
                        abort(); /* a parsed tree always dumps */
                struct jv *w = jv_parse(d1, len1, NULL, &e);
                if (!w)
                        abort(); /* and what it dumps parses */
                char *d2 = jv_dump(w, flags, &len2);
                if (!d2 || len1 != len2 || memcmp(d1, d2, len1) != 0)
                        abort(); /* to the same text */
                free(d1);
                free(d2);
                jv_free(w);
        }
        jv_free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 1)
                return 0;
        const char *text = (const char *)data + 1;
        size_t n = size - 1;
        char err[256];
        switch (data[0] % 4) {
        case 0:
                round_trip(text, n);
                break;
        case 1: { /* a tool's request, checked against a tool's argument table */
                const struct tools_def *d = tools_find("get_balance");
                if (data[0] & 4)
                        d = tools_find("solana_rpc_call");
                struct jv *req = tools_parse_request(d, text, n, err, sizeof(err));
                jv_free(req);
                break;
        }
        case 2: { /* one host-call answer line */
                struct tools_http h = {0};
                if (tools_parse_host_answer(text, n, &h, err, sizeof(err)) == 0)
                        free(h.body);
                break;
        }
        case 3: { /* a JSON-RPC response body */
                struct jv *rpc_error = NULL;
                struct jv *res = tools_parse_rpc(text, n, 200, &rpc_error, err, sizeof(err));
                jv_free(res);
                jv_free(rpc_error);
                break;
        }
        }
        return 0;
}
