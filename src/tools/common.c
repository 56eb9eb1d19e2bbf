/*
 * The osvm-mcp tool pack: the code every tool shares (see tools.h).
 *
 * Everything that arrives here is hostile: the request on stdin, the host's
 * answers on fd 3, and the RPC endpoint's bodies inside them. Each is bounded
 * in size, parsed with json.c (limits, strict), and checked field by field
 * before use.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/tools.h"

/* ---- the tool table: the one source of the definitions and the checks ---- */

static const char *const commitments[] = {"processed", "confirmed", "finalized", NULL};
static const char *const tx_commitments[] = {"confirmed", "finalized", NULL};
static const char *const encodings[] = {"base64", "base58", "base64+zstd", "jsonParsed", NULL};

/* Read-only methods only: nothing that sends, signs, airdrops or simulates. */
const char *const tools_rpc_allowed[] = {
    "getAccountInfo",
    "getBalance",
    "getBlock",
    "getBlockCommitment",
    "getBlockHeight",
    "getBlockProduction",
    "getBlockTime",
    "getBlocks",
    "getBlocksWithLimit",
    "getClusterNodes",
    "getEpochInfo",
    "getEpochSchedule",
    "getFeeForMessage",
    "getFirstAvailableBlock",
    "getGenesisHash",
    "getHealth",
    "getHighestSnapshotSlot",
    "getIdentity",
    "getInflationGovernor",
    "getInflationRate",
    "getInflationReward",
    "getLargestAccounts",
    "getLatestBlockhash",
    "getLeaderSchedule",
    "getMaxRetransmitSlot",
    "getMaxShredInsertSlot",
    "getMinimumBalanceForRentExemption",
    "getMultipleAccounts",
    "getProgramAccounts",
    "getRecentPerformanceSamples",
    "getRecentPrioritizationFees",
    "getSignatureStatuses",
    "getSignaturesForAddress",
    "getSlot",
    "getSlotLeader",
    "getSlotLeaders",
    "getStakeMinimumDelegation",
    "getSupply",
    "getTokenAccountBalance",
    "getTokenAccountsByDelegate",
    "getTokenAccountsByOwner",
    "getTokenLargestAccounts",
    "getTokenSupply",
    "getTransaction",
    "getTransactionCount",
    "getVersion",
    "getVoteAccounts",
    "isBlockhashValid",
    "minimumLedgerSlot",
    NULL,
};

#define ARG_COMMITMENT                                                                             \
        {                                                                                          \
                "commitment", TOOLS_ARG_ENUM, false,                                               \
                    "Commitment level: processed, confirmed or finalized (default: the "           \
                    "endpoint's)",                                                                 \
                    commitments, 0, 0                                                              \
        }

const struct tools_def tools_defs[] = {
    {"get_balance",
     "Get the balance of a Solana account, in lamports and SOL.",
     {{"address", TOOLS_ARG_ADDRESS, true, "Account address (base58, 32 bytes)", NULL, 0, 0}},
     {NULL, NULL}},
    {"get_account_info",
     "Get a Solana account: lamports, owner program, data, executable flag, rent epoch.",
     {{"address", TOOLS_ARG_ADDRESS, true, "Account address (base58, 32 bytes)", NULL, 0, 0},
      {"encoding", TOOLS_ARG_ENUM, false, "Encoding of the account data (default: base64)",
       encodings, 0, 0}},
     {NULL, NULL}},
    {"get_transaction",
     "Get a confirmed Solana transaction by its signature: slot, fee, status, instructions.",
     {{"signature", TOOLS_ARG_SIGNATURE, true, "Transaction signature (base58, 64 bytes)", NULL, 0,
       0},
      {"commitment", TOOLS_ARG_ENUM, false, "Commitment level: confirmed or finalized",
       tx_commitments, 0, 0}},
     {NULL, NULL}},
    {"get_signatures_for_address",
     "List the signatures of transactions involving an address, newest first.",
     {{"address", TOOLS_ARG_ADDRESS, true, "Account address (base58, 32 bytes)", NULL, 0, 0},
      {"limit", TOOLS_ARG_INTEGER, false, "How many signatures, 1 to 1000 (default: 1000)", NULL, 1,
       TOOLS_LIMIT_MAX},
      {"before", TOOLS_ARG_SIGNATURE, false,
       "Start searching backwards from this transaction signature", NULL, 0, 0}},
     {NULL, NULL}},
    {"get_slot", "Get the current slot of the Solana cluster.", {ARG_COMMITMENT}, {NULL, NULL}},
    {"get_block_height",
     "Get the current block height of the Solana cluster.",
     {ARG_COMMITMENT},
     {NULL, NULL}},
    {"get_epoch_info",
     "Get information about the current epoch: epoch, slot index, slots in the epoch, block "
     "height.",
     {ARG_COMMITMENT},
     {NULL, NULL}},
    {"get_version", "Get the Solana software version the RPC node runs.", {{NULL}}, {NULL, NULL}},
    {"get_token_accounts_by_owner",
     "List the SPL token accounts owned by an address, filtered by mint or by token program "
     "(default: the SPL Token program).",
     {{"owner", TOOLS_ARG_ADDRESS, true, "Owner address (base58, 32 bytes)", NULL, 0, 0},
      {"mint", TOOLS_ARG_ADDRESS, false, "Only accounts of this token mint (base58)", NULL, 0, 0},
      {"program_id", TOOLS_ARG_ADDRESS, false,
       "Only accounts of this token program (base58; default: the SPL Token program)", NULL, 0, 0}},
     {"mint", "program_id"}},
    {"get_latest_blockhash",
     "Get the latest blockhash and the last block height at which it is valid.",
     {ARG_COMMITMENT},
     {NULL, NULL}},
    {"solana_rpc_call",
     "Call a read-only Solana JSON-RPC method (from an allow-list; nothing that sends "
     "transactions or airdrops) with the given params.",
     {{"method", TOOLS_ARG_ENUM, true, "The JSON-RPC method", tools_rpc_allowed, 0, 0},
      {"params", TOOLS_ARG_ARRAY, false, "The method's params, as a JSON array", NULL, 0, 0}},
     {NULL, NULL}},
};
const size_t tools_ndefs = sizeof(tools_defs) / sizeof(tools_defs[0]);

