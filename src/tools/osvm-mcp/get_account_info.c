/* get_account_info {address, encoding?}: an account (getAccountInfo). */
#include "tools/tools.h"

static int run(struct tool *t)
{
        const char *addr = tools_arg_str(t, "address");
        const char *enc = tools_arg_str(t, "encoding");
        struct jv *params = tools_string_params(addr);
        jv_push(params, jv_obj("encoding", jv_string(enc ? enc : "base64"), NULL));
        struct jv *res = tools_rpc(t, "getAccountInfo", params);
        if (!res)
                return -1;
        struct jv *v = jv_get(res, "value");
        uint64_t slot = tools_context_slot(res), lamports;
        if (jv_is_null(v)) {
                jv_free(res);
                return tools_ok(t,
                                jv_obj("address", jv_string(addr), "exists", jv_bool(false), "slot",
                                       jv_uint(slot), NULL),
                                false, "Account %s does not exist (slot %llu)", addr,
                                (unsigned long long)slot);
        }
        const char *owner = jv_str(jv_get(v, "owner"));
        if (!jv_is_object(v) || !owner || tools_u64(jv_get(v, "lamports"), &lamports)) {
                jv_free(res);
                return tools_fail(t, NULL, "getAccountInfo: the result is not an account");
        }
        char sol[32];
        tools_sol_string(lamports, sol, sizeof(sol));
        uint64_t space = 0;
        tools_u64(jv_get(v, "space"), &space);
        bool exe = jv_is_true(jv_get(v, "executable"));
        struct jv *sc = jv_obj("address", jv_string(addr), "exists", jv_bool(true), "slot",
                               jv_uint(slot), "lamports", jv_uint(lamports), "sol", jv_string(sol),
                               "account", jv_ref(v), NULL);
        jv_free(res);
        return tools_ok(t, sc, true,
                        "Account %s: owner %s, %llu lamports (%s SOL), %llu bytes of data%s", addr,
                        owner, (unsigned long long)lamports, sol, (unsigned long long)space,
                        exe ? ", executable" : "");
}

int main(int argc, char **argv)
{
        return tools_main(argc, argv, "get_account_info", run);
}
