/*
 * What a server asks of the person in the chat: an elicitation's form, a
 * URL to open, and the consent to a sampling request, answered through the
 * agent's configured LLM. On the host the hub's handlers ask (agent_session.c);
 * inside μVM-1 the supervisor forwards a server's request to the agent,
 * which asks the same way (ui_ask), its LLM request a host call like its
 * planner's. Every word from the server is sanitized before it is shown;
 * what the person types is checked against the schema by the client before
 * it is sent (mcp_elicit_fill).
 */
#include "agent/agent.h"
#include "ui/ui.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define ASK_LINE_MAX  4096
#define ASK_TRIES     3    /* a field answered wrongly this many times cancels */
#define ASK_SHOWN_MAX 2000 /* bytes of a server's text shown */

/* One line from the terminal; NULL at its end or on Ctrl-C (*cancelled set). */
static char *read_answer(bool *cancelled)
{
        char buf[ASK_LINE_MAX];
        size_t n = 0;
        *cancelled = false;
        if (!isatty(STDIN_FILENO)) {
                /* the chat reads a script's lines through stdin's buffer: so does this */
                if (!fgets(buf, sizeof(buf), stdin))
                        return NULL;
                buf[strcspn(buf, "\n")] = '\0';
                fprintf(stderr, "%s\n", buf[0] ? "(answered)" : "(empty)");
                return xstrdup(buf);
        }
        for (;;) {
                if (ui_interrupted) {
                        *cancelled = true;
                        return NULL;
                }
                char c;
                ssize_t k = read(STDIN_FILENO, &c, 1);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return n ? xstrdup((buf[n] = '\0', buf)) : NULL;
                if (c == '\n')
                        break;
                if (n + 1 < sizeof(buf))
                        buf[n++] = c;
        }
        buf[n] = '\0';
        return xstrdup(buf);
}

/* A server's words on stderr, sanitized, cut at ASK_SHOWN_MAX. */
static void say(const char *label, const char *s)
{
        if (!s)
                return;
        size_t n = strlen(s);
        strbuf b = {0};
        sb_add_sanitized(&b, s, n < ASK_SHOWN_MAX ? n : ASK_SHOWN_MAX, TEXT_MULTILINE);
        fprintf(stderr, "%s%s%s\n", label, b.s ? b.s : "", n > ASK_SHOWN_MAX ? "..." : "");
        sb_free(&b);
}

static const char *str_of(json_t *o, const char *k)
{
        return json_string_value(json_object_get(o, k));
}

/* The choices of a property (enum, or oneOf/anyOf consts; for an array, its items'). */
static json_t *choices_of(json_t *ps)
{
        json_t *items = json_object_get(ps, "items");
        if (items)
                ps = items;
        json_t *out = json_array();
        json_t *en = json_object_get(ps, "enum");
        size_t i;
        json_t *v;
        json_array_foreach(en, i, v) json_array_append(out, v);
        json_t *of = json_object_get(ps, "oneOf");
        if (!of)
                of = json_object_get(ps, "anyOf");
        json_array_foreach(of, i, v) if (json_object_get(v, "const"))
            json_array_append(out, json_object_get(v, "const"));
        return out;
}

/* The person's text as a value of the property, or NULL with why. */
static json_t *parse_value(json_t *ps, const char *text, const char **why)
{
        const char *type = str_of(ps, "type");
        json_t *ch = choices_of(ps);
        json_t *v = NULL;
        if (type && !strcmp(type, "array")) {
                v = json_array();
                char *copy = xstrdup(text), *save = NULL;
                for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                        while (*t == ' ')
                                t++;
                        size_t n = strlen(t);
                        while (n && t[n - 1] == ' ')
                                t[--n] = '\0';
                        json_array_append_new(v, json_string(t));
                }
                free(copy);
        } else if (type && (!strcmp(type, "integer") || !strcmp(type, "number"))) {
                char *end;
                errno = 0;
                double d = strtod(text, &end);
                if (!*text || *end || errno || !isfinite(d))
                        *why = "not a number";
                else if (!strcmp(type, "integer") && d != (double)(json_int_t)d)
                        *why = "not a whole number";
                else
                        v = !strcmp(type, "integer") ? json_integer((json_int_t)d) : json_real(d);
        } else if (type && !strcmp(type, "boolean")) {
                if (!strcasecmp(text, "y") || !strcasecmp(text, "yes") || !strcasecmp(text, "true"))
                        v = json_true();
                else if (!strcasecmp(text, "n") || !strcasecmp(text, "no") ||
                         !strcasecmp(text, "false"))
                        v = json_false();
                else
                        *why = "answer yes or no";
        } else {
                v = json_string(text);
        }
        if (v && json_array_size(ch)) {
                /* each value (each item of a list) must be one of the choices */
                json_t *each = json_is_array(v) ? v : NULL;
                size_t i, k;
                json_t *x, *c;
                bool ok = true;
                json_array_foreach(each ? each : ch, i, x)
                {
                        if (!each && i > 0)
                                break;
                        json_t *val = each ? x : v;
                        bool found = false;
                        json_array_foreach(ch, k, c) found |= json_equal(c, val);
                        ok &= found;
                }
                if (!ok) {
                        *why = "not one of the choices";
                        json_decref(v);
                        v = NULL;
                }
        }
        json_decref(ch);
        return v;
}