const struct tools_def *tools_find(const char *name)
{
        for (size_t i = 0; name && i < tools_ndefs; i++)
                if (strcmp(tools_defs[i].name, name) == 0)
                        return &tools_defs[i];
        return NULL;
}

static bool in_list(const char *const *list, const char *s)
{
        for (size_t i = 0; list[i]; i++)
                if (strcmp(list[i], s) == 0)
                        return true;
        return false;
}

bool tools_rpc_method_allowed(const char *method)
{
        return method && in_list(tools_rpc_allowed, method);
}

static struct jv *arg_schema(const struct tools_arg *a)
{
        struct jv *s = jv_object();
        struct jv *vals;
        switch (a->kind) {
        case TOOLS_ARG_ADDRESS:
        case TOOLS_ARG_SIGNATURE:
                jv_set(s, "type", jv_string("string"));
                jv_set(s, "pattern", jv_string("^[1-9A-HJ-NP-Za-km-z]+$"));
                jv_set(s, "minLength", jv_int(a->kind == TOOLS_ARG_ADDRESS ? 32 : 64));
                jv_set(s, "maxLength", jv_int(a->kind == TOOLS_ARG_ADDRESS ? 44 : 88));
                break;
        case TOOLS_ARG_ENUM:
                jv_set(s, "type", jv_string("string"));
                vals = jv_array();
                for (size_t i = 0; a->values[i]; i++)
                        jv_push(vals, jv_string(a->values[i]));
                jv_set(s, "enum", vals);
                break;
        case TOOLS_ARG_INTEGER:
                jv_set(s, "type", jv_string("integer"));
                jv_set(s, "minimum", jv_int(a->min));
                jv_set(s, "maximum", jv_int(a->max));
                break;
        case TOOLS_ARG_ARRAY:
                jv_set(s, "type", jv_string("array"));
                break;
        }
        jv_set(s, "description", jv_string(a->description));
        return s;
}

/* ["a", "b"] */
static struct jv *pair(const char *a, const char *b)
{
        struct jv *arr = jv_array();
        jv_push(arr, jv_string(a));
        jv_push(arr, jv_string(b));
        return arr;
}

struct jv *tools_def_json(const struct tools_def *d)
{
        struct jv *props = jv_object(), *req = jv_array();
        for (const struct tools_arg *a = d->args; a->name; a++) {
                jv_set(props, a->name, arg_schema(a));
                if (a->required)
                        jv_push(req, jv_string(a->name));
        }
        struct jv *schema = jv_obj("type", jv_string("object"), "properties", props,
                                   "additionalProperties", jv_bool(false), NULL);
        if (jv_size(req))
                jv_set(schema, "required", req);
        else
                jv_free(req);
        if (d->exclusive[0])
                jv_set(schema, "not",
                       jv_obj("required", pair(d->exclusive[0], d->exclusive[1]), NULL));
        return jv_obj("name", jv_string(d->name), "description", jv_string(d->description),
                      "inputSchema", schema, NULL);
}

struct jv *tools_list_json(void)
{
        struct jv *arr = jv_array();
        for (size_t i = 0; i < tools_ndefs; i++)
                jv_push(arr, tools_def_json(&tools_defs[i]));
        return arr;
}

/* ---- checks ---- */

