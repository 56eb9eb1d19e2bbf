/*
 * The agent on the command line: the chat (`osvm`) and one-shot mode
 * (`osvm -p PROMPT [--json]`).
 */
#include "agent/agent.h"
#include "cli/cli.h"

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

/* ---- showing tool calls while they run ---- */

struct ui_state {
        bool tty; /* stderr is a terminal: a spinner line; else plain lines */
        bool utf8;
        pthread_mutex_t lock;
        pthread_t thread;
        bool running, stop;
        bool drawn;     /* no spinner thread: the line is drawn on progress */
        unsigned frame; /* the spinner frame drawn last */
        char what[256];
        char progress[128];
        uint64_t started;
};

static const char *const spin_utf8[] = {
    "\xe2\xa0\x8b", "\xe2\xa0\x99", "\xe2\xa0\xb9", "\xe2\xa0\xb8", "\xe2\xa0\xbc",
    "\xe2\xa0\xb4", "\xe2\xa0\xa6", "\xe2\xa0\xa7", "\xe2\xa0\x87", "\xe2\xa0\x8f"};
static const char *const spin_ascii[] = {"|", "/", "-", "\\"};

/* The spinner line: the frame i, the call, its time so far and its progress. */
static void ui_draw(struct ui_state *u, unsigned i)
{
        double secs = (double)(time_mono_ns() - u->started) / 1e9;
        fprintf(stderr, "\r\033[K%s %s %.1fs %s", u->utf8 ? spin_utf8[i % 10] : spin_ascii[i % 4],
                u->what, secs, u->progress);
        fflush(stderr);
}

static void *spinner(void *arg)
{
        struct ui_state *u = arg;
        for (unsigned i = 0;; i++) {
                pthread_mutex_lock(&u->lock);
                if (u->stop) {
                        pthread_mutex_unlock(&u->lock);
                        return NULL;
                }
                ui_draw(u, i);
                pthread_mutex_unlock(&u->lock);
                nanosleep(&(struct timespec){0, 100000000}, NULL);
        }
}

static void ui_tool_start(void *ctx, const struct agent_call *call, const struct iso_decision *d)
{
        struct ui_state *u = ctx;
        char args[96] = "";
        char *a = json_dumps(call->arguments, JSON_COMPACT);
        if (a)
                snprintf(args, sizeof(args), "%s%s", a, strlen(a) > 80 ? "..." : "");
        free(a);
        pthread_mutex_lock(&u->lock);
        /* the route, and for a unikernel on the process platform where: not a VM */
        snprintf(u->what, sizeof(u->what), "%s/%s %s [%s%s]", call->tool->server, call->tool->name,
                 args, iso_route_name(d->route),
                 d->route == ISO_ROUTE_UNIKERNEL && d->platform == ISO_PLATFORM_PROCESS
                     ? ", trapped process"
                     : "");
        u->progress[0] = '\0';
        u->started = time_mono_ns();
        u->stop = false;
        pthread_mutex_unlock(&u->lock);
        if (u->tty) {
                /* Without threads (inside μVM-1) the line is drawn on each
                 * progress report instead, which the supervisor sends often. */
                u->running = pthread_create(&u->thread, NULL, spinner, u) == 0;
                u->drawn = !u->running;
                if (u->drawn)
                        ui_draw(u, u->frame = 0);
        } else {
                fprintf(stderr, "tool: %s\n", u->what);
        }
}

static void ui_tool_end(void *ctx, const struct agent_call *call, json_t *result, bool ok,
                        double ms)
{
        (void)call, (void)result;
        struct ui_state *u = ctx;
        if (u->running) {
                pthread_mutex_lock(&u->lock);
                u->stop = true;
                pthread_mutex_unlock(&u->lock);
                pthread_join(u->thread, NULL);
                u->running = false;
        }
        if (u->tty) {
                u->drawn = false;
                fprintf(stderr, "\r\033[K");
        }
        fprintf(stderr, "%s %s (%.0f ms)\n", ok ? "done:" : "failed:", u->what, ms);
}

static void ui_progress(void *ctx, const struct mcp_progress *p)
{
        struct ui_state *u = ctx;
        pthread_mutex_lock(&u->lock);
        if (!p) /* no news: time passes */
                ;
        else if (p->total > 0)
                snprintf(u->progress, sizeof(u->progress), "%.0f/%.0f %s", p->progress, p->total,
                         p->message ? p->message : "");
        else
                snprintf(u->progress, sizeof(u->progress), "%.0f %s", p->progress,
                         p->message ? p->message : "");
        if (u->drawn)
                ui_draw(u, ++u->frame);
        pthread_mutex_unlock(&u->lock);
        if (!u->tty && p)
                fprintf(stderr, "progress: %s\n", u->progress);
}

