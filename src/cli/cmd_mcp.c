/*
 * `osvm mcp`: the server registry and tool calls. What servers send (tool
 * names, descriptions, progress, results, errors) and what the registry
 * file holds is sanitized before it is shown.
 */
#include "cli/cli.h"
#include "mcp/mcp.h"
#include "vmm/vmm.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int fail(osvm_err *e)
{
        log_error("%s", e->msg);
        if (e->code == MCP_E_CANCELLED || cli_interrupted)
                return OSVM_EXIT_INTERRUPTED;
        return e->exit ? e->exit : OSVM_EXIT_FAILURE;
}

/* ---- add, remove, list, import ---- */

/* A stdio server's command that is not there is said at once; the server
 * is registered all the same, as the command may be installed later. */
static void warn_missing_command(const char *name, const char *cmd)
{
        char *found = mcp_command_find(cmd);
        if (found) {
                free(found);
                return;
        }
        char hint[256];
        bool known = mcp_command_install_hint(cmd, hint, sizeof(hint));
        _cleanup_free_ char *shown = text_sanitize(cmd, 0);
        log_warn("%s: the command \"%s\" is not found (%s)%s%s. The server is registered all the "
                 "same; it will start once the command is there",
                 name, shown, strchr(cmd, '/') ? "no executable file there" : "not on PATH",
                 known ? ": " : "", known ? hint : "");
}

static int add(int argc, char **argv)
{
        static const struct option opts[] = {{"env", required_argument, NULL, 'e'},
                                             {"url", required_argument, NULL, 'u'},
                                             {"header", required_argument, NULL, 'H'},
                                             {"init-timeout", required_argument, NULL, 'T'},
                                             {"elicitation", required_argument, NULL, 'E'},
                                             {"client-id", required_argument, NULL, 'I'},
                                             {"client-secret", required_argument, NULL, 'S'},
                                             {"scope", required_argument, NULL, 'O'},
                                             {"client-metadata-url", required_argument, NULL, 'M'},
                                             {0}};
        const char *init_timeout = NULL, *elicitation = NULL;
        json_t *oauth = json_object();
        char **env = xcalloc((size_t)argc + 1, sizeof(char *));
        char **headers = xcalloc((size_t)argc + 1, sizeof(char *));
        size_t nenv = 0, nhdr = 0;
        const char *url = NULL;
        char *path = NULL;
        int c, r;
        optind = 0;
        while ((c = getopt_long(argc, argv, "e:u:H:", opts, NULL)) != -1) {
                if (c == 'e')
                        env[nenv++] = optarg;
                else if (c == 'H')
                        headers[nhdr++] = optarg;
                else if (c == 'u')
                        url = optarg;
                else if (c == 'T')
                        init_timeout = optarg;
                else if (c == 'E')
                        elicitation = optarg;
                else if (c == 'I' || c == 'S' || c == 'O' || c == 'M')
                        json_object_set_new(oauth,
                                            c == 'I'   ? "client_id"
                                            : c == 'S' ? "client_secret"
                                            : c == 'O' ? "scope"
                                                       : "client_metadata_url",
                                            json_string(optarg));
                else {
                        r = cli_usage_error(&cli_cmd_mcp, "unknown option");
                        goto out;
                }
        }
        if (optind >= argc) {
                r = cli_usage_error(&cli_cmd_mcp,
                                    "usage: osvm mcp add NAME [--env K=V] -- CMD ARGS... | "
                                    "osvm mcp add NAME --url URL");
                goto out;
        }
        const char *name = argv[optind++];
        if (optind < argc && strcmp(argv[optind], "--") == 0)
                optind++;
        if (!url && optind >= argc) {
                r = cli_usage_error(&cli_cmd_mcp, "give the server's command after --, or --url");
                goto out;
        }
        if (url && (optind < argc || nenv)) {
                r = cli_usage_error(&cli_cmd_mcp, "--url takes no command and no --env");
                goto out;
        }
        if (!url && json_object_size(oauth)) {
                r = cli_usage_error(&cli_cmd_mcp, "--client-id, --client-secret, --scope and "
                                                  "--client-metadata-url are for --url");
                goto out;
        }
        char *end = NULL;
        unsigned long ms = init_timeout ? strtoul(init_timeout, &end, 10) : 0;
        if (init_timeout && (!*init_timeout || *end || ms < 1 || ms > 3600000)) {
                r = cli_usage_error(&cli_cmd_mcp,
                                    "--init-timeout takes milliseconds (1 to 3600000)");
                goto out;
        }
        if (elicitation && strcmp(elicitation, "decline") && strcmp(elicitation, "defaults")) {
                r = cli_usage_error(&cli_cmd_mcp, "--elicitation takes decline or defaults");
                goto out;
        }
        path = mcp_registry_path();
        osvm_err e = {0};
        r = url ? mcp_registry_add_http(path, name, url, headers, &e)
                : mcp_registry_add_stdio(path, name, argv + optind, env, &e);
        if (r == 0 && init_timeout)
                r = mcp_registry_set(path, name, "init_timeout_ms", json_integer((json_int_t)ms),
                                     &e);
        if (r == 0 && elicitation)
                r = mcp_registry_set(path, name, "elicitation", json_string(elicitation), &e);
        if (r == 0 && json_object_size(oauth))
                r = mcp_registry_set(path, name, "oauth", json_incref(oauth), &e);
        if (r < 0) {
                r = fail(&e);
                goto out;
        }
        char *shown = text_sanitize(name, 0), *where = text_sanitize(url, 0);
        printf("added %s (%s)\n", shown, url ? where : "stdio");
        free(shown);
        free(where);
        if (!url)
                warn_missing_command(name, argv[optind]);
        r = OSVM_EXIT_OK;
out:
        json_decref(oauth);
        free(path);
        free(env);
        free(headers);
        return r;
}

