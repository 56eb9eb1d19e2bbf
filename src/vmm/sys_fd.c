/*
 * The guest's fd table and the calls on an fd itself: close, lseek, dup,
 * dup2 and dup3, fcntl, fsync, and the ioctls of the user's terminal.
 * Reading and writing are sys_io.c's.
 *
 * Everything here reads hostile input: an fd number is looked up only
 * within the table, and an ioctl's argument goes through syscall.c's checks.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "vmm/internal.h"

/* ---- fds ---- */

struct vmm_fd *vmm_fd_get(struct vmm_vm *vm, uint64_t fd)
{
        if (fd >= VMM_MAX_FDS || vm->fds[fd].kind == VMM_FD_FREE)
                return NULL;
        return &vm->fds[fd];
}

int vmm_fd_alloc(struct vmm_vm *vm, uint64_t from)
{
        for (uint64_t i = from; i < VMM_MAX_FDS; i++)
                if (vm->fds[i].kind == VMM_FD_FREE)
                        return (int)i;
        return -EMFILE;
}

static void fd_release(struct vmm_fd *f)
{
        if (f->kind == VMM_FD_FILE && f->host >= 0)
                close(f->host);
        free(f->path);
        memset(f, 0, sizeof(*f));
        f->host = -1;
}

void vmm_fds_close(struct vmm_vm *vm)
{
        for (int i = 0; i < VMM_MAX_FDS; i++)
                if (vm->fds[i].kind != VMM_FD_FREE)
                        fd_release(&vm->fds[i]);
}

/* Copies f into slot to (closing what was there). */
static int64_t fd_dup_to(struct vmm_vm *vm, struct vmm_fd *f, int to)
{
        struct vmm_fd n = *f;
        n.path = f->path ? xstrdup(f->path) : NULL;
        if (f->kind == VMM_FD_FILE) {
                n.host = fcntl(f->host, F_DUPFD_CLOEXEC, 3);
                if (n.host < 0) {
                        free(n.path);
                        return -errno;
                }
        }
        if (vm->fds[to].kind != VMM_FD_FREE)
                fd_release(&vm->fds[to]);
        vm->fds[to] = n;
        return to;
}

int64_t vmm_sys_close(struct vmm_vm *vm, uint64_t fd)
{
        struct vmm_fd *f = vmm_fd_get(vm, fd);
        if (!f)
                return -EBADF;
        fd_release(f);
        return 0;
}

int64_t vmm_sys_lseek(struct vmm_vm *vm, uint64_t fd, uint64_t off, uint64_t whence)
{
        struct vmm_fd *f = vmm_fd_get(vm, fd);
        if (!f)
                return -EBADF;
        if (f->host < 0)
                return -ESPIPE;
        off_t r = lseek(f->host, (off_t)off, (int)whence);
        return r < 0 ? -errno : r;
}

int64_t vmm_sys_dup(struct vmm_vm *vm, uint64_t fd)
{
        struct vmm_fd *f = vmm_fd_get(vm, fd);
        if (!f)
                return -EBADF;
        int to = vmm_fd_alloc(vm, 0);
        return to < 0 ? to : fd_dup_to(vm, f, to);
}

/* dup2, and dup3 (which refuses to == fd). */
int64_t vmm_sys_dup2(struct vmm_vm *vm, uint64_t fd, uint64_t to, bool dup3)
{
        struct vmm_fd *f = vmm_fd_get(vm, fd);
        if (!f)
                return -EBADF;
        if (to >= VMM_MAX_FDS)
                return -EBADF;
        if (fd == to)
                return dup3 ? -EINVAL : (int64_t)to;
        return fd_dup_to(vm, f, (int)to);
}

