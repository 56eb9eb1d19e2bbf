/*
 * The engine's platforms side by side (issue 12): on the process platform
 * (every host) and on KVM (where /dev/kvm is usable), in one run:
 *
 *  1. per call, request -> result, p50 and p99 of a trivial tool (musl and
 *     glibc echo) through vmm_run with a pool, against posix_spawn + waitpid
 *     of the same binary, alternating in one loop (target: <= 1.0x);
 *  2. one system call of the guest's (getpid, answered by the platform's
 *     stub) against a native getpid (target: <= 5x): from a site as
 *     programs make it (musl's getpid(), a site the process platform
 *     patches) and from one that always traps there (a syscall instruction
 *     in the data segment);
 *     and one served by osvm's syscall layer;
 *  3. throughput with two workers against host processes (target: >= 1.0x).
 *
 * Where both platforms run, a last line sets KVM against the process
 * platform (the quotient of their ratios to host processes).
 *
 *   bench_platform [-n N] [--platform process|kvm] [--throughput [--guests-only]]
 *                  [--workers W] [TOOL...]
 *                  (-n: the calls of each side per call, 300; in part 3, each worker's
 *                   calls in each of its 7 rounds;
 *                   default: both platforms that run here, build/guests/echo{,.glibc};
 *                   --throughput: part 3 alone; --guests-only: its guest rounds alone,
 *                   for a profiler attached to this process or the zygote; --workers:
 *                   part 3 with W workers, 1-8, for analysis: the target is for two)
 */
#include <dirent.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_calls.h"
#include "vmm/internal.h"
#include "vmm/vmm.h"

static enum vmm_platform plat;
enum { MAX_WORKERS = 8 };
static int nworkers = 2;
static bool guests_only;

static uint64_t call_guest(const char *tool, struct fds *f)
{
        const char *argv[] = {tool, NULL};
        struct vmm_spec spec = {.image = tool,
                                .argv = argv,
                                .in_fd = f->in,
                                .out_fd = f->out,
                                .err_fd = -1,
                                .limits = {.memory_mb = 16},
                                .platform = plat};
        struct vmm_result res;
        osvm_err e = {0};
        fds_reset(f);
        uint64_t t0 = time_mono_ns();
        int rc = vmm_run(&spec, &res, &e);
        uint64_t t = time_mono_ns() - t0;
        if (rc < 0 || res.end != VMM_END_EXIT || res.exit_code != 0) {
                fprintf(stderr, "bench: %s on %s: %s %s\n", tool, vmm_platform_name(plat), e.msg,
                        res.why);
                exit(1);
        }
        check_result(f, "the guest");
        return t;
}

/* ---- 1. per call ---- */

struct ratios {
        double p50[8], p99[8], sys, trap, served, tput[8];
};

static void per_call(const char *const *tools, int ntools, int n, struct ratios *r)
{
        uint64_t *tg = calloc((size_t)n, sizeof(*tg)), *th = calloc((size_t)n, sizeof(*th));
        for (int k = 0; k < ntools; k++) {
                struct fds f;
                fds_open(&f);
                for (int i = 0; i < 20; i++) { /* warm up both paths (and the pool's profile) */
                        vmm_pool_wait_idle();
                        call_guest(tools[k], &f);
                        call_spawn(tools[k], &f);
                }
                for (int i = 0; i < n; i++) {
                        /* each call meets a machine at rest: the pool full, the reaper done */
                        vmm_pool_wait_idle();
                        tg[i] = call_guest(tools[k], &f);
                        vmm_pool_wait_idle();
                        th[i] = call_spawn(tools[k], &f);
                }
                uint64_t g50 = pct(tg, (size_t)n, 0.5), g99 = pct(tg, (size_t)n, 0.99);
                uint64_t h50 = pct(th, (size_t)n, 0.5), h99 = pct(th, (size_t)n, 0.99);
                r->p50[k] = (double)g50 / (double)h50;
                r->p99[k] = (double)g99 / (double)h99;
                printf("  %-26s %8.0f us %8.0f us %8.0f us %8.0f us %7.2fx %7.2fx\n", tools[k],
                       (double)g50 / 1e3, (double)g99 / 1e3, (double)h50 / 1e3, (double)h99 / 1e3,
                       r->p50[k], r->p99[k]);
                close(f.in);
                close(f.out);
        }
        free(tg);
        free(th);
}

/* ---- 2. one system call ---- */

