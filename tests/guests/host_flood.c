/* Hostile: writes host calls to fd 3 without ever reading an answer, as
 * fast as it can. The host must not wait on it past the call's time. Prints
 * "no fd 3" and exits 3 when there is no host-call channel. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
        static char req[65536];
        size_t n = 0;
        while (n + 20 < sizeof(req)) {
                memcpy(req + n, "{\"op\":\"nothing\"}\n", 17);
                n += 17;
        }
        for (unsigned long total = 0;;) {
                ssize_t w = write(3, req, n);
                if (w < 0 && errno == EBADF) {
                        printf("no fd 3\n");
                        return 3;
                }
                if (w < 0) {
                        printf("write: %s after %lu bytes\n", strerror(errno), total);
                        return 1;
                }
                total += (unsigned long)w;
        }
}
