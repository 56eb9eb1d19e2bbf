/* Helpers shared by the unit tests. */
#ifndef OSVM_TESTUTIL_H
#define OSVM_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include <ftw.h>
#include <unistd.h>

/* Makes a fresh directory /tmp/osvm-NAME-XXXXXX into buf; 0 on success. */
static inline int tu_tempdir(char *buf, size_t n, const char *name)
{
        snprintf(buf, n, "/tmp/osvm-%s-XXXXXX", name);
        return mkdtemp(buf) ? 0 : -1;
}

static inline int tu_remove_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
        (void)st, (void)flag, (void)f;
        return remove(path);
}

/* Removes a directory tree; 0 on success. */
static inline int tu_rmrf(const char *dir)
{
        return nftw(dir, tu_remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
