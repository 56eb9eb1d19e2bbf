/* Inheritance (config -> server -> tool) and routing decisions, as tables. */
#include "testutil.h"

#include "isolation/isolation.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static int setup(void **state)
{
        (void)state;
        if (tu_tempdir(dir, sizeof(dir), "decide") < 0)
                return -1;
        /* Images present: s-present.img (a file), s-isdir.img (a directory). */
        char *p = xasprintf("%s/s-present.img", dir);
        int fd = open(p, O_WRONLY | O_CREAT, 0600);
        close(fd);
        free(p);
        p = xasprintf("%s/s-isdir.img", dir);
        mkdir(p, 0700);
        free(p);
        return fd >= 0 ? 0 : -1;
}

static int teardown(void **state)
{
        (void)state;
        return tu_rmrf(dir);
}

static void parse(const char *text, struct iso_config *cfg)
{
        struct iso_diags d = {0};
        int r = iso_config_parse(text, strlen(text), "t.json", cfg, &d);
        for (size_t i = 0; i < d.n; i++)
                print_message("diag: %s\n", d.v[i].text);
        iso_diags_free(&d);
        assert_int_equal(r, 0);
}

/* ---- inheritance ---- */

static const char *layered =
    "{\"timeout_ms\": 1000, \"fallback\": \"deny\", \"network\": {\"allow\": [\"a.example\"]},"
    " \"mcp_servers\": {"
    "  \"s\": {\"timeout_ms\": 2000, \"network\": {\"allow\": []}, \"tools\": {"
    "    \"t\": {\"timeout_ms\": 3000, \"fallback\": \"direct\", \"memory_mb\": 64,"
    "           \"unikernel_image\": \"custom.img\"},"
    "    \"u\": {\"execution_mode\": \"direct\", \"unikernel_image\": \"/abs/u.img\"},"
    "    \"h\": {\"unikernel_image\": \"~/img/h.img\"}}},"
    "  \"r\": {}}}";

struct inherit_case {
        const char *server, *tool;
        uint32_t timeout;
        enum iso_src timeout_src;
        enum iso_fallback fallback;
        enum iso_src fallback_src;
        size_t nallow;
        enum iso_src network_src;
        uint32_t memory;
        const char *image; /* relative to dir when not absolute */
        enum iso_mode mode;
        bool server_known, tool_known;
};

static void test_inheritance(void **state)
{
        (void)state;
        setenv("HOME", "/home/u", 1);
        char *text = xasprintf("%.*s\"unikernel_dir\": \"%s\", %s", 1, layered, dir, layered + 1);
        struct iso_config cfg;
        parse(text, &cfg);
        free(text);
        const struct inherit_case cases[] = {
            {"s", "t", 3000, ISO_SRC_TOOL, ISO_FALLBACK_DIRECT, ISO_SRC_TOOL, 0, ISO_SRC_SERVER, 64,
             "custom.img", ISO_MODE_UNIKERNEL, true, true},
            {"s", "u", 2000, ISO_SRC_SERVER, ISO_FALLBACK_DENY, ISO_SRC_CONFIG, 0, ISO_SRC_SERVER,
             ISO_DEFAULT_MEMORY_MB, "/abs/u.img", ISO_MODE_DIRECT, true, true},
            {"s", "h", 2000, ISO_SRC_SERVER, ISO_FALLBACK_DENY, ISO_SRC_CONFIG, 0, ISO_SRC_SERVER,
             ISO_DEFAULT_MEMORY_MB, "/home/u/img/h.img", ISO_MODE_UNIKERNEL, true, true},
            {"s", "unlisted", 2000, ISO_SRC_SERVER, ISO_FALLBACK_DENY, ISO_SRC_CONFIG, 0,
             ISO_SRC_SERVER, ISO_DEFAULT_MEMORY_MB, "s-unlisted.img", ISO_MODE_UNIKERNEL, true,
             false},
            {"r", "x", 1000, ISO_SRC_CONFIG, ISO_FALLBACK_DENY, ISO_SRC_CONFIG, 1, ISO_SRC_CONFIG,
             ISO_DEFAULT_MEMORY_MB, "r-x.img", ISO_MODE_UNIKERNEL, true, false},
            {"nobody", "y", 1000, ISO_SRC_CONFIG, ISO_FALLBACK_DENY, ISO_SRC_CONFIG, 1,
             ISO_SRC_CONFIG, ISO_DEFAULT_MEMORY_MB, "nobody-y.img", ISO_MODE_UNIKERNEL, false,
             false},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                const struct inherit_case *c = &cases[i];
                struct iso_policy p;
                iso_policy_resolve(&cfg, c->server, c->tool, &p);
                print_message("case %s/%s\n", c->server, c->tool);
                assert_int_equal(p.timeout_ms, c->timeout);
                assert_int_equal(p.timeout_src, c->timeout_src);
                assert_int_equal(p.fallback, c->fallback);
                assert_int_equal(p.fallback_src, c->fallback_src);
                assert_int_equal(p.network_allow->n, c->nallow);
                assert_int_equal(p.network_src, c->network_src);
                assert_int_equal(p.memory_mb, c->memory);
                assert_int_equal(p.mode, c->mode);
                assert_int_equal(p.server_known, c->server_known);
                assert_int_equal(p.tool_known, c->tool_known);
                char *want =
                    c->image[0] == '/' ? xstrdup(c->image) : xasprintf("%s/%s", dir, c->image);
                assert_string_equal(p.image, want);
                free(want);
                iso_policy_free(&p);
        }
        iso_config_free(&cfg);
}