static int remove_cmd(int argc, char **argv)
{
        if (argc != 2)
                return cli_usage_error(&cli_cmd_mcp, "usage: osvm mcp remove NAME");
        _cleanup_free_ char *path = mcp_registry_path();
        osvm_err e = {0};
        if (mcp_registry_remove(path, argv[1], &e) < 0)
                return fail(&e);
        _cleanup_free_ char *shown = text_sanitize(argv[1], 0);
        printf("removed %s\n", shown);
        return OSVM_EXIT_OK;
}

static int import(int argc, char **argv)
{
        if (argc != 2)
                return cli_usage_error(&cli_cmd_mcp, "usage: osvm mcp import FILE");
        _cleanup_free_ char *path = mcp_registry_path();
        osvm_err e = {0};
        size_t added, skipped;
        if (mcp_registry_import(path, argv[1], &added, &skipped, &e) < 0)
                return fail(&e);
        _cleanup_free_ char *shown = text_sanitize(argv[1], 0);
        printf("imported %zu server%s from %s (%zu skipped)\n", added, added == 1 ? "" : "s", shown,
               skipped);
        return OSVM_EXIT_OK;
}

static bool json_flag(int *argc, char **argv)
{
        bool json = false;
        int k = 0;
        for (int i = 0; i < *argc; i++) {
                if (strcmp(argv[i], "--json") == 0)
                        json = true;
                else
                        argv[k++] = argv[i];
        }
        *argc = k;
        return json;
}

static int list(int argc, char **argv)
{
        bool json = json_flag(&argc, argv);
        if (argc != 1)
                return cli_usage_error(&cli_cmd_mcp, "usage: osvm mcp list [--json]");
        struct mcp_registry reg;
        int r = cli_load_registry(&reg);
        if (r)
                return r;
        struct iso_host host;
        cli_probe_host(&host);
        mcp_registry_add_builtin(&reg, &host);
        json_t *arr = json_array();
        for (size_t i = 0; i < reg.n; i++) {
                const struct mcp_server_conf *s = &reg.v[i];
                strbuf cmd = {0};
                for (size_t k = 0; s->argv && s->argv[k]; k++)
                        sb_addf(&cmd, "%s%s", k ? " " : "", s->argv[k]);
                const char *where = s->kind == MCP_KIND_HTTP ? s->url : cmd.s ? cmd.s : "";
                if (json)
                        json_array_append_new(
                            arr, json_pack("{s:s, s:s, s:s, s:b}", "name", s->id, "transport",
                                           s->kind == MCP_KIND_HTTP ? "http" : "stdio", "target",
                                           where, "enabled", s->enabled));
                else {
                        _cleanup_free_ char *id = text_sanitize(s->id, 0);
                        _cleanup_free_ char *target = text_sanitize(where, 0);
                        printf("%-20s %-5s %s%s\n", id, s->kind == MCP_KIND_HTTP ? "http" : "stdio",
                               target, s->enabled ? "" : "  (disabled)");
                }
                sb_free(&cmd);
        }
        if (json)
                cli_print_json(arr);
        else if (!reg.n)
                printf("no MCP servers registered; add one with 'osvm mcp add'\n");
        json_decref(arr);
        mcp_registry_free(&reg);
        return OSVM_EXIT_OK;
}