/* s cut to at most n-4 bytes at a UTF-8 boundary, "..." added when cut. */
static const char *clip(const char *s, char *buf, size_t n)
{
        size_t len = strlen(s);
        if (len < n)
                return s;
        size_t cut = n - 4;
        while (cut && ((unsigned char)s[cut] & 0xC0) == 0x80)
                cut--;
        memcpy(buf, s, cut);
        memcpy(buf + cut, "...", 4);
        return buf;
}

int tools_b58_decode(const char *s, uint8_t *out, size_t cap, size_t *len, char *err, size_t en)
{
        static const char alphabet[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
        size_t n = strlen(s);
        if (n == 0) {
                snprintf(err, en, "empty");
                return -1;
        }
        if (n > TOOLS_B58_MAX) {
                snprintf(err, en, "too long (%zu characters)", n);
                return -1;
        }
        uint8_t num[TOOLS_B58_MAX]; /* little-endian; 90 digits need at most 66 bytes */
        size_t size = 0, zeros = 0;
        while (s[zeros] == '1')
                zeros++;
        for (size_t i = 0; i < n; i++) {
                const char *p = strchr(alphabet, s[i]);
                if (!p) {
                        unsigned char c = (unsigned char)s[i];
                        if (c >= 0x21 && c < 0x7f)
                                snprintf(err, en,
                                         "character '%c' at position %zu is not in the base58 "
                                         "alphabet",
                                         c, i + 1);
                        else
                                snprintf(err, en,
                                         "byte 0x%02x at position %zu is not in the base58 "
                                         "alphabet",
                                         c, i + 1);
                        return -1;
                }
                unsigned carry = (unsigned)(p - alphabet);
                for (size_t j = 0; j < size; j++) {
                        carry += 58u * num[j];
                        num[j] = (uint8_t)carry;
                        carry >>= 8;
                }
                while (carry) {
                        num[size++] = (uint8_t)carry;
                        carry >>= 8;
                }
        }
        if (zeros + size > cap) {
                snprintf(err, en, "decodes to %zu bytes, more than %zu", zeros + size, cap);
                return -1;
        }
        memset(out, 0, zeros);
        for (size_t k = 0; k < size; k++)
                out[zeros + k] = num[size - 1 - k];
        *len = zeros + size;
        return 0;
}

int tools_check_b58(const char *what, const char *s, size_t want, char *err, size_t en)
{
        uint8_t buf[TOOLS_B58_MAX];
        char why[160], cb[72];
        size_t len;
        const char *kind = want == TOOLS_ADDRESS_LEN ? "an address" : "a signature";
        if (tools_b58_decode(s, buf, sizeof(buf), &len, why, sizeof(why)) < 0) {
                snprintf(err, en, "%s: '%s' is not base58: %s", what, clip(s, cb, sizeof(cb)), why);
                return -1;
        }
        if (len != want) {
                snprintf(err, en, "%s: '%s' decodes to %zu bytes; %s is %zu bytes of base58", what,
                         clip(s, cb, sizeof(cb)), len, kind, want);
                return -1;
        }
        return 0;
}

static void names_of(const struct tools_def *d, char *buf, size_t n)
{
        size_t k = 0;
        buf[0] = '\0';
        for (const struct tools_arg *a = d->args; a->name && k < n; a++)
                k += (size_t)snprintf(buf + k, n - k, "%s%s", k ? ", " : "", a->name);
        if (!d->args[0].name)
                snprintf(buf, n, "no arguments");
}

static const struct tools_arg *arg_of(const struct tools_def *d, const char *name)
{
        for (const struct tools_arg *a = d->args; a->name; a++)
                if (strcmp(a->name, name) == 0)
                        return a;
        return NULL;
}

static bool given(const struct jv *args, const char *name)
{
        struct jv *v = args ? jv_get(args, name) : NULL;
        return v && !jv_is_null(v);
}

static int check_one(const struct tools_arg *a, const struct jv *v, char *err, size_t en)
{
        char cb[72];
        switch (a->kind) {
        case TOOLS_ARG_ADDRESS:
        case TOOLS_ARG_SIGNATURE:
                if (!jv_is_string(v)) {
                        snprintf(err, en, "%s must be a string (base58)", a->name);
                        return -1;
                }
                return tools_check_b58(a->name, jv_str(v),
                                       a->kind == TOOLS_ARG_ADDRESS ? TOOLS_ADDRESS_LEN
                                                                    : TOOLS_SIGNATURE_LEN,
                                       err, en);
        case TOOLS_ARG_ENUM:
                if (jv_is_string(v) && in_list(a->values, jv_str(v)))
                        return 0;
                if (a->values == tools_rpc_allowed)
                        snprintf(err, en,
                                 "%s: '%s' is not an allowed read-only method (see the tool's "
                                 "inputSchema for the list)",
                                 a->name,
                                 jv_is_string(v) ? clip(jv_str(v), cb, sizeof(cb))
                                                 : "(not a string)");
                else {
                        size_t k = (size_t)snprintf(err, en, "%s must be one of", a->name);
                        for (size_t i = 0; a->values[i] && k < en; i++)
                                k += (size_t)snprintf(err + k, en - k, "%s %s", i ? "," : "",
                                                      a->values[i]);
                        if (k < en && jv_is_string(v))
                                snprintf(err + k, en - k, " (not '%s')",
                                         clip(jv_str(v), cb, sizeof(cb)));
                }
                return -1;
        case TOOLS_ARG_INTEGER: {
                int64_t i;
                bool integer = jv_i64(v, &i) == 0;
                if (integer && i >= a->min && i <= a->max)
                        return 0;
                snprintf(err, en, "%s must be an integer from %lld to %lld", a->name, a->min,
                         a->max);
                if (integer)
                        snprintf(err + strlen(err), en - strlen(err), " (not %lld)", (long long)i);
                else if (jv_is_integer(v)) /* past int64: as written */
                        snprintf(err + strlen(err), en - strlen(err), " (not %.40s)",
                                 jv_number_text(v));
                return -1;
        }
        case TOOLS_ARG_ARRAY:
                if (jv_is_array(v))
                        return 0;
                snprintf(err, en, "%s must be a JSON array", a->name);
                return -1;
        }
        return -1;
}

int tools_check_args(const struct tools_def *d, const struct jv *args, char *err, size_t en)
{
        char names[256], cb[72];
        if (args && !jv_is_object(args)) {
                snprintf(err, en, "the arguments must be a JSON object");
                return -1;
        }
        for (size_t i = 0; i < jv_size(args); i++) {
                const char *key = jv_key_at(args, i);
                if (!arg_of(d, key)) {
                        names_of(d, names, sizeof(names));
                        snprintf(err, en, "unknown argument '%s' (%s takes %s)",
                                 clip(key, cb, sizeof(cb)), d->name, names);
                        return -1;
                }
        }
        for (const struct tools_arg *a = d->args; a->name; a++) {
                if (!given(args, a->name)) {
                        if (a->required) {
                                snprintf(err, en, "missing argument '%s': %s", a->name,
                                         a->description);
                                return -1;
                        }
                        continue;
                }
                if (check_one(a, jv_get(args, a->name), err, en) < 0)
                        return -1;
        }
        if (d->exclusive[0] && given(args, d->exclusive[0]) && given(args, d->exclusive[1])) {
                snprintf(err, en, "give %s or %s, not both", d->exclusive[0], d->exclusive[1]);
                return -1;
        }
        return 0;
}

struct jv *tools_parse_request(const struct tools_def *d, const char *buf, size_t n, char *err,
                               size_t en)
{
        struct jv_error je;
        char why[TOOLS_ERR_MAX], cb[72];
        struct jv *req = jv_parse(buf, n, NULL, &je);
        if (!req) {
                snprintf(err, en, "the request is not JSON: %s (line %zu, column %zu)", je.text,
                         je.line, je.column);
                return NULL;
        }
        struct jv *args = NULL;
        const char *name = jv_str(jv_get(req, "name"));
        if (!jv_is_object(req)) {
                snprintf(err, en, "the request is not a JSON object");
        } else if (!name) {
                snprintf(err, en, "the request names no tool (no \"name\" string)");
        } else if (strcmp(name, d->name) != 0) {
                snprintf(err, en, "this image serves the tool %s, the request names '%s'", d->name,
                         clip(name, cb, sizeof(cb)));
        } else {
                args = jv_get(req, "arguments");
                if (jv_is_null(args))
                        args = NULL;
                if (tools_check_args(d, args, why, sizeof(why)) < 0) {
                        snprintf(err, en, "invalid arguments for %s: %s", d->name, why);
                        args = NULL;
                } else {
                        args = args ? jv_ref(args) : jv_object();
                }
        }
        jv_free(req);
        return args;
}

void tools_sol_string(uint64_t lamports, char *buf, size_t n)
{
        const uint64_t per_sol = 1000000000u;
        uint64_t whole = lamports / per_sol, frac = lamports % per_sol;
        if (!frac) {
                snprintf(buf, n, "%llu", (unsigned long long)whole);
                return;
        }
        int k =
            snprintf(buf, n, "%llu.%09llu", (unsigned long long)whole, (unsigned long long)frac);
        if (k <= 0 || (size_t)k >= n)
                return;
        while (buf[k - 1] == '0')
                buf[--k] = '\0';
}

/* ---- host answers and JSON-RPC responses ---- */

/* The start of a hostile body for a message: printable ASCII, at most 120 bytes. */
static void quote_body(const char *body, size_t n, char *out, size_t on)
{
        size_t k = 0;
        for (size_t i = 0; i < n && k + 4 < on && i < 120; i++) {
                unsigned char c = (unsigned char)body[i];
                out[k++] = c >= 0x20 && c < 0x7f ? (char)c : c == '\n' || c == '\t' ? ' ' : '?';
        }
        if (n > 120 && k + 4 < on) {
                memcpy(out + k, "...", 3);
                k += 3;
        }
        out[k] = '\0';
}

int tools_parse_host_answer(const char *line, size_t n, struct tools_http *out, char *err,
                            size_t en)
{
        struct jv_error je;
        char cb[200];
        int64_t status;
        memset(out, 0, sizeof(*out));
        struct jv *a = jv_parse(line, n, NULL, &je);
        if (!a) {
                quote_body(line, n, cb, sizeof(cb));
                snprintf(err, en, "the host's answer is not JSON (%s): %s", je.text, cb);
                return -1;
        }
        int rc = -1;
        struct jv *ok = jv_get(a, "ok");
        struct jv *st = jv_get(a, "status");
        struct jv *body = jv_get(a, "body");
        if (!jv_is_object(a) || !jv_is_bool(ok)) {
                snprintf(err, en, "the host's answer is not a host-call answer (no \"ok\")");
        } else if (!jv_is_true(ok)) {
                const char *e = jv_str(jv_get(a, "error"));
                snprintf(err, en, "the host call failed: %s",
                         e ? clip(e, cb, sizeof(cb)) : "(the host gave no reason)");
        } else if (jv_i64(st, &status) < 0 || status < 100 || status > 599) {
                snprintf(err, en, "the host's answer has no HTTP status");
        } else if (body && !jv_is_string(body)) {
                snprintf(err, en, "the host's answer has a body that is not a string");
        } else {
                out->status = (long)status;
                out->body_len = body ? jv_strlen(body) : 0;
                out->body = malloc(out->body_len + 1);
                if (!out->body) {
                        snprintf(err, en, "out of memory for the answer's body");
                } else {
                        if (out->body_len)
                                memcpy(out->body, jv_str(body), out->body_len);
                        out->body[out->body_len] = '\0';
                        rc = 0;
                }
        }
        jv_free(a);
        return rc;
}

struct jv *tools_parse_rpc(const char *body, size_t n, long status, struct jv **rpc_error,
                           char *err, size_t en)
{
        struct jv_error je;
        char cb[200], http[48] = "";
        int64_t id_value, code_value;
        *rpc_error = NULL;
        bool good = status >= 200 && status < 300;
        if (!good)
                snprintf(http, sizeof(http), " (HTTP status %ld)", status);
        if (n == 0) {
                snprintf(err, en, "the RPC endpoint sent an empty answer%s", http);
                return NULL;
        }
        struct jv *r = jv_parse(body, n, NULL, &je);
        if (!r) {
                quote_body(body, n, cb, sizeof(cb));
                if (good)
                        snprintf(err, en, "the RPC endpoint's answer is not JSON (%s): %s", je.text,
                                 cb);
                else
                        snprintf(err, en, "the RPC endpoint answered HTTP status %ld: %s", status,
                                 cb);
                return NULL;
        }
        struct jv *res = NULL, *e = jv_get(r, "error");
        struct jv *id = jv_get(r, "id");
        if (!jv_is_object(r)) {
                snprintf(err, en, "the RPC endpoint's answer is not a JSON-RPC response%s", http);
        } else if (e && !jv_is_null(e)) {
                struct jv *code = jv_get(e, "code");
                const char *msg = jv_str(jv_get(e, "message"));
                if (!jv_is_object(e) || jv_i64(code, &code_value) < 0 || !msg) {
                        snprintf(err, en, "the RPC endpoint sent a malformed JSON-RPC error%s",
                                 http);
                } else {
                        snprintf(err, en, "RPC error %lld: %s%s", (long long)code_value,
                                 clip(msg, cb, sizeof(cb)), http);
                        *rpc_error = jv_ref(e);
                }
        } else if (id && !(jv_i64(id, &id_value) == 0 && id_value == 1)) {
                snprintf(err, en, "the RPC endpoint answered another request (its id is not 1)");
        } else if (!good) {
                snprintf(err, en, "the RPC endpoint answered HTTP status %ld", status);
        } else if (!(res = jv_get(r, "result"))) {
                snprintf(err, en, "the RPC endpoint's answer has neither a result nor an error");
        } else {
                jv_ref(res);
                jv_big_ints_as_strings(res);
        }
        jv_free(r);
        return res;
}

char *tools_rpc_request(const char *method, struct jv *params)
{
        struct jv *req =
            jv_obj("jsonrpc", jv_string("2.0"), "id", jv_int(1), "method", jv_string(method), NULL);
        if (params)
                jv_set(req, "params", params);
        char *s = jv_dump(req, JV_COMPACT, NULL);
        jv_free(req);
        return s;
}

/* ---- results ---- */

/* A JSON string of s; invalid UTF-8 becomes '?' rather than no string. */
static struct jv *text_json(const char *s)
{
        struct jv *j = jv_string(s);
        if (j)
                return j;
        char *c = strdup(s);
        if (!c)
                return jv_string("(out of memory)");
        for (char *p = c; *p; p++)
                if ((unsigned char)*p >= 0x80)
                        *p = '?';
        j = jv_string(c);
        free(c);
        return j;
}

struct jv *tools_result(const char *text, struct jv *structured, bool with_json, bool is_error)
{
        struct jv *t;
        char *js = with_json && structured ? jv_dump(structured, JV_COMPACT, NULL) : NULL;
        if (js) {
                size_t a = strlen(text), b = strlen(js);
                char *both = malloc(a + b + 2);
                if (both) {
                        memcpy(both, text, a);
                        both[a] = '\n';
                        memcpy(both + a + 1, js, b + 1);
                }
                t = text_json(both ? both : text);
                free(both);
                free(js);
        } else {
                t = text_json(text);
        }
        struct jv *content = jv_array();
        jv_push(content, jv_obj("type", jv_string("text"), "text", t, NULL));
        struct jv *res = jv_obj("content", content, NULL);
        if (structured)
                jv_set(res, "structuredContent", structured);
        jv_set(res, "isError", jv_bool(is_error));
        return res;
}

static int finish(struct tool *t, struct jv *structured, bool with_json, bool is_error,
                  const char *fmt, va_list ap)
{
        char *text = NULL;
        if (vasprintf(&text, fmt, ap) < 0)
                text = NULL;
        jv_free(t->result);
        t->result = tools_result(text ? text : "(out of memory)", structured, with_json, is_error);
        free(text);
        return is_error ? -1 : 0;
}

int tools_ok(struct tool *t, struct jv *structured, bool with_json, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = finish(t, structured, with_json, false, fmt, ap);
        va_end(ap);
        return r;
}

int tools_fail(struct tool *t, struct jv *detail, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = finish(t, detail, false, true, fmt, ap);
        va_end(ap);
        return r;
}

int tools_u64(const struct jv *v, uint64_t *out)
{
        return jv_u64(v, out);
}

uint64_t tools_context_slot(const struct jv *res)
{
        uint64_t slot = 0;
        if (tools_u64(jv_get(jv_get(res, "context"), "slot"), &slot) < 0)
                return 0;
        return slot;
}

/* ---- one call ---- */

const char *tools_arg_str(const struct tool *t, const char *name)
{
        return jv_str(jv_get(t->args, name));
}

struct jv *tools_arg(const struct tool *t, const char *name)
{
        struct jv *v = jv_get(t->args, name);
        return jv_is_null(v) ? NULL : v;
}

struct jv *tools_string_params(const char *s)
{
        struct jv *params = jv_array();
        jv_push(params, jv_string(s));
        return params;
}

struct jv *tools_commitment_params(const struct tool *t)
{
        const char *c = tools_arg_str(t, "commitment");
        struct jv *params = jv_array();
        if (c)
                jv_push(params, jv_obj("commitment", jv_string(c), NULL));
        return params;
}

static int write_all(int fd, const char *p, size_t n)
{
        while (n) {
                ssize_t w = write(fd, p, n);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return -1;
                p += w;
                n -= (size_t)w;
        }
        return 0;
}

/*
 * Reads one line (up to '\n', which is cut) of at most max bytes from fd into
 * a malloc'ed buffer. 0, or -1 with errno: EMSGSIZE too long, EPROTO bytes
 * after the newline, EPIPE end of file before it (unless eof_ends).
 */
static int read_line(int fd, size_t max, bool eof_ends, char **out, size_t *len)
{
        size_t n = 0, cap = 65536;
        char *buf = malloc(cap + 1);
        if (!buf)
                return -1;
        for (;;) {
                if (n == cap) {
                        if (cap > max) {
                                free(buf);
                                errno = EMSGSIZE;
                                return -1;
                        }
                        cap *= 2;
                        char *nb = realloc(buf, cap + 1);
                        if (!nb) {
                                free(buf);
                                return -1;
                        }
                        buf = nb;
                }
                ssize_t r = read(fd, buf + n, cap - n);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0) {
                        free(buf);
                        return -1;
                }
                char *nl = r ? memchr(buf + n, '\n', (size_t)r) : NULL;
                n += (size_t)r;
                if (nl || r == 0) {
                        size_t end = nl ? (size_t)(nl - buf) : n;
                        if ((!nl && !eof_ends) || (nl && end + 1 != n)) {
                                free(buf);
                                errno = nl ? EPROTO : EPIPE;
                                return -1;
                        }
                        if (end > max) {
                                free(buf);
                                errno = EMSGSIZE;
                                return -1;
                        }
                        buf[end] = '\0';
                        *out = buf;
                        *len = end;
                        return 0;
                }
        }
}

