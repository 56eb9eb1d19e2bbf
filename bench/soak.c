/*
 * The soak: N tool calls (default 10,000) in this one process, through the
 * hub the command line uses (cli_servers_open: the isolation config, the
 * registry with the built-in pack, the host probe), mixed:
 *
 *   - osvm-mcp pack tools, each in its own VM or trapped process (whichever
 *     platform the host has), against the stand-in RPC endpoint;
 *   - server-everything over stdio (sandboxed) and over Streamable HTTP;
 *   - a server that crashes on every 100th call to it (and is started again);
 *   - calls cancelled mid-call, calls past their deadline, and calls that
 *     pass each limit: a pack tool's time and memory, an MCP message's size,
 *     a host call's answer size, a sandboxed server's memory.
 *
 * Every call's result is checked: a wrong answer is a failure. Every 500
 * calls it samples its RSS, open fds, threads, and the processes below it
 * (all of them; the engine's stubs and zygote among them), prints the curve,
 * and fails, naming what grew, when any of them grows past its bound after
 * the warm-up (the first 1,000 calls). bench/soak.sh sets up the servers
 * and runs it; bench/README.md says more.
 *
 * usage: soak [CALLS]        exit status 0 when every call was right and nothing grew
 *        soak mcp serve --pack osvm-mcp       (the hub starts the built-in pack so)
 */
#include "cli/cli.h"
#include "mcp/mcp.h"
#include "vmm/vmm.h"

#include <ctype.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SAMPLE_EVERY 500
#define WARMUP       1000
#define ADDRESS      "11111111111111111111111111111111" /* the system program */

/* How much each sample may exceed the one at the end of the warm-up
 * (SOAK_RSS_MB etc. in the environment override them). */
struct bounds {
        long rss_mb, fds, threads, procs, zombies;
};

/* ---- what the process holds ---- */

struct sample {
        long call;
        long rss_kb, fds, threads, procs, stubs, zombies;
        double secs;
};

static long count_dir(const char *path)
{
        DIR *d = opendir(path);
        if (!d)
                return -1;
        long n = 0;
        struct dirent *de;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        n++;
        closedir(d);
        return n;
}

static long rss_kb(void)
{
        FILE *f = fopen("/proc/self/statm", "r");
        long size = 0, res = 0;
        if (f) {
                if (fscanf(f, "%ld %ld", &size, &res) != 2)
                        res = 0;
                fclose(f);
        }
        return res * (sysconf(_SC_PAGESIZE) / 1024);
}

struct proc {
        int pid, ppid;
        char state;
        char comm[32];
};

/* Every process of the host: pid, parent, state, name. */
static size_t all_procs(struct proc **out)
{
        size_t n = 0, cap = 256;
        struct proc *v = xcalloc(cap, sizeof(*v));
        DIR *d = opendir("/proc");
        struct dirent *de;
        while (d && (de = readdir(d))) {
                if (!isdigit((unsigned char)de->d_name[0]))
                        continue;
                char path[300], buf[512];
                snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
                FILE *f = fopen(path, "r");
                if (!f)
                        continue;
                size_t len = fread(buf, 1, sizeof(buf) - 1, f);
                fclose(f);
                buf[len] = '\0';
                char *open = strchr(buf, '('), *close = strrchr(buf, ')');
                if (!open || !close || close < open)
                        continue;
                struct proc p = {.pid = atoi(buf)};
                size_t cl = (size_t)(close - open - 1);
                snprintf(p.comm, sizeof(p.comm), "%.*s", (int)(cl < 31 ? cl : 31), open + 1);
                if (sscanf(close + 1, " %c %d", &p.state, &p.ppid) != 2)
                        continue;
                if (n == cap)
                        v = xrealloc(v, (cap *= 2) * sizeof(*v));
                v[n++] = p;
        }
        if (d)
                closedir(d);
        *out = v;
        return n;
}

static bool below(const struct proc *v, size_t n, int pid, int root)
{
        for (int depth = 0; depth < 64 && pid > 1; depth++) {
                size_t i;
                for (i = 0; i < n && v[i].pid != pid; i++)
                        ;
                if (i == n)
                        return false;
                if (v[i].ppid == root)
                        return true;
                pid = v[i].ppid;
        }
        return false;
}