/* ---- tools and calls: they need the servers running ---- */

/* The first line of a tool's description, sanitized, in at most 80 columns. */
static char *first_line(const char *s)
{
        strbuf b = {0};
        sb_add_sanitized(&b, s ? s : "", s ? strcspn(s, "\n") : 0, 0);
        char *line = cli_fit_columns(b.s, 80, term_utf8());
        sb_free(&b);
        return line;
}

static int tools(int argc, char **argv)
{
        bool json = json_flag(&argc, argv);
        if (argc > 2)
                return cli_usage_error(&cli_cmd_mcp, "usage: osvm mcp tools [NAME | URL] [--json]");
        const char *only = argc == 2 ? argv[1] : NULL;
        struct cli_servers x;
        int r = cli_servers_open(&x, &only);
        if (r)
                return r;
        json_t *all = json_object();
        cli_catch_interrupt();
        struct mcp_call_opts o = {.cancel = &cli_interrupted};
        /* every server at once: one that hangs delays none of the others */
        if (!only || mcp_registry_find(&x.reg, only))
                mcp_hub_start(x.hub, only, &o);
        for (size_t i = 0; i < x.reg.n; i++) {
                const struct mcp_server_conf *s = &x.reg.v[i];
                if ((only && strcmp(s->id, only) != 0) || (!only && !s->enabled))
                        continue;
                osvm_err e = {0};
                json_t *t = mcp_hub_tools(x.hub, s->id, &o, &e);
                if (!t) {
                        r = fail(&e);
                        continue;
                }
                json_object_set(all, s->id, t);
                if (json)
                        continue;
                size_t k;
                json_t *tool;
                json_array_foreach(t, k, tool)
                {
                        _cleanup_free_ char *id = text_sanitize(s->id, 0);
                        _cleanup_free_ char *name =
                            text_sanitize(json_string_value(json_object_get(tool, "name")), 0);
                        _cleanup_free_ char *desc =
                            first_line(json_string_value(json_object_get(tool, "description")));
                        printf("%s/%-28s %s\n", id, name, desc);
                }
        }
        if (only && !mcp_registry_find(&x.reg, only)) {
                log_error("no MCP server \"%s\" is registered", only);
                r = OSVM_EXIT_USAGE;
        }
        /* one shape: {"SERVER": [tools...]}, whether one server was named or all */
        if (json && (!r || json_object_size(all)))
                cli_print_json(all);
        json_decref(all);
        cli_servers_close(&x);
        return r;
}

/* The tool's declared type for an argument, from its inputSchema. */
static const char *arg_type(json_t *tool, const char *key)
{
        json_t *props = json_object_get(json_object_get(tool, "inputSchema"), "properties");
        json_t *type = json_object_get(json_object_get(props, key), "type");
        return json_string_value(type);
}

