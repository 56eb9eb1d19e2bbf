/*
 * `osvm doctor`: checks what osvm needs, each with a verdict (ok, warn,
 * fail) and what to do about it: KVM, osvm's images, where tool calls and
 * the agent will run, the programs servers start with, the registered
 * servers, the LLM endpoint, the config files and the state directory.
 * It starts no server and writes nothing; its one use of the network is a
 * HEAD request to the LLM endpoint, without the key, with a short timeout.
 */
#include "cli/cli.h"
#include "vmm/vmm.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LLM_CONNECT_MS 3000
#define LLM_TOTAL_MS   5000

enum verdict { DOC_OK, DOC_WARN, DOC_FAIL };
static const char *const verdict_names[] = {"ok", "warn", "fail"};

struct check {
        const char *name;
        enum verdict verdict;
        char *detail; /* sanitized */
        char *fix;    /* sanitized; NULL: nothing to do */
};

struct report {
        size_t n;
        struct check *v;
};

static void __attribute__((format(printf, 5, 6)))
add(struct report *r, const char *name, enum verdict v, const char *fix, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        char *raw = xvasprintf(fmt, ap);
        va_end(ap);
        r->v = xrealloc(r->v, (r->n + 1) * sizeof(*r->v));
        r->v[r->n++] = (struct check){
            .name = name,
            .verdict = v,
            .detail = text_sanitize(raw, 0),
            .fix = fix ? text_sanitize(fix, 0) : NULL,
        };
        free(raw);
}

static void report_free(struct report *r)
{
        for (size_t i = 0; i < r->n; i++) {
                free(r->v[i].detail);
                free(r->v[i].fix);
        }
        free(r->v);
}

/* ---- helpers ---- */

/* Where PATH finds prog (a new string), or NULL. */
static char *which(const char *prog)
{
        if (strchr(prog, '/'))
                return access(prog, X_OK) == 0 ? xstrdup(prog) : NULL;
        const char *path = getenv("PATH");
        if (!path || !*path)
                path = "/usr/local/bin:/usr/bin:/bin";
        for (const char *p = path;;) {
                size_t len = strcspn(p, ":");
                char *cand =
                    len ? xasprintf("%.*s/%s", (int)len, p, prog) : xasprintf("./%s", prog);
                struct stat st;
                if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
                        return cand;
                free(cand);
                if (!p[len])
                        return NULL;
                p += len + 1;
        }
}

static const char *base_name(const char *path)
{
        const char *s = strrchr(path, '/');
        return s ? s + 1 : path;
}

/* The nearest directory at or above path that exists, for "can it be made?". */
static char *existing_ancestor(const char *path)
{
        char *p = xstrdup(path);
        struct stat st;
        while (stat(p, &st) != 0) {
                char *up = fs_dirname(p);
                bool same = !strcmp(up, p);
                free(p);
                p = up;
                if (same)
                        break;
        }
        return p;
}

/* ---- KVM and the platform ---- */

static void check_kvm(struct report *r, const struct iso_host *h)
{
        if (h->kvm_usable) {
                add(r, "kvm", DOC_OK, NULL, "%s", h->kvm_problem);
                return;
        }
        const char *off = getenv(VMM_NO_KVM_ENV);
        const char *what, *fix;
        if (off && !strcmp(off, "1")) {
                what = "KVM is turned off (" VMM_NO_KVM_ENV "=1)";
                fix = "unset " VMM_NO_KVM_ENV " to use /dev/kvm";
        } else if (access("/dev/kvm", F_OK) != 0) {
                what = "there is no /dev/kvm";
                fix = "enable virtualization (VT-x or AMD-V) in the firmware, or nested "
                      "virtualization in the hypervisor, and load the module (modprobe kvm_intel, "
                      "or kvm_amd)";
        } else if (access("/dev/kvm", R_OK | W_OK) != 0) {
                what = "/dev/kvm is there but this user cannot open it";
                fix = "add your user to the group that owns /dev/kvm (often kvm: usermod -aG kvm "
                      "USER), then log in again";
        } else {
                what = h->kvm_problem;
                fix = "use a kernel whose KVM osvm supports (docs/vmm.md)";
        }
        if (h->process_usable) /* a process, never called a VM */
                add(r, "kvm", DOC_WARN, fix,
                    "%s: tool calls and the agent run on the process platform instead, not in "
                    "VMs: %s",
                    what, h->process_what);
        else
                add(r, "kvm", DOC_WARN, fix,
                    "%s: tool calls and the agent run without VMs (nor can the process platform "
                    "run them: %s)",
                    what, h->process_probed ? h->process_what : "not probed");
}

