/* isolation_config.json parsing: table tests of good and bad input. */
#include "testutil.h"

#include "isolation/isolation.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* True when some diagnostic contains every one of the needles. */
static bool diag_has(const struct iso_diags *d, enum iso_sev sev, const char *a, const char *b)
{
        for (size_t i = 0; i < d->n; i++)
                if (d->v[i].sev == sev && strstr(d->v[i].text, a) &&
                    (!b || strstr(d->v[i].text, b)))
                        return true;
        return false;
}

static void dump(const struct iso_diags *d)
{
        for (size_t i = 0; i < d->n; i++)
                print_message("  diag: %s\n", d->v[i].text);
}

struct bad_case {
        const char *name;
        const char *text;
        const char *want1, *want2; /* both must be in one error */
};

static const struct bad_case bad_cases[] = {
    {"invalid JSON names line and column",
     "{\n  \"default_execution_mode\": \"direct\",\n  oops\n}", "cfg.json:3:", "invalid JSON"},
    {"empty", "", "cfg.json: error:", "empty"},
    {"only whitespace", " \n\t\n", "empty", NULL},
    {"top level not an object", "[1,2]", "top level must be a JSON object", "an array"},
    {"non-UTF-8", "{\"unikernel_dir\": \"/x\xff\"}", "cfg.json:1:", "not valid UTF-8 (byte 0xff)"},
    {"overlong UTF-8", "{\"unikernel_dir\": \"/\xc0\xaf\"}", "not valid UTF-8", NULL},
    {"duplicate key", "{\"fallback\": \"direct\", \"fallback\": \"deny\"}", "duplicate", NULL},
    {"mode enum names path and allowed values",
     "{\"mcp_servers\": {\"osvm-mcp\": {\"tools\": {\"get_balance\": "
     "{\"execution_mode\": \"direkt\"}}}}}",
     "mcp_servers.osvm-mcp.tools.get_balance.execution_mode: \"direkt\" is not a valid value",
     "allowed: unikernel, microvm, direct"},
    {"default mode wrong type", "{\"default_execution_mode\": 3}",
     "default_execution_mode: expected one of \"unikernel\", \"microvm\", \"direct\"",
     "an integer"},
    {"fallback enum", "{\"fallback\": \"maybe\"}", "fallback: \"maybe\" is not a valid value",
     "allowed: direct, deny"},
    {"relative unikernel_dir", "{\"unikernel_dir\": \"images\"}",
     "unikernel_dir:", "absolute path"},
    {"servers not an object", "{\"mcp_servers\": []}", "mcp_servers: expected an object", NULL},
    {"server not an object", "{\"mcp_servers\": {\"s\": 1}}", "mcp_servers.s: expected an object",
     NULL},
    {"server name with a slash", "{\"mcp_servers\": {\"a/b\": {}}}", "not a valid server name",
     "'/'"},
    {"empty tool name", "{\"mcp_servers\": {\"s\": {\"tools\": {\"\": {}}}}}",
     "not a valid tool name", "empty"},
    {"memory out of range", "{\"mcp_servers\": {\"s\": {\"tools\": {\"t\": {\"memory_mb\": 0}}}}}",
     "mcp_servers.s.tools.t.memory_mb: 0 is out of range", NULL},
    {"memory negative", "{\"mcp_servers\": {\"s\": {\"tools\": {\"t\": {\"memory_mb\": -5}}}}}",
     "memory_mb: -5 is out of range", NULL},
    {"memory a fraction", "{\"mcp_servers\": {\"s\": {\"tools\": {\"t\": {\"vcpus\": 1.5}}}}}",
     "vcpus: expected an integer", "fraction"},
    {"huge timeout", "{\"timeout_ms\": 99999999999999}", "timeout_ms:", "out of range"},
    {"use_microvm string", "{\"mcp_servers\": {\"s\": {\"use_microvm\": \"yes\"}}}",
     "mcp_servers.s.use_microvm: expected true or false", NULL},
    {"microvm_config vcpus", "{\"mcp_servers\": {\"s\": {\"microvm_config\": {\"vcpus\": 0}}}}",
     "mcp_servers.s.microvm_config.vcpus: 0 is out of range", NULL},
    {"mount without vm_path",
     "{\"mcp_servers\": {\"s\": {\"tools\": {\"t\": {\"mounts\": [{\"host_path\": \"/a\"}]}}}}}",
     "mcp_servers.s.tools.t.mounts[0].vm_path: missing", NULL},
    {"mount vm_path with ..",
     "{\"mcp_servers\": {\"s\": {\"tools\": {\"t\": {\"mounts\": "
     "[{\"host_path\": \"/a\", \"vm_path\": \"/data/../etc\"}]}}}}}",
     "mounts[0].vm_path:", "without . or .. parts"},
    {"mount host_path relative",
     "{\"mcp_servers\": {\"s\": {\"microvm_mounts\": "
     "[{\"host_path\": \"rel\", \"vm_path\": \"/d\"}]}}}",
     "microvm_mounts[0].host_path:", "absolute"},
    {"mounts not an array", "{\"mcp_servers\": {\"s\": {\"tools\": {\"t\": {\"mounts\": {}}}}}}",
     "mounts: expected an array of mounts", NULL},
    {"network allow not a list", "{\"network\": {\"allow\": \"example.com\"}}",
     "network.allow: expected an array", NULL},
    {"network bad port", "{\"network\": {\"allow\": [\"example.com:99999\"]}}",
     "network.allow[0]: \"example.com:99999\"", "port"},
    {"network bad host", "{\"network\": {\"allow\": [\"exa mple.com\"]}}",
     "network.allow[0]:", "host name"},
    {"network empty label", "{\"network\": {\"allow\": [\"a..b\"]}}", "empty label", NULL},
    {"network ipv6 garbage", "{\"network\": {\"allow\": [\"[zz]:80\"]}}", "IPv6", NULL},
    {"empty image", "{\"mcp_servers\": {\"s\": {\"tools\": {\"t\": {\"unikernel_image\": \"\"}}}}}",
     "unikernel_image: must not be empty", NULL},
    {"server_command number", "{\"mcp_servers\": {\"s\": {\"server_command\": 7}}}",
     "server_command: expected a string or null", NULL},
    {"rpc_url not http", "{\"mcp_servers\": {\"s\": {\"rpc_url\": \"wss://u:SECRET@h/\"}}}",
     "mcp_servers.s.rpc_url:", "a wss: URL is not an http:// or https:// one"},
    {"rpc_url not a URL", "{\"mcp_servers\": {\"s\": {\"rpc_url\": \"SECRET\"}}}",
     "mcp_servers.s.rpc_url: not an http:// or https:// URL", NULL},
    {"dotted server name is quoted in the path", "{\"mcp_servers\": {\"a.b\": {\"fallback\": 1}}}",
     "mcp_servers[\"a.b\"].fallback:", NULL},
};

