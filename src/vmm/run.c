/*
 * vmm_run: one call, one VM. Sets the guest process up (image, stack,
 * registers, fds, mounts), runs the vCPU and serves its exits until the
 * program exits, faults or passes a limit.
 */
#include <cpuid.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "vmm/internal.h"

#define AT_NULL_     0
#define AT_PHDR_     3
#define AT_PHENT_    4
#define AT_PHNUM_    5
#define AT_PAGESZ_   6
#define AT_BASE_     7
#define AT_FLAGS_    8
#define AT_ENTRY_    9
#define AT_UID_      11
#define AT_EUID_     12
#define AT_GID_      13
#define AT_EGID_     14
#define AT_PLATFORM_ 15
#define AT_HWCAP_    16
#define AT_CLKTCK_   17
#define AT_SECURE_   23
#define AT_RANDOM_   25
#define AT_HWCAP2_   26
#define AT_EXECFN_   31

const char *vmm_end_name(enum vmm_end end)
{
        switch (end) {
        case VMM_END_EXIT:
                return "exit";
        case VMM_END_FAULT:
                return "fault";
        case VMM_END_LIMIT:
                return "limit";
        case VMM_END_CANCELLED:
                return "cancelled";
        case VMM_END_ERROR:
                break;
        }
        return "error";
}

void vmm_stop(struct vmm_vm *vm, enum vmm_end end, int code, const char *fmt, ...)
{
        if (vm->done)
                return;
        vm->done = true;
        vm->res->end = end;
        vm->res->exit_code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(vm->res->why, sizeof(vm->res->why), fmt, ap);
        va_end(ap);
}

bool vmm_cancelled(struct vmm_vm *vm)
{
        if (!vm->spec->cancel || !*vm->spec->cancel)
                return false;
        vmm_stop(vm, VMM_END_CANCELLED, OSVM_EXIT_INTERRUPTED, "cancelled");
        return true;
}

/* ---- the host's constants, read once per process ---- */

static pthread_once_t host_once = PTHREAD_ONCE_INIT;
static uint32_t host_uid, host_gid, host_edx;

static void host_read(void)
{
        host_uid = (uint32_t)getuid();
        host_gid = (uint32_t)getgid();
        /* CPUID exits to the hypervisor: ~3.5 us of CPU each where the host
         * is itself a nested PVM guest */
        unsigned eax, ebx, ecx, edx = 0;
        if (__get_cpuid(1, &eax, &ebx, &ecx, &edx))
                host_edx = edx;
}

uint32_t vmm_host_uid(void)
{
        pthread_once(&host_once, host_read);
        return host_uid;
}

uint32_t vmm_host_gid(void)
{
        pthread_once(&host_once, host_read);
        return host_gid;
}

/* AT_HWCAP: CPUID leaf 1's EDX, as Linux gives it. */
static uint32_t host_hwcap(void)
{
        pthread_once(&host_once, host_read);
        return host_edx;
}

/* ---- the initial stack: argc, argv, envp, auxv (the System V x86-64 ABI) ---- */

