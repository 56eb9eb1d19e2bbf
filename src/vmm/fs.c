/*
 * Mounts: guest paths resolved on the host, below the mounts only.
 *
 * A guest path is first normalized lexically (so `/data/../etc` is `/etc`,
 * which no mount holds), then the longest mount prefix is found, and the
 * rest is opened with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) from
 * the mount's directory fd: the kernel refuses any `..` or symbolic link
 * that would leave the mount, and /proc-style magic links.
 *
 * osvm's own files are never a guest's: where a mount holds osvm's
 * configuration or state folder (the registry, the policy, the audit log,
 * the secrets file), whatever the guest opens there or below it is not
 * found, however the path reached it (checked on the opened file).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vmm/internal.h"

int vmm_fs_normalize(const char *base, const char *path, char *out, size_t n)
{
        /* Components are appended to out; `..` pops the last one. */
        size_t len = 0;
        if (n < 2)
                return -ENAMETOOLONG;
        out[0] = '\0';
        for (int pass = 0; pass < 2; pass++) {
                const char *p = pass == 0 ? base : path;
                if (pass == 0 && (!base || path[0] == '/'))
                        continue;
                while (*p) {
                        while (*p == '/')
                                p++;
                        if (!*p)
                                break;
                        const char *c = p;
                        while (*p && *p != '/')
                                p++;
                        size_t cl = (size_t)(p - c);
                        if (cl == 1 && c[0] == '.')
                                continue;
                        if (cl == 2 && c[0] == '.' && c[1] == '.') {
                                while (len > 0 && out[len - 1] != '/')
                                        len--;
                                if (len > 0)
                                        len--; /* the slash */
                                out[len] = '\0';
                                continue;
                        }
                        if (len + 1 + cl + 1 > n)
                                return -ENAMETOOLONG;
                        out[len++] = '/';
                        memcpy(out + len, c, cl);
                        len += cl;
                        out[len] = '\0';
                }
        }
        if (len == 0) {
                out[0] = '/';
                out[1] = '\0';
        }
        return 0;
}

int vmm_fs_lookup(const struct vmm_fs *fs, const char *norm, const char **rest)
{
        int best = -1;
        size_t best_len = 0;
        for (size_t i = 0; i < fs->n; i++) {
                const struct vmm_fs_mount *m = &fs->m[i];
                size_t l = m->vm_len;
                bool match;
                if (l == 1) /* mounted at "/" */
                        match = true;
                else
                        match = strncmp(norm, m->vm_path, l) == 0 &&
                                (norm[l] == '\0' || norm[l] == '/');
                if (match && (best < 0 || l > best_len)) {
                        best = (int)i;
                        best_len = l;
                }
        }
        if (best < 0)
                return -ENOENT;
        const char *r = norm + (best_len == 1 ? 0 : best_len);
        while (*r == '/')
                r++;
        *rest = *r ? r : ".";
        return best;
}

/* ---- osvm's own files ---- */

/* osvm's own files (paths_own), found once a process */
static struct {
        char *v[PATHS_OWN_MAX];
        size_t n;
} own;
static pthread_once_t own_once = PTHREAD_ONCE_INIT;

static void own_find(void)
{
        own.n = paths_own(own.v);
}

/* fd's path on the host into out (PATH_MAX bytes); false when unknown. */
static bool fd_path(int fd, char *out)
{
        char link[64];
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, out, PATH_MAX - 1);
        if (n <= 0)
                return false;
        out[n] = '\0';
        return true;
}

/* Notes in fs which of osvm's own files the mount at dirfd holds. */
static void own_note(struct vmm_fs *fs, int dirfd)
{
        char root[PATH_MAX];
        if (!fd_path(dirfd, root))
                return;
        for (size_t j = 0; j < own.n; j++) {
                bool noted = false;
                for (size_t k = 0; k < fs->nhidden; k++)
                        noted |= fs->hidden[k] == own.v[j];
                if (!noted && fs_under(own.v[j], root))
                        fs->hidden[fs->nhidden++] = own.v[j];
        }
}

/* Whether the opened fd is one of osvm's own files or below one. */
static bool own_hidden(const struct vmm_fs *fs, int fd)
{
        char path[PATH_MAX];
        if (!fd_path(fd, path))
                return true; /* unknown: not the guest's either */
        for (size_t k = 0; k < fs->nhidden; k++)
                if (fs_under(path, fs->hidden[k]))
                        return true;
        return false;
}

