/* get_transaction {signature, commitment?}: a confirmed transaction (getTransaction). */
#include "tools/tools.h"

static int run(struct tool *t)
{
        const char *sig = tools_arg_str(t, "signature");
        const char *c = tools_arg_str(t, "commitment");
        json_t *cfg = json_pack("{s:i}", "maxSupportedTransactionVersion", 0);
        if (c)
                json_object_set_new(cfg, "commitment", json_string(c));
        json_t *res = tools_rpc(t, "getTransaction", json_pack("[s, o]", sig, cfg));
        if (!res)
                return -1;
        if (json_is_null(res)) {
                json_decref(res);
                return tools_ok(t, json_pack("{s:s, s:b}", "signature", sig, "found", 0), false,
                                "Transaction %s not found (not confirmed, or not in this "
                                "node's history)",
                                sig);
        }
        json_t *meta = json_object_get(res, "meta");
        uint64_t slot = 0, fee = 0;
        if (!json_is_object(res) || tools_u64(json_object_get(res, "slot"), &slot) < 0) {
                json_decref(res);
                return tools_fail(t, NULL, "getTransaction: the result is not a transaction");
        }
        tools_u64(json_object_get(meta, "fee"), &fee);
        json_t *err = json_object_get(meta, "err");
        char *err_text = err && !json_is_null(err) ? json_dumps(err, JSON_COMPACT) : NULL;
        json_t *sc = json_pack("{s:s, s:b, s:I, s:b, s:O}", "signature", sig, "found", 1, "slot",
                               (json_int_t)slot, "success", !err_text, "transaction", res);
        json_decref(res);
        int r = tools_ok(t, sc, true, "Transaction %s: slot %llu, fee %llu lamports, %s%s", sig,
                         (unsigned long long)slot, (unsigned long long)fee,
                         err_text ? "failed: " : "succeeded", err_text ? err_text : "");
        free(err_text);
        return r;
}

int main(int argc, char **argv)
{
        return tools_main(argc, argv, "get_transaction", run);
}