/* The processes below this one; stubs: those of the engine's process platform
 * (its zygote and stubs, named after the stub program); zombies: unreaped. */
static long descendants(long *stubs, long *zombies, FILE *list)
{
        struct proc *v;
        size_t n = all_procs(&v);
        long count = 0;
        *stubs = *zombies = 0;
        for (size_t i = 0; i < n; i++) {
                if (!below(v, n, v[i].pid, getpid()))
                        continue;
                count++;
                *stubs += strstr(v[i].comm, "stub") || strstr(v[i].comm, "zygote");
                *zombies += v[i].state == 'Z';
                if (list)
                        fprintf(list, "    %d %c %s (parent %d)\n", v[i].pid, v[i].state, v[i].comm,
                                v[i].ppid);
        }
        free(v);
        return count;
}

static void take(struct sample *s, long call, uint64_t t0)
{
        s->call = call;
        s->rss_kb = rss_kb();
        s->fds = count_dir("/proc/self/fd") - 1; /* less the one reading it */
        s->threads = count_dir("/proc/self/task");
        s->procs = descendants(&s->stubs, &s->zombies, NULL);
        s->secs = (double)(time_mono_ns() - t0) / 1e9;
}

static void print_row(const struct sample *s)
{
        printf("%7ld %9.1f %7.1f %5ld %8ld %6ld %6ld %8ld\n", s->call, s->secs,
               (double)s->rss_kb / 1024.0, s->fds, s->threads, s->procs, s->stubs, s->zombies);
        fflush(stdout);
}

/* ---- a flag set after a delay, for calls cancelled mid-call ---- */

static pthread_mutex_t cmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ccv = PTHREAD_COND_INITIALIZER;
static volatile sig_atomic_t *armed;
static uint64_t fire_at;
static bool quit;

static void *canceller(void *unused)
{
        (void)unused;
        pthread_mutex_lock(&cmu);
        while (!quit) {
                if (!armed) {
                        pthread_cond_wait(&ccv, &cmu);
                        continue;
                }
                uint64_t now = time_mono_ns();
                if (now >= fire_at) {
                        *armed = 1;
                        armed = NULL;
                        continue;
                }
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                uint64_t wait = fire_at - now;
                ts.tv_sec += (time_t)(wait / 1000000000u);
                ts.tv_nsec += (long)(wait % 1000000000u);
                if (ts.tv_nsec >= 1000000000L) {
                        ts.tv_sec++;
                        ts.tv_nsec -= 1000000000L;
                }
                pthread_cond_timedwait(&ccv, &cmu, &ts);
        }
        pthread_mutex_unlock(&cmu);
        return NULL;
}

static void arm(volatile sig_atomic_t *flag, uint32_t ms)
{
        pthread_mutex_lock(&cmu);
        *flag = 0;
        armed = flag;
        fire_at = time_mono_ns() + (uint64_t)ms * 1000000u;
        pthread_cond_signal(&ccv);
        pthread_mutex_unlock(&cmu);
}

static void disarm(void)
{
        pthread_mutex_lock(&cmu);
        armed = NULL;
        pthread_mutex_unlock(&cmu);
}

/* ---- the calls ---- */

enum outcome {
        WANT_TEXT,   /* a result, not an error, its first text holding want */
        WANT_TOOL_E, /* a result with isError, its first text holding want */
        WANT_ERR,    /* no result: e.code == code */
};

struct kind {
        const char *name;
        const char *server, *tool;
        uint32_t cancel_ms, timeout_ms; /* cancel the call after; its deadline */
        long calls, wrong;
        uint64_t ns;
};

enum {
        K_SLOT,
        K_BALANCE,
        K_VERSION,
        K_RPC,
        K_ECHO,
        K_SUM,
        K_ECHO_HTTP,
        K_SUM_HTTP,
        K_CRASHY,
        K_CANCEL_PACK,
        K_CANCEL_STDIO,
        K_CANCEL_HTTP,
        K_CANCEL_SLEEP,
        K_DEADLINE_STDIO,
        K_DEADLINE_HTTP,
        K_DEADLINE_PACK,
        K_LIMIT_TIME,
        K_LIMIT_MEMORY,
        K_LIMIT_MESSAGE,
        K_LIMIT_ANSWER,
        K_LIMIT_SERVER_MEMORY,
        K_N
};

