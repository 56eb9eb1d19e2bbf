/*
 * Confined children: clone into new namespaces, set the child up with raw
 * system calls only, exec. A CLOEXEC pipe carries a failure back to the
 * parent ("step" and errno); end of file on it means the exec happened.
 */
#include "sandbox/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <valgrind/valgrind.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x1000
#endif

/* How long the parent waits for the child to exec (a guard against a
 * child stuck in its set-up; the steps take well under a millisecond). */
#define SBX_EXEC_WAIT_MS 10000
#define SBX_FD_HIGH      900 /* fds are moved here first, so that none is overwritten */

static void ns_word(char *out, size_t n, size_t *len, const char *w)
{
        int k = snprintf(out + *len, n - *len, "%s%s", *len ? ", " : "", w);
        if (k > 0 && (size_t)k < n - *len)
                *len += (size_t)k;
}

void sbx_ns_words(unsigned ns, char *out, size_t n)
{
        static const char *const names[] = {"user", "mount", "pid", "net", "ipc", "uts"};
        size_t len = 0;
        if (n)
                out[0] = '\0';
        for (unsigned i = 0; i < 6; i++)
                if (ns & (1u << i))
                        ns_word(out, n, &len, names[i]);
        if (!len && n)
                snprintf(out, n, "none");
}

static unsigned long clone_flags(unsigned ns)
{
        unsigned long f = 0;
        if (ns & SBX_NS_USER)
                f |= CLONE_NEWUSER;
        if (ns & SBX_NS_MOUNT)
                f |= CLONE_NEWNS;
        if (ns & SBX_NS_PID)
                f |= CLONE_NEWPID;
        if (ns & SBX_NS_NET)
                f |= CLONE_NEWNET;
        if (ns & SBX_NS_IPC)
                f |= CLONE_NEWIPC;
        if (ns & SBX_NS_UTS)
                f |= CLONE_NEWUTS;
        return f;
}

/* ---- in the child: raw system calls only ---- */

struct child_args {
        const struct sbx_spec *s;
        unsigned ns;
        uid_t uid;
        gid_t gid;
        int errfd;
        int exec_fd;
        const char *path;
        bool empty_root;
        char uid_map[32], gid_map[32];
};

/* Reports the step that failed and the errno, then exits. */
__attribute__((noreturn)) static void child_fail(const struct child_args *a, const char *step,
                                                 long err)
{
        char msg[96];
        size_t n = 0;
        while (step[n] && n < 64) {
                msg[n] = step[n];
                n++;
        }
        msg[n++] = '\0';
        int e = (int)(err < 0 ? -err : err);
        memcpy(msg + n, &e, sizeof(e));
        n += sizeof(e);
        syscall(SYS_write, a->errfd, msg, n);
        syscall(SYS_exit_group, 127);
        __builtin_unreachable();
}

static long rsys(long r)
{
        return r < 0 ? -errno : r;
}

static void write_file(const struct child_args *a, const char *path, const char *data,
                       const char *step)
{
        long fd = rsys(syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CLOEXEC));
        if (fd < 0)
                child_fail(a, step, fd);
        size_t n = strlen(data);
        long w = rsys(syscall(SYS_write, fd, data, n));
        syscall(SYS_close, fd);
        if (w != (long)n)
                child_fail(a, step, w < 0 ? w : -EIO);
}

/* / becomes an empty read-only tmpfs: a tmpfs over /proc (a directory every
 * Linux has), pivoted into, the old root detached. */
static void empty_root(const struct child_args *a)
{
        long r;
        if ((r = rsys(syscall(SYS_mount, "none", "/", "none", MS_REC | MS_PRIVATE, NULL))) < 0)
                child_fail(a, "making mounts private", r);
        if ((r = rsys(syscall(SYS_mount, "osvm", "/proc", "tmpfs", MS_NOSUID | MS_NODEV,
                              "size=16k,mode=0755"))) < 0)
                child_fail(a, "mounting the empty root", r);
        if ((r = rsys(syscall(SYS_mkdirat, AT_FDCWD, "/proc/old", 0700))) < 0)
                child_fail(a, "mkdir in the empty root", r);
        if ((r = rsys(syscall(SYS_pivot_root, "/proc", "/proc/old"))) < 0)
                child_fail(a, "pivot_root", r);
        if ((r = rsys(syscall(SYS_chdir, "/"))) < 0)
                child_fail(a, "chdir /", r);
        if ((r = rsys(syscall(SYS_umount2, "/old", MNT_DETACH))) < 0)
                child_fail(a, "detaching the old root", r);
        if ((r = rsys(syscall(SYS_unlinkat, AT_FDCWD, "/old", AT_REMOVEDIR))) < 0)
                child_fail(a, "rmdir in the empty root", r);
        if ((r = rsys(syscall(SYS_mount, "none", "/", "none",
                              MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                              NULL))) < 0)
                child_fail(a, "making the root read-only", r);
}

