/* Hostile: giant iovecs (lengths summing past 2^63, more than IOV_MAX,
 * lengths past guest memory). Each must be refused; prints "ok". */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

static struct iovec many[2048];

int main(void)
{
        char buf[8] = "abcdefg";
        int bad = 0;
        struct iovec two[2] = {{buf, (size_t)1 << 62}, {buf, (size_t)1 << 62}};
        long r = syscall(SYS_writev, 1, two, 2);
        if (r != -1 || (errno != EFAULT && errno != EINVAL))
                bad = 1, printf("giant lengths: %ld %d\n", r, errno);
        struct iovec ovf[2] = {{buf, SIZE_MAX / 2 + 1}, {buf, SIZE_MAX / 2 + 1}};
        r = syscall(SYS_readv, 0, ovf, 2);
        if (r != -1 || (errno != EFAULT && errno != EINVAL))
                bad = 1, printf("overflowing sum: %ld %d\n", r, errno);
        for (int i = 0; i < 2048; i++)
                many[i] = (struct iovec){buf, 1};
        r = syscall(SYS_writev, 1, many, 2048);
        if (r != -1 || errno != EINVAL)
                bad = 1, printf("2048 iovecs: %ld %d\n", r, errno);
        r = syscall(SYS_writev, 1, many, (size_t)1 << 40);
        if (r != -1 || (errno != EINVAL && errno != EFAULT))
                bad = 1, printf("2^40 iovecs: %ld %d\n", r, errno);
        printf(bad ? "FAILED\n" : "ok\n");
        return bad;
}
