/*
 * The engine's benchmark: a trivial static tool (read stdin, write stdout,
 * exit), built with musl and with glibc, called N times through vmm_run and,
 * in the same loop, N times as a host process (posix_spawn + waitpid), so
 * both see the same machine state. Prints request -> result p50/p99 and the
 * ratio, throughput with two workers, host memory per live VM beyond guest
 * pages, and where the time goes.
 *
 *   bench_vmm [-n N] [--no-pool] [TOOL...]   (default: build/guests/echo{,.glibc})
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_calls.h"
#include "vmm/internal.h"
#include "vmm/vmm.h"

/* One call in a VM; returns its request -> result time in ns. */
static uint64_t call_vm(const char *tool, struct fds *f, struct vmm_result *res)
{
        const char *argv[] = {tool, NULL};
        struct vmm_spec spec = {.image = tool,
                                .argv = argv,
                                .in_fd = f->in,
                                .out_fd = f->out,
                                .err_fd = -1,
                                .limits = {.memory_mb = 16}};
        osvm_err e = {0};
        fds_reset(f);
        uint64_t t0 = time_mono_ns();
        int rc = vmm_run(&spec, res, &e);
        uint64_t t = time_mono_ns() - t0;
        if (rc < 0 || res->end != VMM_END_EXIT || res->exit_code != 0) {
                fprintf(stderr, "bench: %s in a VM: %s %s\n", tool, e.msg, res->why);
                exit(1);
        }
        check_result(f, "the VM");
        return t;
}

struct worker {
        const char *tool;
        bool vm;
        int n;
};

static void *worker_main(void *arg)
{
        struct worker *w = arg;
        struct fds f;
        fds_open(&f);
        struct vmm_result res;
        for (int i = 0; i < w->n; i++)
                (void)(w->vm ? call_vm(w->tool, &f, &res) : call_spawn(w->tool, &f));
        close(f.in);
        close(f.out);
        return NULL;
}

static double throughput(const char *tool, bool vm, int n)
{
        struct worker w[2] = {{tool, vm, n}, {tool, vm, n}};
        pthread_t t[2];
        uint64_t t0 = time_mono_ns();
        for (int i = 0; i < 2; i++)
                pthread_create(&t[i], NULL, worker_main, &w[i]);
        for (int i = 0; i < 2; i++)
                pthread_join(t[i], NULL);
        return 2.0 * n / ((double)(time_mono_ns() - t0) / 1e9);
}

static long meminfo_used_kb(void)
{
        FILE *f = fopen("/proc/meminfo", "r");
        if (!f)
                return 0;
        char line[256];
        long total = 0, free_kb = 0;
        while (fgets(line, sizeof(line), f)) {
                sscanf(line, "MemTotal: %ld kB", &total);
                sscanf(line, "MemFree: %ld kB", &free_kb);
        }
        fclose(f);
        return total - free_kb;
}

/* Host memory per live VM: K VMs set up and alive, minus the guest pages
 * they touched (the system pages), from /proc/meminfo. Noisy; a median of 3. */
static void memory_per_vm(void)
{
        enum { K = 64 };
        long per[3];
        for (int r = 0; r < 3; r++) {
                struct vmm_vm *vms = xcalloc(K, sizeof(*vms));
                long before = meminfo_used_kb();
                osvm_err e = {0};
                int made = 0;
                for (; made < K; made++) {
                        vms[made].stack_lo = (16ull << 20) - (2ull << 20);
                        vms[made].guard_lo = vms[made].stack_lo - (2ull << 20);
                        if (vmm_vm_create(&vms[made], 16, &e) < 0 ||
                            vmm_vm_setup_cpu(&vms[made], &e) < 0)
                                break;
                }
                long after = meminfo_used_kb();
                for (int i = 0; i < made; i++)
                        vmm_vm_destroy(&vms[i]);
                free(vms);
                /* the guest pages written at setup: page tables (7), GDT, IDT, TSS (3), CPL0
                 * code, stub */
                long guest_kb = 14 * 4;
                per[r] = made ? (after - before) / made - guest_kb : 0;
        }
        long m = per[0] < per[1] ? (per[1] < per[2] ? per[1] : (per[0] < per[2] ? per[2] : per[0]))
                                 : (per[0] < per[2] ? per[0] : (per[1] < per[2] ? per[2] : per[1]));
        printf("host memory per live VM beyond guest pages: ~%ld KiB (kvm_run, vCPU, VM, page "
               "tables; median of 3 x %d VMs)\n",
               m, K);
}

