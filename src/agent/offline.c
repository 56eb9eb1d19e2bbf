/*
 * The offline planner: the built-in default when no LLM endpoint is
 * configured. It picks the tool whose name, description and input schema
 * best overlap the request's words (with synonyms for common verbs), fills
 * the arguments from the request by the schema's types (extract.c), asks for
 * required arguments it cannot find, and turns the tool's result into the
 * answer. Every answer says it comes from the offline planner.
 */
#include "agent/offline.h"

#include <ctype.h>
#include <string.h>

#define OFF_PREFIX  "(offline planner) "
#define OFF_ASK     OFF_PREFIX "To run "
#define OFF_ASK_END " I need"
/* Results longer than this are cut in the answer. */
#define OFF_ANSWER_MAX 4000
/* Only so many of the request's first tokens, and of their words, choose the tool. */
#define OFF_WORDS_MAX 256
/* A tool fits when its words match at least this well (a name word scores 3). */
#define OFF_FIT_MIN 1.5

/* ---- the request's words, as concepts ---- */

struct synonym {
        const char *word;
        const char *concepts[3];
        double weight[3];
};

/* Words of requests mapped onto the words tool names use. */
static const struct synonym synonyms[] = {
    {"add", {"sum", "add"}, {1, 1}},
    {"plus", {"sum", "add"}, {1, 1}},
    {"sum", {"sum", "add"}, {1, 1}},
    {"total", {"sum"}, {1}},
    {"addition", {"sum", "add"}, {1, 1}},
    {"adding", {"sum", "add"}, {1, 1}},
    {"ls", {"list", "directory"}, {1, 1}},
    {"dir", {"directory"}, {1}},
    {"folder", {"directory"}, {1}},
    {"folders", {"directory"}, {1}},
    {"listing", {"list"}, {1}},
    {"files", {"file", "directory"}, {1, 1}},
    {"read", {"read", "text"}, {1, 0.34}},
    {"reading", {"read", "text"}, {1, 0.34}},
    {"cat", {"read", "text", "file"}, {1, 0.34, 0.5}},
    {"view", {"read", "text"}, {1, 0.34}},
    {"open", {"read", "text"}, {1, 0.34}},
    {"display", {"read", "text"}, {1, 0.34}},
    {"print", {"echo"}, {1}},
    {"+", {"sum", "add"}, {1, 1}},
    {"show", {"list", "read", "text"}, {0.9, 0.9, 0.3}},
    {"echo", {"echo"}, {1}},
    {"repeat", {"echo"}, {1}},
    {"say", {"echo"}, {1}},
    {"parrot", {"echo"}, {1}},
    {"write", {"write"}, {1}},
    {"writing", {"write"}, {1}},
    {"save", {"write"}, {1}},
    {"store", {"write"}, {1}},
    {"put", {"write"}, {1}},
    {"make", {"create"}, {1}},
    {"new", {"create"}, {1}},
    {"mkdir", {"create", "directory"}, {1, 1}},
    {"find", {"search"}, {1}},
    {"grep", {"search"}, {1}},
    {"locate", {"search"}, {1}},
    {"look", {"search"}, {0.8}},
    {"searching", {"search"}, {1}},
    {"rename", {"move"}, {1}},
    {"mv", {"move"}, {1}},
    {"information", {"info"}, {1}},
    {"stat", {"info"}, {1}},
    {"metadata", {"info"}, {1}},
    {"details", {"info"}, {1}},
    {"recursive", {"tree"}, {1}},
    {"recursively", {"tree"}, {1}},
    {"environment", {"env"}, {1}},
    {"variables", {"env"}, {0.5}},
    {"compress", {"gzip"}, {1}},
    {"zip", {"gzip"}, {1}},
    {"remove", {"delete"}, {1}},
    {"rm", {"delete"}, {1}},
    {"modify", {"edit"}, {1}},
    {"change", {"edit"}, {1}},
    {"permitted", {"allowed"}, {1}},
    {"accessible", {"allowed"}, {1}},
};

struct concept {
        char *w;       /* stemmed */
        double weight; /* 1: the word itself; less: a weaker synonym */
        size_t tok;    /* the request token it came from */
};

struct concepts {
        size_t n, cap;
        struct concept *v;
        size_t words; /* the request's words taken, up to OFF_WORDS_MAX */
};