static void test_builtin_defaults(void **state)
{
        (void)state;
        struct iso_config cfg;
        parse("{}", &cfg);
        struct iso_policy p;
        iso_policy_resolve(&cfg, "a", "b", &p);
        assert_int_equal(p.mode, ISO_MODE_UNIKERNEL);
        assert_int_equal(p.timeout_ms, ISO_DEFAULT_TIMEOUT_MS);
        assert_int_equal(p.timeout_src, ISO_SRC_DEFAULT);
        assert_int_equal(p.fallback, ISO_FALLBACK_DIRECT);
        assert_int_equal(p.vcpus, ISO_DEFAULT_VCPUS);
        assert_int_equal(p.network_allow->n, 0);
        assert_int_equal(p.mounts->n, 0);
        assert_string_equal(p.image, ISO_DEFAULT_UNIKERNEL_DIR "/a-b.img");
        iso_policy_free(&p);
        iso_config_free(&cfg);
}

/* A server's execution_mode: between default_execution_mode and the tool's own. */
static void test_server_mode(void **state)
{
        (void)state;
        char *text =
            xasprintf("{\"unikernel_dir\": \"%s\", \"default_execution_mode\": \"unikernel\","
                      " \"mcp_servers\": {\"s\": {\"execution_mode\": \"direct\","
                      " \"tools\": {\"present\": {\"execution_mode\": \"unikernel\"},"
                      " \"listed\": {\"memory_mb\": 64}}}}}",
                      dir);
        struct iso_config cfg;
        parse(text, &cfg);
        free(text);
        struct iso_host host = {.kvm_usable = true};
        static const struct {
                const char *server, *tool;
                enum iso_mode mode;
                enum iso_src src;
                enum iso_route route;
                const char *says; /* in the trace */
        } cases[] = {
            {"s", "present", ISO_MODE_UNIKERNEL, ISO_SRC_TOOL, ISO_ROUTE_UNIKERNEL,
             "Tool configured for Unikernel execution mode\n"},
            {"s", "listed", ISO_MODE_DIRECT, ISO_SRC_SERVER, ISO_ROUTE_DIRECT,
             "Tool configured for Direct execution mode (the server's execution_mode)"},
            {"s", "unlisted", ISO_MODE_DIRECT, ISO_SRC_SERVER, ISO_ROUTE_DIRECT,
             "has no entry under server s; the server's execution_mode applies"},
            {"other", "x", ISO_MODE_UNIKERNEL, ISO_SRC_CONFIG, ISO_ROUTE_DIRECT,
             "Tool configured for Unikernel execution mode (default_execution_mode)"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct iso_decision d;
                iso_decide(&cfg, cases[i].server, cases[i].tool, &host, &d);
                char *trace = iso_decision_trace(&d);
                print_message("case %s/%s:\n%s", cases[i].server, cases[i].tool, trace);
                assert_int_equal(d.policy.mode, cases[i].mode);
                assert_int_equal(d.policy.mode_src, cases[i].src);
                assert_int_equal(d.route, cases[i].route);
                assert_non_null(strstr(trace, cases[i].says));
                free(trace);
                iso_decision_free(&d);
        }
        iso_config_free(&cfg);
}

/* ---- routing ---- */

struct route_case {
        const char *name;
        const char *tool_json; /* the tool "s/<tool>" entry */
        const char *tool;
        bool kvm;
        enum iso_route route;
        bool fell_back;
        const char *last_reason; /* the last reason's text starts with this */
        enum log_level last_level;
        const char *mention; /* some reason contains this, when set */
};

static void test_routes(void **state)
{
        (void)state;
        const struct route_case cases[] = {
            {"image present, kvm", "{}", "present", true, ISO_ROUTE_UNIKERNEL, false,
             "Unikernel ready", LOG_INFO, NULL},
            {"image present, no kvm", "{}", "present", false, ISO_ROUTE_DIRECT, true,
             "Falling back to direct MCP execution", LOG_WARN, "KVM is not usable: /dev/kvm"},
            {"image missing", "{}", "missing", true, ISO_ROUTE_DIRECT, true,
             "Falling back to direct MCP execution", LOG_WARN, NULL},
            {"image missing, deny", "{\"fallback\": \"deny\"}", "missing", true, ISO_ROUTE_DENY,
             false, "Refusing to run s/missing", LOG_ERROR, NULL},
            {"image a directory, deny", "{\"fallback\": \"deny\"}", "isdir", true, ISO_ROUTE_DENY,
             false, "Refusing to run s/isdir", LOG_ERROR, NULL},
            {"no kvm, deny", "{\"fallback\": \"deny\"}", "present", false, ISO_ROUTE_DENY, false,
             "Refusing", LOG_ERROR, "KVM is not usable"},
            {"direct", "{\"execution_mode\": \"direct\", \"fallback\": \"deny\"}", "present", false,
             ISO_ROUTE_DIRECT, false, "The call goes to the MCP server directly", LOG_INFO, NULL},
            /* a tool in microvm mode asks for its server's confinement: with no
             * microVM engine, the server runs in the sandbox (not a fallback) */
            {"microvm unavailable", "{\"execution_mode\": \"microvm\"}", "present", true,
             ISO_ROUTE_DIRECT, false, "MicroVM engine not available; running server in sandbox",
             LOG_INFO, NULL},
            {"microvm unavailable, deny",
             "{\"execution_mode\": \"microvm\", \"fallback\": \"deny\"}", "present", true,
             ISO_ROUTE_DIRECT, false, "MicroVM engine not available; running server in sandbox",
             LOG_INFO, NULL},
        };
        struct iso_host host_yes = {.kvm_usable = true};
        struct iso_host host_no = {.kvm_usable = false};
        strcpy(host_no.kvm_problem, "/dev/kvm does not exist");
        strcpy(host_yes.microvm_problem, "no engine");
        strcpy(host_no.microvm_problem, "no engine");
        strcpy(host_yes.sandbox_tier, "sandbox");
        strcpy(host_no.sandbox_tier, "sandbox");
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                const struct route_case *c = &cases[i];
                char *text = xasprintf("{\"unikernel_dir\": \"%s\", \"mcp_servers\": {\"s\": "
                                       "{\"tools\": {\"%s\": %s}}}}",
                                       dir, c->tool, c->tool_json);
                struct iso_config cfg;
                parse(text, &cfg);
                free(text);
                struct iso_decision d;
                iso_decide(&cfg, "s", c->tool, c->kvm ? &host_yes : &host_no, &d);
                print_message("case \"%s\"\n", c->name);
                char *trace = iso_decision_trace(&d);
                print_message("%s", trace);
                free(trace);
                assert_int_equal(d.route, c->route);
                assert_int_equal(d.fell_back, c->fell_back);
                assert_true(d.nreasons >= 2);
                const struct iso_reason *last = &d.reasons[d.nreasons - 1];
                /* A call routed direct ends with what the route does not enforce. */
                struct iso_enforced en = iso_route_enforced(d.route);
                assert_int_equal(en.memory, c->route != ISO_ROUTE_DIRECT);
                assert_true(en.timeout);
                if (c->route == ISO_ROUTE_DIRECT && d.sandboxed) {
                        /* what its server's sandbox holds it to instead */
                        assert_string_equal(d.tier, "sandbox");
                        assert_int_equal(last->level, LOG_INFO);
                        assert_non_null(strstr(last->text, "The server runs in its sandbox"));
                        assert_non_null(strstr(last->text, "timeout_ms (30000 ms) holds"));
                        last--;
                } else if (c->route == ISO_ROUTE_DIRECT) {
                        assert_string_equal(d.tier, "host");
                        assert_int_equal(last->level, LOG_INFO);
                        assert_non_null(strstr(last->text, "Not enforced in direct mode: "
                                                           "memory_mb (128 MiB), vcpus (1)"));
                        assert_non_null(strstr(last->text, "timeout_ms (30000 ms) holds"));
                        last--;
                } else {
                        for (size_t k = 0; k < d.nreasons; k++)
                                assert_null(strstr(d.reasons[k].text, "Not enforced"));
                }
                char *shown = iso_policy_text(&d.policy, &d);
                assert_int_equal(strstr(shown, "[not enforced]") != NULL,
                                 c->route == ISO_ROUTE_DIRECT);
                free(shown);
                assert_int_equal(last->level, c->last_level);
                assert_memory_equal(last->text, c->last_reason, strlen(c->last_reason));
                bool mentioned = !c->mention;
                for (size_t k = 0; k < d.nreasons; k++)
                        mentioned = mentioned || strstr(d.reasons[k].text, c->mention);
                assert_true(mentioned);
                iso_decision_free(&d);
                iso_config_free(&cfg);
        }
}

