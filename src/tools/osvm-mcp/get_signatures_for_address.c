/* get_signatures_for_address {address, limit?, before?}: getSignaturesForAddress. */
#include "tools/tools.h"

static int run(struct tool *t)
{
        const char *addr = tools_arg_str(t, "address");
        struct jv *cfg = jv_object();
        if (tools_arg(t, "limit"))
                jv_set(cfg, "limit", jv_ref(tools_arg(t, "limit")));
        if (tools_arg(t, "before"))
                jv_set(cfg, "before", jv_ref(tools_arg(t, "before")));
        struct jv *params = tools_string_params(addr);
        if (jv_size(cfg))
                jv_push(params, cfg);
        else
                jv_free(cfg);
        struct jv *res = tools_rpc(t, "getSignaturesForAddress", params);
        if (!res)
                return -1;
        if (!jv_is_array(res)) {
                jv_free(res);
                return tools_fail(t, NULL, "getSignaturesForAddress: the result is not a list");
        }
        size_t n = jv_size(res);
        struct jv *sc =
            jv_obj("address", jv_string(addr), "count", jv_uint(n), "signatures", res, NULL);
        return tools_ok(t, sc, true, "%zu signature%s for %s (newest first)", n, n == 1 ? "" : "s",
                        addr);
}

int main(int argc, char **argv)
{
        return tools_main(argc, argv, "get_signatures_for_address", run);
}
