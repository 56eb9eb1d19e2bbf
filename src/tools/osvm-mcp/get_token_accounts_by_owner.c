/* get_token_accounts_by_owner {owner, mint? | program_id?}: getTokenAccountsByOwner. */
#include <stdio.h>

#include "tools/tools.h"

#define SPL_TOKEN_PROGRAM "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"

static int run(struct tool *t)
{
        const char *owner = tools_arg_str(t, "owner");
        const char *mint = tools_arg_str(t, "mint");
        const char *prog = tools_arg_str(t, "program_id");
        json_t *filter = mint ? json_pack("{s:s}", "mint", mint)
                              : json_pack("{s:s}", "programId", prog ? prog : SPL_TOKEN_PROGRAM);
        json_t *res =
            tools_rpc(t, "getTokenAccountsByOwner",
                      json_pack("[s, O, {s:s}]", owner, filter, "encoding", "jsonParsed"));
        if (!res) {
                json_decref(filter);
                return -1;
        }
        json_t *v = json_object_get(res, "value");
        if (!json_is_array(v)) {
                json_decref(filter);
                json_decref(res);
                return tools_fail(t, NULL, "getTokenAccountsByOwner: the result has no list");
        }
        /* One summary line per account, from what the jsonParsed encoding gives. */
        size_t n = json_array_size(v), i;
        json_t *acc;
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        if (f) {
                fprintf(f, "%zu token account%s of %s", n, n == 1 ? "" : "s", owner);
                json_array_foreach(v, i, acc)
                {
                        json_t *info = json_object_get(
                            json_object_get(
                                json_object_get(json_object_get(acc, "account"), "data"), "parsed"),
                            "info");
                        json_t *amt = json_object_get(info, "tokenAmount");
                        const char *pk = json_string_value(json_object_get(acc, "pubkey"));
                        const char *m = json_string_value(json_object_get(info, "mint"));
                        const char *ui = json_string_value(json_object_get(amt, "uiAmountString"));
                        fprintf(f, "\n- %s: mint %s, amount %s", pk ? pk : "?", m ? m : "?",
                                ui ? ui : "?");
                }
                fclose(f);
        }
        json_t *sc = json_pack("{s:s, s:o, s:I, s:O}", "owner", owner, "filter", filter, "slot",
                               (json_int_t)tools_context_slot(res), "accounts", v);
        json_decref(res);
        int r = tools_ok(t, sc, true, "%s", text ? text : "token accounts");
        free(text);
        return r;
}

int main(int argc, char **argv)
{
        return tools_main(argc, argv, "get_token_accounts_by_owner", run);
}
