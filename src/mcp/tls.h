/*
 * The proxy's TLS: a CA made for this run of osvm (the session), the leaf
 * certificates it signs for the hosts a secret is bound to, and the client
 * side that verifies the real hosts. Private to src/mcp/ (proxy.c, confine.c).
 */
#ifndef OSVM_MCP_TLS_H
#define OSVM_MCP_TLS_H

#include "mcp/mcp.h"

#include <openssl/ssl.h>

/* OSVM_PROXY_UPSTREAM_CA=FILE: the proxy also trusts FILE's CAs for the real
 * hosts (a test's own CA, a company's); the system's store always. */
#define MCP_UPSTREAM_CA_ENV "OSVM_PROXY_UPSTREAM_CA"

/*
 * Makes the session's CA when there is none yet (its key in memory only)
 * and writes its certificate where a sandbox can have it: a folder of the
 * state directory (removed when osvm exits) holding ca.pem (the session CA
 * alone) and bundle.pem (the system's CAs and it). Returns that folder, or
 * NULL with e.
 */
const char *mcp_tls_session_dir(osvm_err *e);
/* A server context presenting a certificate for host (made on first use, kept). */
SSL_CTX *mcp_tls_server_ctx(const char *host, osvm_err *e);
/* The client context for the real hosts (verification on). */
SSL_CTX *mcp_tls_client_ctx(osvm_err *e);
/* Sets host name verification (and SNI for a name) on a client connection,
 * and the last session with host:port to resume, when there is one. */
bool mcp_tls_expect_host(SSL *ssl, const char *host, unsigned port);
/* OpenSSL's last error in words (in buf). */
const char *mcp_tls_error(char *buf, size_t n);

#endif
