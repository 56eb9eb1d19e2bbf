/*
 * cgroups for a confined child: memory, process and CPU limits where the
 * host lets osvm make groups. The child joins through a cgroup.procs file
 * opened here and written by the child itself before it execs (sbx_spec's
 * cgroup_fds), so that nothing it runs is ever outside its group.
 *
 * Two ways, the first that works here:
 * - cgroup v2, where osvm's own group is delegated to it (writable, with the
 *   memory and pids controllers): `systemd-run --user --scope -p
 *   Delegate=yes`, a container with a cgroup of its own, or root. The
 *   children's groups are made inside osvm's group. v2 lets a group hand
 *   controllers to its children only while it holds no process itself (the
 *   root group aside), so where osvm's group holds osvm alone, osvm first
 *   moves itself into a leaf of it, `osvm`; where it holds other processes
 *   too, osvm moves nothing and says why.
 * - cgroup v1, where the memory and pids hierarchies are writable by this
 *   user (as root has them): a group in each, and in cpu for a CPU quota.
 */
#include "sandbox/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CG_V1 "/sys/fs/cgroup"

static bool write_text(const char *dir, const char *file, const char *text)
{
        char path[PATH_MAX + 64];
        snprintf(path, sizeof(path), "%s/%s", dir, file);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        size_t n = strlen(text);
        bool ok = write(fd, text, n) == (ssize_t)n;
        int saved = errno;
        close(fd);
        errno = saved;
        return ok;
}

static bool write_value(const char *dir, const char *file, unsigned long long v)
{
        char text[32];
        snprintf(text, sizeof(text), "%llu\n", v);
        return write_text(dir, file, text);
}

/* A small file of a cgroup (a list of controllers, of pids), read whole; "" if unreadable. */
static void read_small(const char *dir, const char *file, char *out, size_t n)
{
        char path[PATH_MAX + 64];
        snprintf(path, sizeof(path), "%s/%s", dir, file);
        out[0] = '\0';
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return;
        size_t got = 0;
        ssize_t k;
        while (got < n - 1 && (k = read(fd, out + got, n - 1 - got)) > 0)
                got += (size_t)k;
        out[got] = '\0';
        close(fd);
}

/* Whether the space-separated list holds word. */
static bool has_word(const char *list, const char *word)
{
        size_t w = strlen(word);
        for (const char *p = list; (p = strstr(p, word)) != NULL; p += w)
                if ((p == list || p[-1] == ' ' || p[-1] == '\n') &&
                    (p[w] == '\0' || p[w] == ' ' || p[w] == '\n'))
                        return true;
        return false;
}

/* ---- cgroup v2 ---- */

/* What the host offers, looked at once (v2_probe), and where the servers' groups go. */
static struct {
        bool usable;
        bool controllers;   /* osvm's group has memory and pids: v2 is how this host does it */
        bool own_ok;        /* osvm's group is writable: delegated to this user */
        bool top_ok;        /* the hierarchy's top is writable (root, no cgroup namespace) */
        bool cpu;           /* the cpu controller is there too */
        char own[PATH_MAX]; /* osvm's group, as a path */
        char top[PATH_MAX]; /* where the hierarchy is mounted */
        char why[200];      /* why it is not usable */
        /* set by v2_prepare: the group the servers' groups are made in */
        char dir[PATH_MAX];
} v2;
static pthread_once_t v2_once = PTHREAD_ONCE_INIT;

/* The first field of s (space-separated) into out, with mountinfo's \ooo escapes undone. */
static const char *mountinfo_field(const char *s, char *out, size_t n)
{
        size_t o = 0;
        while (*s == ' ')
                s++;
        for (; *s && *s != ' ' && *s != '\n'; s++) {
                char c = *s;
                if (c == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
                    s[3] >= '0' && s[3] <= '7') {
                        c = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
                        s += 3;
                }
                if (o + 1 < n)
                        out[o++] = c;
        }
        out[o] = '\0';
        return s;
}

/* Where the cgroup2 hierarchy is mounted, and which of its groups is that mount's root. */
static bool v2_mount(char *point, size_t np, char *root, size_t nr)
{
        FILE *f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return false;
        char *line = NULL;
        size_t cap = 0;
        bool found = false;
        while (!found && getline(&line, &cap, f) > 0) {
                /* ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER */
                const char *dash = strstr(line, " - ");
                if (!dash || strncmp(dash + 3, "cgroup2 ", 8) != 0)
                        continue;
                const char *p = line;
                char skip[64];
                for (int i = 0; i < 3; i++)
                        p = mountinfo_field(p, skip, sizeof(skip));
                p = mountinfo_field(p, root, nr);
                mountinfo_field(p, point, np);
                found = point[0] == '/';
        }
        free(line);
        fclose(f);
        return found;
}

