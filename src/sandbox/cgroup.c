/*
 * cgroups for a confined child: memory and process limits where the host
 * lets osvm make a group (cgroup v1 controllers writable by this user, as
 * root has them here). The child joins through cgroup.procs files opened
 * here and written by the child itself before it execs (sbx_spec's
 * cgroup_fds), so that nothing it runs is ever outside the group.
 */
#include "sandbox/sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CG_V1 "/sys/fs/cgroup"

static bool write_value(const char *dir, const char *file, unsigned long long v)
{
        char path[300], text[32];
        snprintf(path, sizeof(path), "%s/%s", dir, file);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        int n = snprintf(text, sizeof(text), "%llu\n", v);
        bool ok = write(fd, text, (size_t)n) == n;
        close(fd);
        return ok;
}

int sbx_cgroup_make(struct sbx_cgroup *cg, const char *name, uint64_t mem_bytes, unsigned pids,
                    unsigned cpus)
{
        static unsigned seq;
        memset(cg, 0, sizeof(*cg));
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
                char procs[320];
                snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg->dir[i]);
                for (int round = 0; round < 50; round++) {
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

bool sbx_cgroup_usable(void)
{
        return access(CG_V1 "/memory", W_OK) == 0 && access(CG_V1 "/pids", W_OK) == 0;
}
