/* The status line, formatted from session states: a table. */
#include "testutil.h"

#include "ui/ui.h"

#include <string.h>

#define SEC 1000000000ull

struct status_case {
        const char *name;
        unsigned microvms, unikernels, fallbacks;
        enum session_net net;
        unsigned allow;
        const char *server, *where; /* one server, or none */
        enum session_server_state state;
        uint64_t elapsed_ns;
        bool utf8, color;
        const char *want;
};

static const struct status_case cases[] = {
    {"fresh, UTF-8", 0, 0, 0, SESSION_NET_UNKNOWN, 0, "osvm-mcp", "\xce\xbcVM-1",
     SESSION_SERVER_CONFIGURED, 0, true, false,
     "OSVM: 0\xce\xbcVMs 0uK \xe2\x80\xa2 osvm-mcp(\xce\xbcVM-1:cfg) \xe2\x80\xa2 net:unknown "
     "\xe2\x80\xa2 up:0s"},
    {"fresh, ASCII", 0, 0, 0, SESSION_NET_UNKNOWN, 0, "osvm-mcp", "\xce\xbcVM-1",
     SESSION_SERVER_CONFIGURED, 0, false, false,
     "OSVM: 0uVMs 0uK - osvm-mcp(uVM-1:cfg) - net:unknown - up:0s"},
    {"busy, with fallback", 1, 3, 1, SESSION_NET_ALLOW, 1, "osvm-mcp", "\xce\xbcVM-1",
     SESSION_SERVER_UP, 42 * SEC + SEC / 2, true, false,
     "OSVM: 1\xce\xbcVMs 3uK* \xe2\x80\xa2 osvm-mcp(\xce\xbcVM-1:up) \xe2\x80\xa2 "
     "net:allow(1) \xe2\x80\xa2 up:42s"},
    {"minutes, net off, server down", 0, 12, 0, SESSION_NET_OFF, 0, "fs", "host",
     SESSION_SERVER_DOWN, 125 * SEC, false, false,
     "OSVM: 0uVMs 12uK - fs(host:down) - net:off - up:2m05s"},
    {"hours", 0, 0, 0, SESSION_NET_UNKNOWN, 0, NULL, NULL, 0, 3 * 3600 * SEC + 7 * 60 * SEC, false,
     false, "OSVM: 0uVMs 0uK - net:unknown - up:3h07m"},
    {"control bytes in a name are neutralised", 0, 0, 0, SESSION_NET_UNKNOWN, 0, "ev\033[2Jil",
     "host", SESSION_SERVER_CONFIGURED, 0, true, false,
     "OSVM: 0\xce\xbcVMs 0uK \xe2\x80\xa2 ev^[[2Jil(host:cfg) \xe2\x80\xa2 net:unknown "
     "\xe2\x80\xa2 up:0s"},
    {"C1 controls and bidi overrides in a name are shown escaped", 0, 0, 0, SESSION_NET_UNKNOWN, 0,
     "a\xc2\x9b"
     "2Jb\xe2\x80\xae"
     "c\x07",
     "host\r", SESSION_SERVER_CONFIGURED, 0, true, false,
     "OSVM: 0\xce\xbcVMs 0uK \xe2\x80\xa2 a\\u009b2Jb\\u202ec^G(host^M:cfg) \xe2\x80\xa2 "
     "net:unknown \xe2\x80\xa2 up:0s"},
    {"the same in ASCII", 0, 0, 0, SESSION_NET_UNKNOWN, 0,
     "a\xc2\x9b"
     "2J\xe2\x80\xae",
     "host", SESSION_SERVER_CONFIGURED, 0, false, false,
     "OSVM: 0uVMs 0uK - a\\u009b2J\\u202e(host:cfg) - net:unknown - up:0s"},
    {"colour", 0, 1, 1, SESSION_NET_UNKNOWN, 0, "s", "host", SESSION_SERVER_UP, 0, false, true,
     "\033[1mOSVM:\033[0m 0uVMs 1uK\033[33m*\033[0m - s(host:\033[32mup\033[0m) - "
     "net:unknown - up:0s"},
};

