/*
 * `isolation set`: edits one level of the config file in place, keeping every
 * other field (unknown ones too), and writes it back atomically only when the
 * result validates.
 */
#include "isolation/schema.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

/* The object at key in obj, created when absent; NULL when key holds another
 * type (or cannot be a key: not UTF-8). */
static json_t *child_object(json_t *obj, const char *key)
{
        json_t *v = json_object_get(obj, key);
        if (!v) {
                v = json_object();
                if (json_object_set_new(obj, key, v) < 0)
                        return NULL; /* and v is freed */
        }
        return json_is_object(v) ? v : NULL;
}

static char *trim(char *s)
{
        while (isspace((unsigned char)*s))
                s++;
        char *e = s + strlen(s);
        while (e > s && isspace((unsigned char)e[-1]))
                *--e = '\0';
        return s;
}

/* "HOST:VM[:ro|:rw]" -> a mount object. */
static json_t *parse_mount(char *spec, osvm_err *e)
{
        bool readonly = true;
        char *last = strrchr(spec, ':');
        if (last && (strcmp(last, ":ro") == 0 || strcmp(last, ":rw") == 0)) {
                readonly = last[1] == 'r' && last[2] == 'o';
                *last = '\0';
        }
        char *colon = strchr(spec, ':');
        if (!colon || colon == spec || colon[1] == '\0') {
                err_set(e, EINVAL, "mount \"%s\" is not HOST_PATH:VM_PATH[:ro|:rw]", spec);
                return NULL;
        }
        *colon = '\0';
        return json_pack("{s:s, s:s, s:b}", "host_path", spec, "vm_path", colon + 1, "readonly",
                         readonly);
}

/* A comma-separated list, each entry converted by one. */
static json_t *parse_list(const char *value, bool mounts, osvm_err *e)
{
        json_t *arr = json_array();
        _cleanup_free_ char *copy = xstrdup(value);
        char *save = NULL;
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                char *item = trim(tok);
                if (!*item)
                        continue;
                json_t *v = mounts ? parse_mount(item, e) : json_string(item);
                if (!v) {
                        json_decref(arr);
                        return NULL;
                }
                json_array_append_new(arr, v);
        }
        return arr;
}

/* VALUE as the JSON value a field of this type takes. */
static json_t *parse_value(const struct iso_field *f, const char *key, const char *value,
                           osvm_err *e)
{
        if (value[0] == '[' || value[0] == '{') {
                json_error_t jerr;
                json_t *v = json_loads(value, JSON_REJECT_DUPLICATES, &jerr);
                if (!v)
                        err_set(e, EINVAL, "%s: the value is not valid JSON: %s", key, jerr.text);
                return v;
        }
        switch (f->type) {
        case FT_MODE:
        case FT_FALLBACK:
        case FT_PLATFORM:
        case FT_DIR:
        case FT_VMPATH:
        case FT_URL:
                return json_string(value);
        case FT_STR_NULL:
        case FT_IMAGE:
                return strcmp(value, "null") == 0 ? json_null() : json_string(value);
        case FT_BOOL:
                if (!strcmp(value, "true") || !strcmp(value, "yes") || !strcmp(value, "on") ||
                    !strcmp(value, "1"))
                        return json_true();
                if (!strcmp(value, "false") || !strcmp(value, "no") || !strcmp(value, "off") ||
                    !strcmp(value, "0"))
                        return json_false();
                err_set(e, EINVAL, "%s: expected true or false, got \"%s\"", key, value);
                return NULL;
        case FT_UINT: {
                size_t n = strlen(value);
                bool digits = n > 0 && n <= 10;
                for (size_t i = 0; i < n; i++)
                        digits = digits && isdigit((unsigned char)value[i]);
                if (!digits) {
                        err_set(e, EINVAL, "%s: expected an integer from %u to %u, got \"%s\"", key,
                                f->min, f->max, value);
                        return NULL;
                }
                return json_integer((json_int_t)strtoull(value, NULL, 10));
        }
        case FT_HOSTS:
        case FT_MOUNTS:
                return parse_list(value, f->type == FT_MOUNTS, e);
        case FT_SECRETS: /* one binding (its hosts and headers are comma lists), or [..] */
                return json_pack("[s]", value);
        case FT_OBJECT:
        case FT_SERVERS:
        case FT_TOOLS:
                break;
        }
        err_set(e, EINVAL, "%s: takes a JSON object ({...})", key);
        return NULL;
}

static void list_keys(strbuf *b, const char *prefix, const struct iso_field *table)
{
        for (const struct iso_field *f = table; f->name; f++) {
                if (f->type == FT_OBJECT) {
                        char *p = xasprintf("%s%s.", prefix, f->name);
                        list_keys(b, p, f->sub);
                        free(p);
                } else if (f->type != FT_SERVERS && f->type != FT_TOOLS) {
                        sb_addf(b, "%s%s%s", b->len ? ", " : "", prefix, f->name);
                }
        }
}

