/* The effective policy of one tool: config -> server -> tool inheritance. */
#include "isolation/isolation.h"

#include <ctype.h>
#include <string.h>

#define ISO_NAME_MAX_TEXT "128" /* ISO_NAME_MAX in words */
_Static_assert(ISO_NAME_MAX == 128, "ISO_NAME_MAX_TEXT says 128");

static const struct iso_mounts no_mounts;
static const struct iso_strlist no_hosts;

const char *iso_src_name(enum iso_src s)
{
        static const char *const names[] = {"default", "config", "server", "tool"};
        return (unsigned)s < 4 ? names[s] : "?";
}

/* Why name is not safe in a file name, or NULL. */
static const char *name_problem(const char *name)
{
        size_t len = strlen(name);
        if (!len)
                return "is empty";
        if (len > ISO_NAME_MAX)
                return "is longer than " ISO_NAME_MAX_TEXT " bytes";
        if (!strcmp(name, ".") || !strcmp(name, ".."))
                return "is a directory's name";
        if (name[0] == '-')
                return "starts with '-'";
        for (const char *c = name; *c; c++) {
                if (*c == '/')
                        return "holds a '/'";
                if (!isalnum((unsigned char)*c) && *c != '_' && *c != '.' && *c != '-')
                        return "holds a character other than letters, digits, '_', '.' and '-'";
        }
        return NULL;
}

const char *iso_names_problem(const char *server, const char *tool, char *buf, size_t n)
{
        const char *names[2] = {server, tool}, *kinds[2] = {"server", "tool"};
        for (int i = 0; i < 2; i++) {
                const char *why = name_problem(names[i]);
                if (!why)
                        continue;
                char *shown = text_sanitize(names[i], 0);
                snprintf(buf, n, "the %s name \"%.*s%s\" %s", kinds[i], text_cut(shown, 80), shown,
                         strlen(shown) > 80 ? "..." : "", why);
                free(shown);
                return buf;
        }
        size_t len = strlen(server) + 1 + strlen(tool) + 4;
        if (len > 255) {
                snprintf(buf, n,
                         "the names make an image file name (SERVER-TOOL.img) of %zu bytes, "
                         "longer than 255 bytes",
                         len);
                return buf;
        }
        return NULL;
}

/* The image path: absolute as written, ~/ expanded, else below
 * unikernel_dir; "" when the names cannot make a file name. */
static char *image_path(const struct iso_config *cfg, const char *server, const char *tool,
                        const char *configured)
{
        char why[300];
        if (!configured && iso_names_problem(server, tool, why, sizeof(why)))
                return xstrdup("");
        if (!configured)
                return xasprintf("%s/%s-%s.img", cfg->unikernel_dir, server,
                                 strcmp(tool, ISO_ANY_TOOL) ? tool : "<tool>");
        if (configured[0] == '/' || configured[0] == '~')
                return fs_expand_home(configured);
        return xasprintf("%s/%s", cfg->unikernel_dir, configured);
}

void iso_policy_resolve(const struct iso_config *cfg, const char *server, const char *tool,
                        struct iso_policy *p)
{
        memset(p, 0, sizeof(*p));
        const struct iso_server *srv = iso_config_server(cfg, server);
        const struct iso_tool *t = iso_server_tool(srv, tool);
        const struct iso_ext *levels[3] = {t ? &t->ext : NULL, srv ? &srv->ext : NULL, &cfg->ext};
        static const enum iso_src level_src[3] = {ISO_SRC_TOOL, ISO_SRC_SERVER, ISO_SRC_CONFIG};

        p->server = xstrdup(server);
        p->tool = xstrdup(tool);
        p->server_known = srv != NULL;
        p->tool_known = t != NULL;

        p->mode = cfg->default_mode, p->mode_src = ISO_SRC_CONFIG;
        if (srv && srv->execution_mode != ISO_MODE_UNSET)
                p->mode = srv->execution_mode, p->mode_src = ISO_SRC_SERVER;
        if (t && t->execution_mode != ISO_MODE_UNSET)
                p->mode = t->execution_mode, p->mode_src = ISO_SRC_TOOL;

