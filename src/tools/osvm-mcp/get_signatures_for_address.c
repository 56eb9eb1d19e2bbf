/* get_signatures_for_address {address, limit?, before?}: getSignaturesForAddress. */
#include "tools/tools.h"

static int run(struct tool *t)
{
        const char *addr = tools_arg_str(t, "address");
        json_t *cfg = json_object();
        if (tools_arg(t, "limit"))
                json_object_set(cfg, "limit", tools_arg(t, "limit"));
        if (tools_arg(t, "before"))
                json_object_set(cfg, "before", tools_arg(t, "before"));
        json_t *params = json_pack("[s]", addr);
        if (json_object_size(cfg))
                json_array_append(params, cfg);
        json_decref(cfg);
        json_t *res = tools_rpc(t, "getSignaturesForAddress", params);
        if (!res)
                return -1;
        if (!json_is_array(res)) {
                json_decref(res);
                return tools_fail(t, NULL, "getSignaturesForAddress: the result is not a list");
        }
        size_t n = json_array_size(res);
        json_t *sc = json_pack("{s:s, s:I, s:o}", "address", addr, "count", (json_int_t)n,
                               "signatures", res);
        return tools_ok(t, sc, true, "%zu signature%s for %s (newest first)", n, n == 1 ? "" : "s",
                        addr);
}

int main(int argc, char **argv)
{
        return tools_main(argc, argv, "get_signatures_for_address", run);
}