/* key=value words as an arguments object, typed by the schema. */
static json_t *parse_args(json_t *tool, char **words, int n, osvm_err *e)
{
        if (n == 1 && words[0][0] == '{') {
                json_error_t jerr;
                json_t *v = json_loads(words[0], JSON_REJECT_DUPLICATES, &jerr);
                if (!json_is_object(v)) {
                        json_decref(v);
                        err_set(e, EINVAL, "the arguments are not a JSON object: %s",
                                v ? "another JSON value" : jerr.text);
                        e->exit = OSVM_EXIT_USAGE;
                        return NULL;
                }
                return v;
        }
        json_t *args = json_object();
        for (int i = 0; i < n; i++) {
                char *eq = strchr(words[i], '=');
                if (!eq || eq == words[i]) {
                        json_decref(args);
                        err_set(e, EINVAL, "\"%s\" is not key=value (or give one JSON object)",
                                words[i]);
                        e->exit = OSVM_EXIT_USAGE;
                        return NULL;
                }
                *eq = '\0';
                const char *key = words[i], *val = eq + 1;
                const char *type = arg_type(tool, key);
                json_t *v = NULL;
                if (type && (!strcmp(type, "integer") || !strcmp(type, "number"))) {
                        char *end;
                        errno = 0;
                        double d = strtod(val, &end);
                        bool ok = *val && !*end && !errno && isfinite(d);
                        if (ok && !strcmp(type, "integer"))
                                ok = d == (double)(json_int_t)d;
                        if (ok)
                                v = !strcmp(type, "integer") ? json_integer((json_int_t)d)
                                                             : json_real(d);
                } else if (type && !strcmp(type, "boolean")) {
                        v = !strcmp(val, "true")    ? json_true()
                            : !strcmp(val, "false") ? json_false()
                                                    : NULL;
                } else if (type && (!strcmp(type, "array") || !strcmp(type, "object"))) {
                        v = json_loads(val, 0, NULL);
                } else if (type) {
                        v = json_string(val);
                } else {
                        /* No schema for it: JSON when it reads as JSON, else a string. */
                        v = json_loads(val, JSON_DECODE_ANY, NULL);
                        if (!v)
                                v = json_string(val);
                }
                if (!v) {
                        json_decref(args);
                        err_set(e, EINVAL, "%s: \"%s\" is not a valid %s", key, val, type);
                        e->exit = OSVM_EXIT_USAGE;
                        return NULL;
                }
                json_object_set_new(args, key, v);
        }
        return args;
}

/* Progress on stderr: on a terminal one line, redrawn and never wider than
 * the window (so that "\r" reaches its start); else a line each. */
static void show_progress(void *ctx, const struct mcp_progress *p)
{
        _cleanup_free_ char *tool = text_sanitize(ctx, 0); /* from the command line */
        _cleanup_free_ char *msg = text_sanitize(p->message, 0);
        _cleanup_free_ char *text = p->total > 0
                                        ? xasprintf("%.0f/%.0f %s", p->progress, p->total, msg)
                                        : xasprintf("%.0f %s", p->progress, msg);
        bool tty = isatty(STDERR_FILENO);
        _cleanup_free_ char *line =
            tty ? xasprintf("%s: %s", tool, text) : xasprintf("progress: %s", text);
        unsigned cols = cli_term_columns(STDERR_FILENO);
        _cleanup_free_ char *fit = cli_fit_columns(line, cols > 1 ? cols - 1 : 79, term_utf8());
        fprintf(stderr, tty ? "\r\033[K%s" : "%s\n", fit);
}

/* A string field of a block, sanitized on one line ("?" when not a string). */
static char *field(json_t *v)
{
        return text_sanitize(json_is_string(v) ? json_string_value(v) : "?", 0);
}

/* The content blocks for a person, sanitized. */
static void print_content(json_t *result, FILE *f)
{
        strbuf out = {0};
        size_t i;
        json_t *b;
        json_array_foreach(json_object_get(result, "content"), i, b)
        {
                _cleanup_free_ char *type = field(json_object_get(b, "type"));
                if (!strcmp(type, "text")) {
                        const char *t = json_string_value(json_object_get(b, "text"));
                        size_t n = t ? strlen(t) : 0;
                        sb_add_sanitized(&out, t ? t : "", n, TEXT_MULTILINE);
                        if (!n || t[n - 1] != '\n')
                                sb_add(&out, "\n");
                } else if (!strcmp(type, "image") || !strcmp(type, "audio")) {
                        const char *data = json_string_value(json_object_get(b, "data"));
                        _cleanup_free_ char *mime = field(json_object_get(b, "mimeType"));
                        sb_addf(&out, "[%s: %s, %zu bytes of base64]\n", type, mime,
                                data ? strlen(data) : 0);
                } else if (!strcmp(type, "resource_link")) {
                        _cleanup_free_ char *uri = field(json_object_get(b, "uri"));
                        sb_addf(&out, "[resource link: %s]\n", uri);
                } else if (!strcmp(type, "resource")) {
                        json_t *r = json_object_get(b, "resource");
                        const char *t = json_string_value(json_object_get(r, "text"));
                        _cleanup_free_ char *uri = field(json_object_get(r, "uri"));
                        if (t) {
                                sb_add_sanitized(&out, t, strlen(t), TEXT_MULTILINE);
                                sb_add(&out, "\n");
                        } else {
                                sb_addf(&out, "[resource: %s]\n", uri);
                        }
                } else {
                        sb_addf(&out, "[%s block]\n", type);
                }
        }
        json_t *sc = json_object_get(result, "structuredContent");
        if (sc && !json_array_size(json_object_get(result, "content"))) {
                char *s = json_dumps(sc, JSON_INDENT(2));
                sb_add_sanitized(&out, s ? s : "", s ? strlen(s) : 0, TEXT_MULTILINE);
                sb_add(&out, "\n");
                free(s);
        }
        if (out.len)
                fputs(out.s, f);
        sb_free(&out);
}

