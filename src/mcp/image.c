/*
 * The tool-image protocol: one tool call, one fresh VM. The request goes in
 * on stdin, one CallToolResult comes out on stdout, stderr is the log.
 */
#include "mcp/mcp.h"
#include "vmm/vmm.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define IMAGE_MAX_OUTPUT (16ull << 20)
#define IMAGE_LOG_TAIL   2048

/* A memfd holding data, rewound; -1 on failure. */
static int memfd_with(const char *name, const char *data, size_t len, osvm_err *e)
{
        int fd = memfd_create(name, MFD_CLOEXEC);
        if (fd < 0) {
                err_sys(e, "memfd_create");
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

static json_t *error_result(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static json_t *error_result(const char *fmt, ...)
{
        char text[2048];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        return json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text", "text", text,
                         "isError", 1);
}

json_t *mcp_image_call(const struct iso_decision *d, const char *tool, json_t *args,
                       const struct mcp_call_opts *o, osvm_err *e)
{
        const struct iso_policy *p = &d->policy;
        json_t *req =
            json_pack("{s:s, s:O}", "name", tool, "arguments", args ? args : json_object());
        char *text = json_dumps(req, JSON_COMPACT);
        json_decref(req);
        char *line = xasprintf("%s\n", text);
        free(text);
        int in = memfd_with("osvm-request", line, strlen(line), e);
        free(line);
        int out = in < 0 ? -1 : memfd_with("osvm-result", NULL, 0, e);
        int err = out < 0 ? -1 : memfd_with("osvm-log", NULL, 0, e);
        if (err < 0) {
                if (in >= 0)
                        close(in);
                if (out >= 0)
                        close(out);
                return NULL;
        }

        struct vmm_mount mounts[VMM_MAX_MOUNTS];
        size_t nm = p->mounts->n < VMM_MAX_MOUNTS ? p->mounts->n : VMM_MAX_MOUNTS;
        for (size_t i = 0; i < nm; i++)
                mounts[i] = (struct vmm_mount){p->mounts->v[i].host_path, p->mounts->v[i].vm_path,
                                               p->mounts->v[i].readonly};
        const char *argv[] = {p->image, tool, NULL};
        const char *envp[] = {"OSVM_TOOL_PROTOCOL=1", NULL};
        uint32_t timeout = p->timeout_ms;
        if (o && o->timeout_ms && o->timeout_ms < timeout)
                timeout = o->timeout_ms;
        struct vmm_spec spec = {
            .image = p->image,
            .argv = argv,
            .envp = envp,
            .in_fd = in,
            .out_fd = out,
            .err_fd = err,
            .mounts = mounts,
            .nmounts = nm,
            .limits = {.memory_mb = p->memory_mb,
                       .timeout_ms = timeout,
                       .max_output_bytes = IMAGE_MAX_OUTPUT},
        };
        struct vmm_result res;
        int rc = vmm_run(&spec, &res, e);
        json_t *result = NULL;
        if (rc < 0) {
                err_wrap(e, "%s/%s: running its unikernel", p->server, tool);
                goto out;
        }
        session_note_unikernel(session_get());

        size_t loglen;
        off_t logsize = lseek(err, 0, SEEK_END);
        off_t from = logsize > IMAGE_LOG_TAIL ? logsize - IMAGE_LOG_TAIL : 0;
        char *log = read_back(err, from, IMAGE_LOG_TAIL, &loglen);
        if (loglen)
                log_debug("%s/%s (unikernel) stderr: %s", p->server, tool, log);
        if (res.end != VMM_END_EXIT) {
                result = error_result("%s/%s: its unikernel was stopped (%s): %s", p->server, tool,
                                      vmm_end_name(res.end), res.why);
                free(log);
                goto out;
        }
        size_t outlen;
        char *output = read_back(out, 0, IMAGE_MAX_OUTPUT, &outlen);
        json_error_t jerr;
        json_t *r = json_loadb(output, outlen, JSON_DISABLE_EOF_CHECK, &jerr);
        if (!json_is_object(r) || !json_is_array(json_object_get(r, "content"))) {
                json_decref(r);
                result = error_result("%s/%s: its unikernel exited with status %d without a "
                                      "CallToolResult on stdout%s%s",
                                      p->server, tool, res.exit_code, loglen ? ": " : "", log);
        } else {
                result = r;
                if (res.exit_code != 0 && !json_is_true(json_object_get(r, "isError")))
                        json_object_set_new(r, "isError", json_true());
        }
        free(output);
        free(log);
out:
        close(in);
        close(out);
        close(err);
        return result;
}
