/* The schema tables and the validator that walks a document against them. */
#include "isolation/schema.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* ---- the tables ---- */

#define FIELD_EXTENSIONS                                                                           \
        {"fallback", FT_FALLBACK, 0, 0, NULL, false},                                              \
            {"timeout_ms", FT_UINT, 1, 86400000, NULL, false},                                     \
        {                                                                                          \
                "network", FT_OBJECT, 0, 0, network_fields, false                                  \
        }

static const struct iso_field network_fields[] = {
    {"allow", FT_HOSTS, 0, 0, NULL, false},
    {NULL, 0, 0, 0, NULL, false},
};

static const struct iso_field mount_fields[] = {
    {"host_path", FT_DIR, 0, 0, NULL, true},
    {"vm_path", FT_VMPATH, 0, 0, NULL, true},
    {"readonly", FT_BOOL, 0, 0, NULL, false},
    {NULL, 0, 0, 0, NULL, false},
};

static const struct iso_field vm_fields[] = {
    {"memory_mb", FT_UINT, 1, 1048576, NULL, false},
    {"vcpus", FT_UINT, 1, 256, NULL, false},
    {"max_processes", FT_UINT, 1, 65536, NULL, false}, /* the server sandbox's */
    {NULL, 0, 0, 0, NULL, false},
};

const struct iso_field iso_tool_fields[] = {
    {"execution_mode", FT_MODE, 0, 0, NULL, false},
    {"unikernel_image", FT_IMAGE, 0, 0, NULL, false},
    {"mounts", FT_MOUNTS, 0, 0, mount_fields, false},
    {"memory_mb", FT_UINT, 1, 1048576, NULL, false},
    {"vcpus", FT_UINT, 1, 256, NULL, false},
    FIELD_EXTENSIONS,
    {NULL, 0, 0, 0, NULL, false},
};

const struct iso_field iso_server_fields[] = {
    {"execution_mode", FT_MODE, 0, 0, NULL, false}, /* its tools' mode, unless they set one */
    {"microvm_id", FT_STR_NULL, 0, 0, NULL, false},
    {"use_microvm", FT_BOOL, 0, 0, NULL, false},
    {"sandbox", FT_BOOL, 0, 0, NULL, false}, /* the server runs confined */
    {"microvm_config", FT_OBJECT, 0, 0, vm_fields, false},
    {"server_command", FT_STR_NULL, 0, 0, NULL, false},
    {"microvm_mounts", FT_MOUNTS, 0, 0, mount_fields, false},
    {"tools", FT_TOOLS, 0, 0, iso_tool_fields, false},
    {"rpc_url", FT_URL, 0, 0, NULL, false},
    {"secrets", FT_SECRETS, 0, 0, NULL, false}, /* secrets the proxy adds: never the values */
    FIELD_EXTENSIONS,
    {NULL, 0, 0, 0, NULL, false},
};

const struct iso_field iso_root_fields[] = {
    {"default_execution_mode", FT_MODE, 0, 0, NULL, false},
    {"unikernel_dir", FT_DIR, 0, 0, NULL, false},
    {"mcp_servers", FT_SERVERS, 0, 0, iso_server_fields, false},
    {"use_builtin_images", FT_BOOL, 0, 0, NULL, false},
    {"platform", FT_PLATFORM, 0, 0, NULL, false},
    FIELD_EXTENSIONS,
    {NULL, 0, 0, 0, NULL, false},
};

const struct iso_field *iso_field_find(const struct iso_field *table, const char *name)
{
        for (const struct iso_field *f = table; f->name; f++)
                if (strcmp(f->name, name) == 0)
                        return f;
        return NULL;
}

/* ---- diagnostics ---- */