/* Where the configured tools' calls run on this host (reg: the registry,
 * which tells which servers are reached by URL). */
static void check_tools(struct report *r, const struct iso_config *cfg, const struct iso_host *h,
                        const struct mcp_registry *reg)
{
        size_t n = 0, vm = 0, proc = 0, direct = 0, fell = 0, refused = 0;
        bool isolates = h->kvm_usable || h->process_usable; /* else that is the reason */
        char *why = NULL; /* the first reason a call cannot run as configured */
        for (size_t i = 0; i < cfg->nservers; i++) {
                const struct iso_server *s = &cfg->servers[i];
                for (size_t k = 0; k < s->ntools; k++) {
                        struct iso_decision d;
                        cli_decide(cfg, s->name, mcp_registry_find(reg, s->name), s->tools[k].name,
                                   h, &d);
                        n++;
                        if (d.route == ISO_ROUTE_UNIKERNEL && d.platform == ISO_PLATFORM_PROCESS)
                                proc++;
                        else if (d.route == ISO_ROUTE_UNIKERNEL || d.route == ISO_ROUTE_MICROVM)
                                vm++;
                        else if (d.route == ISO_ROUTE_DIRECT)
                                direct++;
                        else
                                refused++;
                        if (d.fell_back)
                                fell++;
                        /* without KVM or the process platform, that is the
                         * reason (said under kvm) */
                        for (size_t j = 0;
                             !why && isolates && (d.fell_back || d.route == ISO_ROUTE_DENY) &&
                             j < d.nreasons;
                             j++)
                                if (d.reasons[j].level <= LOG_WARN)
                                        why = xasprintf("%s/%s: %s", s->name, s->tools[k].name,
                                                        d.reasons[j].text);
                        iso_decision_free(&d);
                }
        }
        if (n == 0)
                add(r, "tools", DOC_OK, NULL,
                    "no tool is in the isolation config: each call follows "
                    "default_execution_mode (%s)",
                    iso_mode_name(cfg->default_mode));
        else if (refused)
                add(r, "tools", DOC_FAIL,
                    isolates ? "'osvm isolation explain SERVER/TOOL' names what is missing; "
                               "or allow the fallback: osvm isolation set fallback=direct"
                             : "get KVM (see kvm), or let such calls run without a VM: osvm "
                               "isolation set fallback=direct",
                    "%zu of %zu configured tools would be refused (%s)", refused, n,
                    why ? why : "KVM is not usable and the policy allows no fallback");
        else if (fell)
                add(r, "tools", DOC_WARN,
                    isolates               ? "'osvm isolation explain SERVER/TOOL' names what "
                                             "is missing"
                    : h->builtin_images[0] ? "get KVM (see kvm)"
                                           : "get KVM (see kvm) and osvm's images (see images)",
                    "%zu of %zu configured tools run directly on their servers, not in a VM of "
                    "their own (%s)",
                    fell, n, why ? why : "KVM is not usable");
        else if (proc)
                add(r, "tools", DOC_OK, NULL,
                    "%zu configured tools: %zu run in a fresh KVM VM each, %zu in a fresh "
                    "trapped process each (the process platform, not a VM), %zu directly as "
                    "configured",
                    n, vm, proc, direct);
        else
                add(r, "tools", DOC_OK, NULL,
                    "%zu configured tools: %zu run in a fresh KVM VM each, %zu directly as "
                    "configured",
                    n, vm, direct);
        free(why);
}

