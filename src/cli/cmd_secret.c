/* osvm secret: the secrets a sandboxed MCP server may use without holding them. */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define SECRET_READ_MAX (MCP_SECRET_VALUE_MAX + 2)

static int fail(osvm_err *e)
{
        log_error("%s", e->msg);
        return e->exit ? e->exit : OSVM_EXIT_FAILURE;
}

/* The value from the terminal (no echo) or from stdin: one line, its newline dropped. */
static int read_value(const char *name, char *buf, size_t cap, size_t *len, osvm_err *e)
{
        bool tty = isatty(STDIN_FILENO);
        struct termios old, quiet;
        if (tty) {
                /* echo off before the prompt, and nothing typed ahead thrown away */
                if (tcgetattr(STDIN_FILENO, &old) < 0)
                        return err_sys(e, "reading the terminal");
                quiet = old;
                quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
                tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
                fprintf(stderr, "value of secret %s (not shown): ", name);
                fflush(stderr);
        }
        size_t n = 0;
        bool eol = false;
        while (n < cap && !eol) {
                ssize_t r = read(STDIN_FILENO, buf + n, tty ? 1 : cap - n);
                if (r < 0 && errno == EINTR && !ui_interrupted)
                        continue;
                if (r <= 0)
                        break;
                for (ssize_t i = 0; i < r; i++)
                        if (buf[n + (size_t)i] == '\n') {
                                r = i;
                                eol = true;
                                break;
                        }
                n += (size_t)r;
        }
        if (tty) {
                tcsetattr(STDIN_FILENO, TCSANOW, &old);
                fputc('\n', stderr);
        }
        if (ui_interrupted) {
                explicit_bzero(buf, cap);
                e->exit = OSVM_EXIT_INTERRUPTED;
                return err_set(e, EINTR, "cancelled");
        }
        if (n >= cap) {
                explicit_bzero(buf, cap);
                return err_set(e, EINVAL, "secret %s: the value is longer than %u bytes", name,
                               (unsigned)MCP_SECRET_VALUE_MAX);
        }
        if (n && buf[n - 1] == '\r')
                n--;
        buf[n] = '\0';
        *len = n;
        return 0;
}

static int set(int argc, char **argv)
{
        if (argc != 2)
                return cli_usage_error(&cli_cmd_secret, "usage: osvm secret set NAME");
        const char *name = argv[1];
        osvm_err e = {0};
        if (!mcp_secret_name_ok(name))
                return cli_usage_error(&cli_cmd_secret,
                                       "not a secret name: use 1 to 64 letters, digits, '_', '-' "
                                       "or '.'");
        char *buf = xmalloc(SECRET_READ_MAX + 1);
        size_t len = 0;
        int r = read_value(name, buf, SECRET_READ_MAX, &len, &e);
        if (r == 0)
                r = mcp_secret_set(name, buf, len, &e);
        explicit_bzero(buf, SECRET_READ_MAX + 1);
        free(buf);
        if (r < 0)
                return fail(&e);
        _cleanup_free_ char *where = mcp_secret_store_text();
        printf("secret %s set (%zu bytes, in %s)\n", name, len, where);
        return OSVM_EXIT_OK;
}

static int list(int argc, char **argv)
{
        (void)argv;
        if (argc != 1)
                return cli_usage_error(&cli_cmd_secret, "usage: osvm secret list");
        osvm_err e = {0};
        struct iso_strlist names;
        if (mcp_secret_names(&names, &e) < 0)
                return fail(&e);
        _cleanup_free_ char *store = mcp_secret_store_text();
        printf("store: %s\n", store);
        if (!names.n)
                printf("no secrets (osvm secret set NAME)\n");
        for (size_t i = 0; i < names.n; i++) {
                _cleanup_free_ char *n = text_sanitize(names.v[i], 0);
                printf("%s\n", n);
                free(names.v[i]);
        }
        free(names.v);
        return OSVM_EXIT_OK;
}

static int rm(int argc, char **argv)
{
        if (argc != 2)
                return cli_usage_error(&cli_cmd_secret, "usage: osvm secret rm NAME");
        osvm_err e = {0};
        if (mcp_secret_rm(argv[1], &e) < 0)
                return fail(&e);
        _cleanup_free_ char *shown = text_sanitize(argv[1], 0);
        printf("secret %s removed\n", shown);
        return OSVM_EXIT_OK;
}

static int run_secret(int argc, char **argv)
{
        static const struct cli_verb verbs[] = {{"set", set}, {"list", list}, {"rm", rm}};
        return cli_run_verb(&cli_cmd_secret, verbs, sizeof(verbs) / sizeof(verbs[0]), argc, argv);
}

const struct cli_cmd cli_cmd_secret = {
    .name = "secret",
    .summary = "keep secrets that sandboxed MCP servers use without holding them",
    .help = "usage: osvm secret set NAME      (the value from the terminal, not shown, or stdin)\n"
            "       osvm secret list          (names and where they are kept; never values)\n"
            "       osvm secret rm NAME\n"
            "\n"
            "A secret is bound to a sandboxed server with 'osvm mcp add ... --secret\n"
            "ENV=NAME@HOST[,HOST...][/HEADER[,HEADER...]][/body]': the server's variable\n"
            "ENV holds a random placeholder, never the value; osvm's proxy puts the value\n"
            "in its place on requests to the HOSTs only (HTTPS to them is opened by the\n"
            "proxy with a CA of the session that only the sandbox trusts), in the named\n"
            "headers (none named: any header), and in the body only with /body. The\n"
            "placeholder sent anywhere else is refused (403) and recorded in the audit\n"
            "log as an attempted leak; each use is recorded too, never the value.\n"
            "\n"
            "Secrets are kept in the desktop keyring where one runs (a Secret Service\n"
            "on the session bus, through libsecret), else in secrets.json in the state\n"
            "directory, readable by you alone (0600). $OSVM_SECRET_STORE=file|keyring\n"
            "chooses (auto by default); $OSVM_SECRETS_FILE names another file (and means\n"
            "the file). 'osvm secret list' says which. docs/mcp-sandbox.md.\n",
    .run = run_secret,
};
