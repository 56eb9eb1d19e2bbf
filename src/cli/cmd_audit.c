/*
 * `osvm audit`: the record of every tool call (docs/audit.md): show it,
 * follow it, check its hash chain.
 */
#include "cli/cli.h"
#include "mcp/mcp.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TAIL_DEFAULT 10
#define FOLLOW_MS    200u

/* One record for a person: time, caller, server/tool, route, status, duration, egress. */
static void show(const char *line, size_t n, bool json)
{
        if (json) {
                fwrite(line, 1, n, stdout);
                fputc('\n', stdout);
                return;
        }
        json_t *r = json_loadb(line, n, 0, NULL);
        if (!json_is_object(r)) {
                _cleanup_free_ char *shown = text_sanitize(line, 0);
                printf("(not a record) %.*s\n", text_cut(shown, 200), shown);
                json_decref(r);
                return;
        }
#define F(k) text_sanitize(json_string_value(json_object_get(r, k)), 0)
        _cleanup_free_ char *when = F("time"), *caller = F("caller"), *server = F("server"),
                            *tool = F("tool"), *route = F("route"), *status = F("status"),
                            *platform = F("platform"), *tier = F("tier"), *err = F("error");
        if (!strcmp(json_string_value(json_object_get(r, "event")) ?: "", "secret")) {
                _cleanup_free_ char *secret = F("secret"), *host = F("host"), *where = F("where");
                printf("%s  %-5lld %s: secret %s %s, %s:%lld, in %s%s%s\n", when,
                       (long long)json_integer_value(json_object_get(r, "seq")), server, secret,
                       status, host, (long long)json_integer_value(json_object_get(r, "port")),
                       where, *err ? ": " : "", err);
                json_decref(r);
                return;
        }
#undef F
        double ms = (double)json_integer_value(json_object_get(r, "duration_us")) / 1000;
        _cleanup_free_ char *net = ui_egress_words(json_object_get(r, "egress"), false);
        /* where it ran: unikernel:kvm or :process, direct:sandbox, :host, ... */
        const char *where = *platform ? platform : tier;
        printf("%s  %-5lld %s/%s  %s%s%s  %s  %.1f ms  (%s)%s%s%s%s\n", when,
               (long long)json_integer_value(json_object_get(r, "seq")), server, tool, route,
               *where ? ":" : "", where, status, ms, caller, *net ? "  egress: " : "", net,
               *err ? "  " : "", err);
        json_decref(r);
}

/* Shows the lines of data[from, len) that are whole; returns where the rest starts. */
static size_t show_lines(const char *data, size_t from, size_t len, bool json)
{
        while (from < len) {
                const char *nl = memchr(data + from, '\n', len - from);
                if (!nl)
                        break;
                show(data + from, (size_t)(nl - (data + from)), json);
                from = (size_t)(nl - data) + 1;
        }
        fflush(stdout);
        return from;
}