/* osvm's own tool images: the osvm-mcp pack. */
static void check_images(struct report *r, const struct iso_host *h)
{
        if (!h->builtin_images[0]) {
                if (getenv("OSVM_BUILTIN_IMAGES"))
                        add(r, "images", DOC_OK, NULL,
                            "the built-in images are turned off (OSVM_BUILTIN_IMAGES is empty): "
                            "no osvm-mcp tools");
                else
                        add(r, "images", DOC_WARN,
                            "build them with 'make', or install osvm with 'make install'",
                            "osvm's images are neither in unikernels/ beside the osvm binary nor "
                            "in ../lib/osvm/unikernels/: the osvm-mcp tools are not available");
                return;
        }
        strbuf bad = {0};
        size_t n = 0, nbad = 0;
        for (size_t i = 0; iso_osvm_mcp_tools[i]; i++, n++) {
                char *img = iso_builtin_image(h, "osvm-mcp", iso_osvm_mcp_tools[i]);
                osvm_err e = {0};
                if (!img) {
                        sb_addf(&bad, "%s%s: missing or unreadable", nbad++ ? "; " : "",
                                iso_osvm_mcp_tools[i]);
                } else if (vmm_image_check(img, &e) < 0) {
                        sb_addf(&bad, "%s%s", nbad++ ? "; " : "", e.msg);
                }
                free(img);
        }
        json_t *defs = mcp_builtin_tools(h, "osvm-mcp");
        if (!defs)
                sb_addf(&bad, "%sosvm-mcp.tools.json: missing or not a tools list",
                        nbad++ ? "; " : "");
        json_decref(defs);
        if (nbad)
                add(r, "images", DOC_FAIL,
                    "rebuild them with 'make' (or reinstall with 'make install')",
                    "%zu problem%s with the osvm-mcp images in %s: %s", nbad, nbad == 1 ? "" : "s",
                    h->builtin_images, bad.s);
        else
                add(r, "images", DOC_OK, NULL,
                    "the %zu osvm-mcp tool images in %s are static x86-64 programs", n,
                    h->builtin_images);
        sb_free(&bad);
}

/* μVM-1's image; returns true when the agent can run from it. */
static bool check_agent_image(struct report *r, const struct cli_paths *p)
{
        if (!p->agent_image) {
                add(r, "agent image", DOC_WARN,
                    "run 'make' in the source tree, or 'make install'; OSVM_AGENT_IMAGE names "
                    "another image",
                    "%s", p->agent_image_why);
                return false;
        }
        osvm_err e = {0};
        if (vmm_image_check(p->agent_image, &e) < 0) {
                add(r, "agent image", DOC_FAIL, "rebuild it with 'make' (or reinstall)", "%s",
                    e.msg);
                return false;
        }
        add(r, "agent image", DOC_OK, NULL, "%s is a static x86-64 program", p->agent_image);
        return true;
}

/* Where the agent itself will run: μVM-1, or directly and why. */
static void check_agent(struct report *r, const struct iso_host *h, enum iso_platform want,
                        bool image_ok)
{
        const char *skip = getenv("OSVM_SKIP_MICROVM");
        const char *direct = "the agent runs directly in the osvm process, not inside μVM-1";
        if (skip && !strcmp(skip, "1"))
                add(r, "agent", DOC_WARN, "unset OSVM_SKIP_MICROVM to run it inside μVM-1",
                    "%s: OSVM_SKIP_MICROVM=1 chooses so", direct);
        else if (!image_ok && (h->kvm_usable || h->process_usable))
                add(r, "agent", DOC_WARN, "see agent image", "%s: its image cannot run", direct);
        else if (want != ISO_PLATFORM_KVM && h->process_usable &&
                 (!h->kvm_usable || want == ISO_PLATFORM_PROCESS))
                add(r, "agent", DOC_WARN,
                    h->kvm_usable ? "osvm isolation set platform=auto, for μVM-1 as a VM"
                                  : "get KVM (see kvm), for μVM-1 as a VM",
                    "the agent runs in μVM-1's stand-in, a trapped process (the process "
                    "platform), not a VM: %s",
                    h->kvm_usable ? "the isolation config's platform is \"process\""
                                  : "KVM is not usable");
        else if (!h->kvm_usable)
                add(r, "agent", DOC_WARN,
                    "get KVM (see kvm); --require-isolation refuses to run without it",
                    "%s: KVM is not usable", direct);
        else if (!image_ok)
                add(r, "agent", DOC_WARN, "see agent image", "%s: its image cannot run", direct);
        else
                add(r, "agent", DOC_OK, NULL,
                    "the agent runs inside μVM-1, a VM of its own; each tool call in another");
}

/* ---- programs and servers ---- */

/* The registered stdio servers whose command is prog ("a, b"), or NULL. */
static char *users_of(const struct mcp_registry *reg, const char *prog)
{
        strbuf b = {0};
        for (size_t i = 0; i < reg->n; i++) {
                const struct mcp_server_conf *s = &reg->v[i];
                if (s->kind == MCP_KIND_STDIO && s->enabled && s->argv && s->argv[0] &&
                    !strcmp(base_name(s->argv[0]), prog))
                        sb_addf(&b, "%s%s", b.len ? ", " : "", s->id);
        }
        return b.len ? sb_steal(&b) : NULL;
}

