/*
 * The chat's own commands: /help, /tools [SERVER], /status, /exit. The same
 * on the host and inside μVM-1, where what the host knows (where a tool
 * would run, the status line) comes through host calls.
 */
#include "ui/ui.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* /tools without a server decides at most this many tools (each a host
 * call inside μVM-1, which allows bursts of 200); past it, /tools SERVER. */
#define DECIDE_MAX     100
#define NAME_MAX_SHOWN 64

struct chat_cmd {
        const char *name, *args, *help;
        enum ui_chat_result (*run)(struct ui_session *s, const char *args);
};

static enum ui_chat_result cmd_help(struct ui_session *s, const char *args);
static enum ui_chat_result cmd_tools(struct ui_session *s, const char *args);
static enum ui_chat_result cmd_status(struct ui_session *s, const char *args);
static enum ui_chat_result cmd_exit(struct ui_session *s, const char *args);

static const struct chat_cmd chat_cmds[] = {
    {"help", "", "these commands", cmd_help},
    {"tools", "[SERVER]", "the tools the agent can call, by server, and where each runs",
     cmd_tools},
    {"status", "", "the status line, where the agent runs, its planner and servers", cmd_status},
    {"exit", "", "leave the chat (also /quit, exit, Ctrl-D)", cmd_exit},
    {"quit", NULL, NULL, cmd_exit}, /* not listed: /exit says it */
};
#define NCMDS (sizeof(chat_cmds) / sizeof(chat_cmds[0]))

static unsigned term_width(void)
{
        unsigned w = ui_term_columns(STDOUT_FILENO);
        return w >= 40 ? w : 80;
}

/* len bytes of s sanitized, cut to at most cols columns (an ellipsis when cut). */
static char *shown(const char *s, size_t len, unsigned cols)
{
        _cleanup_free_ char *raw = xmalloc(len + 1);
        memcpy(raw, s, len);
        raw[len] = '\0';
        _cleanup_free_ char *t = text_sanitize(raw, 0);
        return ui_fit_columns(t, cols, term_utf8());
}

static void list_commands(FILE *f)
{
        for (size_t i = 0; i < NCMDS; i++) {
                if (!chat_cmds[i].help)
                        continue;
                char left[32];
                snprintf(left, sizeof(left), "/%s %s", chat_cmds[i].name, chat_cmds[i].args);
                fprintf(f, "  %-17s %s\n", left, chat_cmds[i].help);
        }
}

static enum ui_chat_result cmd_help(struct ui_session *s, const char *args)
{
        (void)s, (void)args;
        printf("Commands:\n");
        list_commands(stdout);
        printf("Anything else is a prompt for the agent. Ctrl-C cancels a running tool.\n");
        return UI_CHAT_DONE;
}

static enum ui_chat_result cmd_exit(struct ui_session *s, const char *args)
{
        (void)s, (void)args;
        return UI_CHAT_LEAVE;
}

/* How a decision reads in /tools. */
static const char *where_name(const struct iso_decision *d)
{
        if (d->route == ISO_ROUTE_DENY && d->nreasons == 0)
                return "unknown"; /* the host gave no decision */
        if (d->route == ISO_ROUTE_DENY)
                return "refused";
        if (d->route == ISO_ROUTE_UNIKERNEL && d->platform == ISO_PLATFORM_PROCESS)
                return "trapped process"; /* the short form of iso_decision_where's */
        if (d->fell_back && d->route == ISO_ROUTE_DIRECT)
                return d->sandboxed                            ? "sandbox*"
                       : d->tier && !strcmp(d->tier, "remote") ? "remote*"
                                                               : "direct*";
        return iso_decision_where(d);
}

