/*
 * The syscall layer without KVM: a struct vmm_vm over plain memory, its
 * system calls served by vmm_syscall() as the exit loop would. Covers every
 * blocking point on the host side of a call (the host-call channel, the
 * result pipe, sleeps, futex waits) against the deadline and the cancel
 * flag, the one rule for the modes a guest sets, and the time values a
 * guest passes.
 */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vmm/internal.h"

#define MEM_SIZE (32ull << 20)
#define BUF      0x400000ull /* guest scratch: 16 MiB from here */
#define PATHS    0x300000ull /* guest strings */
#define TS       0x3f0000ull /* a guest timespec */
#define WORD     0x3f8000ull /* a futex word */

/*
 * Every test that waits on purpose sets a hang guard: the fixed code ends
 * each wait within the call's deadline (at most a few hundred ms here) or a
 * cancel tick; the alarm only turns a hang into a failure and is generous.
 */
#define HANG_GUARD_S 60

struct harness {
        struct vmm_vm vm;
        struct vmm_spec spec;
        struct vmm_result res;
        struct vmm_image img;
};

/* A VM of MEM_SIZE plain memory; spec fields (fds, mounts, cancel) set by
 * the caller before h_start. */
static void h_init(struct harness *h)
{
        memset(h, 0, sizeof(*h));
        h->spec.in_fd = h->spec.out_fd = h->spec.err_fd = -1;
        h->spec.host_fd = -1;
}

static void h_start(struct harness *h, uint32_t timeout_ms)
{
        struct vmm_vm *vm = &h->vm;
        vm->plat = &vmm_platform_kvm; /* plain anonymous memory, as KVM's guest memory is */
        vm->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        assert_true(vm->mem != MAP_FAILED);
        vm->mem_size = MEM_SIZE;
        vm->memory_mb = (uint32_t)(MEM_SIZE >> 20);
        vm->stack_lo = MEM_SIZE - VMM_HUGE;
        vm->guard_lo = vm->stack_lo - VMM_HUGE;
        vm->brk_start = vm->brk_cur = BUF + (16ull << 20);
        h->img.path = "harness";
        vm->img = &h->img;
        vm->spec = &h->spec;
        vm->res = &h->res;
        vm->lim = (struct vmm_limits){.memory_mb = vm->memory_mb,
                                      .timeout_ms = timeout_ms,
                                      .max_output_bytes = VMM_DEFAULT_MAX_OUTPUT,
                                      .max_syscalls = VMM_DEFAULT_MAX_SYSCALLS};
        vm->start_ns = time_mono_ns();
        vm->deadline_ns = vm->start_ns + (uint64_t)timeout_ms * 1000000ull;
        for (int i = 0; i < VMM_MAX_FDS; i++)
                vm->fds[i].host = -1;
        vmm_fds_std(vm);
        osvm_err e = {0};
        if (vmm_fs_init(&vm->fs, h->spec.mounts, h->spec.nmounts, &e) < 0)
                fail_msg("%s", e.msg);
        vm->cwd = xstrdup("/");
        h->res.end = VMM_END_EXIT;
}

static void h_fini(struct harness *h)
{
        vmm_fds_close(&h->vm);
        vmm_fs_fini(&h->vm.fs);
        free(h->vm.maps);
        free(h->vm.cwd);
        munmap(h->vm.mem, MEM_SIZE);
}

static int64_t sc(struct harness *h, uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2,
                  uint64_t a3)
{
        const uint64_t a[6] = {a0, a1, a2, a3, 0, 0};
        return vmm_syscall(&h->vm, nr, a);
}

/* A NUL-terminated string in guest memory at PATHS + 256 * slot. */
static uint64_t gstr(struct harness *h, int slot, const char *s)
{
        uint64_t a = PATHS + 256ull * (uint64_t)slot;
        memcpy(h->vm.mem + a, s, strlen(s) + 1);
        return a;
}

static uint64_t gts(struct harness *h, int64_t sec, int64_t nsec)
{
        int64_t ts[2] = {sec, nsec};
        memcpy(h->vm.mem + TS, ts, sizeof(ts));
        return TS;
}