static void test_bad_inputs(void **state)
{
        (void)state;
        for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
                const struct bad_case *c = &bad_cases[i];
                struct iso_config cfg;
                struct iso_diags d = {0};
                int r = iso_config_parse(c->text, strlen(c->text), "cfg.json", &cfg, &d);
                if (r != -1 || !diag_has(&d, ISO_ERROR, c->want1, c->want2)) {
                        print_message("case \"%s\": r=%d, wanted an error with \"%s\"\n", c->name,
                                      r, c->want1);
                        dump(&d);
                        fail();
                }
                assert_true(d.nerrors > 0);
                assert_null(cfg.servers);
                /* a value that may be a credential is never quoted */
                for (size_t k = 0; k < d.n; k++)
                        assert_null(strstr(d.v[k].text, "SECRET"));
                iso_diags_free(&d);
        }
}

static void test_unknown_fields_warn(void **state)
{
        (void)state;
        const char *text = "{\"colour\": \"blue\", \"mcp_servers\": {\"s\": {\"tools\": "
                           "{\"t\": {\"execution_mode\": \"direct\", \"priority\": 3}}}}}";
        struct iso_config cfg;
        struct iso_diags d = {0};
        assert_int_equal(iso_config_parse(text, strlen(text), "cfg.json", &cfg, &d), 0);
        assert_int_equal(d.nerrors, 0);
        assert_true(diag_has(&d, ISO_WARNING, "cfg.json: warning: colour: unknown field", NULL));
        assert_true(
            diag_has(&d, ISO_WARNING, "mcp_servers.s.tools.t.priority: unknown field", NULL));
        assert_int_equal(cfg.servers[0].tools[0].execution_mode, ISO_MODE_DIRECT);
        iso_config_free(&cfg);
        iso_diags_free(&d);
}

