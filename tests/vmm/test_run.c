/* vmm_run end to end with memfds as the guest's fds: ordinary programs
 * (musl, glibc, static and static-pie), stdin and exit status, each limit,
 * faults, bad images and bad specs, and two threads running guests at once.
 * Runs on the process platform on every host (it must work: no skip) and
 * again on KVM where /dev/kvm is usable. Needs the guests of build/guests
 * (make vmm-guests). */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmm/internal.h"
#include "vmm/vmm.h"

#define G "build/guests/"

struct call {
        struct vmm_result res;
        osvm_err e;
        int rc;
        char *out; /* stdout, NUL-terminated */
        size_t out_len;
        char *err;
};

static char *slurp(int fd, size_t *len)
{
        off_t n = lseek(fd, 0, SEEK_END);
        char *s = xmalloc((size_t)n + 1);
        assert_int_equal(pread(fd, s, (size_t)n, 0), n);
        s[n] = '\0';
        if (len)
                *len = (size_t)n;
        return s;
}

/* The platform this group of tests runs on. */
static enum vmm_platform plat = VMM_PLATFORM_PROCESS;

static void call_run(struct call *c, const char *image, const char *const *argv, const char *input,
                     size_t in_len, struct vmm_limits lim)
{
        int in = memfd_create("in", MFD_CLOEXEC);
        int out = memfd_create("out", MFD_CLOEXEC);
        int err = memfd_create("err", MFD_CLOEXEC);
        assert_true(in >= 0 && out >= 0 && err >= 0);
        if (in_len)
                assert_int_equal(write(in, input, in_len), (ssize_t)in_len);
        lseek(in, 0, SEEK_SET);
        struct vmm_spec spec = {.image = image,
                                .argv = argv,
                                .in_fd = in,
                                .out_fd = out,
                                .err_fd = err,
                                .limits = lim,
                                .platform = plat};
        memset(c, 0, sizeof(*c));
        c->rc = vmm_run(&spec, &c->res, &c->e);
        if (c->rc == 0)
                assert_int_equal(c->res.platform, plat);
        c->out = slurp(out, &c->out_len);
        c->err = slurp(err, NULL);
        close(in);
        close(out);
        close(err);
}

static void call_free(struct call *c)
{
        free(c->out);
        free(c->err);
}

static int on_process(void **state)
{
        (void)state;
        plat = VMM_PLATFORM_PROCESS;
        char why[512];
        if (!vmm_platform_probe(plat, why, sizeof(why)))
                fail_msg("the process platform must run on every host: %s", why);
        print_message("process: %s\n", why);
        return 0;
}

static int on_kvm(void **state)
{
        (void)state;
        plat = VMM_PLATFORM_KVM;
        char why[512];
        if (!vmm_platform_probe(plat, why, sizeof(why)))
                print_message("skip: kvm: %s\n", why);
        return 0;
}

/* Only the KVM group skips, and only where /dev/kvm is not usable. */
#define SKIP_WITHOUT_KVM()                                                                         \
        do {                                                                                       \
                char why_[512];                                                                    \
                if (plat == VMM_PLATFORM_KVM && !vmm_platform_probe(plat, why_, sizeof(why_)))     \
                        skip();                                                                    \
        } while (0)

static const struct vmm_limits small = {.memory_mb = 32};

/* image run with "hello exit=CODE" (no input): fails the test, naming what,
 * unless it ran and exited with code. */
static void hello_exits(const char *image, int code, const char *what)
{
        char arg[16];
        snprintf(arg, sizeof(arg), "exit=%d", code);
        const char *argv[] = {"hello", arg, NULL};
        struct call c;
        call_run(&c, image, argv, NULL, 0, small);
        if (c.rc != 0 || c.res.exit_code != code)
                fail_msg("%s: %s %s", what, c.e.msg, c.res.why);
        call_free(&c);
}