static struct agent_ui make_ui(struct ui_state *u)
{
        memset(u, 0, sizeof(*u));
        pthread_mutex_init(&u->lock, NULL);
        u->tty = isatty(STDERR_FILENO);
        u->utf8 = term_utf8();
        return (struct agent_ui){.ctx = u,
                                 .tool_start = ui_tool_start,
                                 .tool_end = ui_tool_end,
                                 .progress = ui_progress};
}

static void print_status(struct cli_agent_session *s, FILE *f)
{
        char *line = cli_agent_session_status(s, cli_status_style());
        fprintf(f, "%s\n", line);
        free(line);
}

/* ---- one-shot ---- */

int cli_agent_oneshot(const char *prompt, bool json)
{
        struct cli_agent_session s;
        int r = cli_agent_session_open(&s, false);
        if (r)
                return r;
        cli_catch_interrupt();
        struct ui_state u;
        struct agent_ui ui = make_ui(&u);
        char *answer = NULL;
        json_t *trace = NULL;
        osvm_err e = {0};
        int a =
            agent_ask(s.agent, prompt, json ? NULL : &ui, &cli_interrupted, &answer, &trace, &e);
        if (json) {
                char *line = cli_agent_session_status(&s, (struct status_style){true, false});
                json_object_set_new(trace, "status", json_string(line));
                free(line);
                cli_print_json(trace);
        } else if (answer) {
                printf("%s\n", answer);
        }
        if (a < 0) {
                log_error("%s", e.msg);
                r = e.exit ? e.exit : OSVM_EXIT_FAILURE;
        } else if (a == 1) {
                log_error("the request needs more input (one-shot mode cannot ask): %s", answer);
                r = OSVM_EXIT_NEEDS_INPUT;
        }
        free(answer);
        json_decref(trace);
        pthread_mutex_destroy(&u.lock);
        cli_agent_session_close(&s);
        return r;
}

/* ---- the chat ---- */

/* The chat's session, for its input function. */
static struct cli_agent_session *chat_session;

/* Takes in what happened to the terminal: a new size is passed on to the
 * line editor; returns true when Ctrl-C was pressed. */
static bool take_events(void)
{
        unsigned ev = cli_agent_session_events(chat_session);
        struct winsize ws;
        if ((ev & CLI_EVENT_RESIZE) && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) {
                log_info("chat: the window is now %ux%u", ws.ws_col, ws.ws_row);
                rl_resize_terminal();
        }
        return ev & CLI_EVENT_INTERRUPT;
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
                if (cli_interrupted) /* arrived before the read began */
                        return EOF;
                ssize_t n = read(STDIN_FILENO, b + have, 1);
                if (n < 0 && errno == EINTR) {
                        if (take_events()) {
                                cli_interrupted = 1;
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

int cli_agent_chat(void)
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

        struct cli_agent_session s;
        int r = cli_agent_session_open(&s, true);
        if (r)
                return r;
        chat_session = &s;
        term_guard(); /* the line editor's raw mode never outlives the chat */
        cli_catch_interrupt();
        const struct agent_toolset *ts = agent_tools(s.agent);
        printf("osvm %s: %s. %zu tools; planner: %s%s.\n", OSVM_VERSION, s.isolation, ts->n,
               agent_planner_name(s.agent),
               s.llm ? "" : " (no LLM configured: set OSVM_AI_URL or see 'osvm help')");
        if (tty)
                printf("Ctrl-C cancels a running tool, Ctrl-D leaves.\n");
        print_status(&s, stdout);

        struct ui_state u;
        struct agent_ui ui = make_ui(&u);
        for (;;) {
                (void)take_events(); /* a Ctrl-C before the prompt is spent */
                cli_interrupted = 0;
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
                        if (cli_interrupted) { /* Ctrl-C at the prompt: a fresh line */
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
                char *answer = NULL;
                osvm_err e = {0};
                int a = agent_ask(s.agent, p, &ui, &cli_interrupted, &answer, NULL, &e);
                if (a < 0)
                        fprintf(stderr, "%s\n", e.msg);
                else
                        printf("%s\n", answer);
                free(answer);
                free(line);
                print_status(&s, stdout);
                fflush(stdout);
        }
        if (tty)
                printf("\n");
        pthread_mutex_destroy(&u.lock);
        cli_agent_session_close(&s);
        chat_session = NULL;
        return OSVM_EXIT_OK;
}
