/*
 * sandbox: confinement for a child process of osvm, made before it execs:
 * new user, mount, pid, net, ipc and uts namespaces (an empty, read-only
 * root), rlimits, every fd closed but the ones it is given, no capability
 * (the bounding set emptied), no new privileges, a parent-death signal, and
 * optionally a seccomp filter.
 *
 * Used by the engine's process platform (the zygote its stub processes are
 * forked from, src/vmm/proc_zygote.c) and by the MCP server sandbox
 * (src/mcp/confine.c), which also asks for read-only and writable binds in
 * the empty root, a private /tmp, its own /proc, a minimal /dev, a loopback
 * listener handed back to osvm (the proxy bridge), Landlock, cgroups and
 * the server filter (sbx_server_filter).
 * Where unprivileged user namespaces are missing, the child gets what the
 * host allows (the other namespaces need root) and the result says what it
 * went without and why: never silently.
 *
 * Everything the child does between clone and exec is a raw system call
 * (no malloc, no locks): safe from a process with many threads.
 */
#ifndef OSVM_SANDBOX_H
#define OSVM_SANDBOX_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/base.h"

enum {
        SBX_NS_USER = 1u << 0,
        SBX_NS_MOUNT = 1u << 1,
        SBX_NS_PID = 1u << 2,
        SBX_NS_NET = 1u << 3,
        SBX_NS_IPC = 1u << 4,
        SBX_NS_UTS = 1u << 5,
        SBX_NS_ALL = (1u << 6) - 1,
};

/* A resource limit, soft and hard alike. */
struct sbx_rlimit {
        int resource; /* RLIMIT_* */
        uint64_t value;
};

/* A host path bound into the empty root at dst (read-only unless rw). */
struct sbx_bind {
        const char *src, *dst;
        bool rw;
};

/* Landlock rules: paths (as the child sees them) readable and executable, or
 * writable too; TCP connections allowed only to connect_port (0: none), no
 * TCP bind; abstract unix sockets and signals scoped to the sandbox where
 * the kernel can. Paths that do not exist are skipped. */
struct sbx_landlock {
        const char *const *ro;
        size_t nro;
        const char *const *rw;
        size_t nrw;
        /* folders whose names may be listed (and those of the folders below
         * them), nothing more */
        const char *const *list;
        size_t nlist;
        uint16_t connect_port;
};

struct sbx_spec {
        unsigned ns;     /* SBX_NS_* wanted */
        bool empty_root; /* with SBX_NS_MOUNT: / is an empty read-only tmpfs, cwd / */
        /* the child's fds 0, 1, 2 (-1: closed) */
        int stdio[3];
        /* fds given to the child, as 3, 4, ... in this order; every other fd is closed */
        const int *keep;
        size_t nkeep;
        const struct sbx_rlimit *rlimits;
        size_t nrlimits;
        int pdeathsig; /* sent to the child when osvm ends (it is made by a thread that
                        * lives as long as osvm); 0: none */
        /* a filter installed last, after no_new_privs (which is always set); NULL: none */
        const struct sock_fprog *seccomp;
        /* with empty_root: bound into it, made before the root turns read-only */
        const struct sbx_bind *binds;
        size_t nbinds;
        /* with empty_root: paths the binds show that the child must not see,
         * each made empty after the binds (a folder an empty read-only tmpfs,
         * a file /dev/null); one the root does not hold is left alone */
        const char *const *hidden;
        size_t nhidden;
        uint64_t tmp_bytes; /* with empty_root: a private /tmp of this size; 0: none */
        bool proc_dev;      /* with empty_root: its own /proc (with SBX_NS_PID), a minimal /dev */
        const char *cwd;    /* its working directory; NULL: / */
        bool own_pgroup;    /* a process group of its own (Ctrl-C at the terminal is not its) */
        /* with SBX_NS_NET: loopback up, a TCP listener on 127.0.0.1:bridge_port
         * made there and sent back over bridge_fd (SCM_RIGHTS) before exec */
        bool bridge;
        int bridge_fd;
        uint16_t bridge_port;
        const struct sbx_landlock *landlock; /* NULL: none */
        /* open cgroup.procs files (v1 or v2) the child joins before exec */
        const int *cgroup_fds;
        size_t ncgroup_fds;
        /* what runs: exec_fd (execveat AT_EMPTY_PATH, a memfd for example) when
         * >= 0, else path */
        int exec_fd;
        const char *path;
        char *const *argv;
        char *const *envp;
};