static void test_hello_every_toolchain(void **state)
{
        (void)state;
        SKIP_WITHOUT_KVM();
        const char *images[] = {G "hello", G "hello.glibc", G "hello.glibc-pie",
                                G "hello.musl-pie"};
        for (size_t i = 0; i < 4; i++) {
                const char *argv[] = {"hello", "one two", "exit=7", NULL};
                struct call c;
                call_run(&c, images[i], argv, NULL, 0, small);
                if (c.rc != 0)
                        fail_msg("%s: %s", images[i], c.e.msg);
                assert_int_equal(c.res.end, VMM_END_EXIT);
                assert_int_equal(c.res.exit_code, 7);
                assert_string_equal(c.out, "hello from the guest, argc=3\narg 1: one two\n");
                assert_int_equal(c.res.output_bytes, c.out_len);
                assert_true(c.res.syscalls >= 2);
                call_free(&c);
        }
}

static void test_stdin_and_heap(void **state)
{
        (void)state;
        SKIP_WITHOUT_KVM();
        size_t n = 3u << 20;
        char *in = xmalloc(n);
        for (size_t i = 0; i < n; i++)
                in[i] = (char)('a' + (i * 7) % 26);
        const char *argv[] = {"hello", "cat", "malloc", NULL};
        struct call c;
        call_run(&c, G "hello.glibc", argv, in, n, small);
        assert_int_equal(c.rc, 0);
        assert_int_equal(c.res.exit_code, 0);
        const char *head = "hello from the guest, argc=3\n";
        assert_int_equal(c.out_len, strlen(head) + n + strlen("malloc ok\n"));
        assert_memory_equal(c.out + strlen(head), in, n);
        assert_string_equal(c.out + strlen(head) + n, "malloc ok\n");
        call_free(&c);
        free(in);
}

/* A request the platform's stub serves (staged I/O, docs/vmm.md): the
 * tool's reads and its write never reach the syscall layer, from its first
 * read on (the request is staged before the program starts); its exit
 * does. Where no stub serves them (KVM with system calls at CPL0), each
 * does. */
static void test_staged_request(void **state)
{
        (void)state;
        SKIP_WITHOUT_KVM();
        static const char req[] = "{\"request\": 1}\n";
        const char *argv[] = {"echo", NULL};
        bool staged = plat == VMM_PLATFORM_PROCESS || vmm_kvm_is_pvm();
        for (int i = 0; i < 20; i++) {
                struct call c;
                call_run(&c, G "echo", argv, req, sizeof(req) - 1, small);
                if (c.rc != 0)
                        fail_msg("%s", c.e.msg);
                assert_int_equal(c.res.end, VMM_END_EXIT);
                assert_int_equal(c.res.exit_code, 0);
                assert_string_equal(c.out, req);
                if (staged)
                        assert_int_equal(c.res.syscalls, 1);
                else
                        assert_true(c.res.syscalls >= 4);
                call_free(&c);
        }
        /* the glibc echo: its start's calls too are answered ahead on the
         * process platform (the break, the limits, random bytes, the
         * executable's link), so that again only its exit reaches the layer */
        struct call c;
        call_run(&c, G "echo.glibc", argv, req, sizeof(req) - 1, small);
        if (c.rc != 0)
                fail_msg("%s", c.e.msg);
        assert_int_equal(c.res.exit_code, 0);
        assert_string_equal(c.out, req);
        if (plat == VMM_PLATFORM_PROCESS)
                assert_int_equal(c.res.syscalls, 1);
        call_free(&c);
}

/* Writes to fds 1 and 2 keep their order, also when 1 is redirected. */
static void test_interleave(void **state)
{
        (void)state;
        SKIP_WITHOUT_KVM();
        const char *argv[] = {"hello", "interleave", NULL};
        struct call c;
        call_run(&c, G "hello", argv, NULL, 0, small);
        assert_int_equal(c.res.exit_code, 0);
        assert_string_equal(c.out, "hello from the guest, argc=2\n1a 1c ");
        assert_string_equal(c.err, "2b 1d ");
        call_free(&c);

        /* one fd for both: the order of the writes */
        int fd = memfd_create("both", MFD_CLOEXEC);
        struct vmm_spec spec = {.image = G "hello.glibc",
                                .argv = argv,
                                .in_fd = -1,
                                .out_fd = fd,
                                .err_fd = fd,
                                .limits = small,
                                .platform = plat};
        struct vmm_result res;
        osvm_err e = {0};
        assert_int_equal(vmm_run(&spec, &res, &e), 0);
        char *all = slurp(fd, NULL);
        close(fd);
        assert_string_equal(all, "hello from the guest, argc=2\n1a 2b 1c 1d ");
        free(all);
}

