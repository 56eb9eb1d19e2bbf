/*
 * The routing decision: where one tool call runs, and why, in order.
 * It checks and starts nothing; the caller acts on the route.
 */
#include "isolation/isolation.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *iso_route_name(enum iso_route r)
{
        static const char *const names[] = {"unikernel", "microvm", "direct", "deny"};
        return (unsigned)r < 4 ? names[r] : "?";
}

static void __attribute__((format(printf, 3, 4)))
reason(struct iso_decision *d, enum log_level lvl, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        char *text = xvasprintf(fmt, ap);
        va_end(ap);
        d->reasons = xrealloc(d->reasons, (d->nreasons + 1) * sizeof(*d->reasons));
        d->reasons[d->nreasons++] = (struct iso_reason){lvl, text};
}

/* Why the server's own process cannot be in the sandbox its policy asks
 * for, or NULL where it can be. */
static const char *no_sandbox(const struct iso_host *host, const struct iso_reach *reach, char *buf,
                              size_t n)
{
        if (reach && reach->remote)
                return "it is reached by URL (it runs elsewhere, not on this host)";
        if (reach && reach->own_pack)
                return "it is osvm's own tool pack, which holds each call to the policy itself";
        if (!host->sandbox_tier[0]) {
                snprintf(buf, n, "none can be made here: %s",
                         host->sandbox_problem[0] ? host->sandbox_problem : "not probed");
                return buf;
        }
        return NULL;
}

/*
 * A call routed direct runs in its server's process: say where that runs
 * (its sandbox, the host, or elsewhere) and what of the policy holds it
 * there, rather than let the rest read as limits. A server whose policy
 * asks for a sandbox it cannot have here runs without one only where the
 * sandbox's fallback is "direct" (as the server's start does); else the
 * call is refused.
 */
static void say_where_server_runs(struct iso_decision *d, const struct iso_config *cfg,
                                  const struct iso_host *host, const struct iso_reach *reach)
{
        const struct iso_policy *p = &d->policy;
        struct iso_sandbox sb;
        iso_server_sandbox(cfg, p->server, &sb);
        d->tier = reach && reach->remote ? "remote" : "host";
        if (sb.wanted) {
                char buf[sizeof(host->sandbox_problem) + 32];
                const char *why = no_sandbox(host, reach, buf, sizeof(buf));
                if (!why) {
                        d->sandboxed = true;
                        d->tier = strcmp(host->sandbox_tier, "reduced") ? "sandbox" : "reduced";
                        reason(d, LOG_INFO,
                               "The server runs in its sandbox (%s): %zu mount%s, network.allow "
                               "%zu host%s through osvm's proxy, %u MiB, %u processes; "
                               "timeout_ms (%u ms) holds",
                               sb.why, sb.mounts->n, sb.mounts->n == 1 ? "" : "s", sb.allow->n,
                               sb.allow->n == 1 ? "" : "s", sb.memory_mb, sb.max_procs,
                               p->timeout_ms);
                        return;
                }
                if (sb.fallback == ISO_FALLBACK_DENY) {
                        reason(d, LOG_ERROR,
                               "Refusing to run %s/%s: its server's policy asks for a sandbox "
                               "(%s), which it cannot have: %s; its fallback is \"deny\". To "
                               "run it without one: osvm isolation set %s sandbox=false",
                               p->server, p->tool, sb.why, why, p->server);
                        d->route = ISO_ROUTE_DENY;
                        d->tier = NULL;
                        return;
                }
                /* (a microvm mode that fell back has said so already) */
                if (p->mode != ISO_MODE_MICROVM || !d->fell_back)
                        reason(d, LOG_WARN,
                               "NO SANDBOX: the server's policy asks for one (%s), which it "
                               "cannot have: %s; its fallback is \"direct\"",
                               sb.why, why);
        }
        char net[32] = "none", mounts[32] = "none";
        if (p->network_allow->n)
                snprintf(net, sizeof(net), "%zu host%s", p->network_allow->n,
                         p->network_allow->n == 1 ? "" : "s");
        if (p->mounts->n)
                snprintf(mounts, sizeof(mounts), "%zu", p->mounts->n);
        reason(d, LOG_INFO,
               "Not enforced in direct mode: memory_mb (%u MiB), vcpus (%u), network.allow (%s), "
               "mounts (%s): the call runs %s; timeout_ms (%u ms) holds",
               p->memory_mb, p->vcpus, net, mounts,
               reach && reach->remote
                   ? "on the MCP server reached by URL, elsewhere (not on this host)"
                   : "in the MCP server's own process, outside any VM",
               p->timeout_ms);
}

