/*
 * The offline planner's argument extraction: the request cut into typed
 * tokens (quoted strings, key=value, paths, URLs, numbers, Solana base58
 * addresses and signatures, words), then each property of a tool's input
 * schema filled by its type from the tokens not yet taken.
 */
#include "agent/offline.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <string.h>

/* ---- words ---- */

static const char *const stop_words[] = {
    "a",      "about", "after",  "all",   "also",  "am",    "an",   "and",   "any",    "are",
    "as",     "at",    "be",     "been",  "but",   "by",    "can",  "could", "do",     "does",
    "for",    "from",  "get",    "give",  "go",    "has",   "have", "hey",   "how",    "i",
    "if",     "in",    "inside", "into",  "is",    "it",    "its",  "just",  "kindly", "let",
    "like",   "me",    "might",  "my",    "need",  "now",   "of",   "on",    "or",     "our",
    "please", "run",   "should", "so",    "some",  "than",  "that", "the",   "their",  "them",
    "then",   "there", "these",  "this",  "those", "to",    "tool", "up",    "us",     "use",
    "using",  "want",  "was",    "we",    "what",  "whats", "when", "where", "which",  "who",
    "will",   "with",  "within", "would", "you",   "your",
};

bool off_stop_word(const char *w)
{
        for (size_t i = 0; i < sizeof(stop_words) / sizeof(stop_words[0]); i++)
                if (!strcmp(w, stop_words[i]))
                        return true;
        return false;
}

static bool ends(const char *w, size_t n, const char *suf)
{
        size_t k = strlen(suf);
        return n >= k && !memcmp(w + n - k, suf, k);
}

char *off_stem(const char *w)
{
        size_t n = strlen(w);
        char *s = xstrdup(w);
        if (n > 4 && ends(w, n, "ies")) {
                strcpy(s + n - 3, "y");
        } else if (n > 4 && ends(w, n, "sses")) {
                s[n - 2] = 0;
        } else if (n > 4 && (ends(w, n, "xes") || ends(w, n, "ches") || ends(w, n, "shes") ||
                             ends(w, n, "zes") || ends(w, n, "oes"))) {
                s[n - 2] = 0;
        } else if (n > 3 && w[n - 1] == 's' && !ends(w, n, "ss") && !ends(w, n, "us") &&
                   !ends(w, n, "is")) {
                s[n - 1] = 0;
        } else if (n > 6 && ends(w, n, "ing")) {
                /* listing -> list, running -> run */
                s[n - 3] = 0;
                if (s[n - 4] == s[n - 5] && !strchr("aeiouls", s[n - 4]))
                        s[n - 4] = 0;
        }
        return s;
}

void off_words(const char *s, bool stem, void (*fn)(void *ctx, const char *w), void *ctx)
{
        if (!s)
                return;
        strbuf b = {0};
        for (size_t i = 0;; i++) {
                unsigned char c = (unsigned char)s[i];
                bool alnum = isalnum(c);
                /* camelCase: a capital after a lowercase letter starts a word */
                bool hump = alnum && isupper(c) && i > 0 && islower((unsigned char)s[i - 1]);
                if ((!alnum || hump) && b.len) {
                        if (stem) {
                                char *st = off_stem(b.s);
                                fn(ctx, st);
                                free(st);
                        } else {
                                fn(ctx, b.s);
                        }
                        b.len = 0;
                        b.s[0] = 0;
                }
                if (!c)
                        break;
                if (alnum) {
                        char l = (char)tolower(c);
                        sb_addn(&b, &l, 1);
                }
        }
        sb_free(&b);
}

/* ---- tokens ---- */

