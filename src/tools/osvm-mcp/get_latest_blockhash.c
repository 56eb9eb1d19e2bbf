/* get_latest_blockhash {commitment?}: getLatestBlockhash. */
#include "tools/tools.h"

static int run(struct tool *t)
{
        struct jv *res = tools_rpc(t, "getLatestBlockhash", tools_commitment_params(t));
        if (!res)
                return -1;
        struct jv *v = jv_get(res, "value");
        const char *hash = jv_str(jv_get(v, "blockhash"));
        uint64_t last;
        char err[TOOLS_ERR_MAX];
        if (!hash || tools_u64(jv_get(v, "lastValidBlockHeight"), &last) < 0 ||
            tools_check_b58("blockhash", hash, TOOLS_ADDRESS_LEN, err, sizeof(err)) < 0) {
                jv_free(res);
                return tools_fail(t, NULL, "getLatestBlockhash: the result is not a blockhash");
        }
        struct jv *sc = jv_obj("blockhash", jv_string(hash), "last_valid_block_height",
                               jv_uint(last), "slot", jv_uint(tools_context_slot(res)), NULL);
        int r = tools_ok(t, sc, false, "Latest blockhash %s, valid until block height %llu", hash,
                         (unsigned long long)last);
        jv_free(res); /* hash points into it */
        return r;
}

int main(int argc, char **argv)
{
        return tools_main(argc, argv, "get_latest_blockhash", run);
}
