/* get_version {}: the node's software version (getVersion). */
#include "tools/tools.h"

static int run(struct tool *t)
{
        struct jv *res = tools_rpc(t, "getVersion", NULL);
        if (!res)
                return -1;
        const char *core = jv_str(jv_get(res, "solana-core"));
        if (!core) {
                jv_free(res);
                return tools_fail(t, NULL, "getVersion: the result names no solana-core version");
        }
        struct jv *sc = jv_obj("solana_core", jv_string(core), NULL);
        uint64_t fs;
        int has_fs = tools_u64(jv_get(res, "feature-set"), &fs) == 0;
        if (has_fs)
                jv_set(sc, "feature_set", jv_uint(fs));
        int r = has_fs ? tools_ok(t, sc, false, "solana-core %s, feature set %llu", core,
                                  (unsigned long long)fs)
                       : tools_ok(t, sc, false, "solana-core %s", core);
        jv_free(res); /* core points into it */
        return r;
}

int main(int argc, char **argv)
{
        return tools_main(argc, argv, "get_version", run);
}