/* ---- names that would make a path ---- */

static void test_name_rule(void **state)
{
        (void)state;
        char why[300];
        const char *good[] = {"get_balance", "a.b-c", "A1", "osvm-mcp", "x", "a..b"};
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
                assert_null(iso_names_problem("s", good[i], why, sizeof(why)));
        char long_name[ISO_NAME_MAX + 2];
        memset(long_name, 'n', sizeof(long_name) - 1);
        long_name[sizeof(long_name) - 1] = '\0';
        struct {
                const char *name, *says;
        } bad[] = {
            {"", "is empty"},
            {".", "is a directory's name"},
            {"..", "is a directory's name"},
            {"-x", "starts with '-'"},
            {"x/../../../tmp/evil", "holds a '/'"},
            {"a b", "other than letters"},
            {"a\x1b[2Jb", "\"a^[[2Jb\""},
            {"\xc3\xa9", "other than letters"},
            {long_name, "longer than 128 bytes"},
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                const char *r = iso_names_problem("s", bad[i].name, why, sizeof(why));
                assert_non_null(r);
                print_message("%s\n", r);
                assert_non_null(strstr(r, "the tool name"));
                assert_non_null(strstr(r, bad[i].says));
                r = iso_names_problem(bad[i].name, "t", why, sizeof(why));
                assert_non_null(r);
                assert_non_null(strstr(r, "the server name"));
        }
        long_name[ISO_NAME_MAX] = '\0'; /* 128 bytes: fine alone, not both in one file name */
        assert_null(iso_names_problem("s", long_name, why, sizeof(why)));
        assert_non_null(strstr(iso_names_problem(long_name, long_name, why, sizeof(why)),
                               "longer than 255 bytes"));
}