static void check_programs(struct report *r, const struct mcp_registry *reg)
{
        static const struct {
                const char *name;
                bool common; /* most MCP servers need it: say when it is missing */
                const char *fix;
        } progs[] = {
            {"node", true, "install Node.js: apt-get install nodejs npm"},
            {"npx", true, "install npm, which has npx: apt-get install npm"},
            {"python3", false, "install Python: apt-get install python3"},
            {"uvx", false, "install uv, which has uvx (pipx install uv)"},
        };
        for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
                _cleanup_free_ char *at = which(progs[i].name);
                _cleanup_free_ char *users = users_of(reg, progs[i].name);
                if (at && users)
                        add(r, progs[i].name, DOC_OK, NULL, "%s (for %s)", at, users);
                else if (at)
                        add(r, progs[i].name, DOC_OK, NULL, "%s", at);
                else if (users)
                        add(r, progs[i].name, DOC_FAIL, progs[i].fix,
                            "not found in PATH, and %s starts with it", users);
                else if (progs[i].common)
                        add(r, progs[i].name, DOC_WARN, progs[i].fix,
                            "not found in PATH: servers started with it (most MCP servers from "
                            "npm) cannot run");
                else
                        add(r, progs[i].name, DOC_OK, NULL,
                            "not installed; no registered server starts with it");
        }
}

/* Whether enabled server s, reached by URL (remote) or not, has a policy
 * in cfg that asks for a sandbox: into *sb. */
static bool sandbox_wanted(const struct iso_config *cfg, const struct mcp_server_conf *s,
                           bool remote, struct iso_sandbox *sb)
{
        struct iso_reach reach;
        mcp_server_reach(s, &reach);
        if (!s->enabled || reach.remote != remote)
                return false;
        iso_server_sandbox(cfg, s->id, sb);
        return sb->wanted;
}

/* The servers reached by URL whose policy asks for a sandbox (cfg: the
 * isolation config, or NULL): they run elsewhere, so they cannot have one,
 * and their calls take the sandbox's fallback. */
static void check_remote_sandbox(struct report *r, const struct mcp_registry *reg,
                                 const struct iso_config *cfg)
{
        strbuf names = {0};
        size_t nrefused = 0;
        const char *first = NULL;
        for (size_t i = 0; cfg && i < reg->n; i++) {
                const struct mcp_server_conf *s = &reg->v[i];
                struct iso_sandbox sb;
                if (!sandbox_wanted(cfg, s, true, &sb))
                        continue;
                sb_addf(&names, "%s%s (%s, fallback %s)", names.len ? ", " : "", s->id, sb.why,
                        iso_fallback_name(sb.fallback));
                nrefused += sb.fallback == ISO_FALLBACK_DENY;
                if (!first)
                        first = s->id;
        }
        if (!first)
                return;
        _cleanup_free_ char *fix = xasprintf(
            "a server reached by URL runs elsewhere, not in a sandbox of osvm's: osvm isolation "
            "set %s sandbox=false",
            first);
        add(r, "sandbox", nrefused ? DOC_FAIL : DOC_WARN, fix,
            "reached by URL, yet their policy asks for a sandbox, which they cannot have: %s; "
            "%s",
            names.s,
            nrefused ? "calls under fallback deny are refused" : "their calls run without one");
        sb_free(&names);
}

/* The sandboxed servers whose mounts hold osvm's own files (cfg: the
 * isolation config, or NULL), which their sandbox keeps from them. */
static void check_own_files(struct report *r, const struct mcp_registry *reg,
                            const struct iso_config *cfg)
{
        char *own[PATHS_OWN_MAX];
        size_t nown = paths_own(own);
        strbuf names = {0};
        for (size_t i = 0; cfg && i < reg->n; i++) {
                const struct mcp_server_conf *s = &reg->v[i];
                struct iso_sandbox sb;
                if (!sandbox_wanted(cfg, s, false, &sb))
                        continue;
                for (size_t k = 0; k < sb.mounts->n; k++) {
                        _cleanup_free_ char *host = fs_real_or_same(sb.mounts->v[k].host_path);
                        if (!fs_holds_any(host, own, nown))
                                continue;
                        _cleanup_free_ char *shown = text_sanitize(host, 0);
                        sb_addf(&names, "%s%s (%s)", names.len ? ", " : "", s->id, shown);
                }
        }
        for (size_t j = 0; j < nown; j++)
                free(own[j]);
        if (!names.len)
                return;
        char why[400];
        enum mcp_tier tier = mcp_sandbox_tier(why, sizeof(why));
        if (tier != MCP_TIER_HOST)
                add(r, "own files", DOC_OK, NULL,
                    "mounts hold osvm's own files, which the servers' sandbox keeps from them "
                    "(%s): %s",
                    tier == MCP_TIER_SANDBOX ? "shown empty" : "the mount allowed around them",
                    names.s);
        sb_free(&names);
}