        p->image = image_path(cfg, server, tool, t ? t->unikernel_image : NULL);
        p->image_src = t && t->unikernel_image ? ISO_SRC_TOOL : ISO_SRC_DEFAULT;

        p->memory_mb = ISO_DEFAULT_MEMORY_MB, p->memory_src = ISO_SRC_DEFAULT;
        if (t && t->memory_mb)
                p->memory_mb = t->memory_mb, p->memory_src = ISO_SRC_TOOL;
        p->vcpus = ISO_DEFAULT_VCPUS, p->vcpus_src = ISO_SRC_DEFAULT;
        if (t && t->vcpus)
                p->vcpus = t->vcpus, p->vcpus_src = ISO_SRC_TOOL;

        p->timeout_ms = ISO_DEFAULT_TIMEOUT_MS, p->timeout_src = ISO_SRC_DEFAULT;
        p->fallback = ISO_FALLBACK_DIRECT, p->fallback_src = ISO_SRC_DEFAULT;
        p->network_allow = &no_hosts, p->network_src = ISO_SRC_DEFAULT;
        /* The nearest level that sets a value wins; walk from the farthest. */
        for (int i = 2; i >= 0; i--) {
                const struct iso_ext *x = levels[i];
                if (!x)
                        continue;
                if (x->has_timeout)
                        p->timeout_ms = x->timeout_ms, p->timeout_src = level_src[i];
                if (x->fallback != ISO_FALLBACK_UNSET)
                        p->fallback = x->fallback, p->fallback_src = level_src[i];
                if (x->has_network)
                        p->network_allow = &x->network_allow, p->network_src = level_src[i];
        }

        p->platform = cfg->platform;
        p->platform_src = cfg->platform != ISO_PLATFORM_AUTO ? ISO_SRC_CONFIG : ISO_SRC_DEFAULT;
        p->mounts = t ? &t->mounts : &no_mounts;
        p->microvm_id = srv ? srv->microvm_id : NULL;
        p->rpc_url = srv ? srv->rpc_url : NULL;
}

void iso_policy_free(struct iso_policy *p)
{
        free(p->server);
        free(p->tool);
        free(p->image);
        memset(p, 0, sizeof(*p));
}

struct iso_enforced iso_route_enforced(enum iso_route r)
{
        bool vm = r != ISO_ROUTE_DIRECT; /* deny runs nothing: nothing to hold */
        return (struct iso_enforced){
            .memory = vm, .vcpus = vm, .timeout = true, .network = vm, .mounts = vm};
}

/* The route line of `isolation show`: where the call goes on this host. */
static void route_text(strbuf *b, const struct iso_policy *p, const struct iso_decision *d)
{
        sb_addf(b, "  %-9s %s  ", "route", iso_route_name(d->route));
        if (d->route == ISO_ROUTE_DENY)
                sb_addf(b, "(refused: %s is not possible here and the fallback is deny)\n",
                        iso_mode_name(p->mode));
        else if (d->fell_back)
                sb_addf(b,
                        "(fallback: %s is not possible here; 'osvm isolation explain %s/%s' "
                        "says why)\n",
                        iso_mode_name(p->mode), p->server,
                        strcmp(p->tool, ISO_ANY_TOOL) ? p->tool : "TOOL");
        else if (d->route == ISO_ROUTE_DIRECT)
                sb_add(b, "(configured)\n");
        else
                sb_add(b, "(a fresh VM for each call)\n");
}

