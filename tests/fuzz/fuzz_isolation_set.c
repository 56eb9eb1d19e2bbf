/*
 * `osvm isolation set` (src/cli/cmd_isolation.c over iso_config_set in
 * src/isolation/edit.c): a config file as it may be, a target and
 * KEY=VALUE assignments as a user (or a script fed by something else)
 * may type them.
 *
 * Input: a header, a NUL byte, then the file's text. The header's first
 * line is the target ("SERVER", "SERVER/TOOL", or empty for the top
 * level), each further line (up to eight) an assignment. Checked beyond
 * "no crash, no leak": a refusal has a message and leaves the file as it
 * was, byte for byte; a file it wrote loads again with no error.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "isolation/isolation.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ASSIGN 8

static char path[256];

static void check(bool ok)
{
        if (!ok)
                abort();
}

static void remove_dir(void)
{
        unlink(path);
        *strrchr(path, '/') = '\0';
        rmdir(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (!path[0]) {
                /* in memory where it can be: each input writes the file twice */
                char dir[64];
                snprintf(dir, sizeof(dir), "%s/osvm-fuzz-set-XXXXXX",
                         access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
                check(mkdtemp(dir) != NULL);
                snprintf(path, sizeof(path), "%s/%s", dir, ISO_CONFIG_FILE);
                setenv("HOME", dir, 1);
                atexit(remove_dir);
        }
        const uint8_t *nul = memchr(data, '\0', size);
        if (!nul)
                return 0;
        size_t hlen = (size_t)(nul - data);
        const char *text = (const char *)nul + 1;
        size_t tlen = size - hlen - 1;

        /* the header: the target and the assignments, as argv gives them */
        char *header = strndup((const char *)data, hlen);
        char *lines[1 + MAX_ASSIGN];
        size_t n = 0;
        for (char *save = NULL, *l = strtok_r(header, "\n", &save); l && n < 1 + MAX_ASSIGN;
             l = strtok_r(NULL, "\n", &save))
                lines[n++] = l;
        if (n < 2) {
                free(header);
                return 0;
        }
        const char *target = lines[0][0] && strcmp(lines[0], "-") ? lines[0] : NULL;

        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        check(fd >= 0);
        check(write(fd, text, tlen) == (ssize_t)tlen);
        close(fd);

        struct iso_diags d = {0};
        osvm_err e = {0};
        int r = iso_config_set(path, target, (const char *const *)lines + 1, n - 1, &d, &e);
        iso_diags_free(&d);
        if (r < 0) {
                check(e.msg[0] != '\0'); /* a refusal says why */
                char *now = NULL;
                size_t len = 0;
                osvm_err e2 = {0};
                check(fs_read_file(path, ISO_CONFIG_MAX_BYTES + 1, &now, &len, &e2) == 0);
                check(len == tlen && memcmp(now, text, tlen) == 0); /* and wrote nothing */
                free(now);
        } else {
                struct iso_config cfg;
                check(iso_config_load(path, &cfg, &d) == 0); /* what it wrote loads */
                check(d.nerrors == 0);
                iso_diags_free(&d);
                iso_config_free(&cfg);
        }
        free(header);
        return 0;
}
