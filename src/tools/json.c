/*
 * The tool pack's JSON (see json.h): a strict recursive-descent parser with
 * limits, a reference-counted tree, builders and a writer.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/json.h"

struct jv {
        enum jv_type type;
        bool bad; /* a member could not be made: not to be written */
        unsigned refs;
        size_t len;       /* STRING, NUMBER: bytes of text; ARRAY, OBJECT: members */
        size_t cap;       /* ARRAY, OBJECT: room in vals (and keys) */
        char *text;       /* STRING: the bytes; NUMBER: the literal; NUL-terminated */
        char **keys;      /* OBJECT */
        struct jv **vals; /* ARRAY, OBJECT */
};

/* ---- UTF-8 ---- */

/* The length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
        unsigned char c = s[0], lo = 0x80, hi = 0xBF;
        size_t len;
        if (c < 0x80)
                return 1;
        if (c >= 0xC2 && c <= 0xDF)
                len = 2;
        else if (c >= 0xE0 && c <= 0xEF)
                len = 3;
        else if (c >= 0xF0 && c <= 0xF4)
                len = 4;
        else
                return 0; /* a continuation byte, an overlong lead, or past U+10FFFF */
        if (c == 0xE0)
                lo = 0xA0; /* overlong */
        else if (c == 0xED)
                hi = 0x9F; /* a surrogate */
        else if (c == 0xF0)
                lo = 0x90; /* overlong */
        else if (c == 0xF4)
                hi = 0x8F; /* past U+10FFFF */
        if (n < len || s[1] < lo || s[1] > hi)
                return 0;
        for (size_t i = 2; i < len; i++)
                if ((s[i] & 0xC0) != 0x80)
                        return 0;
        return len;
}

static bool utf8_valid(const char *s, size_t n)
{
        for (size_t i = 0, k; i < n; i += k)
                if (!s[i] || !(k = utf8_seq((const unsigned char *)s + i, n - i)))
                        return false;
        return true;
}

static size_t utf8_put(char *o, uint32_t cp)
{
        if (cp < 0x80) {
                o[0] = (char)cp;
                return 1;
        }
        if (cp < 0x800) {
                o[0] = (char)(0xC0 | cp >> 6);
                o[1] = (char)(0x80 | (cp & 0x3F));
                return 2;
        }
        if (cp < 0x10000) {
                o[0] = (char)(0xE0 | cp >> 12);
                o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
                o[2] = (char)(0x80 | (cp & 0x3F));
                return 3;
        }
        o[0] = (char)(0xF0 | cp >> 18);
        o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[3] = (char)(0x80 | (cp & 0x3F));
        return 4;
}

/* ---- nodes ---- */

static struct jv *node(enum jv_type type)
{
        struct jv *v = calloc(1, sizeof(*v));
        if (v) {
                v->type = type;
                v->refs = 1;
        }
        return v;
}

/* A STRING or NUMBER node owning text (freed on failure). */
static struct jv *text_node(enum jv_type type, char *text, size_t len)
{
        struct jv *v = text ? node(type) : NULL;
        if (!v) {
                free(text);
                return NULL;
        }
        v->text = text;
        v->len = len;
        return v;
}

static char *dup_n(const char *s, size_t n)
{
        char *d = malloc(n + 1);
        if (d) {
                memcpy(d, s, n);
                d[n] = '\0';
        }
        return d;
}

struct jv *jv_ref(struct jv *v)
{
        if (v)
                v->refs++;
        return v;
}

void jv_free(struct jv *v)
{
        if (!v || --v->refs)
                return;
        for (size_t i = 0; i < v->len && v->vals; i++) {
                jv_free(v->vals[i]);
                if (v->keys)
                        free(v->keys[i]);
        }
        free(v->vals);
        free(v->keys);
        free(v->text);
        free(v);
}

/* Room for one more member; -1 without memory. */
static int grow(struct jv *v)
{
        if (v->len < v->cap)
                return 0;
        size_t cap = v->cap ? v->cap * 2 : 4;
        struct jv **vals = realloc(v->vals, cap * sizeof(*vals));
        if (!vals)
                return -1;
        v->vals = vals;
        if (v->type == JV_OBJECT) {
                char **keys = realloc(v->keys, cap * sizeof(*keys));
                if (!keys)
                        return -1;
                v->keys = keys;
        }
        v->cap = cap;
        return 0;
}