static void describe_field(const char *key, json_t *ps, bool required)
{
        const char *title = str_of(ps, "title"), *desc = str_of(ps, "description");
        const char *type = str_of(ps, "type");
        strbuf b = {0};
        sb_add_sanitized(&b, title ? title : key, strlen(title ? title : key), 0);
        sb_addf(&b, " (%s%s", type ? type : "text", required ? ", required" : "");
        json_t *ch = choices_of(ps);
        if (json_array_size(ch)) {
                char *c = json_dumps(ch, JSON_COMPACT);
                sb_add(&b, type && !strcmp(type, "array") ? "; some of " : "; one of ");
                sb_add_sanitized(&b, c, strlen(c) < 200 ? strlen(c) : 200, 0);
                free(c);
        }
        json_decref(ch);
        json_t *dflt = json_object_get(ps, "default");
        if (dflt) {
                char *d =
                    json_dumps(dflt, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(12));
                sb_add(&b, "; Enter takes ");
                sb_add_sanitized(&b, d, strlen(d) < 100 ? strlen(d) : 100, 0);
                free(d);
        }
        sb_add(&b, ")");
        if (desc) {
                sb_add(&b, ": ");
                sb_add_sanitized(&b, desc, strlen(desc) < 300 ? strlen(desc) : 300, 0);
        }
        fprintf(stderr, "  %s\n  > ", b.s);
        fflush(stderr);
        sb_free(&b);
}

static json_t *result(const char *action, json_t *content)
{
        json_t *r = json_pack("{s:s}", "action", action);
        if (content)
                json_object_set_new(r, "content", content);
        return r;
}

/* The form, field by field: "!decline" declines, "!cancel", Ctrl-C or Ctrl-D cancels. */
static json_t *ask_form(json_t *params)
{
        json_t *schema = json_object_get(params, "requestedSchema");
        json_t *props = json_object_get(schema, "properties");
        json_t *required = json_object_get(schema, "required");
        fprintf(stderr, "  (Enter leaves a field empty or takes its default; type !decline to "
                        "decline, !cancel or Ctrl-C to cancel)\n");
        json_t *content = json_object();
        const char *key;
        json_t *ps;
        json_object_foreach(props, key, ps)
        {
                bool req = false;
                size_t i;
                json_t *r;
                json_array_foreach(required, i, r) req |=
                    json_is_string(r) && !strcmp(json_string_value(r), key);
                for (int tries = 0;; tries++) {
                        if (tries == ASK_TRIES) {
                                json_decref(content);
                                fprintf(stderr, "  cancelled\n");
                                return result("cancel", NULL);
                        }
                        describe_field(key, ps, req);
                        bool cancelled;
                        char *line = read_answer(&cancelled);
                        if (!line || !strcmp(line, "!cancel")) {
                                free(line);
                                json_decref(content);
                                fprintf(stderr, "\n  cancelled\n");
                                return result("cancel", NULL);
                        }
                        if (!strcmp(line, "!decline")) {
                                free(line);
                                json_decref(content);
                                fprintf(stderr, "  declined\n");
                                return result("decline", NULL);
                        }
                        if (!*line) {
                                free(line);
                                if (req && !json_object_get(ps, "default")) {
                                        fprintf(stderr, "  this field is required\n");
                                        continue;
                                }
                                break; /* empty: the default, if any, is filled in */
                        }
                        const char *why = NULL;
                        json_t *v = parse_value(ps, line, &why);
                        free(line);
                        if (!v) {
                                fprintf(stderr, "  %s\n", why ? why : "not a valid answer");
                                continue;
                        }
                        json_object_set_new(content, key, v);
                        break;
                }
        }
        return result("accept", content);
}

static bool yes(const char *question, bool dflt)
{
        fprintf(stderr, "%s %s ", question, dflt ? "[Y/n]" : "[y/N]");
        fflush(stderr);
        bool cancelled;
        char *line = read_answer(&cancelled);
        bool r = line && *line ? (line[0] == 'y' || line[0] == 'Y') : (dflt && line);
        free(line);
        return r;
}

static json_t *chat_elicit(const char *server, json_t *params)
{
        const char *mode = str_of(params, "mode");
        _cleanup_free_ char *who = text_sanitize(server, 0);
        fprintf(stderr, "\n%s asks:\n", who);
        say("  ", str_of(params, "message"));
        if (mode && !strcmp(mode, "url")) {
                say("  It asks you to open: ", str_of(params, "url"));
                bool ok = yes("  Will you open it (it is the server's page, not osvm's)?", false);
                return result(ok ? "accept" : "decline", NULL);
        }
        if (mode && strcmp(mode, "form"))
                return result("decline", NULL);
        return ask_form(params);
}

/* ---- sampling: the server asks for an LLM completion ---- */