static void concept_add(struct concepts *c, const char *w, double weight, size_t tok)
{
        for (size_t i = c->n; i-- > 0 && c->v[i].tok == tok;)
                if (!strcmp(c->v[i].w, w)) {
                        if (weight > c->v[i].weight)
                                c->v[i].weight = weight;
                        return;
                }
        c->v = off_grow(c->v, &c->cap, c->n + 1, sizeof(*c->v));
        c->v[c->n++] = (struct concept){.w = off_stem(w), .weight = weight, .tok = tok};
}

struct word_ctx {
        struct concepts *c;
        size_t tok;
};

static void request_word(void *ctx, const char *w)
{
        struct word_ctx *wc = ctx;
        if (wc->c->words >= OFF_WORDS_MAX || off_stop_word(w))
                return;
        wc->c->words++;
        concept_add(wc->c, w, 1, wc->tok);
        for (size_t i = 0; i < sizeof(synonyms) / sizeof(synonyms[0]); i++) {
                if (strcmp(synonyms[i].word, w))
                        continue;
                for (size_t k = 0; k < 3 && synonyms[i].concepts[k]; k++)
                        concept_add(wc->c, synonyms[i].concepts[k], synonyms[i].weight[k], wc->tok);
        }
}

static void request_concepts(const struct off_req *r, struct concepts *c)
{
        *c = (struct concepts){0};
        /* the words that say what to do come early; a pasted text's rest adds nothing */
        for (size_t i = 0; i < r->n && i < OFF_WORDS_MAX; i++) {
                const struct off_token *t = &r->v[i];
                struct word_ctx wc = {c, i};
                if (t->kind == OFF_WORD && !strcmp(t->text, "+")) {
                        request_word(&wc, "+");
                } else if (t->kind == OFF_WORD) {
                        off_words(t->text, false, request_word, &wc);
                } else if (t->kind == OFF_PATH) {
                        /* a path with an extension names a file; one ending in / a directory */
                        const char *base = strrchr(t->text, '/');
                        base = base ? base + 1 : t->text;
                        size_t n = strlen(t->text);
                        if (n > 1 && t->text[n - 1] == '/')
                                concept_add(c, "directory", 0.34, i);
                        else if (*base && strchr(base + 1, '.')) /* "/": no last name */
                                concept_add(c, "file", 0.34, i);
                }
        }
}

static void concepts_free(struct concepts *c)
{
        for (size_t i = 0; i < c->n; i++)
                free(c->v[i].w);
        free(c->v);
}

/* ---- a tool's words ---- */

/* The distinct words of a tool (its name, its properties, its descriptions:
 * text a server wrote, of any length), in the order first seen, with a hash
 * index so that adding and looking up stay constant time. */
struct wordset {
        size_t n, cap;
        char **v;
        size_t nslots; /* a power of two, at least twice n; 0 while empty */
        size_t *slot;  /* index + 1 into v; 0: free */
};

static size_t word_hash(const char *w)
{
        size_t h = 1469598103934665603ull; /* FNV-1a */
        for (; *w; w++)
                h = (h ^ (unsigned char)*w) * 1099511628211ull;
        return h;
}

/* The slot of w: where it is, or the free one where it would go. */
static size_t *wordset_slot(const struct wordset *s, const char *w)
{
        size_t mask = s->nslots - 1;
        for (size_t i = word_hash(w) & mask;; i = (i + 1) & mask)
                if (!s->slot[i] || !strcmp(s->v[s->slot[i] - 1], w))
                        return &s->slot[i];
}

static void wordset_grow(struct wordset *s)
{
        size_t n = s->nslots ? s->nslots * 2 : 64;
        free(s->slot);
        s->slot = xcalloc(n, sizeof(*s->slot));
        s->nslots = n;
        for (size_t i = 0; i < s->n; i++)
                *wordset_slot(s, s->v[i]) = i + 1;
}

static void wordset_add(void *ctx, const char *w)
{
        struct wordset *s = ctx;
        if (off_stop_word(w))
                return;
        if (2 * (s->n + 1) > s->nslots)
                wordset_grow(s);
        size_t *slot = wordset_slot(s, w);
        if (*slot)
                return;
        if (s->n == s->cap) {
                s->cap = s->cap ? 2 * s->cap : 16;
                s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
        }
        s->v[s->n++] = xstrdup(w);
        *slot = s->n;
}

static bool wordset_has(const struct wordset *s, const char *w)
{
        return s->nslots && *wordset_slot(s, w);
}

static void wordset_free(struct wordset *s)
{
        for (size_t i = 0; i < s->n; i++)
                free(s->v[i]);
        free(s->v);
        free(s->slot);
        *s = (struct wordset){0};
}

