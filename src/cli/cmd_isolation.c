/*
 * `osvm isolation show|explain|set|validate|path`: the isolation policy.
 * What the config file and the command line hold (names, paths, values) is
 * sanitized before it is shown.
 */
#include "cli/cli.h"
#include "mcp/mcp.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* Parses [--json] and returns the index of the first operand, or -1. */
static int parse_json_flag(int argc, char **argv, bool *json)
{
        static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {0}};
        int c;
        optind = 0;
        *json = false;
        while ((c = getopt_long(argc, argv, "+j", opts, NULL)) != -1) {
                if (c != 'j')
                        return -1;
                *json = true;
        }
        return optind;
}

/* Resolves and prints one tool's policy, with the route it takes on this
 * host, as text into b or as JSON into arr. */
static void show_tool(const struct iso_config *cfg, const struct iso_host *host,
                      const struct cli_known_server *ks, const char *tool, strbuf *b, json_t *arr)
{
        struct iso_policy p;
        struct iso_decision d;
        iso_policy_resolve(cfg, ks->name, tool, &p);
        cli_decide(cfg, ks->name, ks->conf, tool, host, &d);
        if (arr) {
                json_t *j = iso_policy_json(&p, &d);
                json_object_set_new(j, "registered", json_boolean(ks->registered));
                json_array_append_new(arr, j);
        } else {
                char *t = iso_policy_text(&p, &d);
                sb_addf(b, "%s%s", b->len ? "\n" : "", t);
                free(t);
        }
        iso_decision_free(&d);
        iso_policy_free(&p);
}

/* Every tool the config lists under a server; for one it lists none of, the
 * policy all its tools get (the built-in pack's, tool by tool). */
static void show_server(const struct iso_config *cfg, const struct iso_host *host,
                        const struct cli_known_server *ks, strbuf *b, json_t *arr)
{
        const struct iso_server *srv = iso_config_server(cfg, ks->name);
        if (srv && srv->ntools) {
                for (size_t t = 0; t < srv->ntools; t++)
                        show_tool(cfg, host, ks, srv->tools[t].name, b, arr);
        } else if (ks->builtin) {
                for (size_t t = 0; iso_osvm_mcp_tools[t]; t++)
                        show_tool(cfg, host, ks, iso_osvm_mcp_tools[t], b, arr);
        } else {
                show_tool(cfg, host, ks, ISO_ANY_TOOL, b, arr);
        }
}

static int show(int argc, char **argv)
{
        bool json;
        int i = parse_json_flag(argc, argv, &json);
        if (i < 0 || argc - i > 1)
                return cli_usage_error(&cli_cmd_isolation, "usage: osvm isolation show [--json] "
                                                           "[SERVER[/TOOL]]");
        _cleanup_free_ char *server = NULL, *tool = NULL;
        osvm_err e = {0};
        if (i < argc && iso_split_target(argv[i], true, &server, &tool, &e) < 0)
                return cli_usage_error(&cli_cmd_isolation, "%s", e.msg);

        struct iso_config cfg;
        int r = cli_load_config(&cfg);
        if (r)
                return r;
        struct iso_host host;
        cli_probe_host(&host);
        struct cli_known known;
        cli_known_open(&known, &cfg, &host);
        const struct cli_known_server *ks = NULL;
        for (size_t k = 0; server && k < known.n && !ks; k++)
                if (!strcmp(known.v[k].name, server))
                        ks = &known.v[k];
        struct cli_known_server unknown = {.name = server};
        strbuf b = {0};
        json_t *arr = json ? json_array() : NULL;
        if (!server) {
                if (!json)
                        sb_addf(&b, "Isolation config: %s\nDefault mode: %s; images in %s\n",
                                cfg.path, iso_mode_name(cfg.default_mode), cfg.unikernel_dir);
                for (size_t k = 0; k < known.n; k++)
                        show_server(&cfg, &host, &known.v[k], &b, arr);
        } else if (!tool) {
                if (ks) {
                        show_server(&cfg, &host, ks, &b, arr);
                } else {
                        _cleanup_free_ char *name = text_sanitize(server, 0);
                        log_error("no server \"%s\" in %s or in the registry ('osvm mcp list')",
                                  name, cfg.path);
                        r = OSVM_EXIT_FAILURE;
                }
        } else {
                show_tool(&cfg, &host, ks ? ks : &unknown, tool, &b, arr);
        }
        if (arr) {
                if (!r)
                        ui_print_json(tool ? json_array_get(arr, 0) : arr);
                json_decref(arr);
        } else if (b.len) {
                _cleanup_free_ char *shown = text_sanitize(b.s, TEXT_MULTILINE);
                fputs(shown, stdout);
        }
        sb_free(&b);
        cli_known_close(&known);
        iso_config_free(&cfg);
        return r;
}