/* ---- the parser ---- */

struct parser {
        const char *start, *p, *end;
        struct jv_limits lim;
        unsigned depth;
        size_t values;
        struct jv_error *e;
        bool failed;
};

/* Records the first error, at p. */
__attribute__((format(printf, 3, 4))) static void fail_at(struct parser *ps, const char *p,
                                                          const char *fmt, ...)
{
        if (ps->failed)
                return;
        ps->failed = true;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ps->e->text, sizeof(ps->e->text), fmt, ap);
        va_end(ap);
        ps->e->offset = (size_t)(p - ps->start);
        ps->e->line = 1;
        ps->e->column = 1;
        for (const char *q = ps->start; q < p; q++) {
                if (*q == '\n') {
                        ps->e->line++;
                        ps->e->column = 1;
                } else {
                        ps->e->column++;
                }
        }
}

/* "'x'", "byte 0xNN" or "end of input": what is at p, for "... near %s". */
static const char *near(const struct parser *ps, const char *p, char *buf, size_t n)
{
        if (p >= ps->end)
                return "end of input";
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 && c < 0x7f)
                snprintf(buf, n, "'%c'", c);
        else
                snprintf(buf, n, "byte 0x%02x", c);
        return buf;
}

static void unexpected(struct parser *ps, const char *what)
{
        char b[16];
        if (ps->p >= ps->end)
                fail_at(ps, ps->p, "premature end of input, %s expected", what);
        else
                fail_at(ps, ps->p, "%s expected near %s", what, near(ps, ps->p, b, sizeof(b)));
}

