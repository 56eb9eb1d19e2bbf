/*
 * The agent at the terminal: the chat (`osvm`) and one-shot mode (`osvm -p
 * PROMPT [--json]`), over the session the program gives them (the host's,
 * or μVM-1's through the supervisor).
 */
#include "agent/agent.h"
#include "ui/ui.h"

#include <editline/readline.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HISTORY_MAX 1000

/* ---- showing tool calls while they run ----
 *
 * Whatever a server, a tool or the LLM wrote (names, arguments, progress
 * messages, answers) is sanitized before it is shown, and each line is cut
 * to the terminal's width, the arguments first: the full call is in the log
 * and in --json.
 */

struct calls_view {
        bool tty; /* stderr is a terminal: a spinner line; else plain lines */
        bool utf8;
        pthread_mutex_t lock;
        pthread_t thread;
        bool running, stop;
        bool drawn;     /* no spinner thread: the line is drawn on progress */
        unsigned frame; /* the spinner frame drawn last */
        char *name;     /* SERVER/TOOL, sanitized */
        char *args;     /* the arguments as compact JSON, sanitized */
        const char *mode;
        bool refused;
        char *progress; /* sanitized; "" when none */
        uint64_t started;
};

static const char *const spin_utf8[] = {
    "\xe2\xa0\x8b", "\xe2\xa0\x99", "\xe2\xa0\xb9", "\xe2\xa0\xb8", "\xe2\xa0\xbc",
    "\xe2\xa0\xb4", "\xe2\xa0\xa6", "\xe2\xa0\xa7", "\xe2\xa0\x87", "\xe2\xa0\x8f"};
static const char *const spin_ascii[] = {"|", "/", "-", "\\"};

/* The columns a line may take: one less than the terminal's (80 when
 * unknown), so that it never wraps and "\r" reaches its start. */
static size_t view_columns(void)
{
        unsigned cols = ui_term_columns(STDERR_FILENO);
        return cols > 1 ? cols - 1 : cols ? 1 : 79;
}

/* prefix, "SERVER/TOOL ARGS [MODE]" and suffix in at most cols columns: the
 * arguments are cut first, then the end of the line. */
static char *view_line(const struct calls_view *u, const char *prefix, const char *suffix,
                       size_t cols)
{
        size_t fixed = ui_text_columns(prefix) + ui_text_columns(u->name) + strlen(u->mode) + 4 +
                       ui_text_columns(suffix);
        _cleanup_free_ char *args =
            ui_fit_columns(u->args, cols > fixed + 1 ? cols - fixed : 1, u->utf8);
        _cleanup_free_ char *all =
            xasprintf("%s%s %s [%s]%s", prefix, u->name, args, u->mode, suffix);
        return ui_fit_columns(all, cols, u->utf8);
}

/* The spinner line: the frame i, the call, its time so far and its progress. */
static void view_draw(struct calls_view *u, unsigned i)
{
        size_t cols = view_columns();
        double secs = (double)(time_mono_ns() - u->started) / 1e9;
        char prefix[16], took[32];
        snprintf(prefix, sizeof(prefix), "%s ", u->utf8 ? spin_utf8[i % 10] : spin_ascii[i % 4]);
        snprintf(took, sizeof(took), " %.1fs", secs);
        /* the progress gets at most a third of the line, the call the rest */
        size_t pcols = u->progress[0] ? ui_text_columns(u->progress) + 1 : 0;
        if (pcols > cols / 3)
                pcols = cols / 3;
        _cleanup_free_ char *call = view_line(u, prefix, took, cols > pcols ? cols - pcols : 0);
        _cleanup_free_ char *all =
            xasprintf("%s%s%s", call, u->progress[0] ? " " : "", u->progress);
        _cleanup_free_ char *line = ui_fit_columns(all, cols, u->utf8);
        fprintf(stderr, "\r\033[K%s", line);
        fflush(stderr);
}

static void *spinner(void *arg)
{
        struct calls_view *u = arg;
        for (unsigned i = 0;; i++) {
                pthread_mutex_lock(&u->lock);
                if (u->stop) {
                        pthread_mutex_unlock(&u->lock);
                        return NULL;
                }
                view_draw(u, i);
                pthread_mutex_unlock(&u->lock);
                nanosleep(&(struct timespec){0, 100000000}, NULL);
        }
}

