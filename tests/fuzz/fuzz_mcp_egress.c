/*
 * The host-call request validation of egress (mcp_egress_request_check,
 * src/mcp/egress.c): a tool in a VM writes one JSON request a line on its
 * fd 3, and everything in it is the tool's. Nothing is sent: the check has
 * no side effect, and the fuzzer never reaches the network.
 *
 * Input: the policy's network.allow (one line, entries separated by
 * commas; "-" for none set: the RPC endpoint only), the RPC URL (one line,
 * empty for none), then the request line as the host-call thread reads it.
 *
 * Checked beyond "no crash, no leak": a request it admits has method GET or
 * POST, a URL the policy admits, headers that are one line each, with a
 * name, none of those osvm sets or that carry a credential; the key goes
 * only to the RPC endpoint's origin; a request it does not admit has a
 * message ("refused: ..." when the policy said no) and nothing to free.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mcp/mcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ALLOW 8

static void check(bool ok)
{
        if (!ok)
                abort();
}

/* The next line of [*p, end) as a fresh string; *p moves past it. */
static char *line(const char **p, const char *end)
{
        const char *nl = memchr(*p, '\n', (size_t)(end - *p));
        size_t n = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
        char *s = strndup(*p, n);
        *p += nl ? n + 1 : n;
        return s;
}

static void check_header(const char *h)
{
        const char *colon = strstr(h, ": ");
        check(colon && colon > h);
        check(!strpbrk(h, "\r\n"));
        size_t n = (size_t)(colon - h);
        check(!memchr(h, ' ', n) && !memchr(h, ':', n));
        static const char *const forbidden[] = {"host",   "content-length",    "authorization",
                                                "cookie", "transfer-encoding", "connection"};
        for (size_t i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++)
                check(!(strlen(forbidden[i]) == n && !strncasecmp(h, forbidden[i], n)));
        check(!(n >= 6 && !strncasecmp(h, "proxy-", 6)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *p = (const char *)data, *end = p + size;
        char *allow_line = line(&p, end);
        char *rpc = line(&p, end);
        char *entries[MAX_ALLOW];
        size_t n = 0;
        for (char *save = NULL, *s = strtok_r(allow_line, ",", &save); s && n < MAX_ALLOW;
             s = strtok_r(NULL, ",", &save))
                entries[n++] = s;
        struct iso_strlist allow = {n, entries};
        bool by_default = !strcmp(allow_line, "-");
        struct mcp_egress_policy pol = {.who = "fuzz/tool",
                                        .allow = by_default ? NULL : &allow,
                                        .allow_is_default = by_default,
                                        .rpc_url = rpc[0] ? rpc : NULL,
                                        .rpc_key = "KEY"};

        /* the request line, as the host-call thread reads it */
        json_t *req = json_loadb(p, (size_t)(end - p), 0, NULL);
        if (json_is_object(req)) {
                struct mcp_egress_req r;
                char why[400];
                const char *bad = mcp_egress_request_check(&pol, req, &r, why, sizeof(why));
                if (bad) {
                        check(bad[0] != '\0');
                        check(!r.refused || !strncmp(bad, "refused", 7));
                        check(r.nheaders == 0 && !r.headers);
                } else {
                        check(r.method && (!strcmp(r.method, "GET") || !strcmp(r.method, "POST")));
                        check(r.url && !mcp_egress_check(&pol, r.url, why, sizeof(why)));
                        check(!r.refused);
                        json_t *body = json_object_get(req, "body");
                        check(body ? r.body && r.body_len == json_string_length(body) : !r.body);
                        for (size_t i = 0; i < r.nheaders; i++)
                                check_header(r.headers[i]);
                        check(!r.to_rpc_endpoint || r.to_rpc);
                        check(!r.to_rpc || pol.rpc_url);
                        mcp_egress_req_free(&r);
                }
        }
        json_decref(req);
        free(allow_line);
        free(rpc);
        return 0;
}