/* The fds: stdio, then keep[] as 3, 4, ..., the error pipe after them; the rest closed. */
static void child_fds(struct child_args *a)
{
        const struct sbx_spec *s = a->s;
        long r;
        int hi[3 + 64];
        size_t nk = s->nkeep < 64 ? s->nkeep : 64;
        int src[3 + 64];
        for (int i = 0; i < 3; i++)
                src[i] = s->stdio[i];
        for (size_t i = 0; i < nk; i++)
                src[3 + i] = s->keep[i];
        /* first everything up high (no target overwrites a source), then down */
        for (size_t i = 0; i < 3 + nk; i++) {
                hi[i] = -1;
                if (src[i] < 0)
                        continue;
                if ((r = rsys(syscall(SYS_fcntl, src[i], F_DUPFD, SBX_FD_HIGH))) < 0)
                        child_fail(a, "moving fds", r);
                hi[i] = (int)r;
        }
        if ((r = rsys(syscall(SYS_fcntl, a->errfd, F_DUPFD_CLOEXEC, SBX_FD_HIGH))) < 0)
                child_fail(a, "moving fds", r);
        a->errfd = (int)r;
        if (a->exec_fd >= 0) {
                if ((r = rsys(syscall(SYS_fcntl, a->exec_fd, F_DUPFD_CLOEXEC, SBX_FD_HIGH))) < 0)
                        child_fail(a, "moving fds", r);
                a->exec_fd = (int)r;
        }
        for (size_t i = 0; i < 3 + nk; i++) {
                if (hi[i] < 0)
                        continue;
                if ((r = rsys(syscall(SYS_dup3, hi[i], (int)i, 0))) < 0)
                        child_fail(a, "placing fds", r);
        }
        int errfd = 3 + (int)nk, last = errfd;
        if ((r = rsys(syscall(SYS_dup3, a->errfd, errfd, O_CLOEXEC))) < 0)
                child_fail(a, "placing fds", r);
        a->errfd = errfd;
        if (a->exec_fd >= 0) { /* open until the exec, closed by it */
                last = errfd + 1;
                if ((r = rsys(syscall(SYS_dup3, a->exec_fd, last, O_CLOEXEC))) < 0)
                        child_fail(a, "placing fds", r);
                a->exec_fd = last;
        }
        for (int i = 0; i < 3; i++)
                if (src[i] < 0)
                        syscall(SYS_close, i);
        if ((r = rsys(syscall(SYS_close_range, last + 1, ~0u, 0))) < 0)
                child_fail(a, "closing fds", r);
}

/*
 * No capability survives the exec: the bounding set emptied (root's exec
 * would otherwise give them all back). Root in a user namespace of its own
 * holds them there only; root without one (unprivileged user namespaces off)
 * would hold the host's. A user who is not root has none to drop.
 */
static void drop_capabilities(const struct child_args *a)
{
        if (syscall(SYS_geteuid) != 0)
                return;
        for (long cap = 0; cap < 64; cap++) {
                long r = rsys(syscall(SYS_prctl, PR_CAPBSET_DROP, cap, 0, 0, 0));
                if (r == -EINVAL) /* past the kernel's last capability */
                        break;
                if (r < 0)
                        child_fail(a, "dropping capabilities", r);
        }
        /* and none ambient (inherited by a non-root exec) */
        syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
}

