/*
 * The osvm-mcp tool pack: the one header of the tool programs.
 *
 * Each tool is a small static program (src/tools/osvm-mcp/<tool>.c) that
 * speaks the tool-image protocol of docs/tool-images.md: the request on
 * stdin, one CallToolResult on stdout, the Solana JSON-RPC endpoint reached
 * only by host calls on fd 3. Everything they share is here and in common.c:
 * the tool table (the single source of the advertised definitions and of the
 * argument checks), reading the request, base58, the host call, the JSON-RPC
 * call and writing the result. See docs/osvm-mcp.md.
 */
#ifndef OSVM_TOOLS_H
#define OSVM_TOOLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "tools/json.h"

#define TOOLS_PROTOCOL      "1" /* OSVM_TOOL_PROTOCOL; absent (direct runs by hand) is fine */
#define TOOLS_REQUEST_MAX   (1u << 20)  /* the request on stdin */
#define TOOLS_ANSWER_MAX    (16u << 20) /* one host-call answer line (4 MiB body, escaped) */
#define TOOLS_OUTPUT_MAX    (15u << 20) /* our result, below the protocol's 16 MiB */
#define TOOLS_HOST_FD       3
#define TOOLS_LIMIT_MAX     1000
#define TOOLS_ADDRESS_LEN   32 /* decoded bytes */
#define TOOLS_SIGNATURE_LEN 64
#define TOOLS_B58_MAX       90 /* longest base58 text we decode (a signature is <= 88) */
#define TOOLS_ERR_MAX       1024

/* ---- the tool table ---- */

enum tools_arg_kind {
        TOOLS_ARG_ADDRESS,   /* base58 string, 32 bytes decoded */
        TOOLS_ARG_SIGNATURE, /* base58 string, 64 bytes decoded */
        TOOLS_ARG_ENUM,      /* one of values[] */
        TOOLS_ARG_INTEGER,   /* an integer in [min, max] */
        TOOLS_ARG_ARRAY,     /* any JSON array */
};

struct tools_arg {
        const char *name;
        enum tools_arg_kind kind;
        bool required;
        const char *description;
        const char *const *values; /* ENUM: NULL-terminated */
        long long min, max;        /* INTEGER */
};

#define TOOLS_MAX_ARGS 4

struct tools_def {
        const char *name;
        const char *description;
        struct tools_arg args[TOOLS_MAX_ARGS + 1]; /* ends with a NULL name */
        const char *exclusive[2];                  /* two arguments not to give together */
};

extern const struct tools_def tools_defs[];
extern const size_t tools_ndefs;
/* The read-only JSON-RPC methods solana_rpc_call forwards; NULL-terminated. */
extern const char *const tools_rpc_allowed[];

const struct tools_def *tools_find(const char *name);
bool tools_rpc_method_allowed(const char *method);
/* {"name", "description", "inputSchema"} of one tool, as tools/list wants it. */
struct jv *tools_def_json(const struct tools_def *d);
/* The tools/list array of the whole pack. */
struct jv *tools_list_json(void);

/* ---- checks (pure, unit-tested) ---- */

/*
 * Decodes base58 text (Bitcoin alphabet) into out. 0 on success with *len
 * set; -1 with a reason in err (a character outside the alphabet, empty, too
 * long for out).
 */
int tools_b58_decode(const char *s, uint8_t *out, size_t cap, size_t *len, char *err, size_t en);
/* Checks a base58 value that must decode to want bytes; what names it in err. */
int tools_check_b58(const char *what, const char *s, size_t want, char *err, size_t en);
/*
 * Checks arguments against a tool's table entry: an object (NULL is {}),
 * no unknown names, required ones present, each of its kind; a JSON null is
 * an absent optional argument. 0, or -1 with the reason in err.
 */
int tools_check_args(const struct tools_def *d, const struct jv *args, char *err, size_t en);
/*
 * Checks the request (the tools/call params) for tool d and returns its
 * arguments, checked (a new reference; {} when none), or NULL with err set.
 */
struct jv *tools_parse_request(const struct tools_def *d, const char *buf, size_t n, char *err,
                               size_t en);

/* "1.5" for 1500000000 lamports: exact, trailing zeros cut. */
void tools_sol_string(uint64_t lamports, char *buf, size_t n);

/* ---- the host call and the JSON-RPC answer (pure parts) ---- */

struct tools_http {
        long status;
        char *body; /* malloc'ed, NUL-terminated */
        size_t body_len;
};

/* Parses one host-call answer line; ok:false or garbage is -1 with err. */
int tools_parse_host_answer(const char *line, size_t n, struct tools_http *out, char *err,
                            size_t en);
/*
 * Parses a JSON-RPC response body (of HTTP status `status`) to request id 1:
 * its result (a new reference), or NULL with err, and *rpc_error set to the
 * error object (a new reference) when the endpoint sent one. Integers of the
 * result outside int64 (a rentEpoch of u64::MAX) become strings of their
 * digits, as the pack has always given them.
 */
struct jv *tools_parse_rpc(const char *body, size_t n, long status, struct jv **rpc_error,
                           char *err, size_t en);
/* The JSON-RPC request text for method and params (stolen; NULL is none). */
char *tools_rpc_request(const char *method, struct jv *params);

/* ---- one call of one tool ---- */

struct tool {
        const struct tools_def *def;
        struct jv *args;   /* checked arguments */
        int host_fd;       /* TOOLS_HOST_FD; -1 not open, -2 not a socket (at start) */
        struct jv *result; /* the CallToolResult, once made */
};

/* The tool's work: 0 after tools_ok, -1 after tools_fail. */
typedef int (*tools_run_fn)(struct tool *t);

/* The main of every tool: --describe, --list, or one call. */
int tools_main(int argc, char **argv, const char *name, tools_run_fn run);

/* An argument's value, NULL when absent (or null). */
const char *tools_arg_str(const struct tool *t, const char *name);
struct jv *tools_arg(const struct tool *t, const char *name);

/*
 * Calls method with params (stolen) on $OSVM_SOLANA_RPC through the host:
 * the result (a new reference), or NULL after tools_fail.
 */
struct jv *tools_rpc(struct tool *t, const char *method, struct jv *params);

/* A params array [s] (more can be pushed). */
struct jv *tools_string_params(const char *s);
/* A params array for methods taking an optional {"commitment"} config. */
struct jv *tools_commitment_params(const struct tool *t);

/*
 * The successful result: the text from fmt, structured (stolen, an object) as
 * structuredContent; with_json repeats it as JSON after the text, for
 * clients (and models) that read the text only.
 */
int tools_ok(struct tool *t, struct jv *structured, bool with_json, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* An isError result saying fmt; detail (stolen, may be NULL) as structuredContent. */
int tools_fail(struct tool *t, struct jv *detail, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A CallToolResult object (pure; detail stolen). */
struct jv *tools_result(const char *text, struct jv *structured, bool with_json, bool is_error);

/* For results: a JSON integer from 0 to UINT64_MAX, or -1. */
int tools_u64(const struct jv *v, uint64_t *out);
/*
 * The whole of a tool whose RPC method takes an optional commitment and
 * answers one number (get_slot, get_block_height): field names it in the
 * structured result, label in the text ("Current slot: N (confirmed)").
 */
int tools_run_u64(struct tool *t, const char *method, const char *field, const char *label);
/* The "context.slot" of an RpcResponse, 0 when absent. */
uint64_t tools_context_slot(const struct jv *res);

#endif
