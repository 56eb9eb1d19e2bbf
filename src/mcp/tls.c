/*
 * The proxy's TLS (tls.h): the session CA and its leaf certificates, made
 * with OpenSSL; the real hosts verified against the system's store (and
 * OSVM_PROXY_UPSTREAM_CA's file, when set).
 *
 * The CA lives as long as this osvm: its key is never written anywhere; its
 * certificate is valid for 90 days (a gateway may run long), and only a sandbox of this osvm is
 * told to trust it. Leaf keys are one P-256 key of the session; leaf certificates are made once a
 * host and kept.
 */
#include "mcp/tls.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define TLS_VALID_SECS  (90 * 86400L)
#define TLS_HOSTS_MAX   256
#define SYSTEM_CA_FILES "/etc/ssl/certs/ca-certificates.crt"

static pthread_mutex_t tls_mu = PTHREAD_MUTEX_INITIALIZER;
static EVP_PKEY *ca_key, *leaf_key;
static X509 *ca_cert;
static char *session_dir;
static SSL_CTX *client_ctx;
static struct {
        char *host;
        SSL_CTX *ctx;
} hosts[TLS_HOSTS_MAX];
static size_t nhosts;
/* The last TLS session with each real host (host:port), to resume it. */
static struct {
        char key[300];
        SSL_SESSION *sess;
} resume[TLS_HOSTS_MAX];
static size_t nresume;

const char *mcp_tls_error(char *buf, size_t n)
{
        unsigned long code = ERR_peek_last_error();
        if (!code)
                snprintf(buf, n, "%s", "the connection ended");
        else
                ERR_error_string_n(code, buf, n);
        ERR_clear_error();
        return buf;
}

static int tls_fail(osvm_err *e, const char *what)
{
        char b[256];
        return err_set(e, EIO, "%s: %s", what, mcp_tls_error(b, sizeof(b)));
}

static bool add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
        X509V3_CTX ctx;
        X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
        X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
        if (!ext)
                return false;
        bool ok = X509_add_ext(cert, ext, -1) == 1;
        X509_EXTENSION_free(ext);
        return ok;
}

/* A certificate of subject cn for key, signed by (issuer, ikey), or self-signed. */
static X509 *make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey, const char *san)
{
        X509 *c = X509_new();
        unsigned char serial[16];
        BIGNUM *bn = NULL;
        bool ok = c && RAND_bytes(serial, sizeof(serial)) == 1;
        serial[0] &= 0x7f;
        ok = ok && (bn = BN_bin2bn(serial, sizeof(serial), NULL)) &&
             BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c)) && X509_set_version(c, 2) == 1 &&
             X509_gmtime_adj(X509_getm_notBefore(c), -3600) &&
             X509_gmtime_adj(X509_getm_notAfter(c), TLS_VALID_SECS) && X509_set_pubkey(c, key) == 1;
        BN_free(bn);
        X509_NAME *name = ok ? X509_get_subject_name(c) : NULL;
        ok = ok && X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                              (const unsigned char *)"osvm", -1, -1, 0) == 1;
        ok = ok && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn,
                                              -1, -1, 0) == 1;
        ok = ok && X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : name) == 1;
        X509 *signer = issuer ? issuer : c;
        if (ok && !issuer) {
                ok = add_ext(c, signer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") &&
                     add_ext(c, signer, NID_key_usage, "critical,keyCertSign,cRLSign") &&
                     add_ext(c, signer, NID_subject_key_identifier, "hash");
        } else if (ok) {
                ok = add_ext(c, signer, NID_basic_constraints, "critical,CA:FALSE") &&
                     add_ext(c, signer, NID_key_usage, "critical,digitalSignature") &&
                     add_ext(c, signer, NID_ext_key_usage, "serverAuth") &&
                     add_ext(c, signer, NID_subject_alt_name, san) &&
                     add_ext(c, signer, NID_authority_key_identifier, "keyid:always");
        }
        ok = ok && X509_sign(c, issuer ? ikey : key, EVP_sha256()) > 0;
        if (!ok) {
                X509_free(c);
                return NULL;
        }
        return c;
}