/* ---- scoring ---- */

struct score {
        double total;     /* what ranks the tools */
        double relevance; /* how well the words match: the tool fits past OFF_FIT_MIN */
        double name;      /* the part from the tool's name */
        size_t verb;      /* the request token that matched the name (SIZE_MAX: none) */
        size_t missing;   /* required arguments the request does not give */
};

struct skip_ctx {
        const struct wordset *name;
};

static bool skip_name_word(void *ctx, const char *w)
{
        const struct skip_ctx *s = ctx;
        return wordset_has(s->name, w);
}

/* Whether the token names the tool: its name, API name or SERVER/NAME (full). */
static bool token_is(const struct off_token *t, const struct agent_tool *tool, const char *full)
{
        if (t->kind != OFF_WORD && t->kind != OFF_PATH)
                return false;
        return !strcasecmp(t->text, tool->name) || !strcasecmp(t->text, tool->api_name) ||
               !strcasecmp(t->text, full);
}

/* Best weight of a concept equal to w, and the earliest token giving it. */
static double best_match(const struct concepts *c, const char *w, size_t *tok)
{
        double best = 0;
        for (size_t i = 0; i < c->n; i++)
                if (!strcmp(c->v[i].w, w) &&
                    (c->v[i].weight > best ||
                     (c->v[i].weight == best && tok && c->v[i].tok < *tok))) {
                        best = c->v[i].weight;
                        if (tok)
                                *tok = c->v[i].tok;
                }
        return best;
}

static void fill_args(struct off_req *r, const struct agent_tool *t, size_t verb, json_t *args,
                      bool whole_answer)
{
        struct wordset name = {0};
        off_words(t->name, true, wordset_add, &name);
        struct skip_ctx sc = {&name};
        struct off_fill f = {.rest_from = verb == SIZE_MAX ? 0 : verb + 1,
                             .skip = skip_name_word,
                             .skip_ctx = &sc,
                             .whole_answer = whole_answer};
        off_extract(r, t->input_schema, args, &f);
        wordset_free(&name);
}

static void score_tool(struct off_req *r, const struct concepts *c, const struct agent_tool *t,
                       struct score *s)
{
        *s = (struct score){.verb = SIZE_MAX};
        struct wordset name = {0}, props = {0}, desc = {0};
        off_words(t->name, true, wordset_add, &name);
        const json_t *pv = json_object_get(t->input_schema, "properties");
        const char *pname;
        const json_t *ps;
        json_object_foreach((json_t *)pv, pname, ps)
        {
                off_words(pname, true, wordset_add, &props);
                off_words(json_string_value(json_object_get(ps, "description")), true, wordset_add,
                          &desc);
        }
        off_words(t->description, true, wordset_add, &desc);

        size_t unmatched = 0;
        for (size_t i = 0; i < name.n; i++) {
                size_t tok = SIZE_MAX;
                double w = best_match(c, name.v[i], &tok);
                s->name += 3 * w;
                if (w >= 0.9 && (s->verb == SIZE_MAX || tok < s->verb))
                        s->verb = tok;
                if (w == 0)
                        unmatched++;
        }
        double prop = 0, dsc = 0;
        for (size_t i = 0; i < props.n; i++)
                prop += 1.5 * best_match(c, props.v[i], NULL);
        for (size_t i = 0; i < desc.n; i++)
                dsc += 0.5 * best_match(c, desc.v[i], NULL);
        if (dsc > 2)
                dsc = 2;
        s->relevance = s->name + prop + dsc;
        char *full = xasprintf("%s/%s", t->server, t->name);
        for (size_t i = 0; i < r->n; i++)
                if (token_is(&r->v[i], t, full)) {
                        s->relevance += 10;
                        s->name += 10;
                        if (s->verb == SIZE_MAX || i > s->verb)
                                s->verb = i;
                }
        free(full);
        s->total = s->relevance - 0.6 * (double)unmatched;
        const char *d = t->description;
        if (d && (strstr(d, "DEPRECATED") || strstr(d, "deprecated")))
                s->total -= 2;

        /* how well the request's values fit the arguments */
        off_req_reset(r);
        json_t *args = json_object();
        fill_args(r, t, s->verb, args, false);
        json_t *missing = off_missing(t->input_schema, args);
        s->missing = json_array_size(missing);
        s->total -= 0.3 * (double)s->missing;
        for (size_t i = 0; i < r->n; i++) {
                if (r->v[i].kind == OFF_WORD)
                        continue;
                s->total += r->v[i].used ? 0.5 : -0.3;
        }
        json_decref(missing);
        json_decref(args);
        off_req_reset(r);

