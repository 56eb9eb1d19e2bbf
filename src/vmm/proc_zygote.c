/*
 * The process platform's zygote: the embedded stub program (stub/), started
 * once per osvm process by src/sandbox in new namespaces with an empty root,
 * with the one seccomp filter every stub inherits. It forks the stubs, a
 * request's worth at a time, sends osvm their pidfds, and reaps them. Its
 * socket is the only way osvm and it speak; every answer it gives is
 * checked. The design: docs/vmm.md, "The zygote and the stubs".
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/sandbox.h"
#include "vmm/proc.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x10u
#endif

static pthread_mutex_t zyg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
        bool up;
        int sock, pidfd;
        pid_t pid;
        unsigned ns;
        bool sud;
        char note[256];
        int stub_fd; /* the stub program in a sealed memfd */
        int err;     /* why it could not start (0: not tried or up) */
        char why[256];
} zyg = {.sock = -1, .pidfd = -1, .stub_fd = -1};

static int stub_memfd(osvm_err *e)
{
        if (zyg.stub_fd >= 0)
                return zyg.stub_fd;
        size_t len = (size_t)(vmm_stub_blob_end - vmm_stub_blob);
        int fd = memfd_create("osvm-stub", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
        if (fd < 0 && errno == EINVAL)
                fd = memfd_create("osvm-stub", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0)
                return err_sys(e, "the stub program: memfd");
        if (write(fd, vmm_stub_blob, len) != (ssize_t)len ||
            fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
                err_sys(e, "the stub program: writing its memfd");
                close(fd);
                return -1;
        }
        zyg.stub_fd = fd;
        return fd;
}

/* Waits for fd to be readable, at most ms; 0, or -ETIMEDOUT. */
int vmm_proc_wait_readable(int fd, int ms)
{
        uint64_t until = time_mono_ns() + (uint64_t)ms * 1000000ull;
        for (;;) {
                struct pollfd p = {.fd = fd, .events = POLLIN};
                uint64_t now = time_mono_ns();
                if (now >= until)
                        return -ETIMEDOUT;
                int r = poll(&p, 1, (int)((until - now) / 1000000ull) + 1);
                if (r > 0)
                        return 0;
                if (r < 0 && errno != EINTR)
                        return -errno;
        }
}

/* PIDFD_GET_INFO (Linux 6.13; newer than the headers we build with): the
 * first version of its struct, which every later kernel accepts. */
struct proc_pidfd_info {
        uint64_t mask, cgroupid;
        uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid, spare0;
};
#define PROC_PIDFD_GET_INFO _IOWR(0xFF, 11, struct proc_pidfd_info)

/* The pid here of the process a pidfd names (one ioctl where the kernel has
 * it, else from the pidfd's fdinfo), or 0. */
int vmm_proc_pidfd_pid(int pidfd)
{
        struct proc_pidfd_info info = {.mask = 1 /* PIDFD_INFO_PID */};
        if (ioctl(pidfd, PROC_PIDFD_GET_INFO, &info) == 0 && info.pid > 0 && info.pid <= INT32_MAX)
                return (int)info.pid;
        char path[64], buf[512];
        snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
        if (fs_read_proc(path, buf, sizeof(buf)) <= 0)
                return 0;
        const char *p = strstr(buf, "\nPid:");
        return p ? (int)strtol(p + 5, NULL, 10) : 0;
}

/* SIGKILL to the process of pidfd (by its pid where pidfd_send_signal is
 * missing, as under valgrind: the pidfd keeps the pid from reuse). */
void vmm_proc_pidfd_kill(int pidfd)
{
        if (syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0) == 0 || errno != ENOSYS)
                return;
        int pid = vmm_proc_pidfd_pid(pidfd);
        if (pid > 0)
                kill(pid, SIGKILL);
}