static bool write_pem(const char *path, X509 *cert, const char *prefix_file)
{
        FILE *f = fopen(path, "we");
        if (!f)
                return false;
        bool ok = true;
        if (prefix_file) {
                FILE *in = fopen(prefix_file, "re");
                if (in) {
                        char buf[8192];
                        size_t n;
                        while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
                                ok = ok && fwrite(buf, 1, n, f) == n;
                        fclose(in);
                        fputc('\n', f);
                }
        }
        ok = ok && PEM_write_X509(f, cert) == 1;
        return fclose(f) == 0 && ok;
}

/* The session CA folders of osvm processes that ended without removing theirs. */
static void remove_stale(const char *parent)
{
        DIR *d = opendir(parent);
        if (!d)
                return;
        struct dirent *ent;
        while ((ent = readdir(d))) {
                int pid = 0;
                char rest;
                if (sscanf(ent->d_name, "session-ca-%d%c", &pid, &rest) != 1 || pid <= 0 ||
                    pid == (int)getpid() || kill(pid, 0) == 0 || errno != ESRCH)
                        continue;
                _cleanup_free_ char *path = xasprintf("%s/%s", parent, ent->d_name);
                fs_remove_tree(path);
        }
        closedir(d);
}

static void remove_session_dir(void)
{
        if (session_dir)
                fs_remove_tree(session_dir);
}

const char *mcp_tls_session_dir(osvm_err *e)
{
        _cleanup_free_ char *state = NULL, *parent = NULL, *dir = NULL, *ca = NULL, *bundle = NULL;
        pthread_mutex_lock(&tls_mu);
        const char *out = NULL;
        if (session_dir) {
                out = session_dir;
                goto done;
        }
        if (!ca_key) {
                ca_key = EVP_EC_gen("P-256");
                leaf_key = EVP_EC_gen("P-256");
                char cn[64];
                snprintf(cn, sizeof(cn), "osvm session CA (pid %d)", (int)getpid());
                ca_cert = ca_key && leaf_key ? make_cert(cn, ca_key, NULL, NULL, NULL) : NULL;
                if (!ca_cert) {
                        tls_fail(e, "making the session's CA");
                        EVP_PKEY_free(ca_key);
                        EVP_PKEY_free(leaf_key);
                        ca_key = leaf_key = NULL;
                        goto done;
                }
        }
        state = paths_state_dir();
        parent = xasprintf("%s/sandbox", state);
        remove_stale(parent);
        dir = xasprintf("%s/session-ca-%d", parent, (int)getpid());
        if (fs_mkdir_p(dir, 0755, e) < 0)
                goto done;
        ca = xasprintf("%s/ca.pem", dir);
        bundle = xasprintf("%s/bundle.pem", dir);
        if (!write_pem(ca, ca_cert, NULL) || !write_pem(bundle, ca_cert, SYSTEM_CA_FILES)) {
                err_sys(e, "writing the session CA's certificate in %s", dir);
                goto done;
        }
        session_dir = base_steal(&dir);
        atexit(remove_session_dir);
        out = session_dir;
done:
        pthread_mutex_unlock(&tls_mu);
        return out;
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
        (void)ssl;
        (void)arg;
        for (unsigned i = 0; i < inlen;) {
                unsigned l = in[i];
                if (i + 1 + l > inlen)
                        break;
                if (l == 8 && !memcmp(in + i + 1, "http/1.1", 8)) {
                        *out = in + i + 1;
                        *outlen = 8;
                        return SSL_TLSEXT_ERR_OK;
                }
                i += 1 + l;
        }
        return SSL_TLSEXT_ERR_NOACK; /* HTTP/1.1 all the same: the proxy reads nothing else */
}

static bool is_ip(const char *host)
{
        unsigned char b[16];
        return inet_pton(AF_INET, host, b) == 1 || inet_pton(AF_INET6, host, b) == 1;
}

