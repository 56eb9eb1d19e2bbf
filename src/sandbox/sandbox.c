/*
 * Confined children: clone into new namespaces, set the child up with raw
 * system calls only, exec. A CLOEXEC pipe carries a failure back to the
 * parent ("step" and errno); end of file on it means the exec happened.
 */
#include "sandbox/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
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
#define SBX_PATH_MAX     4096

/* Landlock, as the kernel's ABI 6 has it (the system header may be older). */
struct sbx_ll_ruleset_attr {
        uint64_t handled_access_fs, handled_access_net, scoped;
};
struct sbx_ll_path_attr {
        uint64_t allowed_access;
        int32_t parent_fd;
} __attribute__((packed));
struct sbx_ll_net_attr {
        uint64_t allowed_access, port;
};
#define SBX_LL_RULE_PATH     1
#define SBX_LL_RULE_NET      2
#define SBX_LL_FS_EXECUTE    (1ull << 0)
#define SBX_LL_FS_WRITE_FILE (1ull << 1)
#define SBX_LL_FS_READ_FILE  (1ull << 2)
#define SBX_LL_FS_READ_DIR   (1ull << 3)
#define SBX_LL_FS_ABI1       ((1ull << 13) - 1)
#define SBX_LL_FS_REFER      (1ull << 13)
#define SBX_LL_FS_TRUNCATE   (1ull << 14)
#define SBX_LL_FS_IOCTL_DEV  (1ull << 15)
#define SBX_LL_NET_BIND      (1ull << 0)
#define SBX_LL_NET_CONNECT   (1ull << 1)
#define SBX_LL_SCOPE_ALL     3ull /* abstract unix sockets, signals */

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
        char tmp_opts[64]; /* the private /tmp's mount options */
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

/* dst = a + b, bounded; false when it does not fit. */
static bool path_join(char *dst, const char *a, const char *b)
{
        size_t la = strlen(a), lb = strlen(b);
        if (la + lb + 1 > SBX_PATH_MAX)
                return false;
        memcpy(dst, a, la);
        memcpy(dst + la, b, lb + 1);
        return true;
}

