/*
 * sandbox: confinement for a child process of osvm, made before it execs:
 * new user, mount, pid, net, ipc and uts namespaces (an empty, read-only
 * root), rlimits, every fd closed but the ones it is given, no capability
 * (the bounding set emptied), no new privileges, a parent-death signal, and
 * optionally a seccomp filter.
 *
 * Used by the engine's process platform (the zygote its stub processes are
 * forked from, src/vmm/proc_x86_64.c) and meant for the MCP server sandbox.
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
        int pdeathsig; /* sent to the child when the thread that made it ends; 0: none */
        /* a filter installed last, after no_new_privs (which is always set); NULL: none */
        const struct sock_fprog *seccomp;
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

/* OSVM_SANDBOX_NO_USERNS=1: behave as a host without unprivileged user
 * namespaces (for tests, and for users whose host misbehaves with them). */
#define SBX_NO_USERNS_ENV "OSVM_SANDBOX_NO_USERNS"

#endif