SSL_CTX *mcp_tls_server_ctx(const char *host, osvm_err *e)
{
        if (!mcp_tls_session_dir(e))
                return NULL;
        pthread_mutex_lock(&tls_mu);
        SSL_CTX *ctx = NULL;
        for (size_t i = 0; i < nhosts; i++)
                if (!strcmp(hosts[i].host, host)) {
                        ctx = hosts[i].ctx;
                        goto done;
                }
        if (nhosts == TLS_HOSTS_MAX) {
                err_set(e, ENOSPC, "more than %d hosts bound to secrets", TLS_HOSTS_MAX);
                goto done;
        }
        char *san = xasprintf("%s:%s", is_ip(host) ? "IP" : "DNS", host);
        X509 *cert = make_cert(host, leaf_key, ca_cert, ca_key, san);
        free(san);
        ctx = cert ? SSL_CTX_new(TLS_server_method()) : NULL;
        if (!ctx || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
            SSL_CTX_use_certificate(ctx, cert) != 1 || SSL_CTX_use_PrivateKey(ctx, leaf_key) != 1) {
                tls_fail(e, "making a certificate for a bound host");
                SSL_CTX_free(ctx);
                X509_free(cert);
                ctx = NULL;
                goto done;
        }
        X509_free(cert);
        SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
        SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        hosts[nhosts].host = xstrdup(host);
        hosts[nhosts++].ctx = ctx;
done:
        pthread_mutex_unlock(&tls_mu);
        return ctx;
}

/* A session the host gave (TLS 1.3: after the handshake, as its answer is read). */
static int new_session(SSL *ssl, SSL_SESSION *sess)
{
        size_t i = (size_t)(uintptr_t)SSL_get_app_data(ssl);
        if (!i--)
                return 0;
        pthread_mutex_lock(&tls_mu);
        SSL_SESSION_free(resume[i].sess);
        resume[i].sess = sess;
        pthread_mutex_unlock(&tls_mu);
        return 1; /* kept */
}

SSL_CTX *mcp_tls_client_ctx(osvm_err *e)
{
        pthread_mutex_lock(&tls_mu);
        if (!client_ctx) {
                SSL_CTX *c = SSL_CTX_new(TLS_client_method());
                const char *extra = getenv(MCP_UPSTREAM_CA_ENV);
                static const unsigned char alpn[] = "\x08http/1.1";
                if (!c || SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) != 1 ||
                    SSL_CTX_set_default_verify_paths(c) != 1 ||
                    (extra && *extra && SSL_CTX_load_verify_locations(c, extra, NULL) != 1) ||
                    SSL_CTX_set_alpn_protos(c, alpn, sizeof(alpn) - 1) != 0) {
                        tls_fail(e, extra && *extra ? "loading " MCP_UPSTREAM_CA_ENV "'s CA file"
                                                    : "the proxy's TLS client");
                        SSL_CTX_free(c);
                } else {
                        SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
                        SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT |
                                                              SSL_SESS_CACHE_NO_INTERNAL_STORE);
                        SSL_CTX_sess_set_new_cb(c, new_session);
                        SSL_CTX_set_mode(c, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
                        client_ctx = c;
                }
        }
        SSL_CTX *c = client_ctx;
        pthread_mutex_unlock(&tls_mu);
        return c;
}

bool mcp_tls_expect_host(SSL *ssl, const char *host, unsigned port)
{
        char key[300];
        snprintf(key, sizeof(key), "%s:%u", host, port);
        pthread_mutex_lock(&tls_mu);
        size_t i = 0;
        while (i < nresume && strcmp(resume[i].key, key))
                i++;
        if (i == nresume && nresume < TLS_HOSTS_MAX)
                snprintf(resume[nresume++].key, sizeof(resume[0].key), "%s", key);
        if (i < nresume) {
                SSL_set_app_data(ssl, (void *)(uintptr_t)(i + 1));
                if (resume[i].sess && SSL_SESSION_is_resumable(resume[i].sess))
                        SSL_set_session(ssl, resume[i].sess);
        }
        pthread_mutex_unlock(&tls_mu);
        if (is_ip(host))
                return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1;
        return SSL_set_tlsext_host_name(ssl, host) == 1 && SSL_set1_host(ssl, host) == 1;
}
