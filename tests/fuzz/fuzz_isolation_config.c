/*
 * The isolation config loader (src/isolation/config.c, schema.c, policy.c,
 * decide.c): isolation_config.json is a file anybody with the user's
 * rights, or a tool that edits it, may have written.
 *
 * Input: the file's text. Checked beyond "no crash, no leak": the loader
 * accepts exactly when it reported no error; every diagnostic names the
 * file; for a config it accepts, every server's and tool's policy (and the
 * policy of a tool it does not list) resolves within the schema's bounds
 * (memory, vCPUs, time; absolute mount and image paths), shows as text and
 * JSON, and its routing decision on a host without KVM reads back from its
 * JSON as the same route and names.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "isolation/isolation.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FILE_NAME "fuzz.json"

static void check(bool ok)
{
        if (!ok)
                abort();
}

static void check_mounts(const struct iso_mounts *m)
{
        for (size_t i = 0; i < m->n; i++)
                check(m->v[i].host_path && m->v[i].host_path[0] == '/' && m->v[i].vm_path &&
                      m->v[i].vm_path[0] == '/');
}

static void one_tool(const struct iso_config *cfg, const struct iso_host *host, const char *server,
                     const char *tool)
{
        struct iso_policy p;
        iso_policy_resolve(cfg, server, tool, &p);
        check(p.memory_mb >= 1 && p.memory_mb <= 1048576);
        check(p.vcpus >= 1 && p.vcpus <= 256);
        check(p.timeout_ms >= 1 && p.timeout_ms <= 86400000);
        check(p.image && (p.image[0] == '\0' || p.image[0] == '/'));
        char buf[512];
        if (!iso_names_problem(server, tool, buf, sizeof(buf)))
                check(p.image[0] == '/');
        check(p.network_allow && p.mounts);
        check_mounts(p.mounts);
        char *text = iso_policy_text(&p, NULL);
        check(text != NULL);
        free(text);
        json_t *j = iso_policy_json(&p, NULL);
        check(j != NULL);
        json_decref(j);
        iso_policy_free(&p);

        struct iso_decision d;
        iso_decide(cfg, server, tool, host, &d);
        check(d.route <= ISO_ROUTE_DENY);
        j = iso_decision_json(&d);
        check(j != NULL);
        struct iso_decision back;
        osvm_err e = {0};
        check(iso_decision_from_json(j, &back, &e) == 0);
        check(back.route == d.route && back.fell_back == d.fell_back);
        check(!strcmp(back.policy.server, server) && !strcmp(back.policy.tool, tool));
        check(back.nreasons == d.nreasons);
        iso_decision_free(&back);
        json_decref(j);
        char *trace = iso_decision_trace(&d);
        free(trace);
        iso_decision_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static struct iso_host host;
        static bool init;
        if (!init) {
                /* a host without KVM, a Linux microVM engine or built-in images:
                 * nothing is probed and nothing starts */
                setenv("HOME", "/nonexistent/home", 1);
                snprintf(host.kvm_problem, sizeof(host.kvm_problem), "no /dev/kvm (fuzzing)");
                host.process_probed = true;
                snprintf(host.process_what, sizeof(host.process_what), "not here (fuzzing)");
                snprintf(host.microvm_problem, sizeof(host.microvm_problem), "none (fuzzing)");
                init = true;
        }
        struct iso_config cfg;
        struct iso_diags d = {0};
        int r = iso_config_parse((const char *)data, size, FILE_NAME, &cfg, &d);
        check(r == 0 ? d.nerrors == 0 : d.nerrors >= 1);
        for (size_t i = 0; i < d.n; i++)
                check(d.v[i].text && !strncmp(d.v[i].text, FILE_NAME, strlen(FILE_NAME)));
        iso_diags_free(&d);
        if (r < 0)
                return 0;
        check(!cfg.unikernel_dir || cfg.unikernel_dir[0] == '/');
        for (size_t i = 0; i < cfg.nservers; i++) {
                const struct iso_server *s = &cfg.servers[i];
                check(s->name && s->name[0]);
                check_mounts(&s->microvm_mounts);
                struct iso_sandbox sb;
                iso_server_sandbox(&cfg, s->name, &sb);
                check(sb.why && sb.mounts && sb.allow);
                for (size_t j = 0; j < s->ntools; j++) {
                        check_mounts(&s->tools[j].mounts);
                        one_tool(&cfg, &host, s->name, s->tools[j].name);
                }
                one_tool(&cfg, &host, s->name, "unlisted_tool");
        }
        one_tool(&cfg, &host, "unlisted-server", "tool");
        iso_config_free(&cfg);
        return 0;
}