static int explain(int argc, char **argv)
{
        bool json;
        int i = parse_json_flag(argc, argv, &json);
        if (i < 0 || argc - i != 1)
                return cli_usage_error(&cli_cmd_isolation,
                                       "usage: osvm isolation explain [--json] SERVER/TOOL");
        _cleanup_free_ char *server = NULL, *tool = NULL;
        osvm_err e = {0};
        if (iso_split_target(argv[i], false, &server, &tool, &e) < 0)
                return cli_usage_error(&cli_cmd_isolation, "%s", e.msg);

        struct iso_config cfg;
        int r = cli_load_config(&cfg);
        if (r)
                return r;
        struct iso_host host;
        cli_probe_host(&host);
        struct cli_known known;
        cli_known_open(&known, &cfg, &host);
        const struct mcp_server_conf *conf = mcp_registry_find(&known.reg, server);
        struct iso_decision d;
        cli_decide(&cfg, server, conf, tool, &host, &d);
        cli_known_close(&known);
        /* a call that goes to its server: what the server's sandbox holds it to here */
        struct iso_sandbox sb;
        iso_server_sandbox(&cfg, server, &sb);
        bool sandboxed = d.sandboxed;
        enum mcp_tier tier = !sandboxed                   ? MCP_TIER_HOST
                             : !strcmp(d.tier, "reduced") ? MCP_TIER_REDUCED
                                                          : MCP_TIER_SANDBOX;
        if (json) {
                json_t *v = iso_decision_json(&d);
                if (sandboxed)
                        json_object_set_new(v, "sandbox", mcp_sandbox_json(&sb, tier));
                ui_print_json(v);
                json_decref(v);
        } else {
                char *trace = iso_decision_trace(&d);
                _cleanup_free_ char *shown = text_sanitize(trace, TEXT_MULTILINE);
                fputs(shown, stdout);
                free(trace);
                if (sandboxed) {
                        _cleanup_free_ char *line = mcp_sandbox_text(&sb, tier);
                        printf("%s: %s\n", tier == MCP_TIER_SANDBOX ? "SANDBOX" : "WARN", line);
                }
        }
        r = d.route == ISO_ROUTE_DENY ? OSVM_EXIT_DENIED : OSVM_EXIT_OK;
        iso_decision_free(&d);
        iso_config_free(&cfg);
        return r;
}

/* After a server's execution_mode is set: its tools that set their own keep
 * it (the nearest level wins), which the user may not expect. */
static void note_tool_modes(const char *path, const char *server)
{
        struct iso_config cfg;
        struct iso_diags d = {0};
        int r = iso_config_load(path, &cfg, &d);
        iso_diags_free(&d);
        if (r < 0)
                return;
        const struct iso_server *srv = iso_config_server(&cfg, server);
        strbuf names = {0};
        size_t n = 0;
        for (size_t i = 0; srv && i < srv->ntools; i++)
                if (srv->tools[i].execution_mode != ISO_MODE_UNSET &&
                    srv->tools[i].execution_mode != srv->execution_mode)
                        sb_addf(&names, "%s%s", n++ ? ", " : "", srv->tools[i].name);
        if (n)
                log_warn("%zu tool%s of %s set%s %s own execution_mode, which wins over the "
                         "server's: %s (remove it with 'osvm isolation set %s/TOOL "
                         "execution_mode=')",
                         n, n == 1 ? "" : "s", server, n == 1 ? "s" : "", n == 1 ? "its" : "their",
                         names.s, server);
        sb_free(&names);
        iso_config_free(&cfg);
}

static int set(int argc, char **argv)
{
        if (argc < 2)
                return cli_usage_error(&cli_cmd_isolation,
                                       "usage: osvm isolation set [SERVER[/TOOL]] KEY=VALUE...");
        /* The target is optional: a first operand without '=' names it. */
        int first = 1;
        const char *target = NULL;
        if (!strchr(argv[1], '=')) {
                target = argv[1];
                first = 2;
        }
        if (first >= argc)
                return cli_usage_error(&cli_cmd_isolation, "nothing to set: give KEY=VALUE");

        /* The first run writes the default file; iso_config_set reports the
         * diagnostics, but not why there is no file to edit: said here. */
        struct iso_config cfg;
        struct iso_diags d = {0};
        _cleanup_free_ char *path = iso_config_path();
        struct stat st;
        bool unmade = iso_config_open(&cfg, &d) < 0 && lstat(path, &st) < 0;
        iso_config_free(&cfg);
        if (unmade) {
                cli_report_diags(&d);
                iso_diags_free(&d);
                return OSVM_EXIT_CONFIG;
        }
        iso_diags_free(&d);

        osvm_err e = {0};
        int r = iso_config_set(path, target, (const char *const *)argv + first,
                               (size_t)(argc - first), &d, &e);
        cli_report_diags(&d);
        iso_diags_free(&d);
        if (r < 0) {
                log_error("%s", e.msg);
                return e.exit ? e.exit : OSVM_EXIT_FAILURE;
        }
        _cleanup_free_ char *shown = text_sanitize(target, 0);
        for (int i = first; i < argc; i++) {
                _cleanup_free_ char *kv = text_sanitize(argv[i], 0);
                printf("set %s%s%s\n", shown, target ? " " : "", kv);
                if (target && !strchr(target, '/') && !strncmp(argv[i], "execution_mode=", 15) &&
                    argv[i][15])
                        note_tool_modes(path, target);
        }
        return OSVM_EXIT_OK;
}