/* Why the image cannot be used, or NULL. */
static bool image_usable(struct iso_decision *d, const char *path)
{
        struct stat st;
        if (stat(path, &st) < 0) {
                if (errno == ENOENT || errno == ENOTDIR)
                        reason(d, LOG_WARN, "Unikernel image not found: %s", path);
                else
                        reason(d, LOG_WARN, "Unikernel image not usable: %s: %s", path,
                               strerror(errno));
                return false;
        }
        if (!S_ISREG(st.st_mode)) {
                reason(d, LOG_WARN, "Unikernel image not usable: %s: not a regular file", path);
                return false;
        }
        if (access(path, R_OK) < 0) {
                reason(d, LOG_WARN, "Unikernel image not usable: %s: %s", path, strerror(errno));
                return false;
        }
        return true;
}

char *iso_builtin_image(const struct iso_host *host, const char *server, const char *tool)
{
        char why[300];
        if (!host || !host->builtin_images[0] || iso_names_problem(server, tool, why, sizeof(why)))
                return NULL;
        char *path = xasprintf("%s/%s-%s.img", host->builtin_images, server, tool);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, R_OK) == 0)
                return path;
        free(path);
        return NULL;
}

/*
 * Where a unikernel runs (d->platform), from the config's platform and
 * what the host can do; false, having said why, when it cannot run there.
 */
static bool pick_platform(struct iso_decision *d, const struct iso_host *host)
{
        enum iso_platform want = d->policy.platform;
        if (want != ISO_PLATFORM_PROCESS && host->kvm_usable) {
                d->platform = ISO_PLATFORM_KVM;
                return true;
        }
        if (want == ISO_PLATFORM_KVM) {
                reason(d, LOG_WARN, "KVM is not usable: %s (the config's platform is \"kvm\")",
                       host->kvm_problem);
                return false;
        }
        if (!host->process_usable) {
                /* one line: a refusal quotes it whole */
                if (want == ISO_PLATFORM_PROCESS)
                        reason(d, LOG_WARN, "The process platform is not usable: %s",
                               host->process_probed ? host->process_what : "not probed");
                else if (host->process_probed)
                        reason(d, LOG_WARN,
                               "KVM is not usable: %s; nor is the process platform: %s",
                               host->kvm_problem, host->process_what);
                else
                        reason(d, LOG_WARN, "KVM is not usable: %s", host->kvm_problem);
                return false;
        }
        if (want == ISO_PLATFORM_AUTO)
                reason(d, LOG_INFO, "KVM is not usable here (%s): the process platform runs it",
                       host->kvm_problem);
        d->platform = ISO_PLATFORM_PROCESS;
        return true;
}

void iso_decide(const struct iso_config *cfg, const char *server, const char *tool,
                const struct iso_host *host, struct iso_decision *d)
{
        iso_decide_reach(cfg, server, tool, host, NULL, d);
}

void iso_decide_reach(const struct iso_config *cfg, const char *server, const char *tool,
                      const struct iso_host *host, const struct iso_reach *reach,
                      struct iso_decision *d)
{
        memset(d, 0, sizeof(*d));
        iso_policy_resolve(cfg, server, tool, &d->policy);
        const struct iso_policy *p = &d->policy;

        reason(d, LOG_INFO, "Checking isolation config for %s/%s", server, tool);
        if (!p->server_known)
                reason(d, LOG_INFO,
                       "Server %s is not in the isolation config; default_execution_mode applies",
                       server);
        else if (!p->tool_known)
                reason(d, LOG_INFO, "Tool %s has no entry under server %s; %s applies", tool,
                       server,
                       p->mode_src == ISO_SRC_SERVER ? "the server's execution_mode"
                                                     : "default_execution_mode");
        /* Where the mode came from, when not from the tool's own entry. */
        const char *from = p->mode_src == ISO_SRC_TOOL     ? ""
                           : p->mode_src == ISO_SRC_SERVER ? " (the server's execution_mode)"
                                                           : " (default_execution_mode)";

