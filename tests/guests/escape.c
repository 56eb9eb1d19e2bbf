/* Hostile: tries to leave the mount at /data: `..`, absolute paths, a
 * symbolic link that points out (/data/out -> /etc), /proc/self, and a
 * write to the read-only mount. Prints one line per attempt and "ok" when
 * every attempt was refused. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int bad;

static void try_open(const char *p, int flags)
{
        int fd = open(p, flags, 0644);
        printf("open %s: %s\n", p, fd >= 0 ? "OPENED" : strerror(errno));
        if (fd >= 0) {
                bad = 1;
                close(fd);
        }
}

int main(void)
{
        try_open("/data/../etc/passwd", O_RDONLY);
        try_open("/data/../../../../etc/passwd", O_RDONLY);
        try_open("/etc/passwd", O_RDONLY);
        try_open("/data/out/passwd", O_RDONLY);
        try_open("/data/abs", O_RDONLY);
        try_open("/data/sub/../../data/out/passwd", O_RDONLY);
        try_open("/proc/self/maps", O_RDONLY);
        try_open("/proc/self/root/etc/passwd", O_RDONLY);
        try_open("/data/new-file", O_WRONLY | O_CREAT);
        try_open("/data/file.txt", O_RDWR);
        try_open("/data/file.txt", O_WRONLY | O_TRUNC);
        char l[256];
        ssize_t n = readlink("/proc/self/exe", l, sizeof(l));
        printf("readlink /proc/self/exe: %s\n", n >= 0 ? "READ" : strerror(errno));
        if (n >= 0)
                bad = 1;
        if (mkdir("/data/newdir", 0755) == 0)
                bad = 1;
        printf("mkdir /data/newdir: %s\n", strerror(errno));
        if (chdir("/data/sub") == 0) {
                try_open("../../etc/passwd", O_RDONLY);
                try_open("../out/passwd", O_RDONLY);
        }
        struct stat st;
        if (stat("/data/out/passwd", &st) == 0)
                bad = 1;
        /* the legitimate file is readable */
        int fd = open("/data/file.txt", O_RDONLY);
        char buf[64] = {0};
        if (fd < 0 || read(fd, buf, sizeof(buf) - 1) <= 0)
                bad = 1;
        printf("file.txt: %s", buf);
        printf(bad ? "FAILED\n" : "ok\n");
        return bad;
}