/* A tool name with a path in it never makes the image's path, even where
 * the file it would name exists; the decision says why it cannot run in a VM. */
static void test_unsafe_names(void **state)
{
        (void)state;
        char *p = xasprintf("%s/s-x", dir);
        assert_int_equal(mkdir(p, 0700), 0);
        free(p);
        const char *files[] = {"evil.img", "s--x.img"};
        for (size_t i = 0; i < 2; i++) {
                p = xasprintf("%s/%s", dir, files[i]);
                close(open(p, O_WRONLY | O_CREAT, 0600));
                free(p);
        }
        struct iso_host host = {.kvm_usable = true};
        snprintf(host.builtin_images, sizeof(host.builtin_images), "%s", dir);
        /* <dir>/s-x/../evil.img is <dir>/evil.img, which exists */
        const char *names[] = {"x/../evil", "-x"};
        for (int deny = 0; deny < 2; deny++)
                for (size_t i = 0; i < 2; i++) {
                        char *text = xasprintf("{\"unikernel_dir\": \"%s\", \"fallback\": \"%s\"}",
                                               dir, deny ? "deny" : "direct");
                        struct iso_config cfg;
                        parse(text, &cfg);
                        free(text);
                        struct iso_decision d;
                        iso_decide(&cfg, "s", names[i], &host, &d);
                        char *trace = iso_decision_trace(&d);
                        print_message("%s", trace);
                        assert_null(strstr(trace, "evil.img"));
                        assert_null(strstr(trace, "s--x.img"));
                        assert_non_null(strstr(trace, "Cannot run in a VM: the tool name"));
                        free(trace);
                        assert_int_equal(d.route, deny ? ISO_ROUTE_DENY : ISO_ROUTE_DIRECT);
                        assert_string_equal(d.policy.image, "");
                        iso_decision_free(&d);
                        iso_config_free(&cfg);
                }
        assert_null(iso_builtin_image(&host, "s", "-x"));
        assert_null(iso_builtin_image(&host, "s", "x/../evil"));
        p = iso_builtin_image(&host, "s", "present");
        assert_non_null(p);
        free(p);
}

/* A refusal says, in its one line, what stood in the way (KVM, when it is
 * KVM, with the way to get it) and the setting that would let the call run. */