static void view_tool_start(void *ctx, const struct agent_call *call, const struct iso_decision *d)
{
        struct calls_view *u = ctx;
        _cleanup_free_ char *a = json_dumps(call->arguments, JSON_COMPACT);
        _cleanup_free_ char *name = xasprintf("%s/%s", call->tool->server, call->tool->name);
        pthread_mutex_lock(&u->lock);
        free(u->name);
        free(u->args);
        free(u->progress);
        u->name = text_sanitize(name, 0);
        u->args = text_sanitize(a ? a : "", 0);
        u->mode = iso_decision_where(d);
        u->refused = d->route == ISO_ROUTE_DENY;
        u->progress = xstrdup("");
        u->started = time_mono_ns();
        u->stop = false;
        pthread_mutex_unlock(&u->lock);
        log_info("tool: %s %s [%s]", name, a ? a : "", u->mode); /* in full */
        if (u->tty) {
                /* Without threads (inside μVM-1) the line is drawn on each
                 * progress report instead, which the supervisor sends often. */
                u->running = pthread_create(&u->thread, NULL, spinner, u) == 0;
                u->drawn = !u->running;
                if (u->drawn)
                        view_draw(u, u->frame = 0);
        } else {
                _cleanup_free_ char *line = view_line(u, "tool: ", "", view_columns());
                fprintf(stderr, "%s\n", line);
        }
}

static void view_tool_end(void *ctx, const struct agent_call *call, json_t *result, bool ok,
                          double ms, json_t *egress)
{
        (void)call, (void)result;
        struct calls_view *u = ctx;
        if (u->running) {
                pthread_mutex_lock(&u->lock);
                u->stop = true;
                pthread_mutex_unlock(&u->lock);
                pthread_join(u->thread, NULL);
                u->running = false;
        }
        if (u->tty) {
                u->drawn = false;
                fprintf(stderr, "\r\033[K"); /* the spinner's line, all of it */
        }
        /* and what it was kept from reaching, which may be why it failed */
        _cleanup_free_ char *blocked = ui_egress_words(egress, true);
        _cleanup_free_ char *took =
            xasprintf(" (%.0f ms%s%s)", ms, *blocked ? "; egress: " : "", blocked);
        _cleanup_free_ char *line = view_line(u,
                                              u->refused ? "refused: "
                                              : ok       ? "done: "
                                                         : "failed: ",
                                              took, view_columns());
        fprintf(stderr, "%s\n", line);
}

static void view_progress(void *ctx, const struct mcp_progress *p)
{
        struct calls_view *u = ctx;
        pthread_mutex_lock(&u->lock);
        if (p) { /* else no news: time passes */
                _cleanup_free_ char *msg = text_sanitize(p->message, 0);
                free(u->progress);
                u->progress = p->total > 0 ? xasprintf("%.0f/%.0f %s", p->progress, p->total, msg)
                                           : xasprintf("%.0f %s", p->progress, msg);
        }
        if (u->drawn)
                view_draw(u, ++u->frame);
        size_t cols = view_columns();
        _cleanup_free_ char *shown =
            !u->tty && p ? ui_fit_columns(u->progress, cols > 20 ? cols - 10 : 10, u->utf8) : NULL;
        pthread_mutex_unlock(&u->lock);
        if (shown)
                fprintf(stderr, "progress: %s\n", shown);
}

static void view_free(struct calls_view *u)
{
        pthread_mutex_destroy(&u->lock);
        free(u->name);
        free(u->args);
        free(u->progress);
}

static struct agent_ui view_make(struct calls_view *u)
{
        memset(u, 0, sizeof(*u));
        pthread_mutex_init(&u->lock, NULL);
        u->tty = isatty(STDERR_FILENO);
        u->utf8 = term_utf8();
        return (struct agent_ui){.ctx = u,
                                 .tool_start = view_tool_start,
                                 .tool_end = view_tool_end,
                                 .progress = view_progress};
}

/* The planner's answer or an error, which hold what servers, tools and the
 * LLM wrote: sanitized, its lines kept. */
static void print_text(FILE *f, const char *text)
{
        _cleanup_free_ char *safe = text_sanitize(text, TEXT_MULTILINE);
        fprintf(f, "%s\n", safe);
}