static const char b58_alphabet[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

static bool all_b58(const char *s)
{
        for (; *s; s++)
                if (!strchr(b58_alphabet, *s))
                        return false;
        return true;
}

static bool is_number(const char *s)
{
        const char *p = s;
        if (*p == '-' || *p == '+')
                p++;
        size_t digits = 0;
        while (isdigit((unsigned char)*p))
                p++, digits++;
        if (*p == '.') {
                p++;
                while (isdigit((unsigned char)*p))
                        p++, digits++;
        }
        return digits > 0 && !*p;
}

static bool is_url(const char *s)
{
        const char *p = s;
        if (!isalpha((unsigned char)*p))
                return false;
        while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
                p++;
        return !strncmp(p, "://", 3) && p[3];
}

static bool is_path(const char *s)
{
        return s[0] == '/' || !strncmp(s, "./", 2) || !strncmp(s, "../", 3) ||
               !strncmp(s, "~/", 2) || !strcmp(s, "~") || !strcmp(s, ".") || !strcmp(s, "..");
}

static bool is_key(const char *s, size_t n)
{
        if (!n || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
                return false;
        for (size_t i = 1; i < n; i++)
                if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '-' || s[i] == '.'))
                        return false;
        return true;
}

/* Trailing punctuation that ends a sentence rather than a value. */
static void strip_punct(char *s)
{
        size_t n = strlen(s);
        while (n > 1 && strchr(",;:!?)]}\"'", s[n - 1]))
                s[--n] = 0;
        /* a final period, unless the value is . or .. or ends in ./ */
        if (n > 1 && s[n - 1] == '.' && s[n - 2] != '.' && s[n - 2] != '/')
                s[--n] = 0;
}

static char *unquote(const char *s, size_t n)
{
        if (n >= 2 && (s[0] == '"' || s[0] == '\'') && s[n - 1] == s[0])
                return xstrndup(s + 1, n - 2);
        char *v = xstrndup(s, n);
        strip_punct(v);
        return v;
}

void *off_grow(void *v, size_t *cap, size_t n, size_t size)
{
        if (n <= *cap)
                return v;
        size_t c = *cap ? *cap : 16;
        while (c < n)
                c *= 2;
        *cap = c;
        return xrealloc(v, c * size);
}

/* The lowercase, stemmed form of a word token (a new string). */
static char *norm(const char *s)
{
        char *l = xstrdup(s);
        for (char *p = l; *p; p++)
                *p = (char)tolower((unsigned char)*p);
        char *st = off_stem(l);
        free(l);
        return st;
}

static void add_token(struct off_req *r, enum off_kind k, char *text, char *key, size_t start,
                      size_t end)
{
        r->v = off_grow(r->v, &r->cap, r->n + 1, sizeof(*r->v));
        struct off_token *t = &r->v[r->n++];
        *t = (struct off_token){.kind = k, .text = text, .key = key, .start = start, .end = end};
        /* once here, not for every tool that looks at the word */
        if (k == OFF_WORD) {
                t->word = norm(text);
                t->stop = off_stop_word(t->word);
        }
}

static void classify(struct off_req *r, size_t start, size_t end)
{
        const char *raw = r->text + start;
        size_t n = end - start;
        const char *eq = memchr(raw, '=', n);
        if (eq && is_key(raw, (size_t)(eq - raw))) {
                size_t k = (size_t)(eq - raw);
                add_token(r, OFF_KV, unquote(eq + 1, n - k - 1), xstrndup(raw, k), start, end);
                return;
        }
        /* an opening bracket is not part of the value */
        size_t open = 0;
        while (open < n && raw[open] && strchr("([{", raw[open]))
                open++;
        char *t = xstrndup(raw + open, n - open);
        strip_punct(t);
        size_t len = strlen(t);
        enum off_kind k = OFF_WORD;
        if (is_url(t))
                k = OFF_URL;
        else if (is_path(t))
                k = OFF_PATH;
        else if (len >= 32 && len <= 44 && all_b58(t))
                k = OFF_B58ADDR; /* before numbers: the system program is 32 ones */
        else if (is_number(t))
                k = OFF_NUMBER;
        else if (len >= 87 && len <= 88 && all_b58(t))
                k = OFF_B58SIG;
        add_token(r, k, t, NULL, start, end);
}