        wordset_free(&name);
        wordset_free(&props);
        wordset_free(&desc);
}

/* The best tool for the request, or NULL when none fits. */
static const struct agent_tool *choose(struct off_req *r, const struct agent_toolset *ts,
                                       struct score *best)
{
        struct concepts c;
        request_concepts(r, &c);
        const struct agent_tool *pick = NULL;
        for (size_t i = 0; i < ts->n; i++) {
                struct score s;
                score_tool(r, &c, &ts->v[i], &s);
                if (s.relevance > 0)
                        log_debug("offline planner: %s/%s scores %.2f (words %.2f, name %.2f, "
                                  "%zu missing)",
                                  ts->v[i].server, ts->v[i].name, s.total, s.relevance, s.name,
                                  s.missing);
                if (s.relevance < OFF_FIT_MIN)
                        continue;
                bool better = !pick || s.total > best->total + 1e-9 ||
                              (s.total > best->total - 1e-9 &&
                               (s.missing < best->missing ||
                                (s.missing == best->missing && s.name > best->name + 1e-9)));
                if (better) {
                        pick = &ts->v[i];
                        *best = s;
                }
        }
        concepts_free(&c);
        return pick;
}

/* ---- answers ---- */

static char *tool_label(const struct agent_tool *t)
{
        return xasprintf("%s/%s", t->server, t->name);
}

static int answer(struct agent_step *out, char *text)
{
        out->text = text;
        return 0;
}

static int ask(struct agent_step *out, const struct agent_tool *t, const json_t *missing)
{
        strbuf b = {0};
        sb_addf(&b, OFF_ASK "%s/%s" OFF_ASK_END " %s:\n", t->server, t->name,
                json_array_size(missing) == 1 ? "this argument" : "these arguments");
        const json_t *props = json_object_get(t->input_schema, "properties");
        size_t i;
        const json_t *m;
        json_array_foreach(missing, i, m)
        {
                const char *name = json_string_value(m);
                const json_t *ps = json_object_get(props, name);
                const char *desc = json_string_value(json_object_get(ps, "description"));
                const char *type = json_string_value(json_object_get(ps, "type"));
                sb_addf(&b, "  - %s", name);
                if (desc)
                        sb_addf(&b, ": %s", desc);
                if (type)
                        sb_addf(&b, " (%s)", type);
                sb_add(&b, "\n");
        }
        sb_addf(&b, "Reply with %s (or name=value).",
                json_array_size(missing) == 1 ? "the value" : "the values");
        out->needs_input = true;
        return answer(out, sb_steal(&b));
}

static size_t calls_so_far(const struct agent_convo *c)
{
        size_t n = 0;
        for (size_t i = 0; i < c->n; i++)
                if (c->v[i].role == AGENT_ASSISTANT)
                        n += c->v[i].ncalls;
        return n;
}

static int call(struct agent_step *out, const struct agent_convo *c, const struct agent_tool *t,
                json_t *args)
{
        out->ncalls = 1;
        out->calls = xcalloc(1, sizeof(*out->calls));
        out->calls[0].id = xasprintf("offline-%zu", calls_so_far(c) + 1);
        out->calls[0].tool = t;
        out->calls[0].arguments = args;
        char *a = json_dumps(args, JSON_COMPACT | JSON_SORT_KEYS);
        out->text = xasprintf(OFF_PREFIX "Calling %s/%s %s", t->server, t->name, a ? a : "{}");
        free(a);
        return 0;
}

