/*
 * The isolation config's schema as data: one table of fields per level.
 * The validator walks a document against it, and `isolation set` uses it to
 * know how to read a value. Private to src/isolation/.
 */
#ifndef OSVM_ISOLATION_SCHEMA_H
#define OSVM_ISOLATION_SCHEMA_H

#include "isolation/isolation.h"

enum iso_ftype {
        FT_MODE,     /* "unikernel" | "microvm" | "direct" */
        FT_FALLBACK, /* "direct" | "deny" */
        FT_PLATFORM, /* "auto" | "kvm" | "process" */
        FT_STR_NULL, /* a non-empty string, or null */
        FT_IMAGE,    /* a non-empty path (relative to unikernel_dir), or null */
        FT_DIR,      /* an absolute path or one starting with ~/ */
        FT_VMPATH,   /* an absolute path without . or .. parts */
        FT_URL,      /* an http:// or https:// URL */
        FT_BOOL,
        FT_UINT,    /* an integer in [min, max] */
        FT_MOUNTS,  /* an array of mount objects */
        FT_HOSTS,   /* an array of "host[:port]" strings */
        FT_OBJECT,  /* an object of the sub-table's fields */
        FT_SERVERS, /* an object: server name -> server object */
        FT_TOOLS,   /* an object: tool name -> tool object */
        FT_SECRETS, /* an array of secret bindings ("ENV=NAME@HOSTS[/HEADERS][/body]") */
};

struct iso_field {
        const char *name;
        enum iso_ftype type;
        uint32_t min, max;
        const struct iso_field *sub; /* FT_OBJECT's fields; NULL-named entry ends a table */
        bool required;
};

extern const struct iso_field iso_root_fields[];
extern const struct iso_field iso_server_fields[];
extern const struct iso_field iso_tool_fields[];

/* Finds a field by name in a table; NULL when unknown. */
const struct iso_field *iso_field_find(const struct iso_field *table, const char *name);

/* Validates a parsed document; appends to d. Returns the number of errors. */
size_t iso_validate(json_t *root, const char *file, struct iso_diags *d);

/* Appends a diagnostic "FILE: SEV: TEXT". */
void iso_diag_add(struct iso_diags *d, enum iso_sev sev, const char *file, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Appends an error "FILE:LINE:COL: error: TEXT". */
void iso_diag_at(struct iso_diags *d, const char *file, size_t line, size_t col, const char *fmt,
                 ...) __attribute__((format(printf, 5, 6)));

/* Parses text into a document, with diagnostics naming line and column. */
json_t *iso_json_parse(const char *text, size_t len, const char *file, struct iso_diags *d);

#endif
