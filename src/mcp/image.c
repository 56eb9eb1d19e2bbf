/*
 * The tool-image protocol: one tool call, one program run, in a fresh VM or,
 * in direct mode, as a host process. The request goes in on stdin, one
 * CallToolResult comes out on stdout, stderr is the log, and fd 3 is the
 * host-call channel served by the egress thread.
 */
#include "mcp/mcp.h"
#include "vmm/vmm.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define IMAGE_MAX_OUTPUT (16ull << 20)
#define IMAGE_LOG_TAIL   2048
#define DEFAULT_RPC      "https://api.mainnet-beta.solana.com"

const char *mcp_solana_rpc(const struct iso_policy *p)
{
        const char *env = getenv("OSVM_SOLANA_RPC");
        if (env && *env)
                return env;
        return p->rpc_url ? p->rpc_url : DEFAULT_RPC;
}

char *mcp_url_public(const char *url)
{
        CURLU *h = curl_url();
        char *scheme = NULL, *host = NULL, *port = NULL, *out = NULL;
        if (h && url && curl_url_set(h, CURLUPART_URL, url, 0) == CURLUE_OK &&
            curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
            curl_url_get(h, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
            (!strcasecmp(scheme, "http") || !strcasecmp(scheme, "https"))) {
                if (curl_url_get(h, CURLUPART_PORT, &port, 0) != CURLUE_OK)
                        port = NULL; /* none written: the scheme's */
                out = xasprintf("%s://%s%s%s/", scheme, host, port ? ":" : "", port ? port : "");
        }
        curl_free(scheme);
        curl_free(host);
        curl_free(port);
        curl_url_cleanup(h);
        return out;
}

/* A memfd holding data, rewound; -1 on failure. */
static int memfd_with(const char *name, const char *data, size_t len, osvm_err *e)
{
        int fd = memfd_create(name, MFD_CLOEXEC);
        if (fd < 0) {
                err_sys(e, "memfd_create(%s)", name);
                return -1;
        }
        if ((len && write(fd, data, len) != (ssize_t)len) || lseek(fd, 0, SEEK_SET) < 0) {
                err_sys(e, "writing the request");
                close(fd);
                return -1;
        }
        return fd;
}

/* Up to max bytes of fd from offset from, NUL-terminated. */
static char *read_back(int fd, off_t from, size_t max, size_t *len)
{
        off_t end = lseek(fd, 0, SEEK_END);
        if (end < from)
                end = from;
        size_t n = (size_t)(end - from) > max ? max : (size_t)(end - from);
        char *buf = xmalloc(n + 1);
        ssize_t r = pread(fd, buf, n, from);
        n = r > 0 ? (size_t)r : 0;
        buf[n] = '\0';
        if (len)
                *len = n;
        return buf;
}

json_t *mcp_text_result(bool is_error, const char *fmt, ...)
{
        char text[2048];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        return json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text", "text", text,
                         "isError", is_error);
}

/* How a run ended, in the words of both modes. */
struct ending {
        bool exited; /* the program exited: code is its status */
        int code;
        char why[512]; /* otherwise: the fault, limit or signal */
};

/* Runs the program as a host process (direct mode) under the same limits of time. */
static int run_direct(const char *exe, const char *tool, char *const *envp, int in, int out,
                      int err, int host, uint32_t timeout_ms, volatile sig_atomic_t *cancel,
                      struct ending *end, osvm_err *e)
{
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, in, 0);
        posix_spawn_file_actions_adddup2(&fa, out, 1);
        posix_spawn_file_actions_adddup2(&fa, err, 2);
        posix_spawn_file_actions_adddup2(&fa, host, 3);
        posix_spawnattr_t attr;
        posix_spawnattr_init(&attr);
        posix_spawnattr_setpgroup(&attr, 0);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
        char *argv[] = {(char *)exe, (char *)tool, NULL};
        pid_t pid;
        int r = posix_spawn(&pid, exe, &fa, &attr, argv, envp);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        if (r) {
                errno = r;
                return err_sys(e, "starting %s", exe);
        }
        int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        uint64_t deadline = time_mono_ns() + (uint64_t)timeout_ms * 1000000u;
        int st = 0;
        for (;;) {
                pid_t w = waitpid(pid, &st, WNOHANG);
                if (w == pid)
                        break;
                bool late = time_mono_ns() >= deadline, stop = cancel && *cancel;
                if (late || stop) {
                        kill(pid, SIGKILL);
                        waitpid(pid, &st, 0);
                        snprintf(end->why, sizeof(end->why), "%s",
                                 late ? "time limit reached" : "cancelled");
                        if (pidfd >= 0)
                                close(pidfd);
                        return 0;
                }
                struct pollfd p = {pidfd, POLLIN, 0};
                poll(pidfd >= 0 ? &p : NULL, pidfd >= 0 ? 1 : 0, 20);
        }
        if (pidfd >= 0)
                close(pidfd);
        if (WIFEXITED(st)) {
                end->exited = true;
                end->code = WEXITSTATUS(st);
        } else {
                snprintf(end->why, sizeof(end->why), "killed by signal %d (%s)", WTERMSIG(st),
                         strsignal(WTERMSIG(st)));
        }
        return 0;
}

