/* Mount path resolution: lexical normalization, the mount lookup, and
 * openat2 below a mount refusing `..`, absolute symlinks and escapes. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/internal.h"

static void norm_is(const char *base, const char *path, const char *want)
{
        char out[256];
        assert_int_equal(vmm_fs_normalize(base, path, out, sizeof(out)), 0);
        assert_string_equal(out, want);
}

static void test_normalize(void **state)
{
        (void)state;
        norm_is(NULL, "/", "/");
        norm_is(NULL, "/a/b/c", "/a/b/c");
        norm_is(NULL, "//a///b/", "/a/b");
        norm_is(NULL, "/a/./b/.", "/a/b");
        norm_is(NULL, "/a/../b", "/b");
        norm_is(NULL, "/../../etc/passwd", "/etc/passwd");
        norm_is(NULL, "/data/../../..", "/");
        norm_is("/data/sub", "x", "/data/sub/x");
        norm_is("/data/sub", "../../etc", "/etc");
        norm_is("/data", "/abs", "/abs");
        norm_is("/", ".", "/");
        char small[8];
        assert_int_equal(vmm_fs_normalize(NULL, "/abcdefghij", small, sizeof(small)),
                         -ENAMETOOLONG);
}

static char dir[256];
static struct vmm_fs fs;

static int setup(void **state)
{
        (void)state;
        if (tu_tempdir(dir, sizeof(dir), "vmmfs") < 0)
                return -1;
        char p[512];
        snprintf(p, sizeof(p), "%s/m", dir);
        mkdir(p, 0755);
        snprintf(p, sizeof(p), "%s/m/sub", dir);
        mkdir(p, 0755);
        snprintf(p, sizeof(p), "%s/m/f.txt", dir);
        FILE *f = fopen(p, "w");
        fputs("x", f);
        fclose(f);
        snprintf(p, sizeof(p), "%s/secret", dir);
        f = fopen(p, "w");
        fputs("secret", f);
        fclose(f);
        snprintf(p, sizeof(p), "%s/m/up", dir);
        if (symlink("../secret", p) < 0)
                return -1;
        snprintf(p, sizeof(p), "%s/m/abs", dir);
        if (symlink("/etc/passwd", p) < 0)
                return -1;
        snprintf(p, sizeof(p), "%s/m/in", dir);
        if (symlink("sub/../f.txt", p) < 0)
                return -1;
        snprintf(p, sizeof(p), "%s/m/fifo", dir);
        if (mkfifo(p, 0600) < 0)
                return -1;
        snprintf(p, sizeof(p), "%s/m", dir);
        struct vmm_mount m[2] = {{p, "/data", true}, {dir, "/data/rw/", false}};
        osvm_err e = {0};
        return vmm_fs_init(&fs, m, 2, &e);
}

static int teardown(void **state)
{
        (void)state;
        vmm_fs_fini(&fs);
        return tu_rmrf(dir);
}

static void test_lookup(void **state)
{
        (void)state;
        const char *rest;
        assert_int_equal(vmm_fs_lookup(&fs, "/data", &rest), 0);
        assert_string_equal(rest, ".");
        assert_int_equal(vmm_fs_lookup(&fs, "/data/sub/x", &rest), 0);
        assert_string_equal(rest, "sub/x");
        assert_int_equal(vmm_fs_lookup(&fs, "/data/rw/secret", &rest), 1);
        assert_string_equal(rest, "secret");
        assert_int_equal(vmm_fs_lookup(&fs, "/datax", &rest), -ENOENT);
        assert_int_equal(vmm_fs_lookup(&fs, "/etc/passwd", &rest), -ENOENT);
        assert_int_equal(vmm_fs_lookup(&fs, "/", &rest), -ENOENT);
}

static void check_open(void)
{
        int fd = vmm_fs_open(&fs, 0, "f.txt", O_RDONLY, 0);
        assert_true(fd >= 0);
        close(fd);
        fd = vmm_fs_open(&fs, 0, "in", O_RDONLY, 0);
        assert_true(fd >= 0); /* a symlink that stays inside is fine */
        close(fd);
        assert_int_equal(vmm_fs_open(&fs, 0, "up", O_RDONLY, 0), -EACCES);
        assert_int_equal(vmm_fs_open(&fs, 0, "abs", O_RDONLY, 0), -EACCES);
        assert_int_equal(vmm_fs_open(&fs, 0, "../secret", O_RDONLY, 0), -EACCES);
        assert_int_equal(vmm_fs_open(&fs, 0, "/etc/passwd", O_RDONLY, 0), -EACCES);
        assert_int_equal(vmm_fs_open(&fs, 0, "fifo", O_RDONLY, 0), -EACCES);
        assert_int_equal(vmm_fs_open(&fs, 0, "f.txt", O_WRONLY, 0), -EROFS);
        assert_int_equal(vmm_fs_open(&fs, 0, "new", O_CREAT | O_WRONLY, 0644), -EROFS);
        assert_int_equal(vmm_fs_open(&fs, 0, "f.txt", O_RDONLY | O_APPEND, 0), -EROFS);
        assert_int_equal(vmm_fs_open(&fs, 5, "f.txt", O_RDONLY, 0), -ENOENT);
        fd = vmm_fs_open(&fs, 0, "up", O_PATH | O_NOFOLLOW, 0);
        assert_true(fd >= 0); /* the link itself, for lstat and readlink */
        close(fd);
        /* the writable mount */
        fd = vmm_fs_open(&fs, 1, "made.txt", O_CREAT | O_WRONLY, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "ok", 2), 2);
        close(fd);
        assert_int_equal(vmm_fs_open(&fs, 1, "m/abs", O_RDONLY, 0), -EACCES);
        fd = vmm_fs_open(&fs, 1, "m/up", O_RDONLY, 0); /* ../secret is inside this mount */
        assert_true(fd >= 0);
        close(fd);
}

static void test_open(void **state)
{
        (void)state;
        check_open();
}

/* The same rules where openat2 is missing (old kernels, valgrind). */
static void test_open_walk(void **state)
{
        (void)state;
        bool was = vmm_fs_no_openat2;
        vmm_fs_no_openat2 = true;
        check_open();
        const char *escapes[] = {"sub/../../secret", "sub/../up", "in/../../m/f.txt", "sub/x/../..",
                                 "./../m/f.txt"};
        for (size_t i = 0; i < sizeof(escapes) / sizeof(escapes[0]); i++) {
                int fd = vmm_fs_open(&fs, 0, escapes[i], O_RDONLY, 0);
                if (fd >= 0)
                        fail_msg("%s opened", escapes[i]);
        }
        int fd = vmm_fs_open(&fs, 0, "sub/../f.txt", O_RDONLY, 0);
        assert_true(fd >= 0);
        close(fd);
        fd = vmm_fs_open(&fs, 0, "sub", O_PATH | O_DIRECTORY, 0);
        assert_true(fd >= 0);
        close(fd);
        vmm_fs_no_openat2 = was;
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_normalize),
            cmocka_unit_test_setup_teardown(test_lookup, setup, teardown),
            cmocka_unit_test_setup_teardown(test_open, setup, teardown),
            cmocka_unit_test_setup_teardown(test_open_walk, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
