/*
 * The agent loop: the planner decides, the runner has each call run wherever
 * the isolation policy routes it, the results go back, until the planner
 * answers.
 */
#include "agent/agent.h"

#include <errno.h>
#include <string.h>

/* A tool result goes back to the planner as text of at most this many bytes. */
#define RESULT_TEXT_MAX (64 * 1024)

struct agent {
        struct agent_runner run;
        struct agent_planner *planner;
        struct agent_toolset ts;
        struct agent_toolset *retired; /* sets replaced by agent_set_tools: the
                                        * conversation's calls still point into them */
        size_t nretired;
        struct agent_convo convo;
        unsigned max_rounds;
};

struct agent *agent_new(const struct agent_runner *runner, struct agent_toolset *ts,
                        struct agent_planner *planner, unsigned max_rounds)
{
        struct agent *a = xcalloc(1, sizeof(*a));
        a->run = *runner;
        a->planner = planner;
        a->max_rounds = max_rounds ? max_rounds : 8;
        a->ts = *ts;
        memset(ts, 0, sizeof(*ts));
        log_debug("agent: %zu tools, planner %s", a->ts.n, planner->ops->name);
        return a;
}

const struct agent_toolset *agent_tools(const struct agent *a)
{
        return &a->ts;
}

void agent_set_tools(struct agent *a, struct agent_toolset *ts)
{
        a->retired = xrealloc(a->retired, (a->nretired + 1) * sizeof(*a->retired));
        a->retired[a->nretired++] = a->ts;
        a->ts = *ts;
        memset(ts, 0, sizeof(*ts));
        log_debug("agent: now %zu tools", a->ts.n);
}

const char *agent_planner_name(const struct agent *a)
{
        return a->planner->ops->name;
}

void agent_free(struct agent *a)
{
        if (!a)
                return;
        agent_convo_free(&a->convo);
        agent_toolset_free(&a->ts);
        for (size_t i = 0; i < a->nretired; i++)
                agent_toolset_free(&a->retired[i]);
        free(a->retired);
        a->planner->ops->free(a->planner);
        free(a);
}

/* The result as text for the planner: text blocks, others summarized, bounded. */
static char *result_text(json_t *result)
{
        strbuf b = {0};
        size_t i;
        json_t *blk;
        json_array_foreach(json_object_get(result, "content"), i, blk)
        {
                const char *type = json_string_value(json_object_get(blk, "type"));
                const char *text = json_string_value(json_object_get(blk, "text"));
                if (b.len)
                        sb_add(&b, "\n");
                if (type && !strcmp(type, "text") && text)
                        sb_add(&b, text);
                else if (type && !strcmp(type, "resource")) {
                        json_t *r = json_object_get(blk, "resource");
                        const char *rt = json_string_value(json_object_get(r, "text"));
                        const char *uri = json_string_value(json_object_get(r, "uri"));
                        sb_addf(&b, "%s", rt ? rt : uri ? uri : "[resource]");
                } else {
                        const char *mime = json_string_value(json_object_get(blk, "mimeType"));
                        sb_addf(&b, "[%s%s%s]", type ? type : "content", mime ? " " : "",
                                mime ? mime : "");
                }
        }
        json_t *sc = json_object_get(result, "structuredContent");
        if (!b.len && sc) {
                char *s = json_dumps(sc, JSON_COMPACT);
                sb_add(&b, s ? s : "");
                free(s);
        }
        if (b.len > RESULT_TEXT_MAX) {
                /* Cut at a character boundary and say so. */
                size_t cut = RESULT_TEXT_MAX;
                while (cut && ((unsigned char)b.s[cut] & 0xC0) == 0x80)
                        cut--;
                b.s[cut] = '\0';
                b.len = cut;
                sb_add(&b, "\n[... cut: the result was longer]");
        }
        return sb_steal(&b);
}

