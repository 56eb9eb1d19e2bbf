/*
 * Hostile: sets modes in the read-write mount at /data: fchmod 0777 on the
 * mount's root (directly and through /data/self, a link to "." that the
 * test makes), a file created 04777,
 * fchmod 06777 on it, a directory made 0777. Prints one line each: the
 * result and the mode that came of it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void mode_of(const char *what, int fd)
{
        struct stat st;
        if (fstat(fd, &st) == 0)
                printf("%s: mode %04o\n", what, (unsigned)(st.st_mode & 07777));
}

static void root_chmod(const char *path)
{
        int fd = open(path, O_RDONLY | O_DIRECTORY);
        int r = fd < 0 ? -1 : fchmod(fd, 0777);
        printf("fchmod %s 0777: %s\n", path, r == 0 ? "CHANGED" : strerror(errno));
        if (fd >= 0) {
                mode_of(path, fd);
                close(fd);
        }
}

int main(void)
{
        umask(0);
        root_chmod("/data");
        root_chmod("/data/self");
        int fd = open("/data/made", O_CREAT | O_WRONLY, 04777);
        mode_of("created 04777", fd);
        printf("fchmod file 06777: %s\n", fchmod(fd, 06777) == 0 ? "0" : strerror(errno));
        mode_of("after fchmod 06777", fd);
        close(fd);
        mkdir("/data/dir", 0777);
        fd = open("/data/dir", O_RDONLY | O_DIRECTORY);
        mode_of("mkdir 0777", fd);
        close(fd);
        printf("ok\n");
        return 0;
}