        bool ok = false;
        switch (p->mode) {
        case ISO_MODE_UNIKERNEL: {
                reason(d, LOG_INFO, "Tool configured for Unikernel execution mode%s", from);
                char why[300];
                if (iso_names_problem(server, tool, why, sizeof(why))) {
                        /* never part of a path, nor of the image's argv */
                        reason(d, LOG_WARN,
                               "Cannot run in a VM: %s (only names of 1-%d letters, digits, "
                               "'_', '.' and '-', not starting with '-', make an image's path)",
                               why, ISO_NAME_MAX);
                        break;
                }
                reason(d, LOG_INFO, "Attempting to spawn unikernel with image: %s", p->image);
                if (!image_usable(d, p->image)) {
                        /* A default image missing from unikernel_dir: osvm's own pack? */
                        char *builtin = p->image_src == ISO_SRC_DEFAULT && cfg->use_builtin_images
                                            ? iso_builtin_image(host, server, tool)
                                            : NULL;
                        if (!builtin)
                                break;
                        /* Not a problem after all: say it without a warning. */
                        d->reasons[d->nreasons - 1].level = LOG_INFO;
                        reason(d, LOG_INFO, "Using the built-in image: %s", builtin);
                        free(d->policy.image);
                        d->policy.image = builtin;
                        d->policy.image_src = ISO_SRC_DEFAULT;
                }
                if (!pick_platform(d, host))
                        break;
                if (d->platform == ISO_PLATFORM_KVM)
                        reason(d, LOG_INFO,
                               "Unikernel ready: the call runs in a fresh VM (%u MiB, %u ms)",
                               p->memory_mb, p->timeout_ms);
                else
                        reason(d, LOG_INFO,
                               "Unikernel ready: the call runs in a fresh trapped process, not a "
                               "VM (the process platform; %u MiB, %u ms)",
                               p->memory_mb, p->timeout_ms);
                d->route = ISO_ROUTE_UNIKERNEL;
                ok = true;
                break;
        }
        case ISO_MODE_MICROVM:
                reason(d, LOG_INFO, "Tool configured for MicroVM execution mode%s", from);
                if (!host->microvm_usable) {
                        struct iso_sandbox sb;
                        iso_server_sandbox(cfg, server, &sb);
                        char buf[sizeof(host->sandbox_problem) + 32];
                        const char *why =
                            sb.wanted ? no_sandbox(host, reach, buf, sizeof(buf)) : NULL;
                        if (sb.wanted && !why) {
                                /* the practical tier: the server itself, confined */
                                reason(d, LOG_INFO,
                                       "MicroVM engine not available; running server in sandbox");
                                d->route = ISO_ROUTE_DIRECT;
                                ok = true;
                                say_where_server_runs(d, cfg, host, reach);
                                break;
                        }
                        if (why)
                                reason(d, LOG_WARN,
                                       "MicroVM execution is not available: %s; nor is the "
                                       "server's sandbox: %s",
                                       host->microvm_problem, why);
                        else
                                reason(d, LOG_WARN, "MicroVM execution is not available: %s",
                                       host->microvm_problem);
                        break;
                }
                reason(d, LOG_INFO, "The call runs in the server's microVM %s",
                       p->microvm_id ? p->microvm_id : "(unnamed)");
                d->route = ISO_ROUTE_MICROVM;
                ok = true;
                break;
        case ISO_MODE_DIRECT:
        case ISO_MODE_UNSET:
                reason(d, LOG_INFO, "Tool configured for Direct execution mode%s", from);
                reason(d, LOG_INFO, "The call goes to the MCP server directly, without a VM");
                d->route = ISO_ROUTE_DIRECT;
                ok = true;
                say_where_server_runs(d, cfg, host, reach);
                break;
        }
        if (ok)
                return;
        if (p->fallback == ISO_FALLBACK_DIRECT) {
                reason(d, LOG_WARN, "Falling back to direct MCP execution");
                d->route = ISO_ROUTE_DIRECT;
                d->fell_back = true;
                say_where_server_runs(d, cfg, host, reach);
        } else {
                /* One line that says it all (under -q it is the only one
                 * shown): what stood in the way (the reason just before: the
                 * image, KVM and how to get it, the engine) and the setting
                 * that would let the call run without a VM. */
                reason(d, LOG_ERROR,
                       "Refusing to run %s/%s: its fallback policy is \"deny\" and %s execution "
                       "is not possible (%s). To run it without a VM instead: osvm isolation set "
                       "%s/%s fallback=direct",
                       server, tool, iso_mode_name(p->mode), d->reasons[d->nreasons - 1].text,
                       server, tool);
                d->route = ISO_ROUTE_DENY;
        }
}

void iso_decision_free(struct iso_decision *d)
{
        for (size_t i = 0; i < d->nreasons; i++)
                free(d->reasons[i].text);
        free(d->reasons);
        iso_policy_free(&d->policy);
        memset(d, 0, sizeof(*d));
}