int main(int argc, char **argv)
{
        int n = 1000;
        bool pool = true;
        const char *tools[8];
        int ntools = 0;
        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "-n") && i + 1 < argc)
                        n = atoi(argv[++i]);
                else if (!strcmp(argv[i], "--no-pool"))
                        pool = false;
                else if (ntools < 8)
                        tools[ntools++] = argv[i];
        }
        if (!ntools) {
                tools[ntools++] = "build/guests/echo";
                tools[ntools++] = "build/guests/echo.glibc";
        }
        char why[512];
        if (!vmm_probe(why, sizeof(why))) {
                printf("bench: skipped: %s\n", why);
                return 0;
        }
        osvm_err e = {0};
        if (pool && vmm_pool_start(4, 16, &e) < 0) {
                fprintf(stderr, "bench: pool: %s\n", e.msg);
                return 1;
        }
        printf("osvm vmm benchmark: %d calls per tool, request -> result, %s\n", n,
               pool ? "pool of 4 VMs made ahead, teardown by the reaper" : "no pool");
        printf("%-28s %9s %9s %9s %9s %7s %7s\n", "tool", "vm p50", "vm p99", "host p50",
               "host p99", "p50 x", "p99 x");
        uint64_t *tv = xcalloc((size_t)n, sizeof(*tv));
        uint64_t *th = xcalloc((size_t)n, sizeof(*th));
        for (int k = 0; k < ntools; k++) {
                struct fds f;
                fds_open(&f);
                struct vmm_result res;
                struct vmm_timing sum = {0};
                uint64_t sys = 0;
                for (int i = 0; i < 20; i++) { /* warm up both paths */
                        call_vm(tools[k], &f, &res);
                        call_spawn(tools[k], &f);
                }
                for (int i = 0; i < n; i++) {
                        /* Each call meets a machine at rest: the pool full, the reaper done. */
                        vmm_pool_wait_idle();
                        tv[i] = call_vm(tools[k], &f, &res);
                        vmm_pool_wait_idle();
                        th[i] = call_spawn(tools[k], &f);
                        sum.create_ns += res.t.create_ns;
                        sum.load_ns += res.t.load_ns;
                        sum.run_ns += res.t.run_ns;
                        sum.syscall_ns += res.t.syscall_ns;
                        sum.teardown_ns += res.t.teardown_ns;
                        sys += res.syscalls;
                }
                uint64_t v50 = pct(tv, (size_t)n, 0.5), v99 = pct(tv, (size_t)n, 0.99);
                uint64_t h50 = pct(th, (size_t)n, 0.5), h99 = pct(th, (size_t)n, 0.99);
                printf("%-28s %7.0f us %7.0f us %7.0f us %7.0f us %6.2fx %6.2fx\n", tools[k],
                       (double)v50 / 1e3, (double)v99 / 1e3, (double)h50 / 1e3, (double)h99 / 1e3,
                       (double)v50 / (double)h50, (double)v99 / (double)h99);
                printf("  where the VM's time goes (mean): create %.0f us, load %.0f us, run %.0f "
                       "us (of which serving %.1f syscall exits: %.0f us), teardown on the "
                       "path %.0f us\n",
                       (double)sum.create_ns / n / 1e3, (double)sum.load_ns / n / 1e3,
                       (double)sum.run_ns / n / 1e3, (double)sys / n,
                       (double)sum.syscall_ns / n / 1e3, (double)sum.teardown_ns / n / 1e3);
                close(f.in);
                close(f.out);
        }
        int tn = n / 4 > 50 ? n / 4 : 50;
        for (int k = 0; k < ntools; k++) {
                double v = throughput(tools[k], true, tn);
                double h = throughput(tools[k], false, tn);
                printf("throughput, 2 workers, %s: %.0f calls/s in VMs, %.0f calls/s as host "
                       "processes (%.2fx)\n",
                       tools[k], v, h, v / h);
        }
        memory_per_vm();
        free(tv);
        free(th);
        vmm_shutdown();
        return 0;
}