static void diag_push(struct iso_diags *d, enum iso_sev sev, const char *where, const char *fmt,
                      va_list ap)
{
        char text[1024];
        vsnprintf(text, sizeof(text), fmt, ap);
        d->v = xrealloc(d->v, (d->n + 1) * sizeof(*d->v));
        d->v[d->n++] = (struct iso_diag){
            sev, xasprintf("%s: %s: %s", where, sev == ISO_ERROR ? "error" : "warning", text)};
        if (sev == ISO_ERROR)
                d->nerrors++;
}

void iso_diag_add(struct iso_diags *d, enum iso_sev sev, const char *file, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        diag_push(d, sev, file, fmt, ap);
        va_end(ap);
}

void iso_diag_at(struct iso_diags *d, const char *file, size_t line, size_t col, const char *fmt,
                 ...)
{
        char *where = xasprintf("%s:%zu:%zu", file, line, col);
        va_list ap;
        va_start(ap, fmt);
        diag_push(d, ISO_ERROR, where, fmt, ap);
        va_end(ap);
        free(where);
}

void iso_diags_free(struct iso_diags *d)
{
        for (size_t i = 0; i < d->n; i++)
                free(d->v[i].text);
        free(d->v);
        *d = (struct iso_diags){0};
}

/* ---- parsing ---- */

static void line_col(const char *text, size_t off, size_t *line, size_t *col)
{
        *line = 1, *col = 1;
        for (size_t i = 0; i < off; i++) {
                if (text[i] == '\n')
                        (*line)++, *col = 1;
                else if (((unsigned char)text[i] & 0xC0) != 0x80)
                        (*col)++;
        }
}

/* The offset of the first byte that is not part of well-formed UTF-8. */
static size_t bad_utf8_offset(const char *text, size_t len)
{
        size_t lo = 0;
        /* Grow a valid prefix one character at a time. */
        while (lo < len) {
                size_t n = 1;
                unsigned char c = (unsigned char)text[lo];
                if (c >= 0xF0)
                        n = 4;
                else if (c >= 0xE0)
                        n = 3;
                else if (c >= 0xC0)
                        n = 2;
                if (n > len - lo || !text_valid_utf8(text + lo, n))
                        return lo;
                lo += n;
        }
        return len;
}

json_t *iso_json_parse(const char *text, size_t len, const char *file, struct iso_diags *d)
{
        size_t i = 0;
        while (i < len && isspace((unsigned char)text[i]))
                i++;
        if (i == len) {
                iso_diag_add(d, ISO_ERROR, file, "the file is empty; expected a JSON object");
                return NULL;
        }
        if (!text_valid_utf8(text, len)) {
                size_t off = bad_utf8_offset(text, len), line, col;
                line_col(text, off, &line, &col);
                iso_diag_at(d, file, line, col, "not valid UTF-8 (byte 0x%02x)",
                            (unsigned char)text[off]);
                return NULL;
        }
        json_error_t jerr;
        json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!root) {
                iso_diag_at(d, file, (size_t)jerr.line, (size_t)jerr.column, "invalid JSON: %s",
                            jerr.text);
                return NULL;
        }
        return root;
}

/* ---- validation ---- */

/* A field path such as mcp_servers.osvm-mcp.tools.get_balance.execution_mode. */
static char *path_join(const char *base, const char *key)
{
        bool plain = *key != '\0';
        for (const char *k = key; *k; k++)
                if (!isalnum((unsigned char)*k) && *k != '_' && *k != '-')
                        plain = false;
        if (plain)
                return *base ? xasprintf("%s.%s", base, key) : xstrdup(key);
        /* Quote keys that would make the path ambiguous. */
        strbuf b = {0};
        sb_addf(&b, "%s[\"", base);
        for (const char *k = key; *k; k++) {
                unsigned char c = (unsigned char)*k;
                if (c == '"' || c == '\\')
                        sb_addf(&b, "\\%c", c);
                else if (c < 0x20)
                        sb_addf(&b, "\\u%04x", c);
                else
                        sb_addf(&b, "%c", c);
        }
        sb_add(&b, "\"]");
        return sb_steal(&b);
}

