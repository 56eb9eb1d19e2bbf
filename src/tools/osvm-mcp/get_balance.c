/* get_balance {address}: an account's balance in lamports and SOL (getBalance). */
#include "tools/tools.h"

static int run(struct tool *t)
{
        const char *addr = tools_arg_str(t, "address");
        json_t *res = tools_rpc(t, "getBalance", json_pack("[s]", addr));
        if (!res)
                return -1;
        uint64_t lamports;
        char sol[32];
        if (tools_u64(json_object_get(res, "value"), &lamports) < 0) {
                json_decref(res);
                return tools_fail(t, NULL, "getBalance: the result has no lamport value");
        }
        tools_sol_string(lamports, sol, sizeof(sol));
        json_t *sc =
            json_pack("{s:s, s:I, s:s, s:I}", "address", addr, "lamports", (json_int_t)lamports,
                      "sol", sol, "slot", (json_int_t)tools_context_slot(res));
        json_decref(res);
        return tools_ok(t, sc, false, "Balance of %s: %llu lamports (%s SOL)", addr,
                        (unsigned long long)lamports, sol);
}

int main(int argc, char **argv)
{
        return tools_main(argc, argv, "get_balance", run);
}