static void expect_stopped(struct harness *h, enum vmm_end end, const char *why)
{
        assert_true(h->vm.done);
        if (h->res.end != end || !strstr(h->res.why, why))
                fail_msg("ended %s \"%s\", wanted %s \"%s\"", vmm_end_name(h->res.end), h->res.why,
                         vmm_end_name(end), why);
}

/* ---- the host-call channel and the result pipe, against the deadline ---- */

/* A guest that writes to fd 3 and never reads the answers, to a host that
 * does not read either: the write waits no longer than the call may. */
static void test_host_channel_write_stops_at_deadline(void **state)
{
        (void)state;
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        struct harness h;
        h_init(&h);
        h.spec.host_fd = sv[1];
        h_start(&h, 300);
        alarm(HANG_GUARD_S);
        int64_t n = sc(&h, SYS_write, 3, BUF, 8u << 20, 0);
        alarm(0);
        /* some went into the socket's buffer; the rest waited until the time was up */
        assert_true(n > 0 && n < (8 << 20));
        expect_stopped(&h, VMM_END_LIMIT, "time limit of 300 ms reached (writing)");
        h_fini(&h);

        /* the same with writev, and with a peer that never reads */
        h_init(&h);
        h.spec.host_fd = sv[1];
        h_start(&h, 300);
        uint64_t iov[4] = {BUF, 4u << 20, BUF + (4u << 20), 4u << 20};
        memcpy(h.vm.mem + TS, iov, sizeof(iov));
        alarm(HANG_GUARD_S);
        n = sc(&h, SYS_writev, 3, TS, 2, 0);
        alarm(0);
        assert_true(n == -EINTR || (n >= 0 && n < (8 << 20)));
        expect_stopped(&h, VMM_END_LIMIT, "(writing)");
        h_fini(&h);
        close(sv[0]);
        close(sv[1]);
}

static void test_host_channel_read_stops_at_deadline(void **state)
{
        (void)state;
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        struct harness h;
        h_init(&h);
        h.spec.host_fd = sv[1];
        h_start(&h, 200);
        alarm(HANG_GUARD_S);
        assert_int_equal(sc(&h, SYS_read, 3, BUF, 100, 0), -EINTR);
        alarm(0);
        expect_stopped(&h, VMM_END_LIMIT, "time limit of 200 ms reached (reading)");
        h_fini(&h);
        close(sv[0]);
        close(sv[1]);
}

/* The channel works: a request out, an answer in, EOF and EPIPE once the
 * host closed its end. */
static void test_host_channel_round_trip(void **state)
{
        (void)state;
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        struct harness h;
        h_init(&h);
        h.spec.host_fd = sv[1];
        h_start(&h, 10000);
        memcpy(h.vm.mem + BUF, "{\"op\":\"x\"}\n", 11);
        assert_int_equal(sc(&h, SYS_write, 3, BUF, 11, 0), 11);
        char got[32] = "";
        assert_int_equal(read(sv[0], got, sizeof(got)), 11);
        assert_memory_equal(got, "{\"op\":\"x\"}\n", 11);
        assert_int_equal(write(sv[0], "{\"ok\":true}\n", 12), 12);
        /* readv over two buffers */
        uint64_t iov[4] = {BUF + 100, 5, BUF + 200, 100};
        memcpy(h.vm.mem + TS, iov, sizeof(iov));
        assert_int_equal(sc(&h, SYS_readv, 3, TS, 2, 0), 12);
        assert_memory_equal(h.vm.mem + BUF + 100, "{\"ok\"", 5);
        assert_memory_equal(h.vm.mem + BUF + 200, ":true}\n", 7);
        shutdown(sv[0], SHUT_RDWR);
        assert_int_equal(sc(&h, SYS_read, 3, BUF, 100, 0), 0);
        assert_int_equal(sc(&h, SYS_write, 3, BUF, 11, 0), -EPIPE);
        assert_false(h.vm.done);
        h_fini(&h);
        close(sv[0]);
        close(sv[1]);
}

/* A result pipe that nobody reads: the write of fd 1 ends at the deadline,
 * and what went in is counted. */