static void test_deny_says_why_and_remedy(void **state)
{
        (void)state;
        struct iso_host no_kvm = {.kvm_usable = false};
        strcpy(no_kvm.kvm_problem, "/dev/kvm is absent: enable virtualization");
        struct iso_host kvm = {.kvm_usable = true};
        const struct {
                const char *tool;
                const struct iso_host *host;
                const char *why;
        } cases[] = {
            {"present", &no_kvm, "(KVM is not usable: /dev/kvm is absent: enable virtualization)"},
            {"missing", &kvm, "(Unikernel image not found: "},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char *text = xasprintf("{\"unikernel_dir\": \"%s\", \"fallback\": \"deny\", "
                                       "\"mcp_servers\": {\"s\": {\"tools\": {}}}}",
                                       dir);
                struct iso_config cfg;
                parse(text, &cfg);
                free(text);
                struct iso_decision d;
                iso_decide(&cfg, "s", cases[i].tool, cases[i].host, &d);
                assert_int_equal(d.route, ISO_ROUTE_DENY);
                const char *last = d.reasons[d.nreasons - 1].text;
                print_message("%s\n", last);
                assert_non_null(strstr(last, "Refusing to run s/"));
                assert_non_null(strstr(last, cases[i].why));
                assert_non_null(strstr(last, "osvm isolation set s/"));
                assert_non_null(strstr(last, " fallback=direct"));
                size_t refusals = 0;
                for (size_t k = 0; k < d.nreasons; k++)
                        refusals += d.reasons[k].level == LOG_ERROR;
                assert_int_equal(refusals, 1);
                iso_decision_free(&d);
                iso_config_free(&cfg);
        }
}

/* The words the fresh-home trace must have, line for line. */
static void test_fresh_home_trace(void **state)
{
        (void)state;
        char *text = iso_config_default_text();
        struct iso_config cfg;
        parse(text, &cfg);
        free(text);
        free(cfg.unikernel_dir);
        cfg.unikernel_dir = xstrdup(dir); /* no osvm-mcp images there */
        struct iso_host host = {.kvm_usable = true};
        struct iso_decision d;
        iso_decide(&cfg, "osvm-mcp", "get_balance", &host, &d);
        char *trace = iso_decision_trace(&d);
        char *want = xasprintf(
            "INFO: Checking isolation config for osvm-mcp/get_balance\n"
            "INFO: Tool configured for Unikernel execution mode\n"
            "INFO: Attempting to spawn unikernel with image: %s/osvm-mcp-get_balance.img\n"
            "WARN: Unikernel image not found: %s/osvm-mcp-get_balance.img\n"
            "WARN: Falling back to direct MCP execution\n"
            "INFO: Not enforced in direct mode: memory_mb (128 MiB), vcpus (1), network.allow "
            "(none), mounts (none): the call runs in the MCP server's own process, outside any "
            "VM; timeout_ms (30000 ms) holds\n",
            dir, dir);
        assert_string_equal(trace, want);
        assert_int_equal(d.route, ISO_ROUTE_DIRECT);
        assert_true(d.fell_back);

        json_t *j = iso_decision_json(&d);
        assert_string_equal(json_string_value(json_object_get(j, "route")), "direct");
        assert_int_equal(json_array_size(json_object_get(j, "reasons")), 6);
        json_t *en = json_object_get(j, "enforced");
        assert_true(json_is_false(json_object_get(en, "memory_mb")));
        assert_true(json_is_false(json_object_get(en, "vcpus")));
        assert_true(json_is_false(json_object_get(en, "network")));
        assert_true(json_is_false(json_object_get(en, "mounts")));
        assert_true(json_is_true(json_object_get(en, "timeout_ms")));

        /* `isolation show` marks the same, and says where the call goes. */
        char *shown = iso_policy_text(&d.policy, &d);
        print_message("%s", shown);
        assert_non_null(strstr(shown, "  route     direct  (fallback: unikernel is not possible"));
        assert_non_null(strstr(shown, "  memory    128 MiB  (tool)  [not enforced]\n"));
        assert_non_null(strstr(shown, "  vcpus     1  (tool)  [not enforced]\n"));
        assert_non_null(strstr(shown, "  network   none  (default)  [not enforced]\n"));
        assert_non_null(strstr(shown, "  mounts    none  [not enforced]\n"));
        assert_non_null(strstr(shown, "  timeout   30000 ms  (config)\n"));
        free(shown);
        json_decref(j);
        free(want);
        free(trace);
        iso_decision_free(&d);
        iso_config_free(&cfg);
}