static void print_status(struct ui_session *s, FILE *f)
{
        char *line = s->ops->status(s, ui_style_stdout());
        fprintf(f, "%s\n", line);
        free(line);
}

/* ---- one-shot ---- */

/* The exit code of the turn's calls (agent_calls_exit), each failure that
 * counts said on stderr in one line. */
static int oneshot_calls_exit(json_t *trace)
{
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(trace, "unrecovered_calls"), i, c)
        {
                const char *server = json_string_value(json_object_get(c, "server"));
                const char *tool = json_string_value(json_object_get(c, "tool"));
                const char *outcome = json_string_value(json_object_get(c, "outcome"));
                const char *err = json_string_value(json_object_get(c, "error"));
                /* a refusal was said already, once, with its remedy: the
                 * decision's ERROR line (shown even under -q) */
                if (!strcmp(outcome, "refused"))
                        continue;
                int len = (int)strcspn(err, "\n"); /* its first line, bounded */
                len = len > 300 ? 300 : len;
                char *words =
                    xasprintf("%s/%s %s: %.*s", server, tool,
                              !strcmp(outcome, "error") ? "reported an error" : "failed", len, err);
                char *shown = text_sanitize(words, 0);
                log_error("%s", shown);
                free(shown);
                free(words);
        }
        return agent_calls_exit(trace);
}

int ui_oneshot(const struct ui_session_ops *ops, const char *prompt, bool json)
{
        struct ui_session s = {.ops = ops};
        ui_catch_interrupt(); /* before the servers start: Ctrl-C ends their start-up too */
        int r = ops->open(&s, false);
        if (r)
                return r;
        if (ui_interrupted) {
                log_error("cancelled while the servers were starting");
                ops->close(&s);
                return OSVM_EXIT_INTERRUPTED;
        }
        struct calls_view u;
        struct agent_ui ui = view_make(&u);
        char *answer = NULL;
        json_t *trace = NULL;
        osvm_err e = {0};
        int a = agent_ask(s.agent, prompt, json ? NULL : &ui, &ui_interrupted, &answer, &trace, &e);
        if (json) {
                char *line = ops->status(&s, (struct ui_style){true, false});
                json_object_set_new(trace, "status", json_string(line));
                free(line);
                ui_print_json(trace);
        } else if (answer) {
                print_text(stdout, answer);
        }
        if (a < 0) {
                log_error("%s", e.msg);
                r = e.exit ? e.exit : OSVM_EXIT_FAILURE;
        } else if ((r = oneshot_calls_exit(trace)) != 0) {
                /* a tool call failed or was refused, and no later call of it made good */
        } else if (a == 1) {
                log_error("the request needs more input (one-shot mode cannot ask): %s", answer);
                r = OSVM_EXIT_NEEDS_INPUT;
        }
        free(answer);
        json_decref(trace);
        view_free(&u);
        ops->close(&s);
        return r;
}

/* ---- the chat ---- */

/* The chat's session, for its input function. */
static struct ui_session *chat_session;

/* Takes in what happened to the terminal: a new size is passed on to the
 * line editor; returns true when Ctrl-C was pressed. */
static bool take_events(void)
{
        unsigned ev = chat_session->ops->events(chat_session);
        struct winsize ws;
        if ((ev & UI_EVENT_RESIZE) && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) {
                log_info("chat: the window is now %ux%u", ws.ws_col, ws.ws_row);
                rl_resize_terminal();
        }
        return ev & UI_EVENT_INTERRUPT;
}

/*
 * The chat's input, one character at a time, for libedit: Ctrl-C at the
 * prompt ends the line (readline() returns NULL and the chat shows a fresh
 * prompt) instead of being swallowed by a retried read(), and a new window
 * size is taken in. Returns a Unicode code point, decoded from UTF-8, or EOF.
 */
static int chat_getc(FILE *f)
{
        (void)f;
        unsigned char b[4];
        size_t need = 1, have = 0;
        while (have < need) {
                if (ui_interrupted) /* arrived before the read began */
                        return EOF;
                ssize_t n = read(STDIN_FILENO, b + have, 1);
                if (n < 0 && errno == EINTR) {
                        if (take_events()) {
                                ui_interrupted = 1;
                                return EOF;
                        }
                        continue;
                }
                if (n <= 0)
                        return EOF;
                if (have == 0)
                        need = b[0] < 0x80 ? 1 : b[0] >= 0xF0 ? 4 : b[0] >= 0xE0 ? 3 : 2;
                have++;
        }
        if (need == 1)
                return b[0];
        int cp = b[0] & (0x7F >> need);
        for (size_t i = 1; i < need; i++)
                cp = (cp << 6) | (b[i] & 0x3F);
        return cp;
}