static struct kind kinds[K_N] = {
    [K_SLOT] = {"pack get_slot", "osvm-mcp", "get_slot", 0, 0, 0, 0, 0},
    [K_BALANCE] = {"pack get_balance", "osvm-mcp", "get_balance", 0, 0, 0, 0, 0},
    [K_VERSION] = {"pack get_version", "osvm-mcp", "get_version", 0, 0, 0, 0, 0},
    [K_RPC] = {"pack solana_rpc_call", "osvm-mcp", "solana_rpc_call", 0, 0, 0, 0, 0},
    [K_ECHO] = {"stdio echo", "everything", "echo", 0, 0, 0, 0, 0},
    [K_SUM] = {"stdio get-sum", "everything", "get-sum", 0, 0, 0, 0, 0},
    [K_ECHO_HTTP] = {"http echo", "everything-http", "echo", 0, 0, 0, 0, 0},
    [K_SUM_HTTP] = {"http get-sum", "everything-http", "get-sum", 0, 0, 0, 0, 0},
    [K_CRASHY] = {"crashy echo (dies each 100th)", "crashy", "echo", 0, 0, 0, 0, 0},
    [K_CANCEL_PACK] = {"cancel: pack, mid-call", "osvm-mcp", "get_epoch_info", 60, 0, 0, 0, 0},
    [K_CANCEL_STDIO] = {"cancel: stdio, mid-call", "everything", "trigger-long-running-operation",
                        60, 0, 0, 0, 0},
    [K_CANCEL_HTTP] = {"cancel: http, mid-call", "everything-http",
                       "trigger-long-running-operation", 60, 0, 0, 0, 0},
    [K_CANCEL_SLEEP] = {"cancel: soak server", "limits", "sleep", 60, 0, 0, 0, 0},
    [K_DEADLINE_STDIO] = {"deadline: stdio", "limits", "sleep", 0, 100, 0, 0, 0},
    [K_DEADLINE_HTTP] = {"deadline: http", "everything-http", "trigger-long-running-operation", 0,
                         100, 0, 0, 0},
    [K_DEADLINE_PACK] = {"deadline: pack", "osvm-mcp", "get_epoch_info", 0, 100, 0, 0, 0},
    [K_LIMIT_TIME] = {"limit: pack time (300 ms)", "osvm-mcp", "get_block_height", 0, 0, 0, 0, 0},
    [K_LIMIT_MEMORY] = {"limit: pack memory (16 MB)", "osvm-mcp", "get_token_accounts_by_owner", 0,
                        0, 0, 0, 0},
    [K_LIMIT_MESSAGE] = {"limit: message size (16 MiB)", "limits", "big", 0, 0, 0, 0, 0},
    [K_LIMIT_ANSWER] = {"limit: host-call answer (4 MiB)", "osvm-mcp", "solana_rpc_call", 0, 0, 0,
                        0, 0},
    [K_LIMIT_SERVER_MEMORY] = {"limit: server memory (64 MB)", "hog", "hog", 0, 0, 0, 0, 0},
};

/* The order of one round of 20 calls; slots of -1, -2, -3 rotate over the
 * cancels, the deadlines and the limits. */
static const int round_of[20] = {K_SLOT,      K_ECHO,     K_ECHO_HTTP, K_CRASHY,  K_BALANCE,
                                 K_SUM,       K_SUM_HTTP, K_CRASHY,    K_VERSION, K_ECHO,
                                 K_ECHO_HTTP, K_CRASHY,   K_RPC,       -1,        -2,
                                 -3,          K_ECHO,     K_ECHO_HTTP, K_CRASHY,  K_SLOT};
static const int cancels[] = {K_CANCEL_PACK, K_CANCEL_STDIO, K_CANCEL_HTTP, K_CANCEL_SLEEP};
static const int deadlines[] = {K_DEADLINE_STDIO, K_DEADLINE_HTTP, K_DEADLINE_PACK};
static const int limits[] = {K_LIMIT_TIME, K_LIMIT_MEMORY, K_LIMIT_MESSAGE, K_LIMIT_ANSWER};

static long crashy_n; /* calls to the crashy server since it (re)started */

static const char *first_text(json_t *r)
{
        const char *t = json_string_value(
            json_object_get(json_array_get(json_object_get(r, "content"), 0), "text"));
        return t ? t : "";
}

