/*
 * The tool pack's JSON: a parser into a small reference-counted tree, lookup
 * helpers, builders and a writer. Ours, so that the tools link with musl
 * alone (docs/osvm-mcp.md, "JSON").
 *
 * Parsing (RFC 8259, strict; everything parsed is hostile input):
 * - the top level is an object or an array, followed by whitespace only;
 * - strings: every escape, \u surrogate pairs joined, a lone surrogate,
 *   \u0000, a raw control character or invalid UTF-8 (overlong, surrogate,
 *   past U+10FFFF) refused; kept as UTF-8, NUL-terminated;
 * - numbers are kept as their text, so integers of any size stay exact;
 *   jv_i64/jv_u64 read them; a real past the double range is refused;
 * - duplicate keys in one object are refused ("duplicate object key");
 * - limits: nesting depth, document bytes and values (jv_limits; the
 *   defaults when NULL); past one, an error, never a partial tree.
 * Errors say what and where (line, column, byte offset).
 *
 * Trees: jv_free drops a reference, jv_ref adds one. Builders steal the value
 * they are given (jv_set, jv_push, jv_obj) and accept NULL (a failed
 * builder): the container is then marked bad and jv_dump refuses to write it,
 * so a failure anywhere surfaces as one NULL at the end. Every getter is
 * NULL-safe and returns borrowed pointers.
 */
#ifndef OSVM_TOOLS_JSON_H
#define OSVM_TOOLS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum jv_type { JV_NULL, JV_FALSE, JV_TRUE, JV_NUMBER, JV_STRING, JV_ARRAY, JV_OBJECT };

struct jv;

#define JV_DEPTH_MAX  128
#define JV_BYTES_MAX  (32u << 20)
#define JV_VALUES_MAX (1u << 20)

struct jv_limits {
        unsigned depth; /* arrays and objects inside each other */
        size_t bytes;   /* of the document */
        size_t values;  /* every value, keys not counted */
};

struct jv_error {
        char text[160];
        size_t line, column; /* 1-based; column in bytes */
        size_t offset;       /* in bytes from the start */
};

/* Parses text[0..n); NULL with *e filled on any error. lim NULL: defaults. */
struct jv *jv_parse(const char *text, size_t n, const struct jv_limits *lim, struct jv_error *e);

/* ---- references ---- */
struct jv *jv_ref(struct jv *v);
void jv_free(struct jv *v);

/* ---- reading ---- */
enum jv_type jv_type(const struct jv *v); /* NULL reads as JV_NULL */
bool jv_is_null(const struct jv *v);      /* false for NULL (absent) */
bool jv_is_true(const struct jv *v);
bool jv_is_false(const struct jv *v);
bool jv_is_bool(const struct jv *v);
bool jv_is_number(const struct jv *v);
bool jv_is_integer(const struct jv *v); /* a number with no fraction or exponent */
bool jv_is_string(const struct jv *v);
bool jv_is_array(const struct jv *v);
bool jv_is_object(const struct jv *v);

/* A string's bytes (NUL-terminated) and length; NULL / 0 for anything else. */
const char *jv_str(const struct jv *v);
size_t jv_strlen(const struct jv *v);
/* A number's text as written; NULL for anything else. */
const char *jv_number_text(const struct jv *v);
/* An integer in range: 0 and *out, else -1 (not an integer, or outside). */
int jv_i64(const struct jv *v, int64_t *out);
int jv_u64(const struct jv *v, uint64_t *out);

/* Members of an array or an object (0 for anything else). */
size_t jv_size(const struct jv *v);
/* The i-th value of an array or an object; NULL past the end. */
struct jv *jv_at(const struct jv *v, size_t i);
/* The i-th key of an object; NULL past the end or for anything else. */
const char *jv_key_at(const struct jv *v, size_t i);
/* The value of key in object v; NULL when v is not an object or has none. */
struct jv *jv_get(const struct jv *v, const char *key);
/* jv_get along a path of keys ending with NULL: jv_dig(v, "a", "b", NULL). */
struct jv *jv_dig(const struct jv *v, ...);

/* ---- building ---- */
struct jv *jv_null(void);
struct jv *jv_bool(bool b);
struct jv *jv_int(long long i);
struct jv *jv_uint(uint64_t u);
/* A string of s (NUL-terminated, or n bytes); NULL when not valid UTF-8 or has NUL. */
struct jv *jv_string(const char *s);
struct jv *jv_stringn(const char *s, size_t n);
struct jv *jv_array(void);
struct jv *jv_object(void);
/* Appends val (stolen) to array a; -1 (a marked bad) when val is NULL. */
int jv_push(struct jv *a, struct jv *val);
/* Sets key to val (stolen) in object o, replacing; -1 (o marked bad) on NULL. */
int jv_set(struct jv *o, const char *key, struct jv *val);
/* An object of key, value (stolen) pairs ending with a NULL key. */
struct jv *jv_obj(const char *key, ...);
/* Turns each integer outside int64 in v into the string of its digits; how many. */
size_t jv_big_ints_as_strings(struct jv *v);

/* ---- writing ---- */
enum { JV_COMPACT = 0, JV_INDENT = 1 /* two spaces a level, ": " */ };
/*
 * The JSON text of v (any value), malloc'ed and NUL-terminated, *len its
 * length when len is not NULL; NULL when v is NULL or bad, or no memory.
 * Strings escape '"', '\\' and control characters (\b \f \n \r \t, else
 * \u00XX); other characters are written as UTF-8.
 */
char *jv_dump(const struct jv *v, int flags, size_t *len);

#endif