/* The host call: one request line out, one answer line back. */
static int host_http(struct tool *t, const char *url, const char *body, struct tools_http *http)
{
        char err[TOOLS_ERR_MAX];
        struct jv *req =
            jv_obj("op", jv_string("http"), "method", jv_string("POST"), "url", jv_string(url),
                   "headers", jv_obj("Content-Type", jv_string("application/json"), NULL), "body",
                   jv_string(body), NULL);
        char *line = jv_dump(req, JV_COMPACT, NULL);
        jv_free(req);
        if (!line)
                return tools_fail(t, NULL, "cannot encode the host call (is the URL UTF-8?)");
        size_t ln = strlen(line);
        line[ln] = '\n'; /* jv_dump's NUL becomes the line's end */
        int w = write_all(t->host_fd, line, ln + 1);
        free(line);
        if (w < 0 && errno == EBADF)
                return tools_fail(t, NULL,
                                  "the host channel is missing: %s reaches the RPC endpoint only "
                                  "through host calls on fd 3, and fd 3 is not open (run it "
                                  "with osvm)",
                                  t->def->name);
        if (w < 0)
                return tools_fail(t, NULL, "cannot write the host call on fd 3: %s",
                                  strerror(errno));
        char *ans;
        size_t n;
        if (read_line(t->host_fd, TOOLS_ANSWER_MAX, false, &ans, &n) < 0) {
                if (errno == EMSGSIZE)
                        return tools_fail(t, NULL, "the host's answer is longer than %u MiB",
                                          TOOLS_ANSWER_MAX >> 20);
                if (errno == EPIPE)
                        return tools_fail(t, NULL, "the host closed the channel without an answer");
                if (errno == EPROTO)
                        return tools_fail(t, NULL, "the host sent more than one answer line");
                return tools_fail(t, NULL, "cannot read the host's answer on fd 3: %s",
                                  strerror(errno));
        }
        int rc = tools_parse_host_answer(ans, n, http, err, sizeof(err));
        free(ans);
        return rc < 0 ? tools_fail(t, NULL, "%s", err) : 0;
}

