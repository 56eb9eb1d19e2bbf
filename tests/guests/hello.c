/* An ordinary guest: greets, echoes its arguments, copies stdin to stdout,
 * and exits with the status given as "exit=N". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
        int code = 0;
        printf("hello from the guest, argc=%d\n", argc);
        for (int i = 1; i < argc; i++) {
                if (strncmp(argv[i], "exit=", 5) == 0)
                        code = atoi(argv[i] + 5);
                else if (strcmp(argv[i], "cat") == 0) {
                        char buf[4096];
                        ssize_t n;
                        fflush(stdout);
                        while ((n = read(0, buf, sizeof(buf))) > 0)
                                fwrite(buf, 1, (size_t)n, stdout);
                } else if (strcmp(argv[i], "interleave") == 0) {
                        /* raw writes to 1 and 2, then 1 redirected to 2 */
                        fflush(stdout);
                        if (write(1, "1a ", 3) != 3 || write(2, "2b ", 3) != 3 ||
                            write(1, "1c ", 3) != 3 || dup2(2, 1) != 1 || write(1, "1d ", 3) != 3)
                                return 5;
                } else if (strcmp(argv[i], "env") == 0) {
                        const char *v = getenv("OSVM_TEST");
                        printf("OSVM_TEST=%s\n", v ? v : "(unset)");
                } else if (strcmp(argv[i], "malloc") == 0) {
                        /* heap through brk and mmap, with a check of the contents */
                        size_t sizes[] = {16, 4000, 200000, 5u << 20};
                        for (size_t k = 0; k < 4; k++) {
                                unsigned char *p = malloc(sizes[k]);
                                if (!p)
                                        return 3;
                                memset(p, (int)k + 1, sizes[k]);
                                p = realloc(p, sizes[k] * 2);
                                if (!p || p[sizes[k] - 1] != k + 1)
                                        return 4;
                                free(p);
                        }
                        printf("malloc ok\n");
                } else {
                        printf("arg %d: %s\n", i, argv[i]);
                }
        }
        return code;
}
