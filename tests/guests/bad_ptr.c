/* Hostile: bad pointers and lengths past the end of guest memory to
 * write, read, readv and stat; every call must fail with EFAULT and the
 * VM must keep running. Prints "ok" and exits 0 when all were refused. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

static int bad;

static void expect_efault(const char *what, long r)
{
        if (r != -1 || errno != EFAULT) {
                printf("%s: got %ld errno %d, wanted EFAULT\n", what, r, errno);
                bad = 1;
        }
}

int main(void)
{
        char buf[16] = "0123456789abcdef";
        expect_efault("write from page tables", syscall(SYS_write, 1, (void *)0x1000, 64));
        expect_efault("read into page tables", syscall(SYS_read, 0, (void *)0x1000, 64));
        expect_efault("read into the CPL0 code", syscall(SYS_read, 0, (void *)0xd000, 8));
        expect_efault("write from address 0", syscall(SYS_write, 1, (void *)0, 1));
        expect_efault("write past the end",
                      syscall(SYS_write, 1, (void *)(uintptr_t)(64ull << 20) - 8, 4096));
        expect_efault("write with a huge length", syscall(SYS_write, 1, buf, (size_t)-1));
        expect_efault("write wrapping around",
                      syscall(SYS_write, 1, buf, (size_t)0 - (uintptr_t)buf + 16));
        expect_efault("write from a non-canonical address",
                      syscall(SYS_write, 1, (void *)0x8000000000000000ull, 4));
        struct iovec iov[2] = {{buf, 4}, {(void *)0x2000, 4}};
        expect_efault("writev with a bad second iovec", syscall(SYS_writev, 1, iov, 2));
        expect_efault("readv with a bad iovec array", syscall(SYS_readv, 0, (void *)0x3000, 1));
        expect_efault("stat into page tables", syscall(SYS_fstat, 1, (void *)0x1000));
        expect_efault("uname into the IDT", syscall(SYS_uname, (void *)0x9000));
        expect_efault("clock_gettime into the TSS", syscall(SYS_clock_gettime, 0, (void *)0xa000));
        expect_efault("getrandom past the end",
                      syscall(SYS_getrandom, (void *)(uintptr_t)(64ull << 20) - 4, 64, 0));
        printf(bad ? "FAILED\n" : "ok\n");
        return bad;
}