/* A file in the original osvm's format, as it wrote it. */
static const char *original =
    "{\n"
    "  \"default_execution_mode\": \"unikernel\",\n"
    "  \"unikernel_dir\": \"/var/osvm/unikernels\",\n"
    "  \"mcp_servers\": {\n"
    "    \"solana\": {\n"
    "      \"microvm_id\": \"\xce\xbcVM-1\",\n"
    "      \"use_microvm\": true,\n"
    "      \"microvm_config\": {\"memory_mb\": 512, \"vcpus\": 2},\n"
    "      \"server_command\": \"npx -y @modelcontextprotocol/server-solana\",\n"
    "      \"microvm_mounts\": [{\"host_path\": \"~/.config/osvm\", \"vm_path\": "
    "\"/mnt/osvm-config\", \"readonly\": true}],\n"
    "      \"tools\": {\n"
    "        \"get_balance\": {\"execution_mode\": \"unikernel\", \"unikernel_image\": "
    "\"solana-get_balance.img\", \"mounts\": [{\"host_path\": \"~/.config/solana\", "
    "\"vm_path\": \"/data/solana-config\", \"readonly\": true}], \"memory_mb\": 128, "
    "\"vcpus\": 1},\n"
    "        \"transfer\": {\"execution_mode\": \"unikernel\", \"unikernel_image\": "
    "\"solana-transfer.img\", \"mounts\": [{\"host_path\": \"~/Documents/keypairs\", "
    "\"vm_path\": \"/data/keypairs\", \"readonly\": false}], \"memory_mb\": 128, \"vcpus\": 1}\n"
    "      }\n"
    "    },\n"
    "    \"github\": {\n"
    "      \"microvm_id\": \"\xce\xbcVM-2\",\n"
    "      \"use_microvm\": true,\n"
    "      \"microvm_config\": {\"memory_mb\": 256, \"vcpus\": 1},\n"
    "      \"server_command\": \"npx -y @modelcontextprotocol/server-github\",\n"
    "      \"microvm_mounts\": [],\n"
    "      \"tools\": {\"create_issue\": {\"execution_mode\": \"microvm\", "
    "\"unikernel_image\": null, \"mounts\": [], \"memory_mb\": 128, \"vcpus\": 1}}\n"
    "    }\n"
    "  }\n"
    "}\n";

static void test_original_osvm_file(void **state)
{
        (void)state;
        setenv("HOME", "/home/user", 1);
        struct iso_config cfg;
        struct iso_diags d = {0};
        int r = iso_config_parse(original, strlen(original), "orig.json", &cfg, &d);
        dump(&d);
        assert_int_equal(r, 0);
        assert_int_equal(d.n, 0); /* not even a warning */
        assert_int_equal(cfg.nservers, 2);
        const struct iso_server *sol = iso_config_server(&cfg, "solana");
        assert_non_null(sol);
        assert_string_equal(sol->microvm_id, "\xce\xbcVM-1");
        assert_true(sol->use_microvm);
        assert_int_equal(sol->vm_memory_mb, 512);
        assert_string_equal(sol->microvm_mounts.v[0].host_path, "/home/user/.config/osvm");
        const struct iso_tool *t = iso_server_tool(sol, "transfer");
        assert_non_null(t);
        assert_false(t->mounts.v[0].readonly);
        assert_string_equal(t->mounts.v[0].host_path, "/home/user/Documents/keypairs");
        t = iso_server_tool(iso_config_server(&cfg, "github"), "create_issue");
        assert_int_equal(t->execution_mode, ISO_MODE_MICROVM);
        assert_null(t->unikernel_image);
        iso_config_free(&cfg);
        iso_diags_free(&d);
}