static void expect_end(const char *image, const char *const *argv, struct vmm_limits lim,
                       enum vmm_end end, const char *why)
{
        struct call c;
        call_run(&c, image, argv, NULL, 0, lim);
        call_free(&c);
        assert_int_equal(c.rc, 0);
        if (c.res.end != end || !strstr(c.res.why, why))
                fail_msg("%s: ended %s \"%s\", wanted %s \"%s\"", image, vmm_end_name(c.res.end),
                         c.res.why, vmm_end_name(end), why);
}

static void test_limits(void **state)
{
        (void)state;
        SKIP_WITHOUT_KVM();
        const char *none[] = {"g", NULL};
        /* the loop never ends: only the limit stops it */
        expect_end(G "loop", none, (struct vmm_limits){.memory_mb = 32, .timeout_ms = 200},
                   VMM_END_LIMIT, "time limit of 200 ms");
        expect_end(G "flood", none, (struct vmm_limits){.memory_mb = 32, .max_output_bytes = 5000},
                   VMM_END_LIMIT, "output limit of 5000 bytes");
        expect_end(G "syscalls", none, (struct vmm_limits){.memory_mb = 32, .max_syscalls = 300},
                   VMM_END_LIMIT, "system call limit of 300");
        expect_end(G "oom", none, (struct vmm_limits){.memory_mb = 16}, VMM_END_LIMIT,
                   "memory limit of 16 MiB");
}

static void test_faults(void **state)
{
        (void)state;
        SKIP_WITHOUT_KVM();
        const char *pt[] = {"g", "0x1000", NULL};
        expect_end(G "write_sys", pt, small, VMM_END_FAULT, "page fault (#PF): write to 0x1000");
        const char *cli[] = {"g", "cli", NULL};
        expect_end(G "priv", cli, small, VMM_END_FAULT, "general protection fault (#GP)");
        const char *none[] = {"g", NULL};
        expect_end(G "stack", none, small, VMM_END_FAULT, "stack overflow");
        expect_end(G "noncanon", none, small, VMM_END_FAULT, "(#GP)");
        expect_end(G "bad_ptr", none, small, VMM_END_EXIT, "");
}

static void test_bad_specs(void **state)
{
        (void)state;
        SKIP_WITHOUT_KVM();
        struct vmm_result res;
        osvm_err e = {0};
        struct vmm_spec spec = {.image = "/nonexistent/image",
                                .in_fd = -1,
                                .out_fd = -1,
                                .err_fd = -1,
                                .platform = plat};
        assert_int_equal(vmm_run(&spec, &res, &e), -1);
        assert_int_equal(res.end, VMM_END_ERROR);
        assert_non_null(strstr(e.msg, "/nonexistent/image"));
        spec.image = "/bin/true"; /* dynamically linked */
        err_clear(&e);
        assert_int_equal(vmm_run(&spec, &res, &e), -1);
        assert_non_null(strstr(e.msg, "dynamically linked"));
        spec.image = G "hello";
        spec.limits.memory_mb = 100000;
        err_clear(&e);
        assert_int_equal(vmm_run(&spec, &res, &e), -1);
        assert_non_null(strstr(e.msg, "memory limit"));
        spec.limits.memory_mb = 0;
        struct vmm_mount m = {"/nonexistent/dir", "/data", true};
        spec.mounts = &m;
        spec.nmounts = 1;
        err_clear(&e);
        assert_int_equal(vmm_run(&spec, &res, &e), -1);
        assert_non_null(strstr(e.msg, "/nonexistent/dir"));
        /* fds of -1: no input, output discarded but counted */
        spec.mounts = NULL;
        spec.nmounts = 0;
        err_clear(&e);
        assert_int_equal(vmm_run(&spec, &res, &e), 0);
        assert_int_equal(res.end, VMM_END_EXIT);
        assert_int_equal(res.output_bytes, strlen("hello from the guest, argc=1\n"));
}

static volatile sig_atomic_t cancel_flag;