struct jv *tools_rpc(struct tool *t, const char *method, struct jv *params)
{
        char err[TOOLS_ERR_MAX], cb[72];
        if (t->host_fd < 0) {
                jv_free(params);
                tools_fail(t, NULL,
                           "the host channel is missing: %s reaches the RPC endpoint only "
                           "through host calls on fd 3, and fd 3 is %s (run it with osvm)",
                           t->def->name, t->host_fd == -2 ? "not a socket" : "not open");
                return NULL;
        }
        const char *url = getenv("OSVM_SOLANA_RPC");
        if (!url || !*url) {
                jv_free(params);
                tools_fail(t, NULL,
                           "OSVM_SOLANA_RPC is not set: the host gives the tool the "
                           "RPC endpoint's URL there");
                return NULL;
        }
        if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
                jv_free(params);
                tools_fail(t, NULL, "OSVM_SOLANA_RPC is not an http:// or https:// URL: '%s'",
                           clip(url, cb, sizeof(cb)));
                return NULL;
        }
        char *body = tools_rpc_request(method, params);
        if (!body) {
                tools_fail(t, NULL, "cannot encode the JSON-RPC request");
                return NULL;
        }
        struct tools_http http;
        int rc = host_http(t, url, body, &http);
        free(body);
        if (rc < 0)
                return NULL;
        struct jv *rpc_error = NULL;
        struct jv *res =
            tools_parse_rpc(http.body, http.body_len, http.status, &rpc_error, err, sizeof(err));
        free(http.body);
        if (!res)
                tools_fail(t, rpc_error ? jv_obj("rpc_error", rpc_error, NULL) : NULL, "%s: %s",
                           method, err);
        return res;
}

