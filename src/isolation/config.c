/* Loading isolation_config.json into an iso_config, and the default file. */
#include "isolation/schema.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

const char *const iso_osvm_mcp_tools[] = {
    "get_balance",
    "get_account_info",
    "get_transaction",
    "get_signatures_for_address",
    "get_slot",
    "get_block_height",
    "get_epoch_info",
    "get_version",
    "get_token_accounts_by_owner",
    "get_latest_blockhash",
    "solana_rpc_call",
    NULL,
};

const char *iso_mode_name(enum iso_mode m)
{
        switch (m) {
        case ISO_MODE_UNIKERNEL:
                return "unikernel";
        case ISO_MODE_MICROVM:
                return "microvm";
        case ISO_MODE_DIRECT:
                return "direct";
        case ISO_MODE_UNSET:
                break;
        }
        return "unset";
}

const char *iso_platform_name(enum iso_platform p)
{
        return p == ISO_PLATFORM_KVM ? "kvm" : p == ISO_PLATFORM_PROCESS ? "process" : "auto";
}

const char *iso_fallback_name(enum iso_fallback f)
{
        return f == ISO_FALLBACK_DENY ? "deny" : f == ISO_FALLBACK_DIRECT ? "direct" : "unset";
}

static enum iso_mode mode_of(json_t *v)
{
        const char *s = json_string_value(v);
        if (!s)
                return ISO_MODE_UNSET;
        if (strcmp(s, "unikernel") == 0)
                return ISO_MODE_UNIKERNEL;
        if (strcmp(s, "microvm") == 0)
                return ISO_MODE_MICROVM;
        return ISO_MODE_DIRECT;
}

static char *str_or_null(json_t *v)
{
        return json_is_string(v) ? xstrdup(json_string_value(v)) : NULL;
}

static uint32_t uint_or_zero(json_t *v)
{
        return json_is_integer(v) ? (uint32_t)json_integer_value(v) : 0;
}

/* The builders below read documents that iso_validate() has accepted. */

static void build_mounts(json_t *arr, struct iso_mounts *m)
{
        m->n = json_array_size(arr);
        m->v = m->n ? xcalloc(m->n, sizeof(*m->v)) : NULL;
        for (size_t i = 0; i < m->n; i++) {
                json_t *o = json_array_get(arr, i);
                json_t *ro = json_object_get(o, "readonly");
                m->v[i].host_path =
                    fs_expand_home(json_string_value(json_object_get(o, "host_path")));
                m->v[i].vm_path = xstrdup(json_string_value(json_object_get(o, "vm_path")));
                m->v[i].readonly = ro ? json_is_true(ro) : true;
        }
}

static void build_ext(json_t *obj, struct iso_ext *x)
{
        json_t *v = json_object_get(obj, "fallback");
        if (v)
                x->fallback = strcmp(json_string_value(v), "deny") == 0 ? ISO_FALLBACK_DENY
                                                                        : ISO_FALLBACK_DIRECT;
        if ((v = json_object_get(obj, "timeout_ms"))) {
                x->has_timeout = true;
                x->timeout_ms = uint_or_zero(v);
        }
        json_t *allow = json_object_get(json_object_get(obj, "network"), "allow");
        if (allow) {
                x->has_network = true;
                x->network_allow.n = json_array_size(allow);
                x->network_allow.v = xcalloc(x->network_allow.n, sizeof(char *));
                for (size_t i = 0; i < x->network_allow.n; i++)
                        x->network_allow.v[i] =
                            xstrdup(json_string_value(json_array_get(allow, i)));
        }
}

static void build_tool(const char *name, json_t *o, struct iso_tool *t)
{
        t->name = xstrdup(name);
        t->execution_mode = mode_of(json_object_get(o, "execution_mode"));
        t->unikernel_image = str_or_null(json_object_get(o, "unikernel_image"));
        build_mounts(json_object_get(o, "mounts"), &t->mounts);
        t->memory_mb = uint_or_zero(json_object_get(o, "memory_mb"));
        t->vcpus = uint_or_zero(json_object_get(o, "vcpus"));
        build_ext(o, &t->ext);
}

