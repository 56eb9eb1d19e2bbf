/* get_balance {address}: an account's balance in lamports and SOL (getBalance). */
#include "tools/tools.h"

static int run(struct tool *t)
{
        const char *addr = tools_arg_str(t, "address");
        struct jv *res = tools_rpc(t, "getBalance", tools_string_params(addr));
        if (!res)
                return -1;
        uint64_t lamports;
        char sol[32];
        if (tools_u64(jv_get(res, "value"), &lamports) < 0) {
                jv_free(res);
                return tools_fail(t, NULL, "getBalance: the result has no lamport value");
        }
        tools_sol_string(lamports, sol, sizeof(sol));
        struct jv *sc = jv_obj("address", jv_string(addr), "lamports", jv_uint(lamports), "sol",
                               jv_string(sol), "slot", jv_uint(tools_context_slot(res)), NULL);
        jv_free(res);
        return tools_ok(t, sc, false, "Balance of %s: %llu lamports (%s SOL)", addr,
                        (unsigned long long)lamports, sol);
}

int main(int argc, char **argv)
{
        return tools_main(argc, argv, "get_balance", run);
}