int vmm_fs_init(struct vmm_fs *fs, const struct vmm_mount *mounts, size_t n, osvm_err *e)
{
        memset(fs, 0, sizeof(*fs));
        if (n)
                pthread_once(&own_once, own_find);
        if (n > VMM_MAX_MOUNTS)
                return err_set(e, EINVAL, "%zu mounts: at most %d", n, VMM_MAX_MOUNTS);
        for (size_t i = 0; i < n; i++) {
                const struct vmm_mount *mt = &mounts[i];
                if (!mt->host_path || !mt->vm_path || mt->vm_path[0] != '/') {
                        vmm_fs_fini(fs);
                        return err_set(e, EINVAL, "mount %zu: vm_path must be an absolute path", i);
                }
                char norm[4096];
                if (vmm_fs_normalize(NULL, mt->vm_path, norm, sizeof(norm)) < 0) {
                        vmm_fs_fini(fs);
                        return err_set(e, ENAMETOOLONG, "mount %zu: vm_path too long", i);
                }
                int fd = open(mt->host_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0) {
                        err_sys(e, "mount %s: host directory %s", norm, mt->host_path);
                        vmm_fs_fini(fs);
                        return -1;
                }
                fs->m[i].vm_path = xstrdup(norm);
                fs->m[i].vm_len = strlen(norm);
                fs->m[i].dirfd = fd;
                fs->m[i].readonly = mt->readonly;
                fs->n = i + 1;
                own_note(fs, fd);
        }
        return 0;
}

void vmm_fs_fini(struct vmm_fs *fs)
{
        for (size_t i = 0; i < fs->n; i++) {
                free(fs->m[i].vm_path);
                if (fs->m[i].dirfd >= 0)
                        close(fs->m[i].dirfd);
        }
        fs->n = 0;
        fs->nhidden = 0;
}

unsigned vmm_fs_mode(uint64_t guest_mode)
{
        return (unsigned)(guest_mode & VMM_FS_MODE_MASK);
}

bool vmm_fs_is_root(const struct vmm_fs *fs, int fd)
{
        struct stat st, root;
        if (fstat(fd, &st) < 0)
                return true; /* unknown: not the guest's to change either */
        for (size_t i = 0; i < fs->n; i++)
                if (fstat(fs->m[i].dirfd, &root) == 0 && root.st_dev == st.st_dev &&
                    root.st_ino == st.st_ino)
                        return true;
        return false;
}

/*
 * Where openat2 is missing (kernels before 5.6, valgrind), the same rules by
 * hand: one component at a time with O_NOFOLLOW, symbolic links read and
 * expanded here (absolute ones refused), `..` taken from our own stack of
 * directory fds and refused above the mount's root. The kernel never follows
 * a link or a `..` for us, so a concurrent rename cannot lead outside.
 */
#define WALK_MAX_DEPTH 128
#define WALK_MAX_LINKS 40

bool vmm_fs_no_openat2;

static int walk_open(int root, const char *rest, int flags, unsigned mode, bool no_links)
{
        if (rest[0] == '/')
                return -EACCES;     /* as RESOLVE_BENEATH */
        char *path = xstrdup(rest); /* components still to walk, '/'-separated */
        int stack[WALK_MAX_DEPTH];
        int depth = 0, links = 0, result = -ENOENT;
        int cur = root;
        char *p = path;
        for (;;) {
                while (*p == '/')
                        p++;
                char *end = strchr(p, '/');
                char *next = end ? end + 1 : p + strlen(p);
                while (end && *next == '/')
                        next++;
                bool last = !*next;
                if (end)
                        *end = '\0';
                if (!*p || strcmp(p, ".") == 0) {
                        if (last) {
                                result = openat(cur, ".", flags | O_NOFOLLOW, (mode_t)mode);
                                result = result < 0 ? -errno : result;
                                break;
                        }
                        p = next;
                        continue;
                }
                if (strcmp(p, "..") == 0) {
                        if (depth == 0) {
                                result = -EACCES;
                                break;
                        }
                        close(cur);
                        cur = stack[--depth];
                        if (last) {
                                result = openat(cur, ".", flags | O_NOFOLLOW, (mode_t)mode);
                                result = result < 0 ? -errno : result;
                                break;
                        }
                        p = next;
                        continue;
                }
                int fd = openat(cur, p, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0 && errno == ENOENT && last && (flags & O_CREAT)) {
                        fd = openat(cur, p, flags | O_NOFOLLOW, (mode_t)mode);
                        result = fd < 0 ? -errno : fd;
                        break;
                }
                if (fd < 0) {
                        result = -errno;
                        break;
                }
                struct stat st;
                if (fstat(fd, &st) < 0) {
                        result = -errno;
                        close(fd);
                        break;
                }
                if (S_ISLNK(st.st_mode) && !(last && (flags & O_NOFOLLOW))) {
                        if (no_links) { /* as RESOLVE_NO_SYMLINKS */
                                close(fd);
                                result = -ELOOP;
                                break;
                        }
                        char target[4096];
                        ssize_t n = readlinkat(fd, "", target, sizeof(target) - 1);
                        close(fd);
                        if (n <= 0 || ++links > WALK_MAX_LINKS) {
                                result = n <= 0 ? -EACCES : -ELOOP;
                                break;
                        }
                        target[n] = '\0';
                        if (target[0] == '/') {
                                result = -EACCES; /* RESOLVE_BENEATH refuses these too */
                                break;
                        }
                        /* the walk goes on with the link's target, then the rest */
                        char *np = xasprintf("%s/%s", target, next);
                        free(path);
                        path = p = np;
                        continue;
                }
                if (last) {
                        close(fd);
                        result = openat(cur, p, flags | O_NOFOLLOW, (mode_t)mode);
                        result = result < 0 ? -errno : result;
                        break;
                }
                if (!S_ISDIR(st.st_mode)) {
                        close(fd);
                        result = -ENOTDIR;
                        break;
                }
                if (depth == WALK_MAX_DEPTH) {
                        close(fd);
                        result = -ENAMETOOLONG;
                        break;
                }
                stack[depth++] = cur;
                cur = fd;
                p = next;
        }
        if (cur != root)
                close(cur);
        while (depth > 1)
                close(stack[--depth]);
        free(path);
        return result;
}

