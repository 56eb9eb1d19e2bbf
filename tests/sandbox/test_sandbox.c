/*
 * The confinement module on its own: a child in an empty root with binds, a
 * private /tmp, its own /proc; the bridge's listener handed back; the server
 * filter. Real processes (/bin/sh, /usr/bin/python3); skipped where user
 * namespaces cannot be made.
 */
#include "testutil.h"

#include "sandbox/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* A bound that only guards a hang: each child here ends in well under a second. */
#define HANG_GUARD_MS 60000

static const struct sbx_bind system_binds[] = {
    {"/usr", "/usr", false},
    {"/bin", "/bin", false},
    {"/lib", "/lib", false},
    {"/lib64", "/lib64", false},
    {"/etc/ld.so.cache", "/etc/ld.so.cache", false},
};

static char dir[256];

static int setup(void **state)
{
        (void)state;
        snprintf(dir, sizeof(dir), "/tmp/osvm-sbx-XXXXXX");
        assert_non_null(mkdtemp(dir));
        char p[300];
        snprintf(p, sizeof(p), "%s/f", dir);
        FILE *f = fopen(p, "w");
        fputs("inside", f);
        fclose(f);
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        char p[300];
        snprintf(p, sizeof(p), "%s/f", dir);
        unlink(p);
        snprintf(p, sizeof(p), "%s/g", dir);
        unlink(p);
        rmdir(dir);
        return 0;
}

/* Runs argv confined under s (stdout captured into out); its exit status. */
static int run(struct sbx_spec *s, char *const *argv, char *out, size_t n)
{
        int pfd[2];
        assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
        s->stdio[0] = -1;
        s->stdio[1] = pfd[1];
        s->stdio[2] = pfd[1];
        s->argv = argv;
        s->path = argv[0];
        s->exec_fd = -1;
        char *envp[] = {"PATH=/usr/bin:/bin", NULL};
        s->envp = envp;
        struct sbx_child c;
        osvm_err e = {0};
        int r = sbx_spawn(s, &c, &e);
        close(pfd[1]);
        if (r < 0)
                fail_msg("sbx_spawn: %s", e.msg);
        size_t got = 0;
        for (;;) {
                struct pollfd p = {pfd[0], POLLIN, 0};
                if (poll(&p, 1, HANG_GUARD_MS) <= 0)
                        break;
                ssize_t k = read(pfd[0], out + got, n - 1 - got);
                if (k <= 0)
                        break;
                got += (size_t)k;
        }
        out[got] = '\0';
        close(pfd[0]);
        int st;
        waitpid(c.pid, &st, 0);
        close(c.pidfd);
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static bool userns(void)
{
        char why[200];
        if (sbx_userns_usable(why, sizeof(why)))
                return true;
        print_message("skipped: %s\n", why);
        return false;
}

/* The user namespace probe meets a process limit (EAGAIN): it tries again, and
 * where the limit lasts says so without keeping the answer, so that the next
 * probe, the limit gone, finds user namespaces. In a child, before any other
 * test has probed (the answer is kept per process). */
static void test_userns_probe_at_a_limit(void **state)
{
        (void)state;
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                if (getuid() == 0 && setresuid(65534, 65534, 65534) != 0)
                        _exit(10);
                struct rlimit back;
                if (getrlimit(RLIMIT_NPROC, &back) != 0)
                        _exit(11);
                back.rlim_cur = back.rlim_max;
                struct rlimit none = {0, back.rlim_max};
                if (setrlimit(RLIMIT_NPROC, &none) != 0)
                        _exit(11);
                char why[200];
                if (sbx_userns_usable(why, sizeof(why)))
                        _exit(12); /* a new process was made past the limit? */
                if (!strstr(why, "could not be probed now"))
                        _exit(13);
                if (setrlimit(RLIMIT_NPROC, &back) != 0)
                        _exit(14);
                /* 0: found now; 3: refused here for good (then not this test's to show) */
                _exit(sbx_userns_usable(why, sizeof(why)) ? 0 : strstr(why, "refused") ? 3 : 15);
        }
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st));
        if (WEXITSTATUS(st) == 3) {
                print_message("skipped: user namespaces are refused here\n");
                skip();
                return;
        }
        assert_int_equal(WEXITSTATUS(st), 0);
}

