/*
 * Test driver: runs IMAGE [ARGS...] through vmm_run with our stdin, stdout
 * and stderr as the guest's fds 0, 1 and 2.
 *
 *   vmm_run [--platform auto|kvm|process] [--mem MB] [--timeout MS]
 *           [--max-output N] [--max-syscalls N] [--mount HOST:VM[:rw]]...
 *           [--env K=V]... [--cwd DIR] [--stats] [--pool] [--host-sink]
 *           [--cancel-after MS] IMAGE [ARGS...]
 *
 * --host-sink gives the guest a host-call channel (fd 3) that nobody reads
 * or answers; --cancel-after sets the run's cancel flag MS ms after it starts.
 *   vmm_run [--platform P] --probe   exit 0 when platform P (default: kvm) can
 *                                    run here, else 77 with the reason
 *
 * Exit status: the guest's on a plain exit, its exit code (128+signal) on a
 * fault, 125 on a limit or an error; the reason goes to stderr as
 * "vmm_run: fault: ...".
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "vmm/vmm.h"

static volatile sig_atomic_t cancel_flag;
static long cancel_after_ms = -1;

static void *cancel_later(void *arg)
{
        (void)arg;
        struct timespec d = {cancel_after_ms / 1000, (cancel_after_ms % 1000) * 1000000};
        nanosleep(&d, NULL);
        cancel_flag = 1;
        return NULL;
}

static int usage(void)
{
        fprintf(stderr, "usage: vmm_run [--platform auto|kvm|process] [--mem MB] [--timeout MS] "
                        "[--max-output N] [--max-syscalls N] [--mount HOST:VM[:rw]] [--env K=V] "
                        "[--stats] [--pool] [--host-sink] [--cancel-after MS] IMAGE [ARGS...]\n");
        return 2;
}

int main(int argc, char **argv)
{
        struct vmm_spec spec = {.in_fd = 0, .out_fd = 1, .err_fd = 2};
        struct vmm_mount mounts[VMM_MAX_MOUNTS];
        const char *env[65];
        size_t nenv = 0, nm = 0;
        bool stats = false, pool = false, platform_set = false;
        int i = 1;
        log_init();
        for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
                const char *o = argv[i];
                if (strcmp(o, "--probe") == 0) {
                        char why[512];
                        enum vmm_platform p = platform_set ? spec.platform : VMM_PLATFORM_KVM;
                        bool ok = vmm_platform_probe(p, why, sizeof(why));
                        if (!ok)
                                fprintf(stderr, "vmm_run: %s\n", why);
                        vmm_shutdown();
                        return ok ? 0 : 77;
                }
                if (strcmp(o, "--pool") == 0) { /* exercise the pool and the reaper */
                        pool = true;
                        continue;
                }
                if (strcmp(o, "--stats") == 0) {
                        stats = true;
                        continue;
                }
                if (strcmp(o, "--host-sink") == 0) {
                        int sv[2];
                        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
                                return 125;
                        spec.host_fd = sv[1]; /* sv[0] stays open, never read */
                        continue;
                }
                if (i + 1 >= argc)
                        return usage();
                const char *v = argv[++i];
                if (strcmp(o, "--platform") == 0) {
                        if (!vmm_platform_parse(v, &spec.platform))
                                return usage();
                        platform_set = true;
                } else if (strcmp(o, "--mem") == 0) {
                        spec.limits.memory_mb = (uint32_t)strtoul(v, NULL, 10);
                } else if (strcmp(o, "--timeout") == 0) {
                        spec.limits.timeout_ms = (uint32_t)strtoul(v, NULL, 10);
                } else if (strcmp(o, "--max-output") == 0) {
                        spec.limits.max_output_bytes = strtoull(v, NULL, 10);
                } else if (strcmp(o, "--max-syscalls") == 0) {
                        spec.limits.max_syscalls = strtoull(v, NULL, 10);
                } else if (strcmp(o, "--cancel-after") == 0) {
                        cancel_after_ms = strtol(v, NULL, 10);
                        spec.cancel = &cancel_flag;
                } else if (strcmp(o, "--cwd") == 0) {
                        spec.cwd = v;
                } else if (strcmp(o, "--env") == 0 && nenv < 64) {
                        env[nenv++] = v;
                } else if (strcmp(o, "--mount") == 0 && nm < VMM_MAX_MOUNTS) {
                        /* HOST:VM[:rw] */
                        static char buf[VMM_MAX_MOUNTS][4096];
                        snprintf(buf[nm], sizeof(buf[nm]), "%s", v);
                        char *c1 = strchr(buf[nm], ':');
                        if (!c1)
                                return usage();
                        *c1 = '\0';
                        char *c2 = strchr(c1 + 1, ':');
                        bool rw = false;
                        if (c2) {
                                *c2 = '\0';
                                rw = strcmp(c2 + 1, "rw") == 0;
                        }
                        mounts[nm] = (struct vmm_mount){buf[nm], c1 + 1, !rw};
                        nm++;
                } else {
                        return usage();
                }
        }
        if (i >= argc)
                return usage();
        env[nenv] = NULL;
        spec.image = argv[i];
        spec.argv = (const char *const *)&argv[i];
        spec.envp = env;
        spec.mounts = mounts;
        spec.nmounts = nm;

        if (pool) {
                osvm_err pe = {0};
                if (vmm_pool_start_platform(spec.platform, 1, VMM_DEFAULT_MEMORY_MB, &pe) < 0)
                        fprintf(stderr, "vmm_run: %s\n", pe.msg);
        }
        struct vmm_result res;
        osvm_err e = {0};
        pthread_t canceller;
        if (cancel_after_ms >= 0)
                pthread_create(&canceller, NULL, cancel_later, NULL);
        int rc = vmm_run(&spec, &res, &e);
        if (cancel_after_ms >= 0)
                pthread_join(canceller, NULL);
        vmm_shutdown();
        if (stats)
                fprintf(
                    stderr,
                    "vmm_run: %s: %s code %d, %llu syscalls, %llu output bytes; create %llu us, "
                    "load %llu us, run %llu us (syscalls %llu us), teardown %llu us\n",
                    vmm_platform_name(res.platform), vmm_end_name(res.end), res.exit_code,
                    (unsigned long long)res.syscalls, (unsigned long long)res.output_bytes,
                    (unsigned long long)res.t.create_ns / 1000,
                    (unsigned long long)res.t.load_ns / 1000,
                    (unsigned long long)res.t.run_ns / 1000,
                    (unsigned long long)res.t.syscall_ns / 1000,
                    (unsigned long long)res.t.teardown_ns / 1000);
        if (rc < 0) {
                fprintf(stderr, "vmm_run: error: %s\n", e.msg);
                return 125;
        }
        if (res.end != VMM_END_EXIT)
                fprintf(stderr, "vmm_run: %s: %s\n", vmm_end_name(res.end), res.why);
        return res.exit_code;
}