int64_t vmm_sys_fcntl(struct vmm_vm *vm, uint64_t fd, uint64_t cmd, uint64_t arg)
{
        struct vmm_fd *f = vmm_fd_get(vm, fd);
        if (!f)
                return -EBADF;
        switch (cmd) {
        case F_DUPFD:
        case F_DUPFD_CLOEXEC: {
                int to = vmm_fd_alloc(vm, arg);
                return to < 0 ? (arg >= VMM_MAX_FDS ? -EINVAL : to) : fd_dup_to(vm, f, to);
        }
        case F_GETFD:
        case F_SETFD:
        case F_SETFL:
                return 0;
        case F_GETFL:
                if (f->kind == VMM_FD_IN)
                        return O_RDONLY;
                if (f->kind == VMM_FD_OUT)
                        return O_WRONLY;
                return fcntl(f->host, F_GETFL) & (O_ACCMODE | O_APPEND);
        default:
                return -EINVAL;
        }
}

/* fsync and fdatasync: 0 for any open fd. */
int64_t vmm_sys_fsync(struct vmm_vm *vm, uint64_t fd)
{
        return vmm_fd_get(vm, fd) ? 0 : -EBADF;
}

/* ---- the user's terminal (spec->tty) ---- */

/* The kernel's struct termios, which TCGETS and TCSETS* copy. */
struct vmm_ktermios {
        uint32_t c_iflag, c_oflag, c_cflag, c_lflag;
        uint8_t c_line;
        uint8_t c_cc[19];
};

/* What a guest may change of the terminal: line editing, echo, signals
 * and output processing, never the line itself (speed, size, parity). */
#define TTY_IFLAGS (ICRNL | INLCR | IGNCR | IXON | IXOFF | IXANY | ISTRIP | BRKINT | INPCK | IUTF8)
#define TTY_OFLAGS (OPOST | ONLCR | OCRNL | ONOCR | ONLRET)
#define TTY_LFLAGS                                                                                 \
        (ICANON | ECHO | ECHOE | ECHOK | ECHONL | ECHOCTL | ECHOKE | ISIG | IEXTEN | NOFLSH)

/*
 * Terminal ioctls on fds 0-2, when the call's spec says they may be the
 * user's terminal: TCGETS, TCSETS/TCSETSW/TCSETSF (narrowed to the flags
 * above; the host restores the terminal when the session ends) and
 * TIOCGWINSZ. Everything else is ENOTTY, as for a pipe.
 */
int64_t vmm_sys_ioctl(struct vmm_vm *vm, uint64_t fd, uint64_t cmd, uint64_t arg)
{
        struct vmm_fd *f = vmm_fd_get(vm, fd);
        if (!f)
                return -EBADF;
        if (!vm->spec->tty || fd > 2 || f->host < 0 || !isatty(f->host))
                return -ENOTTY;
        struct vmm_ktermios cur, want;
        switch (cmd) {
        case TCGETS:
                if (ioctl(f->host, TCGETS, &cur) < 0)
                        return -errno;
                return vmm_guest_put(vm, arg, &cur, sizeof(cur));
        case TCSETS:
        case TCSETSW:
        case TCSETSF:
                if (vmm_guest_get(vm, arg, &want, sizeof(want)) < 0)
                        return -EFAULT;
                if (ioctl(f->host, TCGETS, &cur) < 0)
                        return -errno;
                cur.c_iflag = (cur.c_iflag & ~TTY_IFLAGS) | (want.c_iflag & TTY_IFLAGS);
                cur.c_oflag = (cur.c_oflag & ~TTY_OFLAGS) | (want.c_oflag & TTY_OFLAGS);
                cur.c_lflag = (cur.c_lflag & ~TTY_LFLAGS) | (want.c_lflag & TTY_LFLAGS);
                memcpy(cur.c_cc, want.c_cc, sizeof(cur.c_cc));
                return ioctl(f->host, (unsigned long)cmd, &cur) < 0 ? -errno : 0;
        case TIOCGWINSZ: {
                struct winsize ws;
                if (ioctl(f->host, TIOCGWINSZ, &ws) < 0)
                        return -errno;
                return vmm_guest_put(vm, arg, &ws, sizeof(ws));
        }
        default:
                return -ENOTTY;
        }
}
