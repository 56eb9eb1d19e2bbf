/* get_transaction {signature, commitment?}: a confirmed transaction (getTransaction). */
#include "tools/tools.h"

static int run(struct tool *t)
{
        const char *sig = tools_arg_str(t, "signature");
        const char *c = tools_arg_str(t, "commitment");
        struct jv *cfg = jv_obj("maxSupportedTransactionVersion", jv_int(0), NULL);
        if (c)
                jv_set(cfg, "commitment", jv_string(c));
        struct jv *params = tools_string_params(sig);
        jv_push(params, cfg);
        struct jv *res = tools_rpc(t, "getTransaction", params);
        if (!res)
                return -1;
        if (jv_is_null(res)) {
                jv_free(res);
                return tools_ok(
                    t, jv_obj("signature", jv_string(sig), "found", jv_bool(false), NULL), false,
                    "Transaction %s not found (not confirmed, or not in this "
                    "node's history)",
                    sig);
        }
        struct jv *meta = jv_get(res, "meta");
        uint64_t slot = 0, fee = 0;
        if (!jv_is_object(res) || tools_u64(jv_get(res, "slot"), &slot) < 0) {
                jv_free(res);
                return tools_fail(t, NULL, "getTransaction: the result is not a transaction");
        }
        tools_u64(jv_get(meta, "fee"), &fee);
        struct jv *err = jv_get(meta, "err");
        char *err_text = err && !jv_is_null(err) ? jv_dump(err, JV_COMPACT, NULL) : NULL;
        struct jv *sc =
            jv_obj("signature", jv_string(sig), "found", jv_bool(true), "slot", jv_uint(slot),
                   "success", jv_bool(!err_text), "transaction", jv_ref(res), NULL);
        jv_free(res);
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