/* A child asked to die with osvm (pdeathsig) outlives the thread that asked
 * for it: the gateway starts servers from threads that last one call. */
struct from_thread {
        struct sbx_spec s;
        struct sbx_child c;
        osvm_err e;
        int r;
};

static void *spawn_in_thread(void *arg)
{
        struct from_thread *t = arg;
        t->r = sbx_spawn(&t->s, &t->c, &t->e);
        return NULL;
}

static void test_outlives_its_thread(void **state)
{
        (void)state;
        int in[2], out[2];
        assert_int_equal(pipe2(in, O_CLOEXEC), 0);
        assert_int_equal(pipe2(out, O_CLOEXEC), 0);
        char *argv[] = {"/bin/sh", "-c", "read x; echo alive", NULL};
        char *envp[] = {"PATH=/usr/bin:/bin", NULL};
        struct from_thread t = {.s = {.stdio = {in[0], out[1], out[1]},
                                      .pdeathsig = SIGKILL,
                                      .exec_fd = -1,
                                      .path = argv[0],
                                      .argv = argv,
                                      .envp = envp}};
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, spawn_in_thread, &t), 0);
        pthread_join(th, NULL); /* the thread that asked is gone */
        close(in[0]);
        close(out[1]);
        if (t.r < 0)
                fail_msg("sbx_spawn: %s", t.e.msg);
        usleep(100000);           /* give a wrongly sent SIGKILL time to land: not a budget */
        signal(SIGPIPE, SIG_IGN); /* a child killed too early: a failed check, not a crash */
        (void)!write(in[1], "go\n", 3);
        close(in[1]);
        char buf[64] = "";
        size_t got = 0;
        for (;;) {
                struct pollfd p = {out[0], POLLIN, 0};
                if (poll(&p, 1, HANG_GUARD_MS) <= 0)
                        break;
                ssize_t k = read(out[0], buf + got, sizeof(buf) - 1 - got);
                if (k <= 0)
                        break;
                got += (size_t)k;
        }
        buf[got] = '\0';
        close(out[0]);
        int st;
        waitpid(t.c.pid, &st, 0);
        close(t.c.pidfd);
        assert_string_equal(buf, "alive\n");
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void test_empty_root(void **state)
{
        (void)state;
        if (!userns())
                skip();
        struct sbx_bind binds[8];
        memcpy(binds, system_binds, sizeof(system_binds));
        binds[5] = (struct sbx_bind){dir, "/data", false};
        struct sbx_spec s = {.ns = SBX_NS_ALL,
                             .empty_root = true,
                             .binds = binds,
                             .nbinds = 6,
                             .tmp_bytes = 1 << 20,
                             .proc_dev = true};
        char *argv[] = {"/bin/sh", "-c",
                        "cat /data/f; echo; echo x >/data/g 2>/dev/null || echo ro-refused; "
                        "ls /root /home 2>/dev/null || echo no-home; echo t >/tmp/t && cat /tmp/t; "
                        "echo procs $(ls /proc | grep -c '^[0-9]'); echo >/dev/null && echo dev",
                        NULL};
        char out[4096];
        assert_int_equal(run(&s, argv, out, sizeof(out)), 0);
        print_message("%s", out);
        assert_non_null(strstr(out, "inside\n"));
        assert_non_null(strstr(out, "ro-refused"));
        assert_non_null(strstr(out, "no-home"));
        assert_non_null(strstr(out, "t\n"));
        /* its own /proc: the shell and its children only, not the host's processes */
        char *procs = strstr(out, "procs ");
        assert_non_null(procs);
        assert_true(atoi(procs + 6) < 10);
        assert_non_null(strstr(out, "dev"));
        char g[300];
        snprintf(g, sizeof(g), "%s/g", dir);
        assert_int_equal(access(g, F_OK), -1);
}

