/*
 * Paths and files: a guest path resolved against the cwd or a directory fd
 * to a mount (fs.c); open, stat, readlink, access, mkdir, unlink and rmdir,
 * ftruncate, fchmod, getdents, chdir and getcwd.
 *
 * Everything here reads hostile input: a path is copied from guest memory
 * bounded, normalized lexically and opened only beneath its mount.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vmm/internal.h"

#define PATH_MAX_GUEST 4096

/* Resolves a guest path against dirfd into norm; returns the mount index. */
static int resolve(struct vmm_vm *vm, int64_t dirfd, uint64_t gpath, char *norm, const char **rest)
{
        char path[PATH_MAX_GUEST];
        int r = vmm_guest_str(vm, gpath, path, sizeof(path));
        if (r < 0)
                return r;
        if (!path[0])
                return -ENOENT;
        const char *base = vm->cwd;
        if (path[0] != '/' && dirfd != AT_FDCWD) {
                struct vmm_fd *f = dirfd >= 0 ? vmm_fd_get(vm, (uint64_t)dirfd) : NULL;
                if (!f)
                        return -EBADF;
                if (f->kind != VMM_FD_FILE || !f->dir)
                        return -ENOTDIR;
                base = f->path;
        }
        if (vmm_fs_normalize(base, path, norm, PATH_MAX_GUEST) < 0)
                return -ENAMETOOLONG;
        return vmm_fs_lookup(&vm->fs, norm, rest);
}

int64_t vmm_sys_openat(struct vmm_vm *vm, int64_t dirfd, uint64_t gpath, uint64_t flags,
                       uint64_t mode)
{
        char norm[PATH_MAX_GUEST];
        const char *rest;
        int m = resolve(vm, dirfd, gpath, norm, &rest);
        if (m < 0)
                return m;
        int slot = vmm_fd_alloc(vm, 0);
        if (slot < 0)
                return slot;
        int h = vmm_fs_open(&vm->fs, m, rest, (int)(flags & ~(uint64_t)O_PATH), (unsigned)mode);
        if (h < 0)
                return h;
        struct stat st;
        if (fstat(h, &st) < 0) {
                close(h);
                return -EIO;
        }
        vm->fds[slot] = (struct vmm_fd){.kind = VMM_FD_FILE,
                                        .host = h,
                                        .mount = m,
                                        .path = xstrdup(norm),
                                        .dir = S_ISDIR(st.st_mode)};
        return slot;
}

/* Opens the path itself (O_PATH), following a final symlink unless nofollow. */
static int open_path(struct vmm_vm *vm, int64_t dirfd, uint64_t gpath, bool nofollow, int *mount)
{
        char norm[PATH_MAX_GUEST];
        const char *rest;
        int m = resolve(vm, dirfd, gpath, norm, &rest);
        if (m < 0)
                return m;
        if (mount)
                *mount = m;
        return vmm_fs_open(&vm->fs, m, rest, O_PATH | (nofollow ? O_NOFOLLOW : 0), 0);
}

int64_t vmm_sys_fstat(struct vmm_vm *vm, uint64_t fd, uint64_t buf)
{
        struct stat st;
        struct vmm_fd *f = vmm_fd_get(vm, fd);
        if (!f)
                return -EBADF;
        if (f->host < 0) {
                memset(&st, 0, sizeof(st));
                st.st_mode = S_IFCHR | 0666;
        } else if (fstat(f->host, &st) < 0) {
                return -errno;
        }
        return vmm_guest_put(vm, buf, &st, sizeof(st));
}

int64_t vmm_sys_stat(struct vmm_vm *vm, int64_t dirfd, uint64_t gpath, uint64_t buf, uint64_t flags)
{
        struct stat st;
        if (!vmm_guest_ok(vm, buf, sizeof(st)))
                return -EFAULT;
        char first = 0;
        if ((flags & AT_EMPTY_PATH) && vmm_guest_str(vm, gpath, &first, 1) == 0)
                return dirfd < 0 ? -EBADF : vmm_sys_fstat(vm, (uint64_t)dirfd, buf);
        int h = open_path(vm, dirfd, gpath, flags & AT_SYMLINK_NOFOLLOW, NULL);
        if (h < 0)
                return h;
        int r = fstat(h, &st) < 0 ? -errno : 0;
        close(h);
        if (r < 0)
                return r;
        return vmm_guest_put(vm, buf, &st, sizeof(st));
}

int64_t vmm_sys_readlink(struct vmm_vm *vm, int64_t dirfd, uint64_t gpath, uint64_t buf,
                         uint64_t size)
{
        if ((int64_t)size <= 0)
                return -EINVAL;
        if (!vmm_guest_ptr(vm, buf, size))
                return -EFAULT;
        int h = open_path(vm, dirfd, gpath, true, NULL);
        if (h < 0)
                return h;
        /* a link's target is shorter than PATH_MAX: by value */
        char target[PATH_MAX_GUEST];
        ssize_t n = readlinkat(h, "", target, size < sizeof(target) ? size : sizeof(target));
        int err = errno;
        close(h);
        if (n > 0)
                vmm_guest_put(vm, buf, target, (size_t)n);
        return n < 0 ? -err : n;
}

