/* Bounded reads, atomic writes, directories. */
#include "base.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fs_read_file(const char *path, size_t max, char **out, size_t *len, osvm_err *e)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return err_sys(e, "%s", path);
        return fs_read_fd(fd, path, max, out, len, e);
}

ssize_t fs_read_proc(const char *path, char *buf, size_t cap)
{
        if (cap == 0)
                return -1;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -1;
        ssize_t n;
        do
                n = read(fd, buf, cap - 1);
        while (n < 0 && errno == EINTR);
        close(fd);
        buf[n > 0 ? n : 0] = '\0';
        return n;
}

int fs_read_fd(int fd, const char *path, size_t max, char **out, size_t *len, osvm_err *e)
{
        struct stat st;
        if (fstat(fd, &st) < 0)
                return err_sys(e, "%s", path);
        if (S_ISDIR(st.st_mode))
                return err_set(e, EISDIR, "%s: is a directory, not a file", path);
        if (!S_ISREG(st.st_mode))
                return err_set(e, EINVAL, "%s: not a regular file", path);
        if ((uint64_t)st.st_size > max)
                return err_set(e, EFBIG, "%s: too large (%lld bytes; the limit is %zu)", path,
                               (long long)st.st_size, max);
        /* The file may grow while it is read: never take more than max. */
        size_t cap = (size_t)st.st_size + 1, n = 0;
        _cleanup_free_ char *buf = xmalloc(cap + 1);
        for (;;) {
                if (n == cap) {
                        if (cap > max)
                                return err_set(e, EFBIG, "%s: too large (the limit is %zu bytes)",
                                               path, max);
                        cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
                        buf = xrealloc(buf, cap + 1);
                }
                ssize_t r = read(fd, buf + n, cap - n);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return err_sys(e, "%s: reading", path);
                if (r == 0)
                        break;
                n += (size_t)r;
        }
        if (n > max)
                return err_set(e, EFBIG, "%s: too large (the limit is %zu bytes)", path, max);
        buf[n] = '\0';
        *out = base_steal(&buf);
        if (len)
                *len = n;
        return 0;
}

static int write_all(int fd, const void *data, size_t len)
{
        const char *p = data;
        while (len) {
                ssize_t w = write(fd, p, len);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0)
                        return -1;
                p += w;
                len -= (size_t)w;
        }
        return 0;
}

/* Writes a temporary file beside path; returns its name or NULL. */
static char *write_temp(const char *path, const void *data, size_t len, unsigned mode, osvm_err *e)
{
        char *tmp = xasprintf("%s.tmp.XXXXXX", path);
        int fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0) {
                err_sys(e, "%s: creating a temporary file", path);
                free(tmp);
                return NULL;
        }
        if (fchmod(fd, mode) < 0 || write_all(fd, data, len) < 0 || fsync(fd) < 0) {
                err_sys(e, "%s: writing", tmp);
                close(fd);
                unlink(tmp);
                free(tmp);
                return NULL;
        }
        if (close(fd) < 0) {
                err_sys(e, "%s: writing", tmp);
                unlink(tmp);
                free(tmp);
                return NULL;
        }
        return tmp;
}

static void sync_dir_of(const char *path)
{
        _cleanup_free_ char *dir = fs_dirname(path);
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0)
                fsync(dfd);
}

int fs_write_atomic(const char *path, const void *data, size_t len, unsigned mode, osvm_err *e)
{
        _cleanup_free_ char *tmp = write_temp(path, data, len, mode, e);
        if (!tmp)
                return -1;
        if (rename(tmp, path) < 0) {
                err_sys(e, "%s: replacing", path);
                unlink(tmp);
                return -1;
        }
        sync_dir_of(path);
        return 0;
}

int fs_create_atomic(const char *path, const void *data, size_t len, unsigned mode, osvm_err *e)
{
        _cleanup_free_ char *tmp = write_temp(path, data, len, mode, e);
        if (!tmp)
                return -1;
        int r = link(tmp, path);
        int saved = errno;
        unlink(tmp);
        if (r < 0) {
                errno = saved;
                return err_sys(e, "%s: creating", path);
        }
        sync_dir_of(path);
        return 0;
}

int fs_mkdir_p(const char *path, unsigned mode, osvm_err *e)
{
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
                return 0; /* the common case, in one call (each is a VM exit in μVM-1) */
        _cleanup_free_ char *p = xstrdup(path);
        size_t n = strlen(p);
        int err = 0;
        char failed[256] = "";
        for (size_t i = 1; i <= n; i++) {
                if (p[i] != '/' && p[i] != '\0')
                        continue;
                char c = p[i];
                p[i] = '\0';
                /* An ancestor that cannot be made nor seen (above a mount point
                 * inside μVM-1) is no error if the rest can be. */
                if (mkdir(p, mode) < 0 && errno != EEXIST && !err) {
                        err = errno;
                        snprintf(failed, sizeof(failed), "%s", p);
                }
                p[i] = c;
        }
        if (stat(path, &st) < 0 && err) {
                errno = err;
                return err_sys(e, "creating directory %s", failed);
        }
        if (stat(path, &st) < 0)
                return err_sys(e, "%s", path);
        if (!S_ISDIR(st.st_mode))
                return err_set(e, ENOTDIR, "%s: not a directory", path);
        return 0;
}

bool fs_under(const char *path, const char *dir)
{
        size_t l = strlen(dir);
        if (l && dir[l - 1] == '/')
                l--; /* "/" itself, or a trailing slash */
        return !strncmp(path, dir, l) && (path[l] == '/' || path[l] == '\0');
}

bool fs_holds_any(const char *dir, char *const *paths, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (fs_under(paths[i], dir))
                        return true;
        return false;
}

char *fs_real_or_same(const char *path)
{
        char *real = realpath(path, NULL);
        return real ? real : xstrdup(path);
}

char *fs_dirname(const char *path)
{
        const char *slash = strrchr(path, '/');
        if (!slash)
                return xstrdup(".");
        if (slash == path)
                return xstrdup("/");
        size_t n = (size_t)(slash - path);
        char *d = xmalloc(n + 1);
        memcpy(d, path, n);
        d[n] = '\0';
        return d;
}

char *fs_expand_home(const char *path)
{
        const char *home = getenv("HOME");
        if (home && *home && path[0] == '~' && (path[1] == '\0' || path[1] == '/'))
                return xasprintf("%s%s", home, path + 1);
        return xstrdup(path);
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
        (void)st;
        (void)f;
        if (type == FTW_DP)
                rmdir(path);
        else
                unlink(path);
        return 0;
}

void fs_remove_tree(const char *path)
{
        nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}