struct sampler {
        struct agent_planner *planner; /* its own, for these requests */
        const struct agent_ai_config *ai;
};

static struct sampler sampler;

/* The messages as plain text turns: [{role, text}]; NULL when one is not text. */
static json_t *text_turns(json_t *params)
{
        json_t *out = json_array();
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(params, "messages"), i, m)
        {
                json_t *c = json_object_get(m, "content");
                const char *role = str_of(m, "role");
                if (json_is_array(c)) /* several blocks: one text of their texts */
                        c = json_array_get(c, 0);
                const char *text = str_of(c, "text");
                if (!role || (strcmp(role, "user") && strcmp(role, "assistant")) || !text) {
                        json_decref(out);
                        return NULL;
                }
                json_array_append_new(out, json_pack("{s:s, s:s}", "role", role, "content", text));
        }
        return out;
}

static json_t *chat_sample(const char *server, json_t *params, osvm_err *e)
{
        if (!sampler.planner || !sampler.planner->ops->post || !sampler.ai->provider) {
                err_set(e, -1, "no LLM is configured in osvm");
                return NULL;
        }
        json_t *turns = text_turns(params);
        if (!turns) {
                err_set(e, -1, "osvm samples text messages only");
                return NULL;
        }
        _cleanup_free_ char *who = text_sanitize(server, 0);
        fprintf(stderr, "\n%s asks to use your LLM (%s) for this:\n", who, sampler.ai->model);
        say("  system: ", str_of(params, "systemPrompt"));
        size_t i;
        json_t *t;
        json_array_foreach(turns, i, t)
        {
                char label[32];
                snprintf(label, sizeof(label), "  %s: ", str_of(t, "role"));
                say(label, str_of(t, "content"));
        }
        if (!yes("  Send it to the LLM?", false)) {
                json_decref(turns);
                err_set(e, -1, "the user declined the sampling request");
                return NULL;
        }
        json_t *max = json_object_get(params, "maxTokens");
        json_int_t max_tokens =
            json_is_integer(max) && json_integer_value(max) > 0 && json_integer_value(max) < 65536
                ? json_integer_value(max)
                : 1024;
        const char *sys = str_of(params, "systemPrompt");
        bool anthropic = !strcmp(sampler.ai->provider, "anthropic");
        json_t *body =
            json_pack("{s:s, s:I}", "model", sampler.ai->model, "max_tokens", max_tokens);
        if (anthropic) {
                if (sys)
                        json_object_set_new(body, "system", json_string(sys));
        } else if (sys) {
                json_array_insert_new(turns, 0,
                                      json_pack("{s:s, s:s}", "role", "system", "content", sys));
        }
        json_object_set_new(body, "messages", turns);
        char *text = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        json_t *reply = NULL;
        sampler.planner->cancel = &ui_interrupted;
        int r = sampler.planner->ops->post(sampler.planner, text, &reply, e);
        free(text);
        if (r < 0)
                return NULL;
        const char *answer = NULL, *stop = NULL;
        if (anthropic) {
                answer = str_of(json_array_get(json_object_get(reply, "content"), 0), "text");
                stop = str_of(reply, "stop_reason");
        } else {
                json_t *c0 = json_array_get(json_object_get(reply, "choices"), 0);
                answer = str_of(json_object_get(c0, "message"), "content");
                stop = str_of(c0, "finish_reason");
        }
        if (!answer) {
                json_decref(reply);
                err_set(e, -1, "the LLM gave no text");
                return NULL;
        }
        say("  The LLM answers: ", answer);
        if (!yes("  Give this answer to the server?", true)) {
                json_decref(reply);
                err_set(e, -1, "the user withheld the LLM's answer");
                return NULL;
        }
        json_t *res =
            json_pack("{s:s, s:{s:s, s:s}, s:s, s:s}", "role", "assistant", "content", "type",
                      "text", "text", answer, "model", sampler.ai->model, "stopReason",
                      stop && (!strcmp(stop, "length") || !strcmp(stop, "max_tokens")) ? "maxTokens"
                                                                                       : "endTurn");
        json_decref(reply);
        return res;
}

void ui_ask_init(const struct agent_ai_config *ai)
{
        osvm_err e = {0};
        sampler.ai = ai;
        if (ai->provider && !sampler.planner && !(sampler.planner = agent_planner_new(ai, &e)))
                log_warn("sampling requests will be declined: %s", e.msg);
}

bool ui_ask_samples(void)
{
        return sampler.planner != NULL;
}

json_t *ui_ask(const char *kind, const char *server, json_t *params, osvm_err *e)
{
        if (!strcmp(kind, "elicit")) {
                return chat_elicit(server, params);
        }
        if (!strcmp(kind, "sample") && sampler.planner)
                return chat_sample(server, params, e);
        err_set(e, -1, "the chat does not answer %s requests", kind);
        return NULL;
}

void ui_ask_free(void)
{
        if (sampler.planner)
                sampler.planner->ops->free(sampler.planner);
        sampler.planner = NULL;
}