static const char *type_name(const json_t *v)
{
        switch (json_typeof(v)) {
        case JSON_OBJECT:
                return "an object";
        case JSON_ARRAY:
                return "an array";
        case JSON_STRING:
                return "a string";
        case JSON_INTEGER:
                return "an integer";
        case JSON_REAL:
                return "a number with a fraction";
        case JSON_TRUE:
        case JSON_FALSE:
                return "a boolean";
        case JSON_NULL:
                return "null";
        }
        return "a value";
}

struct vctx {
        const char *file;
        struct iso_diags *d;
};

/* An error about the field at path. */
static void __attribute__((format(printf, 3, 4)))
verr(struct vctx *c, const char *path, const char *fmt, ...)
{
        char text[900];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        iso_diag_add(c->d, ISO_ERROR, c->file, "%s: %s", path, text);
}

static bool want_type(struct vctx *c, const char *path, const json_t *v, json_type t,
                      const char *what)
{
        if (json_typeof(v) == t)
                return true;
        verr(c, path, "expected %s, got %s", what, type_name(v));
        return false;
}

static void check_enum(struct vctx *c, const char *path, const json_t *v,
                       const char *const *allowed)
{
        if (!json_is_string(v)) {
                strbuf b = {0};
                for (size_t i = 0; allowed[i]; i++)
                        sb_addf(&b, "%s\"%s\"", i ? ", " : "", allowed[i]);
                verr(c, path, "expected one of %s, got %s", b.s, type_name(v));
                sb_free(&b);
                return;
        }
        for (size_t i = 0; allowed[i]; i++)
                if (strcmp(json_string_value(v), allowed[i]) == 0)
                        return;
        strbuf b = {0};
        for (size_t i = 0; allowed[i]; i++)
                sb_addf(&b, "%s%s", i ? ", " : "", allowed[i]);
        verr(c, path, "\"%s\" is not a valid value; allowed: %s", json_string_value(v), b.s);
        sb_free(&b);
}

static bool has_dot_parts(const char *p)
{
        for (const char *s = p; *s;) {
                const char *e = strchr(s, '/');
                size_t n = e ? (size_t)(e - s) : strlen(s);
                if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
                        return true;
                s += n;
                while (*s == '/')
                        s++;
        }
        return false;
}

static bool valid_label_char(char ch)
{
        return isalnum((unsigned char)ch) || ch == '-';
}

/* host, *.host, 1.2.3.4 or [v6], each with an optional :port (1..65535). */
static const char *host_problem(const char *s)
{
        size_t len = strlen(s);
        if (len == 0 || len > 260)
                return "must be a host name or address, with an optional :port";
        const char *end = s + len, *port = NULL;
        const char *h = s, *hend;
        if (*s == '[') {
                const char *rb = strchr(s, ']');
                if (!rb || rb == s + 1)
                        return "an IPv6 address must be written [addr] or [addr]:port";
                for (const char *p = s + 1; p < rb; p++)
                        if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.')
                                return "not a valid IPv6 address";
                hend = rb + 1;
                if (hend < end && *hend != ':')
                        return "unexpected text after ]";
                port = hend < end ? hend + 1 : NULL;
        } else {
                const char *colon = strchr(s, ':');
                hend = colon ? colon : end;
                port = colon ? colon + 1 : NULL;
                if (hend - h > 2 && h[0] == '*' && h[1] == '.')
                        h += 2;
                if (hend == h || hend - h > 253)
                        return "the host name is empty or too long";
                size_t lab = 0;
                for (const char *p = h; p < hend; p++) {
                        if (*p == '.') {
                                if (lab == 0)
                                        return "the host name has an empty label";
                                lab = 0;
                        } else if (!valid_label_char(*p)) {
                                return "the host name may hold only letters, digits, '-' and '.'";
                        } else if (++lab > 63) {
                                return "a label of the host name is longer than 63 characters";
                        }
                }
                if (lab == 0)
                        return "the host name ends with '.'";
        }
        if (port) {
                if (port == end || end - port > 5)
                        return "the port must be a number from 1 to 65535";
                unsigned long v = 0;
                for (const char *p = port; p < end; p++) {
                        if (!isdigit((unsigned char)*p))
                                return "the port must be a number from 1 to 65535";
                        v = v * 10 + (unsigned long)(*p - '0');
                }
                if (v < 1 || v > 65535)
                        return "the port must be a number from 1 to 65535";
        }
        return NULL;
}