static void skip_ws(struct parser *ps)
{
        while (ps->p < ps->end &&
               (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
                ps->p++;
}

static int hex4(const char *p, uint32_t *out)
{
        uint32_t v = 0;
        for (int i = 0; i < 4; i++) {
                char c = p[i];
                v <<= 4;
                if (c >= '0' && c <= '9')
                        v |= (uint32_t)(c - '0');
                else if (c >= 'a' && c <= 'f')
                        v |= (uint32_t)(c - 'a' + 10);
                else if (c >= 'A' && c <= 'F')
                        v |= (uint32_t)(c - 'A' + 10);
                else
                        return -1;
        }
        *out = v;
        return 0;
}

/* A string at ps->p (its opening quote): malloc'ed bytes and *len, or NULL. */
static char *parse_string(struct parser *ps, size_t *len)
{
        const char *q = ps->p + 1, *close = q;
        while (close < ps->end && *close != '"')
                close += *close == '\\' && close + 1 < ps->end ? 2 : 1;
        if (close >= ps->end) {
                fail_at(ps, ps->p, "unterminated string");
                return NULL;
        }
        /* escapes only shrink: the span is room enough */
        char *out = malloc((size_t)(close - q) + 1), *o = out;
        if (!out) {
                fail_at(ps, ps->p, "out of memory");
                return NULL;
        }
        while (q < close) {
                unsigned char c = (unsigned char)*q;
                if (c < 0x20) {
                        fail_at(ps, q, "control character 0x%02x in a string", c);
                        goto bad;
                }
                if (c >= 0x80) {
                        size_t k = utf8_seq((const unsigned char *)q, (size_t)(close - q));
                        if (!k) {
                                fail_at(ps, q, "invalid UTF-8 (byte 0x%02x) in a string", c);
                                goto bad;
                        }
                        memcpy(o, q, k);
                        o += k;
                        q += k;
                        continue;
                }
                if (c != '\\') {
                        *o++ = (char)c;
                        q++;
                        continue;
                }
                const char *esc = q++;
                static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
                const char *f = strchr(from, *q);
                if (*q && f) {
                        *o++ = to[f - from];
                        q++;
                        continue;
                }
                uint32_t cp, lo;
                if (*q != 'u') {
                        fail_at(ps, esc, "invalid escape '\\%c' in a string", *q);
                        goto bad;
                }
                if (close - q < 5 || hex4(q + 1, &cp) < 0) {
                        fail_at(ps, esc, "invalid \\u escape in a string");
                        goto bad;
                }
                q += 5;
                if (cp == 0) {
                        fail_at(ps, esc, "\\u0000 is not allowed in a string");
                        goto bad;
                }
                if (cp >= 0xDC00 && cp <= 0xDFFF) {
                        fail_at(ps, esc, "lone low surrogate \\u%04X in a string", cp);
                        goto bad;
                }
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                        if (close - q < 6 || q[0] != '\\' || q[1] != 'u' || hex4(q + 2, &lo) < 0 ||
                            lo < 0xDC00 || lo > 0xDFFF) {
                                fail_at(ps, esc, "lone high surrogate \\u%04X in a string", cp);
                                goto bad;
                        }
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        q += 6;
                }
                o += utf8_put(o, cp);
        }
        *o = '\0';
        *len = (size_t)(o - out);
        ps->p = close + 1;
        return out;
bad:
        free(out);
        return NULL;
}

static bool digit(const struct parser *ps, const char *p)
{
        return p < ps->end && *p >= '0' && *p <= '9';
}

static struct jv *parse_number(struct parser *ps)
{
        const char *s = ps->p, *p = s;
        bool integer = true;
        if (p < ps->end && *p == '-')
                p++;
        if (!digit(ps, p)) {
                fail_at(ps, s, "invalid number");
                return NULL;
        }
        if (*p == '0' && digit(ps, p + 1)) {
                fail_at(ps, s, "invalid number (a leading zero)");
                return NULL;
        }
        while (digit(ps, p))
                p++;
        if (p < ps->end && *p == '.') {
                integer = false;
                if (!digit(ps, ++p)) {
                        fail_at(ps, s, "invalid number (no digit after '.')");
                        return NULL;
                }
                while (digit(ps, p))
                        p++;
        }
        if (p < ps->end && (*p == 'e' || *p == 'E')) {
                integer = false;
                p++;
                if (p < ps->end && (*p == '+' || *p == '-'))
                        p++;
                if (!digit(ps, p)) {
                        fail_at(ps, s, "invalid number (no digit in the exponent)");
                        return NULL;
                }
                while (digit(ps, p))
                        p++;
        }
        char *text = dup_n(s, (size_t)(p - s));
        if (!text) {
                fail_at(ps, s, "out of memory");
                return NULL;
        }
        if (!integer) {
                errno = 0;
                double d = strtod(text, NULL);
                if (errno == ERANGE && (d > 1.0 || d < -1.0)) {
                        free(text);
                        fail_at(ps, s, "real number overflow");
                        return NULL;
                }
        }
        ps->p = p;
        struct jv *v = text_node(JV_NUMBER, text, (size_t)(p - s));
        if (!v)
                fail_at(ps, s, "out of memory");
        return v;
}

static int cmp_keys(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The first key of o twice, or NULL. */
static const char *duplicate_key(const struct jv *o)
{
        if (o->len < 2)
                return NULL;
        if (o->len <= 8) {
                for (size_t i = 1; i < o->len; i++)
                        for (size_t j = 0; j < i; j++)
                                if (strcmp(o->keys[i], o->keys[j]) == 0)
                                        return o->keys[i];
                return NULL;
        }
        char **sorted = malloc(o->len * sizeof(*sorted));
        if (!sorted)
                return ""; /* treated as a failure by the caller */
        memcpy(sorted, o->keys, o->len * sizeof(*sorted));
        qsort(sorted, o->len, sizeof(*sorted), cmp_keys);
        const char *dup = NULL;
        for (size_t i = 1; i < o->len && !dup; i++)
                if (strcmp(sorted[i], sorted[i - 1]) == 0)
                        dup = sorted[i];
        free(sorted);
        return dup;
}

static struct jv *parse_value(struct parser *ps);

static struct jv *parse_container(struct parser *ps)
{
        const char *open = ps->p;
        bool obj = *open == '{';
        char close = obj ? '}' : ']';
        if (++ps->depth > ps->lim.depth) {
                fail_at(ps, open, "nested deeper than %u levels", ps->lim.depth);
                return NULL;
        }
        struct jv *v = node(obj ? JV_OBJECT : JV_ARRAY);
        if (!v) {
                fail_at(ps, open, "out of memory");
                return NULL;
        }
        ps->p++;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == close) {
                ps->p++;
                ps->depth--;
                return v;
        }
        for (;;) {
                char *key = NULL;
                size_t klen;
                if (obj) {
                        if (ps->p >= ps->end || *ps->p != '"') {
                                unexpected(ps, v->len ? "a string key" : "a string key or '}'");
                                goto bad;
                        }
                        if (!(key = parse_string(ps, &klen)))
                                goto bad;
                        skip_ws(ps);
                        if (ps->p >= ps->end || *ps->p != ':') {
                                free(key);
                                unexpected(ps, "':'");
                                goto bad;
                        }
                        ps->p++;
                        skip_ws(ps);
                }
                struct jv *m = parse_value(ps);
                if (!m || grow(v) < 0) {
                        if (m)
                                fail_at(ps, ps->p, "out of memory");
                        free(key);
                        jv_free(m);
                        goto bad;
                }
                if (obj)
                        v->keys[v->len] = key;
                v->vals[v->len++] = m;
                skip_ws(ps);
                if (ps->p < ps->end && *ps->p == ',') {
                        ps->p++;
                        skip_ws(ps);
                        continue;
                }
                if (ps->p < ps->end && *ps->p == close)
                        break;
                unexpected(ps, obj ? "',' or '}'" : "',' or ']'");
                goto bad;
        }
        const char *dup = obj ? duplicate_key(v) : NULL;
        if (dup) {
                if (*dup)
                        fail_at(ps, open, "duplicate object key '%.40s'", dup);
                else
                        fail_at(ps, open, "out of memory");
                goto bad;
        }
        ps->p++;
        ps->depth--;
        return v;
bad:
        jv_free(v);
        return NULL;
}

static struct jv *parse_value(struct parser *ps)
{
        static const struct {
                const char *word;
                enum jv_type type;
        } words[] = {{"true", JV_TRUE}, {"false", JV_FALSE}, {"null", JV_NULL}};
        char b[16];
        if (++ps->values > ps->lim.values) {
                fail_at(ps, ps->p, "more than %zu values", ps->lim.values);
                return NULL;
        }
        if (ps->p >= ps->end) {
                unexpected(ps, "a value");
                return NULL;
        }
        char c = *ps->p;
        if (c == '{' || c == '[')
                return parse_container(ps);
        if (c == '"') {
                size_t len;
                const char *at = ps->p;
                char *s = parse_string(ps, &len);
                struct jv *v = s ? text_node(JV_STRING, s, len) : NULL;
                if (s && !v)
                        fail_at(ps, at, "out of memory");
                return v;
        }
        if (c == '-' || (c >= '0' && c <= '9'))
                return parse_number(ps);
        for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
                size_t k = strlen(words[i].word);
                if ((size_t)(ps->end - ps->p) >= k && memcmp(ps->p, words[i].word, k) == 0) {
                        struct jv *v = node(words[i].type);
                        if (!v)
                                fail_at(ps, ps->p, "out of memory");
                        ps->p += k;
                        return v;
                }
        }
        fail_at(ps, ps->p, "invalid token near %s", near(ps, ps->p, b, sizeof(b)));
        return NULL;
}