/* osvm's own group in the cgroup2 hierarchy ("0::PATH" in /proc/self/cgroup). */
static bool v2_own_group(char *out, size_t n)
{
        FILE *f = fopen("/proc/self/cgroup", "re");
        if (!f)
                return false;
        char line[PATH_MAX + 16];
        bool found = false;
        while (!found && fgets(line, sizeof(line), f))
                if (!strncmp(line, "0::", 3)) {
                        line[strcspn(line, "\n")] = '\0';
                        snprintf(out, n, "%s", line + 3);
                        found = out[0] == '/';
                }
        fclose(f);
        return found;
}

/* Whether a group, its processes and its children's controllers are ours to write. */
static bool writable(const char *dir)
{
        char procs[PATH_MAX + 32], sub[PATH_MAX + 32];
        snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
        snprintf(sub, sizeof(sub), "%s/cgroup.subtree_control", dir);
        return access(dir, W_OK) == 0 && access(procs, W_OK) == 0 && access(sub, W_OK) == 0;
}

/* Whether pid is osvm or one of its descendants (its helpers: the process
 * platform's zygote and stubs, servers not yet in a group of their own). */
static bool ours(int pid)
{
        for (int depth = 0; depth < 64 && pid > 1; depth++) {
                if (pid == (int)getpid())
                        return true;
                char path[64], st[512];
                snprintf(path, sizeof(path), "/proc/%d/stat", pid);
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        return false;
                ssize_t k = read(fd, st, sizeof(st) - 1);
                close(fd);
                st[k > 0 ? k : 0] = '\0';
                /* "PID (COMM) STATE PPID ...": COMM may hold anything, so from the last ')' */
                const char *rp = strrchr(st, ')');
                if (!rp || sscanf(rp + 1, " %*c %d", &pid) != 1)
                        return false;
        }
        return false;
}

/* The processes in a group that are not osvm's, or -1 where it cannot be read;
 * with leaf, osvm's own (itself and its descendants) are moved there. */
static int others_in(const char *dir, const char *leaf)
{
        char path[PATH_MAX + 32];
        snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
        FILE *f = fopen(path, "re");
        if (!f)
                return -1;
        int pid, others = 0;
        while (fscanf(f, "%d", &pid) == 1) {
                if (!ours(pid)) {
                        others++;
                        continue;
                }
                char text[32];
                snprintf(text, sizeof(text), "%d\n", pid);
                if (leaf)
                        (void)write_text(leaf, "cgroup.procs", text);
        }
        fclose(f);
        return others;
}

#define OTHERS_WHY                                                                                 \
        "osvm's cgroup v2 group holds other processes too, so it cannot hold servers' groups "     \
        "(start osvm in a group of its own: systemd-run --user --scope -p Delegate=yes)"

static void v2_probe(void)
{
        char mroot[PATH_MAX], group[PATH_MAX];
        if (!v2_mount(v2.top, sizeof(v2.top), mroot, sizeof(mroot))) {
                snprintf(v2.why, sizeof(v2.why), "no cgroup v2 is mounted");
                return;
        }
        if (!v2_own_group(group, sizeof(group))) {
                snprintf(v2.why, sizeof(v2.why), "osvm is in no cgroup v2 group");
                return;
        }
        /* the group as a path below the mount point, which shows the hierarchy from mroot */
        size_t rl = strcmp(mroot, "/") ? strlen(mroot) : 0;
        if (strncmp(group, mroot, rl) != 0 || (group[rl] != '/' && group[rl] != '\0') ||
            strstr(group, "/..")) {
                snprintf(v2.why, sizeof(v2.why), "osvm's cgroup v2 group is outside the mount");
                return;
        }
        const char *rel = !strcmp(group + rl, "/") ? "" : group + rl;
        if (!strcmp(v2.top, "/"))
                v2.top[0] = '\0';
        if ((size_t)snprintf(v2.own, sizeof(v2.own), "%s%s", v2.top, rel) >= sizeof(v2.own)) {
                snprintf(v2.why, sizeof(v2.why), "osvm's cgroup v2 path is too long");
                return;
        }
        char ctl[512];
        read_small(v2.own, "cgroup.controllers", ctl, sizeof(ctl));
        if (!has_word(ctl, "memory") || !has_word(ctl, "pids")) {
                snprintf(v2.why, sizeof(v2.why),
                         "cgroup v2 gives osvm's group no %s controller (the host's controllers "
                         "are elsewhere, or not delegated)",
                         has_word(ctl, "memory") ? "pids" : "memory");
                return;
        }
        v2.controllers = true;
        v2.cpu = has_word(ctl, "cpu");
        v2.own_ok = writable(v2.own);
        v2.top_ok = strcmp(v2.top, v2.own) && writable(v2.top[0] ? v2.top : "/");
        if (!v2.own_ok && !v2.top_ok) {
                snprintf(v2.why, sizeof(v2.why),
                         "osvm's cgroup v2 group is not delegated to this user (start osvm with "
                         "systemd-run --user --scope -p Delegate=yes)");
                return;
        }
        /* a group that is not the root, holds processes besides osvm and hands no
         * controllers to children yet never will (v2_prepare) */
        char sub[256], events[PATH_MAX + 32];
        read_small(v2.own, "cgroup.subtree_control", sub, sizeof(sub));
        snprintf(events, sizeof(events), "%s/cgroup.events", v2.own);
        if (v2.own_ok && !(has_word(sub, "memory") && has_word(sub, "pids")) &&
            access(events, F_OK) == 0 && others_in(v2.own, NULL) != 0) {
                v2.own_ok = false;
                snprintf(v2.why, sizeof(v2.why), "%s", OTHERS_WHY);
                if (!v2.top_ok)
                        return;
        }
        v2.usable = true;
}