/* ---- the platform: where a unikernel runs ---- */

struct platform_case {
        const char *name;
        const char *platform; /* the config's "platform", or NULL */
        const char *fallback;
        bool kvm, process;
        enum iso_route route;
        enum iso_platform where;
        const char *mention; /* some reason contains this */
        const char *last;    /* the last reason starts with this */
};

/*
 * A call that goes to its server: where the server runs. Its sandbox holds
 * it only where osvm starts the server and this host can make one; a
 * server reached by URL, osvm's own pack, or a host with no sandbox at all
 * take the fallback, and the decision says which and why.
 */
static void test_server_reach(void **state)
{
        (void)state;
        static const struct iso_reach remote = {.remote = true}, pack = {.own_pack = true};
        const struct {
                const char *name, *server_json;
                const struct iso_reach *reach;
                const char *host_tier; /* "": none can be made */
                enum iso_route route;
                bool fell_back, sandboxed;
                const char *tier, *mention, *last;
        } cases[] = {
            {"started, sandbox", "{\"sandbox\": true, \"execution_mode\": \"microvm\"}", NULL,
             "sandbox", ISO_ROUTE_DIRECT, false, true, "sandbox", "running server in sandbox",
             "The server runs in its sandbox (\"sandbox\": true)"},
            {"started, reduced", "{\"execution_mode\": \"microvm\"}", NULL, "reduced",
             ISO_ROUTE_DIRECT, false, true, "reduced", NULL,
             "The server runs in its sandbox (its execution_mode \"microvm\")"},
            {"started, not asked", "{\"sandbox\": false, \"execution_mode\": \"direct\"}", NULL,
             "sandbox", ISO_ROUTE_DIRECT, false, false, "host", NULL,
             "Not enforced in direct mode"},
            {"by URL, microvm", "{\"execution_mode\": \"microvm\"}", &remote, "sandbox",
             ISO_ROUTE_DIRECT, true, false, "remote",
             "nor is the server's sandbox: it is reached by URL", "Not enforced in direct mode"},
            {"by URL, direct", "{\"execution_mode\": \"direct\"}", &remote, "sandbox",
             ISO_ROUTE_DIRECT, false, false, "remote", NULL,
             "Not enforced in direct mode: memory_mb (128 MiB), vcpus (1), network.allow (none), "
             "mounts (none): the call runs on the MCP server reached by URL, elsewhere (not on "
             "this host); timeout_ms (30000 ms) holds"},
            {"by URL, microvm, deny", "{\"execution_mode\": \"microvm\", \"fallback\": \"deny\"}",
             &remote, "sandbox", ISO_ROUTE_DENY, false, false, NULL, "reached by URL",
             "Refusing to run s/t"},
            {"by URL, sandbox, deny",
             "{\"sandbox\": true, \"execution_mode\": \"direct\", \"fallback\": \"deny\"}", &remote,
             "sandbox", ISO_ROUTE_DENY, false, false, NULL, NULL,
             "Refusing to run s/t: its server's policy asks for a sandbox (\"sandbox\": true), "
             "which it cannot have: it is reached by URL (it runs elsewhere, not on this host); "
             "its fallback is \"deny\". To run it without one: osvm isolation set s "
             "sandbox=false"},
            {"own pack", "{\"use_microvm\": true, \"execution_mode\": \"direct\"}", &pack,
             "sandbox", ISO_ROUTE_DIRECT, false, false, "host", "NO SANDBOX",
             "Not enforced in direct mode"},
            {"no sandbox here", "{\"sandbox\": true, \"execution_mode\": \"microvm\"}", NULL, "",
             ISO_ROUTE_DIRECT, true, false, "host",
             "none can be made here: no user namespaces and no Landlock",
             "Not enforced in direct mode"},
            {"no sandbox here, deny",
             "{\"sandbox\": true, \"execution_mode\": \"microvm\", \"fallback\": \"deny\"}", NULL,
             "", ISO_ROUTE_DENY, false, false, NULL, "none can be made here",
             "Refusing to run s/t"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char *text = xasprintf("{\"unikernel_dir\": \"%s\", \"mcp_servers\": {\"s\": %s}}",
                                       dir, cases[i].server_json);
                struct iso_config cfg;
                parse(text, &cfg);
                free(text);
                struct iso_host host = {.kvm_usable = true};
                strcpy(host.microvm_problem, "no engine");
                strcpy(host.sandbox_tier, cases[i].host_tier);
                if (!*cases[i].host_tier)
                        strcpy(host.sandbox_problem, "no user namespaces and no Landlock");
                struct iso_decision d;
                iso_decide_reach(&cfg, "s", "t", &host, cases[i].reach, &d);
                char *trace = iso_decision_trace(&d);
                print_message("case \"%s\"\n%s", cases[i].name, trace);
                assert_int_equal(d.route, cases[i].route);
                assert_int_equal(d.fell_back, cases[i].fell_back);
                assert_int_equal(d.sandboxed, cases[i].sandboxed);
                if (cases[i].tier)
                        assert_string_equal(d.tier, cases[i].tier);
                else
                        assert_null(d.tier);
                if (cases[i].mention)
                        assert_non_null(strstr(trace, cases[i].mention));
                const char *last = d.reasons[d.nreasons - 1].text;
                assert_memory_equal(last, cases[i].last, strlen(cases[i].last));
                /* never called a sandbox where none holds it */
                assert_int_equal(strstr(trace, "The server runs in its sandbox") != NULL,
                                 cases[i].sandboxed);
                json_t *j = iso_decision_json(&d);
                const char *jt = json_string_value(json_object_get(j, "tier"));
                assert_true(cases[i].tier ? jt && !strcmp(jt, cases[i].tier) : !jt);
                json_decref(j);
                free(trace);
                iso_decision_free(&d);
                iso_config_free(&cfg);
        }
}

/* The word a person sees for where a call runs, and that it survives the
 * decision's trip to the agent inside μVM-1 (its JSON). */
static void test_where(void **state)
{
        (void)state;
        struct {
                enum iso_route route;
                enum iso_platform platform;
                bool sandboxed;
                const char *tier;
                const char *want;
        } cases[] = {
            {ISO_ROUTE_UNIKERNEL, ISO_PLATFORM_KVM, false, NULL, "unikernel"},
            {ISO_ROUTE_UNIKERNEL, ISO_PLATFORM_PROCESS, false, NULL, "unikernel, trapped process"},
            {ISO_ROUTE_DIRECT, ISO_PLATFORM_AUTO, true, "sandbox", "sandbox"},
            {ISO_ROUTE_DIRECT, ISO_PLATFORM_AUTO, true, "reduced", "sandbox"},
            {ISO_ROUTE_DIRECT, ISO_PLATFORM_AUTO, false, "host", "direct"},
            {ISO_ROUTE_DIRECT, ISO_PLATFORM_AUTO, false, "remote", "remote"},
            {ISO_ROUTE_DENY, ISO_PLATFORM_AUTO, false, NULL, "deny"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct iso_decision d = {.route = cases[i].route,
                                         .platform = cases[i].platform,
                                         .sandboxed = cases[i].sandboxed,
                                         .tier = cases[i].tier};
                d.policy.server = "s";
                d.policy.tool = "t";
                assert_string_equal(iso_decision_where(&d), cases[i].want);
                json_t *j = json_pack("{s:s, s:s, s:s, s:b, s:[]}", "server", "s", "tool", "t",
                                      "route", iso_route_name(d.route), "fell_back", 0, "reasons");
                if (d.route == ISO_ROUTE_UNIKERNEL)
                        json_object_set_new(j, "platform",
                                            json_string(iso_platform_name(d.platform)));
                if (d.route == ISO_ROUTE_DIRECT) {
                        json_object_set_new(j, "sandboxed", json_boolean(d.sandboxed));
                        json_object_set_new(j, "tier", json_string(d.tier));
                }
                struct iso_decision back;
                osvm_err e = {0};
                assert_int_equal(iso_decision_from_json(j, &back, &e), 0);
                assert_string_equal(iso_decision_where(&back), cases[i].want);
                if (d.tier)
                        assert_string_equal(back.tier, d.tier);
                else
                        assert_null(back.tier);
                /* a tier the host never names is not taken up */
                json_object_set_new(j, "tier", json_string("\x1b[2Jsandbox"));
                iso_decision_free(&back);
                assert_int_equal(iso_decision_from_json(j, &back, &e), 0);
                assert_null(back.tier);
                iso_decision_free(&back);
                json_decref(j);
        }
}

static void test_platforms(void **state)
{
        (void)state;
        const struct platform_case cases[] = {
            {"auto with kvm", NULL, "direct", true, true, ISO_ROUTE_UNIKERNEL, ISO_PLATFORM_KVM,
             "Attempting", "Unikernel ready: the call runs in a fresh VM"},
            {"auto without kvm", "auto", "direct", false, true, ISO_ROUTE_UNIKERNEL,
             ISO_PLATFORM_PROCESS, "KVM is not usable here (no kvm): the process platform runs it",
             "Unikernel ready: the call runs in a fresh trapped process, not a VM"},
            {"auto, neither", NULL, "direct", false, false, ISO_ROUTE_DIRECT, ISO_PLATFORM_AUTO,
             "KVM is not usable: no kvm; nor is the process platform: no user namespaces",
             "Not enforced in direct mode"},
            {"kvm without kvm", "kvm", "direct", false, true, ISO_ROUTE_DIRECT, ISO_PLATFORM_AUTO,
             "KVM is not usable: no kvm (the config's platform is \"kvm\")",
             "Not enforced in direct mode"},
            {"kvm without kvm, deny", "kvm", "deny", false, true, ISO_ROUTE_DENY, ISO_PLATFORM_AUTO,
             "KVM is not usable", "Refusing to run s/present"},
            {"process with kvm", "process", "deny", true, true, ISO_ROUTE_UNIKERNEL,
             ISO_PLATFORM_PROCESS, "Attempting",
             "Unikernel ready: the call runs in a fresh "
             "trapped process"},
            {"process unusable", "process", "deny", true, false, ISO_ROUTE_DENY, ISO_PLATFORM_AUTO,
             "The process platform is not usable", "Refusing"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                const struct platform_case *c = &cases[i];
                struct iso_host host = {
                    .kvm_usable = c->kvm, .process_probed = true, .process_usable = c->process};
                strcpy(host.kvm_problem, "no kvm");
                strcpy(host.process_what, c->process ? "a trapped process" : "no user namespaces");
                char *plat =
                    c->platform ? xasprintf("\"platform\": \"%s\", ", c->platform) : xstrdup("");
                char *text = xasprintf("{%s\"fallback\": \"%s\", \"unikernel_dir\": \"%s\", "
                                       "\"mcp_servers\": {\"s\": {\"tools\": {\"present\": {}}}}}",
                                       plat, c->fallback, dir);
                free(plat);
                struct iso_config cfg;
                parse(text, &cfg);
                free(text);
                struct iso_decision d;
                iso_decide(&cfg, "s", "present", &host, &d);
                char *trace = iso_decision_trace(&d);
                print_message("case \"%s\"\n%s", c->name, trace);
                assert_int_equal(d.route, c->route);
                if (c->route == ISO_ROUTE_UNIKERNEL)
                        assert_int_equal(d.platform, c->where);
                assert_non_null(strstr(trace, c->mention));
                const struct iso_reason *last = &d.reasons[d.nreasons - 1];
                assert_memory_equal(last->text, c->last, strlen(c->last));
                /* the five-line style: what AUTO did without KVM is said once
                 * (a refusal quotes it again, in its one line) */
                const char *first = strstr(trace, "KVM is not usable");
                if (c->route != ISO_ROUTE_DENY)
                        assert_true(!first || !strstr(first + 1, "KVM is not usable"));
                free(trace);
                /* --json names the platform of a unikernel route */
                json_t *j = iso_decision_json(&d);
                const char *jp = json_string_value(json_object_get(j, "platform"));
                if (c->route == ISO_ROUTE_UNIKERNEL)
                        assert_string_equal(jp, iso_platform_name(c->where));
                else
                        assert_null(jp);
                struct iso_decision back;
                osvm_err e = {0};
                assert_int_equal(iso_decision_from_json(j, &back, &e), 0);
                if (c->route == ISO_ROUTE_UNIKERNEL)
                        assert_int_equal(back.platform, c->where);
                iso_decision_free(&back);
                json_decref(j);
                iso_decision_free(&d);
                iso_config_free(&cfg);
        }
        /* a platform that is not one is an error that names the field */
        struct iso_config cfg;
        struct iso_diags dg = {0};
        const char *bad = "{\"platform\": \"xen\"}";
        assert_int_equal(iso_config_parse(bad, strlen(bad), "t.json", &cfg, &dg), -1);
        assert_true(dg.n >= 1);
        assert_non_null(strstr(dg.v[0].text, "platform"));
        iso_diags_free(&dg);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_inheritance),
            cmocka_unit_test(test_builtin_defaults),
            cmocka_unit_test(test_server_mode),
            cmocka_unit_test(test_routes),
            cmocka_unit_test(test_name_rule),
            cmocka_unit_test(test_unsafe_names),
            cmocka_unit_test(test_deny_says_why_and_remedy),
            cmocka_unit_test(test_fresh_home_trace),
            cmocka_unit_test(test_platforms),
            cmocka_unit_test(test_where),
            cmocka_unit_test(test_server_reach),
        };
        return cmocka_run_group_tests_name("isolation/decide", tests, setup, teardown);
}