static void test_result_pipe_full(void **state)
{
        (void)state;
        int p[2];
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        struct harness h;
        h_init(&h);
        h.spec.out_fd = p[1];
        h_start(&h, 300);
        alarm(HANG_GUARD_S);
        int64_t n = sc(&h, SYS_write, 1, BUF, 4u << 20, 0);
        alarm(0);
        assert_true(n > 0 && n < (4 << 20));
        assert_int_equal(h.res.output_bytes, (uint64_t)n);
        expect_stopped(&h, VMM_END_LIMIT, "time limit of 300 ms reached (writing)");
        h_fini(&h);
        close(p[0]);
        close(p[1]);
}

/* A request pipe that never ends: the read of fd 0 ends at the deadline. */
static void test_request_pipe_silent(void **state)
{
        (void)state;
        int p[2];
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        struct harness h;
        h_init(&h);
        h.spec.in_fd = p[0];
        h_start(&h, 200);
        alarm(HANG_GUARD_S);
        assert_int_equal(sc(&h, SYS_read, 0, BUF, 100, 0), -EINTR);
        alarm(0);
        expect_stopped(&h, VMM_END_LIMIT, "(reading)");
        h_fini(&h);
        close(p[0]);
        close(p[1]);
}

/* What the guest left in the staged output (PVM) goes to a pipe after it
 * exited, before the deadline: a stopped VM's last flush still writes. */
static void test_flush_after_exit(void **state)
{
        (void)state;
        int p[2];
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        struct harness h;
        h_init(&h);
        h.spec.out_fd = p[1];
        h_start(&h, 10000);
        h.vm.io_on = true; /* as the PVM stub would have it */
        memcpy(h.vm.mem + h.vm.plat->io->out_buf, "staged\n", 7);
        uint64_t len = 7;
        memcpy(h.vm.mem + h.vm.plat->io->hdr + VMM_IO_OUT_LEN, &len, 8);
        h.vm.io_on = false; /* the exit itself is served without a flush */
        sc(&h, SYS_exit_group, 3, 0, 0, 0);
        expect_stopped(&h, VMM_END_EXIT, "");
        h.vm.io_on = true;
        vmm_io_flush(&h.vm);
        fcntl(p[0], F_SETFL, O_NONBLOCK);
        char got[16] = "";
        assert_int_equal(read(p[0], got, sizeof(got)), 7);
        assert_memory_equal(got, "staged\n", 7);
        assert_int_equal(h.res.output_bytes, 7);
        h.vm.io_on = false;
        h_fini(&h);
        close(p[0]);
        close(p[1]);
}

/* ---- the cancel flag ---- */

static volatile sig_atomic_t cancel_flag;

enum wait_kind { W_READ_HOST, W_READ_IN, W_WRITE_OUT, W_WRITE_HOST, W_SLEEP, W_FUTEX, W_NWAITS };

/* Runs one wait in a VM whose deadline is far away while another thread
 * sets the cancel flag: the wait ends, the VM ends "cancelled". */