/* Once, on the first group made: the controllers handed to the children of the group
 * that will hold the servers' groups (v2.dir). */
static pthread_mutex_t v2_mu = PTHREAD_MUTEX_INITIALIZER;
static int v2_ready; /* 0: not yet, 1: ready, -1: failed (v2_failed says why) */
static char v2_failed[300];

/* The controllers handed to dir's children: already, or now. */
static bool enable_in(const char *dir)
{
        char sub[256];
        read_small(dir, "cgroup.subtree_control", sub, sizeof(sub));
        if (has_word(sub, "memory") && has_word(sub, "pids"))
                return true;
        char want[64];
        snprintf(want, sizeof(want), "+memory +pids%s", v2.cpu ? " +cpu" : "");
        if (write_text(dir, "cgroup.subtree_control", want))
                return true;
        /* without cpu, where something else keeps it off (a realtime task) */
        int saved = errno;
        if (v2.cpu && write_text(dir, "cgroup.subtree_control", "+memory +pids"))
                return true;
        errno = saved;
        return false;
}

/* osvm's own group: the controllers enabled there, osvm first moved into a leaf
 * `osvm` of it where it is alone in it (no process may stay beside children with
 * controllers, in any group but the root). */
static bool prepare_own(void)
{
        if (enable_in(v2.own))
                return true;
        if (errno != EBUSY) {
                snprintf(v2_failed, sizeof(v2_failed),
                         "osvm could not enable the memory and pids controllers in its cgroup v2 "
                         "group: %s",
                         strerror(errno));
                return false;
        }
        if (others_in(v2.own, NULL) != 0) {
                snprintf(v2_failed, sizeof(v2_failed), "%s", OTHERS_WHY);
                return false;
        }
        char leaf[PATH_MAX + 8];
        snprintf(leaf, sizeof(leaf), "%s/osvm", v2.own);
        if (mkdir(leaf, 0755) < 0 && errno != EEXIST) {
                snprintf(v2_failed, sizeof(v2_failed),
                         "osvm could not make a leaf of its cgroup v2 group: %s", strerror(errno));
                return false;
        }
        /* osvm and its helpers moved; a helper forked meanwhile is moved in the next round */
        for (int round = 0; round < 8; round++) {
                if (others_in(v2.own, leaf) != 0)
                        break;
                if (enable_in(v2.own))
                        return true;
                if (errno != EBUSY)
                        break;
        }
        snprintf(v2_failed, sizeof(v2_failed),
                 "osvm could not move itself into a leaf of its cgroup v2 group: %s",
                 strerror(errno));
        return false;
}

static int v2_prepare(void)
{
        pthread_mutex_lock(&v2_mu);
        if (!v2_ready) {
                bool ok = false;
                if (v2.own_ok && prepare_own()) {
                        snprintf(v2.dir, sizeof(v2.dir), "%s", v2.own);
                        ok = true;
                }
                /* root, whose group (a login's scope) holds others: the hierarchy's top */
                if (!ok && v2.top_ok && enable_in(v2.top[0] ? v2.top : "/")) {
                        snprintf(v2.dir, sizeof(v2.dir), "%s", v2.top);
                        ok = true;
                } else if (!ok && v2.top_ok) {
                        snprintf(v2_failed, sizeof(v2_failed),
                                 "osvm could not enable the memory and pids controllers at the "
                                 "top of cgroup v2: %s",
                                 strerror(errno));
                }
                if (ok) {
                        char sub[256];
                        read_small(v2.dir[0] ? v2.dir : "/", "cgroup.subtree_control", sub,
                                   sizeof(sub));
                        v2.cpu = has_word(sub, "cpu");
                }
                v2_ready = ok ? 1 : -1;
        }
        int r = v2_ready;
        pthread_mutex_unlock(&v2_mu);
        return r;
}