/* Applies one KEY=VALUE to obj, a level described by table. */
static int apply(json_t *obj, const struct iso_field *table, const char *assignment, osvm_err *e)
{
        const char *eq = strchr(assignment, '=');
        e->exit = OSVM_EXIT_USAGE; /* until the key is known */
        if (!eq || eq == assignment)
                return err_set(e, EINVAL, "\"%s\" is not KEY=VALUE", assignment);
        _cleanup_free_ char *key = xstrdup(assignment);
        key[eq - assignment] = '\0';
        const char *value = eq + 1;
        _cleanup_free_ char *name = xstrdup(key); /* key itself is cut up below */
        if (key[0] == '.' || strstr(key, "..") || key[strlen(key) - 1] == '.')
                return err_set(e, EINVAL, "\"%s\" is not a key: a part of it is empty", name);

        char *save = NULL, *part = strtok_r(key, ".", &save), *next;
        const struct iso_field *f = NULL;
        for (; part; part = next) {
                next = strtok_r(NULL, ".", &save);
                f = iso_field_find(table, part);
                if (!f || (next && f->type != FT_OBJECT) || f->type == FT_SERVERS ||
                    f->type == FT_TOOLS) {
                        strbuf known = {0};
                        list_keys(&known, "", table);
                        err_set(e, EINVAL, "unknown key \"%s\" here; the keys are: %s", name,
                                known.s);
                        sb_free(&known);
                        return -1;
                }
                if (!next)
                        break;
                obj = child_object(obj, part);
                if (!obj)
                        return err_set(e, EINVAL, "%s: the config holds a non-object there", name);
                table = f->sub;
        }
        e->exit = 0;
        if (!text_valid_utf8(value, strlen(value))) {
                e->exit = OSVM_EXIT_CONFIG;
                return err_set(e, EINVAL, "%s: the value is not valid UTF-8", name);
        }
        if (*value == '\0') {
                json_object_del(obj, part);
                return 0;
        }
        json_t *v = parse_value(f, name, value, e);
        if (!v) {
                e->exit = OSVM_EXIT_CONFIG;
                return -1;
        }
        json_object_set_new(obj, part, v);
        return 0;
}

/* Writes the document back, through a symbolic link, keeping the file's mode. */
static int write_doc(const char *path, json_t *root, osvm_err *e)
{
        _cleanup_free_ char *out = json_dumps(root, JSON_INDENT(2));
        if (!out)
                return err_set(e, ENOMEM, "%s: cannot serialize the config", path);
        _cleanup_free_ char *text = xasprintf("%s\n", out);
        _cleanup_free_ char *real = realpath(path, NULL);
        struct stat st;
        unsigned mode = stat(path, &st) == 0 ? (unsigned)(st.st_mode & 07777) : 0600;
        return fs_write_atomic(real ? real : path, text, strlen(text), mode, e);
}

/* The document at path, to edit; NULL with e set when it cannot be read or parsed. */
static json_t *read_doc(const char *path, struct iso_diags *d, osvm_err *e)
{
        _cleanup_free_ char *text = NULL;
        size_t len;
        if (fs_read_file(path, ISO_CONFIG_MAX_BYTES, &text, &len, e) < 0)
                return NULL;
        json_t *root = iso_json_parse(text, len, path, d);
        if (!root)
                err_set(e, EINVAL, "%s: cannot be edited until it parses", path);
        return root;
}

/* Validates the edited document and writes it; -1 (nothing written) when it is not valid. */
static int write_valid(const char *path, json_t *root, struct iso_diags *d, osvm_err *e)
{
        if (iso_validate(root, path, d) > 0) {
                err_set(e, EINVAL, "%s: not changed: the result would not be valid", path);
                e->exit = OSVM_EXIT_CONFIG;
                return -1;
        }
        return write_doc(path, root, e);
}

int iso_config_set(const char *path, const char *target, const char *const *assignments, size_t n,
                   struct iso_diags *d, osvm_err *e)
{
        _cleanup_free_ char *server = NULL, *tool = NULL;
        json_t *root = read_doc(path, d, e);
        if (!root)
                return -1;
        int r = -1;
        json_t *level = json_is_object(root) ? root : NULL;
        const struct iso_field *table = iso_root_fields;
        if (target && level) {
                /* names become JSON keys, which are UTF-8 */
                if (!text_valid_utf8(target, strlen(target))) {
                        err_set(e, EINVAL, "the target is not valid UTF-8");
                        e->exit = OSVM_EXIT_USAGE;
                        goto out;
                }
                if (iso_split_target(target, true, &server, &tool, e) < 0)
                        goto out;
                json_t *servers = child_object(root, "mcp_servers");
                level = servers ? child_object(servers, server) : NULL;
                table = iso_server_fields;
                if (level && tool) {
                        json_t *tools = child_object(level, "tools");
                        level = tools ? child_object(tools, tool) : NULL;
                        table = iso_tool_fields;
                }
        }
        if (!level) {
                err_set(e, EINVAL, "%s: the config's structure is not what the schema says there",
                        path);
                goto out;
        }
        for (size_t i = 0; i < n; i++)
                if (apply(level, table, assignments[i], e) < 0)
                        goto out;
        r = write_valid(path, root, d, e);
out:
        json_decref(root);
        return r;
}

int iso_config_remove_server(const char *path, const char *server, struct iso_diags *d, osvm_err *e)
{
        json_t *root = read_doc(path, d, e);
        if (!root)
                return -1;
        json_t *servers = json_object_get(root, "mcp_servers");
        int r = 0;
        if (json_is_object(servers) && json_object_get(servers, server)) {
                json_object_del(servers, server);
                r = write_valid(path, root, d, e) < 0 ? -1 : 1;
        }
        json_decref(root);
        return r;
}
