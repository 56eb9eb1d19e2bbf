/*
 * Hostile: unlinks each path it is given, straight (no stat first, as a
 * shell's rm would make), and rmdir with a "/" at the end of one. Prints one
 * line each: the path and "removed" or the error.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
        for (int i = 1; i < argc; i++) {
                size_t n = strlen(argv[i]);
                int r;
                if (n > 1 && argv[i][n - 1] == '/') {
                        argv[i][n - 1] = '\0';
                        r = rmdir(argv[i]);
                } else {
                        r = unlink(argv[i]);
                }
                printf("%s: %s\n", argv[i], r == 0 ? "removed" : strerror(errno));
        }
        return 0;
}