static void test_status_table(void **state)
{
        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                const struct status_case *c = &cases[i];
                struct osvm_session s;
                session_reset(&s, 1000 * SEC);
                for (unsigned k = 0; k < c->microvms; k++)
                        session_note_microvm(&s, +1);
                for (unsigned k = 0; k < c->unikernels; k++)
                        session_note_unikernel(&s);
                for (unsigned k = 0; k < c->fallbacks; k++)
                        session_note_fallback(&s);
                session_set_net(&s, c->net, c->allow);
                if (c->server)
                        session_set_server(&s, c->server, c->where, c->state);
                char *line = ui_status_line(&s, 1000 * SEC + c->elapsed_ns,
                                            (struct ui_style){c->utf8, c->color});
                print_message("case \"%s\": %s\n", c->name, line);
                assert_string_equal(line, c->want);
                free(line);
        }
}

static void test_session_updates(void **state)
{
        (void)state;
        struct osvm_session s;
        session_reset(&s, 0);
        session_set_server(&s, "a", "host", SESSION_SERVER_CONFIGURED);
        session_set_server(&s, "a", "\xce\xbcVM-1", SESSION_SERVER_UP); /* updates, no twin */
        assert_int_equal(s.nservers, 1);
        assert_string_equal(s.servers[0].where, "\xce\xbcVM-1");
        session_note_microvm(&s, +1);
        session_note_microvm(&s, -1);
        session_note_microvm(&s, -1); /* never below zero */
        assert_int_equal(s.live_microvms, 0);
        for (int i = 0; i < SESSION_MAX_SERVERS + 5; i++) {
                char name[16];
                snprintf(name, sizeof(name), "s%d", i);
                session_set_server(&s, name, "host", SESSION_SERVER_CONFIGURED);
        }
        assert_int_equal(s.nservers, SESSION_MAX_SERVERS);
}

/* The process platform's figures: trapped processes, never counted as VMs,
 * shown once there are any; the seed's line is untouched where none ran. */
static void test_process_platform(void **state)
{
        (void)state;
        struct osvm_session s;
        session_reset(&s, 0);
        char *line = ui_status_line(&s, 0, (struct ui_style){.utf8 = true});
        assert_non_null(strstr(line, "OSVM: 0\xce\xbcVMs 0uK \xe2\x80\xa2"));
        assert_null(strstr(line, "Ps"));
        free(line);
        session_note_agent_proc(&s, +1);
        session_note_unikernel_proc(&s);
        session_note_unikernel_proc(&s);
        line = ui_status_line(&s, 0, (struct ui_style){.utf8 = true});
        assert_non_null(strstr(line, "OSVM: 0\xce\xbcVMs 0uK 1\xce\xbcPs 2uKp \xe2\x80\xa2"));
        free(line);
        session_note_fallback(&s);
        line = ui_status_line(&s, 0, (struct ui_style){.utf8 = false});
        assert_non_null(strstr(line, "OSVM: 0uVMs 0uK 1uPs 2uKp* - "));
        free(line);
        session_note_agent_proc(&s, -1);
        session_note_agent_proc(&s, -1); /* never below zero */
        assert_int_equal(s.live_agent_procs, 0);
        assert_int_equal(s.live_microvms, 0);
        assert_int_equal(s.unikernels_run, 0);
}

/* Servers in the sandbox are counted as such ("Nsbx", "~" when one is the
 * reduced tier), never as VMs; none: the line is as it was. */
static void test_sandboxed_servers(void **state)
{
        (void)state;
        struct osvm_session s;
        session_reset(&s, 0);
        session_set_server(&s, "plain", "host", SESSION_SERVER_CONFIGURED);
        char *line = ui_status_line(&s, 0, (struct ui_style){.utf8 = false});
        assert_null(strstr(line, "sbx"));
        free(line);
        session_set_server(&s, "fs", "sandbox", SESSION_SERVER_UP);
        line = ui_status_line(&s, 0, (struct ui_style){.utf8 = false});
        assert_non_null(strstr(line, "OSVM: 0uVMs 0uK 1sbx - plain(host:cfg) - fs(sandbox:up) - "));
        free(line);
        session_set_server(&s, "mem", "reduced", SESSION_SERVER_CONFIGURED);
        line = ui_status_line(&s, 0, (struct ui_style){.utf8 = false});
        assert_non_null(strstr(line, "OSVM: 0uVMs 0uK 2sbx~ - "));
        assert_non_null(strstr(line, "mem(reduced:cfg)"));
        free(line);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_status_table),
            cmocka_unit_test(test_session_updates),
            cmocka_unit_test(test_process_platform),
            cmocka_unit_test(test_sandboxed_servers),
        };
        return cmocka_run_group_tests_name("cli/status", tests, NULL, NULL);
}