/* Whether text holds one of the |-separated alternatives of want. */
static bool holds(const char *text, const char *want)
{
        for (const char *p = want;;) {
                const char *bar = strchr(p, '|');
                size_t len = bar ? (size_t)(bar - p) : strlen(p);
                if (memmem(text, strlen(text), p, len))
                        return true;
                if (!bar)
                        return false;
                p = bar + 1;
        }
}

/* The arguments of a call of kind k (the i-th call), what it must give, and how. */
static json_t *plan(int k, long i, enum outcome *how, char *want, size_t n, int *code)
{
        *how = WANT_TEXT;
        *code = 0;
        want[0] = '\0';
        switch (k) {
        case K_SLOT:
                snprintf(want, n, "4242");
                return NULL;
        case K_BALANCE:
                snprintf(want, n, "Balance of %s: 1500000000 lamports (1.5 SOL)", ADDRESS);
                return json_pack("{s:s}", "address", ADDRESS);
        case K_VERSION:
                snprintf(want, n, "solana-core 1.18.26, feature set 123");
                return NULL;
        case K_RPC:
                snprintf(want, n, "getSlot: 4242");
                return json_pack("{s:s}", "method", "getSlot");
        case K_ECHO:
        case K_ECHO_HTTP:
                snprintf(want, n, "Echo: soak call %ld", i);
                return json_pack("{s:s}", "message", want + strlen("Echo: "));
        case K_SUM:
        case K_SUM_HTTP:
                snprintf(want, n, "The sum of %ld and 7 is %ld.", i, i + 7);
                return json_pack("{s:I, s:i}", "a", (json_int_t)i, "b", 7);
        case K_CRASHY:
                if (++crashy_n == 100) {
                        crashy_n = 0; /* it dies on this one; the next starts it again */
                        *how = WANT_ERR;
                        *code = MCP_E_CLOSED;
                        return json_pack("{s:s}", "message", "the last words");
                }
                snprintf(want, n, "crashy %ld", i);
                json_t *a = json_pack("{s:s}", "message", want);
                snprintf(want, n, "echo: crashy %ld (call %ld)", i, crashy_n);
                return a;
        case K_CANCEL_PACK:
        case K_CANCEL_STDIO:
        case K_CANCEL_HTTP:
        case K_CANCEL_SLEEP:
                *how = WANT_ERR;
                *code = MCP_E_CANCELLED;
                if (k == K_CANCEL_PACK)
                        return NULL;
                if (k == K_CANCEL_SLEEP)
                        return json_pack("{s:i}", "ms", 5000);
                return json_pack("{s:i, s:i}", "duration", 10, "steps", 5);
        case K_DEADLINE_STDIO:
                *how = WANT_ERR;
                *code = MCP_E_TIMEOUT;
                return json_pack("{s:i}", "ms", 5000);
        case K_DEADLINE_HTTP:
                *how = WANT_ERR;
                *code = MCP_E_TIMEOUT;
                return json_pack("{s:i, s:i}", "duration", 10, "steps", 5);
        case K_DEADLINE_PACK:
        case K_LIMIT_TIME:
                /* the tool's host call, held to the same deadline, may give up first */
                *how = WANT_TOOL_E;
                snprintf(want, n, "was stopped (limit: |the host call failed: no answer from");
                return NULL;
        case K_LIMIT_MEMORY:
                *how = WANT_TOOL_E;
                snprintf(want, n, "memory");
                return json_pack("{s:s}", "owner", ADDRESS);
        case K_LIMIT_MESSAGE:
                *how = WANT_ERR;
                *code = MCP_E_TOO_LARGE;
                return NULL;
        case K_LIMIT_ANSWER:
                *how = WANT_TOOL_E;
                snprintf(want, n, "larger than");
                return json_pack("{s:s}", "method", "getSupply");
        case K_LIMIT_SERVER_MEMORY:
                /* past its sandbox's memory it dies mid-call; the next call starts it again */
                *how = WANT_ERR;
                *code = MCP_E_CLOSED;
                return json_pack("{s:i}", "mb", 200);
        }
        return NULL;
}