static char *history_path(void)
{
        /* the agent's own directory, the same inside μVM-1 (where it is the
         * only one the agent can write) and directly */
        _cleanup_free_ char *state = paths_state_dir();
        _cleanup_free_ char *dir = xasprintf("%s/agent", state);
        if (fs_mkdir_p(dir, 0700, NULL) < 0)
                return NULL;
        return xasprintf("%s/history", dir);
}

int ui_chat(const struct ui_session_ops *ops)
{
        /* The line editor and the history first: inside μVM-1 this runs
         * while the supervisor starts the servers. */
        bool tty = isatty(STDIN_FILENO);
        _cleanup_free_ char *hist = tty ? history_path() : NULL;
        /* Ctrl-C at the prompt must reach our handler: readline() then returns NULL. */
        rl_catch_signals = 0;
        rl_catch_sigwinch = 0; /* a resize is ours to notice (chat_getc) */
        rl_getc_function = chat_getc;
        if (tty)
                rl_initialize(); /* before the history: it starts a new one */
        if (hist) {
                using_history();
                stifle_history(HISTORY_MAX);
                read_history(hist);
        }

        struct ui_session s = {.ops = ops};
        int r = ops->open(&s, true);
        if (r)
                return r;
        chat_session = &s;
        term_guard(); /* the line editor's raw mode never outlives the chat */
        ui_catch_interrupt();
        const struct agent_toolset *ts = agent_tools(s.agent);
        printf("osvm %s: %s. %zu tools; planner: %s%s.\n", OSVM_VERSION, s.isolation, ts->n,
               agent_planner_name(s.agent),
               s.llm ? "" : " (no LLM configured: set OSVM_AI_URL or see 'osvm help')");
        if (tty)
                printf("Ctrl-C cancels a running tool, Ctrl-D leaves, /help lists the commands.\n");
        print_status(&s, stdout);

        struct calls_view u;
        struct agent_ui ui = view_make(&u);
        for (;;) {
                (void)take_events(); /* a Ctrl-C before the prompt is spent */
                ui_interrupted = 0;
                char *line = tty ? readline("osvm> ") : NULL;
                if (!tty) {
                        /* Not a terminal: one prompt a line, as a script would send them. */
                        static char buf[8192];
                        if (!fgets(buf, sizeof(buf), stdin))
                                break;
                        buf[strcspn(buf, "\n")] = '\0';
                        line = xstrdup(buf);
                }
                if (!line) {
                        if (ui_interrupted) { /* Ctrl-C at the prompt: a fresh line */
                                printf("\n");
                                continue;
                        }
                        break; /* Ctrl-D */
                }
                char *p = line;
                while (*p == ' ' || *p == '\t')
                        p++;
                if (!*p) {
                        free(line);
                        continue;
                }
                if (hist) {
                        add_history(p);
                        /* private from its first byte on */
                        int fd = open(hist, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
                        if (fd >= 0) {
                                (void)fchmod(fd, 0600);
                                close(fd);
                        }
                        write_history(hist);
                }
                if (!strcmp(p, "exit") || !strcmp(p, "quit")) {
                        free(line);
                        break;
                }
                enum ui_chat_result cmd = ui_chat_command(&s, p); /* /help, /tools, ... */
                if (cmd != UI_CHAT_PROMPT) {
                        free(line);
                        if (cmd == UI_CHAT_LEAVE)
                                break;
                        fflush(stdout);
                        continue;
                }
                char *answer = NULL;
                osvm_err e = {0};
                int a = agent_ask(s.agent, p, &ui, &ui_interrupted, &answer, NULL, &e);
                if (a < 0)
                        print_text(stderr, e.msg);
                else
                        print_text(stdout, answer);
                free(answer);
                free(line);
                print_status(&s, stdout);
                fflush(stdout);
        }
        if (tty)
                printf("\n");
        view_free(&u);
        ops->close(&s);
        chat_session = NULL;
        return OSVM_EXIT_OK;
}
