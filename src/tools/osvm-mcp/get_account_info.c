/* get_account_info {address, encoding?}: an account (getAccountInfo). */
#include "tools/tools.h"

static int run(struct tool *t)
{
        const char *addr = tools_arg_str(t, "address");
        const char *enc = tools_arg_str(t, "encoding");
        json_t *res = tools_rpc(t, "getAccountInfo",
                                json_pack("[s, {s:s}]", addr, "encoding", enc ? enc : "base64"));
        if (!res)
                return -1;
        json_t *v = json_object_get(res, "value");
        uint64_t slot = tools_context_slot(res), lamports;
        if (json_is_null(v)) {
                json_decref(res);
                return tools_ok(t,
                                json_pack("{s:s, s:b, s:I}", "address", addr, "exists", 0, "slot",
                                          (json_int_t)slot),
                                false, "Account %s does not exist (slot %llu)", addr,
                                (unsigned long long)slot);
        }
        const char *owner = json_string_value(json_object_get(v, "owner"));
        if (!json_is_object(v) || !owner || tools_u64(json_object_get(v, "lamports"), &lamports)) {
                json_decref(res);
                return tools_fail(t, NULL, "getAccountInfo: the result is not an account");
        }
        char sol[32];
        tools_sol_string(lamports, sol, sizeof(sol));
        uint64_t space = 0;
        tools_u64(json_object_get(v, "space"), &space);
        bool exe = json_is_true(json_object_get(v, "executable"));
        json_t *sc =
            json_pack("{s:s, s:b, s:I, s:I, s:s, s:O}", "address", addr, "exists", 1, "slot",
                      (json_int_t)slot, "lamports", (json_int_t)lamports, "sol", sol, "account", v);
        json_decref(res);
        return tools_ok(t, sc, true,
                        "Account %s: owner %s, %llu lamports (%s SOL), %llu bytes of data%s", addr,
                        owner, (unsigned long long)lamports, sol, (unsigned long long)space,
                        exe ? ", executable" : "");
}

int main(int argc, char **argv)
{
        return tools_main(argc, argv, "get_account_info", run);
}