char *iso_policy_text(const struct iso_policy *p, const struct iso_decision *d)
{
        struct iso_enforced en = iso_route_enforced(d ? d->route : ISO_ROUTE_UNIKERNEL);
        const char *no = "  [not enforced]";
        strbuf b = {0};
        bool any = !p->tool_known && !strcmp(p->tool, ISO_ANY_TOOL);
        sb_addf(&b, "%s/%s", p->server, p->tool);
        if (!p->server_known)
                sb_addf(&b, "  (%sdefaults, not in isolation_config.json)",
                        any ? "every tool: " : "");
        else if (any)
                sb_add(&b, "  (every tool not listed under it in isolation_config.json)");
        else if (!p->tool_known)
                sb_add(&b, "  (tool not in isolation_config.json: its server's values and the "
                           "defaults apply)");
        sb_add(&b, "\n");
        if (d)
                route_text(&b, p, d);
        sb_addf(&b, "  %-9s %s  (%s)\n", "mode", iso_mode_name(p->mode), iso_src_name(p->mode_src));
        sb_addf(&b, "  %-9s %s  (%s)\n", "image", p->image, iso_src_name(p->image_src));
        sb_addf(&b, "  %-9s %u MiB  (%s)%s\n", "memory", p->memory_mb, iso_src_name(p->memory_src),
                en.memory ? "" : no);
        sb_addf(&b, "  %-9s %u  (%s)%s\n", "vcpus", p->vcpus, iso_src_name(p->vcpus_src),
                en.vcpus ? "" : no);
        sb_addf(&b, "  %-9s %u ms  (%s)\n", "timeout", p->timeout_ms, iso_src_name(p->timeout_src));
        sb_addf(&b, "  %-9s %s  (%s)\n", "fallback", iso_fallback_name(p->fallback),
                iso_src_name(p->fallback_src));
        sb_addf(&b, "  %-9s %s  (%s)\n", "platform", iso_platform_name(p->platform),
                iso_src_name(p->platform_src));
        sb_addf(&b, "  %-9s ", "network");
        if (p->network_allow->n == 0)
                sb_add(&b, "none");
        for (size_t i = 0; i < p->network_allow->n; i++)
                sb_addf(&b, "%s%s", i ? ", " : "allow ", p->network_allow->v[i]);
        sb_addf(&b, "  (%s)%s\n", iso_src_name(p->network_src), en.network ? "" : no);
        sb_addf(&b, "  %s%s\n", p->mounts->n ? "mounts" : "mounts    none", en.mounts ? "" : no);
        for (size_t i = 0; i < p->mounts->n; i++)
                sb_addf(&b, "    %s -> %s (%s)\n", p->mounts->v[i].host_path,
                        p->mounts->v[i].vm_path,
                        p->mounts->v[i].readonly ? "read-only" : "read-write");
        if (!en.memory && d && d->sandboxed)
                sb_add(&b,
                       "  not enforced: the call runs on its MCP server, outside any VM, in the "
                       "server's\n  sandbox: the server's limits, view and allow-list hold it "
                       "('osvm mcp list'\n  shows them), not the per-call values marked; the "
                       "timeout holds\n");
        else if (!en.memory && d && d->tier && !strcmp(d->tier, "remote"))
                sb_add(&b, "  not enforced: the call runs on its MCP server, reached by URL, "
                           "elsewhere\n  (not on this host): only the timeout holds\n");
        else if (!en.memory)
                sb_add(&b, "  not enforced: the call runs in its MCP server's own process, outside "
                           "any VM,\n  with the memory, CPUs, network and files that process has; "
                           "only the timeout holds\n");
        return sb_steal(&b);
}