void off_req_parse(struct off_req *r, const char *text)
{
        *r = (struct off_req){.text = xstrdup(text ? text : "")};
        const char *s = r->text;
        size_t i = 0;
        for (;;) {
                while (s[i] && isspace((unsigned char)s[i]))
                        i++;
                if (!s[i])
                        break;
                size_t start = i;
                if (s[i] == '"' || s[i] == '\'') {
                        const char *close = strchr(s + i + 1, s[i]);
                        if (close) {
                                size_t end = (size_t)(close - s) + 1;
                                add_token(r, OFF_QUOTED, xstrndup(s + i + 1, end - i - 2), NULL,
                                          start, end);
                                i = end;
                                continue;
                        }
                }
                while (s[i] && !isspace((unsigned char)s[i])) {
                        /* key="a value with spaces" */
                        if (s[i] == '=' && (s[i + 1] == '"' || s[i + 1] == '\'')) {
                                const char *close = strchr(s + i + 2, s[i + 1]);
                                if (close) {
                                        i = (size_t)(close - s) + 1;
                                        continue;
                                }
                        }
                        i++;
                }
                classify(r, start, i);
        }
}

void off_req_reset(struct off_req *r)
{
        for (size_t i = 0; i < r->n; i++)
                r->v[i].used = false;
}

void off_req_free(struct off_req *r)
{
        for (size_t i = 0; i < r->n; i++) {
                free(r->v[i].text);
                free(r->v[i].key);
                free(r->v[i].word);
        }
        free(r->v);
        free(r->text);
        *r = (struct off_req){0};
}

/* ---- properties ---- */

enum prop_type { P_STRING, P_NUMBER, P_INTEGER, P_BOOLEAN, P_ARRAY, P_OBJECT, P_NULL, P_ANY };

enum prop_special { S_NONE, S_ADDRESS, S_SIGNATURE, S_PATH, S_URL };

struct prop {
        const char *name;
        const json_t *schema;
        enum prop_type type;
        enum prop_special special;
        const json_t *enumv; /* an array, or NULL */
        bool required;
        /* the stemmed words of the name, then of the description */
        char **words;
        size_t nname, nwords, cap;
};

static enum prop_type type_of(const char *t)
{
        static const struct {
                const char *name;
                enum prop_type type;
        } types[] = {{"string", P_STRING},   {"number", P_NUMBER}, {"integer", P_INTEGER},
                     {"boolean", P_BOOLEAN}, {"array", P_ARRAY},   {"object", P_OBJECT},
                     {"null", P_NULL}};
        for (size_t i = 0; t && i < sizeof(types) / sizeof(types[0]); i++)
                if (!strcmp(t, types[i].name))
                        return types[i].type;
        return P_ANY;
}

static enum prop_type prop_type(const json_t *ps)
{
        const json_t *t = json_object_get(ps, "type");
        if (json_is_string(t))
                return type_of(json_string_value(t));
        if (json_is_array(t)) {
                size_t i;
                const json_t *v;
                bool null = false;
                json_array_foreach(t, i, v)
                {
                        if (json_is_string(v) && strcmp(json_string_value(v), "null"))
                                return type_of(json_string_value(v));
                        null |= json_is_string(v);
                }
                if (null)
                        return P_NULL; /* ["null"]: nothing but null */
        }
        if (json_is_array(json_object_get(ps, "enum")))
                return P_STRING;
        return P_ANY;
}

struct has_ctx {
        const char *const *words;
        bool found;
};

static void has_word(void *ctx, const char *w)
{
        struct has_ctx *h = ctx;
        for (const char *const *p = h->words; *p; p++)
                if (!strcmp(w, *p))
                        h->found = true;
}

static bool mentions(const char *s, const char *const *words)
{
        struct has_ctx h = {.words = words};
        off_words(s, true, has_word, &h);
        return h.found;
}