static bool env_name_ok(const char *s, size_t n)
{
        if (n == 0 || n > 128 || isdigit((unsigned char)s[0]))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char)s[i]) && s[i] != '_')
                        return false;
        return true;
}

static void strlist_push(struct iso_strlist *l, const char *s, size_t n)
{
        l->v = xrealloc(l->v, (l->n + 2) * sizeof(char *));
        l->v[l->n] = xmalloc(n + 1);
        memcpy(l->v[l->n], s, n);
        l->v[l->n][n] = '\0';
        l->v[++l->n] = NULL;
}

static void strlist_free(struct iso_strlist *l)
{
        for (size_t i = 0; i < l->n; i++)
                free(l->v[i]);
        free(l->v);
        *l = (struct iso_strlist){0};
}

void iso_secret_bind_free(struct iso_secret_bind *b)
{
        free(b->env);
        free(b->secret);
        strlist_free(&b->hosts);
        strlist_free(&b->headers);
        memset(b, 0, sizeof(*b));
}

const char *iso_secret_bind_parse(const char *spec, struct iso_secret_bind *out)
{
        static const char form[] = "not ENV=NAME@HOST[,HOST...][/HEADER[,HEADER...]][/body]";
        const char *eq = strchr(spec, '='), *at = eq ? strchr(eq, '@') : NULL;
        if (!eq || !at)
                return form;
        if (!env_name_ok(spec, (size_t)(eq - spec)))
                return "the variable's name must be letters, digits and '_' (not first a digit)";
        size_t nn = (size_t)(at - eq - 1);
        if (nn == 0 || nn > 64)
                return "the secret's name must be 1 to 64 letters, digits, '_', '-' or '.'";
        for (const char *c = eq + 1; c < at; c++)
                if (!isalnum((unsigned char)*c) && *c != '_' && *c != '-' && *c != '.')
                        return "the secret's name must be 1 to 64 letters, digits, '_', '-' or '.'";
        struct iso_secret_bind b = {0};
        const char *hs = at + 1, *slash = strchr(hs, '/');
        const char *he = slash ? slash : hs + strlen(hs);
        const char *why = NULL;
        for (const char *p = hs; p <= he && !why;) {
                const char *c = memchr(p, ',', (size_t)(he - p));
                const char *e = c ? c : he;
                char host[300];
                if (e == p || (size_t)(e - p) >= sizeof(host)) {
                        why = "a host is empty or too long";
                        break;
                }
                memcpy(host, p, (size_t)(e - p));
                host[e - p] = '\0';
                if ((why = host_problem(host)))
                        break;
                strlist_push(&b.hosts, host, strlen(host));
                p = e + 1;
        }
        while (!why && slash) {
                const char *seg = slash + 1;
                slash = strchr(seg, '/');
                const char *se = slash ? slash : seg + strlen(seg);
                if ((size_t)(se - seg) == 4 && !strncmp(seg, "body", 4)) {
                        if (b.body)
                                why = "/body is given twice";
                        b.body = true;
                        continue;
                }
                if (b.headers.n) {
                        why = "name the headers in one list (/A,B), then /body";
                        break;
                }
                for (const char *p = seg; p <= se && !why;) {
                        const char *c = memchr(p, ',', (size_t)(se - p));
                        const char *e = c ? c : se;
                        if (e == p || e - p > 128)
                                why = "a header name is empty or too long";
                        for (const char *x = p; x < e && !why; x++)
                                if (!text_token_char(*x))
                                        why = "not a header name";
                        if (!why)
                                strlist_push(&b.headers, p, (size_t)(e - p));
                        p = e + 1;
                }
        }
        if (why) {
                iso_secret_bind_free(&b);
                return why;
        }
        b.env = xasprintf("%.*s", (int)(eq - spec), spec);
        b.secret = xasprintf("%.*s", (int)nn, eq + 1);
        *out = b;
        return NULL;
}