static void cancel_one(enum wait_kind k, bool preset)
{
        int sv[2], p[2], q[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        assert_int_equal(pipe2(q, O_CLOEXEC), 0);
        struct harness h;
        h_init(&h);
        h.spec.host_fd = sv[1];
        h.spec.in_fd = p[0];
        h.spec.out_fd = q[1];
        h.spec.cancel = &cancel_flag;
        h_start(&h, HANG_GUARD_S * 2000); /* the deadline never comes first */
        struct tu_later later;
        if (preset)
                cancel_flag = 1;
        else
                tu_later_start(&later, &cancel_flag, 50);
        alarm(HANG_GUARD_S);
        int64_t r = 0;
        switch (k) {
        case W_READ_HOST:
                r = sc(&h, SYS_read, 3, BUF, 100, 0);
                break;
        case W_READ_IN:
                r = sc(&h, SYS_read, 0, BUF, 100, 0);
                break;
        case W_WRITE_OUT:
                r = sc(&h, SYS_write, 1, BUF, 8u << 20, 0);
                break;
        case W_WRITE_HOST:
                r = sc(&h, SYS_write, 3, BUF, 8u << 20, 0);
                break;
        case W_SLEEP:
                r = sc(&h, SYS_nanosleep, gts(&h, 1000, 0), 0, 0, 0);
                break;
        case W_FUTEX:
                memset(h.vm.mem + WORD, 0, 4);
                r = sc(&h, SYS_futex, WORD, 0 /* FUTEX_WAIT */, 0, gts(&h, 1000, 0));
                break;
        case W_NWAITS:
                break;
        }
        alarm(0);
        if (!preset)
                tu_later_join(&later);
        print_message("wait %d%s: returned %lld, %s: %s\n", (int)k, preset ? " (preset)" : "",
                      (long long)r, vmm_end_name(h.res.end), h.res.why);
        expect_stopped(&h, VMM_END_CANCELLED, "cancelled");
        assert_int_equal(h.res.exit_code, 130);
        h_fini(&h);
        for (int i = 0; i < 2; i++) {
                close(sv[i]);
                close(p[i]);
                close(q[i]);
        }
}

static void test_cancel_ends_every_wait(void **state)
{
        (void)state;
        for (int k = 0; k < W_NWAITS; k++) {
                cancel_one((enum wait_kind)k, false);
                cancel_one((enum wait_kind)k, true);
        }
        /* a wait that starts with the flag set ends the VM at once */
        struct harness h;
        h_init(&h);
        h.spec.cancel = &cancel_flag;
        cancel_flag = 1;
        h_start(&h, 10000);
        assert_int_equal(sc(&h, SYS_nanosleep, gts(&h, 0, 1000), 0, 0, 0), -EINTR);
        expect_stopped(&h, VMM_END_CANCELLED, "cancelled");
        h_fini(&h);
        cancel_flag = 0;
}

/* ---- modes: one rule for every mode a guest sets ---- */

static char dir[256];

static mode_t mode_of(const char *rel)
{
        char p[512];
        snprintf(p, sizeof(p), "%s/%s", dir, rel);
        struct stat st;
        assert_int_equal(stat(p, &st), 0);
        return st.st_mode & 07777;
}

static void test_modes(void **state)
{
        (void)state;
        assert_int_equal(tu_tempdir(dir, sizeof(dir), "vmmmode"), 0);
        char p[512];
        snprintf(p, sizeof(p), "%s/rw", dir);
        assert_int_equal(mkdir(p, 0700), 0);
        snprintf(p, sizeof(p), "%s/rw/inner", dir);
        assert_int_equal(mkdir(p, 0700), 0);
        snprintf(p, sizeof(p), "%s/rw/self", dir);
        assert_int_equal(symlink(".", p), 0);
        snprintf(p, sizeof(p), "%s/ro", dir);
        assert_int_equal(mkdir(p, 0755), 0);
        snprintf(p, sizeof(p), "%s/ro/f", dir);
        close(open(p, O_CREAT | O_WRONLY, 0644));
        char rw[512], inner[512], ro[512];
        snprintf(rw, sizeof(rw), "%s/rw", dir);
        snprintf(inner, sizeof(inner), "%s/rw/inner", dir);
        snprintf(ro, sizeof(ro), "%s/ro", dir);
        struct vmm_mount mounts[3] = {
            {rw, "/state", false}, {inner, "/other", false}, {ro, "/ro", true}};
        /* the host's own umask would hide a mode the rule let through */
        mode_t old_umask = umask(0);

        struct harness h;
        h_init(&h);
        h.spec.mounts = mounts;
        h.spec.nmounts = 3;
        h_start(&h, 10000);

        /* the mount's root, however it is reached, keeps its mode */
        const char *roots[] = {"/state", "/state/self", "/state/./self/../self", "/state/inner",
                               "/other"};
        for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
                int64_t fd = sc(&h, SYS_open, gstr(&h, 0, roots[i]), O_RDONLY | O_DIRECTORY, 0, 0);
                assert_true(fd >= 0);
                int64_t r = sc(&h, SYS_fchmod, (uint64_t)fd, 0777, 0, 0);
                print_message("fchmod(%s, 0777) -> %lld\n", roots[i], (long long)r);
                assert_int_equal(r, -EPERM);
                assert_int_equal(sc(&h, SYS_close, (uint64_t)fd, 0, 0, 0), 0);
        }
        assert_int_equal(mode_of("rw"), 0700);
        assert_int_equal(mode_of("rw/inner"), 0700);

        /* a file created 04777 is 0755, and fchmod cannot go past that */
        int64_t fd = sc(&h, SYS_open, gstr(&h, 0, "/state/f"), O_CREAT | O_WRONLY, 04777, 0);
        assert_true(fd >= 0);
        assert_int_equal(mode_of("rw/f"), 0755);
        assert_int_equal(sc(&h, SYS_fchmod, (uint64_t)fd, 06777, 0, 0), 0);
        assert_int_equal(mode_of("rw/f"), 0755);
        assert_int_equal(sc(&h, SYS_fchmod, (uint64_t)fd, 0600, 0, 0), 0);
        assert_int_equal(mode_of("rw/f"), 0600);
        fd = sc(&h, SYS_creat, gstr(&h, 0, "/state/g"), 0666, 0, 0);
        assert_true(fd >= 0);
        assert_int_equal(mode_of("rw/g"), 0644);
        fd = sc(&h, SYS_openat, (uint64_t)AT_FDCWD, gstr(&h, 0, "/state/h"), O_CREAT | O_RDWR,
                01777);
        assert_true(fd >= 0);
        assert_int_equal(mode_of("rw/h"), 0755);

        /* directories: mkdir and mkdirat under the same rule */
        assert_int_equal(sc(&h, SYS_mkdir, gstr(&h, 0, "/state/d"), 0777, 0, 0), 0);
        assert_int_equal(mode_of("rw/d"), 0755);
        assert_int_equal(sc(&h, SYS_mkdirat, (uint64_t)AT_FDCWD, gstr(&h, 0, "/state/e"), 02777, 0),
                         0);
        assert_int_equal(mode_of("rw/e"), 0755);
        fd = sc(&h, SYS_open, gstr(&h, 0, "/state/d"), O_RDONLY | O_DIRECTORY, 0, 0);
        assert_int_equal(sc(&h, SYS_fchmod, (uint64_t)fd, 0777, 0, 0), 0);
        assert_int_equal(mode_of("rw/d"), 0755);

        /* a read-only mount: nothing */
        fd = sc(&h, SYS_open, gstr(&h, 0, "/ro/f"), O_RDONLY, 0, 0);
        assert_true(fd >= 0);
        assert_int_equal(sc(&h, SYS_fchmod, (uint64_t)fd, 0600, 0, 0), -EROFS);
        assert_int_equal(mode_of("ro/f"), 0644);
        /* not a file of a mount, not an fd */
        assert_int_equal(sc(&h, SYS_fchmod, 1, 0600, 0, 0), -EINVAL);
        assert_int_equal(sc(&h, SYS_fchmod, 40, 0600, 0, 0), -EBADF);
        assert_false(h.vm.done);
        h_fini(&h);
        umask(old_umask);
        tu_rmrf(dir);
}