static int v2_make(struct sbx_cgroup *cg, const char *name, uint64_t mem_bytes, unsigned pids,
                   unsigned cpus)
{
        static unsigned seq;
        if (v2_prepare() < 0) {
                snprintf(cg->what, sizeof(cg->what), "no cgroup (%s)", v2_failed);
                return -1;
        }
        char dir[sizeof(cg->dir[0])];
        if ((size_t)snprintf(dir, sizeof(dir), "%s/osvm-%d-%u-%s", v2.dir, (int)getpid(),
                             __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED), name) >= sizeof(dir)) {
                snprintf(cg->what, sizeof(cg->what), "no cgroup (the group's path is too long)");
                return -1;
        }
        if (mkdir(dir, 0755) < 0) {
                snprintf(cg->what, sizeof(cg->what), "no cgroup (cgroup v2 group: %s)",
                         strerror(errno));
                return -1;
        }
        snprintf(cg->dir[0], sizeof(cg->dir[0]), "%s", dir);
        cg->procs_fd[0] = -1;
        cg->n = 1;
        /* no swap beyond the limit, as memsw does on v1; absent where swap accounting is off */
        bool ok = write_value(dir, "memory.max", mem_bytes) && write_value(dir, "pids.max", pids);
        if (ok)
                (void)write_text(dir, "memory.swap.max", "0\n");
        const char *cpu_note = "";
        if (ok && cpus) {
                char quota[48];
                snprintf(quota, sizeof(quota), "%llu 100000\n", 100000ull * cpus);
                if (!v2.cpu)
                        cpu_note = "; no CPU limit: no cpu controller";
                else if (!write_text(dir, "cpu.max", quota))
                        cpu_note = "; no CPU limit: cpu.max refused";
        }
        char procs[sizeof(cg->dir[0]) + 16];
        snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
        int fd = ok ? open(procs, O_WRONLY | O_CLOEXEC) : -1;
        if (fd < 0) {
                snprintf(cg->what, sizeof(cg->what), "no cgroup (cgroup v2 limits: %s)",
                         strerror(errno));
                sbx_cgroup_end(cg);
                return -1;
        }
        cg->procs_fd[0] = fd;
        if (cpus && !cpu_note[0])
                snprintf(cg->what, sizeof(cg->what), "cgroup v2 (memory, pids, cpu: %u)", cpus);
        else
                snprintf(cg->what, sizeof(cg->what), "cgroup v2 (memory, pids%s)", cpu_note);
        return 0;
}

/* ---- cgroup v1 ---- */

static bool v1_usable(void)
{
        return access(CG_V1 "/memory", W_OK) == 0 && access(CG_V1 "/pids", W_OK) == 0;
}