struct jv *jv_parse(const char *text, size_t n, const struct jv_limits *lim, struct jv_error *e)
{
        static const struct jv_limits defaults = {JV_DEPTH_MAX, JV_BYTES_MAX, JV_VALUES_MAX};
        struct parser ps = {.start = text, .p = text, .end = text + n, .e = e};
        char b[16];
        ps.lim = lim ? *lim : defaults;
        memset(e, 0, sizeof(*e));
        if (n > ps.lim.bytes) {
                fail_at(&ps, text, "the document is larger than %zu bytes", ps.lim.bytes);
                return NULL;
        }
        skip_ws(&ps);
        if (ps.p >= ps.end || (*ps.p != '{' && *ps.p != '[')) {
                fail_at(&ps, ps.p, "'[' or '{' expected near %s", near(&ps, ps.p, b, sizeof(b)));
                return NULL;
        }
        struct jv *v = parse_value(&ps);
        if (!v)
                return NULL;
        skip_ws(&ps);
        if (ps.p < ps.end) {
                fail_at(&ps, ps.p, "end of input expected near %s", near(&ps, ps.p, b, sizeof(b)));
                jv_free(v);
                return NULL;
        }
        return v;
}

/* ---- reading ---- */

enum jv_type jv_type(const struct jv *v)
{
        return v ? v->type : JV_NULL;
}

bool jv_is_null(const struct jv *v)
{
        return v && v->type == JV_NULL;
}

bool jv_is_true(const struct jv *v)
{
        return v && v->type == JV_TRUE;
}

bool jv_is_false(const struct jv *v)
{
        return v && v->type == JV_FALSE;
}

bool jv_is_bool(const struct jv *v)
{
        return jv_is_true(v) || jv_is_false(v);
}

