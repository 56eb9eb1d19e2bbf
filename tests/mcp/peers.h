/* Where the npm test peers (real MCP servers) are, for the MCP tests. */
#ifndef OSVM_TESTS_MCP_PEERS_H
#define OSVM_TESTS_MCP_PEERS_H

#include "testutil.h"

#include <string.h>
#include <sys/stat.h>

/* The folder holding node_modules: $OSVM_PEERS, else where tests/peers/install.sh puts it. */
static inline const char *peers_dir(void)
{
        const char *d = getenv("OSVM_PEERS");
        return d && *d ? d : "tests/peers/node_modules_root";
}

/* The entry script of an npm package's server, or NULL when not installed. */
static inline char *peer_script(const char *package, const char *rel)
{
        static char path[512];
        snprintf(path, sizeof(path), "%s/node_modules/%s/%s", peers_dir(), package, rel);
        struct stat st;
        return stat(path, &st) == 0 ? path : NULL;
}

static inline const char *everything_js(void)
{
        return peer_script("@modelcontextprotocol/server-everything", "dist/index.js");
}

static inline const char *filesystem_js(void)
{
        return peer_script("@modelcontextprotocol/server-filesystem", "dist/index.js");
}

/* Skips the calling test, saying why, when node or a peer is missing. */
#define REQUIRE_PEER(script)                                                                       \
        do {                                                                                       \
                if (!(script) || system("node --version >/dev/null 2>&1") != 0) {                  \
                        print_message("SKIP: node or the npm test peers are missing "              \
                                      "(run tests/peers/install.sh)\n");                           \
                        skip();                                                                    \
                }                                                                                  \
        } while (0)

#endif