/* mkdir -p of every directory above path (and path itself when dir). */
static void mkdir_p(const struct child_args *a, char *path, bool dir)
{
        for (char *p = path + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                long r = rsys(syscall(SYS_mkdirat, AT_FDCWD, path, 0755));
                *p = '/';
                if (r < 0 && r != -EEXIST)
                        child_fail(a, "making a mount point", r);
        }
        long r =
            dir ? rsys(syscall(SYS_mkdirat, AT_FDCWD, path, 0755))
                : rsys(syscall(SYS_openat, AT_FDCWD, path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
        if (r < 0 && r != -EEXIST)
                child_fail(a, "making a mount point", r);
        if (!dir && r >= 0)
                syscall(SYS_close, r);
}

/* The flags a bind of a locked mount must keep when it is remounted. */
static unsigned long kept_flags(const char *path)
{
        struct statfs st;
        if (syscall(SYS_statfs, path, &st) < 0)
                return 0;
        return (unsigned long)st.f_flags &
               (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME);
}

/* src bound at /proc<dst> (the new root before the pivot). A missing src is skipped. */
static void bind_one(const struct child_args *a, const char *src, const char *dst, bool rw)
{
        char to[SBX_PATH_MAX];
        struct stat st;
        if (syscall(SYS_newfstatat, AT_FDCWD, src, &st, 0) < 0)
                return;
        if (!path_join(to, "/proc", dst))
                child_fail(a, "a mount point's path is too long", -ENAMETOOLONG);
        mkdir_p(a, to, S_ISDIR(st.st_mode));
        long r = rsys(syscall(SYS_mount, src, to, NULL, MS_BIND | MS_REC, NULL));
        if (r < 0)
                child_fail(a, "binding a path into the root", r);
        if (rw && S_ISCHR(st.st_mode))
                return; /* a device: as the host has it */
        unsigned long fl = MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | kept_flags(to);
        if (!rw)
                fl |= MS_RDONLY;
        if ((r = rsys(syscall(SYS_mount, NULL, to, NULL, fl, NULL))) < 0)
                child_fail(a, rw ? "remounting a bind" : "making a bind read-only", r);
}

/* What a bind shows at path (in the new root) made empty: a folder an
 * empty read-only tmpfs, a file /dev/null, read-only; nothing there, or
 * anything else, is left alone. */
static void hide_one(const struct child_args *a, const char *path)
{
        char to[SBX_PATH_MAX];
        struct stat st;
        if (!path_join(to, "/proc", path))
                child_fail(a, "a hidden path is too long", -ENAMETOOLONG);
        if (syscall(SYS_newfstatat, AT_FDCWD, to, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return;
        long r;
        if (S_ISDIR(st.st_mode)) {
                r = rsys(syscall(SYS_mount, "tmpfs", to, "tmpfs",
                                 MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                                 "size=4k,mode=0500"));
        } else if (S_ISREG(st.st_mode)) {
                r = rsys(syscall(SYS_mount, "/dev/null", to, NULL, MS_BIND, NULL));
                if (r >= 0)
                        r = rsys(syscall(SYS_mount, NULL, to, NULL,
                                         MS_REMOUNT | MS_BIND | MS_RDONLY | kept_flags(to), NULL));
        } else {
                return;
        }
        if (r < 0)
                child_fail(a, "hiding a path", r);
}

static void mount_tmpfs(const struct child_args *a, const char *at, const char *opts)
{
        char to[SBX_PATH_MAX];
        if (!path_join(to, "/proc", at))
                child_fail(a, "a mount point's path is too long", -ENAMETOOLONG);
        mkdir_p(a, to, true);
        long r = rsys(syscall(SYS_mount, "tmpfs", to, "tmpfs", MS_NOSUID | MS_NODEV, opts));
        if (r < 0)
                child_fail(a, "mounting a tmpfs", r);
}

/* A minimal /dev: the harmless devices bound from the host, and the usual links. */
static void make_dev(const struct child_args *a)
{
        static const char *const devs[] = {"/dev/null", "/dev/zero", "/dev/full", "/dev/random",
                                           "/dev/urandom"};
        mount_tmpfs(a, "/dev", "size=64k,mode=0755");
        for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++)
                bind_one(a, devs[i], devs[i], true);
        static const char *const links[][2] = {{"/proc/self/fd", "/proc/dev/fd"},
                                               {"/proc/self/fd/0", "/proc/dev/stdin"},
                                               {"/proc/self/fd/1", "/proc/dev/stdout"},
                                               {"/proc/self/fd/2", "/proc/dev/stderr"}};
        for (size_t i = 0; i < 4; i++)
                syscall(SYS_symlinkat, links[i][0], AT_FDCWD, links[i][1]);
        long r = rsys(syscall(SYS_mkdirat, AT_FDCWD, "/proc/dev/shm", 01777));
        if (r < 0)
                child_fail(a, "making /dev/shm", r);
}

/* The binds, /tmp and /dev, into the new root (mounted at /proc) before the pivot. */
static void fill_root(const struct child_args *a)
{
        const struct sbx_spec *s = a->s;
        /* /tmp first: a bind below it (a mount under the host's /tmp) goes on top */
        if (s->tmp_bytes)
                mount_tmpfs(a, "/tmp", a->tmp_opts);
        for (size_t i = 0; i < s->nbinds; i++)
                bind_one(a, s->binds[i].src, s->binds[i].dst, s->binds[i].rw);
        for (size_t i = 0; i < s->nhidden; i++)
                hide_one(a, s->hidden[i]);
        if (s->proc_dev) {
                make_dev(a);
                long r = rsys(syscall(SYS_mkdirat, AT_FDCWD, "/proc/proc", 0555));
                if (r < 0 && r != -EEXIST)
                        child_fail(a, "making /proc", r);
        }
}

/* Loopback up, and the bridge's listener sent back to the parent. */
static void make_bridge(const struct child_args *a)
{
        const struct sbx_spec *s = a->s;
        long fd = rsys(syscall(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        if (fd < 0)
                child_fail(a, "a socket to bring loopback up", fd);
        struct ifreq ifr;
        memset(&ifr, 0, sizeof(ifr));
        memcpy(ifr.ifr_name, "lo", 3);
        ifr.ifr_flags = IFF_UP | IFF_LOOPBACK | IFF_RUNNING;
        long r = rsys(syscall(SYS_ioctl, fd, SIOCSIFFLAGS, &ifr));
        syscall(SYS_close, fd);
        if (r < 0)
                child_fail(a, "bringing loopback up", r);
        if (!s->bridge)
                return;
        long l = rsys(syscall(SYS_socket, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (l < 0)
                child_fail(a, "the bridge's socket", l);
        struct sockaddr_in sin = {.sin_family = AF_INET,
                                  .sin_port = htons(s->bridge_port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        if ((r = rsys(syscall(SYS_bind, l, &sin, sizeof(sin)))) < 0)
                child_fail(a, "binding the bridge", r);
        if ((r = rsys(syscall(SYS_listen, l, 128))) < 0)
                child_fail(a, "listening on the bridge", r);
        char one = 'b';
        struct iovec iov = {.iov_base = &one, .iov_len = 1};
        union {
                char buf[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
        } u;
        memset(&u, 0, sizeof(u));
        struct msghdr m = {.msg_iov = &iov,
                           .msg_iovlen = 1,
                           .msg_control = u.buf,
                           .msg_controllen = sizeof(u.buf)};
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        int lfd = (int)l;
        memcpy(CMSG_DATA(c), &lfd, sizeof(int));
        if ((r = rsys(syscall(SYS_sendmsg, s->bridge_fd, &m, MSG_NOSIGNAL))) < 0)
                child_fail(a, "handing the bridge to osvm", r);
        syscall(SYS_close, l);
}

static uint64_t ll_fs_mask(long abi)
{
        uint64_t m = SBX_LL_FS_ABI1;
        if (abi >= 2)
                m |= SBX_LL_FS_REFER;
        if (abi >= 3)
                m |= SBX_LL_FS_TRUNCATE;
        if (abi >= 5)
                m |= SBX_LL_FS_IOCTL_DEV;
        return m;
}

static void ll_path(const struct child_args *a, long rs, const char *path, uint64_t access)
{
        long fd = rsys(syscall(SYS_openat, AT_FDCWD, path, O_PATH | O_CLOEXEC));
        if (fd < 0)
                return; /* not there: nothing to allow */
        struct stat st;
        if (syscall(SYS_fstat, fd, &st) == 0 && !S_ISDIR(st.st_mode))
                access &= SBX_LL_FS_EXECUTE | SBX_LL_FS_WRITE_FILE | SBX_LL_FS_READ_FILE |
                          SBX_LL_FS_TRUNCATE | SBX_LL_FS_IOCTL_DEV;
        struct sbx_ll_path_attr pa = {.allowed_access = access, .parent_fd = (int32_t)fd};
        long r = rsys(syscall(SYS_landlock_add_rule, rs, SBX_LL_RULE_PATH, &pa, 0));
        syscall(SYS_close, fd);
        if (r < 0)
                child_fail(a, "adding a Landlock rule", r);
}

/* The Landlock ruleset, applied last before seccomp (no_new_privs is set). */
static void apply_landlock(const struct child_args *a)
{
        const struct sbx_landlock *l = a->s->landlock;
        long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, 1 /* VERSION */);
        if (abi < 1)
                return; /* the caller reads sbx_landlock_abi() and says so */
        uint64_t fs = ll_fs_mask(abi);
        struct sbx_ll_ruleset_attr ra = {.handled_access_fs = fs};
        size_t size = sizeof(uint64_t);
        if (abi >= 4) {
                ra.handled_access_net = SBX_LL_NET_BIND | SBX_LL_NET_CONNECT;
                size = 2 * sizeof(uint64_t);
        }
        if (abi >= 6) {
                ra.scoped = SBX_LL_SCOPE_ALL;
                size = sizeof(ra);
        }
        long rs = rsys(syscall(SYS_landlock_create_ruleset, &ra, size, 0));
        if (rs < 0)
                child_fail(a, "creating the Landlock ruleset", rs);
        uint64_t ro = SBX_LL_FS_EXECUTE | SBX_LL_FS_READ_FILE | SBX_LL_FS_READ_DIR;
        for (size_t i = 0; i < l->nro; i++)
                ll_path(a, rs, l->ro[i], ro);
        for (size_t i = 0; i < l->nrw; i++)
                ll_path(a, rs, l->rw[i], fs & ~SBX_LL_FS_REFER);
        for (size_t i = 0; i < l->nlist; i++)
                ll_path(a, rs, l->list[i], SBX_LL_FS_READ_DIR);
        if (abi >= 4 && l->connect_port) {
                struct sbx_ll_net_attr na = {.allowed_access = SBX_LL_NET_CONNECT,
                                             .port = l->connect_port};
                long r = rsys(syscall(SYS_landlock_add_rule, rs, SBX_LL_RULE_NET, &na, 0));
                if (r < 0)
                        child_fail(a, "adding a Landlock rule", r);
        }
        long r = rsys(syscall(SYS_landlock_restrict_self, rs, 0));
        syscall(SYS_close, rs);
        if (r < 0)
                child_fail(a, "applying the Landlock ruleset", r);
}

/* Every signal back to its default disposition (osvm ignores SIGPIPE; exec keeps that). */
static void default_signals(void)
{
        struct {
                void *handler;
                unsigned long flags;
                void *restorer;
                uint64_t mask;
        } act = {SIG_DFL, 0, NULL, 0};
        for (int sig = 1; sig < 65; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        syscall(SYS_rt_sigaction, sig, &act, NULL, 8);
}

/* / becomes an empty read-only tmpfs: a tmpfs over /proc (a directory every
 * Linux has), filled with the spec's binds, pivoted into, its own /proc
 * mounted while the host's is still in view (the kernel asks for that), the
 * old root detached. */
static void empty_root(const struct child_args *a)
{
        long r;
        if ((r = rsys(syscall(SYS_mount, "none", "/", "none", MS_REC | MS_PRIVATE, NULL))) < 0)
                child_fail(a, "making mounts private", r);
        if ((r = rsys(syscall(SYS_mount, "osvm", "/proc", "tmpfs", MS_NOSUID | MS_NODEV,
                              "size=64k,mode=0755"))) < 0)
                child_fail(a, "mounting the empty root", r);
        if ((r = rsys(syscall(SYS_mkdirat, AT_FDCWD, "/proc/old", 0700))) < 0)
                child_fail(a, "mkdir in the empty root", r);
        fill_root(a);
        if ((r = rsys(syscall(SYS_pivot_root, "/proc", "/proc/old"))) < 0)
                child_fail(a, "pivot_root", r);
        if ((r = rsys(syscall(SYS_chdir, "/"))) < 0)
                child_fail(a, "chdir /", r);
        if (a->s->proc_dev && (a->ns & SBX_NS_PID) &&
            (r = rsys(syscall(SYS_mount, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                              NULL))) < 0)
                child_fail(a, "mounting /proc", r);
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
        if (s->bridge && (a->ns & SBX_NS_NET))
                make_bridge(a);
        for (size_t i = 0; i < s->ncgroup_fds; i++)
                if ((r = rsys(syscall(SYS_write, s->cgroup_fds[i], "0\n", (size_t)2))) < 0)
                        child_fail(a, "joining a cgroup", r);
        if ((a->ns & SBX_NS_MOUNT) && a->empty_root)
                empty_root(a);
        if (s->own_pgroup && (r = rsys(syscall(SYS_setpgid, 0, 0))) < 0)
                child_fail(a, "setpgid", r);
        /* the fds first: a small RLIMIT_NOFILE would refuse the moves */
        child_fds(a);
        if (s->cwd && (r = rsys(syscall(SYS_chdir, s->cwd))) < 0)
                child_fail(a, "chdir to the working directory", r);
        for (size_t i = 0; i < s->nrlimits; i++) {
                struct rlimit l = {s->rlimits[i].value, s->rlimits[i].value};
                if ((r = rsys(syscall(SYS_prlimit64, 0, s->rlimits[i].resource, &l, NULL))) < 0)
                        child_fail(a, "setting an rlimit", r);
        }
        if (s->pdeathsig && (r = rsys(syscall(SYS_prctl, PR_SET_PDEATHSIG, s->pdeathsig))) < 0)
                child_fail(a, "PR_SET_PDEATHSIG", r);
        /* signals: every one at its default, nothing blocked */
        default_signals();
        uint64_t none = 0;
        syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, 8);
        drop_capabilities(a);
        if ((r = rsys(syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))) < 0)
                child_fail(a, "PR_SET_NO_NEW_PRIVS", r);
        if (s->landlock)
                apply_landlock(a);
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
                /* (a report that cannot be read is no sign that the child exec'd) */
                if (r < 0)
                        return err_sys(e, "confining a child: reading its report");
                if (r == 0)
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

static int spawn_here(const struct sbx_spec *s, struct sbx_child *c, osvm_err *e)
{
        memset(c, 0, sizeof(*c));
        c->pidfd = -1;
        c->pid = -1;
        struct child_args a = {.s = s, .uid = getuid(), .gid = getgid(), .exec_fd = s->exec_fd};
        fmt_map(a.uid_map, sizeof(a.uid_map), a.uid);
        fmt_map(a.gid_map, sizeof(a.gid_map), a.gid);
        snprintf(a.tmp_opts, sizeof(a.tmp_opts), "size=%llu,mode=1777",
                 (unsigned long long)s->tmp_bytes);
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

/*
 * PR_SET_PDEATHSIG fires when the thread that made the child ends, not when
 * osvm does: a child made by a thread that lives for one call (the gateway's,
 * a start-up's) would be killed as that thread returns. So a child that is
 * to die with osvm is made by one thread that lives as long as osvm, whoever
 * asks; one at a time (a spawn takes a few milliseconds).
 */
struct spawn_job {
        const struct sbx_spec *s;
        struct sbx_child *c;
        osvm_err *e;
        int r;
        bool done;
};

static pthread_mutex_t spawner_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t spawner_cv = PTHREAD_COND_INITIALIZER;
static struct spawn_job *spawner_job; /* the one being made; NULL: none */
static bool spawner_up;

static void *spawner_main(void *arg)
{
        (void)arg;
        pthread_mutex_lock(&spawner_mu);
        for (;;) {
                while (!spawner_job || spawner_job->done)
                        pthread_cond_wait(&spawner_cv, &spawner_mu);
                struct spawn_job *j = spawner_job;
                pthread_mutex_unlock(&spawner_mu);
                j->r = spawn_here(j->s, j->c, j->e);
                pthread_mutex_lock(&spawner_mu);
                j->done = true;
                pthread_cond_broadcast(&spawner_cv);
        }
        return NULL;
}

/* Under spawner_mu. Its signals all blocked: they go to osvm's other threads. */
static bool spawner_start(void)
{
        if (spawner_up)
                return true;
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        pthread_t t;
        spawner_up = pthread_create(&t, &at, spawner_main, NULL) == 0;
        pthread_attr_destroy(&at);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return spawner_up;
}

int sbx_spawn(const struct sbx_spec *s, struct sbx_child *c, osvm_err *e)
{
        if (!s->pdeathsig)
                return spawn_here(s, c, e);
        struct spawn_job j = {.s = s, .c = c, .e = e};
        pthread_mutex_lock(&spawner_mu);
        if (!spawner_start()) {
                pthread_mutex_unlock(&spawner_mu);
                memset(c, 0, sizeof(*c));
                c->pid = c->pidfd = -1;
                return err_set(e, EAGAIN, "confining a child: no thread to make it from");
        }
        while (spawner_job)
                pthread_cond_wait(&spawner_cv, &spawner_mu);
        spawner_job = &j;
        pthread_cond_broadcast(&spawner_cv);
        while (!j.done)
                pthread_cond_wait(&spawner_cv, &spawner_mu);
        spawner_job = NULL;
        pthread_cond_broadcast(&spawner_cv);
        pthread_mutex_unlock(&spawner_mu);
        return j.r;
}

int sbx_landlock_abi(void)
{
        long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, 1 /* VERSION */);
        return abi < 0 ? 0 : (int)abi;
}

int sbx_bridge_recv(int fd, osvm_err *e)
{
        char one;
        struct iovec iov = {.iov_base = &one, .iov_len = 1};
        union {
                char buf[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
        } u;
        struct msghdr m = {.msg_iov = &iov,
                           .msg_iovlen = 1,
                           .msg_control = u.buf,
                           .msg_controllen = sizeof(u.buf)};
        ssize_t n;
        do
                n = recvmsg(fd, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return err_sys(e, "receiving the sandbox's proxy bridge");
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        if (n != 1 || !c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
            c->cmsg_len != CMSG_LEN(sizeof(int)))
                return err_set(e, EPROTO, "the sandbox did not hand over its proxy bridge");
        int lfd;
        memcpy(&lfd, CMSG_DATA(c), sizeof(int));
        return lfd;
}

bool sbx_userns_usable(char *why, size_t n)
{
        static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
        static int cached = -1; /* 1 usable, 0 refused (both kept); -1 not yet known */
        static char cached_why[160];
        if (no_userns_env()) {
                snprintf(why, n, "%s=1", SBX_NO_USERNS_ENV);
                return false;
        }
        pthread_mutex_lock(&mu);
        int err = 0;
        /* EAGAIN and ENOMEM pass (a process limit reached for a moment): tried again a
         * few times, and not kept if they last */
        for (int round = 0; cached < 0 && round < 5; round++) {
                pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, 0);
                if (pid == 0)
                        syscall(SYS_exit_group, 0);
                err = pid < 0 ? errno : 0;
                if (pid > 0) {
                        int st;
                        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                                ;
                }
                if (err != EAGAIN && err != ENOMEM) {
                        if (err)
                                snprintf(cached_why, sizeof(cached_why),
                                         "user namespaces are refused here (%s)", strerror(err));
                        cached = err ? 0 : 1;
                        break;
                }
                usleep(10000u << round);
        }
        if (cached < 0)
                snprintf(why, n,
                         "user namespaces could not be probed now (%s: a process or memory limit)",
                         strerror(err));
        else
                snprintf(why, n, "%s", cached ? "" : cached_why);
        bool usable = cached == 1;
        pthread_mutex_unlock(&mu);
        return usable;
}