/* rest opened below m as how says: openat2, else walk_open. An fd or -errno. */
static long open_beneath(const struct vmm_fs_mount *m, const char *rest, const struct open_how *how)
{
        if (!vmm_fs_no_openat2) {
                long fd = syscall(SYS_openat2, m->dirfd, rest, how, sizeof(*how));
                if (fd >= 0)
                        return fd;
                if (errno != ENOSYS)
                        return errno == EXDEV ? -EACCES : -errno;
                vmm_fs_no_openat2 = true;
        }
        return walk_open(m->dirfd, rest, (int)how->flags, (unsigned)how->mode,
                         how->resolve & RESOLVE_NO_SYMLINKS);
}

/* Before a write below m: -ENOENT when rest or its folder (resolved without
 * links) is one of osvm's own files or below one, else 0. */
static int own_check_write(const struct vmm_fs *fs, const struct vmm_fs_mount *m, const char *rest)
{
        char parent[4096];
        snprintf(parent, sizeof(parent), "%s", rest);
        char *slash = strrchr(parent, '/');
        if (slash)
                *slash = '\0';
        const char *paths[2] = {rest, slash ? parent : "."};
        for (size_t i = 0; i < 2; i++) {
                struct open_how how = {.flags = O_PATH | O_CLOEXEC | O_NOFOLLOW,
                                       .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS |
                                                  RESOLVE_NO_SYMLINKS};
                long fd = open_beneath(m, paths[i], &how);
                if (fd < 0)
                        continue; /* not there (yet): the open says what it says */
                bool hidden = own_hidden(fs, (int)fd);
                close((int)fd);
                if (hidden)
                        return -ENOENT;
        }
        return 0;
}

int vmm_fs_may_change(const struct vmm_fs *fs, int i, const char *rest)
{
        if (i < 0 || (size_t)i >= fs->n)
                return -ENOENT;
        return fs->nhidden ? own_check_write(fs, &fs->m[i], rest) : 0;
}

int vmm_fs_open(const struct vmm_fs *fs, int i, const char *rest, int flags, unsigned mode)
{
        if (i < 0 || (size_t)i >= fs->n)
                return -ENOENT;
        const struct vmm_fs_mount *m = &fs->m[i];
        int acc = flags & O_ACCMODE;
        bool writes = acc == O_WRONLY || acc == O_RDWR || (flags & (O_CREAT | O_TRUNC | O_APPEND));
        if (flags & O_PATH)
                writes = false;
        if (writes && m->readonly)
                return -EROFS;
        const int allowed =
            O_ACCMODE | O_CREAT | O_EXCL | O_TRUNC | O_APPEND | O_DIRECTORY | O_NOFOLLOW | O_PATH;
        struct open_how how = {
            .flags = (uint64_t)((flags & allowed) | O_CLOEXEC | O_NOCTTY),
            .mode = (flags & O_CREAT) ? vmm_fs_mode(mode) : 0,
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
        };
        /* Non-blocking until the type is known: a FIFO in a mount must not
         * hang the host. */
        if (flags & O_PATH) /* openat2 takes nothing else with O_PATH */
                how.flags = (uint64_t)(O_PATH | O_CLOEXEC | (flags & (O_NOFOLLOW | O_DIRECTORY)));
        else
                how.flags |= O_NONBLOCK;
        if (writes && fs->nhidden) {
                /* osvm's own files are in this mount: no write goes through a
                 * link, and none into them (the check after the open would
                 * come after a file was made or cut) */
                how.resolve |= RESOLVE_NO_SYMLINKS;
                int r = own_check_write(fs, m, rest);
                if (r < 0)
                        return r;
        }
        long fd = open_beneath(m, rest, &how);
        if (fd < 0)
                return (int)fd;
        struct stat st;
        if (fstat((int)fd, &st) < 0) {
                int err = errno;
                close((int)fd);
                return -err;
        }
        bool ok =
            S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) || ((flags & O_PATH) && S_ISLNK(st.st_mode));
        if (!ok) {
                close((int)fd);
                return -EACCES;
        }
        if (fs->nhidden && own_hidden(fs, (int)fd)) {
                close((int)fd);
                return -ENOENT;
        }
        if (!(flags & O_PATH))
                (void)fcntl((int)fd, F_SETFL, flags & O_APPEND);
        return (int)fd;
}