static int build_stack(struct vmm_vm *vm, const struct vmm_spec *spec, uint64_t *rsp, osvm_err *e)
{
        const char *const *argv = spec->argv;
        const char *const *envp = spec->envp;
        const char *arg0[2] = {spec->image, NULL};
        if (!argv || !argv[0])
                argv = arg0;
        size_t argc = 0, envc = 0, bytes = 0;
        for (; argv[argc]; argc++)
                bytes += strlen(argv[argc]) + 1;
        for (; envp && envp[envc]; envc++)
                bytes += strlen(envp[envc]) + 1;
        if (bytes > VMM_MAX_ARGS_SZ || argc + envc > 4096)
                return err_set(e, E2BIG,
                               "arguments and environment too large (%zu bytes, %zu "
                               "strings; at most %u bytes)",
                               bytes, argc + envc, VMM_MAX_ARGS_SZ);

        /* The top of guest memory is built here, then copied in at once:
         * [sp, mem_size) of guest addresses is m[sp - base, ...). */
        /* a multiple of 16: the buffer's alignment is the guest stack's */
        size_t cap = (bytes + 8 * (argc + envc + 64) + 256 + 15) & ~(size_t)15;
        uint8_t *m = xcalloc(1, cap);
        const uint64_t base = vm->mem_size - cap;
        uint64_t sp = vm->mem_size;
        uint64_t *ptrs = xcalloc(argc + envc + 1, sizeof(*ptrs));
        for (size_t i = 0; i < argc + envc; i++) {
                const char *s = i < argc ? argv[i] : envp[i - argc];
                size_t l = strlen(s) + 1;
                sp -= l;
                memcpy(m + (sp - base), s, l);
                ptrs[i] = sp;
        }
        sp -= 8;
        memcpy(m + (sp - base), "x86_64", 7);
        uint64_t platform = sp;
        sp -= 16;
        uint8_t rnd[16];
        if (!vmm_random(rnd, sizeof(rnd)))
                memset(rnd, 0x5a, sizeof(rnd));
        memcpy(m + (sp - base), rnd, 16);
        explicit_bzero(rnd, sizeof(rnd));
        uint64_t random = sp;
        sp &= ~15ull;

        uint32_t edx = host_hwcap();
        uint64_t aux[][2] = {
            {AT_PHDR_, vm->img->phdr},
            {AT_PHENT_, 56},
            {AT_PHNUM_, vm->img->phnum},
            {AT_PAGESZ_, VMM_PAGE},
            {AT_BASE_, 0},
            {AT_FLAGS_, 0},
            {AT_ENTRY_, vm->img->entry},
            {AT_UID_, vmm_host_uid()},
            {AT_EUID_, vmm_host_uid()},
            {AT_GID_, vmm_host_gid()},
            {AT_EGID_, vmm_host_gid()},
            {AT_SECURE_, 0},
            {AT_RANDOM_, random},
            {AT_HWCAP_, edx},
            {AT_HWCAP2_, 0},
            {AT_CLKTCK_, 100},
            {AT_PLATFORM_, platform},
            {AT_EXECFN_, ptrs[0]},
            {AT_NULL_, 0},
        };
        size_t naux = sizeof(aux) / sizeof(aux[0]);
        size_t words = 1 + argc + 1 + envc + 1 + 2 * naux;
        if (words & 1)
                sp -= 8;
        sp -= 8 * words;
        uint64_t *w = (uint64_t *)(void *)(m + (sp - base));
        size_t k = 0;
        w[k++] = argc;
        for (size_t i = 0; i < argc; i++)
                w[k++] = ptrs[i];
        w[k++] = 0;
        for (size_t i = 0; i < envc; i++)
                w[k++] = ptrs[argc + i];
        w[k++] = 0;
        for (size_t i = 0; i < naux; i++) {
                w[k++] = aux[i][0];
                w[k++] = aux[i][1];
        }
        free(ptrs);
        vm->plat->copy_in(vm, sp, m + (sp - base), vm->mem_size - sp);
        free(m);
        *rsp = sp;
        return 0;
}

/* ---- stopping a vCPU: the deadline and the cancel flag ---- */

/*
 * A signal to the vCPU's thread ends KVM_RUN (the handler sets
 * immediate_exit, so a signal that comes just before the ioctl counts too)
 * and any blocking call of the syscall layer with EINTR; the loops then look
 * at the clock and the cancel flag. Both timers repeat, so that a kick that
 * some call took (and retried) is followed by another: at the deadline every
 * VMM_KICK_AGAIN_MS until the VM stops, and with a cancel flag every
 * VMM_CANCEL_TICK_MS.
 */
#define VMM_KICK_SIGNAL   (SIGRTMIN + 4)
#define VMM_KICK_AGAIN_MS 10

static _Thread_local struct kvm_run *volatile tls_run;
_Thread_local volatile sig_atomic_t vmm_kicks;
static pthread_once_t kick_once = PTHREAD_ONCE_INIT;

static void kick_handler(int sig)
{
        (void)sig;
        vmm_kicks++;
        struct kvm_run *r = tls_run;
        if (r)
                r->immediate_exit = 1;
}

static void kick_install(void)
{
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = kick_handler;
        sigemptyset(&sa.sa_mask);
        sigaction(VMM_KICK_SIGNAL, &sa, NULL);
}

/* A timer that kicks this thread first after first_ns, then every every_ns. */
static bool kick_timer(timer_t *t, uint64_t first_ns, uint64_t every_ns)
{
        struct sigevent sev;
        memset(&sev, 0, sizeof(sev));
        sev.sigev_notify = SIGEV_THREAD_ID;
        sev.sigev_signo = VMM_KICK_SIGNAL;
        sev._sigev_un._tid = gettid();
        if (timer_create(CLOCK_MONOTONIC, &sev, t) != 0)
                return false;
        if (!first_ns)
                first_ns = 1; /* 0 would disarm it */
        struct itimerspec its = {
            .it_value = {(time_t)(first_ns / 1000000000), (long)(first_ns % 1000000000)},
            .it_interval = {(time_t)(every_ns / 1000000000), (long)(every_ns % 1000000000)}};
        timer_settime(*t, 0, &its, NULL);
        return true;
}