static enum prop_special prop_special(const char *name, const json_t *ps, enum prop_type t)
{
        static const char *const sig[] = {"signature", "sig", "txid", NULL};
        static const char *const addr[] = {"address", "pubkey", "account", "wallet",
                                           "mint",    "owner",  NULL};
        static const char *const path[] = {"path",   "file",      "filename", "dir",
                                           "folder", "directory", "source",   "destination",
                                           "src",    "dest",      NULL};
        static const char *const url[] = {"url", "uri", "link", "endpoint", NULL};
        if (t == P_ARRAY) {
                const json_t *items = json_object_get(ps, "items");
                if (prop_type(items) != P_STRING || !mentions(name, path))
                        return S_NONE;
                return S_PATH;
        }
        if (t != P_STRING && t != P_ANY)
                return S_NONE;
        const char *desc = json_string_value(json_object_get(ps, "description"));
        const char *fmt = json_string_value(json_object_get(ps, "format"));
        if (mentions(name, sig) || mentions(desc, sig))
                return S_SIGNATURE;
        if (mentions(name, addr) || mentions(desc, addr))
                return S_ADDRESS;
        if ((fmt && (!strcmp(fmt, "uri") || !strcmp(fmt, "url"))) || mentions(name, url))
                return S_URL;
        if (mentions(name, path))
                return S_PATH;
        return S_NONE;
}

static void prop_word(void *ctx, const char *w)
{
        struct prop *p = ctx;
        p->words = off_grow(p->words, &p->cap, p->nwords + 1, sizeof(*p->words));
        p->words[p->nwords++] = xstrdup(w);
}

/* Whether w is a word of the property's name (from 0) or description (from nname). */
static bool prop_has_word(const struct prop *p, size_t from, size_t to, const char *w)
{
        for (size_t i = from; i < to; i++)
                if (!strcmp(p->words[i], w))
                        return true;
        return false;
}

static void props_free(struct prop *props, size_t n)
{
        for (size_t k = 0; k < n; k++) {
                for (size_t i = 0; i < props[k].nwords; i++)
                        free(props[k].words[i]);
                free(props[k].words);
        }
        free(props);
}

static size_t props_of(const json_t *schema, struct prop **out)
{
        const json_t *props = json_object_get(schema, "properties");
        const json_t *req = json_object_get(schema, "required");
        *out = xcalloc(json_object_size(props) + 1, sizeof(**out));
        size_t n = 0;
        const char *name;
        const json_t *ps;
        json_object_foreach((json_t *)props, name, ps)
        {
                struct prop *p = &(*out)[n++];
                p->name = name;
                p->schema = ps;
                p->type = prop_type(ps);
                p->special = prop_special(name, ps, p->type);
                p->enumv =
                    json_is_array(json_object_get(ps, "enum")) ? json_object_get(ps, "enum") : NULL;
                off_words(name, true, prop_word, p);
                p->nname = p->nwords;
                off_words(json_string_value(json_object_get(ps, "description")), true, prop_word,
                          p);
                size_t i;
                const json_t *r;
                json_array_foreach(req, i, r)
                {
                        if (json_is_string(r) && !strcmp(json_string_value(r), name))
                                p->required = true;
                }
        }
        return n;
}

/* ---- values ---- */

static json_t *to_bool(const char *s)
{
        static const char *const yes[] = {"true", "yes", "y", "on", "1", NULL};
        static const char *const no[] = {"false", "no", "n", "off", "0", NULL};
        for (size_t i = 0; yes[i]; i++)
                if (!strcasecmp(s, yes[i]))
                        return json_true();
        for (size_t i = 0; no[i]; i++)
                if (!strcasecmp(s, no[i]))
                        return json_false();
        return NULL;
}

static json_t *to_number(const char *s, bool integer)
{
        if (!is_number(s))
                return NULL;
        errno = 0;
        char *end;
        double d = strtod(s, &end);
        if (errno || *end || !isfinite(d))
                return NULL;
        if (d == floor(d) && fabs(d) < 9007199254740992.0)
                return json_integer((json_int_t)d);
        return integer ? NULL : json_real(d);
}