/* A guest that runs on without a system call until stop is set. */
static struct vmm_spec loop_spec(volatile sig_atomic_t *stop)
{
        static const char *argv[] = {"loop", NULL};
        return (struct vmm_spec){.image = G "loop",
                                 .argv = argv,
                                 .in_fd = -1,
                                 .out_fd = -1,
                                 .err_fd = -1,
                                 .cancel = stop,
                                 .limits = {.memory_mb = 32, .timeout_ms = 120000},
                                 .platform = plat};
}

/* Ctrl-C: a guest that runs without a system call is stopped at once, from
 * another thread, long before its time limit. */
static void test_cancel(void **state)
{
        (void)state;
        SKIP_WITHOUT_KVM();
        struct vmm_spec spec = loop_spec(&cancel_flag);
        struct tu_later later;
        tu_later_start(&later, &cancel_flag, 100);
        struct vmm_result res;
        osvm_err e = {0};
        assert_int_equal(vmm_run(&spec, &res, &e), 0);
        tu_later_join(&later);
        assert_int_equal(res.end, VMM_END_CANCELLED);
        assert_string_equal(res.why, "cancelled");
        assert_int_equal(res.exit_code, 130);
        /* a flag set before the start: it never runs */
        assert_int_equal(vmm_run(&spec, &res, &e), 0);
        assert_int_equal(res.end, VMM_END_CANCELLED);
        cancel_flag = 0;
}

static void *worker(void *arg)
{
        int *bad = arg;
        for (int i = 0; i < 4; i++) {
                const char *argv[] = {"hello", "exit=5", NULL};
                struct vmm_spec spec = {.image = G "hello",
                                        .argv = argv,
                                        .in_fd = -1,
                                        .out_fd = -1,
                                        .err_fd = -1,
                                        .limits = small,
                                        .platform = plat};
                struct vmm_result res;
                osvm_err e = {0};
                if (vmm_run(&spec, &res, &e) != 0 || res.exit_code != 5)
                        (*bad)++;
        }
        return NULL;
}

static void test_two_threads(void **state)
{
        (void)state;
        SKIP_WITHOUT_KVM();
        pthread_t t[2];
        int bad[2] = {0, 0};
        for (int i = 0; i < 2; i++)
                pthread_create(&t[i], NULL, worker, &bad[i]);
        for (int i = 0; i < 2; i++)
                pthread_join(t[i], NULL);
        assert_int_equal(bad[0] + bad[1], 0);
}