static void zyg_down(void)
{
        if (zyg.sock >= 0)
                close(zyg.sock);
        if (zyg.pidfd >= 0) {
                vmm_proc_pidfd_kill(zyg.pidfd);
                close(zyg.pidfd);
        }
        if (zyg.pid > 0)
                waitpid(zyg.pid, NULL, 0);
        zyg.sock = zyg.pidfd = -1;
        zyg.pid = 0;
        zyg.up = false;
}

/* One message of len bytes (a shorter one is -EPROTO) and up to maxfds fds
 * with it (*nfds of them; any past maxfds closed); -ETIMEDOUT past the
 * socket's receive timeout (PROC_SETUP_WAIT_MS), -EPIPE when the zygote is
 * gone. */
static int zyg_recv(void *msg, size_t len, int *fds, size_t maxfds, size_t *nfds)
{
        *nfds = 0;
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(VMM_PROC_FORK_MAX * sizeof(int))];
        } c;
        struct iovec v = {msg, len};
        struct msghdr h = {
            .msg_iov = &v, .msg_iovlen = 1, .msg_control = c.buf, .msg_controllen = sizeof(c.buf)};
        ssize_t r;
        do
                r = recvmsg(zyg.sock, &h, MSG_CMSG_CLOEXEC);
        while (r < 0 && errno == EINTR);
        if (r < 0)
                return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
        if (r == 0)
                return -EPIPE;
        struct cmsghdr *ch = CMSG_FIRSTHDR(&h);
        if (ch && ch->cmsg_level == SOL_SOCKET && ch->cmsg_type == SCM_RIGHTS &&
            ch->cmsg_len >= CMSG_LEN(0)) {
                size_t got = (ch->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < got; i++) {
                        int fd;
                        memcpy(&fd, CMSG_DATA(ch) + i * sizeof(int), sizeof(int));
                        if (*nfds < maxfds)
                                fds[(*nfds)++] = fd;
                        else
                                close(fd);
                }
        }
        return r == (ssize_t)len ? 0 : -EPROTO;
}

/* A message without fds. */
static int zyg_recv_msg(struct vmm_proc_msg *m)
{
        size_t n;
        return zyg_recv(m, sizeof(*m), NULL, 0, &n);
}

static int zyg_send(uint32_t type, int64_t arg, int64_t arg2, const int *fds, size_t nfds)
{
        struct vmm_proc_msg m = {.type = type, .arg = arg, .arg2 = arg2};
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(3 * VMM_PROC_FORK_MAX * sizeof(int))];
        } c;
        memset(&c, 0, sizeof(c));
        struct iovec v = {&m, sizeof(m)};
        struct msghdr h = {.msg_iov = &v, .msg_iovlen = 1};
        if (nfds > 0) {
                h.msg_control = c.buf;
                h.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
                struct cmsghdr *ch = CMSG_FIRSTHDR(&h);
                ch->cmsg_level = SOL_SOCKET;
                ch->cmsg_type = SCM_RIGHTS;
                ch->cmsg_len = CMSG_LEN(nfds * sizeof(int));
                memcpy(CMSG_DATA(ch), fds, nfds * sizeof(int));
        }
        ssize_t r;
        do
                r = sendmsg(zyg.sock, &h, MSG_NOSIGNAL);
        while (r < 0 && errno == EINTR);
        return r == (ssize_t)sizeof(m) ? 0 : r < 0 ? -errno : -EPROTO;
}

/* Which of the zygote's steps failed (its HELLO's arg2), in words. */
static const char *zygote_step_words(int64_t step)
{
        switch (step) {
        case VMM_PROC_ZSTEP_FILTER:
                return "building its system call filter";
        case VMM_PROC_ZSTEP_IMAGE:
                return "making its own pages anonymous (mmap, mprotect, mremap, madvise)";
        case VMM_PROC_ZSTEP_STACK:
                return "the stubs' stack (mmap), its own kept out of forks (madvise)";
        case VMM_PROC_ZSTEP_ALTSTACK:
                return "the stubs' signal stack (sigaltstack)";
        case VMM_PROC_ZSTEP_SIGACTION:
                return "the stubs' trap handlers (rt_sigaction)";
        case VMM_PROC_ZSTEP_NO_NEW_PRIVS:
                return "PR_SET_NO_NEW_PRIVS";
        case VMM_PROC_ZSTEP_SECCOMP:
                return "installing its seccomp filter";
        default:
                return "a step it did not name";
        }
}