static void build_server(const char *name, json_t *o, struct iso_server *s)
{
        s->name = xstrdup(name);
        s->execution_mode = mode_of(json_object_get(o, "execution_mode"));
        s->microvm_id = str_or_null(json_object_get(o, "microvm_id"));
        s->use_microvm = json_is_true(json_object_get(o, "use_microvm"));
        json_t *vm = json_object_get(o, "microvm_config");
        s->vm_memory_mb = uint_or_zero(json_object_get(vm, "memory_mb"));
        s->vm_vcpus = uint_or_zero(json_object_get(vm, "vcpus"));
        s->vm_max_procs = uint_or_zero(json_object_get(vm, "max_processes"));
        json_t *sb = json_object_get(o, "sandbox");
        s->sandbox = json_is_boolean(sb) ? json_is_true(sb) : -1;
        s->server_command = str_or_null(json_object_get(o, "server_command"));
        s->rpc_url = str_or_null(json_object_get(o, "rpc_url"));
        build_mounts(json_object_get(o, "microvm_mounts"), &s->microvm_mounts);
        json_t *secrets = json_object_get(o, "secrets");
        s->secrets.v = xcalloc(json_array_size(secrets) + 1, sizeof(*s->secrets.v));
        for (size_t k = 0; k < json_array_size(secrets); k++)
                if (!iso_secret_bind_parse(json_string_value(json_array_get(secrets, k)),
                                           &s->secrets.v[s->secrets.n]))
                        s->secrets.n++;
        json_t *tools = json_object_get(o, "tools");
        s->ntools = json_object_size(tools);
        s->tools = s->ntools ? xcalloc(s->ntools, sizeof(*s->tools)) : NULL;
        size_t i = 0;
        const char *key;
        json_t *val;
        json_object_foreach(tools, key, val)
        {
                build_tool(key, val, &s->tools[i++]);
        }
        build_ext(o, &s->ext);
}

static void build_config(json_t *root, const char *name, struct iso_config *cfg)
{
        memset(cfg, 0, sizeof(*cfg));
        cfg->path = xstrdup(name);
        cfg->default_mode = mode_of(json_object_get(root, "default_execution_mode"));
        if (cfg->default_mode == ISO_MODE_UNSET)
                cfg->default_mode = ISO_MODE_UNIKERNEL;
        json_t *dir = json_object_get(root, "unikernel_dir");
        cfg->unikernel_dir =
            fs_expand_home(dir ? json_string_value(dir) : ISO_DEFAULT_UNIKERNEL_DIR);
        json_t *builtin = json_object_get(root, "use_builtin_images");
        cfg->use_builtin_images = !builtin || json_is_true(builtin);
        const char *plat = json_string_value(json_object_get(root, "platform"));
        cfg->platform = !plat                          ? ISO_PLATFORM_AUTO
                        : strcmp(plat, "kvm") == 0     ? ISO_PLATFORM_KVM
                        : strcmp(plat, "process") == 0 ? ISO_PLATFORM_PROCESS
                                                       : ISO_PLATFORM_AUTO;
        json_t *servers = json_object_get(root, "mcp_servers");
        cfg->nservers = json_object_size(servers);
        cfg->servers = cfg->nservers ? xcalloc(cfg->nservers, sizeof(*cfg->servers)) : NULL;
        size_t i = 0;
        const char *key;
        json_t *val;
        json_object_foreach(servers, key, val)
        {
                build_server(key, val, &cfg->servers[i++]);
        }
        build_ext(root, &cfg->ext);
}

int iso_config_parse(const char *text, size_t len, const char *name, struct iso_config *cfg,
                     struct iso_diags *d)
{
        memset(cfg, 0, sizeof(*cfg));
        json_t *root = iso_json_parse(text, len, name, d);
        if (!root)
                return -1;
        int r = -1;
        if (iso_validate(root, name, d) == 0) {
                build_config(root, name, cfg);
                r = 0;
        }
        json_decref(root);
        return r;
}

int iso_config_load(const char *path, struct iso_config *cfg, struct iso_diags *d)
{
        memset(cfg, 0, sizeof(*cfg));
        _cleanup_free_ char *text = NULL;
        size_t len;
        osvm_err e = {0};
        if (fs_read_file(path, ISO_CONFIG_MAX_BYTES, &text, &len, &e) < 0) {
                /* fs_read_file's messages begin with the path already. */
                const char *rest =
                    strncmp(e.msg, path, strlen(path)) == 0 && e.msg[strlen(path)] == ':'
                        ? e.msg + strlen(path) + 2
                        : e.msg;
                iso_diag_add(d, ISO_ERROR, path, "cannot read the config: %s", rest);
                return -1;
        }
        return iso_config_parse(text, len, path, cfg, d);
}

char *iso_config_path(void)
{
        _cleanup_free_ char *dir = paths_config_dir();
        return xasprintf("%s/%s", dir, ISO_CONFIG_FILE);
}