static void test_pool(void **state)
{
        (void)state;
        SKIP_WITHOUT_KVM();
        osvm_err e = {0};
        assert_int_equal(vmm_pool_start_platform(plat, 2, 32, &e), 0);
        assert_int_equal(vmm_pool_start_platform(plat, 2, 32, &e), -1); /* once */
        /* the first calls take guests made before the pool knew any image */
        vmm_pool_wait_idle();
        for (int i = 0; i < 2; i++)
                hello_exits(G "hello.glibc", 3, "a guest made without the image");
        for (int i = 0; i < 6; i++) {
                const char *argv[] = {"hello", "exit=9", NULL};
                struct call c;
                call_run(&c, i % 2 ? G "hello.glibc" : G "hello", argv, NULL, 0, small);
                assert_int_equal(c.rc, 0);
                assert_int_equal(c.res.exit_code, 9);
                assert_string_equal(c.out, "hello from the guest, argc=2\n");
                call_free(&c);
        }
        /* the same image again and again: guests loaded ahead, its pages
         * learned by the reaper and touched ahead by the warm-up */
        for (int i = 0; i < 8; i++) {
                vmm_pool_wait_idle();
                const char *argv[] = {"hello", "cat", "malloc", NULL};
                struct call c;
                call_run(&c, G "hello.glibc", argv, "request\n", 8, small);
                assert_int_equal(c.rc, 0);
                assert_int_equal(c.res.exit_code, 0);
                assert_string_equal(c.out, "hello from the guest, argc=3\nrequest\nmalloc ok\n");
                call_free(&c);
        }
        /* the reaper learned the pages of its first runs (their guests are
         * kept for it: on the process platform a stub otherwise ends as soon
         * as the guest exits) */
        vmm_pool_wait_idle();
        struct vmm_image *img = vmm_image_get(G "hello.glibc", &e);
        assert_non_null(img);
        if (img->nprofile == 0)
                fail_msg("no page of the image's first runs was learned");
        /* one call after another does not grow it, not even calls that
         * take a guest and give it back at once, faster than the pool makes
         * them */
        const struct vmm_platform_ops *ops = vmm_platform_pick(plat, &e);
        assert_non_null(ops);
        for (int i = 0; i < 32; i++) {
                struct vmm_vm v;
                memset(&v, 0, sizeof(v));
                if (vmm_pool_take(ops, 32, img, &v))
                        vmm_pool_give(&v, img);
        }
        unsigned nready, size;
        vmm_pool_counts(&nready, &size);
        if (size != 2)
                fail_msg("calls from one thread grew the pool to %u", size);
        /* calls outrunning the pool: takes with none given back. On the
         * process platform the take that finds none ready makes what is
         * missing in one go and takes one; on KVM it finds none. */
        vmm_pool_wait_idle();
        struct vmm_vm taken[5];
        int ntaken = 0;
        for (int i = 0; i < 5; i++) {
                memset(&taken[ntaken], 0, sizeof(taken[ntaken]));
                if (vmm_pool_take(ops, 32, img, &taken[ntaken]))
                        ntaken++;
        }
        assert_int_equal(ntaken, plat == VMM_PLATFORM_PROCESS ? 5 : 2);
        for (int i = 0; i < ntaken; i++) {
                assert_ptr_equal(taken[i].prepared, img); /* each loaded with the image */
                vmm_pool_give(&taken[i], img);
        }
        /* ... and the pool grew for them: it now keeps more ready */
        vmm_pool_wait_idle();
        vmm_pool_counts(&nready, &size);
        if (size <= 2 || nready != size)
                fail_msg("after calls outran it the pool keeps %u (%u ready), not more than 2",
                         size, nready);
        /* no call for a while: it shrinks back to its first size (a bound
         * that guards a hang, not a time budget) */
        for (int i = 0; i < 600 && (size > 2 || nready > 2); i++) {
                usleep(100 * 1000);
                vmm_pool_counts(&nready, &size);
        }
        if (size != 2 || nready > 2)
                fail_msg("a pool left idle for a minute keeps %u (%u ready), not 2", size, nready);
        vmm_image_put(img);
        const char *pt[] = {"g", "0xd000", NULL};
        expect_end(G "write_sys", pt, small, VMM_END_FAULT, "write to 0xd000");
        /* a size the pool does not hold still runs */
        const char *none[] = {"hello", NULL};
        struct call c;
        call_run(&c, G "hello", none, NULL, 0, (struct vmm_limits){.memory_mb = 64});
        assert_int_equal(c.res.exit_code, 0);
        call_free(&c);
        vmm_shutdown();
}

/* One call of residue, its output and status checked. */
static void residue(const char *mode, const char *want)
{
        const char *argv[] = {"residue", mode, NULL};
        char mark[4096];
        memset(mark, 0xa5, sizeof(mark));
        struct call c;
        call_run(&c, G "residue", argv, mark, sizeof(mark), small);
        if (c.rc != 0 || c.res.exit_code != 0 || strcmp(c.out, want) != 0)
                fail_msg("residue %s: %s %s (status %d): %s", mode, c.e.msg, c.res.why,
                         c.res.exit_code, c.out);
        call_free(&c);
}

/* Nothing one guest wrote reaches the next: on the process platform the
 * guest memory of a call that ended serves the next call of its size, and is
 * wiped first (its pages zeroed in place while few, past that given back:
 * residue writes more than the first). On demand, then with a pool. A few
 * pages written where the last call wrote (write-bss twice: the memfd holds
 * the pages its last wipe left, and no other), then a few where it did not
 * (write-mmap: pages the last wipe did not see, to be found). */
static void test_no_residue(void **state)
{
        (void)state;
        SKIP_WITHOUT_KVM();
        for (int i = 0; i < 3; i++) {
                residue("write", "written\n");
                if (plat == VMM_PLATFORM_PROCESS &&
                    vmm_proc_kept_memory(small.memory_mb, 10000) == 0)
                        fail_msg("no guest memory was kept for the next call");
                residue("check", "the read-only page\nclean\n");
                residue("write-bss", "written\n");
                residue("write-bss", "written\n");
                residue("check", "the read-only page\nclean\n");
                residue("write-bss", "written\n");
                residue("write-mmap", "written\n");
                residue("check", "the read-only page\nclean\n");
        }
        osvm_err e = {0};
        assert_int_equal(vmm_pool_start_platform(plat, 2, small.memory_mb, &e), 0);
        for (int i = 0; i < 6; i++) {
                residue("write", "written\n");
                vmm_pool_wait_idle();
                residue("check", "the read-only page\nclean\n");
        }
        vmm_shutdown();
}