static json_t *reasons_json(const struct iso_decision *d)
{
        json_t *arr = json_array();
        for (size_t i = 0; i < d->nreasons; i++)
                json_array_append_new(arr, json_string(d->reasons[i].text));
        return arr;
}

/* Runs one call; appends its tool message and its trace entry. false: cancelled. */
static bool run_call(struct agent *a, const struct agent_call *call, const struct agent_ui *ui,
                     volatile sig_atomic_t *cancel, json_t *calls_trace)
{
        json_t *egress = json_array();
        bool egress_seen = false;
        struct mcp_call_opts o = {
            .cancel = cancel,
            .on_progress = ui ? ui->progress : NULL,
            .progress_ctx = ui ? ui->ctx : NULL,
            .egress = egress,
            .egress_seen = &egress_seen,
        };
        struct iso_decision dec;
        a->run.ops->decide(a->run.ctx, call->tool->server, call->tool->name, &dec);
        if (ui && ui->tool_start)
                ui->tool_start(ui->ctx, call, &dec);
        osvm_err e = {0};
        uint64_t t0 = time_mono_ns();
        json_t *result = a->run.ops->run(a->run.ctx, &dec, call->arguments, &o, &e);
        double ms = (double)(time_mono_ns() - t0) / 1e6;
        bool cancelled = !result && (e.code == MCP_E_CANCELLED || (cancel && *cancel));
        bool is_error = !result || json_is_true(json_object_get(result, "isError"));
        const char *outcome = result                       ? (is_error ? "error" : "ok")
                              : cancelled                  ? "cancelled"
                              : e.exit == OSVM_EXIT_DENIED ? "refused"
                                                           : "failed";
        if (ui && ui->tool_end)
                ui->tool_end(ui->ctx, call, result, !is_error, ms, egress_seen ? egress : NULL);

        json_t *entry =
            json_pack("{s:s, s:s, s:O, s:s, s:b, s:o, s:f, s:s}", "server", call->tool->server,
                      "tool", call->tool->name, "arguments", call->arguments, "mode",
                      iso_route_name(dec.route), "fell_back", dec.fell_back, "reasons",
                      reasons_json(&dec), "duration_ms", ms, "outcome", outcome);
        if (dec.route == ISO_ROUTE_UNIKERNEL) /* a VM (kvm) or a trapped process */
                json_object_set_new(entry, "platform",
                                    json_string(iso_platform_name(dec.platform)));
        if (dec.route == ISO_ROUTE_DIRECT && dec.tier) /* where its server runs */
                json_object_set_new(entry, "tier", json_string(dec.tier));
        /* what it reached out to, as its audit record has it; null: not seen */
        json_object_set_new(entry, "egress", egress_seen ? json_incref(egress) : json_null());
        json_decref(egress);
        if (result)
                json_object_set(entry, "result", result);
        else
                json_object_set_new(entry, "error", json_string(e.msg));
        json_array_append_new(calls_trace, entry);

        char *text = result ? result_text(result) : xstrdup(e.msg);
        agent_convo_add_tool(&a->convo, call->id, text, is_error);
        free(text);
        json_decref(result);
        iso_decision_free(&dec);
        return !cancelled;
}

/*
 * The turn's calls that did not succeed and were not made good: a call
 * counts unless a later call of the same tool in the same turn succeeded
 * (the planner fixed its arguments, or the server came back). Each entry:
 * server, tool, outcome, and the error (or the tool's own words).
 */