char *iso_config_default_text(void)
{
        json_t *tools = json_object();
        for (size_t i = 0; iso_osvm_mcp_tools[i]; i++)
                json_object_set_new(tools, iso_osvm_mcp_tools[i],
                                    json_pack("{s:s, s:n, s:[], s:i, s:i}", "execution_mode",
                                              "unikernel", "unikernel_image", "mounts", "memory_mb",
                                              (int)ISO_DEFAULT_MEMORY_MB, "vcpus",
                                              (int)ISO_DEFAULT_VCPUS));
        json_t *server =
            json_pack("{s:s, s:b, s:{s:i, s:i}, s:n, s:[], s:o}", "microvm_id", "\xce\xbcVM-1",
                      "use_microvm", 0, "microvm_config", "memory_mb", 256, "vcpus", 1,
                      "server_command", "microvm_mounts", "tools", tools);
        /* No "network" list: the pack's default egress, its RPC endpoint alone, applies. */
        json_t *root =
            json_pack("{s:s, s:s, s:s, s:i, s:{s:o}}", "default_execution_mode", "unikernel",
                      "unikernel_dir", ISO_DEFAULT_UNIKERNEL_DIR, "fallback", "direct",
                      "timeout_ms", (int)ISO_DEFAULT_TIMEOUT_MS, "mcp_servers", "osvm-mcp", server);
        char *text = json_dumps(root, JSON_INDENT(2));
        json_decref(root);
        char *out = xasprintf("%s\n", text);
        free(text);
        return out;
}

int iso_config_open(struct iso_config *cfg, struct iso_diags *d)
{
        memset(cfg, 0, sizeof(*cfg));
        _cleanup_free_ char *path = iso_config_path();
        struct stat st;
        if (lstat(path, &st) < 0 && errno == ENOENT) {
                _cleanup_free_ char *dir = fs_dirname(path);
                _cleanup_free_ char *text = iso_config_default_text();
                osvm_err e = {0};
                if (fs_mkdir_p(dir, 0700, &e) < 0 ||
                    fs_create_atomic(path, text, strlen(text), 0600, &e) < 0) {
                        if (e.code != EEXIST) {
                                iso_diag_add(d, ISO_ERROR, path,
                                             "cannot create the default config: %s", e.msg);
                                return -1;
                        }
                } else {
                        log_info("created the default isolation config: %s", path);
                }
        }
        return iso_config_load(path, cfg, d);
}

static void free_mounts(struct iso_mounts *m)
{
        for (size_t i = 0; i < m->n; i++) {
                free(m->v[i].host_path);
                free(m->v[i].vm_path);
        }
        free(m->v);
}

static void free_ext(struct iso_ext *x)
{
        for (size_t i = 0; i < x->network_allow.n; i++)
                free(x->network_allow.v[i]);
        free(x->network_allow.v);
}

void iso_config_free(struct iso_config *cfg)
{
        for (size_t i = 0; i < cfg->nservers; i++) {
                struct iso_server *s = &cfg->servers[i];
                for (size_t j = 0; j < s->ntools; j++) {
                        struct iso_tool *t = &s->tools[j];
                        free(t->name);
                        free(t->unikernel_image);
                        free_mounts(&t->mounts);
                        free_ext(&t->ext);
                }
                free(s->tools);
                free(s->name);
                free(s->microvm_id);
                free(s->server_command);
                free(s->rpc_url);
                free_mounts(&s->microvm_mounts);
                for (size_t j = 0; j < s->secrets.n; j++)
                        iso_secret_bind_free(&s->secrets.v[j]);
                free(s->secrets.v);
                free_ext(&s->ext);
        }
        free(cfg->servers);
        free(cfg->path);
        free(cfg->unikernel_dir);
        free_ext(&cfg->ext);
        memset(cfg, 0, sizeof(*cfg));
}

const struct iso_server *iso_config_server(const struct iso_config *cfg, const char *name)
{
        for (size_t i = 0; i < cfg->nservers; i++)
                if (strcmp(cfg->servers[i].name, name) == 0)
                        return &cfg->servers[i];
        return NULL;
}

const struct iso_tool *iso_server_tool(const struct iso_server *srv, const char *name)
{
        for (size_t i = 0; srv && i < srv->ntools; i++)
                if (strcmp(srv->tools[i].name, name) == 0)
                        return &srv->tools[i];
        return NULL;
}

int iso_split_target(const char *target, bool tool_optional, char **server, char **tool,
                     osvm_err *e)
{
        *server = *tool = NULL;
        const char *slash = strchr(target, '/');
        if (slash == target || (slash && slash[1] == '\0') || target[0] == '\0')
                return err_set(e, EINVAL, "\"%s\" is not SERVER/TOOL", target);
        if (!slash) {
                if (!tool_optional)
                        return err_set(e, EINVAL, "\"%s\" names no tool; expected SERVER/TOOL",
                                       target);
                *server = xstrdup(target);
                return 0;
        }
        *server = xstrdup(target);
        (*server)[slash - target] = '\0';
        *tool = xstrdup(slash + 1);
        return 0;
}