json_t *mcp_tool_run(const struct iso_decision *d, const char *tool, json_t *args,
                     const struct mcp_call_opts *o, bool in_vm, osvm_err *e)
{
        const struct iso_policy *p = &d->policy;
        const char *how = in_vm ? "unikernel" : "process";
        char bad[300];
        if (iso_names_problem(p->server, tool, bad, sizeof(bad))) {
                /* the decision routes such a call elsewhere; nothing runs it as a program */
                err_set(e, EINVAL, "cannot run the tool as a program: %s", bad);
                return NULL;
        }
        volatile sig_atomic_t *cancel = o ? o->cancel : NULL;
        json_t *req = json_pack("{s:s, s:o}", "name", tool, "arguments",
                                args ? json_incref(args) : json_object());
        char *text = json_dumps(req, JSON_COMPACT);
        json_decref(req);
        char *line = xasprintf("%s\n", text);
        free(text);
        int in = memfd_with("osvm-request", line, strlen(line), e);
        free(line);
        int out = in < 0 ? -1 : memfd_with("osvm-result", NULL, 0, e);
        int err = out < 0 ? -1 : memfd_with("osvm-log", NULL, 0, e);
        int sv[2] = {-1, -1};
        if (err >= 0 && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                err_sys(e, "socketpair");
        json_t *result = NULL;
        char *rpc_public = NULL, *rpc_env = NULL;
        if (sv[1] < 0) {
                err_wrap(e, "%s/%s: preparing the call", p->server, tool);
                goto out;
        }

        uint32_t timeout = p->timeout_ms;
        if (o && o->timeout_ms && o->timeout_ms < timeout)
                timeout = o->timeout_ms;
        /* The tool sees the endpoint without what may be a credential in the
         * URL; the egress thread sends its requests there on to the URL in full. */
        const char *rpc = mcp_solana_rpc(p);
        rpc_public = mcp_url_public(rpc);
        char *who = xasprintf("%s/%s", p->server, tool);
        struct mcp_egress_policy ep = {
            .who = who,
            .allow = p->network_allow,
            .allow_is_default = p->network_src == ISO_SRC_DEFAULT,
            .rpc_url = rpc_public ? rpc : NULL,
            .rpc_key = getenv("OSVM_SOLANA_RPC_KEY"),
            .deadline_ns = time_mono_ns() + (uint64_t)timeout * 1000000u,
            .cancel = cancel,
            .record = o ? o->egress : NULL,
        };
        struct mcp_egress *eg = mcp_egress_start(sv[0], &ep, e);
        sv[0] = -1; /* the egress thread owns it now */
        free(who);
        if (!eg)
                goto out;

        if (!rpc_public)
                log_warn("%s/%s: the Solana RPC endpoint is not an http:// or https:// URL; the "
                         "tool gets none",
                         p->server, tool);
        rpc_env = xasprintf("OSVM_SOLANA_RPC=%s", rpc_public ? rpc_public : "");
        char *envp[] = {"OSVM_TOOL_PROTOCOL=1", rpc_env, NULL};
        struct ending end = {0};
        bool cancelled = false;
        int rc;
        if (in_vm) {
                struct vmm_mount mounts[VMM_MAX_MOUNTS];
                size_t nm = p->mounts->n < VMM_MAX_MOUNTS ? p->mounts->n : VMM_MAX_MOUNTS;
                for (size_t i = 0; i < nm; i++)
                        mounts[i] =
                            (struct vmm_mount){p->mounts->v[i].host_path, p->mounts->v[i].vm_path,
                                               p->mounts->v[i].readonly};
                const char *argv[] = {p->image, tool, NULL};
                struct vmm_spec spec = {
                    .image = p->image,
                    .argv = argv,
                    .envp = (const char *const *)envp,
                    .in_fd = in,
                    .out_fd = out,
                    .err_fd = err,
                    .host_fd = sv[1],
                    .mounts = mounts,
                    .nmounts = nm,
                    .cancel = cancel,
                    /* where the decision said: a VM, or a trapped process */
                    .platform = d->platform == ISO_PLATFORM_PROCESS ? VMM_PLATFORM_PROCESS
                                : d->platform == ISO_PLATFORM_KVM   ? VMM_PLATFORM_KVM
                                                                    : VMM_PLATFORM_AUTO,
                    .limits = {.memory_mb = p->memory_mb,
                               .timeout_ms = timeout,
                               .max_output_bytes = IMAGE_MAX_OUTPUT},
                };
                struct vmm_result res;
                rc = vmm_run(&spec, &res, e);
                if (rc == 0) {
                        if (res.platform == VMM_PLATFORM_PROCESS)
                                session_note_unikernel_proc(session_get());
                        else
                                session_note_unikernel(session_get());
                        end.exited = res.end == VMM_END_EXIT;
                        end.code = res.exit_code;
                        cancelled = res.end == VMM_END_CANCELLED;
                        snprintf(end.why, sizeof(end.why), "%s: %s", vmm_end_name(res.end),
                                 res.why);
                }
        } else {
                rc =
                    run_direct(p->image, tool, envp, in, out, err, sv[1], timeout, cancel, &end, e);
                cancelled = rc == 0 && !end.exited && cancel && *cancel;
        }
        close(sv[1]);
        sv[1] = -1;
        unsigned calls = mcp_egress_finish(eg);
        if (rc < 0) {
                err_wrap(e, "%s/%s: running its %s", p->server, tool, how);
                goto out;
        }
        if (cancelled) {
                /* as a direct call that was cancelled: no result, exit 130 */
                mcp_err_cancelled(e, "%s/%s: cancelled: its %s was stopped", p->server, tool, how);
                e->exit = OSVM_EXIT_INTERRUPTED;
                goto out;
        }
        log_debug("%s/%s (%s): %u host calls", p->server, tool, how, calls);

        size_t loglen;
        off_t logsize = lseek(err, 0, SEEK_END);
        off_t from = logsize > IMAGE_LOG_TAIL ? logsize - IMAGE_LOG_TAIL : 0;
        char *log = read_back(err, from, IMAGE_LOG_TAIL, &loglen);
        if (loglen)
                log_debug("%s/%s (%s) stderr: %s", p->server, tool, how, log);
        if (!end.exited) {
                result = mcp_text_result(true, "%s/%s: its %s was stopped (%s)", p->server, tool,
                                         how, end.why);
                free(log);
                goto out;
        }
        size_t outlen;
        char *output = read_back(out, 0, IMAGE_MAX_OUTPUT, &outlen);
        json_error_t jerr;
        json_t *r = mcp_json_loadb(output, outlen, JSON_DISABLE_EOF_CHECK, &jerr);
        if (!json_is_object(r) || !json_is_array(json_object_get(r, "content"))) {
                json_decref(r);
                result = mcp_text_result(true,
                                         "%s/%s: its %s exited with status %d without a "
                                         "CallToolResult on stdout%s%s",
                                         p->server, tool, how, end.code, loglen ? ": " : "", log);
        } else {
                result = r;
                if (end.code != 0 && !json_is_true(json_object_get(r, "isError")))
                        json_object_set_new(r, "isError", json_true());
        }
        free(output);
        free(log);
out:
        free(rpc_public);
        free(rpc_env);
        for (int i = 0; i < 2; i++)
                if (sv[i] >= 0)
                        close(sv[i]);
        if (in >= 0)
                close(in);
        if (out >= 0)
                close(out);
        if (err >= 0)
                close(err);
        return result;
}

json_t *mcp_image_call(const struct iso_decision *d, const char *tool, json_t *args,
                       const struct mcp_call_opts *o, osvm_err *e)
{
        return mcp_tool_run(d, tool, args, o, true, e);
}