char *iso_decision_trace(const struct iso_decision *d)
{
        static const char *const tags[] = {"ERROR", "WARN", "INFO", "DEBUG"};
        strbuf b = {0};
        for (size_t i = 0; i < d->nreasons; i++)
                sb_addf(&b, "%s: %s\n", tags[d->reasons[i].level], d->reasons[i].text);
        return sb_steal(&b);
}

json_t *iso_decision_json(const struct iso_decision *d)
{
        json_t *reasons = json_array();
        for (size_t i = 0; i < d->nreasons; i++)
                json_array_append_new(reasons, json_pack("{s:s, s:s}", "level",
                                                         log_level_name(d->reasons[i].level),
                                                         "text", d->reasons[i].text));
        json_t *j =
            json_pack("{s:s, s:s, s:s, s:b, s:o, s:o, s:o}", "server", d->policy.server, "tool",
                      d->policy.tool, "route", iso_route_name(d->route), "fell_back", d->fell_back,
                      "policy", iso_policy_json(&d->policy, NULL), "enforced",
                      iso_enforced_json(d->route), "reasons", reasons);
        if (d->route == ISO_ROUTE_UNIKERNEL)
                json_object_set_new(j, "platform", json_string(iso_platform_name(d->platform)));
        if (d->route == ISO_ROUTE_DIRECT) {
                json_object_set_new(j, "sandboxed", json_boolean(d->sandboxed));
                if (d->tier)
                        json_object_set_new(j, "tier", json_string(d->tier));
        }
        return j;
}

/* The tier's own static text, or NULL for a name that is not one. */
static const char *tier_named(const char *name)
{
        static const char *const tiers[] = {"sandbox", "reduced", "host", "remote"};
        for (size_t i = 0; name && i < sizeof(tiers) / sizeof(tiers[0]); i++)
                if (!strcmp(tiers[i], name))
                        return tiers[i];
        return NULL;
}

const char *iso_decision_where(const struct iso_decision *d)
{
        if (d->route == ISO_ROUTE_UNIKERNEL && d->platform == ISO_PLATFORM_PROCESS)
                return "unikernel, trapped process";
        if (d->route == ISO_ROUTE_DIRECT && d->sandboxed)
                return "sandbox";
        if (d->route == ISO_ROUTE_DIRECT && d->tier && !strcmp(d->tier, "remote"))
                return "remote";
        return iso_route_name(d->route);
}

int iso_decision_from_json(json_t *j, struct iso_decision *d, osvm_err *e)
{
        memset(d, 0, sizeof(*d));
        const char *server = json_string_value(json_object_get(j, "server"));
        const char *tool = json_string_value(json_object_get(j, "tool"));
        const char *route = json_string_value(json_object_get(j, "route"));
        json_t *reasons = json_object_get(j, "reasons");
        if (!server || !tool || !route || !json_is_array(reasons))
                return err_set(e, EPROTO, "a decision without server, tool, route or reasons");
        int r = 0;
        while (r < 4 && strcmp(iso_route_name((enum iso_route)r), route) != 0)
                r++;
        if (r == 4)
                return err_set(e, EPROTO, "a decision with an unknown route");
        d->route = (enum iso_route)r;
        d->fell_back = json_is_true(json_object_get(j, "fell_back"));
        d->sandboxed =
            d->route == ISO_ROUTE_DIRECT && json_is_true(json_object_get(j, "sandboxed"));
        if (d->route == ISO_ROUTE_DIRECT)
                d->tier = tier_named(json_string_value(json_object_get(j, "tier")));
        const char *plat = json_string_value(json_object_get(j, "platform"));
        d->platform = plat && !strcmp(plat, "process") ? ISO_PLATFORM_PROCESS
                      : plat && !strcmp(plat, "kvm")   ? ISO_PLATFORM_KVM
                                                       : ISO_PLATFORM_AUTO;
        d->policy.server = xstrdup(server);
        d->policy.tool = xstrdup(tool);
        size_t i;
        json_t *v;
        json_array_foreach(reasons, i, v)
        {
                const char *text = json_string_value(json_object_get(v, "text"));
                const char *ls = json_string_value(json_object_get(v, "level"));
                int lvl = ls ? log_level_parse(ls) : -1;
                if (text)
                        reason(d, lvl < 0 ? LOG_INFO : (enum log_level)lvl, "%s", text);
        }
        return 0;
}