static int tail(int argc, char **argv)
{
        bool json = false, follow = false;
        long count = TAIL_DEFAULT;
        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "--json"))
                        json = true;
                else if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--follow"))
                        follow = true;
                else if (!strcmp(argv[i], "-n") && i + 1 < argc) {
                        char *end;
                        count = strtol(argv[++i], &end, 10);
                        if (*end || count < 0)
                                return cli_usage_error(&cli_cmd_audit, "-n takes a count");
                } else
                        return cli_usage_error(&cli_cmd_audit,
                                               "usage: osvm audit tail [-n N] [-f] [--json]");
        }
        _cleanup_free_ char *path = mcp_audit_path();
        char *data = NULL;
        size_t len = 0;
        osvm_err e = {0};
        if (fs_read_file(path, (size_t)1 << 30, &data, &len, &e) < 0 && e.code != ENOENT) {
                log_error("%s", e.msg);
                return OSVM_EXIT_FAILURE;
        }
        if (!data && !follow) {
                _cleanup_free_ char *shown = text_sanitize(path, 0);
                printf("no call was recorded yet (%s)\n", shown);
                return OSVM_EXIT_OK;
        }
        /* the last count lines: back over count newlines, the final one aside */
        size_t start = len;
        long seen = 0;
        while (start > 0 && count > 0) {
                if (data[start - 1] == '\n' && start != len && ++seen == count)
                        break;
                start--;
        }
        size_t done = show_lines(data ? data : "", start, len, json);
        free(data);
        if (!follow)
                return OSVM_EXIT_OK;
        ui_catch_interrupt();
        struct stat st0;
        ino_t ino = stat(path, &st0) == 0 ? st0.st_ino : 0;
        while (!ui_interrupted) {
                usleep(FOLLOW_MS * 1000);
                struct stat st;
                if (stat(path, &st) < 0)
                        continue;
                if (st.st_ino != ino || (size_t)st.st_size < done) { /* rotated */
                        ino = st.st_ino;
                        done = 0;
                }
                if ((size_t)st.st_size == done)
                        continue;
                if (fs_read_file(path, (size_t)1 << 30, &data, &len, &e) < 0)
                        continue;
                done = show_lines(data, done < len ? done : len, len, json);
                free(data);
        }
        return OSVM_EXIT_OK;
}

static int verify(int argc, char **argv)
{
        if (argc > 2)
                return cli_usage_error(&cli_cmd_audit, "usage: osvm audit verify [FILE]");
        char *path = argc == 2 ? xstrdup(argv[1]) : mcp_audit_path();
        strbuf report = {0};
        size_t records = 0;
        osvm_err e = {0};
        int n = mcp_audit_verify(path, &report, &records, &e);
        _cleanup_free_ char *shown = text_sanitize(path, 0);
        free(path);
        int r = OSVM_EXIT_OK;
        if (n < 0) {
                log_error("%s", e.msg);
                r = OSVM_EXIT_FAILURE;
        } else {
                if (report.s)
                        fputs(report.s, n ? stderr : stdout);
                if (n) {
                        log_error("%s: the chain is broken: %d problem%s", shown, n,
                                  n == 1 ? "" : "s");
                        r = OSVM_EXIT_FAILURE;
                } else {
                        printf("%s: %zu record%s, the chain is whole\n", shown, records,
                               records == 1 ? "" : "s");
                }
        }
        sb_free(&report);
        return r;
}

static int path_cmd(int argc, char **argv)
{
        (void)argv;
        if (argc != 1)
                return cli_usage_error(&cli_cmd_audit, "usage: osvm audit path");
        _cleanup_free_ char *path = mcp_audit_path();
        printf("%s\n", path);
        return OSVM_EXIT_OK;
}

static int run_audit(int argc, char **argv)
{
        static const struct cli_verb verbs[] = {
            {"tail", tail}, {"verify", verify}, {"path", path_cmd}};
        return cli_run_verb(&cli_cmd_audit, verbs, sizeof(verbs) / sizeof(verbs[0]), argc, argv);
}

const struct cli_cmd cli_cmd_audit = {
    .name = "audit",
    .summary = "show and check the record of every tool call",
    .help = "usage: osvm audit tail [-n N] [-f] [--json]\n"
            "       osvm audit verify [FILE]\n"
            "       osvm audit path\n"
            "\n"
            "Every tool call osvm runs (through 'osvm mcp serve', the agent, 'osvm mcp\n"
            "call') is recorded as one JSON line in $XDG_STATE_HOME/osvm/audit.jsonl:\n"
            "when, who asked, the server and tool, a SHA-256 of the arguments, where it\n"
            "ran and why, the outcome, the time it took and the bytes in and out. Each\n"
            "line holds the hash of the one before, so 'verify' finds a line that was\n"
            "edited, removed or moved, and names it. 'tail' shows the last N records\n"
            "(10), and with -f the new ones as they come (Ctrl-C ends it).\n"
            "\n"
            "Exit codes: 0 ok (verify: the chain is whole), 1 failure or a broken chain,\n"
            "2 usage.\n",
    .run = run_audit,
};