/*
 * The one loop of every platform: run the guest until it asks for a system
 * call, serve it with the syscall layer under the call's limits, answer it,
 * and look at the deadline and the cancel flag after each exit.
 */
static void run_loop(struct vmm_vm *vm)
{
        const struct vmm_platform_ops *p = vm->plat;
        struct vmm_result *res = vm->res;
        while (!vm->done && !vmm_cancelled(vm)) {
                struct vmm_exit x;
                p->run(vm, &x);
                if (x.kind == VMM_EXIT_AGAIN && vmm_cancelled(vm))
                        break;
                if (x.kind == VMM_EXIT_SYSCALL && !vm->done) {
                        if (++res->syscalls > vm->lim.max_syscalls) {
                                vmm_stop(vm, VMM_END_LIMIT, 125,
                                         "system call limit of %llu reached",
                                         (unsigned long long)vm->lim.max_syscalls);
                                break;
                        }
                        uint64_t t0 = time_mono_ns();
                        int64_t ret = vmm_syscall(vm, x.nr, x.a);
                        res->t.syscall_ns += time_mono_ns() - t0;
                        if (!vm->done)
                                p->complete(vm, ret);
                }
                if (!vm->done && time_mono_ns() >= vm->deadline_ns)
                        vmm_stop(vm, VMM_END_LIMIT, 125, "time limit of %u ms reached",
                                 vm->lim.timeout_ms);
        }
}

/* ---- the call ---- */

static int check_limits(const struct vmm_limits *in, struct vmm_limits *out, osvm_err *e)
{
        *out = *in;
        if (!out->memory_mb)
                out->memory_mb = VMM_DEFAULT_MEMORY_MB;
        if (!out->timeout_ms)
                out->timeout_ms = VMM_DEFAULT_TIMEOUT_MS;
        if (!out->max_output_bytes)
                out->max_output_bytes = VMM_DEFAULT_MAX_OUTPUT;
        if (!out->max_syscalls)
                out->max_syscalls = VMM_DEFAULT_MAX_SYSCALLS;
        if (out->memory_mb < VMM_MEM_MIN_MB || out->memory_mb > VMM_MEM_MAX_MB)
                return err_set(e, EINVAL, "memory limit %u MiB is not between %u and %u MiB",
                               out->memory_mb, VMM_MEM_MIN_MB, VMM_MEM_MAX_MB);
        out->memory_mb = (out->memory_mb + 1) & ~1u; /* whole 2 MiB pages */
        return 0;
}

/* Calls in vmm_run now, in this process. */
static int calls_running;

int vmm_calls_running(void)
{
        return __atomic_load_n(&calls_running, __ATOMIC_RELAXED);
}