static int call(int argc, char **argv)
{
        bool json = json_flag(&argc, argv);
        uint32_t timeout = 0;
        int k = 1;
        if (argc > 2 && !strcmp(argv[1], "--timeout")) {
                timeout = (uint32_t)strtoul(argv[2], NULL, 10);
                if (!timeout)
                        return cli_usage_error(&cli_cmd_mcp, "--timeout takes milliseconds");
                k = 3;
        }
        if (argc - k < 2)
                return cli_usage_error(&cli_cmd_mcp, "usage: osvm mcp call [--timeout MS] NAME "
                                                     "TOOL [JSON | key=value ...] [--json]");
        const char *server = argv[k], *tool = argv[k + 1];
        struct cli_servers x;
        int r = cli_servers_open(&x, &server);
        if (r)
                return r;
        osvm_err e = {0};
        cli_catch_interrupt();
        struct mcp_call_opts o = {.timeout_ms = timeout,
                                  .cancel = &cli_interrupted,
                                  .on_progress = show_progress,
                                  .progress_ctx = (void *)tool};
        json_t *args = NULL, *result = NULL, *schema_tool = NULL;
        struct iso_decision dec = {0};
        int nwords = argc - k - 2;
        char **words = argv + k + 2;
        if (nwords && !(nwords == 1 && words[0][0] == '{')) {
                /* key=value needs the tool's schema to type the values. */
                json_t *list = mcp_hub_tools(x.hub, server, &o, &e);
                if (!list) {
                        r = fail(&e);
                        goto out;
                }
                size_t i;
                json_t *t;
                json_array_foreach(list, i, t)
                {
                        if (!strcmp(json_string_value(json_object_get(t, "name")), tool))
                                schema_tool = t;
                }
        }
        if (nwords && !(args = parse_args(schema_tool, words, nwords, &e))) {
                r = fail(&e);
                goto out;
        }
        uint64_t t0 = time_mono_ns();
        result = mcp_hub_call(x.hub, server, tool, args, &o, &dec, &e);
        uint64_t took = time_mono_ns() - t0;
        if (isatty(STDERR_FILENO))
                fprintf(stderr, "\r\033[K");
        if (!result) {
                if (e.code == MCP_E_CANCELLED || cli_interrupted)
                        r = OSVM_EXIT_INTERRUPTED;
                else
                        r = e.exit ? e.exit : OSVM_EXIT_FAILURE;
                /* A refusal was said, with its remedy, by the decision's own
                 * log line; it is not said again. */
                if (dec.route != ISO_ROUTE_DENY)
                        log_error("%s", e.msg);
                goto out;
        }
        bool is_error = json_is_true(json_object_get(result, "isError"));
        if (json) {
                json_t *reasons = json_array();
                for (size_t i = 0; i < dec.nreasons; i++)
                        json_array_append_new(reasons, json_string(dec.reasons[i].text));
                char *status = cli_status_line(session_get(), time_mono_ns(),
                                               (struct status_style){true, false});
                json_t *v =
                    json_pack("{s:s, s:s, s:o, s:s, s:o, s:f, s:O, s:s}", "server", server, "tool",
                              tool, "arguments", args ? json_incref(args) : json_object(), "mode",
                              iso_route_name(dec.route), "reasons", reasons, "duration_ms",
                              (double)took / 1e6, "result", result, "status", status);
                if (dec.route == ISO_ROUTE_UNIKERNEL) /* a VM (kvm) or a trapped process */
                        json_object_set_new(v, "platform",
                                            json_string(iso_platform_name(dec.platform)));
                free(status);
                cli_print_json(v);
                json_decref(v);
        } else {
                print_content(result, is_error ? stderr : stdout);
        }
        r = is_error ? OSVM_EXIT_TOOL_ERROR : OSVM_EXIT_OK;
out:
        iso_decision_free(&dec);
        json_decref(result);
        json_decref(args);
        cli_servers_close(&x);
        return r;
}