static int no_tool(struct agent_step *out, const char *request, const struct agent_toolset *ts)
{
        strbuf b = {0};
        if (!ts->n) {
                sb_add(&b, OFF_PREFIX "No tools are available: no MCP server is configured "
                                      "(add one with 'osvm mcp add').");
                return answer(out, sb_steal(&b));
        }
        /* the request as said, shortened when long */
        size_t len = strlen(request);
        int shown_len = len > 120 ? 100 : (int)len;
        while (shown_len > 0 && ((unsigned char)request[shown_len] & 0xC0) == 0x80)
                shown_len--;
        sb_addf(&b,
                OFF_PREFIX "No tool fits \"%.*s%s\". The offline planner matches a request "
                           "against the tools' names and descriptions; name what a tool does, e.g. "
                           "\"echo hello\" or \"list the files in /tmp\". Available tools:",
                shown_len, request, (size_t)shown_len < len ? "..." : "");
        /* a few of each server's, in turns */
        const size_t few = 8;
        size_t shown = 0;
        for (size_t round = 0; shown < few && round < ts->n; round++) {
                for (size_t i = 0; i < ts->n && shown < few; i++) {
                        /* tool i is its server's round-th when round tools of it precede */
                        size_t before = 0;
                        bool first_of_server = true;
                        for (size_t k = 0; k < i; k++)
                                if (!strcmp(ts->v[k].server, ts->v[i].server))
                                        before++;
                        for (size_t k = 0; k < i && round == 0; k++)
                                if (!strcmp(ts->v[k].server, ts->v[i].server))
                                        first_of_server = false;
                        if (before != round || (round == 0 && !first_of_server))
                                continue;
                        sb_addf(&b, "%s %s/%s", shown ? "," : "", ts->v[i].server, ts->v[i].name);
                        shown++;
                }
        }
        if (ts->n > shown)
                sb_addf(&b, " and %zu more", ts->n - shown);
        sb_add(&b, ". Configure an LLM (OSVM_AI_URL, OSVM_AI_MODEL, OSVM_AI_KEY) for free-form "
                   "requests.");
        return answer(out, sb_steal(&b));
}

/* The call a tool message answers, searched in the assistant messages. */
static const struct agent_call *find_call(const struct agent_convo *c, const char *id)
{
        for (size_t i = c->n; id && i-- > 0;) {
                const struct agent_msg *m = &c->v[i];
                for (size_t k = 0; m->role == AGENT_ASSISTANT && k < m->ncalls; k++)
                        if (m->calls[k].id && !strcmp(m->calls[k].id, id))
                                return &m->calls[k];
        }
        return NULL;
}

/* text trimmed of surrounding white space and cut at OFF_ANSWER_MAX bytes on
 * a character boundary. */
static void add_output(strbuf *b, const char *text)
{
        if (!text)
                text = "";
        while (isspace((unsigned char)*text))
                text++;
        size_t n = strlen(text);
        while (n && isspace((unsigned char)text[n - 1]))
                n--;
        if (!n) {
                sb_add(b, "(no output)");
                return;
        }
        size_t keep = n;
        if (keep > OFF_ANSWER_MAX) {
                keep = OFF_ANSWER_MAX;
                while (keep && ((unsigned char)text[keep] & 0xC0) == 0x80)
                        keep--;
        }
        sb_addf(b, "%.*s", (int)keep, text);
        if (keep < n)
                sb_addf(b, "\n... (%zu more bytes not shown)", n - keep);
}

static int from_results(struct agent_step *out, const struct agent_convo *c)
{
        size_t first = c->n;
        while (first > 0 && c->v[first - 1].role == AGENT_TOOL)
                first--;
        strbuf b = {0};
        sb_add(&b, OFF_PREFIX);
        for (size_t i = first; i < c->n; i++) {
                const struct agent_msg *m = &c->v[i];
                const struct agent_call *call = find_call(c, m->call_id);
                char *label = call && call->tool ? tool_label(call->tool)
                                                 : xstrdup(m->call_id ? m->call_id : "the tool");
                if (i > first)
                        sb_add(&b, "\n\n");
                sb_addf(&b, m->is_error ? "%s failed:\n" : "Ran %s:\n", label);
                add_output(&b, m->text);
                free(label);
        }
        return answer(out, sb_steal(&b));
}

/* ---- questions and their answers ---- */

/* The tool an earlier question of ours asked arguments for, or NULL. */
static const struct agent_tool *asked_for(const struct agent_msg *m, const struct agent_toolset *ts)
{
        if (m->role != AGENT_ASSISTANT || m->ncalls || !m->text ||
            strncmp(m->text, OFF_ASK, strlen(OFF_ASK)))
                return NULL;
        const char *label = m->text + strlen(OFF_ASK);
        const char *end = strstr(label, OFF_ASK_END);
        if (!end)
                return NULL;
        for (size_t i = 0; i < ts->n; i++) {
                char *l = tool_label(&ts->v[i]);
                bool same = strlen(l) == (size_t)(end - label) && !strncmp(l, label, strlen(l));
                free(l);
                if (same)
                        return &ts->v[i];
        }
        return NULL;
}