static void test_bridge(void **state)
{
        (void)state;
        if (!userns() || access("/usr/bin/python3", X_OK) != 0)
                skip();
        int sp[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sp), 0);
        struct sbx_spec s = {.ns = SBX_NS_ALL,
                             .empty_root = true,
                             .binds = system_binds,
                             .nbinds = 5,
                             .tmp_bytes = 1 << 20,
                             .proc_dev = true,
                             .bridge = true,
                             .bridge_fd = sp[1],
                             .bridge_port = 3128};
        char *argv[] = {"/usr/bin/python3", "-c",
                        "import socket; s=socket.create_connection(('127.0.0.1', 3128)); "
                        "s.sendall(b'through the bridge'); s.close(); print('sent')",
                        NULL};
        /* the listener is handed over before the exec: accept on it while the child runs */
        int pfd[2];
        assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
        s.stdio[0] = -1, s.stdio[1] = pfd[1], s.stdio[2] = pfd[1];
        s.argv = argv, s.path = argv[0], s.exec_fd = -1;
        char *envp[] = {NULL};
        s.envp = envp;
        struct sbx_child c;
        osvm_err e = {0};
        assert_int_equal(sbx_spawn(&s, &c, &e), 0);
        close(pfd[1]);
        close(sp[1]);
        int lfd = sbx_bridge_recv(sp[0], &e);
        close(sp[0]);
        assert_true(lfd >= 0);
        struct pollfd p = {lfd, POLLIN, 0};
        assert_int_equal(poll(&p, 1, HANG_GUARD_MS), 1);
        int fd = accept(lfd, NULL, NULL);
        assert_true(fd >= 0);
        char buf[64] = {0};
        size_t got = 0;
        ssize_t k;
        while (got < sizeof(buf) - 1 && (k = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
                got += (size_t)k;
        assert_string_equal(buf, "through the bridge");
        close(fd);
        close(lfd);
        char out[256];
        ssize_t n = read(pfd[0], out, sizeof(out) - 1);
        out[n > 0 ? n : 0] = '\0';
        close(pfd[0]);
        waitpid(c.pid, NULL, 0);
        close(c.pidfd);
        assert_non_null(strstr(out, "sent"));
}

static void test_server_filter(void **state)
{
        (void)state;
        if (access("/usr/bin/python3", X_OK) != 0)
                skip();
        struct sock_fprog prog;
        osvm_err e = {0};
        assert_int_equal(sbx_server_filter(&prog, &e), 0);
        assert_true(prog.len > 10);
        struct sbx_spec s = {.seccomp = &prog};
        char *argv[] = {
            "/usr/bin/python3", "-c",
            "import socket, os\n"
            "for fam, kind in ((socket.AF_UNIX, socket.SOCK_STREAM), (socket.AF_INET, "
            "socket.SOCK_DGRAM), (socket.AF_INET, socket.SOCK_RAW), (socket.AF_PACKET, "
            "socket.SOCK_RAW)):\n"
            "    try: socket.socket(fam, kind); print('open', fam, kind)\n"
            "    except OSError as x: print('refused', x.errno)\n"
            "socket.socket(socket.AF_INET, socket.SOCK_STREAM); print('tcp ok')\n"
            "a, b = socket.socketpair(); print('pair ok')\n"
            "import ctypes\n"
            "libc = ctypes.CDLL(None, use_errno=True)\n"
            "print('userns refused' if libc.unshare(0x10000000) != 0 else 'userns open')\n",
            NULL};
        char out[2048];
        int st = run(&s, argv, out, sizeof(out));
        free(prog.filter);
        print_message("%s", out);
        assert_int_equal(st, 0);
        assert_null(strstr(out, "open "));
        assert_non_null(strstr(out, "tcp ok"));
        assert_non_null(strstr(out, "pair ok"));
        assert_non_null(strstr(out, "userns refused"));
}

/* A value of one of the child's cgroup files, as text without its newline. */
static void cg_file(const struct sbx_cgroup *cg, int i, const char *file, char *out, size_t n)
{
        char path[400];
        snprintf(path, sizeof(path), "%s/%s", cg->dir[i], file);
        FILE *f = fopen(path, "re");
        if (!f)
                fail_msg("%s: %s", path, strerror(errno));
        if (!fgets(out, (int)n, f))
                out[0] = '\0';
        fclose(f);
        out[strcspn(out, "\n")] = '\0';
}

/* Whether pid has ended (gone, or a zombie nobody reaped yet). */
static bool ended(pid_t pid)
{
        char path[64], st[512];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        FILE *f = fopen(path, "re");
        if (!f)
                return true;
        bool z = fgets(st, sizeof(st), f) && strrchr(st, ')') && strrchr(st, ')')[2] == 'Z';
        fclose(f);
        return z;
}

/* The child's cgroups, v2 where osvm's group is delegated (the nested run has
 * one), else v1 where its controllers are writable: the child is in its group
 * before it execs, the limits are the ones asked for, a memory hog past the
 * limit is killed, and what the child left running dies with the group. */
static void test_cgroup(void **state)
{
        (void)state;
        char why[300];
        const char *kind = sbx_cgroup_kind(why, sizeof(why));
        if (!kind) {
                print_message("skipped: no cgroups osvm may make here: %s\n", why);
                skip();
                return;
        }
        struct sbx_cgroup cg;
        if (sbx_cgroup_make(&cg, "test", 48u << 20, 16, 1) != 0)
                fail_msg("%s here, but no group: %s", kind, cg.what);
        print_message("%s: %s\n", kind, cg.what);
        assert_non_null(strstr(cg.what, kind));
        bool v2 = !strcmp(kind, "cgroup v2");
        char v[64];
        cg_file(&cg, 0, v2 ? "memory.max" : "memory.limit_in_bytes", v, sizeof(v));
        assert_string_equal(v, "50331648");
        cg_file(&cg, v2 ? 0 : 1, "pids.max", v, sizeof(v));
        assert_string_equal(v, "16");
        if (strstr(cg.what, "cpu: 1")) {
                cg_file(&cg, v2 ? 0 : 2, v2 ? "cpu.max" : "cpu.cfs_quota_us", v, sizeof(v));
                assert_string_equal(v, v2 ? "100000 100000" : "100000");
        }

        struct sbx_spec s = {.cgroup_fds = cg.procs_fd, .ncgroup_fds = (size_t)cg.n};
        char *argv[] = {"/bin/sh", "-c", "cat /proc/self/cgroup; sleep 600 & echo left $!", NULL};
        char out[4096];
        assert_int_equal(run(&s, argv, out, sizeof(out)), 0);
        print_message("%s", out);
        /* in each of its groups (v1: memory, pids, cpu; v2: the one) */
        for (int i = 0; i < cg.n; i++) {
                const char *leaf = strrchr(cg.dir[i], '/');
                assert_non_null(leaf);
                char line[320];
                snprintf(line, sizeof(line), "%s\n", leaf);
                assert_non_null(strstr(out, line));
        }
        char *left = strstr(out, "left ");
        assert_non_null(left);
        pid_t pid = (pid_t)atoi(left + 5);
        assert_true(pid > 0 && !ended(pid));

        if (access("/usr/bin/python3", X_OK) == 0) {
                char *hog[] = {"/usr/bin/python3", "-c",
                               "b = b'x' * (256 << 20); print('not stopped', len(b))", NULL};
                int st = run(&s, hog, out, sizeof(out));
                print_message("memory hog: status %d %s\n", st, out);
                assert_int_equal(st, 128 + SIGKILL);
                assert_null(strstr(out, "not stopped"));
        }

        char dir0[300];
        snprintf(dir0, sizeof(dir0), "%s", cg.dir[0]);
        sbx_cgroup_end(&cg);
        assert_int_equal(cg.n, 0);
        /* killed with the group: it has left the group (the group is gone,
         * below), and ends a moment later; the bound only guards a hang */
        for (int i = 0; i < 500 && !ended(pid); i++)
                usleep(10000);
        assert_true(ended(pid));
        assert_int_equal(access(dir0, F_OK), -1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_userns_probe_at_a_limit), /* first: before any probe */
            cmocka_unit_test(test_outlives_its_thread),
            cmocka_unit_test(test_empty_root),
            cmocka_unit_test(test_bridge),
            cmocka_unit_test(test_server_filter),
            cmocka_unit_test(test_cgroup),
        };
        /* TEST_FILTER=NAME: that test only (tests/sandbox/cgroup2.sh runs test_cgroup alone) */
        if (getenv("TEST_FILTER"))
                cmocka_set_test_filter(getenv("TEST_FILTER"));
        return cmocka_run_group_tests_name("sandbox", tests, setup, teardown);
}
