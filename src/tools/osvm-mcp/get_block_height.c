/* get_block_height {commitment?}: getBlockHeight. */
#include "tools/tools.h"

static int run(struct tool *t)
{
        struct jv *res = tools_rpc(t, "getBlockHeight", tools_commitment_params(t));
        if (!res)
                return -1;
        uint64_t v;
        int bad = tools_u64(res, &v);
        jv_free(res);
        if (bad)
                return tools_fail(t, NULL, "getBlockHeight: the result is not a number");
        const char *c = tools_arg_str(t, "commitment");
        struct jv *sc = jv_obj("block_height", jv_uint(v), NULL);
        if (c)
                jv_set(sc, "commitment", jv_string(c));
        return tools_ok(t, sc, false, "Current block height: %llu%s%s%s", (unsigned long long)v,
                        c ? " (" : "", c ? c : "", c ? ")" : "");
}

int main(int argc, char **argv)
{
        return tools_main(argc, argv, "get_block_height", run);
}