static const char *name_problem(const char *name, bool is_server)
{
        size_t n = strlen(name);
        if (n == 0)
                return "the name is empty";
        if (n > 128)
                return "the name is longer than 128 bytes";
        for (const char *p = name; *p; p++) {
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        return "the name contains a control character";
                if (is_server && *p == '/')
                        return "a server name cannot contain '/'";
        }
        return NULL;
}

static void check_object(struct vctx *c, const char *path, json_t *obj,
                         const struct iso_field *table);

static void check_map(struct vctx *c, const char *path, json_t *v, const struct iso_field *entry,
                      bool servers)
{
        if (!want_type(c, path, v, JSON_OBJECT, "an object"))
                return;
        const char *key;
        json_t *val;
        json_object_foreach(v, key, val)
        {
                char *p = path_join(path, key);
                const char *why = name_problem(key, servers);
                if (why)
                        verr(c, p, "not a valid %s name: %s", servers ? "server" : "tool", why);
                else if (want_type(c, p, val, JSON_OBJECT, "an object"))
                        check_object(c, p, val, entry);
                free(p);
        }
}

static void check_value(struct vctx *c, const char *path, json_t *v, const struct iso_field *f)
{
        static const char *const modes[] = {"unikernel", "microvm", "direct", NULL};
        static const char *const fallbacks[] = {"direct", "deny", NULL};
        static const char *const platforms[] = {"auto", "kvm", "process", NULL};
        switch (f->type) {
        case FT_MODE:
                check_enum(c, path, v, modes);
                break;
        case FT_FALLBACK:
                check_enum(c, path, v, fallbacks);
                break;
        case FT_PLATFORM:
                check_enum(c, path, v, platforms);
                break;
        case FT_STR_NULL:
        case FT_IMAGE:
                if (json_is_null(v))
                        break;
                if (!json_is_string(v)) {
                        verr(c, path, "expected a string or null, got %s", type_name(v));
                } else if (json_string_length(v) == 0) {
                        verr(c, path, "must not be empty (use null for none)");
                } else if (f->type == FT_IMAGE && json_string_value(v)[0] == '~' &&
                           json_string_value(v)[1] != '/') {
                        verr(c, path, "\"%s\": only ~/ is understood", json_string_value(v));
                }
                break;
        case FT_DIR:
                if (!want_type(c, path, v, JSON_STRING, "a string"))
                        break;
                {
                        const char *s = json_string_value(v);
                        if (s[0] != '/' && !(s[0] == '~' && (s[1] == '/' || s[1] == '\0')))
                                verr(c, path, "\"%s\" must be an absolute path (or start with ~/)",
                                     s);
                }
                break;
        case FT_VMPATH:
                if (!want_type(c, path, v, JSON_STRING, "a string"))
                        break;
                if (json_string_value(v)[0] != '/' || has_dot_parts(json_string_value(v)))
                        verr(c, path, "\"%s\" must be an absolute path without . or .. parts",
                             json_string_value(v));
                break;
        case FT_URL:
                if (!want_type(c, path, v, JSON_STRING, "a string"))
                        break;
                if (strncmp(json_string_value(v), "http://", 7) &&
                    strncmp(json_string_value(v), "https://", 8)) {
                        /* never the value itself: a URL may hold a credential */
                        const char *u = json_string_value(v);
                        size_t n = strspn(u, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                             "0123456789+-.");
                        if (n && n <= 16 && u[n] == ':')
                                verr(c, path, "a %.*s: URL is not an http:// or https:// one",
                                     (int)n, u);
                        else
                                verr(c, path, "not an http:// or https:// URL");
                }
                break;
        case FT_BOOL:
                if (!json_is_boolean(v))
                        verr(c, path, "expected true or false, got %s", type_name(v));
                break;
        case FT_UINT:
                if (!json_is_integer(v)) {
                        verr(c, path, "expected an integer from %u to %u, got %s", f->min, f->max,
                             type_name(v));
                } else if (json_integer_value(v) < (json_int_t)f->min ||
                           json_integer_value(v) > (json_int_t)f->max) {
                        verr(c, path, "%lld is out of range; allowed: %u to %u",
                             (long long)json_integer_value(v), f->min, f->max);
                }
                break;
        case FT_MOUNTS:
                if (!want_type(c, path, v, JSON_ARRAY, "an array of mounts"))
                        break;
                for (size_t i = 0; i < json_array_size(v); i++) {
                        char *p = xasprintf("%s[%zu]", path, i);
                        json_t *m = json_array_get(v, i);
                        if (want_type(c, p, m, JSON_OBJECT, "a mount object"))
                                check_object(c, p, m, f->sub);
                        free(p);
                }
                break;
        case FT_HOSTS:
                if (!want_type(c, path, v, JSON_ARRAY, "an array of \"host[:port]\" strings"))
                        break;
                for (size_t i = 0; i < json_array_size(v); i++) {
                        char *p = xasprintf("%s[%zu]", path, i);
                        json_t *h = json_array_get(v, i);
                        const char *why;
                        if (want_type(c, p, h, JSON_STRING, "a \"host[:port]\" string") &&
                            (why = host_problem(json_string_value(h))))
                                verr(c, p, "\"%s\": %s", json_string_value(h), why);
                        free(p);
                }
                break;
        case FT_SECRETS:
                if (!want_type(c, path, v, JSON_ARRAY, "an array of \"ENV=NAME@HOST\" strings"))
                        break;
                for (size_t i = 0; i < json_array_size(v); i++) {
                        char *p = xasprintf("%s[%zu]", path, i);
                        json_t *h = json_array_get(v, i);
                        struct iso_secret_bind b;
                        const char *why;
                        if (want_type(c, p, h, JSON_STRING, "an \"ENV=NAME@HOST\" string")) {
                                if ((why = iso_secret_bind_parse(json_string_value(h), &b)))
                                        verr(c, p, "%s", why);
                                else
                                        iso_secret_bind_free(&b);
                        }
                        free(p);
                }
                break;
        case FT_OBJECT:
                if (want_type(c, path, v, JSON_OBJECT, "an object"))
                        check_object(c, path, v, f->sub);
                break;
        case FT_SERVERS:
        case FT_TOOLS:
                check_map(c, path, v, f->sub, f->type == FT_SERVERS);
                break;
        }
}

static void check_object(struct vctx *c, const char *path, json_t *obj,
                         const struct iso_field *table)
{
        const char *key;
        json_t *val;
        json_object_foreach(obj, key, val)
        {
                char *p = path_join(path, key);
                const struct iso_field *f = iso_field_find(table, key);
                if (f)
                        check_value(c, p, val, f);
                else
                        iso_diag_add(c->d, ISO_WARNING, c->file, "%s: unknown field (ignored)", p);
                free(p);
        }
        for (const struct iso_field *f = table; f->name; f++) {
                if (f->required && !json_object_get(obj, f->name)) {
                        char *p = path_join(path, f->name);
                        verr(c, p, "missing (required)");
                        free(p);
                }
        }
}

size_t iso_validate(json_t *root, const char *file, struct iso_diags *d)
{
        struct vctx c = {file, d};
        size_t before = d->nerrors;
        if (!json_is_object(root))
                iso_diag_add(d, ISO_ERROR, file, "the top level must be a JSON object, not %s",
                             type_name(root));
        else
                check_object(&c, "", root, iso_root_fields);
        return d->nerrors - before;
}