/* The run time of one run of getpid_loop N [served] [trap], ns. */
static uint64_t loop_ns(const char *image, long count, bool served, bool trap)
{
        vmm_pool_wait_idle();
        char arg[32];
        snprintf(arg, sizeof(arg), "%ld", count);
        const char *argv[] = {image, arg, served ? "served" : "own", trap ? "trap" : "site", NULL};
        struct vmm_spec spec = {.image = image,
                                .argv = argv,
                                .in_fd = -1,
                                .out_fd = -1,
                                .err_fd = -1,
                                .limits = {.memory_mb = 16, .timeout_ms = 60000},
                                .platform = plat};
        struct vmm_result res;
        osvm_err e = {0};
        if (vmm_run(&spec, &res, &e) < 0 || res.end != VMM_END_EXIT) {
                fprintf(stderr, "bench: %s: %s %s\n", image, e.msg, res.why);
                exit(1);
        }
        return res.t.run_ns;
}

/* One native getpid, ns: the mean of n. */
static double native_getpid_ns(long n)
{
        uint64_t t0 = time_mono_ns();
        for (long i = 0; i < n; i++)
                syscall(SYS_getpid);
        return (double)(time_mono_ns() - t0) / (double)n;
}

/* One getpid of the guest's, from a site as programs make it (patched on
 * the process platform) and from one that traps, and a umask served by
 * osvm, against a native getpid measured right before each in the same
 * round (the machine's speed drifts from one second to the next here): the
 * medians of 7 rounds, and the median of the rounds' ratios. */
static void one_syscall(const char *image, struct ratios *r)
{
        enum { N = 50000, ROUNDS = 7, KINDS = 3 };
        static const char *const what[KINDS] = {
            "one system call (getpid, answered by the stub; from a patched site)",
            "one from a site that traps (getpid from the data segment)",
            "one served by osvm's syscall layer (umask; from a patched site)"};
        double native[ROUNDS], t[KINDS][ROUNDS], x[KINDS][ROUNDS];
        /* the image's patched copy is made at its second load in a process */
        loop_ns(image, 0, false, false);
        for (int k = 0; k < ROUNDS; k++) {
                /* the pool, preparing for another image, would share the
                 * CPUs with what is timed */
                vmm_pool_wait_idle();
                double sum = 0;
                for (int j = 0; j < KINDS; j++) {
                        bool served = j == 2, trap = j == 1;
                        long n = served ? N / 5 : N;
                        double nat = native_getpid_ns(4 * N);
                        t[j][k] = (double)(loop_ns(image, n, served, trap) -
                                           loop_ns(image, 0, served, trap)) /
                                  (double)n;
                        x[j][k] = t[j][k] / nat;
                        sum += nat;
                }
                native[k] = sum / KINDS;
        }
        r->sys = bench_median_f64(x[0], ROUNDS);
        r->trap = bench_median_f64(x[1], ROUNDS);
        r->served = bench_median_f64(x[2], ROUNDS);
        double nat = bench_median_f64(native, ROUNDS);
        for (int j = 0; j < KINDS; j++)
                printf("  %s: %.2f us; native getpid %.2f us: %.2fx (the median of %d rounds' "
                       "ratios)\n",
                       what[j], bench_median_f64(t[j], ROUNDS) / 1e3, nat / 1e3,
                       bench_median_f64(x[j], ROUNDS), ROUNDS);
}

/* ---- 3. throughput ---- */

struct worker {
        const char *tool;
        bool guest;
        int n;
};

static void *worker_main(void *arg)
{
        struct worker *w = arg;
        struct fds f;
        fds_open(&f);
        for (int i = 0; i < w->n; i++)
                (void)(w->guest ? call_guest(w->tool, &f) : call_spawn(w->tool, &f));
        close(f.in);
        close(f.out);
        return NULL;
}

/* CPU time of pid in ms: its own (utime + stime) and that of the children
 * it reaped (cutime + cstime). */
struct cpu {
        double self, children;
};

/* /proc/PID/stat into buf: what follows the command's name, or NULL. */
static const char *stat_of(int pid, char *buf, size_t len)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/stat", pid);
        FILE *f = fopen(path, "r");
        if (!f)
                return NULL;
        size_t n = fread(buf, 1, len - 1, f);
        fclose(f);
        buf[n] = '\0';
        const char *p = strrchr(buf, ')');
        return p && p[1] ? p + 2 : NULL;
}

static struct cpu cpu_of(int pid)
{
        char buf[2048];
        struct cpu c = {0, 0};
        const char *p = stat_of(pid, buf, sizeof(buf));
        unsigned long long v[4] = {0};
        if (!p || sscanf(p, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu",
                         &v[0], &v[1], &v[2], &v[3]) != 4)
                return c;
        double hz = (double)sysconf(_SC_CLK_TCK);
        c.self = (double)(v[0] + v[1]) * 1e3 / hz;
        c.children = (double)(v[2] + v[3]) * 1e3 / hz;
        return c;
}

