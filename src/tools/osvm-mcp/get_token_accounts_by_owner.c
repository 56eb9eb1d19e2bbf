/* get_token_accounts_by_owner {owner, mint? | program_id?}: getTokenAccountsByOwner. */
#include <stdio.h>

#include "tools/tools.h"

#define SPL_TOKEN_PROGRAM "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"

static int run(struct tool *t)
{
        const char *owner = tools_arg_str(t, "owner");
        const char *mint = tools_arg_str(t, "mint");
        const char *prog = tools_arg_str(t, "program_id");
        struct jv *filter =
            mint ? jv_obj("mint", jv_string(mint), NULL)
                 : jv_obj("programId", jv_string(prog ? prog : SPL_TOKEN_PROGRAM), NULL);
        struct jv *params = tools_string_params(owner);
        jv_push(params, jv_ref(filter));
        jv_push(params, jv_obj("encoding", jv_string("jsonParsed"), NULL));
        struct jv *res = tools_rpc(t, "getTokenAccountsByOwner", params);
        if (!res) {
                jv_free(filter);
                return -1;
        }
        struct jv *v = jv_get(res, "value");
        if (!jv_is_array(v)) {
                jv_free(filter);
                jv_free(res);
                return tools_fail(t, NULL, "getTokenAccountsByOwner: the result has no list");
        }
        /* One summary line per account, from what the jsonParsed encoding gives. */
        size_t n = jv_size(v);
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        if (f) {
                fprintf(f, "%zu token account%s of %s", n, n == 1 ? "" : "s", owner);
                for (size_t i = 0; i < n; i++) {
                        struct jv *acc = jv_at(v, i);
                        struct jv *info = jv_dig(acc, "account", "data", "parsed", "info", NULL);
                        struct jv *amt = jv_get(info, "tokenAmount");
                        const char *pk = jv_str(jv_get(acc, "pubkey"));
                        const char *m = jv_str(jv_get(info, "mint"));
                        const char *ui = jv_str(jv_get(amt, "uiAmountString"));
                        fprintf(f, "\n- %s: mint %s, amount %s", pk ? pk : "?", m ? m : "?",
                                ui ? ui : "?");
                }
                fclose(f);
        }
        struct jv *sc = jv_obj("owner", jv_string(owner), "filter", filter, "slot",
                               jv_uint(tools_context_slot(res)), "accounts", jv_ref(v), NULL);
        jv_free(res);
        int r = tools_ok(t, sc, true, "%s", text ? text : "token accounts");
        free(text);
        return r;
}

int main(int argc, char **argv)
{
        return tools_main(argc, argv, "get_token_accounts_by_owner", run);
}
