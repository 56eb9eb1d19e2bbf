/* get_latest_blockhash {commitment?}: getLatestBlockhash. */
#include "tools/tools.h"

static int run(struct tool *t)
{
        json_t *res = tools_rpc(t, "getLatestBlockhash", tools_commitment_params(t));
        if (!res)
                return -1;
        json_t *v = json_object_get(res, "value");
        const char *hash = json_string_value(json_object_get(v, "blockhash"));
        uint64_t last;
        char err[TOOLS_ERR_MAX];
        if (!hash || tools_u64(json_object_get(v, "lastValidBlockHeight"), &last) < 0 ||
            tools_check_b58("blockhash", hash, TOOLS_ADDRESS_LEN, err, sizeof(err)) < 0) {
                json_decref(res);
                return tools_fail(t, NULL, "getLatestBlockhash: the result is not a blockhash");
        }
        json_t *sc = json_pack("{s:s, s:I, s:I}", "blockhash", hash, "last_valid_block_height",
                               (json_int_t)last, "slot", (json_int_t)tools_context_slot(res));
        int r = tools_ok(t, sc, false, "Latest blockhash %s, valid until block height %llu", hash,
                         (unsigned long long)last);
        json_decref(res); /* hash points into it */
        return r;
}

int main(int argc, char **argv)
{
        return tools_main(argc, argv, "get_latest_blockhash", run);
}