/* Does v have the type the property schema ps gives (as prop_type reads it)? */
static bool has_type(const json_t *ps, const json_t *v)
{
        switch (prop_type(ps)) {
        case P_STRING:
                return json_is_string(v);
        case P_NUMBER:
                return json_is_number(v);
        case P_INTEGER:
                return json_is_integer(v);
        case P_BOOLEAN:
                return json_is_boolean(v);
        case P_OBJECT:
                return json_is_object(v);
        case P_NULL:
                return json_is_null(v);
        case P_ARRAY: {
                if (!json_is_array(v))
                        return false;
                size_t i;
                const json_t *x;
                json_array_foreach(v, i, x)
                {
                        if (!has_type(json_object_get(ps, "items"), x))
                                return false;
                }
                return true;
        }
        case P_ANY:
                break;
        }
        return true;
}

/* A comma-separated list, each item converted to the items' type where it can be. */
static json_t *split_list(const struct prop *p, const char *s)
{
        json_t *a = json_array();
        enum prop_type it = prop_type(json_object_get(p->schema, "items"));
        char *copy = xstrdup(s), *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                while (isspace((unsigned char)*t))
                        t++;
                json_t *v = NULL;
                if (it == P_NUMBER || it == P_INTEGER)
                        v = to_number(t, it == P_INTEGER);
                else if (it == P_BOOLEAN)
                        v = to_bool(t);
                json_array_append_new(a, v ? v : json_string(t));
        }
        free(copy);
        return a;
}

/* A value typed by the property, from text; NULL when it does not fit. */
static json_t *convert(const struct prop *p, const char *s)
{
        switch (p->type) {
        case P_NUMBER:
        case P_INTEGER:
                return to_number(s, p->type == P_INTEGER);
        case P_BOOLEAN:
                return to_bool(s);
        case P_ARRAY: {
                json_t *a = json_loads(s, JSON_DECODE_ANY, NULL);
                if (!json_is_array(a)) {
                        json_decref(a);
                        a = split_list(p, s);
                }
                /* every item of the type the schema's items give, or no value */
                if (has_type(p->schema, a))
                        return a;
                json_decref(a);
                return NULL;
        }
        case P_OBJECT: {
                json_t *o = json_loads(s, 0, NULL);
                if (json_is_object(o))
                        return o;
                json_decref(o);
                return NULL;
        }
        case P_NULL: /* only "null" fits, which no request says for it */
                return !strcmp(s, "null") ? json_null() : NULL;
        case P_ANY:
        case P_STRING:
                break;
        }
        return json_string(s);
}

/* ---- filling ---- */

struct filler {
        struct off_req *r;
        json_t *args;
        const struct off_fill *f;
        struct prop *props;
        size_t nprops;
};

static bool filled(const struct filler *F, const struct prop *p)
{
        return json_object_get(F->args, p->name) != NULL;
}

static void set(struct filler *F, const struct prop *p, json_t *v, struct off_token *t)
{
        if (t)
                t->used = true;
        if (!v || !has_type(p->schema, v)) {
                json_decref(v); /* a value the schema's type refuses (an enum's, a list) */
                return;
        }
        json_object_set_new(F->args, p->name, v);
}

static bool plain_word(const struct off_token *t)
{
        return t->kind == OFF_WORD && !t->used;
}

/* A word that reads as a file name: notes.txt, src/main.c. */
static bool filename_like(const char *s)
{
        const char *dot = strrchr(s, '.');
        if (strchr(s, '/'))
                return true;
        return dot && dot != s && dot[1] && isalnum((unsigned char)dot[1]) &&
               isalpha((unsigned char)s[0]);
}

/* How well the words around token i point at property p: its name counts 2,
 * a word of its description 1. */
static int near_score(const struct filler *F, size_t i, const struct prop *p)
{
        int score = 0;
        size_t lo = i >= 2 ? i - 2 : 0, hi = i + 2 < F->r->n ? i + 2 : F->r->n - 1;
        for (size_t j = lo; j <= hi; j++) {
                const struct off_token *t = &F->r->v[j];
                if (j == i || t->kind != OFF_WORD)
                        continue;
                if (t->stop)
                        continue;
                if (prop_has_word(p, 0, p->nname, t->word))
                        score += 2;
                else if (prop_has_word(p, p->nname, p->nwords, t->word))
                        score += 1;
        }
        return score;
}