/* Which side of the syscall path this host takes (docs/vmm.md): on VT-x and
 * AMD-V `syscall` enters the stub at CPL0 and its sysretq returns; on PVM it
 * stays at CPL3 and the engine completes the return. The warm-up's exit says
 * which, and it must be the one the engine chose its stub for; either way the
 * vCPU is back at CPL3 before the program starts. */
static void test_syscall_entry(void **state)
{
        (void)state;
        char why[512];
        if (!vmm_probe(why, sizeof(why)))
                skip(); /* a KVM vCPU's way in: nothing to see without /dev/kvm */
        struct vmm_vm vm;
        memset(&vm, 0, sizeof(vm));
        osvm_err e = {0};
        assert_int_equal(vmm_vm_create(&vm, 32, &e), 0);
        vmm_vm_layout(&vm);
        assert_int_equal(vmm_vm_setup_cpu(&vm, &e), 0);
        if (vmm_vm_warmup(&vm, NULL, 0, &e) < 0)
                fail_msg("warm-up: %s", e.msg);
        print_message("syscalls enter at CPL%d (%s)\n", vm.cpl0_syscalls ? 0 : 3,
                      vmm_kvm_is_pvm() ? "PVM" : "VT-x or AMD-V");
        assert_true(vm.mode_known);
        assert_int_equal(vm.cpl0_syscalls, !vmm_kvm_is_pvm());
        struct kvm_sregs sr;
        assert_int_equal(ioctl(vm.vcpufd, KVM_GET_SREGS, &sr), 0);
        assert_int_equal(sr.cs.dpl, 3);
        assert_int_equal(sr.ss.dpl, 3);
        vmm_vm_destroy(&vm);
}

/* vmm_shutdown frees everything, the process platform's zygote included:
 * no process of the engine's is left below the caller (a long-lived caller
 * that shut the engine down holds nothing of it); the next run starts
 * another. */
static void test_shutdown_ends_every_process(void **state)
{
        (void)state;
        SKIP_WITHOUT_KVM();
        for (int round = 0; round < 2; round++) {
                hello_exits(G "hello", 4, round ? "after a shutdown" : "before a shutdown");
                vmm_shutdown();
                siginfo_t si = {0};
                errno = 0;
                int w = waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT);
                if (w != -1 || errno != ECHILD)
                        fail_msg("round %d: a child of the engine is left after vmm_shutdown",
                                 round);
        }
}

/* This process's children, by thread (/proc/self/task/TID/children): up
 * to max pids into out; how many. */
static size_t children(int *out, size_t max)
{
        size_t n = 0;
        DIR *d = opendir("/proc/self/task");
        for (struct dirent *t; d && (t = readdir(d));) {
                char path[300];
                snprintf(path, sizeof(path), "/proc/self/task/%s/children", t->d_name);
                FILE *f = t->d_name[0] != '.' ? fopen(path, "r") : NULL;
                for (int pid; f && n < max && fscanf(f, "%d", &pid) == 1;)
                        out[n++] = pid;
                if (f)
                        fclose(f);
        }
        if (d)
                closedir(d);
        return n;
}

/* The process platform's zygote killed between two calls: the next call
 * finds it gone (at once, or only once it asked: a kill takes a moment),
 * starts another and runs. */
static void test_zygote_dies(void **state)
{
        (void)state;
        if (plat != VMM_PLATFORM_PROCESS)
                skip(); /* KVM has no zygote */
        hello_exits(G "hello", 4, "before the kill");
        for (int round = 0; round < 2; round++) {
                int kids[16];
                size_t n = children(kids, 16);
                assert_int_equal(n, 1); /* the zygote, the engine's only child between calls */
                assert_int_equal(kill(kids[0], SIGKILL), 0);
                if (round == 1) { /* dead before the call, not reaped */
                        siginfo_t si = {0};
                        assert_int_equal(waitid(P_PID, (id_t)kids[0], &si, WEXITED | WNOWAIT), 0);
                }
                hello_exits(G "hello", 4,
                            round ? "after a kill, the zygote reaped" : "after a kill");
                n = children(kids, 16);
                assert_int_equal(n, 1); /* another; the dead one reaped */
        }
}

