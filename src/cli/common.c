/* What the subcommands share: help, usage errors, loading the config, the host. */
#include "cli/cli.h"
#include "mcp/mcp.h"
#include "vmm/vmm.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>

void cli_print_help(const struct cli_cmd *cmd)
{
        fputs(cmd->help, stdout);
}

bool cli_wants_help(int argc, char **argv)
{
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--") == 0)
                        return false;
                if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
                        return true;
        }
        return false;
}

int cli_usage_error(const struct cli_cmd *cmd, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        char *msg = xvasprintf(fmt, ap);
        va_end(ap);
        _cleanup_free_ char *shown = text_sanitize(msg, 0); /* it quotes the command line */
        fprintf(stderr, "osvm %s: %s\nTry 'osvm help %s'.\n", cmd->name, shown, cmd->name);
        free(msg);
        return OSVM_EXIT_USAGE;
}

void cli_report_diags(const struct iso_diags *d)
{
        for (size_t i = 0; i < d->n; i++) {
                bool err = d->v[i].sev == ISO_ERROR;
                if (err || log_get_level() >= LOG_WARN) {
                        /* they quote the file: names, paths, values */
                        _cleanup_free_ char *shown = text_sanitize(d->v[i].text, 0);
                        fprintf(stderr, "%s\n", shown);
                }
                log_debug("%s", d->v[i].text);
        }
}

int cli_run_verb(const struct cli_cmd *cmd, const struct cli_verb *verbs, size_t n, int argc,
                 char **argv)
{
        for (size_t i = 0; argc >= 2 && i < n; i++)
                if (strcmp(argv[1], verbs[i].name) == 0)
                        return verbs[i].run(argc - 1, argv + 1);
        strbuf names = {0};
        _cleanup_free_ const char **vn = xcalloc(n, sizeof(*vn));
        for (size_t i = 0; i < n; i++) {
                sb_addf(&names, "%s%s", i ? ", " : "", verbs[i].name);
                vn[i] = verbs[i].name;
        }
        const char *near = argc >= 2 ? ui_nearest(argv[1], vn, n) : NULL;
        int r;
        if (argc < 2) {
                r = cli_usage_error(cmd, "missing a verb: %s", names.s);
        } else {
                _cleanup_free_ char *shown = text_sanitize(argv[1], 0);
                if (near)
                        r = cli_usage_error(cmd, "unknown verb \"%s\"; did you mean \"%s\"?", shown,
                                            near);
                else
                        r = cli_usage_error(cmd, "unknown verb \"%s\"; the verbs are: %s", shown,
                                            names.s);
        }
        sb_free(&names);
        return r;
}

/* The platform the loaded config asks for, which cli_probe_host probes. */
static enum iso_platform config_platform;

int cli_load_config(struct iso_config *cfg)
{
        struct iso_diags d = {0};
        int r = iso_config_open(cfg, &d);
        if (r == 0)
                config_platform = cfg->platform;
        cli_report_diags(&d);
        iso_diags_free(&d);
        if (r < 0) {
                log_error("the isolation config has errors: no tool will run until they are fixed");
                return OSVM_EXIT_CONFIG;
        }
        struct osvm_session *s = session_get();
        for (size_t i = 0; i < cfg->nservers; i++) {
                const struct iso_server *srv = &cfg->servers[i];
                struct iso_sandbox sb;
                iso_server_sandbox(cfg, srv->name, &sb);
                char why[400];
                const char *where = srv->microvm_id ? srv->microvm_id : "host";
                if (sb.wanted && strcmp(srv->name, "osvm-mcp") != 0)
                        where = mcp_tier_name(mcp_sandbox_tier(why, sizeof(why)));
                session_set_server(s, srv->name, where, SESSION_SERVER_CONFIGURED);
        }
        return 0;
}

void cli_probe_host(struct iso_host *h)
{
        memset(h, 0, sizeof(*h));
        h->kvm_usable = vmm_probe(h->kvm_problem, sizeof(h->kvm_problem));
        /* the process platform (which starts its zygote): where AUTO needs it
         * or the config asks for it */
        if (!h->kvm_usable || config_platform == ISO_PLATFORM_PROCESS) {
                h->process_probed = true;
                h->process_usable = vmm_platform_probe(VMM_PLATFORM_PROCESS, h->process_what,
                                                       sizeof(h->process_what));
        }
        h->microvm_usable = false;
        enum mcp_tier tier = mcp_sandbox_tier(h->sandbox_problem, sizeof(h->sandbox_problem));
        if (tier != MCP_TIER_HOST)
                snprintf(h->sandbox_tier, sizeof(h->sandbox_tier), "%s", mcp_tier_name(tier));
        /* osvm's own tool images: $OSVM_BUILTIN_IMAGES (empty: none), else beside the
         * binary (the build tree) or in the installed pack. */
        const char *env = getenv("OSVM_BUILTIN_IMAGES");
        if (env) {
                snprintf(h->builtin_images, sizeof(h->builtin_images), "%s", env);
        } else {
                char *dir = paths_images_dir();
                if (dir)
                        snprintf(h->builtin_images, sizeof(h->builtin_images), "%s", dir);
                free(dir);
        }
        snprintf(h->microvm_problem, sizeof(h->microvm_problem),
                 "this build has no Linux microVM engine (tools run in unikernels or directly)");
}

void cli_note_egress(const struct iso_config *cfg, const char *server)
{
        const struct iso_server *srv = iso_config_server(cfg, server);
        const struct iso_ext *x = srv && srv->ext.has_network ? &srv->ext
                                  : cfg->ext.has_network      ? &cfg->ext
                                                              : NULL;
        unsigned n = x ? (unsigned)x->network_allow.n : 1; /* the RPC endpoint */
        session_set_net(session_get(), n ? SESSION_NET_ALLOW : SESSION_NET_OFF, n);
}