static bool cancels(const char *text)
{
        static const char *const words[] = {"cancel", "never mind", "nevermind", "forget it",
                                            "abort",  "stop",       "no",        NULL};
        while (isspace((unsigned char)*text))
                text++;
        for (size_t i = 0; words[i]; i++) {
                size_t n = strlen(words[i]);
                if (!strncasecmp(text, words[i], n)) {
                        const char *p = text + n;
                        while (*p && (isspace((unsigned char)*p) || ispunct((unsigned char)*p)))
                                p++;
                        if (!*p)
                                return true;
                }
        }
        return false;
}

/*
 * The answer to our question for tool t (the user message at index last):
 * the original request and every answer since, in order, fill the arguments.
 */
static int answer_question(struct agent_step *out, const struct agent_convo *c, size_t last,
                           const struct agent_toolset *ts, const struct agent_tool *t)
{
        size_t chain[64], n = 0;
        size_t i = last;
        for (;;) {
                chain[n++] = i;
                if (n == sizeof(chain) / sizeof(chain[0]) || i < 2 ||
                    asked_for(&c->v[i - 1], ts) != t || c->v[i - 2].role != AGENT_USER)
                        break;
                i -= 2;
        }
        json_t *args = json_object();
        for (size_t k = n; k-- > 0;) {
                struct off_req r;
                off_req_parse(&r, c->v[chain[k]].text);
                if (k == n - 1 && n > 1) {
                        /* the original request: choose the verb as the choice did */
                        struct concepts cs;
                        request_concepts(&r, &cs);
                        struct score s;
                        score_tool(&r, &cs, t, &s);
                        concepts_free(&cs);
                        fill_args(&r, t, s.verb, args, false);
                } else {
                        fill_args(&r, t, SIZE_MAX, args, true);
                }
                off_req_free(&r);
        }
        json_t *missing = off_missing(t->input_schema, args);
        int rc =
            json_array_size(missing) ? ask(out, t, missing) : call(out, c, t, json_incref(args));
        json_decref(missing);
        json_decref(args);
        return rc;
}

static int plan_request(struct agent_step *out, const struct agent_convo *c, size_t last,
                        const struct agent_toolset *ts)
{
        const char *text = c->v[last].text ? c->v[last].text : "";
        struct off_req r;
        off_req_parse(&r, text);
        if (!r.n) {
                off_req_free(&r);
                return answer(out, xstrdup(OFF_PREFIX "What should I do? Name a tool's action, "
                                                      "e.g. \"echo hello\"."));
        }
        struct score s = {.verb = SIZE_MAX};
        const struct agent_tool *t = choose(&r, ts, &s);

        /* an answer to our question, unless it is plainly a new request: one that
         * names another tool and gives all it needs */
        const struct agent_tool *pending = last > 0 ? asked_for(&c->v[last - 1], ts) : NULL;
        if (pending && cancels(text)) {
                off_req_free(&r);
                return answer(out, xasprintf(OFF_PREFIX "Cancelled: %s/%s was not run.",
                                             pending->server, pending->name));
        }
        if (pending && (!t || t == pending || s.name < 3 || s.missing)) {
                off_req_free(&r);
                return answer_question(out, c, last, ts, pending);
        }
        if (!t) {
                off_req_free(&r);
                return no_tool(out, text, ts);
        }
        json_t *args = json_object();
        fill_args(&r, t, s.verb, args, false);
        off_req_free(&r);
        json_t *missing = off_missing(t->input_schema, args);
        int rc;
        if (json_array_size(missing)) {
                rc = ask(out, t, missing);
                json_decref(args);
        } else {
                rc = call(out, c, t, args);
        }
        json_decref(missing);
        return rc;
}

static int offline_plan(struct agent_planner *p, const struct agent_convo *c,
                        const struct agent_toolset *ts, struct agent_step *out, osvm_err *e)
{
        (void)p, (void)e;
        *out = (struct agent_step){0};
        if (!c || !c->n)
                return answer(out, xstrdup(OFF_PREFIX "What should I do?"));
        const struct agent_msg *m = &c->v[c->n - 1];
        if (m->role == AGENT_TOOL)
                return from_results(out, c);
        if (m->role != AGENT_USER)
                return answer(out, xstrdup(OFF_PREFIX "Nothing to do."));
        struct agent_toolset none = {0};
        return plan_request(out, c, c->n - 1, ts ? ts : &none);
}

static void offline_free(struct agent_planner *p)
{
        free(p);
}

static const struct agent_planner_ops offline_ops = {
    .name = "offline",
    .plan = offline_plan,
    .free = offline_free,
};

struct agent_planner *agent_planner_offline(void)
{
        struct agent_planner *p = xcalloc(1, sizeof(*p));
        p->ops = &offline_ops;
        return p;
}