static void check_servers(struct report *r, const struct mcp_registry *reg)
{
        strbuf ok = {0}, bad = {0};
        size_t nbad = 0, n = 0;
        for (size_t i = 0; i < reg->n; i++) {
                const struct mcp_server_conf *s = &reg->v[i];
                if (!s->enabled) {
                        sb_addf(&ok, "%s%s (disabled)", ok.len ? ", " : "", s->id);
                        continue;
                }
                n++;
                if (s->kind == MCP_KIND_HTTP) {
                        _cleanup_free_ char *url = mcp_url_public(s->url);
                        sb_addf(&ok, "%s%s (%s)", ok.len ? ", " : "", s->id, url ? url : "HTTP");
                        continue;
                }
                const char *cmd = s->argv && s->argv[0] ? s->argv[0] : "";
                _cleanup_free_ char *at = *cmd ? which(cmd) : NULL;
                if (at) {
                        sb_addf(&ok, "%s%s (%s)", ok.len ? ", " : "", s->id, base_name(cmd));
                } else {
                        sb_addf(&bad, "%s%s: its command %s is not found", nbad ? "; " : "", s->id,
                                cmd);
                        nbad++;
                }
        }
        if (nbad)
                add(r, "servers", DOC_FAIL,
                    "install the command, or register the server again with the right one "
                    "(osvm mcp remove NAME; osvm mcp add NAME -- CMD ARGS...)",
                    "%s", bad.s);
        else if (!reg->n)
                add(r, "servers", DOC_OK, NULL,
                    "none registered but the built-in osvm-mcp ('osvm mcp add NAME -- CMD "
                    "ARGS...' adds one)");
        else
                add(r, "servers", DOC_OK, NULL, "%zu registered, their commands found: %s", n,
                    ok.s ? ok.s : "");
        sb_free(&ok);
        sb_free(&bad);
}

/* ---- the LLM ---- */

static int on_xfer(void *p, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
        (void)p, (void)dt, (void)dn, (void)ut, (void)un;
        return ui_interrupted ? 1 : 0; /* Ctrl-C ends the request */
}

/* A HEAD request to url, without the key: any HTTP answer means reachable. */
static bool reachable(const char *url, long *status, char *why, size_t n)
{
        curl_global_init(CURL_GLOBAL_DEFAULT);
        CURL *c = curl_easy_init();
        if (!c) {
                snprintf(why, n, "libcurl could not start");
                return false;
        }
        char errbuf[CURL_ERROR_SIZE] = "";
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)LLM_CONNECT_MS);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)LLM_TOTAL_MS);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_xfer);
        CURLcode rc = curl_easy_perform(c);
        bool ok = rc == CURLE_OK;
        if (ok)
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
        else if (rc == CURLE_ABORTED_BY_CALLBACK)
                snprintf(why, n, "cancelled");
        else
                snprintf(why, n, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
        curl_easy_cleanup(c);
        curl_global_cleanup();
        return ok;
}