static void test_minimal_and_missing_microvm_id(void **state)
{
        (void)state;
        const char *text = "{\"mcp_servers\": {\"s\": {\"tools\": {\"t\": {\"mounts\": "
                           "[{\"host_path\": \"/srv\", \"vm_path\": \"/data\"}]}}}}}";
        struct iso_config cfg;
        struct iso_diags d = {0};
        assert_int_equal(iso_config_parse(text, strlen(text), "m.json", &cfg, &d), 0);
        assert_int_equal(d.n, 0);
        assert_null(cfg.servers[0].microvm_id);
        assert_int_equal(cfg.default_mode, ISO_MODE_UNIKERNEL);
        assert_string_equal(cfg.unikernel_dir, ISO_DEFAULT_UNIKERNEL_DIR);
        /* A mount is read-only unless it says otherwise. */
        assert_true(cfg.servers[0].tools[0].mounts.v[0].readonly);
        iso_config_free(&cfg);
        iso_diags_free(&d);

        assert_int_equal(iso_config_parse("{}", 2, "e.json", &cfg, &d), 0);
        assert_int_equal(cfg.nservers, 0);
        iso_config_free(&cfg);
        iso_diags_free(&d);
}

static void test_good_hosts(void **state)
{
        (void)state;
        const char *text = "{\"network\": {\"allow\": [\"api.mainnet-beta.solana.com\", "
                           "\"localhost:8899\", \"127.0.0.1:80\", \"[::1]:443\", \"[::1]\", "
                           "\"*.example.com\"]}}";
        struct iso_config cfg;
        struct iso_diags d = {0};
        int r = iso_config_parse(text, strlen(text), "n.json", &cfg, &d);
        dump(&d);
        assert_int_equal(r, 0);
        assert_int_equal(cfg.ext.network_allow.n, 6);
        assert_string_equal(cfg.ext.network_allow.v[3], "[::1]:443");
        iso_config_free(&cfg);
        iso_diags_free(&d);
}

static void test_default_text_is_valid(void **state)
{
        (void)state;
        char *text = iso_config_default_text();
        struct iso_config cfg;
        struct iso_diags d = {0};
        assert_int_equal(iso_config_parse(text, strlen(text), "default", &cfg, &d), 0);
        assert_int_equal(d.n, 0);
        const struct iso_server *s = iso_config_server(&cfg, "osvm-mcp");
        assert_non_null(s);
        assert_string_equal(s->microvm_id, "\xce\xbcVM-1");
        size_t n = 0;
        while (iso_osvm_mcp_tools[n])
                n++;
        assert_int_equal(s->ntools, n);
        for (size_t i = 0; i < n; i++) {
                assert_int_equal(s->tools[i].execution_mode, ISO_MODE_UNIKERNEL);
                assert_null(s->tools[i].unikernel_image);
        }
        assert_int_equal(cfg.ext.fallback, ISO_FALLBACK_DIRECT);
        iso_config_free(&cfg);
        iso_diags_free(&d);
        free(text);
}

/* ---- files ---- */

static char dir[64];

static int make_dir(void **state)
{
        (void)state;
        return tu_tempdir(dir, sizeof(dir), "config");
}

static int remove_dir(void **state)
{
        (void)state;
        return tu_rmrf(dir);
}

static char *write_file(const char *name, const char *data, size_t len)
{
        char *path = xasprintf("%s/%s", dir, name);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, data, len), (ssize_t)len);
        close(fd);
        return path;
}