struct sbx_child {
        pid_t pid;
        int pidfd;
        unsigned ns;    /* the namespaces it got */
        char note[256]; /* what it went without, and why; "" when nothing */
};

/*
 * Makes the child and execs it. 0, or -1 with e naming the step that failed
 * (the child reports it before it exits). The caller owns c->pidfd and
 * waits for the child.
 */
int sbx_spawn(const struct sbx_spec *s, struct sbx_child *c, osvm_err *e);

/* SBX_NS_* as words ("user, mount, pid, net, ipc, uts"; "none"). */
void sbx_ns_words(unsigned ns, char *out, size_t n);

/* The Landlock ABI of this kernel (0: none, or off). */
int sbx_landlock_abi(void);

/*
 * The seccomp filter of a confined MCP server (built with libseccomp, into
 * prog->filter, malloc'd; free it): refuses ptrace, process_vm_*, mount and
 * the new mount API, pivot_root, bpf, keyctl, add_key, io_uring,
 * userfaultfd, perf_event_open, kexec, modules, new user namespaces, setns,
 * and sockets other than TCP over IPv4/IPv6 and netlink: no raw, packet,
 * UDP or unix sockets (socketpair stays). Errors answer EPERM (ENOSYS for
 * clone3 and io_uring, so that libraries fall back).
 */
int sbx_server_filter(struct sock_fprog *prog, osvm_err *e);

/* Receives the bridge listener the child sent on fd (SCM_RIGHTS); -1 with e. */
int sbx_bridge_recv(int fd, osvm_err *e);

/* Whether unprivileged user namespaces can be made here (probed once, with a
 * child that exits at once); why not, in why. OSVM_SANDBOX_NO_USERNS=1: no. */
bool sbx_userns_usable(char *why, size_t n);

/* One child's cgroups: one group on cgroup v2, one per controller on v1. */
struct sbx_cgroup {
        int n;
        char dir[3][300];
        int procs_fd[3]; /* give these to sbx_spec.cgroup_fds */
        char what[200];  /* what it is ("cgroup v2 (memory, pids)"), or why there is none */
};
/* Makes the groups with their limits; -1 (cg->what says why) where the host does not let us.
 * cpus: CPUs' worth of time (cpu.max, cpu.cfs_quota_us), 0: no limit; left out, and said in
 * cg->what, where the cpu controller is not writable. On cgroup v2 the first call may move
 * osvm itself into a leaf of its own group (src/sandbox/cgroup.c says when). */
int sbx_cgroup_make(struct sbx_cgroup *cg, const char *name, uint64_t mem_bytes, unsigned pids,
                    unsigned cpus);
/* Which cgroups sbx_cgroup_make uses here ("cgroup v2", "cgroup v1"), or NULL and why not
 * (why may be NULL). Looks, changes nothing. */
const char *sbx_cgroup_kind(char *why, size_t n);
/* Whether sbx_cgroup_make can work here: sbx_cgroup_kind is not NULL. */
bool sbx_cgroup_usable(void);
/* After the spawn: the parent's cgroup.procs fds closed. */
void sbx_cgroup_close_fds(struct sbx_cgroup *cg);
/* After the child ended: what it left in the groups killed, the groups removed. */
void sbx_cgroup_end(struct sbx_cgroup *cg);

/* OSVM_SANDBOX_NO_USERNS=1: behave as a host without unprivileged user
 * namespaces (for tests, and for users whose host misbehaves with them). */
#define SBX_NO_USERNS_ENV "OSVM_SANDBOX_NO_USERNS"

#endif
