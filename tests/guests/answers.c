/*
 * The calls a platform may answer without the syscall layer, from answers
 * it was given ahead (the process platform's stub: the break's growth within
 * its room, the limits, a few random bytes, the executable's link where no
 * mount holds /proc), must answer as the layer does. Each check prints what
 * failed; "ok" at the end, then 16 random bytes in hex (two runs must
 * differ). `answers proc` expects a mount at /proc whose self/exe links to
 * "target".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static int failed;

#define CHECK(cond, ...)                                                                           \
        do {                                                                                       \
                if (!(cond)) {                                                                     \
                        printf("FAIL %s:%d: ", __func__, __LINE__);                                \
                        printf(__VA_ARGS__);                                                       \
                        printf("\n");                                                              \
                        failed = 1;                                                                \
                }                                                                                  \
        } while (0)

static uintptr_t brk_(uintptr_t want)
{
        return (uintptr_t)syscall(SYS_brk, want);
}

static void check_brk(void)
{
        uintptr_t cur = brk_(0);
        CHECK(cur && (cur & 0xfff) == 0, "brk(0) = %#lx", (unsigned long)cur);
        /* grows, and the heap is memory */
        uintptr_t top = cur + 100000;
        CHECK(brk_(top) == top, "growing to %#lx", (unsigned long)top);
        memset((void *)cur, 0xab, 100000);
        CHECK(brk_(0) == top, "brk(0) after the growth");
        /* a shrink gives memory back; it reads as zero when it comes again */
        CHECK(brk_(cur + 10) == cur + 10, "shrinking");
        CHECK(brk_(top) == top, "growing again");
        unsigned char *p = (unsigned char *)cur;
        CHECK(p[5] == 0xab, "a byte below the shrink kept: %#x", p[5]);
        CHECK(p[10] == 0 && p[4095] == 0 && p[50000] == 0 && p[99999] == 0,
              "memory given back reads as zero: %#x %#x %#x %#x", p[10], p[4095], p[50000],
              p[99999]);
        /* below the start and past all memory: refused, the break stays */
        CHECK(brk_(cur - 4096) == top, "below the heap's start");
        CHECK(brk_(cur + (1ull << 40)) == top, "a terabyte");
        /* an mmap area three pages above the break bounds it */
        uintptr_t at = ((top + 4095) & ~0xfffull) + 3 * 4096;
        void *m = mmap((void *)at, 4096, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        CHECK(m == (void *)at, "mmap at %#lx: %p", (unsigned long)at, m);
        CHECK(brk_(at + 1) == top, "growing over the mmap area");
        CHECK(brk_(at) == at, "growing up to the mmap area");
        CHECK(brk_(at + 4096) == at, "growing past it");
        munmap(m, 4096);
        CHECK(brk_(at + 8192) == at + 8192, "growing once it is gone");
        CHECK(brk_(cur) == cur, "back to the start");
}

static void check_limits(void)
{
        struct rlimit l = {1, 1}, n = {1, 1};
        CHECK(getrlimit(RLIMIT_STACK, &l) == 0 && l.rlim_cur == l.rlim_max && l.rlim_cur > 65536 &&
                  l.rlim_cur != RLIM_INFINITY,
              "RLIMIT_STACK %lu %lu", (unsigned long)l.rlim_cur, (unsigned long)l.rlim_max);
        uint64_t pl[2] = {1, 1};
        CHECK(syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, pl) == 0 && pl[0] == 64 && pl[1] == 64,
              "RLIMIT_NOFILE %lu %lu", (unsigned long)pl[0], (unsigned long)pl[1]);
        CHECK(getrlimit(RLIMIT_AS, &l) == 0 && getrlimit(RLIMIT_DATA, &n) == 0 &&
                  l.rlim_cur == n.rlim_cur && l.rlim_cur >= (16ull << 20) &&
                  l.rlim_cur != RLIM_INFINITY,
              "RLIMIT_AS %lu, RLIMIT_DATA %lu", (unsigned long)l.rlim_cur,
              (unsigned long)n.rlim_cur);
        CHECK(getrlimit(RLIMIT_CPU, &l) == 0 && l.rlim_cur == RLIM_INFINITY, "RLIMIT_CPU");
        CHECK(syscall(SYS_prlimit64, 1, RLIMIT_CORE, NULL, pl) == 0 && pl[0] == UINT64_MAX,
              "pid 1");
        errno = 0;
        CHECK(syscall(SYS_prlimit64, 4242, RLIMIT_CORE, NULL, pl) == -1 && errno == ESRCH,
              "another pid: errno %d", errno);
        errno = 0;
        CHECK(syscall(SYS_getrlimit, 16, &l) == -1 && errno == EINVAL, "resource 16: errno %d",
              errno);
        CHECK(syscall(SYS_prlimit64, 0, RLIMIT_STACK, NULL, NULL) == 0, "no place for the old");
        errno = 0;
        CHECK(syscall(SYS_getrlimit, RLIMIT_STACK, (void *)16) == -1 && errno == EFAULT,
              "into page 0: errno %d", errno);
}