static int logout(int argc, char **argv)
{
        if (argc != 2)
                return cli_usage_error(&cli_cmd_mcp, "usage: osvm mcp logout NAME");
        osvm_err e = {0};
        bool had;
        if (mcp_oauth_logout(argv[1], &had, &e) < 0)
                return fail(&e);
        _cleanup_free_ char *shown = text_sanitize(argv[1], 0);
        printf(had ? "logged out of %s: its tokens are removed\n" : "no tokens were kept for %s\n",
               shown);
        return OSVM_EXIT_OK;
}

static int serve(int argc, char **argv)
{
        if (argc != 2)
                return cli_usage_error(&cli_cmd_mcp, "usage: osvm mcp serve osvm-mcp");
        struct iso_config cfg;
        int r = cli_load_config(&cfg);
        if (r)
                return r;
        struct iso_host host;
        cli_probe_host(&host);
        cli_start_vm_pool(&host);
        osvm_err e = {0};
        if (mcp_serve(argv[1], &cfg, &host, STDIN_FILENO, STDOUT_FILENO, &e) < 0) {
                log_error("%s", e.msg);
                r = OSVM_EXIT_FAILURE;
        }
        vmm_shutdown();
        iso_config_free(&cfg);
        return r;
}

static int run_mcp(int argc, char **argv)
{
        static const struct cli_verb verbs[] = {
            {"add", add},     {"remove", remove_cmd}, {"list", list},   {"import", import},
            {"tools", tools}, {"call", call},         {"serve", serve}, {"logout", logout}};
        return cli_run_verb(&cli_cmd_mcp, verbs, sizeof(verbs) / sizeof(verbs[0]), argc, argv);
}

const struct cli_cmd cli_cmd_mcp = {
    .name = "mcp",
    .summary = "register MCP servers, list their tools, call them",
    .help = "usage: osvm mcp add NAME [--env K=V]... [OPTIONS] -- CMD [ARGS...]\n"
            "       osvm mcp add NAME --url URL [--header 'Name: value']... [OPTIONS]\n"
            "         OPTIONS: --init-timeout MS, --elicitation decline|defaults,\n"
            "         --client-id ID [--client-secret S] [--scope S] (OAuth, pre-registered),\n"
            "         --client-metadata-url URL (OAuth: a client ID metadata document)\n"
            "       osvm mcp remove NAME\n"
            "       osvm mcp logout NAME\n"
            "       osvm mcp list [--json]\n"
            "       osvm mcp import FILE\n"
            "       osvm mcp tools [NAME | URL] [--json]\n"
            "       osvm mcp serve osvm-mcp\n"
            "       osvm mcp call [--timeout MS] NAME|URL TOOL [JSON | key=value...] [--json]\n"
            "\n"
            "MCP servers are kept in mcp_servers.json beside the isolation config: stdio\n"
            "servers (a command osvm starts) and Streamable HTTP servers (a URL). 'import'\n"
            "reads the common {\"mcpServers\": {NAME: {command, args, env}}} files.\n"
            "'tools' and 'call' also take a Streamable HTTP URL in place of a NAME.\n"
            "A server that asks for OAuth is signed in to on first use: osvm prints the\n"
            "URL and opens it with $BROWSER (or xdg-open); tokens are kept per server\n"
            "under the state directory until 'logout'.\n"
            "The built-in osvm-mcp server (the Solana tool pack) is there without being\n"
            "added; 'serve' speaks MCP over stdio for it, each call still isolated.\n"
            "\n"
            "'call' asks the isolation policy where the call runs ('osvm isolation explain\n"
            "NAME/TOOL' shows the decision): in a fresh unikernel VM when the tool has an\n"
            "image, else directly on the server when the policy allows the fallback.\n"
            "Arguments are one JSON object or key=value pairs typed by the tool's schema.\n"
            "Progress is shown on stderr; Ctrl-C cancels the call. With --json, the call,\n"
            "its mode, reasons, duration and result are printed as one JSON object.\n"
            "\n"
            "Exit codes: 0 ok, 1 failure, 2 usage, 3 config invalid, 4 refused by policy,\n"
            "5 the tool reported an error, 130 cancelled.\n",
    .run = run_mcp,
};