/* Starts the zygote (under zyg_lock): 0, or -1 with e. */
static int zyg_start(osvm_err *e)
{
        int sfd = stub_memfd(e);
        if (sfd < 0)
                return -1;
        int sv[2];
        /* a reply bounded by the receive timeout: no poll before each */
        struct timeval tv = {PROC_SETUP_WAIT_MS / 1000, (PROC_SETUP_WAIT_MS % 1000) * 1000};
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return err_sys(e, "the zygote's socket");
        if (setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
                err_sys(e, "the zygote's socket: its timeout");
                close(sv[0]);
                close(sv[1]);
                return -1;
        }
        char *argv[] = {"osvm-stub", NULL};
        char *envp[] = {NULL};
        struct sbx_spec s = {.ns = SBX_NS_ALL,
                             .empty_root = true,
                             .stdio = {-1, -1, -1},
                             .keep = &sv[1],
                             .nkeep = 1,
                             /* the zygote sets its own limits (the stub program) */
                             .exec_fd = sfd,
                             .argv = argv,
                             .envp = envp};
        struct sbx_child c;
        int r = sbx_spawn(&s, &c, e);
        close(sv[1]);
        if (r < 0) {
                close(sv[0]);
                return err_wrap(e, "starting the zygote");
        }
        zyg.sock = sv[0];
        zyg.pidfd = c.pidfd;
        zyg.pid = c.pid;
        zyg.ns = c.ns;
        snprintf(zyg.note, sizeof(zyg.note), "%s", c.note);
        struct vmm_proc_msg m;
        int w = zyg_recv_msg(&m);
        if (w < 0 || m.type != VMM_PROC_MSG_HELLO || m.arg != VMM_PROC_ABI) {
                if (w < 0)
                        err_set(e, -w, "the zygote did not start: %s", strerror(-w));
                else if (m.arg < 0)
                        err_set(e, (int)-m.arg, "the zygote could not confine itself: %s: %s",
                                zygote_step_words(m.arg2), strerror((int)-m.arg));
                else
                        err_set(e, EPROTO, "the zygote speaks ABI %lld, not %d", (long long)m.arg,
                                VMM_PROC_ABI);
                zyg_down();
                return -1;
        }
        zyg.sud = m.arg2 & 1;
        zyg.up = true;
        return 0;
}

/* The zygote, started when needed; under zyg_lock. */
static int zyg_ensure(osvm_err *e)
{
        return zyg.up ? 0 : zyg_start(e);
}

/* Whether w, a send's or a receive's -errno, says the zygote is gone. */
static bool zyg_gone(int w)
{
        return w == -EPIPE || w == -ECONNRESET;
}

/*
 * n stubs (1 to VMM_PROC_FORK_MAX), each for per of fds in turn (memfd,
 * ctlfd, and imgfd when per is 3), in one request: pids[i] > 0 with its
 * pidfd in pidfds[i], or -errno with pidfds[i] -1. 0, or -1 with e when
 * the zygote made none. A zygote found gone (it died since the last
 * request, or with this one, and every stub of its pid namespace with it)
 * is replaced and asked again, once.
 */