static int v1_make(struct sbx_cgroup *cg, const char *name, uint64_t mem_bytes, unsigned pids,
                   unsigned cpus)
{
        static unsigned seq;
        static const char *const ctl[2] = {"memory", "pids"};
        for (int i = 0; i < 2; i++) {
                char dir[300];
                snprintf(dir, sizeof(dir), CG_V1 "/%s/osvm-%d-%u-%s", ctl[i], (int)getpid(),
                         __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED), name);
                if (mkdir(dir, 0700) < 0) {
                        snprintf(cg->what, sizeof(cg->what), "no cgroup (%s %s: %s)", ctl[i],
                                 errno == ENOENT ? "controller" : "group", strerror(errno));
                        sbx_cgroup_end(cg);
                        return -1;
                }
                snprintf(cg->dir[cg->n], sizeof(cg->dir[0]), "%s", dir);
                cg->procs_fd[cg->n++] = -1;
                bool ok = i == 0
                              ? write_value(dir, "memory.limit_in_bytes", mem_bytes) &&
                                    (write_value(dir, "memory.memsw.limit_in_bytes", mem_bytes) ||
                                     errno == ENOENT || true)
                              : write_value(dir, "pids.max", pids);
                char procs[320];
                snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
                int fd = ok ? open(procs, O_WRONLY | O_CLOEXEC) : -1;
                if (fd < 0) {
                        snprintf(cg->what, sizeof(cg->what), "no cgroup (%s limits: %s)", ctl[i],
                                 strerror(errno));
                        sbx_cgroup_end(cg);
                        return -1;
                }
                cg->procs_fd[cg->n - 1] = fd;
        }
        snprintf(cg->what, sizeof(cg->what), "cgroup v1 (memory, pids)");
        if (!cpus)
                return 0;
        char dir[300];
        snprintf(dir, sizeof(dir), "%s", cg->dir[0]);
        char *leaf = strrchr(dir, '/');
        _cleanup_free_ char *cpu = xasprintf(CG_V1 "/cpu%s", leaf ? leaf : "/osvm");
        if (mkdir(cpu, 0700) < 0) {
                snprintf(cg->what, sizeof(cg->what), "cgroup v1 (memory, pids; no CPU limit: %s)",
                         strerror(errno));
                return 0;
        }
        snprintf(cg->dir[cg->n], sizeof(cg->dir[0]), "%s", cpu);
        cg->procs_fd[cg->n++] = -1;
        char procs[320];
        snprintf(procs, sizeof(procs), "%s/cgroup.procs", cpu);
        int fd = write_value(cpu, "cpu.cfs_period_us", 100000) &&
                         write_value(cpu, "cpu.cfs_quota_us", 100000ull * cpus)
                     ? open(procs, O_WRONLY | O_CLOEXEC)
                     : -1;
        if (fd < 0) {
                snprintf(cg->what, sizeof(cg->what), "cgroup v1 (memory, pids; no CPU limit: %s)",
                         strerror(errno));
                rmdir(cg->dir[--cg->n]);
                return 0;
        }
        cg->procs_fd[cg->n - 1] = fd;
        snprintf(cg->what, sizeof(cg->what), "cgroup v1 (memory, pids, cpu: %u)", cpus);
        return 0;
}

/* ---- either ---- */

const char *sbx_cgroup_kind(char *why, size_t n)
{
        pthread_once(&v2_once, v2_probe);
        if (v2.usable)
                return "cgroup v2";
        if (v1_usable())
                return "cgroup v1";
        if (why && !v2.controllers && access(CG_V1 "/memory", F_OK) == 0)
                snprintf(why, n, "cgroup v1's memory and pids are not writable by this user");
        else if (why)
                snprintf(why, n, "%s", v2.why);
        return NULL;
}

bool sbx_cgroup_usable(void)
{
        return sbx_cgroup_kind(NULL, 0) != NULL;
}

int sbx_cgroup_make(struct sbx_cgroup *cg, const char *name, uint64_t mem_bytes, unsigned pids,
                    unsigned cpus)
{
        memset(cg, 0, sizeof(*cg));
        char why[sizeof(cg->what) - 16];
        const char *kind = sbx_cgroup_kind(why, sizeof(why));
        if (!kind) {
                snprintf(cg->what, sizeof(cg->what), "no cgroup (%s)", why);
                return -1;
        }
        return !strcmp(kind, "cgroup v2") ? v2_make(cg, name, mem_bytes, pids, cpus)
                                          : v1_make(cg, name, mem_bytes, pids, cpus);
}

void sbx_cgroup_close_fds(struct sbx_cgroup *cg)
{
        for (int i = 0; i < cg->n; i++)
                if (cg->procs_fd[i] >= 0) {
                        close(cg->procs_fd[i]);
                        cg->procs_fd[i] = -1;
                }
}

/* Kills what is left in the group (a child the server left behind), then removes it. */
void sbx_cgroup_end(struct sbx_cgroup *cg)
{
        sbx_cgroup_close_fds(cg);
        for (int i = 0; i < cg->n; i++) {
                /* v2 (5.14 and later) kills the whole group at once, forks racing it too */
                (void)write_text(cg->dir[i], "cgroup.kill", "1\n");
                char procs[320];
                snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg->dir[i]);
                /* killed: they leave the group as they exit, at once as a
                 * rule; the bound (1 s) only guards a machine so loaded that
                 * they take long (the group then stays behind, empty) */
                for (int round = 0; round < 500; round++) {
                        FILE *f = fopen(procs, "re");
                        int pid, left = 0;
                        while (f && fscanf(f, "%d", &pid) == 1) {
                                kill(pid, SIGKILL);
                                left++;
                        }
                        if (f)
                                fclose(f);
                        if (!left || rmdir(cg->dir[i]) == 0)
                                break;
                        usleep(2000);
                }
                rmdir(cg->dir[i]);
        }
        cg->n = 0;
}