static void check_llm(struct report *r)
{
        struct agent_ai_config ai;
        osvm_err e = {0};
        if (agent_ai_config_load(&ai, &e) < 0) {
                add(r, "llm", DOC_FAIL,
                    "fix ai.json or the OSVM_AI_* variables (docs/agent.md), or remove them for "
                    "the offline planner",
                    "%s", e.msg);
                agent_ai_config_free(&ai);
                return;
        }
        if (!ai.provider) {
                add(r, "llm", DOC_OK, NULL,
                    "no LLM configured: the built-in offline planner answers (OSVM_AI_URL and "
                    "OSVM_AI_KEY, or ai.json, name one)");
                agent_ai_config_free(&ai);
                return;
        }
        /* shown without what may be a credential in it (user, password, path, query) */
        _cleanup_free_ char *url = mcp_url_public(ai.url);
        _cleanup_free_ char *what =
            xasprintf("%s, model %s, at %s (from %s)", ai.provider, ai.model ? ai.model : "?",
                      url ? url : "a URL that is not http:// or https://",
                      ai.source ? ai.source : "the defaults");
        long status = 0;
        char why[CURL_ERROR_SIZE + 64] = "";
        bool ok = reachable(ai.url, &status, why, sizeof(why));
        bool official =
            url && (strstr(url, "://api.openai.com") || strstr(url, "://api.anthropic.com"));
        if (!ok)
                add(r, "llm", DOC_FAIL,
                    "check the URL and the network; or unset OSVM_AI_URL (and the keys, and "
                    "ai.json) for the offline planner",
                    "%s: not reachable: %s", what, why);
        else if (!ai.key && official)
                add(r, "llm", DOC_WARN, "set OSVM_AI_KEY (or OPENAI_API_KEY / ANTHROPIC_API_KEY)",
                    "%s: reachable (HTTP %ld), but no key is set", what, status);
        else
                add(r, "llm", DOC_OK, NULL, "%s: reachable (HTTP %ld); %s", what, status,
                    ai.key ? "a key is set" : "no key");
        agent_ai_config_free(&ai);
}

/* ---- files and directories ---- */

/* Adds a warning when others may read (secret) or change the file at path. */
static bool loose_mode(struct report *r, const char *name, const char *path, const struct stat *st,
                       bool secret)
{
        unsigned others = secret ? 077u : 022u;
        if (!(st->st_mode & others))
                return false;
        _cleanup_free_ char *fix =
            xasprintf("chmod %s %s", S_ISDIR(st->st_mode) ? "700" : "600", path);
        add(r, name, DOC_WARN, fix, "%s is mode %03o: %s", path, (unsigned)(st->st_mode & 0777),
            secret ? "others can read it, and it may hold keys"
                   : "others can change what osvm does");
        return true;
}

static void check_config(struct report *r, const struct cli_paths *p)
{
        struct stat st;
        if (stat(p->config_dir, &st) != 0) {
                add(r, "config", DOC_OK, NULL,
                    "%s does not exist yet: the first run writes the default isolation config "
                    "there",
                    p->config_dir);
                return;
        }
        if (!S_ISDIR(st.st_mode)) {
                add(r, "config", DOC_FAIL, "move it away, or set OSVM_HOME to a directory",
                    "%s is not a directory", p->config_dir);
                return;
        }
        (void)loose_mode(r, "config", p->config_dir, &st, false); /* and the file too */
        if (stat(p->isolation, &st) != 0) {
                add(r, "config", DOC_OK, NULL,
                    "%s does not exist yet: the first run writes the default", p->isolation);
                return;
        }
        struct iso_config cfg;
        struct iso_diags d = {0};
        int rc = iso_config_load(p->isolation, &cfg, &d);
        if (rc < 0)
                add(r, "config", DOC_FAIL, "'osvm isolation validate' names every problem",
                    "%zu error%s; no tool runs until they are fixed: %s", d.nerrors,
                    d.nerrors == 1 ? "" : "s", d.n ? d.v[0].text : p->isolation);
        else if (d.n)
                add(r, "config", DOC_WARN, "'osvm isolation validate' names every problem",
                    "%zu warning%s: %s", d.n, d.n == 1 ? "" : "s", d.v[0].text);
        else if (!loose_mode(r, "config", p->isolation, &st, false))
                add(r, "config", DOC_OK, NULL, "%s: valid, %zu server%s", p->isolation,
                    cfg.nservers, cfg.nservers == 1 ? "" : "s");
        if (rc == 0)
                iso_config_free(&cfg);
        iso_diags_free(&d);
}

/* The registry reg, as read (failed: why it could not be). */
static void check_registry(struct report *r, const struct cli_paths *p,
                           const struct mcp_registry *reg, const osvm_err *failed)
{
        struct stat st;
        if (stat(p->registry, &st) != 0) {
                add(r, "registry", DOC_OK, NULL, "%s does not exist yet ('osvm mcp add' writes it)",
                    p->registry);
                return;
        }
        if (failed) {
                add(r, "registry", DOC_FAIL,
                    "fix the file, or move it away and add the servers again", "%s", failed->msg);
                return;
        }
        if (!loose_mode(r, "registry", p->registry, &st, true))
                add(r, "registry", DOC_OK, NULL, "%s: valid, %zu server%s", p->registry, reg->n,
                    reg->n == 1 ? "" : "s");
}