/* ---- time values from the guest ---- */

#define TIMER_ABSTIME_ 1

static void test_time_values(void **state)
{
        (void)state;
        struct harness h;
        h_init(&h);
        h_start(&h, 10000);
        /* malformed: EINVAL (clock_nanosleep returns the error number), EFAULT */
        const int64_t bad[][2] = {{0, 1000000000}, {0, -1}, {-1, 0}, {INT64_MIN, 0}};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                uint64_t ts = gts(&h, bad[i][0], bad[i][1]);
                assert_int_equal(sc(&h, SYS_nanosleep, ts, 0, 0, 0), -EINVAL);
                assert_int_equal(sc(&h, SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, ts, 0), EINVAL);
                assert_int_equal(sc(&h, SYS_clock_nanosleep, CLOCK_REALTIME, TIMER_ABSTIME_, ts, 0),
                                 EINVAL);
                memset(h.vm.mem + WORD, 0, 4);
                assert_int_equal(sc(&h, SYS_futex, WORD, 0, 0, ts), -EINVAL);
                assert_int_equal(sc(&h, SYS_futex, WORD, 9 /* WAIT_BITSET */, 0, ts), -EINVAL);
        }
        assert_int_equal(sc(&h, SYS_nanosleep, 0x1000, 0, 0, 0), -EFAULT);
        assert_int_equal(sc(&h, SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, MEM_SIZE - 8, 0), EFAULT);
        assert_int_equal(sc(&h, SYS_futex, WORD, 0, 0, 0x1000), -EFAULT);
        assert_int_equal(sc(&h, SYS_clock_nanosleep, 99, 0, gts(&h, 0, 1), 0), EINVAL);
        /* short and past: they return */
        assert_int_equal(sc(&h, SYS_nanosleep, gts(&h, 0, 1000), 0, 0, 0), 0);
        assert_int_equal(
            sc(&h, SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME_, gts(&h, 1, 0), 0), 0);
        assert_int_equal(
            sc(&h, SYS_clock_nanosleep, CLOCK_REALTIME, TIMER_ABSTIME_, gts(&h, 0, 0), 0), 0);
        memset(h.vm.mem + WORD, 0, 4);
        assert_int_equal(sc(&h, SYS_futex, WORD, 0, 0, gts(&h, 0, 1000)), -ETIMEDOUT);
        assert_int_equal(sc(&h, SYS_futex, WORD, 9, 0, gts(&h, 0, 0)), -ETIMEDOUT);
        assert_int_equal(sc(&h, SYS_futex, WORD, 0, 1, gts(&h, 1000, 0)), -EAGAIN);
        assert_false(h.vm.done);
        h_fini(&h);

        /* huge: each sleeps to the deadline and the VM stops there, saying so
         * (no overflow: the sanitizer build aborted on TIMER_ABSTIME) */
        struct {
                uint64_t nr, a0, a1;
                int64_t sec, nsec;
                bool futex;
                const char *why;
        } huge[] = {
            {SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME_, INT64_MAX, 999999999, false,
             "(sleeping)"},
            {SYS_clock_nanosleep, CLOCK_REALTIME, TIMER_ABSTIME_, INT64_MAX, 0, false,
             "(sleeping)"},
            {SYS_clock_nanosleep, CLOCK_BOOTTIME, 0, INT64_MAX, 999999999, false, "(sleeping)"},
            {SYS_nanosleep, 0, 0, INT64_MAX / 2, 5, false, "(sleeping)"},
            {SYS_futex, 0, 0, INT64_MAX, 999999999, true, "(in a futex wait)"},
            {SYS_futex, 9, 0, INT64_MAX, 0, true, "(in a futex wait)"},
            {SYS_futex, 9 | 256, 0, INT64_MAX, 0, true, "(in a futex wait)"},
        };
        for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
                h_init(&h);
                h_start(&h, 100);
                uint64_t ts = gts(&h, huge[i].sec, huge[i].nsec);
                memset(h.vm.mem + WORD, 0, 4);
                alarm(HANG_GUARD_S);
                if (huge[i].futex)
                        sc(&h, SYS_futex, WORD, huge[i].a0, 0, ts);
                else if (huge[i].nr == SYS_nanosleep)
                        sc(&h, SYS_nanosleep, ts, 0, 0, 0);
                else
                        sc(&h, SYS_clock_nanosleep, huge[i].a0, huge[i].a1, ts, 0);
                alarm(0);
                expect_stopped(&h, VMM_END_LIMIT, huge[i].why);
                assert_non_null(strstr(h.res.why, "time limit of 100 ms reached"));
                h_fini(&h);
        }
}