static enum ui_chat_result cmd_tools(struct ui_session *s, const char *args)
{
        const struct agent_toolset *ts = agent_tools(s->agent);
        const char *want = *args ? args : NULL;
        size_t nwant = 0;
        for (size_t i = 0; i < ts->n; i++)
                nwant += !want || !strcmp(ts->v[i].server, want);
        if (want && !nwant) {
                /* which servers there are, and the nearest */
                const char **names = xcalloc(ts->n + 1, sizeof(*names));
                size_t n = 0;
                strbuf list = {0};
                for (size_t i = 0; i < ts->n; i++) {
                        if (n && !strcmp(names[n - 1], ts->v[i].server))
                                continue;
                        names[n++] = ts->v[i].server;
                        _cleanup_free_ char *name = text_sanitize(ts->v[i].server, 0);
                        sb_addf(&list, "%s%s", list.len ? ", " : "", name);
                }
                const char *near = ui_nearest(want, names, n);
                _cleanup_free_ char *w = text_sanitize(want, 0);
                _cleanup_free_ char *nr = near ? text_sanitize(near, 0) : NULL;
                if (nr)
                        fprintf(stderr, "no server \"%s\" has tools here; did you mean \"%s\"?\n",
                                w, nr);
                else
                        fprintf(stderr, "no server \"%s\" has tools here; the servers: %s\n", w,
                                n ? list.s : "none");
                sb_free(&list);
                free(names);
                return UI_CHAT_DONE;
        }
        if (!ts->n) {
                printf("The agent has no tools: 'osvm mcp add' registers a server.\n");
                return UI_CHAT_DONE;
        }
        bool decide = want || nwant <= DECIDE_MAX;
        unsigned width = term_width();
        int namew = 8; /* the name column: the longest name shown, up to 32 */
        for (size_t i = 0; i < ts->n; i++)
                if ((!want || !strcmp(ts->v[i].server, want)) && (int)strlen(ts->v[i].name) > namew)
                        namew = strlen(ts->v[i].name) > 32 ? 32 : (int)strlen(ts->v[i].name);
        const char *server = NULL;
        for (size_t i = 0; i < ts->n; i++) {
                const struct agent_tool *t = &ts->v[i];
                if (want && strcmp(t->server, want) != 0)
                        continue;
                if (!server || strcmp(server, t->server) != 0) {
                        server = t->server;
                        size_t k = 0;
                        for (size_t j = i; j < ts->n && !strcmp(ts->v[j].server, server); j++)
                                k++;
                        _cleanup_free_ char *name = shown(server, strlen(server), NAME_MAX_SHOWN);
                        printf("%s (%zu tool%s)\n", name, k, k == 1 ? "" : "s");
                }
                _cleanup_free_ char *name = shown(t->name, strlen(t->name), NAME_MAX_SHOWN);
                const char *where = "";
                struct iso_decision d;
                if (decide) {
                        s->ops->where(s, t->server, t->name, &d);
                        where = where_name(&d);
                }
                /* "  NAME  WHERE  description", the description cut to the width */
                int used = printf("  %-*s %-10s", namew, name, where);
                const char *desc = t->description ? t->description : "";
                size_t dlen = strcspn(desc, "\n");
                if (dlen && used > 0 && (unsigned)used + 12 < width) {
                        _cleanup_free_ char *ds = shown(desc, dlen, width - (unsigned)used - 2);
                        printf(" %s", ds);
                }
                printf("\n");
                if (decide)
                        iso_decision_free(&d);
        }
        if (decide)
                printf("unikernel: a fresh KVM VM for each call, or where there is no KVM a fresh "
                       "trapped process (the process platform, not a VM); direct: on the server, "
                       "without a VM (*: a fallback); 'osvm isolation explain SERVER/TOOL' says "
                       "why.\n");
        else
                printf("%zu tools: '/tools SERVER' says where each of a server's tools runs.\n",
                       nwant);
        return UI_CHAT_DONE;
}

static enum ui_chat_result cmd_status(struct ui_session *s, const char *args)
{
        (void)args;
        char *line = s->ops->status(s, ui_style_stdout());
        printf("%s\n", line);
        free(line);
        printf("agent:    %s\n", !s->microvm        ? "directly in the osvm process, not in a VM"
                                 : s->agent_process ? "inside μVM-1's stand-in, a trapped process "
                                                      "(the process platform), not a VM"
                                                    : "inside μVM-1, a VM of its own");
        if (s->llm) {
                _cleanup_free_ char *url = text_sanitize(s->url ? s->url : "?", 0);
                _cleanup_free_ char *model = text_sanitize(s->model ? s->model : "?", 0);
                printf("planner:  %s, model %s, at %s\n", agent_planner_name(s->agent), model, url);
        } else {
                printf("planner:  %s (no LLM configured)\n", agent_planner_name(s->agent));
        }
        const struct agent_toolset *ts = agent_tools(s->agent);
        strbuf b = {0};
        for (size_t i = 0; i < ts->n;) {
                size_t k = i;
                while (k < ts->n && !strcmp(ts->v[k].server, ts->v[i].server))
                        k++;
                _cleanup_free_ char *name =
                    shown(ts->v[i].server, strlen(ts->v[i].server), NAME_MAX_SHOWN);
                sb_addf(&b, "%s%s (%zu tool%s)", b.len ? ", " : "", name, k - i,
                        k - i == 1 ? "" : "s");
                i = k;
        }
        printf("servers:  %s\n", b.len ? b.s : "none with tools");
        sb_free(&b);
        return UI_CHAT_DONE;
}

enum ui_chat_result ui_chat_command(struct ui_session *s, const char *line)
{
        if (line[0] != '/')
                return UI_CHAT_PROMPT;
        size_t n = strspn(line + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
        const char *after = line + 1 + n;
        if (*after && *after != ' ' && *after != '\t')
                return UI_CHAT_PROMPT; /* "/tmp/x ...": a path, the start of a prompt */
        if (n == 0 && *after)
                return UI_CHAT_PROMPT;
        char name[32] = "";
        snprintf(name, sizeof(name), "%.*s", (int)(n < sizeof(name) ? n : sizeof(name) - 1),
                 line + 1);
        const char *args = after + strspn(after, " \t");
        _cleanup_free_ char *arg = xstrdup(args);
        for (size_t k = strlen(arg); k && (arg[k - 1] == ' ' || arg[k - 1] == '\t'); k--)
                arg[k - 1] = '\0';
        if (n == 0)
                return cmd_help(s, "");
        for (size_t i = 0; i < NCMDS; i++)
                if (!strcmp(chat_cmds[i].name, name))
                        return chat_cmds[i].run(s, arg);
        const char *names[NCMDS];
        for (size_t i = 0; i < NCMDS; i++)
                names[i] = chat_cmds[i].name;
        const char *near = ui_nearest(name, names, NCMDS);
        if (near)
                fprintf(stderr, "no command /%s; did you mean /%s? The commands:\n", name, near);
        else
                fprintf(stderr, "no command /%s. The commands:\n", name);
        list_commands(stderr);
        return UI_CHAT_DONE;
}