static void check_ai_file(struct report *r, const struct cli_paths *p)
{
        struct stat st;
        if (stat(p->ai, &st) != 0)
                add(r, "ai config", DOC_OK, NULL,
                    "%s does not exist: the LLM comes from the environment, or none", p->ai);
        else if (!loose_mode(r, "ai config", p->ai, &st, true))
                add(r, "ai config", DOC_OK, NULL, "%s: private (mode %03o)", p->ai,
                    (unsigned)(st.st_mode & 0777));
}

static void check_state(struct report *r, const struct cli_paths *p)
{
        const char *const dirs[] = {p->state_dir, p->logs, p->agent_dir};
        for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
                struct stat st;
                if (stat(dirs[i], &st) == 0) {
                        if (!S_ISDIR(st.st_mode) || access(dirs[i], W_OK | X_OK) != 0) {
                                _cleanup_free_ char *fix = xasprintf("chmod u+rwx %s", dirs[i]);
                                add(r, "state", DOC_FAIL, fix,
                                    "%s is not a directory osvm can write: no logs, no history",
                                    dirs[i]);
                                return;
                        }
                        if (i == 0 && loose_mode(r, "state", dirs[i], &st, true))
                                return;
                        continue;
                }
                _cleanup_free_ char *up = existing_ancestor(dirs[i]);
                if (stat(up, &st) != 0 || !S_ISDIR(st.st_mode) || access(up, W_OK | X_OK) != 0) {
                        _cleanup_free_ char *fix = xasprintf(
                            "create it (mkdir -p -m 700 %s), or set XDG_STATE_HOME", dirs[i]);
                        add(r, "state", DOC_FAIL, fix,
                            "%s cannot be created (%s is not a directory osvm can write): no "
                            "logs, no history",
                            dirs[i], up);
                        return;
                }
        }
        add(r, "state", DOC_OK, NULL, "%s: logs in logs/, the agent's history in agent/",
            p->state_dir);
}

/* ---- the command ---- */

static void print_text(const struct report *r)
{
        bool color = term_color(STDOUT_FILENO);
        static const char *const colors[] = {"\033[32m", "\033[33m", "\033[31m"};
        size_t count[3] = {0};
        for (size_t i = 0; i < r->n; i++) {
                const struct check *c = &r->v[i];
                count[c->verdict]++;
                printf("%s%-4s%s  %-11s %s\n", color ? colors[c->verdict] : "",
                       verdict_names[c->verdict], color ? "\033[0m" : "", c->name, c->detail);
                if (c->fix && c->verdict != DOC_OK)
                        printf("%-17s fix: %s\n", "", c->fix);
        }
        printf("\n%zu ok, %zu warning%s, %zu failure%s\n", count[DOC_OK], count[DOC_WARN],
               count[DOC_WARN] == 1 ? "" : "s", count[DOC_FAIL], count[DOC_FAIL] == 1 ? "" : "s");
}

static void print_json(const struct report *r, const struct cli_paths *p, bool ok)
{
        json_t *checks = json_array();
        for (size_t i = 0; i < r->n; i++)
                json_array_append_new(checks,
                                      json_pack("{s:s, s:s, s:s, s:s?}", "name", r->v[i].name,
                                                "verdict", verdict_names[r->v[i].verdict], "detail",
                                                r->v[i].detail, "fix", r->v[i].fix));
        json_t *v = json_pack("{s:s, s:b, s:o, s:o}", "version", OSVM_VERSION, "ok", ok, "checks",
                              checks, "paths", cli_paths_json(p));
        ui_print_json(v);
        json_decref(v);
}