/* One call of kind k; false (having said why) when its answer was wrong. */
static bool one_call(struct mcp_hub *hub, int k, long i)
{
        struct kind *kd = &kinds[k];
        enum outcome how;
        char want[256];
        int code;
        json_t *args = plan(k, i, &how, want, sizeof(want), &code);
        static volatile sig_atomic_t cancel;
        cancel = 0;
        struct mcp_call_opts o = {.timeout_ms = kd->timeout_ms, .cancel = &cancel};
        if (kd->cancel_ms)
                arm(&cancel, kd->cancel_ms);
        struct iso_decision dec = {0};
        osvm_err e = {0};
        uint64_t t0 = time_mono_ns();
        json_t *r = mcp_hub_call(hub, kd->server, kd->tool, args, &o, &dec, &e);
        kd->ns += time_mono_ns() - t0;
        kd->calls++;
        disarm();
        bool ok;
        const char *text = r ? first_text(r) : "";
        bool is_error = r && json_is_true(json_object_get(r, "isError"));
        switch (how) {
        case WANT_TEXT:
                ok = r && !is_error && holds(text, want);
                break;
        case WANT_TOOL_E:
                ok = r && is_error && holds(text, want);
                break;
        default:
                ok = !r && e.code == code;
                break;
        }
        if (!ok) {
                kd->wrong++;
                _cleanup_free_ char *shown = text_sanitize(r ? text : e.msg, 300);
                fprintf(stderr, "soak: call %ld (%s): wrong: %s%s (code %d); wanted %s \"%s\"%s\n",
                        i, kd->name,
                        r ? (is_error ? "tool error: " : "result: ") : "error: ", shown, e.code,
                        how == WANT_ERR    ? "the error code"
                        : how == WANT_TEXT ? "a result holding"
                                           : "a tool error holding",
                        how == WANT_ERR ? "" : want, how == WANT_ERR ? "" : "");
                if (how == WANT_ERR)
                        fprintf(stderr, "soak:   (wanted code %d)\n", code);
        }
        json_decref(r);
        json_decref(args);
        iso_decision_free(&dec);
        return ok;
}

static long env_long(const char *name, long def)
{
        const char *v = getenv(name);
        return v && *v ? atol(v) : def;
}