static int validate(int argc, char **argv)
{
        if (argc > 2)
                return cli_usage_error(&cli_cmd_isolation, "usage: osvm isolation validate [FILE]");
        struct iso_config cfg;
        struct iso_diags d = {0};
        int r = argc == 2 ? iso_config_load(argv[1], &cfg, &d) : iso_config_open(&cfg, &d);
        cli_report_diags(&d);
        if (r < 0) {
                fprintf(stderr, "invalid: %zu error%s; no tool will run under this config\n",
                        d.nerrors, d.nerrors == 1 ? "" : "s");
                iso_diags_free(&d);
                return OSVM_EXIT_CONFIG;
        }
        size_t ntools = 0;
        for (size_t i = 0; i < cfg.nservers; i++)
                ntools += cfg.servers[i].ntools;
        _cleanup_free_ char *shown = text_sanitize(cfg.path, 0);
        printf("%s: valid (%zu server%s, %zu tool%s, %zu warning%s)\n", shown, cfg.nservers,
               cfg.nservers == 1 ? "" : "s", ntools, ntools == 1 ? "" : "s", d.n,
               d.n == 1 ? "" : "s");
        iso_diags_free(&d);
        iso_config_free(&cfg);
        return OSVM_EXIT_OK;
}

static int path(int argc, char **argv)
{
        (void)argv;
        if (argc != 1)
                return cli_usage_error(&cli_cmd_isolation, "usage: osvm isolation path");
        char *p = iso_config_path();
        printf("%s\n", p);
        free(p);
        return OSVM_EXIT_OK;
}

static int run_isolation(int argc, char **argv)
{
        static const struct cli_verb verbs[] = {{"show", show},
                                                {"explain", explain},
                                                {"set", set},
                                                {"validate", validate},
                                                {"path", path}};
        return cli_run_verb(&cli_cmd_isolation, verbs, sizeof(verbs) / sizeof(verbs[0]), argc,
                            argv);
}

const struct cli_cmd cli_cmd_isolation = {
    .name = "isolation",
    .summary = "show, explain, edit and validate the isolation policy",
    .help = "usage: osvm isolation show [--json] [SERVER[/TOOL]]\n"
            "       osvm isolation explain [--json] SERVER/TOOL\n"
            "       osvm isolation set [SERVER[/TOOL]] KEY=VALUE...\n"
            "       osvm isolation validate [FILE]\n"
            "       osvm isolation path\n"
            "\n"
            "The isolation policy decides where each tool call runs: in a fresh unikernel\n"
            "VM (\"unikernel\"), in its server's microVM (\"microvm\") or directly\n"
            "(\"direct\"). It lives in isolation_config.json under $OSVM_HOME, else\n"
            "$XDG_CONFIG_HOME/osvm, else ~/.config/osvm; the first run writes a default.\n"
            "\n"
            "  show       the effective policy of every server's tools (the config's and\n"
            "             the registry's servers), of one server's, or of one tool, with\n"
            "             inheritance resolved, where each value comes from (tool,\n"
            "             server, config or default) and the route on this host; what a\n"
            "             direct call cannot be held to is marked [not enforced]\n"
            "  explain    the routing decision for one call on this host, with its reasons\n"
            "             in order; exits 4 when the policy refuses the call\n"
            "  set        edits the file atomically, keeping every other field; with no\n"
            "             target, the top level. KEY=VALUE sets, KEY= removes (inherit).\n"
            "             Keys: execution_mode, unikernel_image, memory_mb, vcpus, mounts\n"
            "             (HOST:VM[:ro|:rw],...), fallback (direct|deny), timeout_ms,\n"
            "             network.allow (host[:port],...); for servers also execution_mode\n"
            "             (for its tools that set none), microvm_id, use_microvm,\n"
            "             server_command, microvm_config.memory_mb, ...\n"
            "             A value starting with [ or { is taken as JSON.\n"
            "  validate   checks a file (default: the user's) and names every problem\n"
            "  path       prints where the config file is\n"
            "\n"
            "  --json     machine-readable output (show, explain)\n"
            "\n"
            "Exit codes: 0 ok, 2 usage, 3 the config is invalid, 4 the call is refused.\n",
    .run = run_isolation,
};