/* vmm_random: no byte given twice, in this process or a fork's child; a
 * draw over the bound refused. */
static void test_random(void **state)
{
        (void)state;
        uint8_t a[VMM_RANDOM_MAX], b[VMM_RANDOM_MAX], zero[VMM_RANDOM_MAX] = {0};
        assert_true(vmm_random(a, 16));
        assert_true(vmm_random(b, 16));
        assert_memory_not_equal(a, b, 16);
        assert_false(vmm_random(a, VMM_RANDOM_MAX + 1));
        /* across the pool's page: still bytes, not zeroes */
        for (int i = 0; i < 20; i++) {
                assert_true(vmm_random(a, VMM_RANDOM_MAX));
                assert_memory_not_equal(a, zero, VMM_RANDOM_MAX);
        }
        int p[2];
        assert_int_equal(pipe(p), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                uint8_t c[32];
                _exit(vmm_random(c, sizeof(c)) && write(p[1], c, sizeof(c)) == sizeof(c) ? 0 : 1);
        }
        uint8_t mine[32], child[32];
        assert_true(vmm_random(mine, sizeof(mine)));
        assert_int_equal(read(p[0], child, sizeof(child)), sizeof(child));
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        assert_memory_not_equal(mine, child, sizeof(mine));
        close(p[0]);
        close(p[1]);
}