__attribute__((noreturn)) static void child_main(struct child_args *a)
{
        const struct sbx_spec *s = a->s;
        long r;
        if (a->ns & SBX_NS_USER) {
                write_file(a, "/proc/self/setgroups", "deny", "writing setgroups");
                write_file(a, "/proc/self/uid_map", a->uid_map, "writing uid_map");
                write_file(a, "/proc/self/gid_map", a->gid_map, "writing gid_map");
        }
        if ((a->ns & SBX_NS_UTS) && (r = rsys(syscall(SYS_sethostname, "osvm", (size_t)4))) < 0)
                child_fail(a, "sethostname", r);
        if ((a->ns & SBX_NS_MOUNT) && a->empty_root)
                empty_root(a);
        /* the fds first: a small RLIMIT_NOFILE would refuse the moves */
        child_fds(a);
        for (size_t i = 0; i < s->nrlimits; i++) {
                struct rlimit l = {s->rlimits[i].value, s->rlimits[i].value};
                if ((r = rsys(syscall(SYS_prlimit64, 0, s->rlimits[i].resource, &l, NULL))) < 0)
                        child_fail(a, "setting an rlimit", r);
        }
        if (s->pdeathsig && (r = rsys(syscall(SYS_prctl, PR_SET_PDEATHSIG, s->pdeathsig))) < 0)
                child_fail(a, "PR_SET_PDEATHSIG", r);
        /* signals: default dispositions come with exec; nothing blocked */
        uint64_t none = 0;
        syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, 8);
        drop_capabilities(a);
        if ((r = rsys(syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))) < 0)
                child_fail(a, "PR_SET_NO_NEW_PRIVS", r);
        if (s->seccomp &&
            (r = rsys(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, s->seccomp))) < 0)
                child_fail(a, "installing the seccomp filter", r);
        if (a->exec_fd >= 0)
                r = rsys(syscall(SYS_execveat, a->exec_fd, "", s->argv, s->envp, AT_EMPTY_PATH));
        else
                r = rsys(syscall(SYS_execve, a->path, s->argv, s->envp));
        child_fail(a, "exec", r);
}

/* ---- in the parent ---- */

static void fmt_map(char *out, size_t n, unsigned id)
{
        snprintf(out, n, "0 %u 1\n", id);
}

/* A user namespace is refused with one of these where the host does not
 * give them to unprivileged users. */
static bool userns_refused(int err)
{
        return err == EPERM || err == EINVAL || err == ENOSPC || err == EUSERS || err == EACCES;
}

static bool no_userns_env(void)
{
        const char *v = getenv(SBX_NO_USERNS_ENV);
        return v && !strcmp(v, "1");
}

/* Reads the child's report: 0 when it exec'd (end of file), else -1 with e. */
static int read_report(int fd, osvm_err *e)
{
        char buf[128];
        size_t got = 0;
        uint64_t until = time_mono_ns() + (uint64_t)SBX_EXEC_WAIT_MS * 1000000ull;
        for (;;) {
                uint64_t now = time_mono_ns();
                if (now >= until)
                        return err_set(e, ETIMEDOUT,
                                       "the confined child did not start within %d ms",
                                       SBX_EXEC_WAIT_MS);
                struct pollfd p = {.fd = fd, .events = POLLIN};
                int pr = poll(&p, 1, (int)((until - now) / 1000000ull) + 1);
                if (pr < 0 && errno == EINTR)
                        continue;
                if (pr <= 0)
                        continue;
                ssize_t r = read(fd, buf + got, sizeof(buf) - got);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        break;
                got += (size_t)r;
                if (got == sizeof(buf))
                        break;
        }
        if (got == 0)
                return 0;
        size_t sl = strnlen(buf, got);
        int code = EIO;
        if (sl + 1 + sizeof(int) <= got)
                memcpy(&code, buf + sl + 1, sizeof(int));
        if (sl == got)
                sl = got - 1;
        buf[sl] = '\0';
        return err_set(e, code, "confining a child: %s: %s", buf, strerror(code));
}

static pid_t do_clone(unsigned long flags, int *pidfd)
{
        return (pid_t)syscall(SYS_clone, flags | SIGCHLD | CLONE_PIDFD, NULL, pidfd, NULL, 0);
}

/*
 * valgrind execs an fd by the name readlink gives /proc/self/fd/N, which a
 * memfd's is not: under it (the tests' leak and access checks of osvm) the
 * program is copied to a private temporary file, exec'd by path, and removed
 * once the child exec'd. Returns the path (malloc'd), or NULL.
 */