bool jv_is_number(const struct jv *v)
{
        return v && v->type == JV_NUMBER;
}

bool jv_is_integer(const struct jv *v)
{
        return jv_is_number(v) && !strpbrk(v->text, ".eE");
}

bool jv_is_string(const struct jv *v)
{
        return v && v->type == JV_STRING;
}

bool jv_is_array(const struct jv *v)
{
        return v && v->type == JV_ARRAY;
}

bool jv_is_object(const struct jv *v)
{
        return v && v->type == JV_OBJECT;
}

const char *jv_str(const struct jv *v)
{
        return jv_is_string(v) ? v->text : NULL;
}

size_t jv_strlen(const struct jv *v)
{
        return jv_is_string(v) ? v->len : 0;
}

const char *jv_number_text(const struct jv *v)
{
        return jv_is_number(v) ? v->text : NULL;
}

int jv_i64(const struct jv *v, int64_t *out)
{
        if (!jv_is_integer(v))
                return -1;
        errno = 0;
        char *end;
        long long i = strtoll(v->text, &end, 10);
        if (errno || *end)
                return -1;
        *out = i;
        return 0;
}

int jv_u64(const struct jv *v, uint64_t *out)
{
        if (!jv_is_integer(v) || v->text[0] == '-')
                return -1;
        errno = 0;
        char *end;
        unsigned long long u = strtoull(v->text, &end, 10);
        if (errno || *end)
                return -1;
        *out = u;
        return 0;
}

size_t jv_size(const struct jv *v)
{
        return jv_is_array(v) || jv_is_object(v) ? v->len : 0;
}

struct jv *jv_at(const struct jv *v, size_t i)
{
        return i < jv_size(v) ? v->vals[i] : NULL;
}

const char *jv_key_at(const struct jv *v, size_t i)
{
        return jv_is_object(v) && i < v->len ? v->keys[i] : NULL;
}

struct jv *jv_get(const struct jv *v, const char *key)
{
        if (!jv_is_object(v) || !key)
                return NULL;
        for (size_t i = 0; i < v->len; i++)
                if (strcmp(v->keys[i], key) == 0)
                        return v->vals[i];
        return NULL;
}

struct jv *jv_dig(const struct jv *v, ...)
{
        va_list ap;
        va_start(ap, v);
        const char *key;
        while (v && (key = va_arg(ap, const char *)))
                v = jv_get(v, key);
        va_end(ap);
        return (struct jv *)v;
}

/* ---- building ---- */

struct jv *jv_null(void)
{
        return node(JV_NULL);
}

struct jv *jv_bool(bool b)
{
        return node(b ? JV_TRUE : JV_FALSE);
}