int vmm_run(const struct vmm_spec *spec, struct vmm_result *res, osvm_err *e)
{
        memset(res, 0, sizeof(*res));
        res->end = VMM_END_ERROR;
        res->exit_code = 125;
        if (!spec || !spec->image)
                return err_set(e, EINVAL, "vmm_run: no image");

        struct vmm_vm vmv;
        struct vmm_vm *vm = &vmv;
        memset(vm, 0, sizeof(*vm));
        vm->vmfd = vm->vcpufd = -1;
        vm->res = res;
        vm->spec = spec;
        for (int i = 0; i < VMM_MAX_FDS; i++)
                vm->fds[i].host = -1;
        if (check_limits(&spec->limits, &vm->lim, e) < 0)
                return -1;
        vm->plat = vmm_platform_pick(spec->platform, e);
        if (!vm->plat)
                return -1;
        res->platform = vm->plat->id;

        uint64_t t0 = time_mono_ns();
        struct vmm_image *img = vmm_image_get(spec->image, e);
        if (!img)
                return -1;
        vm->img = img;
        __atomic_add_fetch(&calls_running, 1, __ATOMIC_RELAXED);
        int rc = -1;
        bool have_vm = false, have_fs = false;
        vm->huge_pages = spec->huge_pages;
        bool pooled = !spec->huge_pages && vmm_pool_take(vm->plat, vm->lim.memory_mb, img, vm);
        if (!pooled && vm->plat->create(vm, vm->lim.memory_mb, e) < 0)
                goto out;
        have_vm = true;
        uint64_t t1 = time_mono_ns();
        res->t.create_ns = t1 - t0;

        if (img->hi > vm->guard_lo) {
                err_set(e, ENOMEM, "%s: the image (up to 0x%llx) does not fit in %u MiB",
                        spec->image, (unsigned long long)img->hi, vm->lim.memory_mb);
                goto out;
        }
        vm->brk_start = vm->brk_cur = img->hi;
        if (vmm_fs_init(&vm->fs, spec->mounts, spec->nmounts, e) < 0)
                goto out;
        have_fs = true;
        vm->cwd = xstrdup("/");
        if (spec->cwd) {
                char norm[4096];
                if (spec->cwd[0] != '/' ||
                    vmm_fs_normalize(NULL, spec->cwd, norm, sizeof(norm)) < 0) {
                        err_set(e, EINVAL, "working directory %s: not an absolute path", spec->cwd);
                        goto out;
                }
                free(vm->cwd);
                vm->cwd = xstrdup(norm);
        }
        uint64_t rsp = 0;
        if ((vm->prepared != img && vm->plat->load(vm, img, e) < 0) ||
            build_stack(vm, spec, &rsp, e) < 0 || vm->plat->enter(vm, img->entry, rsp, e) < 0)
                goto out;
        vmm_fds_std(vm);
        vmm_io_start(vm);
        uint64_t t2 = time_mono_ns();
        res->t.load_ns = t2 - t1;

        /* Signals: SIGPIPE blocked (a closed pipe is an error, not a death),
         * the kick signal delivered, and the timers that send it. */
        pthread_once(&kick_once, kick_install);
        sigset_t pipe, old;
        sigemptyset(&pipe);
        sigaddset(&pipe, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe, &old);
        if (sigismember(&old, VMM_KICK_SIGNAL)) {
                sigset_t kick;
                sigemptyset(&kick);
                sigaddset(&kick, VMM_KICK_SIGNAL);
                pthread_sigmask(SIG_UNBLOCK, &kick, NULL);
        }
        /* what changed, put back at the end (a thread that keeps SIGPIPE
         * blocked pays no call for it) */
        bool remask = !sigismember(&old, SIGPIPE) || sigismember(&old, VMM_KICK_SIGNAL);
        vm->start_ns = t2;
        vm->deadline_ns = t0 + (uint64_t)vm->lim.timeout_ms * 1000000ull;
        if (vm->run)
                vm->run->immediate_exit = 0;
        tls_run = vm->run;
        timer_t timer, tick;
        bool have_timer =
            vm->plat->kicks && kick_timer(&timer, vm->deadline_ns > t2 ? vm->deadline_ns - t2 : 1,
                                          VMM_KICK_AGAIN_MS * 1000000ull);
        bool have_tick =
            vm->plat->kicks && spec->cancel &&
            kick_timer(&tick, VMM_CANCEL_TICK_MS * 1000000ull, VMM_CANCEL_TICK_MS * 1000000ull);

        run_loop(vm);
        vm->plat->halt(vm);
        /* what the program wrote through the stub, while the timer still bounds it */
        vmm_io_flush(vm);

        if (have_timer)
                timer_delete(timer);
        if (have_tick)
                timer_delete(tick);
        tls_run = NULL;
        if (remask)
                pthread_sigmask(SIG_SETMASK, &old, NULL);
        uint64_t t3 = time_mono_ns();
        res->t.run_ns = t3 - t2;
        if (res->end == VMM_END_ERROR) {
                err_set(e, EIO, "%s: %s", spec->image, res->why);
                goto out;
        }
        rc = 0;
out:
        if (rc < 0) {
                res->end = VMM_END_ERROR;
                res->exit_code = 125;
                snprintf(res->why, sizeof(res->why), "%.*s", text_cut(e->msg, 511), e->msg);
        }
        uint64_t t4 = time_mono_ns();
        vmm_fds_close(vm);
        if (have_fs)
                vmm_fs_fini(&vm->fs);
        free(vm->maps);
        free(vm->cwd);
        if (have_vm)
                vmm_pool_give(vm, img);
        vmm_image_put(img);
        __atomic_sub_fetch(&calls_running, 1, __ATOMIC_RELAXED);
        res->t.teardown_ns = time_mono_ns() - t4;
        return rc;
}