int64_t vmm_sys_access(struct vmm_vm *vm, int64_t dirfd, uint64_t gpath, uint64_t mode,
                       uint64_t flags)
{
        if (mode & ~(uint64_t)(R_OK | W_OK | X_OK))
                return -EINVAL;
        int m = -1;
        int h = open_path(vm, dirfd, gpath, flags & AT_SYMLINK_NOFOLLOW, &m);
        if (h < 0)
                return h;
        int r = 0;
        if ((mode & W_OK) && vm->fs.m[m].readonly)
                r = -EROFS;
        else if (syscall(SYS_faccessat2, h, "", (int)mode, AT_EMPTY_PATH | AT_EACCESS) < 0)
                r = -errno;
        close(h);
        return r;
}

/* mkdirat and unlinkat: the parent is resolved, the last name acted on. */
int64_t vmm_sys_dirop(struct vmm_vm *vm, bool mk, int64_t dirfd, uint64_t gpath, uint64_t arg)
{
        char norm[PATH_MAX_GUEST];
        const char *rest;
        int m = resolve(vm, dirfd, gpath, norm, &rest);
        if (m < 0)
                return m;
        if (strcmp(rest, ".") == 0)
                return mk ? -EEXIST : -EBUSY;
        if (vm->fs.m[m].readonly)
                return -EROFS;
        int own = vmm_fs_may_change(&vm->fs, m, rest);
        if (own < 0)
                return own;
        char parent[PATH_MAX_GUEST];
        snprintf(parent, sizeof(parent), "%s", rest);
        char *slash = strrchr(parent, '/');
        const char *name = slash ? slash + 1 : rest;
        if (slash)
                *slash = '\0';
        int h = vmm_fs_open(&vm->fs, m, slash ? parent : ".", O_PATH | O_DIRECTORY, 0);
        if (h < 0)
                return h;
        int r;
        if (mk)
                r = mkdirat(h, name, (mode_t)vmm_fs_mode(arg)) < 0 ? -errno : 0;
        else
                r = unlinkat(h, name, (int)(arg & AT_REMOVEDIR)) < 0 ? -errno : 0;
        close(h);
        return r;
}

int64_t vmm_sys_ftruncate(struct vmm_vm *vm, uint64_t fd, uint64_t len)
{
        struct vmm_fd *f = vmm_fd_get(vm, fd);
        if (!f)
                return -EBADF;
        if (f->kind != VMM_FD_FILE)
                return -EINVAL;
        return ftruncate(f->host, (off_t)len) < 0 ? -errno : 0;
}

/* The permission bits of a file or directory in a read-write mount, under
 * the rule of every mode the guest sets; never those of a mount's root. */
int64_t vmm_sys_fchmod(struct vmm_vm *vm, uint64_t fd, uint64_t mode)
{
        struct vmm_fd *f = vmm_fd_get(vm, fd);
        if (!f)
                return -EBADF;
        if (f->kind != VMM_FD_FILE)
                return -EINVAL;
        if (vm->fs.m[f->mount].readonly)
                return -EROFS;
        if (vmm_fs_is_root(&vm->fs, f->host))
                return -EPERM;
        return fchmod(f->host, (mode_t)vmm_fs_mode(mode)) < 0 ? -errno : 0;
}

int64_t vmm_sys_getdents(struct vmm_vm *vm, uint64_t fd, uint64_t buf, uint64_t len)
{
        struct vmm_fd *f = vmm_fd_get(vm, fd);
        if (!f)
                return -EBADF;
        if (f->kind != VMM_FD_FILE || !f->dir)
                return -ENOTDIR;
        if (len > (1u << 20))
                len = 1u << 20;
        void *p = vmm_guest_ptr(vm, buf, len);
        if (!p)
                return -EFAULT;
        long n = syscall(SYS_getdents64, f->host, p, len);
        return n < 0 ? -errno : n;
}

int64_t vmm_sys_chdir(struct vmm_vm *vm, uint64_t gpath)
{
        char norm[PATH_MAX_GUEST];
        const char *rest;
        int m = resolve(vm, AT_FDCWD, gpath, norm, &rest);
        if (m < 0)
                return m;
        int h = vmm_fs_open(&vm->fs, m, rest, O_PATH | O_DIRECTORY, 0);
        if (h < 0)
                return h;
        close(h);
        free(vm->cwd);
        vm->cwd = xstrdup(norm);
        return 0;
}

int64_t vmm_sys_getcwd(struct vmm_vm *vm, uint64_t buf, uint64_t size)
{
        size_t l = strlen(vm->cwd) + 1;
        if (size < l)
                return -ERANGE;
        return vmm_guest_put(vm, buf, vm->cwd, l) < 0 ? -EFAULT : (int64_t)l;
}