static char *read_request(size_t *n, char *err, size_t en)
{
        char *buf;
        if (read_line(0, TOOLS_REQUEST_MAX, true, &buf, n) == 0) {
                if (*n == 0) {
                        free(buf);
                        snprintf(err, en, "no request on stdin");
                        return NULL;
                }
                return buf;
        }
        if (errno == EMSGSIZE)
                snprintf(err, en, "the request is larger than %u MiB", TOOLS_REQUEST_MAX >> 20);
        else if (errno == EPROTO)
                snprintf(err, en, "the request is more than one line");
        else
                snprintf(err, en, "cannot read the request: %s", strerror(errno));
        return NULL;
}

/* Writes s and a newline to stdout; frees s. */
static int put_line(char *s)
{
        if (!s)
                return -1;
        size_t n = strlen(s);
        s[n] = '\n'; /* jv_dump's NUL becomes the line's end */
        int r = write_all(1, s, n + 1);
        free(s);
        return r;
}

/* Writes the result; one too long for the protocol loses its repeated JSON, then all. */
static int write_result(struct tool *t)
{
        char *s = jv_dump(t->result, JV_COMPACT, NULL);
        if (s && strlen(s) > TOOLS_OUTPUT_MAX) {
                free(s);
                struct jv *blk = jv_at(jv_get(t->result, "content"), 0);
                const char *text = jv_str(jv_get(blk, "text"));
                const char *nl = text ? strchr(text, '\n') : NULL;
                if (nl) /* keep the summary line */
                        jv_set(blk, "text", jv_stringn(text, (size_t)(nl - text)));
                s = jv_dump(t->result, JV_COMPACT, NULL);
        }
        if (s && strlen(s) > TOOLS_OUTPUT_MAX) {
                free(s);
                tools_fail(t, NULL, "%s: the result is larger than %u MiB", t->def->name,
                           TOOLS_OUTPUT_MAX >> 20);
                s = jv_dump(t->result, JV_COMPACT, NULL);
        }
        return put_line(s);
}