static char *valgrind_copy(int fd)
{
        const char *dir = getenv("TMPDIR");
        char *path = xasprintf("%s/osvm-exec-XXXXXX", dir && *dir ? dir : "/tmp");
        int out = mkstemp(path);
        if (out < 0) {
                free(path);
                return NULL;
        }
        char buf[65536];
        off_t off = 0;
        ssize_t n;
        bool ok = true;
        while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
                ok &= write(out, buf, (size_t)n) == n;
                off += n;
        }
        ok &= n == 0 && fchmod(out, 0500) == 0;
        close(out);
        if (!ok) {
                unlink(path);
                free(path);
                return NULL;
        }
        return path;
}

/* Adds words to what the child went without. */
__attribute__((format(printf, 2, 3))) static void note_add(struct sbx_child *c, const char *fmt,
                                                           ...)
{
        size_t l = strlen(c->note);
        if (l + 3 >= sizeof(c->note))
                return;
        if (l) {
                memcpy(c->note + l, ", ", 3);
                l += 2;
        }
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->note + l, sizeof(c->note) - l, fmt, ap);
        va_end(ap);
}

int sbx_spawn(const struct sbx_spec *s, struct sbx_child *c, osvm_err *e)
{
        memset(c, 0, sizeof(*c));
        c->pidfd = -1;
        c->pid = -1;
        struct child_args a = {.s = s, .uid = getuid(), .gid = getgid(), .exec_fd = s->exec_fd};
        fmt_map(a.uid_map, sizeof(a.uid_map), a.uid);
        fmt_map(a.gid_map, sizeof(a.gid_map), a.gid);
        int pfd[2];
        if (pipe2(pfd, O_CLOEXEC) < 0)
                return err_sys(e, "confining a child: pipe");
        a.errfd = pfd[1];

        unsigned want = s->ns & SBX_NS_ALL;
        bool root = geteuid() == 0;
        /* valgrind runs the set-up itself and execs by /proc/self/fd/N, which
         * an empty root has not: under it (the tests' leak and access checks
         * of osvm) the child keeps the host's root, and says so */
        a.empty_root = s->empty_root;
        char *vg_path = NULL;
        if (RUNNING_ON_VALGRIND) {
                if (a.empty_root)
                        note_add(c, "the host's root (under valgrind)");
                a.empty_root = false;
                if (s->exec_fd >= 0 && (vg_path = valgrind_copy(s->exec_fd)) != NULL)
                        a.exec_fd = -1;
        }
        a.path = vg_path ? vg_path : s->path;
        if ((want & SBX_NS_USER) && no_userns_env()) {
                want &= ~(unsigned)SBX_NS_USER;
                note_add(c, "no user namespace (%s=1)", SBX_NO_USERNS_ENV);
        }
        if (!(want & SBX_NS_USER) && !root && (want & ~(unsigned)SBX_NS_USER)) {
                want = 0; /* the others need root without a user namespace */
                note_add(c, "no namespaces (they need root without a user namespace)");
        }
        int pidfd = -1;
        a.ns = want;
        pid_t pid = do_clone(clone_flags(want), &pidfd);
        if (pid < 0 && (want & SBX_NS_USER) && userns_refused(errno)) {
                int err = errno;
                want &= ~(unsigned)SBX_NS_USER;
                if (!root)
                        want = 0;
                note_add(c,
                         "no user namespace (%s: unprivileged user namespaces are off or "
                         "restricted here)%s",
                         strerror(err), root ? "" : ", so no namespaces");
                a.ns = want;
                pid = do_clone(clone_flags(want), &pidfd);
        }
        if (pid == 0)
                child_main(&a);
        int err = errno;
        close(pfd[1]);
        int r = pid < 0 ? err_set(e, err, "confining a child: clone: %s", strerror(err))
                        : read_report(pfd[0], e);
        close(pfd[0]);
        if (vg_path) {
                unlink(vg_path);
                free(vg_path);
        }
        if (pid < 0)
                return -1;
        if (r < 0) {
                syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
                waitpid(pid, NULL, 0);
                close(pidfd);
                return -1;
        }
        c->pid = pid;
        c->pidfd = pidfd;
        c->ns = want;
        return 0;
}