/* The value of the line of /proc/PID/status that starts with key, into
 * out ("" if none). */
static void status_of(int pid, const char *key, char *out, size_t len)
{
        char path[64], line[512];
        snprintf(path, sizeof(path), "/proc/%d/status", pid);
        out[0] = '\0';
        FILE *f = fopen(path, "r");
        while (f && fgets(line, sizeof(line), f))
                if (!strncmp(line, key, strlen(key))) {
                        snprintf(out, len, "%s", line + strlen(key));
                        break;
                }
        if (f)
                fclose(f);
}

static volatile sig_atomic_t loop_stop;

static void *loop_call(void *arg)
{
        struct vmm_result *res = arg;
        struct vmm_spec spec = loop_spec(&loop_stop);
        osvm_err e = {0};
        if (vmm_run(&spec, res, &e) < 0)
                res->end = VMM_END_FAULT;
        return NULL;
}

/* The stubs running now (the zygote's children not asleep): up to max
 * pids into out; how many. */
static size_t running_stub_pids(int *out, size_t max)
{
        int kids[16];
        size_t nk = children(kids, 16), n = 0;
        for (size_t k = 0; k < nk; k++) {
                char path[64];
                snprintf(path, sizeof(path), "/proc/%d/task/%d/children", kids[k], kids[k]);
                FILE *f = fopen(path, "r");
                for (int pid; f && n < max && fscanf(f, "%d", &pid) == 1;) {
                        char st[64];
                        status_of(pid, "State:", st, sizeof(st));
                        if (strchr(st, 'R'))
                                out[n++] = pid;
                }
                if (f)
                        fclose(f);
        }
        return n;
}

/* The stubs running now: how many, and how many of them may run on the
 * CPUs in list. */
static void running_stubs(const char *list, int *running, int *free_of_place)
{
        int pids[64];
        size_t n = running_stub_pids(pids, 64);
        *running = (int)n;
        *free_of_place = 0;
        for (size_t i = 0; i < n; i++) {
                char cpus[256];
                status_of(pids[i], "Cpus_allowed_list:", cpus, sizeof(cpus));
                *free_of_place += !strcmp(cpus, list);
        }
}

/* Calls side by side place their stubs on one CPU while they start
 * (place_stub in proc_x86_64.c); a guest that computes on without a system
 * call is let run on every CPU again after one of osvm's waits, not held on
 * one CPU for the whole of its run. */
static void test_placement_let_go(void **state)
{
        (void)state;
        if (plat != VMM_PLATFORM_PROCESS)
                skip(); /* KVM's vCPUs are osvm's own threads */
        cpu_set_t cpus;
        assert_int_equal(sched_getaffinity(0, sizeof(cpus), &cpus), 0);
        if (CPU_COUNT(&cpus) < 2) {
                print_message("placement: skipped: this process may run on one CPU only\n");
                skip();
        }
        char mine[256];
        status_of(getpid(), "Cpus_allowed_list:", mine, sizeof(mine));
        assert_true(mine[0]);
        struct vmm_result res[2] = {{0}, {0}};
        pthread_t t[2];
        loop_stop = 0;
        for (int i = 0; i < 2; i++)
                assert_int_equal(pthread_create(&t[i], NULL, loop_call, &res[i]), 0);
        /* both running stubs come to have every CPU this process has (the
         * second call's stub was placed); the bound only guards a hang */
        bool free_again = false;
        for (int i = 0; i < 3000 && !free_again; i++) {
                int running, free_of_place;
                running_stubs(mine, &running, &free_of_place);
                free_again = running >= 2 && free_of_place == running;
                if (!free_again)
                        usleep(10000);
        }
        loop_stop = 1;
        for (int i = 0; i < 2; i++)
                pthread_join(t[i], NULL);
        assert_true(free_again);
        for (int i = 0; i < 2; i++)
                assert_int_equal(res[i].end, VMM_END_CANCELLED);
}