static void expect_load_error(const char *path, const char *want)
{
        struct iso_config cfg;
        struct iso_diags d = {0};
        assert_int_equal(iso_config_load(path, &cfg, &d), -1);
        if (!diag_has(&d, ISO_ERROR, path, want)) {
                dump(&d);
                fail_msg("no error naming %s with \"%s\"", path, want);
        }
        iso_diags_free(&d);
}

static void test_file_directory(void **state)
{
        (void)state;
        char *path = xasprintf("%s/isdir", dir);
        assert_int_equal(mkdir(path, 0700), 0);
        expect_load_error(path, "is a directory");
        free(path);
}

static void test_file_missing(void **state)
{
        (void)state;
        char *path = xasprintf("%s/nope.json", dir);
        expect_load_error(path, "No such file");
        free(path);
}

static void test_file_huge(void **state)
{
        (void)state;
        char *path = write_file("huge.json", "{", 1);
        assert_int_equal(truncate(path, 100L * 1024 * 1024), 0);
        expect_load_error(path, "too large");
        free(path);
}

static void test_file_deep_nesting(void **state)
{
        (void)state;
        size_t depth = 10000;
        char *text = xmalloc(2 * depth);
        memset(text, '[', depth);
        memset(text + depth, ']', depth);
        char *path = write_file("deep.json", text, 2 * depth);
        expect_load_error(path, "invalid JSON");
        free(path);
        free(text);
}

static void test_file_unreadable(void **state)
{
        (void)state;
        char *path = write_file("secret.json", "{}", 2);
        assert_int_equal(chmod(path, 0), 0);
        assert_int_equal(chmod(dir, 0755), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                /* As root, DAC does not apply: drop to nobody to read it. */
                if (geteuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
                        _exit(2);
                struct iso_config cfg;
                struct iso_diags d = {0};
                int r = iso_config_load(path, &cfg, &d);
                bool ok = r == -1 && diag_has(&d, ISO_ERROR, path, "Permission denied");
                iso_diags_free(&d);
                _exit(ok ? 0 : 1);
        }
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
        free(path);
}

static void test_open_creates_default_once(void **state)
{
        (void)state;
        char *home = xasprintf("%s/home", dir);
        setenv("OSVM_HOME", home, 1);
        char *path = iso_config_path();
        char *want = xasprintf("%s/isolation_config.json", home);
        assert_string_equal(path, want);

        struct iso_config cfg;
        struct iso_diags d = {0};
        assert_int_equal(iso_config_open(&cfg, &d), 0);
        iso_config_free(&cfg);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);

        /* An existing file is never overwritten, even when invalid. */
        int fd = open(path, O_WRONLY | O_TRUNC);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "{\"fallback\": 5}", 15), 15);
        close(fd);
        assert_int_equal(iso_config_open(&cfg, &d), -1);
        assert_true(diag_has(&d, ISO_ERROR, "fallback", NULL));
        char *text = NULL;
        size_t len = 0;
        assert_int_equal(fs_read_file(path, 1024, &text, &len, NULL), 0);
        assert_string_equal(text, "{\"fallback\": 5}");
        free(text);
        iso_diags_free(&d);
        unsetenv("OSVM_HOME");
        free(want);
        free(path);
        free(home);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_bad_inputs),
            cmocka_unit_test(test_unknown_fields_warn),
            cmocka_unit_test(test_original_osvm_file),
            cmocka_unit_test(test_minimal_and_missing_microvm_id),
            cmocka_unit_test(test_good_hosts),
            cmocka_unit_test(test_default_text_is_valid),
            cmocka_unit_test(test_file_directory),
            cmocka_unit_test(test_file_missing),
            cmocka_unit_test(test_file_huge),
            cmocka_unit_test(test_file_deep_nesting),
            cmocka_unit_test(test_file_unreadable),
            cmocka_unit_test(test_open_creates_default_once),
        };
        return cmocka_run_group_tests_name("isolation/config", tests, make_dir, remove_dir);
}