/* The room a platform may grant the break without the layer is exactly
 * what the layer's own brk grants: up to it, not a page past it. */
static void test_brk_room(void **state)
{
        (void)state;
        struct harness h;
        h_init(&h);
        h_start(&h, 1000);
        struct vmm_vm *vm = &h.vm;
        uint64_t start = vm->brk_start;
        assert_int_equal(vmm_brk_room(vm), vm->guard_lo);
        /* an mmap area above the break bounds it; a growth inside the break's
         * last page is always room */
        uint64_t at = start + 5 * 4096;
        assert_int_equal(sc(&h, SYS_mmap, at, 4096, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED),
                         (int64_t)at);
        assert_int_equal(vmm_brk_room(vm), at);
        assert_int_equal(sc(&h, SYS_brk, at + 1, 0, 0, 0), (int64_t)start);
        assert_int_equal(sc(&h, SYS_brk, at, 0, 0, 0), (int64_t)at);
        assert_int_equal(vmm_brk_room(vm), at);
        /* the break now meets the area: no room beyond its end */
        assert_int_equal(sc(&h, SYS_brk, at + 4096, 0, 0, 0), (int64_t)at);
        assert_int_equal(sc(&h, SYS_munmap, at, 4096, 0, 0), 0);
        assert_int_equal(vmm_brk_room(vm), vm->guard_lo);
        /* mid-page: the rest of the break's last page is room even with an
         * area right above it, and not a byte more */
        assert_int_equal(sc(&h, SYS_brk, start + 100, 0, 0, 0), (int64_t)(start + 100));
        assert_int_equal(vmm_brk_room(vm), vm->guard_lo);
        uint64_t next = start + 4096;
        assert_int_equal(sc(&h, SYS_mmap, next, 4096, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED),
                         (int64_t)next);
        assert_int_equal(vmm_brk_room(vm), next);
        assert_int_equal(sc(&h, SYS_brk, next + 1, 0, 0, 0), (int64_t)(start + 100));
        assert_int_equal(sc(&h, SYS_brk, next, 0, 0, 0), (int64_t)next);
        assert_int_equal(sc(&h, SYS_munmap, next, 4096, 0, 0), 0);
        /* the limits a platform answers getrlimit with are the layer's */
        uint64_t lim = BUF;
        assert_int_equal(sc(&h, SYS_prlimit64, 0, RLIMIT_STACK, 0, lim), 0);
        uint64_t got[2];
        memcpy(got, vm->mem + lim, sizeof(got));
        assert_int_equal(got[0], vmm_rlimit(vm, RLIMIT_STACK));
        assert_int_equal(got[1], vm->mem_size - vm->stack_lo);
        assert_int_equal(vmm_rlimit(vm, RLIMIT_NOFILE), VMM_MAX_FDS);
        assert_int_equal(vmm_rlimit(vm, RLIMIT_CPU), UINT64_MAX);
        h_fini(&h);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_host_channel_write_stops_at_deadline),
            cmocka_unit_test(test_host_channel_read_stops_at_deadline),
            cmocka_unit_test(test_host_channel_round_trip),
            cmocka_unit_test(test_result_pipe_full),
            cmocka_unit_test(test_request_pipe_silent),
            cmocka_unit_test(test_flush_after_exit),
            cmocka_unit_test(test_cancel_ends_every_wait),
            cmocka_unit_test(test_modes),
            cmocka_unit_test(test_time_values),
            cmocka_unit_test(test_brk_room),
            cmocka_unit_test(test_random),
        };
        return cmocka_run_group_tests_name("vmm/syscall", tests, NULL, NULL);
}