int tools_main(int argc, char **argv, const char *name, tools_run_fn run)
{
        char err[TOOLS_ERR_MAX];
        /* a closed channel is EPIPE, not death; no old action asked, so that
         * the engine's stub answers it in the VM, without an exit */
        struct sigaction ign = {.sa_handler = SIG_IGN};
        sigaction(SIGPIPE, &ign, NULL);
        const struct tools_def *d = tools_find(name);
        if (!d) {
                fprintf(stderr, "%s: not in the tool table of common.c\n", name);
                return 2;
        }
        if (argc > 1 && strcmp(argv[1], "--describe") == 0) {
                struct jv *j = tools_def_json(d);
                int r = put_line(jv_dump(j, JV_INDENT, NULL));
                jv_free(j);
                return r < 0;
        }
        if (argc > 1 && strcmp(argv[1], "--list") == 0) {
                struct jv *j = tools_list_json();
                int r = put_line(jv_dump(j, JV_INDENT, NULL));
                jv_free(j);
                return r < 0;
        }
        /* fd 3 as the host gave it, before anything opens a file. Run by osvm
         * (OSVM_TOOL_PROTOCOL set), it is the host-call socket: no need to ask
         * (in a VM each question is an exit); run by hand, look. */
        struct stat st;
        struct tool t = {.def = d, .host_fd = -1};
        const char *proto = getenv("OSVM_TOOL_PROTOCOL");
        if (proto)
                t.host_fd = TOOLS_HOST_FD;
        else if (fstat(TOOLS_HOST_FD, &st) == 0)
                t.host_fd = S_ISSOCK(st.st_mode) ? TOOLS_HOST_FD : -2;
        size_t n;
        char *buf = read_request(&n, err, sizeof(err));
        if (proto && strcmp(proto, TOOLS_PROTOCOL) != 0)
                tools_fail(&t, NULL, "%s speaks the tool-image protocol %s, the host %.16s", name,
                           TOOLS_PROTOCOL, proto);
        else if (!buf)
                tools_fail(&t, NULL, "%s: %s", name, err);
        else if (!(t.args = tools_parse_request(d, buf, n, err, sizeof(err))))
                tools_fail(&t, NULL, "%s", err);
        else
                run(&t);
        free(buf);
        if (!t.result)
                tools_fail(&t, NULL, "%s made no result", name);
        int r = write_result(&t);
        if (r < 0)
                fprintf(stderr, "%s: cannot write the result: %s\n", name, strerror(errno));
        jv_free(t.result);
        jv_free(t.args);
        return r < 0;
}

int tools_run_u64(struct tool *t, const char *method, const char *field, const char *label)
{
        struct jv *res = tools_rpc(t, method, tools_commitment_params(t));
        if (!res)
                return -1;
        uint64_t v;
        int bad = tools_u64(res, &v);
        jv_free(res);
        if (bad)
                return tools_fail(t, NULL, "%s: the result is not a number", method);
        const char *c = tools_arg_str(t, "commitment");
        struct jv *sc = jv_obj(field, jv_uint(v), NULL);
        if (c)
                jv_set(sc, "commitment", jv_string(c));
        return tools_ok(t, sc, false, "%s: %llu%s%s%s", label, (unsigned long long)v, c ? " (" : "",
                        c ? c : "", c ? ")" : "");
}
