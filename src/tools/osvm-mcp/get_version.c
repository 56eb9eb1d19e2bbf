/* get_version {}: the node's software version (getVersion). */
#include "tools/tools.h"

static int run(struct tool *t)
{
        json_t *res = tools_rpc(t, "getVersion", NULL);
        if (!res)
                return -1;
        const char *core = json_string_value(json_object_get(res, "solana-core"));
        if (!core) {
                json_decref(res);
                return tools_fail(t, NULL, "getVersion: the result names no solana-core version");
        }
        json_t *sc = json_pack("{s:s}", "solana_core", core);
        uint64_t fs;
        int has_fs = tools_u64(json_object_get(res, "feature-set"), &fs) == 0;
        if (has_fs)
                json_object_set_new(sc, "feature_set", json_integer((json_int_t)fs));
        int r = has_fs ? tools_ok(t, sc, false, "solana-core %s, feature set %llu", core,
                                  (unsigned long long)fs)
                       : tools_ok(t, sc, false, "solana-core %s", core);
        json_decref(res); /* core points into it */
        return r;
}

int main(int argc, char **argv)
{
        return tools_main(argc, argv, "get_version", run);
}