static int run_doctor(int argc, char **argv)
{
        bool json = false;
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--json") != 0)
                        return cli_usage_error(&cli_cmd_doctor, "unexpected argument \"%s\"",
                                               argv[i]);
                json = true;
        }
        ui_catch_interrupt();
        struct cli_paths p;
        cli_paths_get(&p);
        struct iso_host h;
        cli_probe_host(&h);
        struct report r = {0};

        check_kvm(&r, &h);
        check_images(&r, &h);
        bool image_ok = check_agent_image(&r, &p);
        /* the policy in force: the user's file, else the default the first run writes */
        struct iso_config cfg;
        struct iso_diags d = {0};
        struct stat st;
        int rc;
        if (stat(p.isolation, &st) == 0) {
                rc = iso_config_load(p.isolation, &cfg, &d);
        } else {
                _cleanup_free_ char *text = iso_config_default_text();
                rc = iso_config_parse(text, strlen(text), "the default config", &cfg, &d);
        }
        iso_diags_free(&d);
        enum iso_platform want = rc == 0 ? cfg.platform : ISO_PLATFORM_AUTO;
        if (want == ISO_PLATFORM_PROCESS && !h.process_probed) { /* asked for here too */
                h.process_probed = true;
                h.process_usable = vmm_platform_probe(VMM_PLATFORM_PROCESS, h.process_what,
                                                      sizeof(h.process_what));
        }
        /* the registry (empty when it cannot be read): which servers are
         * reached by URL, for the tools' routes, and its own checks */
        struct mcp_registry reg = {0};
        osvm_err reg_e = {0};
        bool reg_read = mcp_registry_load(p.registry, &reg, &reg_e) == 0;
        if (!reg_read)
                memset(&reg, 0, sizeof(reg));
        if (rc == 0) {
                check_tools(&r, &cfg, &h, &reg);
        } else {
                add(&r, "tools", DOC_FAIL, "see config",
                    "no tool runs while the isolation config has errors");
        }
        check_agent(&r, &h, want, image_ok);
        check_registry(&r, &p, &reg, reg_read ? NULL : &reg_e);
        check_programs(&r, &reg);
        check_servers(&r, &reg);
        check_remote_sandbox(&r, &reg, rc == 0 ? &cfg : NULL);
        check_own_files(&r, &reg, rc == 0 ? &cfg : NULL);
        if (rc == 0)
                iso_config_free(&cfg);
        mcp_registry_free(&reg);
        check_llm(&r);
        check_config(&r, &p);
        check_ai_file(&r, &p);
        check_state(&r, &p);

        bool ok = true;
        for (size_t i = 0; i < r.n; i++)
                ok &= r.v[i].verdict != DOC_FAIL;
        if (json)
                print_json(&r, &p, ok);
        else
                print_text(&r);
        report_free(&r);
        cli_paths_free(&p);
        if (ui_interrupted)
                return OSVM_EXIT_INTERRUPTED;
        return ok ? OSVM_EXIT_OK : OSVM_EXIT_FAILURE;
}

const struct cli_cmd cli_cmd_doctor = {
    .name = "doctor",
    .summary = "check KVM, images, servers, the LLM and the config, with fixes",
    .help = "usage: osvm doctor [--json]\n"
            "\n"
            "Checks what osvm needs and says for each check ok, warn or fail, and what\n"
            "to do about it:\n"
            "\n"
            "  kvm          /dev/kvm (OSVM_NO_KVM=1 turns it off); without it, whether\n"
            "               the process platform (trapped processes) runs calls instead\n"
            "  images       the osvm-mcp tool images: found, readable, static x86-64 ELF\n"
            "  agent image  μVM-1's osvm-agent.img, the same way\n"
            "  tools        where the configured tools' calls will run: a VM each, a\n"
            "               trapped process each, or directly on their servers, and why\n"
            "  agent        where the agent will run: inside μVM-1, or directly and why\n"
            "  registry     the MCP server registry: parses, private\n"
            "  node, npx, python3, uvx\n"
            "               found in PATH, and which registered servers start with them\n"
            "  servers      each registered server's command is found\n"
            "  sandbox      (only when it applies) servers reached by URL whose policy\n"
            "               asks for a sandbox, which they cannot have\n"
            "  own files    (only when it applies) sandboxed servers whose mounts hold\n"
            "               osvm's own files, which their sandbox keeps from them\n"
            "  llm          the LLM endpoint, or the offline planner; whether it answers\n"
            "               (one HEAD request, 5 s at most, without the key)\n"
            "  config       the isolation config: parses, not writable by others\n"
            "  ai config    ai.json: private when it exists\n"
            "  state        the state directory (logs, the agent's history): writable\n"
            "\n"
            "Nothing is started or written. 'osvm config paths' lists the files.\n"
            "\n"
            "  --json     the checks ({name, verdict, detail, fix}) and the paths as JSON\n"
            "\n"
            "Exit codes: 0 when no check fails (warnings allowed), 1 when one fails,\n"
            "130 when cancelled.\n",
    .run = run_doctor,
};