void cli_isolation_words(const struct iso_host *h, char *out, size_t n)
{
        bool kvm = h->kvm_usable && config_platform != ISO_PLATFORM_PROCESS;
        bool proc = !kvm && h->process_usable && config_platform != ISO_PLATFORM_KVM;
        if (kvm)
                snprintf(out, n, "every tool call runs in its own VM");
        else if (proc)
                snprintf(out, n,
                         "every tool call runs in its own trapped process (the process "
                         "platform%s)",
                         h->kvm_usable ? "" : ": no KVM here");
        else if (config_platform == ISO_PLATFORM_KVM && h->process_usable)
                snprintf(out, n,
                         "no KVM here (and the isolation config's platform is \"kvm\"), so "
                         "tool calls run without a VM where the isolation policy allows it");
        else
                snprintf(out, n,
                         "no KVM here, nor the process platform, so tool calls run without a "
                         "VM where the isolation policy allows it");
}

void cli_start_vm_pool(const struct iso_host *h)
{
        osvm_err e = {0};
        /* the platform the config's tools run on here */
        enum vmm_platform p = config_platform == ISO_PLATFORM_PROCESS || !h->kvm_usable
                                  ? VMM_PLATFORM_PROCESS
                                  : VMM_PLATFORM_KVM;
        if (p == VMM_PLATFORM_PROCESS &&
            (!h->process_usable || config_platform == ISO_PLATFORM_KVM))
                return; /* the calls fall back, or run on no pool */
        if (vmm_pool_start_platform(p, 2, ISO_DEFAULT_MEMORY_MB, &e) < 0)
                log_debug("no pool of guests made ahead: %s", e.msg);
}

int cli_load_registry(struct mcp_registry *reg)
{
        _cleanup_free_ char *path = mcp_registry_path();
        osvm_err e = {0};
        if (mcp_registry_load(path, reg, &e) < 0) {
                log_error("%s", e.msg);
                return e.exit ? e.exit : OSVM_EXIT_CONFIG;
        }
        return 0;
}

void cli_known_open(struct cli_known *k, const struct iso_config *cfg, const struct iso_host *h)
{
        memset(k, 0, sizeof(*k));
        _cleanup_free_ char *path = mcp_registry_path();
        osvm_err e = {0};
        if (mcp_registry_load(path, &k->reg, &e) < 0) {
                log_warn("%s (its servers are left out)", e.msg);
                memset(&k->reg, 0, sizeof(k->reg));
        }
        bool builtin = mcp_registry_add_builtin(&k->reg, h);
        k->v = xcalloc(cfg->nservers + k->reg.n + 1, sizeof(*k->v));
        for (size_t i = 0; i < cfg->nservers; i++) {
                const char *name = cfg->servers[i].name;
                const struct mcp_server_conf *r = mcp_registry_find(&k->reg, name);
                k->v[k->n++] = (struct cli_known_server){
                    .name = name,
                    .in_config = true,
                    .registered = r != NULL,
                    .builtin = builtin && r == &k->reg.v[k->reg.n - 1],
                    .conf = r,
                };
        }
        for (size_t i = 0; i < k->reg.n; i++) {
                if (iso_config_server(cfg, k->reg.v[i].id))
                        continue;
                k->v[k->n++] = (struct cli_known_server){
                    .name = k->reg.v[i].id,
                    .registered = true,
                    .builtin = builtin && i == k->reg.n - 1,
                    .conf = &k->reg.v[i],
                };
        }
}

void cli_decide(const struct iso_config *cfg, const char *server,
                const struct mcp_server_conf *conf, const char *tool, const struct iso_host *host,
                struct iso_decision *d)
{
        struct iso_reach reach;
        if (conf)
                mcp_server_reach(conf, &reach);
        iso_decide_reach(cfg, server, tool, host, conf ? &reach : NULL, d);
}

void cli_known_close(struct cli_known *k)
{
        free(k->v);
        mcp_registry_free(&k->reg);
        memset(k, 0, sizeof(*k));
}

int cli_servers_open(struct cli_servers *s, const char **server)
{
        memset(s, 0, sizeof(*s));
        int r = cli_load_config(&s->cfg);
        if (r)
                return r;
        r = cli_load_registry(&s->reg);
        if (r) {
                iso_config_free(&s->cfg);
                return r;
        }
        if (server && *server && mcp_url_is_http(*server)) {
                s->reg.v = xrealloc(s->reg.v, (s->reg.n + 1) * sizeof(*s->reg.v));
                s->reg.v[s->reg.n++] = (struct mcp_server_conf){
                    .id = xstrdup(CLI_ADHOC_ID),
                    .name = xstrdup(*server),
                    .kind = MCP_KIND_HTTP,
                    .url = xstrdup(*server),
                    .headers = xcalloc(1, sizeof(char *)),
                    .enabled = true,
                };
                *server = CLI_ADHOC_ID;
        }
        cli_probe_host(&s->host);
        if (mcp_registry_add_builtin(&s->reg, &s->host))
                cli_note_egress(&s->cfg, "osvm-mcp");
        s->hub = mcp_hub_new(&s->reg, &s->cfg, &s->host);
        mcp_hub_set_cancel(s->hub, &ui_interrupted); /* Ctrl-C ends a server's start-up */
        return 0;
}

void cli_servers_close(struct cli_servers *s)
{
        mcp_hub_free(s->hub);
        mcp_registry_free(&s->reg);
        iso_config_free(&s->cfg);
        memset(s, 0, sizeof(*s));
}