static json_t *unrecovered_calls(json_t *rounds)
{
        json_t *last = json_object(); /* "server/tool" -> its last call */
        size_t i, k;
        json_t *round, *call;
        json_array_foreach(rounds, i, round)
        {
                json_array_foreach(json_object_get(round, "calls"), k, call)
                {
                        char *key =
                            xasprintf("%s/%s", json_string_value(json_object_get(call, "server")),
                                      json_string_value(json_object_get(call, "tool")));
                        json_object_set(last, key, call);
                        free(key);
                }
        }
        json_t *out = json_array();
        const char *key;
        json_object_foreach(last, key, call)
        {
                const char *outcome = json_string_value(json_object_get(call, "outcome"));
                if (!outcome || !strcmp(outcome, "ok") || !strcmp(outcome, "cancelled"))
                        continue;
                json_t *err = json_object_get(call, "error");
                char *words = err ? xstrdup(json_string_value(err))
                                  : result_text(json_object_get(call, "result"));
                json_array_append_new(out, json_pack("{s:O, s:O, s:s, s:s}", "server",
                                                     json_object_get(call, "server"), "tool",
                                                     json_object_get(call, "tool"), "outcome",
                                                     outcome, "error", words ? words : ""));
                free(words);
        }
        json_decref(last);
        return out;
}

int agent_calls_exit(json_t *trace)
{
        int code = OSVM_EXIT_OK;
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(trace, "unrecovered_calls"), i, c)
        {
                if (!strcmp(json_string_value(json_object_get(c, "outcome")), "refused"))
                        code = OSVM_EXIT_DENIED;
                else if (code == OSVM_EXIT_OK)
                        code = OSVM_EXIT_FAILURE;
        }
        return code;
}

int agent_ask(struct agent *a, const char *prompt, const struct agent_ui *ui,
              volatile sig_atomic_t *cancel, char **answer, json_t **trace, osvm_err *e)
{
        *answer = NULL;
        agent_convo_add_user(&a->convo, prompt);
        json_t *rounds = json_array();
        json_t *t = json_pack("{s:s, s:s, s:o}", "prompt", prompt, "planner", a->planner->ops->name,
                              "rounds", rounds);
        a->planner->cancel = cancel;
        int r = -1;
        for (unsigned round = 0;; round++) {
                if (round == a->max_rounds) {
                        err_set(e, ELOOP, "no answer after %u rounds of tool calls (the limit)",
                                a->max_rounds);
                        break;
                }
                struct agent_step step = {0};
                if (a->planner->ops->plan(a->planner, &a->convo, &a->ts, &step, e) < 0) {
                        agent_step_free(&step);
                        err_wrap(e, "the %s planner", a->planner->ops->name);
                        break;
                }
                if (step.ncalls == 0) {
                        const char *text = step.text ? step.text : "";
                        *answer = xstrdup(text);
                        json_object_set_new(t, "answer", json_string(text));
                        json_object_set_new(t, "needs_input", json_boolean(step.needs_input));
                        r = step.needs_input ? 1 : 0;
                        agent_convo_add_assistant(&a->convo, &step);
                        agent_step_free(&step);
                        break;
                }
                json_t *calls = json_array();
                json_array_append_new(rounds,
                                      json_pack("{s:s?, s:o}", "text", step.text, "calls", calls));
                agent_convo_add_assistant(&a->convo, &step);
                agent_step_free(&step);
                /* Tool messages are appended as calls run (convo.v moves); the calls
                 * array of the assistant message does not. */
                const size_t at = a->convo.n - 1, ncalls = a->convo.v[at].ncalls;
                const struct agent_call *calls_of = a->convo.v[at].calls;
                bool go_on = true;
                for (size_t i = 0; i < ncalls; i++) {
                        if (go_on) {
                                go_on = run_call(a, &calls_of[i], ui, cancel, calls);
                                continue;
                        }
                        /* Every call gets its answer, or the APIs reject the conversation. */
                        agent_convo_add_tool(&a->convo, calls_of[i].id,
                                             "not run: the user cancelled the turn", true);
                }
                if (!go_on) {
                        err_set(e, MCP_E_CANCELLED, "cancelled: the tool call was stopped");
                        e->exit = OSVM_EXIT_INTERRUPTED;
                        break;
                }
        }
        if (r < 0)
                json_object_set_new(t, "error", json_string(e->msg));
        json_object_set_new(t, "unrecovered_calls", unrecovered_calls(rounds));
        if (trace)
                *trace = t;
        else
                json_decref(t);
        return r;
}
