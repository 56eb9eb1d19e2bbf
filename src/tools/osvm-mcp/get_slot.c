/* get_slot {commitment?}: getSlot. */
#include "tools/tools.h"

static int run(struct tool *t)
{
        struct jv *res = tools_rpc(t, "getSlot", tools_commitment_params(t));
        if (!res)
                return -1;
        uint64_t v;
        int bad = tools_u64(res, &v);
        jv_free(res);
        if (bad)
                return tools_fail(t, NULL, "getSlot: the result is not a number");
        const char *c = tools_arg_str(t, "commitment");
        struct jv *sc = jv_obj("slot", jv_uint(v), NULL);
        if (c)
                jv_set(sc, "commitment", jv_string(c));
        return tools_ok(t, sc, false, "Current slot: %llu%s%s%s", (unsigned long long)v,
                        c ? " (" : "", c ? c : "", c ? ")" : "");
}

int main(int argc, char **argv)
{
        return tools_main(argc, argv, "get_slot", run);
}
