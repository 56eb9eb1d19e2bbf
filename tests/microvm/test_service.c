/*
 * μVM-1's host-call service without a VM: the test holds the agent's end of
 * the channel. The config and hello answers carry no credential of a URL, and
 * an agent that writes host calls without reading the answers loses its
 * channel instead of holding the service.
 */
#include "testutil.h"

#include "microvm/microvm.h"

#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A bound that only guards a hang: the fixed service closes the channel
 * after its stall (300 ms here). */
#define HANG_GUARD_MS 60000

static char dir[64];
static struct mcp_registry reg;
static volatile sig_atomic_t interrupted, resized;

static int setup(void **state)
{
        (void)state;
        if (tu_tempdir(dir, sizeof(dir), "service") < 0)
                return -1;
        setenv("OSVM_HOME", dir, 1);
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        unsetenv("OSVM_HOME");
        return tu_rmrf(dir);
}

static struct microvm_service *start(struct microvm_host *h, int sv[2])
{
        memset(h, 0, sizeof(*h));
        h->reg = &reg;
        h->interrupted = &interrupted;
        h->resized = &resized;
        h->send_stall_ms = 300;
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        osvm_err e = {0};
        struct microvm_service *s = microvm_service_start(sv[0], h, &e);
        assert_non_null(s);
        return s;
}

static void stop(struct microvm_service *s, int sv[2])
{
        close(sv[1]);
        microvm_service_finish(s, NULL, NULL);
        close(sv[0]);
}

/* One request, one answer line (parsed). */
static json_t *ask(int fd, const char *req)
{
        assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
        strbuf b = {0};
        char c;
        while (read(fd, &c, 1) == 1 && c != '\n')
                sb_addn(&b, &c, 1);
        json_t *ans = json_loadb(b.s ? b.s : "", b.len, 0, NULL);
        sb_free(&b);
        assert_non_null(ans);
        return ans;
}

static void test_config_without_credentials(void **state)
{
        (void)state;
        char *path = xasprintf("%s/isolation_config.json", dir);
        const char *text =
            "{\"mcp_servers\": {"
            " \"osvm-mcp\": {\"rpc_url\": "
            "\"https://osvm:s3cr3tpw@rpc.example.com:8443/v2/TOKEN42?api-key=SECRET7#frag\"},"
            " \"plain\": {\"rpc_url\": \"http://127.0.0.1:8899\"},"
            " \"odd\": {\"rpc_url\": \"gopher://osvm:s3cr3tpw@h/TOKEN42\"},"
            " \"none\": {}}}";
        assert_int_equal(fs_write_atomic(path, text, strlen(text), 0600, NULL), 0);
        free(path);
        struct microvm_host h;
        int sv[2];
        struct microvm_service *s = start(&h, sv);
        json_t *ans = ask(sv[1], "{\"op\": \"config\"}\n");
        char *shown = json_dumps(ans, JSON_COMPACT);
        print_message("%s\n", shown);
        assert_null(strstr(shown, "s3cr3tpw"));
        assert_null(strstr(shown, "TOKEN42"));
        assert_null(strstr(shown, "SECRET7"));
        assert_null(strstr(shown, "frag"));
        free(shown);
        json_t *srv = json_object_get(json_object_get(ans, "config"), "mcp_servers");
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(srv, "osvm-mcp"), "rpc_url")),
            "https://rpc.example.com:8443/");
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(srv, "plain"), "rpc_url")),
            "http://127.0.0.1:8899/");
        assert_null(json_object_get(json_object_get(srv, "odd"), "rpc_url"));
        assert_non_null(json_object_get(srv, "none"));
        json_decref(ans);
        stop(s, sv);
}

/* The handshake names the LLM endpoint, never a key in its URL. */
static void test_hello_without_credentials(void **state)
{
        (void)state;
        struct agent_ai_config ai = {
            .provider = "openai",
            .url = "https://user:pw123@llm.example.com/v1?key=SECRET9",
            .model = "m",
            .source = "OSVM_AI_URL",
        };
        struct microvm_host h;
        int sv[2];
        struct microvm_service *s = start(&h, sv);
        h.ai = &ai;
        json_t *ans = ask(sv[1], "{\"op\": \"hello\", \"protocol\": 1}\n");
        char *shown = json_dumps(ans, JSON_COMPACT);
        print_message("%s\n", shown);
        assert_null(strstr(shown, "SECRET9"));
        assert_null(strstr(shown, "pw123"));
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(ans, "planner"), "url")),
            "https://llm.example.com/");
        free(shown);
        json_decref(ans);
        stop(s, sv);
}

/* An agent that writes host calls and never reads: past the stall the
 * service closes the channel (POLLHUP on the agent's end) by itself. */
static void test_agent_that_does_not_read(void **state)
{
        (void)state;
        struct microvm_host h;
        int sv[2];
        struct microvm_service *s = start(&h, sv);
        fcntl(sv[1], F_SETFL, O_NONBLOCK);
        long sent = tu_flood_until_hup(sv[1], "{\"op\":\"events\"}\n", HANG_GUARD_MS);
        print_message("%ld requests written before the service closed the channel\n", sent);
        assert_true(sent > 0);
        stop(s, sv);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_config_without_credentials),
            cmocka_unit_test(test_hello_without_credentials),
            cmocka_unit_test(test_agent_that_does_not_read),
        };
        return cmocka_run_group_tests_name("microvm/service", tests, setup, teardown);
}