static void fill_kv(struct filler *F)
{
        for (size_t i = 0; i < F->r->n; i++) {
                struct off_token *t = &F->r->v[i];
                if (t->kind != OFF_KV || t->used)
                        continue;
                for (size_t k = 0; k < F->nprops; k++) {
                        const struct prop *p = &F->props[k];
                        if (strcmp(p->name, t->key) || filled(F, p))
                                continue;
                        json_t *v = convert(p, t->text);
                        if (v)
                                set(F, p, v, t);
                }
        }
}

static struct off_token *first_unused(struct filler *F, enum off_kind k)
{
        for (size_t i = 0; i < F->r->n; i++)
                if (F->r->v[i].kind == k && !F->r->v[i].used)
                        return &F->r->v[i];
        return NULL;
}

static void fill_special(struct filler *F, const struct prop *p)
{
        struct off_token *t = NULL;
        switch (p->special) {
        case S_ADDRESS:
                t = first_unused(F, OFF_B58ADDR);
                break;
        case S_SIGNATURE:
                t = first_unused(F, OFF_B58SIG);
                break;
        case S_URL:
                t = first_unused(F, OFF_URL);
                break;
        case S_PATH:
                if (p->type == P_ARRAY) {
                        json_t *a = json_array();
                        for (size_t i = 0; i < F->r->n; i++) {
                                struct off_token *u = &F->r->v[i];
                                if (!u->used && (u->kind == OFF_PATH ||
                                                 (u->kind == OFF_WORD && filename_like(u->text)))) {
                                        json_array_append_new(a, json_string(u->text));
                                        u->used = true;
                                }
                        }
                        if (json_array_size(a))
                                set(F, p, a, NULL);
                        else
                                json_decref(a);
                        return;
                }
                t = first_unused(F, OFF_PATH);
                for (size_t i = 0; !t && i < F->r->n; i++)
                        if (plain_word(&F->r->v[i]) && filename_like(F->r->v[i].text))
                                t = &F->r->v[i];
                break;
        case S_NONE:
                break;
        }
        if (t)
                set(F, p, json_string(t->text), t);
}

static bool word_at(const char *lower, size_t at, size_t n)
{
        return (at == 0 || !isalnum((unsigned char)lower[at - 1])) &&
               !isalnum((unsigned char)lower[at + n]);
}

/* The first token that ends after byte at (r->n: none), by bisection: the
 * tokens are in the request's order. */
static size_t first_ending_after(const struct off_req *r, size_t at)
{
        size_t lo = 0, hi = r->n;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (r->v[mid].end > at)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return lo;
}

static void fill_enum(struct filler *F, const struct prop *p)
{
        char *lower = xstrdup(F->r->text);
        for (char *c = lower; *c; c++)
                *c = (char)tolower((unsigned char)*c);
        size_t i;
        const json_t *v;
        json_array_foreach(p->enumv, i, v)
        {
                const char *s = json_string_value(v);
                if (!s || !*s)
                        continue;
                char *ls = xstrdup(s);
                for (char *c = ls; *c; c++)
                        *c = (char)tolower((unsigned char)*c);
                size_t n = strlen(ls);
                for (const char *hit = strstr(lower, ls); hit; hit = strstr(hit + 1, ls)) {
                        size_t at = (size_t)(hit - lower);
                        if (!word_at(lower, at, n))
                                continue;
                        /* the tokens over the hit: from the first that ends past it */
                        size_t first = first_ending_after(F->r, at), k;
                        bool taken = false;
                        for (k = first; k < F->r->n && F->r->v[k].start < at + n; k++)
                                taken = taken || F->r->v[k].used;
                        if (taken)
                                continue;
                        for (k = first; k < F->r->n && F->r->v[k].start < at + n; k++)
                                F->r->v[k].used = true;
                        set(F, p, json_deep_copy(v), NULL);
                        break;
                }
                free(ls);
                if (filled(F, p))
                        break;
        }
        free(lower);
}