/* Whether pid is this process's child running the stub program. */
static bool is_zygote(int pid)
{
        char buf[512];
        const char *p = stat_of(pid, buf, sizeof(buf));
        int ppid = 0;
        return p && sscanf(p, "%*c %d", &ppid) == 1 && ppid == getpid() && strstr(buf, "osvm-stub");
}

/* The zygote (this process's child running the stub program): its stubs'
 * CPU is in its children's times once it reaped them. Found once, looked
 * for again only when it is gone. */
static int zygote_pid(void)
{
        static int last;
        if (last && is_zygote(last))
                return last;
        last = 0;
        /* this process's children, by thread (/proc/self/task/TID/children) */
        DIR *d = opendir("/proc/self/task");
        for (struct dirent *t; d && !last && (t = readdir(d));) {
                char path[300];
                snprintf(path, sizeof(path), "/proc/self/task/%s/children", t->d_name);
                FILE *f = t->d_name[0] != '.' ? fopen(path, "r") : NULL;
                for (int pid; f && !last && fscanf(f, "%d", &pid) == 1;)
                        if (is_zygote(pid))
                                last = pid;
                if (f)
                        fclose(f);
        }
        if (d)
                closedir(d);
        return last;
}

/* Where a round's CPU went, per call, in ms: this process (osvm: the
 * workers, the pool and the reaper), the processes it reaped (the host
 * processes), the zygote itself and the stubs it reaped; and the share of
 * the machine's CPU time that stayed idle meanwhile. */
struct split {
        double total, osvm, spawned, zygote, stubs, idle;
};

/* The machine's idle and total CPU time so far, in ticks (/proc/stat). */
static void machine_ticks(unsigned long long *idle, unsigned long long *total)
{
        unsigned long long v[8] = {0};
        FILE *f = fopen("/proc/stat", "r");
        *idle = *total = 0;
        if (!f)
                return;
        if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]) == 8) {
                *idle = v[3] + v[4];
                for (int i = 0; i < 8; i++)
                        *total += v[i];
        }
        fclose(f);
}

/*
 * One round of nworkers workers: calls/s, and the CPU per call. A round
 * starts with the pool full and ends once it is full again: the guests it
 * had ready at the start were made before the clock started, so the time
 * the pool takes to make up for the round's calls is the round's too
 * (otherwise short rounds would be served by guests made for free).
 */
static double round_of(const char *tool, bool guest, int n, struct split *cpu)
{
        struct worker w[MAX_WORKERS];
        pthread_t t[MAX_WORKERS];
        for (int i = 0; i < nworkers; i++)
                w[i] = (struct worker){tool, guest, n};
        vmm_pool_wait_idle();
        int z = guest && plat == VMM_PLATFORM_PROCESS ? zygote_pid() : 0; /* KVM has none */
        struct cpu o0 = cpu_of(getpid()), z0 = z ? cpu_of(z) : (struct cpu){0, 0};
        unsigned long long i0, a0, i1, a1;
        machine_ticks(&i0, &a0);
        uint64_t t0 = time_mono_ns();
        for (int i = 0; i < nworkers; i++)
                pthread_create(&t[i], NULL, worker_main, &w[i]);
        for (int i = 0; i < nworkers; i++)
                pthread_join(t[i], NULL);
        vmm_pool_wait_idle(); /* the pool's work for these calls, counted too */
        double secs = (double)(time_mono_ns() - t0) / 1e9;
        machine_ticks(&i1, &a1);
        cpu->idle = a1 > a0 ? (double)(i1 - i0) / (double)(a1 - a0) : 0;
        struct cpu o1 = cpu_of(getpid()), z1 = z ? cpu_of(z) : (struct cpu){0, 0};
        double calls = (double)nworkers * n;
        cpu->osvm = (o1.self - o0.self) / calls;
        cpu->spawned = (o1.children - o0.children) / calls;
        cpu->zygote = (z1.self - z0.self) / calls;
        cpu->stubs = (z1.children - z0.children) / calls;
        cpu->total = cpu->osvm + cpu->spawned + cpu->zygote + cpu->stubs;
        return calls / secs;
}

/* Alternating rounds, so that both sides meet the same machine: the median
 * of the rounds' ratios. */
/*
 * The floor of a process per call on this host, side by side with a host
 * process of the tool, in one thread: CPU per fork + exit of a small static
 * process (build/guests/fork_floor, N forks) against CPU per posix_spawn +
 * run of the tool (N calls), medians of 3 alternating rounds.
 */