static struct jv *number_of(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static struct jv *number_of(const char *fmt, ...)
{
        char buf[24];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        return text_node(JV_NUMBER, dup_n(buf, (size_t)n), (size_t)n);
}

struct jv *jv_int(long long i)
{
        return number_of("%lld", i);
}

struct jv *jv_uint(uint64_t u)
{
        return number_of("%llu", (unsigned long long)u);
}

struct jv *jv_stringn(const char *s, size_t n)
{
        if (!s || !utf8_valid(s, n))
                return NULL;
        return text_node(JV_STRING, dup_n(s, n), n);
}

struct jv *jv_string(const char *s)
{
        return s ? jv_stringn(s, strlen(s)) : NULL;
}

struct jv *jv_array(void)
{
        return node(JV_ARRAY);
}

struct jv *jv_object(void)
{
        return node(JV_OBJECT);
}

int jv_push(struct jv *a, struct jv *val)
{
        if (!jv_is_array(a) || !val || grow(a) < 0) {
                if (a)
                        a->bad = true;
                jv_free(val);
                return -1;
        }
        a->vals[a->len++] = val;
        return 0;
}

int jv_set(struct jv *o, const char *key, struct jv *val)
{
        char *k = NULL;
        if (jv_is_object(o) && val && key && utf8_valid(key, strlen(key))) {
                for (size_t i = 0; i < o->len; i++) {
                        if (strcmp(o->keys[i], key) == 0) {
                                jv_free(o->vals[i]);
                                o->vals[i] = val;
                                return 0;
                        }
                }
                k = grow(o) == 0 ? dup_n(key, strlen(key)) : NULL;
        }
        if (!k) {
                if (o)
                        o->bad = true;
                jv_free(val);
                return -1;
        }
        o->keys[o->len] = k;
        o->vals[o->len++] = val;
        return 0;
}

struct jv *jv_obj(const char *key, ...)
{
        struct jv *o = jv_object();
        va_list ap;
        va_start(ap, key);
        for (; key; key = va_arg(ap, const char *)) {
                struct jv *val = va_arg(ap, struct jv *);
                if (o)
                        jv_set(o, key, val);
                else
                        jv_free(val);
        }
        va_end(ap);
        return o;
}

size_t jv_big_ints_as_strings(struct jv *v)
{
        int64_t i;
        if (jv_is_integer(v) && jv_i64(v, &i) < 0) {
                v->type = JV_STRING;
                return 1;
        }
        size_t n = 0;
        for (size_t k = 0; k < jv_size(v); k++)
                n += jv_big_ints_as_strings(v->vals[k]);
        return n;
}

/* ---- writing ---- */

struct out {
        char *p;
        size_t n, cap;
        bool failed;
};

static void put(struct out *o, const char *s, size_t n)
{
        if (o->failed)
                return;
        if (o->n + n + 1 > o->cap) {
                size_t cap = o->cap ? o->cap : 256;
                while (o->n + n + 1 > cap)
                        cap *= 2;
                char *p = realloc(o->p, cap);
                if (!p) {
                        o->failed = true;
                        return;
                }
                o->p = p;
                o->cap = cap;
        }
        memcpy(o->p + o->n, s, n);
        o->n += n;
}

static void put_string(struct out *o, const char *s, size_t n)
{
        size_t run = 0; /* bytes written as they are, pending */
        put(o, "\"", 1);
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];
                const char *esc = NULL;
                char u[8];
                switch (c) {
                case '"':
                        esc = "\\\"";
                        break;
                case '\\':
                        esc = "\\\\";
                        break;
                case '\b':
                        esc = "\\b";
                        break;
                case '\f':
                        esc = "\\f";
                        break;
                case '\n':
                        esc = "\\n";
                        break;
                case '\r':
                        esc = "\\r";
                        break;
                case '\t':
                        esc = "\\t";
                        break;
                default:
                        if (c < 0x20) {
                                snprintf(u, sizeof(u), "\\u%04X", c);
                                esc = u;
                        }
                }
                if (!esc) {
                        run++;
                        continue;
                }
                put(o, s + i - run, run);
                run = 0;
                put(o, esc, strlen(esc));
        }
        put(o, s + n - run, run);
        put(o, "\"", 1);
}

static void indent(struct out *o, int flags, unsigned depth)
{
        if (!(flags & JV_INDENT))
                return;
        put(o, "\n", 1);
        for (unsigned i = 0; i < depth; i++)
                put(o, "  ", 2);
}

static void put_value(struct out *o, const struct jv *v, int flags, unsigned depth)
{
        if (v->bad) {
                o->failed = true;
                return;
        }
        switch (v->type) {
        case JV_NULL:
                put(o, "null", 4);
                return;
        case JV_FALSE:
                put(o, "false", 5);
                return;
        case JV_TRUE:
                put(o, "true", 4);
                return;
        case JV_NUMBER:
                put(o, v->text, v->len);
                return;
        case JV_STRING:
                put_string(o, v->text, v->len);
                return;
        case JV_ARRAY:
        case JV_OBJECT:
                break;
        }
        bool obj = v->type == JV_OBJECT;
        put(o, obj ? "{" : "[", 1);
        for (size_t i = 0; i < v->len; i++) {
                if (i)
                        put(o, ",", 1);
                indent(o, flags, depth + 1);
                if (obj) {
                        put_string(o, v->keys[i], strlen(v->keys[i]));
                        put(o, flags & JV_INDENT ? ": " : ":", flags & JV_INDENT ? 2 : 1);
                }
                put_value(o, v->vals[i], flags, depth + 1);
        }
        if (v->len)
                indent(o, flags, depth);
        put(o, obj ? "}" : "]", 1);
}

char *jv_dump(const struct jv *v, int flags, size_t *len)
{
        struct out o = {0};
        if (!v)
                return NULL;
        put_value(&o, v, flags, 0);
        put(&o, "", 0);
        if (o.failed) {
                free(o.p);
                return NULL;
        }
        o.p[o.n] = '\0';
        if (len)
                *len = o.n;
        return o.p;
}