/* Numbers: first those whose neighbours name a property ("5 seconds", "steps 3"),
 * then the required number properties take the rest in order. */
static void fill_numbers(struct filler *F)
{
        for (size_t i = 0; i < F->r->n; i++) {
                struct off_token *t = &F->r->v[i];
                if (t->kind != OFF_NUMBER || t->used)
                        continue;
                const struct prop *best = NULL;
                int best_score = 0;
                for (size_t k = 0; k < F->nprops; k++) {
                        const struct prop *p = &F->props[k];
                        if ((p->type != P_NUMBER && p->type != P_INTEGER) || filled(F, p))
                                continue;
                        int s = near_score(F, i, p);
                        if (s <= best_score)
                                continue;
                        json_t *v = to_number(t->text, p->type == P_INTEGER);
                        if (v)
                                best = p, best_score = s;
                        json_decref(v);
                }
                if (best)
                        set(F, best, to_number(t->text, best->type == P_INTEGER), t);
        }
        for (size_t k = 0; k < F->nprops; k++) {
                const struct prop *p = &F->props[k];
                if ((p->type != P_NUMBER && p->type != P_INTEGER) || !p->required || filled(F, p))
                        continue;
                for (size_t i = 0; i < F->r->n; i++) {
                        struct off_token *t = &F->r->v[i];
                        json_t *v = t->kind == OFF_NUMBER && !t->used
                                        ? to_number(t->text, p->type == P_INTEGER)
                                        : NULL;
                        if (v) {
                                set(F, p, v, t);
                                break;
                        }
                }
        }
}

/* Booleans: yes/no/true/false beside the property's name, or anywhere when
 * it is required. */
static void fill_bool(struct filler *F, const struct prop *p)
{
        for (size_t i = 0; i < F->r->n; i++) {
                struct off_token *t = &F->r->v[i];
                json_t *v = t->kind == OFF_WORD && !t->used ? to_bool(t->text) : NULL;
                if (!v)
                        continue;
                if (p->required || near_score(F, i, p) >= 2) {
                        set(F, p, v, t);
                        return;
                }
                json_decref(v);
        }
}

static bool one_of(const char *w, const char *const *set)
{
        for (; *set; set++)
                if (!strcmp(w, *set))
                        return true;
        return false;
}

/* Words at the ends of free text that belong to the request, not the value:
 * "echo back: hi", "write hi to the file /x". */
static bool trim_word(const struct filler *F, size_t i, const struct prop *p, bool lead,
                      bool after_article)
{
        static const char *const lead_set[] = {
            "back", "saying", "say", "please", "me",     "us",   "to",    "that",  "this",   "for",
            "of",   "with",   "is",  "text",   "string", "word", "words", "named", "called", NULL};
        static const char *const tail_set[] = {
            "to", "into", "in",   "on",        "at",     "as",  "from",  "under",  "inside", "the",
            "a",  "an",   "file", "directory", "folder", "dir", "named", "called", NULL};
        static const char *const articles[] = {"the", "a", "an", NULL};
        const struct off_token *t = &F->r->v[i];
        if (t->kind != OFF_WORD)
                return false;
        if (!strcmp(t->text, ":") || !strcmp(t->text, "-"))
                return true;
        const char *w = t->word;
        bool trim =
            (F->f->skip && F->f->skip(F->f->skip_ctx, w)) || one_of(w, lead ? lead_set : tail_set);
        if (lead && prop_has_word(p, 0, p->nname, w))
                trim = true;
        if (after_article && one_of(w, articles))
                trim = false;
        /* "the message hello": an article before a word that goes too */
        if (lead && !trim && !after_article && one_of(w, articles) && i + 1 < F->r->n)
                trim = trim_word(F, i + 1, p, lead, true);
        return trim;
}