static void floor_of(const char *tool)
{
        enum { N = 400, ROUNDS = 3 };
        double fk[ROUNDS], sp[ROUNDS];
        struct fds f;
        fds_open(&f);
        for (int r = 0; r < ROUNDS; r++) {
                char n[16];
                snprintf(n, sizeof(n), "%d", N);
                char *argv[] = {"build/guests/fork_floor", n, NULL};
                char *envp[] = {NULL};
                struct cpu c0 = cpu_of(getpid());
                pid_t pid;
                int st;
                if (posix_spawn(&pid, argv[0], NULL, NULL, argv, envp) != 0 ||
                    waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                        fprintf(stderr, "bench: %s failed\n", argv[0]);
                        exit(1);
                }
                struct cpu c1 = cpu_of(getpid());
                fk[r] = (c1.children - c0.children) / N;
                c0 = c1;
                for (int i = 0; i < N; i++)
                        call_spawn(tool, &f);
                c1 = cpu_of(getpid());
                sp[r] = (c1.self + c1.children - c0.self - c0.children) / N;
        }
        close(f.in);
        close(f.out);
        double fork_ms = bench_median_f64(fk, ROUNDS), spawn_ms = bench_median_f64(sp, ROUNDS);
        printf("  the floor, one thread: a fork + exit of a small static process %.2f ms CPU, "
               "posix_spawn + run of %s %.2f ms: %.2fx (a stub per call pays the first, "
               "and its set-up, its calls and osvm's side on top)\n",
               fork_ms, tool, spawn_ms, fork_ms / spawn_ms);
}

static int cmp_split(const void *a, const void *b)
{
        return bench_cmp_f64(&((const struct split *)a)->total, &((const struct split *)b)->total);
}

static void throughputs(const char *const *tools, int ntools, int n, struct ratios *r)
{
        enum { ROUNDS = 7 };
        for (int k = 0; k < ntools; k++) {
                double ratio[ROUNDS], g[ROUNDS], h[ROUNDS];
                struct split gc[ROUNDS], hc[ROUNDS];
                int per = n > 10 ? n : 10; /* calls a worker makes in a round */
                for (int i = 0; i < ROUNDS; i++) {
                        g[i] = round_of(tools[k], true, per, &gc[i]);
                        if (!guests_only) {
                                h[i] = round_of(tools[k], false, per, &hc[i]);
                                ratio[i] = g[i] / h[i];
                        }
                }
                double guests = bench_median_f64(g, ROUNDS);
                qsort(gc, ROUNDS, sizeof(*gc), cmp_split);
                const struct split *m = &gc[ROUNDS / 2];
                if (guests_only) { /* for a profiler: no host side, no ratio */
                        printf("  throughput, %d workers, %s: %.0f calls/s (median of %d rounds); "
                               "CPU per call %.2f ms",
                               nworkers, tools[k], guests, ROUNDS, m->total);
                        if (plat == VMM_PLATFORM_PROCESS)
                                printf(": osvm %.2f ms, the zygote %.2f ms, the stubs %.2f ms",
                                       m->osvm, m->zygote, m->stubs);
                        printf("; the machine idle %.0f%% of the time\n", 100 * m->idle);
                        continue;
                }
                qsort(hc, ROUNDS, sizeof(*hc), cmp_split);
                r->tput[k] = bench_median_f64(ratio, ROUNDS);
                printf("  throughput, %d workers, %s: %.0f calls/s, host processes %.0f calls/s: "
                       "%.2fx (median of %d alternating rounds of %d calls a worker); CPU per "
                       "call %.2f ms, host processes %.2f ms\n",
                       nworkers, tools[k], guests, bench_median_f64(h, ROUNDS), r->tput[k], ROUNDS,
                       per, m->total, hc[ROUNDS / 2].total);
                if (plat == VMM_PLATFORM_PROCESS)
                        printf("    the guests' CPU per call: osvm %.2f ms, the zygote %.2f ms, "
                               "the stubs %.2f ms;",
                               m->osvm, m->zygote, m->stubs);
                else /* a vCPU is a thread of osvm: all of a VM's CPU is osvm's */
                        printf("    the guests' CPU per call: osvm with its vCPUs %.2f ms;",
                               m->osvm);
                printf(
                    " the host processes' CPU per call: osvm %.2f ms, the processes %.2f ms; the "
                    "machine idle %.0f%% and %.0f%% of the time\n",
                    hc[ROUNDS / 2].osvm, hc[ROUNDS / 2].spawned, 100 * m->idle,
                    100 * hc[ROUNDS / 2].idle);
                if (plat == VMM_PLATFORM_PROCESS) /* the floor of a process per call */
                        floor_of(tools[k]);
        }
}