int vmm_proc_zyg_fork(const int *fds, size_t per, size_t n, int *pids, int *pidfds, osvm_err *e)
{
        struct vmm_proc_forked f;
        int got[VMM_PROC_FORK_MAX];
        size_t ngot = 0;
        int w = 0;
        for (size_t i = 0; i < n; i++)
                pidfds[i] = -1;
        pthread_mutex_lock(&zyg_lock);
        for (int attempt = 0; attempt < 2; attempt++) {
                if (zyg_ensure(e) < 0) {
                        pthread_mutex_unlock(&zyg_lock);
                        return -1;
                }
                w = zyg_send(VMM_PROC_MSG_FORK, (int64_t)n, (int64_t)per, fds, n * per);
                if (w == 0)
                        w = zyg_recv(&f, sizeof(f), got, VMM_PROC_FORK_MAX, &ngot);
                if (!zyg_gone(w) || attempt > 0)
                        break;
                log_warn("vmm: the process platform's zygote ended; starting another");
                zyg_down();
        }
        if (w == 0 && (f.type != VMM_PROC_MSG_FORK || f.n != n))
                w = -EPROTO;
        /* each stub made takes the next pidfd passed */
        size_t k = 0, made = 0;
        for (size_t i = 0; w == 0 && i < n; i++) {
                int64_t p = f.pid[i];
                if (p <= 0) {
                        pids[i] = p < 0 && p > -4096 ? (int)p : -EPROTO;
                        continue;
                }
                int fd = k < ngot ? got[k++] : -1;
                if (p > INT32_MAX || fd < 0) { /* not a pid, or a pid without its pidfd */
                        if (fd >= 0)
                                close(fd);
                        pids[i] = -EPROTO;
                        continue;
                }
                pids[i] = (int)p;
                pidfds[i] = fd;
                made++;
        }
        for (; k < ngot; k++) /* more pidfds than stubs: none of them used */
                close(got[k]);
        int r = 0;
        if (w < 0 || made == 0) {
                int why = w < 0 ? w : pids[0];
                for (size_t i = 0; i < n; i++) {
                        if (pidfds[i] >= 0)
                                close(pidfds[i]);
                        pidfds[i] = -1;
                        pids[i] = why;
                }
                r = err_set(e, -why, "the zygote could not fork a stub: %s", strerror(-why));
                if (why != -EAGAIN && why != -ENOMEM)
                        zyg_down();
        }
        pthread_mutex_unlock(&zyg_lock);
        return r;
}

/* The wait status of an ended stub: >= 0, or -errno (-EAGAIN: not ended). */
int vmm_proc_zyg_reap(int pid)
{
        pthread_mutex_lock(&zyg_lock);
        int r = -ESRCH;
        if (zyg.up) {
                struct vmm_proc_msg m;
                r = zyg_send(VMM_PROC_MSG_REAP, pid, 0, NULL, 0);
                if (r == 0)
                        r = zyg_recv_msg(&m);
                if (r == 0)
                        r = m.type == VMM_PROC_MSG_REAP ? (int)m.arg : -EPROTO;
        }
        pthread_mutex_unlock(&zyg_lock);
        return r;
}

bool vmm_proc_probe(char *why, size_t n)
{
        osvm_err e = {0};
        pthread_mutex_lock(&zyg_lock);
        int r = zyg_ensure(&e);
        char ns[96];
        sbx_ns_words(zyg.ns, ns, sizeof(ns));
        if (n && r == 0)
                snprintf(why, n,
                         "a trapped process per call (%s; a kill-by-default seccomp filter; "
                         "namespaces: %s%s%s)",
                         zyg.sud ? "Syscall User Dispatch" : "seccomp traps", ns,
                         zyg.note[0] ? "; " : "", zyg.note);
        else if (n)
                snprintf(why, n, "the process platform cannot start: %s", e.msg);
        pthread_mutex_unlock(&zyg_lock);
        return r == 0;
}

void vmm_proc_zyg_stop(void)
{
        pthread_mutex_lock(&zyg_lock);
        if (zyg.up || zyg.pid > 0)
                zyg_down();
        pthread_mutex_unlock(&zyg_lock);
}