int main(int argc, char **argv)
{
        session_reset(session_get(), time_mono_ns());
        log_init();
        /* The built-in osvm-mcp server is this very program (mcp_registry_add_builtin):
         * `soak mcp serve --pack osvm-mcp` serves it as osvm does. */
        if (argc > 2 && !strcmp(argv[1], "mcp"))
                return cli_cmd_mcp.run(argc - 1, argv + 1);
        long n = argc > 1 ? atol(argv[1]) : 10000;
        if (n < SAMPLE_EVERY || n > 10000000) {
                fprintf(stderr, "usage: soak [CALLS] (at least %d)\n", SAMPLE_EVERY);
                return 2;
        }
        struct bounds b = {env_long("SOAK_RSS_MB", 32), env_long("SOAK_FDS", 8),
                           env_long("SOAK_THREADS", 4), env_long("SOAK_PROCS", 3),
                           env_long("SOAK_ZOMBIES", 1)};
        struct cli_servers x;
        int r = cli_servers_open(&x, NULL);
        if (r)
                return r;
        mcp_hub_set_caller(x.hub, "soak");
        size_t up = mcp_hub_start(x.hub, NULL, NULL);
        const char *need[] = {"osvm-mcp", "everything", "everything-http",
                              "crashy",   "limits",     "hog"};
        for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
                const char *why = mcp_hub_start_error(x.hub, need[i]);
                if (why) {
                        fprintf(stderr, "soak: %s did not start: %s\n", need[i], why);
                        return 1;
                }
        }
        char words[256];
        cli_isolation_words(&x.host, words, sizeof(words));
        printf("soak: %ld calls, %zu servers up; %s\n", n, up, words);
        pthread_t ct;
        pthread_create(&ct, NULL, canceller, NULL);

        size_t nsamples = (size_t)(n / SAMPLE_EVERY) + 2, ns = 0;
        struct sample *s = xcalloc(nsamples, sizeof(*s));
        uint64_t t0 = time_mono_ns();
        printf("\n%7s %9s %7s %5s %8s %6s %6s %8s\n", "calls", "seconds", "RSS MB", "fds",
               "threads", "procs", "stubs", "zombies");
        take(&s[ns], 0, t0);
        print_row(&s[ns++]);
        long wrong = 0;
        size_t base = 0;
        int rot[3] = {0, 0, 0};
        unsigned gen = mcp_hub_tools_gen(x.hub);
        long relists = 0;
        for (long i = 0; i < n; i++) {
                int k = round_of[i % 20];
                if (k == -1)
                        k = cancels[rot[0]++ % 4];
                else if (k == -2)
                        k = deadlines[rot[1]++ % 3];
                else if (k == -3)
                        k = limits[rot[2]++ % 4];
                if (i % 250 == 137) /* a server past its memory: once in 250 calls */
                        k = K_LIMIT_SERVER_MEMORY;
                wrong += !one_call(x.hub, k, i);
                /* as the chat and the gateway do: the tools again once they changed
                 * (a server started again counts as a change) */
                if (mcp_hub_tools_gen(x.hub) != gen) {
                        gen = mcp_hub_tools_gen(x.hub);
                        for (size_t j = 0; j < sizeof(need) / sizeof(need[0]); j++) {
                                osvm_err e = {0};
                                if (!mcp_hub_tools(x.hub, need[j], NULL, &e)) {
                                        fprintf(stderr, "soak: call %ld: %s's tools: %s\n", i,
                                                need[j], e.msg);
                                        wrong++;
                                }
                        }
                        relists++;
                }
                if ((i + 1) % SAMPLE_EVERY == 0) {
                        take(&s[ns], i + 1, t0);
                        print_row(&s[ns]);
                        if (i + 1 == WARMUP)
                                base = ns;
                        ns++;
                }
        }
        double total = (double)(time_mono_ns() - t0) / 1e9;

        printf("\n%-34s %7s %6s %9s\n", "kind", "calls", "wrong", "mean ms");
        for (int k = 0; k < K_N; k++)
                printf("%-34s %7ld %6ld %9.1f\n", kinds[k].name, kinds[k].calls, kinds[k].wrong,
                       kinds[k].calls ? (double)kinds[k].ns / 1e6 / (double)kinds[k].calls : 0.0);
        printf("\n%ld calls in %.1f s (%.1f ms a call), %ld wrong; the tools listed again "
               "%ld times\n",
               n, total, total * 1e3 / (double)n, wrong, relists);

        /* what grew past its bound after the warm-up */
        int grew = 0;
        const struct sample *w = &s[base];
        for (size_t j = base + 1; base && j < ns; j++) {
                const struct sample *c = &s[j];
                const char *what = NULL;
                long by = 0, bound = 0;
                if (c->rss_kb - w->rss_kb > b.rss_mb * 1024)
                        what = "RSS (MB)", by = (c->rss_kb - w->rss_kb) / 1024, bound = b.rss_mb;
                else if (c->fds - w->fds > b.fds)
                        what = "open fds", by = c->fds - w->fds, bound = b.fds;
                else if (c->threads - w->threads > b.threads)
                        what = "threads", by = c->threads - w->threads, bound = b.threads;
                else if (c->procs - w->procs > b.procs)
                        what = "child processes", by = c->procs - w->procs, bound = b.procs;
                else if (c->zombies - w->zombies > b.zombies)
                        what = "unreaped children", by = c->zombies - w->zombies, bound = b.zombies;
                if (what) {
                        fprintf(stderr,
                                "soak: %s grew by %ld after the warm-up (at call %ld; the bound "
                                "is %ld)\n",
                                what, by, c->call, bound);
                        grew = 1;
                }
        }
        if (!base)
                printf("(fewer than %d calls: no warm-up to compare with)\n", WARMUP + 1);

        pthread_mutex_lock(&cmu);
        quit = true;
        pthread_cond_signal(&ccv);
        pthread_mutex_unlock(&cmu);
        pthread_join(ct, NULL);
        cli_servers_close(&x);
        vmm_shutdown();
        long stubs, zombies;
        long left = descendants(&stubs, &zombies, NULL);
        printf("after closing: %ld processes left below the soak\n", left);
        if (left)
                descendants(&stubs, &zombies, stderr);
        free(s);
        if (wrong)
                fprintf(stderr, "soak: %ld calls gave a wrong answer\n", wrong);
        return wrong || grew ? 1 : 0;
}