static const char *base_name(const char *path)
{
        const char *slash = strrchr(path, '/');
        return slash ? slash + 1 : path;
}

int main(int argc, char **argv)
{
        int n = 300;
        const char *tools[8];
        int ntools = 0;
        enum vmm_platform only = VMM_PLATFORM_AUTO;
        bool tput_only = false;
        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "-n") && i + 1 < argc)
                        n = atoi(argv[++i]);
                else if (!strcmp(argv[i], "--platform") && i + 1 < argc &&
                         vmm_platform_parse(argv[i + 1], &only))
                        i++;
                else if (!strcmp(argv[i], "--throughput"))
                        tput_only = true;
                else if (!strcmp(argv[i], "--guests-only"))
                        guests_only = true;
                else if (!strcmp(argv[i], "--workers")) {
                        nworkers = i + 1 < argc ? atoi(argv[++i]) : 0;
                        if (nworkers < 1 || nworkers > MAX_WORKERS) {
                                fprintf(stderr, "bench: --workers takes 1 to %d\n", MAX_WORKERS);
                                return 2;
                        }
                } else if (ntools < 8)
                        tools[ntools++] = argv[i];
        }
        if (!ntools) {
                tools[ntools++] = "build/guests/echo";
                tools[ntools++] = "build/guests/echo.glibc";
        }
        log_init();
        const enum vmm_platform all[] = {VMM_PLATFORM_PROCESS, VMM_PLATFORM_KVM};
        struct ratios r[2];
        bool ran[2] = {false, false};
        for (int p = 0; p < 2; p++) {
                plat = all[p];
                char why[512];
                if (only != VMM_PLATFORM_AUTO && only != plat)
                        continue;
                if (!vmm_platform_probe(plat, why, sizeof(why))) {
                        printf("%s: skipped: %s\n", vmm_platform_name(plat), why);
                        continue;
                }
                printf("%s: %s\n", vmm_platform_name(plat), why);
                osvm_err e = {0};
                if (vmm_pool_start_platform(plat, 4, 16, &e) < 0) {
                        fprintf(stderr, "bench: pool: %s\n", e.msg);
                        return 1;
                }
                memset(&r[p], 0, sizeof(r[p]));
                if (!tput_only) {
                        printf("  %-26s %11s %11s %11s %11s %8s %8s\n", "per call (pool of 4)",
                               "p50", "p99", "spawn p50", "spawn p99", "p50 x", "p99 x");
                        per_call(tools, ntools, n, &r[p]);
                        one_syscall("build/guests/getpid_loop", &r[p]);
                }
                throughputs(tools, ntools, n, &r[p]);
                vmm_shutdown();
                ran[p] = true;
        }
        if (guests_only)
                return 0;
        printf("\nratios (targets: per call <= 1.0x, one system call <= 5x, throughput "
               "with two workers >= 1.0x)\n");
        for (int p = 0; p < 2; p++) {
                if (!ran[p])
                        continue;
                printf("  %-8s", vmm_platform_name(all[p]));
                for (int k = 0; k < ntools && !tput_only; k++)
                        printf(" %s p50 %.2fx p99 %.2fx;", base_name(tools[k]), r[p].p50[k],
                               r[p].p99[k]);
                if (!tput_only)
                        printf(" syscall %.2fx (one that traps %.2fx);", r[p].sys, r[p].trap);
                for (int k = 0; k < ntools; k++)
                        printf(" throughput (%d workers) %s %.2fx;", nworkers, base_name(tools[k]),
                               r[p].tput[k]);
                printf("\n");
        }
        /* Where both ran: KVM against the process platform, each side's
         * ratio to host processes taken in its own alternating loop, so the
         * machine's drift between the two platforms' runs cancels out. */
        if (ran[0] && ran[1]) {
                printf("  kvm against process (kvm's ratio over process's):");
                for (int k = 0; k < ntools && !tput_only; k++)
                        printf(" %s p50 %.2fx p99 %.2fx;", base_name(tools[k]),
                               r[1].p50[k] / r[0].p50[k], r[1].p99[k] / r[0].p99[k]);
                if (!tput_only)
                        printf(" syscall %.2fx;", r[1].sys / r[0].sys);
                for (int k = 0; k < ntools; k++)
                        printf(" throughput %s %.2fx;", base_name(tools[k]),
                               r[1].tput[k] / r[0].tput[k]);
                printf("\n");
        }
        return 0;
}