/* The page of a stub's zygote stack region (its one writable mapping below
 * the control page) that the stub started on, or 0. */
static uint64_t stub_zygote_page(int pid)
{
        char path[64], line[512];
        uint64_t top = 0;
        snprintf(path, sizeof(path), "/proc/%d/maps", pid);
        FILE *f = fopen(path, "r");
        while (f && fgets(line, sizeof(line), f)) {
                unsigned long lo, hi;
                char perms[8];
                if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 && hi <= 0x100000 &&
                    !strcmp(perms, "rw-p"))
                        top = hi - 4096;
        }
        if (f)
                fclose(f);
        return top;
}

/* The pagemap entry of pid's page at addr. */
static bool pagemap_entry(int pid, uint64_t addr, uint64_t *entry)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        bool ok = fd >= 0 && pread(fd, entry, 8, (off_t)(addr / 4096 * 8)) == 8;
        if (fd >= 0)
                close(fd);
        return ok;
}

/*
 * A stub writes nothing on the stack page the zygote forked it on, which
 * the fork left shared copy-on-write (a write there costs every stub a page
 * fault): it maps its own stack first (stub_from_fork in gadget.S). That page
 * (the top of the only writable anonymous mapping below its control pages)
 * is, in a running stub, still present and shared with the zygote, as its
 * pagemap says (bit 63 present, bit 56 mapped by this process alone).
 */
static void test_stub_writes_no_zygote_page(void **state)
{
        (void)state;
        if (plat != VMM_PLATFORM_PROCESS)
                skip(); /* no zygote on KVM */
        struct vmm_result res = {0};
        pthread_t t;
        loop_stop = 0;
        assert_int_equal(pthread_create(&t, NULL, loop_call, &res), 0);
        /* a running stub, its page of the zygote's stack region (its one
         * writable mapping below the control page) and that page's pagemap
         * entry, present: looked for again while a stub found is one that
         * ends (a stub runs while its memory is torn down) or has none (the
         * bound only guards a hang) */
        int stub = 0;
        uint64_t top = 0, entry = 0;
        bool read_ok = false;
        for (int i = 0; i < 3000 && !read_ok; i++) {
                int pids[8];
                size_t n = running_stub_pids(pids, 8);
                for (size_t k = 0; k < n && !read_ok; k++) {
                        stub = pids[k];
                        top = stub_zygote_page(stub);
                        read_ok = top && pagemap_entry(stub, top, &entry) && (entry >> 63 & 1);
                }
                if (!read_ok)
                        usleep(10000);
        }
        loop_stop = 1;
        pthread_join(t, NULL);
        assert_int_equal(res.end, VMM_END_CANCELLED);
        if (!stub || !top || !read_ok)
                fail_msg("no running stub with its page of the zygote's present found (stub %d, "
                         "page 0x%llx)",
                         stub, (unsigned long long)top);
        if (entry >> 56 & 1)
                fail_msg("the stub's page 0x%llx of the zygote's is its own copy: the stub wrote "
                         "there",
                         (unsigned long long)top);
}

static int done(void **state)
{
        (void)state;
        vmm_shutdown();
        return 0;
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_hello_every_toolchain),
            cmocka_unit_test(test_stdin_and_heap),
            cmocka_unit_test(test_staged_request),
            cmocka_unit_test(test_interleave),
            cmocka_unit_test(test_limits),
            cmocka_unit_test(test_faults),
            cmocka_unit_test(test_bad_specs),
            cmocka_unit_test(test_cancel),
            cmocka_unit_test(test_two_threads),
            cmocka_unit_test(test_syscall_entry),
            cmocka_unit_test(test_pool),
            cmocka_unit_test(test_no_residue),
            cmocka_unit_test(test_shutdown_ends_every_process),
            cmocka_unit_test(test_zygote_dies),
            cmocka_unit_test(test_placement_let_go),
            cmocka_unit_test(test_stub_writes_no_zygote_page),
        };
        int failed = cmocka_run_group_tests_name("process", tests, on_process, done);
        failed += cmocka_run_group_tests_name("kvm", tests, on_kvm, done);
        return failed;
}