json_t *iso_policy_json(const struct iso_policy *p, const struct iso_decision *d)
{
        json_t *allow = json_array();
        for (size_t i = 0; i < p->network_allow->n; i++)
                json_array_append_new(allow, json_string(p->network_allow->v[i]));
        json_t *mounts = json_array();
        for (size_t i = 0; i < p->mounts->n; i++)
                json_array_append_new(mounts, json_pack("{s:s, s:s, s:b}", "host_path",
                                                        p->mounts->v[i].host_path, "vm_path",
                                                        p->mounts->v[i].vm_path, "readonly",
                                                        p->mounts->v[i].readonly));
        json_t *j = json_pack(
            "{s:s, s:s, s:b, s:b, s:s, s:s, s:i, s:i, s:i, s:s, s:{s:o}, s:o, s:s?,"
            " s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s}}",
            "server", p->server, "tool", p->tool, "server_configured", p->server_known,
            "tool_configured", p->tool_known, "mode", iso_mode_name(p->mode), "image", p->image,
            "memory_mb", (int)p->memory_mb, "vcpus", (int)p->vcpus, "timeout_ms",
            (int)p->timeout_ms, "fallback", iso_fallback_name(p->fallback), "network", "allow",
            allow, "mounts", mounts, "microvm_id", p->microvm_id, "sources", "mode",
            iso_src_name(p->mode_src), "image", iso_src_name(p->image_src), "memory_mb",
            iso_src_name(p->memory_src), "vcpus", iso_src_name(p->vcpus_src), "timeout_ms",
            iso_src_name(p->timeout_src), "fallback", iso_src_name(p->fallback_src), "network",
            iso_src_name(p->network_src));
        json_object_set_new(j, "platform", json_string(iso_platform_name(p->platform)));
        if (d) {
                json_object_set_new(j, "route", json_string(iso_route_name(d->route)));
                json_object_set_new(j, "fell_back", json_boolean(d->fell_back));
                if (d->route == ISO_ROUTE_DIRECT && d->tier)
                        json_object_set_new(j, "tier", json_string(d->tier));
                json_object_set_new(j, "enforced", iso_enforced_json(d->route));
        }
        return j;
}

json_t *iso_enforced_json(enum iso_route r)
{
        struct iso_enforced en = iso_route_enforced(r);
        return json_pack("{s:b, s:b, s:b, s:b, s:b}", "memory_mb", en.memory, "vcpus", en.vcpus,
                         "timeout_ms", en.timeout, "network", en.network, "mounts", en.mounts);
}

void iso_server_sandbox(const struct iso_config *cfg, const char *server, struct iso_sandbox *sb)
{
        memset(sb, 0, sizeof(*sb));
        const struct iso_server *srv = iso_config_server(cfg, server);
        sb->mounts = srv ? &srv->microvm_mounts : &no_mounts;
        sb->allow = &no_hosts, sb->allow_src = ISO_SRC_DEFAULT;
        static const struct iso_secret_binds no_secrets;
        sb->secrets = srv ? &srv->secrets : &no_secrets;
        sb->fallback = ISO_FALLBACK_DIRECT;
        const struct iso_ext *levels[2] = {&cfg->ext, srv ? &srv->ext : NULL};
        for (int i = 0; i < 2; i++) {
                if (!levels[i])
                        continue;
                if (levels[i]->has_network)
                        sb->allow = &levels[i]->network_allow,
                        sb->allow_src = i ? ISO_SRC_SERVER : ISO_SRC_CONFIG;
                if (levels[i]->fallback != ISO_FALLBACK_UNSET)
                        sb->fallback = levels[i]->fallback;
        }
        sb->memory_mb = srv && srv->vm_memory_mb ? srv->vm_memory_mb : ISO_SERVER_MEMORY_MB;
        sb->max_procs = srv && srv->vm_max_procs ? srv->vm_max_procs : ISO_SERVER_MAX_PROCS;
        sb->vcpus = srv ? srv->vm_vcpus : 0;
        sb->why = "the server is not in the isolation config";
        if (!srv)
                return;
        sb->why = "nothing in its policy asks for confinement";
        if (srv->sandbox == 0) {
                sb->why = "\"sandbox\": false";
                return;
        }
        if (srv->sandbox == 1)
                sb->why = "\"sandbox\": true";
        else if (srv->use_microvm)
                sb->why = "\"use_microvm\": true";
        else if (srv->execution_mode == ISO_MODE_MICROVM)
                sb->why = "its execution_mode \"microvm\"";
        else {
                for (size_t i = 0; i < srv->ntools; i++)
                        if (srv->tools[i].execution_mode == ISO_MODE_MICROVM)
                                sb->why = "a tool in \"microvm\" mode";
                if (strcmp(sb->why, "a tool in \"microvm\" mode") != 0)
                        return;
        }
        sb->wanted = true;
}