/* The unused tokens from index from on, less filler words at both ends. */
static char *rest_text(struct filler *F, size_t from, const struct prop *p, bool trim)
{
        size_t lo = from, hi = F->r->n;
        while (lo < hi && (F->r->v[lo].used || (trim && trim_word(F, lo, p, true, false))))
                lo++;
        while (hi > lo && (F->r->v[hi - 1].used || (trim && trim_word(F, hi - 1, p, false, false))))
                hi--;
        if (lo >= hi)
                return NULL;
        bool gap = false;
        for (size_t i = lo; i < hi; i++)
                if (F->r->v[i].used)
                        gap = true;
        if (!gap) {
                /* the user's own words, with their spacing and punctuation */
                for (size_t i = lo; i < hi; i++)
                        F->r->v[i].used = true;
                char *s = xstrndup(F->r->text + F->r->v[lo].start,
                                   F->r->v[hi - 1].end - F->r->v[lo].start);
                if (hi - lo == 1 && F->r->v[lo].kind == OFF_QUOTED) {
                        free(s);
                        s = xstrdup(F->r->v[lo].text);
                }
                return s;
        }
        strbuf b = {0};
        for (size_t i = lo; i < hi; i++) {
                struct off_token *t = &F->r->v[i];
                if (t->used)
                        continue;
                if (b.len)
                        sb_add(&b, " ");
                sb_addn(&b, F->r->text + t->start, t->end - t->start);
                t->used = true;
        }
        return sb_steal(&b);
}

static bool plain_string(const struct prop *p)
{
        return (p->type == P_STRING || p->type == P_ANY) && !p->enumv;
}

void off_extract(struct off_req *r, const json_t *schema, json_t *args, const struct off_fill *f)
{
        struct off_fill none = {.rest_from = SIZE_MAX};
        struct filler F = {.r = r, .args = args, .f = f ? f : &none};
        F.nprops = props_of(schema, &F.props);

        fill_kv(&F);
        for (size_t k = 0; k < F.nprops; k++) {
                struct prop *p = &F.props[k];
                if (filled(&F, p))
                        continue;
                if (p->special != S_NONE)
                        fill_special(&F, p);
                else if (p->enumv)
                        fill_enum(&F, p);
                else if (p->type == P_BOOLEAN)
                        fill_bool(&F, p);
        }
        fill_numbers(&F);
        /* quoted strings, to the required string properties first */
        for (int pass = 0; pass < 2; pass++)
                for (size_t k = 0; k < F.nprops; k++) {
                        struct prop *p = &F.props[k];
                        if (filled(&F, p) || p->required != (pass == 0) || !plain_string(p))
                                continue;
                        struct off_token *t = first_unused(&F, OFF_QUOTED);
                        if (t &&
                            (p->special == S_NONE || p->special == S_PATH || p->special == S_URL))
                                set(&F, p, json_string(t->text), t);
                }
        /* a lone required string property takes the rest of the words */
        const struct prop *lone = NULL;
        size_t nlone = 0;
        for (size_t k = 0; k < F.nprops; k++) {
                struct prop *p = &F.props[k];
                if (!filled(&F, p) && p->required && plain_string(p) &&
                    (p->special == S_NONE || (F.f->whole_answer && p->special == S_PATH))) {
                        lone = p;
                        nlone++;
                }
        }
        if (nlone == 1) {
                char *s = NULL;
                if (F.f->whole_answer)
                        s = rest_text(&F, 0, lone, false);
                else if (F.f->rest_from < r->n)
                        s = rest_text(&F, F.f->rest_from, lone, true);
                if (s && *s)
                        set(&F, lone, json_string(s), NULL);
                free(s);
        }
        props_free(F.props, F.nprops);
}

json_t *off_missing(const json_t *schema, const json_t *args)
{
        json_t *out = json_array();
        size_t i;
        const json_t *r;
        json_array_foreach(json_object_get(schema, "required"), i, r)
        {
                const char *name = json_string_value(r);
                if (name && !json_object_get(args, name))
                        json_array_append_new(out, json_string(name));
        }
        return out;
}
