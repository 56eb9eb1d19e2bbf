/*
 * The command that starts a stdio server: whether it is there, and how to
 * install the interpreters that MCP servers are commonly started with when
 * it is not.
 */
#include "mcp/mcp.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Commands and what installs them on Debian; pkg NULL: Debian has none. */
static const struct {
        const char *cmd, *pkg, *other;
} installers[] = {
    {"node", "nodejs", NULL},
    {"nodejs", "nodejs", NULL},
    {"npx", "npm", NULL},
    {"npm", "npm", NULL},
    {"python3", "python3", NULL},
    {"python", "python-is-python3", NULL},
    {"pip", "python3-pip", NULL},
    {"pip3", "python3-pip", NULL},
    {"pipx", "pipx", NULL},
    {"uvx", NULL, "'pipx install uv' (pipx is the Debian package pipx)"},
    {"uv", NULL, "'pipx install uv' (pipx is the Debian package pipx)"},
    {"docker", "docker.io", NULL},
    {"podman", "podman", NULL},
    {"go", "golang-go", NULL},
    {"java", "default-jre-headless", NULL},
    {"ruby", "ruby", NULL},
    {"deno", NULL, "the way its project describes"},
    {"bun", NULL, "the way its project describes"},
};

static bool executable_file(const char *path)
{
        struct stat st;
        return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

char *mcp_command_find(const char *cmd)
{
        if (!cmd || !*cmd)
                return NULL;
        if (strchr(cmd, '/'))
                return executable_file(cmd) ? xstrdup(cmd) : NULL;
        const char *path = getenv("PATH");
        if (!path || !*path)
                path = "/usr/local/bin:/usr/bin:/bin";
        for (const char *p = path;; p++) {
                const char *end = strchr(p, ':');
                size_t n = end ? (size_t)(end - p) : strlen(p);
                /* an empty entry is the current directory, as execvp has it */
                char *cand = n ? xasprintf("%.*s/%s", (int)n, p, cmd) : xasprintf("./%s", cmd);
                if (executable_file(cand))
                        return cand;
                free(cand);
                if (!end)
                        return NULL;
                p = end;
        }
}

bool mcp_command_install_hint(const char *cmd, char *buf, size_t n)
{
        const char *base = cmd ? strrchr(cmd, '/') : NULL;
        base = base ? base + 1 : cmd;
        for (size_t i = 0; base && i < sizeof(installers) / sizeof(installers[0]); i++) {
                if (strcmp(base, installers[i].cmd) != 0)
                        continue;
                if (installers[i].pkg)
                        snprintf(buf, n, "%s is not installed: on Debian, 'apt-get install %s'",
                                 base, installers[i].pkg);
                else
                        snprintf(buf, n,
                                 "%s is not installed, and Debian has no package of it: "
                                 "install it with %s",
                                 base, installers[i].other);
                return true;
        }
        return false;
}

bool mcp_command_missing_in(const char *text, char *buf, size_t n)
{
        if (!text)
                return false;
        for (size_t i = 0; i < sizeof(installers) / sizeof(installers[0]); i++) {
                const char *c = installers[i].cmd;
                /* what sh ("sh: 1: node: not found"), bash ("node: command
                 * not found") and env ("env: 'node': No such file or
                 * directory", quoted with ‘’ in some locales) say */
                char pat[4][64];
                snprintf(pat[0], sizeof(pat[0]), " %s: not found", c);
                snprintf(pat[1], sizeof(pat[1]), " %s: command not found", c);
                snprintf(pat[2], sizeof(pat[2]), "'%s': No such file", c);
                snprintf(pat[3], sizeof(pat[3]), "\xe2\x80\x98%s\xe2\x80\x99: No such file", c);
                for (size_t k = 0; k < 4; k++)
                        if (strstr(text, pat[k]))
                                return mcp_command_install_hint(c, buf, n);
        }
        return false;
}