static void hex(const unsigned char *b, size_t n)
{
        for (size_t i = 0; i < n; i++)
                printf("%02x", b[i]);
        printf("\n");
}

static void check_random(unsigned char first[16])
{
        unsigned char a[16], b[16], big[300];
        CHECK(syscall(SYS_getrandom, a, 16, 0) == 16, "16 bytes");
        CHECK(syscall(SYS_getrandom, b, 16, 0) == 16, "16 more");
        CHECK(memcmp(a, b, 16) != 0, "the same 16 bytes twice");
        memcpy(first, a, 16);
        /* more than a platform keeps ahead, several times over */
        for (int i = 0; i < 4; i++) {
                memset(big, 0, sizeof(big));
                CHECK(syscall(SYS_getrandom, big, sizeof(big), 0) == sizeof(big), "300 bytes");
                size_t zero = 0;
                for (size_t k = 0; k < sizeof(big); k++)
                        zero += big[k] == 0;
                CHECK(zero < 30, "300 bytes with %zu zero", zero);
        }
        errno = 0;
        CHECK(syscall(SYS_getrandom, (void *)16, 8, 0) == -1 && errno == EFAULT,
              "into page 0: errno %d", errno);
        CHECK(syscall(SYS_getrandom, a, 0, 0) == 0, "none");
}

/* readlink("/proc/self/exe"), which glibc's static start makes: ENOENT
 * without a mount at /proc (the layer's checks of the buffer first), the
 * link's target with one. */
static void check_exe_link(int mounted)
{
        static const char exe[] = "/proc/self/exe"; /* read-only data, as glibc's */
        char path[32], buf[64];
        strcpy(path, exe); /* and on the stack */
        const char *const paths[] = {exe, path};
        for (int i = 0; i < 2; i++) {
                memset(buf, 0, sizeof(buf));
                errno = 0;
                long n = syscall(SYS_readlink, paths[i], buf, sizeof(buf));
                if (mounted)
                        CHECK(n == 6 && !memcmp(buf, "target", 6), "readlink %d: %ld %s", i, n,
                              buf);
                else
                        CHECK(n == -1 && errno == ENOENT, "readlink %d: %ld errno %d", i, n, errno);
                errno = 0;
                n = syscall(SYS_readlinkat, AT_FDCWD, paths[i], buf, sizeof(buf));
                CHECK(mounted ? n == 6 : n == -1 && errno == ENOENT, "readlinkat %d: %ld errno %d",
                      i, n, errno);
        }
        errno = 0;
        long n = syscall(SYS_readlink, exe, buf, 0);
        CHECK(n == -1 && errno == EINVAL, "readlink of 0 bytes: %ld errno %d", n, errno);
        errno = 0;
        n = syscall(SYS_readlink, exe, (char *)16, 64);
        CHECK(n == -1 && errno == EFAULT, "readlink into 16: %ld errno %d", n, errno);
        errno = 0;
        n = syscall(SYS_readlink, "/proc/self/ex", buf, sizeof(buf));
        CHECK(n == -1 && errno == ENOENT, "readlink of another path: %ld errno %d", n, errno);
}

int main(int argc, char **argv)
{
        unsigned char first[16];
        if (argc > 1 && !strcmp(argv[1], "proc")) {
                check_exe_link(1);
                printf(failed ? "failed\n" : "ok\n");
                return failed;
        }
        check_exe_link(0);
        check_brk();
        check_limits();
        check_random(first);
        if (failed)
                return 1;
        printf("ok\n");
        hex(first, 16);
        return 0;
}
