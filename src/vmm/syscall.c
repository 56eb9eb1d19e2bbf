/*
 * The syscall layer: the guest's Linux system calls, served on the host.
 *
 * Everything here reads hostile input. Every guest address and length is
 * checked against user memory (overflow-safe) before the host touches it;
 * files exist only below the mounts (fs.c); what is not served gets an
 * errno, and each distinct refused number is logged once.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "vmm/internal.h"

#define PATH_MAX_GUEST 4096
#define IOV_MAX_GUEST  1024

/* ---- guest memory ---- */

bool vmm_guest_ok(const struct vmm_vm *vm, uint64_t gpa, uint64_t len)
{
        if (len == 0)
                return true;
        return gpa >= VMM_USER_BASE && gpa < vm->mem_size && len <= vm->mem_size - gpa;
}

void *vmm_guest_ptr(const struct vmm_vm *vm, uint64_t gpa, uint64_t len)
{
        if (!vmm_guest_ok(vm, gpa, len) ||
            (len == 0 && (gpa < VMM_USER_BASE || gpa >= vm->mem_size)))
                return len == 0 ? vm->mem + VMM_USER_BASE : NULL;
        return vm->mem + gpa;
}

/*
 * Guest memory the syscall layer reads and writes by value goes through the
 * platform (on the process platform pread/pwrite of the guest's memfd):
 * osvm's mapping of it then keeps no page, so tearing it down flushes no
 * TLB on osvm's CPUs (~50 us each where the host is itself a PVM guest),
 * and no page is faulted in on osvm's side for the call.
 */

/* Copies a NUL-terminated guest string of at most n-1 bytes. */
int vmm_guest_str(struct vmm_vm *vm, uint64_t gpa, char *out, size_t n)
{
        if (gpa < VMM_USER_BASE || gpa >= vm->mem_size)
                return -EFAULT;
        uint64_t avail = vm->mem_size - gpa;
        for (size_t i = 0; i < n;) {
                if (i >= avail)
                        return -EFAULT;
                /* up to the end of this page, at most what is left of out */
                size_t k = VMM_PAGE - ((gpa + i) & (VMM_PAGE - 1));
                if (k > n - i)
                        k = n - i;
                if (k > avail - i)
                        k = (size_t)(avail - i);
                vm->plat->copy_out(vm, gpa + i, out + i, k);
                for (size_t j = i; j < i + k; j++)
                        if (!out[j])
                                return 0;
                i += k;
        }
        return -ENAMETOOLONG;
}

int vmm_guest_put(struct vmm_vm *vm, uint64_t gpa, const void *src, size_t len)
{
        if (!vmm_guest_ptr(vm, gpa, len))
                return -EFAULT;
        if (len)
                vm->plat->copy_in(vm, gpa, src, len);
        return 0;
}

int vmm_guest_get(struct vmm_vm *vm, uint64_t gpa, void *dst, size_t len)
{
        if (!vmm_guest_ptr(vm, gpa, len))
                return -EFAULT;
        if (len)
                vm->plat->copy_out(vm, gpa, dst, len);
        return 0;
}

/* ---- waiting, bounded by the deadline and the cancel flag ---- */

#define WAIT_SLICE_NS (60ull * 1000000000ull)

/* spec->tty: one of the caller's wake flags is set (a Ctrl-C or a resize
 * that came while the guest was busy), so its read of the terminal ends. */
static bool tty_woken(const struct vmm_vm *vm)
{
        for (volatile sig_atomic_t *const *w = vm->spec->tty ? vm->spec->tty_wake : NULL; w && *w;
             w++)
                if (**w)
                        return true;
        return false;
}

/*
 * The one blocking wait of the syscall layer: until fd (-1: none) is ready
 * for events, or until `until` (monotonic ns), whichever comes first, and
 * never past the call's deadline or its cancel flag. Returns 0 when fd is
 * ready (or in error: the I/O call that follows says which), 1 when `until`
 * came, and -EINTR when the VM stopped (the reason set: "time limit ...
 * (what)" or "cancelled") or when a read of the user's terminal is to end
 * with EINTR (spec->tty: a signal other than the engine's own kick came).
 */
int vmm_wait_until(struct vmm_vm *vm, int fd, short events, uint64_t until, const char *what)
{
        bool tty_read = vm->spec->tty && events == POLLIN;
        for (;;) {
                if (vmm_cancelled(vm))
                        return -EINTR;
                uint64_t now = time_mono_ns();
                if (now >= vm->deadline_ns) {
                        vmm_stop(vm, VMM_END_LIMIT, 125, "time limit of %u ms reached (%s)",
                                 vm->lim.timeout_ms, what);
                        return -EINTR;
                }
                if (now >= until)
                        return 1;
                uint64_t left = (until < vm->deadline_ns ? until : vm->deadline_ns) - now;
                /* the cancel flag is looked at every tick even where no kick
                 * comes (no timer: a test harness, a thread of the caller) */
                uint64_t slice = vm->spec->cancel ? VMM_CANCEL_TICK_MS * 1000000ull : WAIT_SLICE_NS;
                if (left < slice)
                        slice = left;
                struct timespec ts = {(time_t)(slice / 1000000000), (long)(slice % 1000000000)};
                struct pollfd p = {.fd = fd, .events = events};
                sig_atomic_t kicks = vmm_kicks;
                int r = ppoll(fd >= 0 ? &p : NULL, fd >= 0 ? 1 : 0, &ts, NULL);
                if (r > 0)
                        return 0;
                if (r < 0 && errno == EINTR) {
                        /* the user's terminal: Ctrl-C or a resize ends a read, which the
                         * guest sees as EINTR and asks its supervisor about */
                        if (tty_read && (vmm_kicks == kicks || tty_woken(vm)))
                                return -EINTR;
                        continue;
                }
                if (r < 0)
                        return -errno;
        }
}

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

static int64_t do_close(struct vmm_vm *vm, uint64_t fd)
{
        struct vmm_fd *f = vmm_fd_get(vm, fd);
        if (!f)
                return -EBADF;
        fd_release(f);
        return 0;
}

static int64_t do_lseek(struct vmm_vm *vm, uint64_t fd, uint64_t off, uint64_t whence)
{
        struct vmm_fd *f = vmm_fd_get(vm, fd);
        if (!f)
                return -EBADF;
        if (f->host < 0)
                return -ESPIPE;
        off_t r = lseek(f->host, (off_t)off, (int)whence);
        return r < 0 ? -errno : r;
}

static int64_t do_dup(struct vmm_vm *vm, uint64_t fd)
{
        struct vmm_fd *f = vmm_fd_get(vm, fd);
        if (!f)
                return -EBADF;
        int to = vmm_fd_alloc(vm, 0);
        return to < 0 ? to : fd_dup_to(vm, f, to);
}

/* dup2, and dup3 (which refuses to == fd). */
static int64_t do_dup2(struct vmm_vm *vm, uint64_t fd, uint64_t to, bool dup3)
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

static int64_t do_fcntl(struct vmm_vm *vm, uint64_t fd, uint64_t cmd, uint64_t arg)
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
static int64_t do_fsync(struct vmm_vm *vm, uint64_t fd)
{
        return vmm_fd_get(vm, fd) ? 0 : -EBADF;
}

/* ---- staged I/O (PVM): the header is guest memory, trusted for nothing ---- */

static uint64_t io_get(struct vmm_vm *vm, uint64_t a)
{
        uint64_t v;
        vm->plat->copy_out(vm, a, &v, 8);
        return v;
}

static void io_set(struct vmm_vm *vm, uint64_t a, uint64_t v)
{
        vm->plat->copy_in(vm, a, &v, 8);
}

#define IO_CHUNK 65536

void vmm_io_start(struct vmm_vm *vm)
{
        vm->io_on = vm->plat->io_setup(vm);
        if (!vm->io_on)
                return;
        uint64_t len = 0;
        bool eof = false;
        int fd = vm->spec->in_fd;
        if (fd < 0) {
                eof = true;
        } else {
                /* a file: read ahead as much as fits, to its end if it can; a
                 * pipe: what is there now, without waiting (fd 0's kind as
                 * vmm_fds_std found it) */
                bool file = vm->fds[0].stream == VMM_STREAM_NO;
                struct pollfd p = {.fd = fd, .events = POLLIN};
                uint8_t *buf = xmalloc(IO_CHUNK);
                if (file || poll(&p, 1, 0) == 1) {
                        while (len < VMM_IO_IN_CAP) {
                                size_t want = VMM_IO_IN_CAP - len;
                                ssize_t n = read(fd, buf, want < IO_CHUNK ? want : IO_CHUNK);
                                if (n < 0 && errno == EINTR)
                                        continue;
                                if (n <= 0) {
                                        eof = n == 0;
                                        break;
                                }
                                vm->plat->copy_in(vm, VMM_IO_IN_BUF + len, buf, (size_t)n);
                                len += (uint64_t)n;
                                if (!file)
                                        break;
                        }
                }
                free(buf);
        }
        vm->io_in_len = len;
        vm->io_in_eof = eof;
        /* the header at once, in the order of internal.h's VMM_IO_* offsets */
        const uint64_t hdr[10] = {
            0, len, eof, 0, 1, 1, VMM_LOAD_BASE, vm->guard_lo, vm->stack_lo, vm->mem_size};
        _Static_assert(VMM_IO_ST_HI - VMM_IO_ADDR == 9 * 8, "the staged I/O header");
        vm->plat->copy_in(vm, VMM_IO_ADDR, hdr, sizeof(hdr));
}

static int64_t out_write(struct vmm_vm *vm, struct vmm_fd *f, const uint8_t *p, uint64_t len);
static int stream_kind(int fd);

void vmm_io_flush(struct vmm_vm *vm)
{
        if (!vm->io_on)
                return;
        uint64_t n = io_get(vm, VMM_IO_OUT_LEN);
        if (n == 0)
                return;
        io_set(vm, VMM_IO_OUT_LEN, 0);
        if (n > VMM_IO_OUT_CAP)
                n = VMM_IO_OUT_CAP;
        struct vmm_fd out = {
            .kind = VMM_FD_OUT, .stream = vm->out_stream, .host = vm->spec->out_fd};
        uint8_t *buf = xmalloc(IO_CHUNK);
        /* also once the guest stopped: its last output still goes out */
        for (uint64_t done = 0; done < n;) {
                size_t k = n - done < IO_CHUNK ? (size_t)(n - done) : IO_CHUNK;
                vm->plat->copy_out(vm, VMM_IO_OUT_BUF + done, buf, k);
                int64_t w = out_write(vm, &out, buf, k);
                if (w < (int64_t)k)
                        break;
                done += k;
        }
        free(buf);
}

/* Takes up to len bytes of the staged request: the count, or -1 when none
 * is staged (then *eof says whether the request has ended). */
static int64_t io_take(struct vmm_vm *vm, uint8_t *dst, uint64_t len, bool *eof)
{
        *eof = false;
        if (!vm->io_on)
                return -1;
        uint64_t pos = io_get(vm, VMM_IO_IN_POS);
        if (pos > vm->io_in_len)
                pos = vm->io_in_len;
        uint64_t avail = vm->io_in_len - pos;
        if (!avail) {
                *eof = vm->io_in_eof;
                return -1;
        }
        uint64_t n = len < avail ? len : avail;
        memmove(dst, vm->mem + VMM_IO_IN_BUF + pos, n);
        io_set(vm, VMM_IO_IN_POS, pos + n);
        return (int64_t)n;
}

/* ---- read and write ---- */

/* How a caller's fd may block (struct vmm_fd's stream). */
static int stream_kind(int fd)
{
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0 || S_ISREG(st.st_mode))
                return VMM_STREAM_NO;
        return S_ISSOCK(st.st_mode) ? VMM_STREAM_SOCK : VMM_STREAM_PIPE;
}

void vmm_fds_std(struct vmm_vm *vm)
{
        const struct vmm_spec *spec = vm->spec;
        int host[4] = {spec->in_fd, spec->out_fd, spec->err_fd,
                       spec->host_fd > 2 ? spec->host_fd : -1};
        for (int i = 0; i < 4; i++) {
                if (i == 3 && host[i] < 0)
                        break;
                vm->fds[i] = (struct vmm_fd){.kind = i == 0   ? VMM_FD_IN
                                                     : i == 3 ? VMM_FD_HOST
                                                              : VMM_FD_OUT,
                                             .stream = stream_kind(host[i]),
                                             .host = host[i]};
        }
        vm->out_stream = vm->fds[1].stream;
}

/* A pending SIGPIPE (kept pending by the blocked mask) is taken away. */
static void drop_sigpipe(void)
{
        sigset_t s;
        sigemptyset(&s);
        sigaddset(&s, SIGPIPE);
        struct timespec zero = {0, 0};
        (void)sigtimedwait(&s, NULL, &zero);
}

/*
 * Writes len bytes to a caller's fd (the result, the log, the host-call
 * channel) and waits for room no longer than the call may: a reader that
 * does not read cannot hold the call past its time or its cancel. Returns
 * the bytes written, or -errno (-EINTR: the VM stopped) when none were.
 */
static int64_t stream_write(struct vmm_vm *vm, const struct vmm_fd *f, const uint8_t *p,
                            uint64_t len)
{
        uint64_t done = 0;
        while (done < len) {
                if (f->stream != VMM_STREAM_NO) {
                        int w = vmm_wait_until(vm, f->host, POLLOUT, UINT64_MAX, "writing");
                        if (w < 0)
                                return done ? (int64_t)done : w;
                }
                uint64_t want = len - done;
                ssize_t n;
                if (f->stream == VMM_STREAM_SOCK) {
                        n = send(f->host, p + done, want, MSG_DONTWAIT | MSG_NOSIGNAL);
                } else {
                        /* after POLLOUT a pipe takes PIPE_BUF bytes without blocking */
                        if (f->stream == VMM_STREAM_PIPE && want > PIPE_BUF)
                                want = PIPE_BUF;
                        n = write(f->host, p + done, want);
                }
                if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
                        if (f->stream == VMM_STREAM_NO &&
                            vmm_wait_until(vm, f->host, POLLOUT, UINT64_MAX, "writing") < 0)
                                return done ? (int64_t)done : -EINTR;
                        continue;
                }
                if (n <= 0) {
                        int err = n < 0 ? errno : EIO;
                        if (err == EPIPE)
                                drop_sigpipe();
                        return done ? (int64_t)done : -err;
                }
                done += (uint64_t)n;
        }
        return (int64_t)done;
}

/*
 * Reads from a caller's fd (the request, the host-call channel) into v:
 * waits for data as vmm_wait_until does, then takes what is there.
 */
static int64_t stream_read(struct vmm_vm *vm, const struct vmm_fd *f, struct iovec *v, int cnt)
{
        for (;;) {
                if (f->kind == VMM_FD_IN && tty_woken(vm))
                        return -EINTR;
                if (f->stream != VMM_STREAM_NO) {
                        int w = vmm_wait_until(vm, f->host, POLLIN, UINT64_MAX, "reading");
                        if (w < 0)
                                return w;
                }
                ssize_t n;
                if (f->stream == VMM_STREAM_SOCK) {
                        struct msghdr m = {.msg_iov = v, .msg_iovlen = (size_t)cnt};
                        n = recvmsg(f->host, &m, MSG_DONTWAIT);
                } else {
                        n = readv(f->host, v, cnt);
                }
                if (n >= 0)
                        return n;
                if (errno != EINTR && errno != EAGAIN)
                        return -errno;
                if (f->stream == VMM_STREAM_NO &&
                    vmm_wait_until(vm, f->host, POLLIN, UINT64_MAX, "reading") < 0)
                        return -EINTR;
        }
}

static int64_t out_write(struct vmm_vm *vm, struct vmm_fd *f, const uint8_t *p, uint64_t len)
{
        uint64_t room = vm->lim.max_output_bytes - vm->res->output_bytes;
        bool over = len > room;
        if (over)
                len = room;
        int64_t n = f->host < 0 ? (int64_t)len : stream_write(vm, f, p, len);
        if (n < 0)
                return n;
        vm->res->output_bytes += (uint64_t)n;
        if (over)
                vmm_stop(vm, VMM_END_LIMIT, 125, "output limit of %llu bytes reached",
                         (unsigned long long)vm->lim.max_output_bytes);
        return n;
}

static int64_t do_read(struct vmm_vm *vm, uint64_t fd, uint64_t buf, uint64_t len)
{
        struct vmm_fd *f = vmm_fd_get(vm, fd);
        if (!f)
                return -EBADF;
        if (f->kind == VMM_FD_OUT)
                return -EBADF;
        void *p = vmm_guest_ptr(vm, buf, len);
        if (!p)
                return -EFAULT;
        if (f->kind == VMM_FD_IN) {
                bool eof;
                int64_t n = io_take(vm, p, len, &eof);
                if (n >= 0 || eof)
                        return n >= 0 ? n : 0;
        }
        if (f->host < 0)
                return 0;
        if (f->kind == VMM_FD_IN || f->kind == VMM_FD_HOST) {
                struct iovec v = {p, len};
                return stream_read(vm, f, &v, 1);
        }
        for (;;) {
                ssize_t n = read(f->host, p, len);
                if (n < 0 && errno == EINTR)
                        continue;
                return n < 0 ? -errno : n;
        }
}

static int64_t do_write(struct vmm_vm *vm, uint64_t fd, uint64_t buf, uint64_t len)
{
        struct vmm_fd *f = vmm_fd_get(vm, fd);
        if (!f || f->kind == VMM_FD_IN)
                return -EBADF;
        const uint8_t *p = vmm_guest_ptr(vm, buf, len);
        if (!p)
                return -EFAULT;
        if (f->kind == VMM_FD_OUT)
                return out_write(vm, f, p, len);
        if (f->kind == VMM_FD_HOST)
                return stream_write(vm, f, p, len);
        ssize_t n = write(f->host, p, len);
        return n < 0 ? -errno : n;
}

/* Reads and checks a guest iovec array into host iovecs. */
static int64_t load_iov(struct vmm_vm *vm, uint64_t iov, uint64_t cnt, struct iovec *out)
{
        if (cnt > IOV_MAX_GUEST)
                return -EINVAL;
        const uint8_t *src = vmm_guest_ptr(vm, iov, cnt * 16);
        if (!src)
                return -EFAULT;
        uint64_t total = 0;
        for (uint64_t i = 0; i < cnt; i++) {
                uint64_t base, len;
                memcpy(&base, src + 16 * i, 8);
                memcpy(&len, src + 16 * i + 8, 8);
                if (len > (uint64_t)INT64_MAX || __builtin_add_overflow(total, len, &total) ||
                    total > (uint64_t)INT64_MAX)
                        return -EINVAL;
                void *p = vmm_guest_ptr(vm, base, len);
                if (!p)
                        return -EFAULT;
                out[i].iov_base = p;
                out[i].iov_len = len;
        }
        return 0;
}

static int64_t do_rwv(struct vmm_vm *vm, bool wr, uint64_t fd, uint64_t iov, uint64_t cnt,
                      int64_t off)
{
        struct vmm_fd *f = vmm_fd_get(vm, fd);
        if (!f || (wr && f->kind == VMM_FD_IN) || (!wr && f->kind == VMM_FD_OUT))
                return -EBADF;
        if (off >= 0 && f->kind != VMM_FD_FILE)
                return -ESPIPE;
        if (cnt > IOV_MAX_GUEST)
                return -EINVAL;
        struct iovec *v = xcalloc(cnt ? cnt : 1, sizeof(*v));
        int64_t r = load_iov(vm, iov, cnt, v);
        if (r < 0)
                goto out;
        if (wr && (f->kind == VMM_FD_OUT || f->kind == VMM_FD_HOST)) {
                /* one buffer after the other, each bounded by the deadline */
                int64_t sum = 0;
                for (uint64_t i = 0; i < cnt && !vm->done; i++) {
                        const uint8_t *b = v[i].iov_base;
                        int64_t n = f->kind == VMM_FD_OUT ? out_write(vm, f, b, v[i].iov_len)
                                                          : stream_write(vm, f, b, v[i].iov_len);
                        if (n < 0) {
                                r = sum ? sum : n;
                                goto out;
                        }
                        sum += n;
                        if ((uint64_t)n < v[i].iov_len)
                                break;
                }
                r = sum;
                goto out;
        }
        if (!wr && f->kind == VMM_FD_IN) {
                int64_t sum = 0;
                bool eof = false;
                for (uint64_t i = 0; i < cnt; i++) {
                        int64_t k = io_take(vm, v[i].iov_base, v[i].iov_len, &eof);
                        if (k < 0)
                                break;
                        sum += k;
                        if ((uint64_t)k < v[i].iov_len)
                                break;
                }
                if (sum > 0 || eof) {
                        r = sum;
                        goto out;
                }
        }
        if (f->host < 0) {
                r = 0;
                goto out;
        }
        if (f->kind == VMM_FD_IN || f->kind == VMM_FD_HOST) {
                r = stream_read(vm, f, v, (int)cnt);
                goto out;
        }
        ssize_t n;
        do {
                if (off >= 0)
                        n = wr ? pwritev(f->host, v, (int)cnt, off)
                               : preadv(f->host, v, (int)cnt, off);
                else
                        n = wr ? writev(f->host, v, (int)cnt) : readv(f->host, v, (int)cnt);
        } while (n < 0 && errno == EINTR);
        r = n < 0 ? -errno : n;
out:
        free(v);
        return r;
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
static int64_t do_ioctl(struct vmm_vm *vm, uint64_t fd, uint64_t cmd, uint64_t arg)
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

/* ---- time values from the guest ---- */

#define NS_PER_S 1000000000ull

static bool clock_ok(uint64_t c)
{
        return c <= CLOCK_BOOTTIME;
}

static clockid_t host_clock(uint64_t c)
{
        /* The guest's CPU clocks are the VM's wall time. */
        if (c == CLOCK_PROCESS_CPUTIME_ID || c == CLOCK_THREAD_CPUTIME_ID)
                return CLOCK_MONOTONIC;
        return (clockid_t)c;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
        uint64_t r;
        return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

/* A guest struct timespec, checked as the kernel does (tv_sec >= 0, 0 <=
 * tv_nsec < 10^9) and in nanoseconds, saturating at UINT64_MAX. */
static int get_timespec(struct vmm_vm *vm, uint64_t gpa, uint64_t *ns)
{
        int64_t ts[2]; /* tv_sec, tv_nsec on x86-64 */
        if (vmm_guest_get(vm, gpa, ts, sizeof(ts)) < 0)
                return -EFAULT;
        if (ts[0] < 0 || ts[1] < 0 || ts[1] >= (int64_t)NS_PER_S)
                return -EINVAL;
        uint64_t s = (uint64_t)ts[0];
        *ns = s > (UINT64_MAX - NS_PER_S) / NS_PER_S ? UINT64_MAX : s * NS_PER_S + (uint64_t)ts[1];
        return 0;
}

/* When (monotonic ns, UINT64_MAX: never) a wait for the guest's time value
 * ns ends: relative, or absolute on the guest's clock clk. */
static uint64_t wait_end(uint64_t clk, bool absolute, uint64_t ns)
{
        uint64_t now = time_mono_ns();
        if (!absolute)
                return add_sat(now, ns);
        struct timespec c;
        clock_gettime(host_clock(clk), &c);
        uint64_t clk_now = (uint64_t)c.tv_sec * NS_PER_S + (uint64_t)c.tv_nsec;
        return ns <= clk_now ? now : add_sat(now, ns - clk_now);
}

/* nanosleep and clock_nanosleep: sleeps, bounded by the deadline (a sleep
 * past it stops the VM there) and the cancel flag. */
static int64_t do_sleep(struct vmm_vm *vm, uint64_t clk, uint64_t flags, uint64_t req)
{
        uint64_t ns;
        int r = get_timespec(vm, req, &ns);
        if (r < 0)
                return r;
        if (!clock_ok(clk))
                return -EINVAL;
        uint64_t until = wait_end(clk, flags & TIMER_ABSTIME, ns);
        return vmm_wait_until(vm, -1, 0, until, "sleeping") < 0 ? -EINTR : 0;
}

static int64_t do_nanosleep(struct vmm_vm *vm, uint64_t req)
{
        return do_sleep(vm, CLOCK_MONOTONIC, 0, req);
}

static int64_t do_clock_nanosleep(struct vmm_vm *vm, uint64_t clk, uint64_t flags, uint64_t req)
{
        int64_t r = do_sleep(vm, clk, flags, req);
        return r < 0 ? -r : r; /* clock_nanosleep returns the error number */
}

/*
 * futex, for a guest with one thread (glibc's locks call it even so): a wake
 * wakes nobody; a wait returns at once when the word has changed, and with a
 * timeout (checked as nanosleep's) once it ran out. A wait that nothing could ever end is the
 * program's deadlock: the VM is stopped saying so, rather than left hanging.
 */
static int64_t do_futex(struct vmm_vm *vm, uint64_t uaddr, uint64_t op, uint64_t val,
                        uint64_t timeout)
{
        uint32_t word;
        switch (op & 0x7f) { /* FUTEX_PRIVATE_FLAG and FUTEX_CLOCK_REALTIME aside */
        case 1:              /* FUTEX_WAKE */
        case 10:             /* FUTEX_WAKE_BITSET */
                return 0;
        case 0: /* FUTEX_WAIT */
        case 9: /* FUTEX_WAIT_BITSET */
                if ((uaddr & 3) || vmm_guest_get(vm, uaddr, &word, sizeof(word)) < 0)
                        return (uaddr & 3) ? -EINVAL : -EFAULT;
                if (word != (uint32_t)val)
                        return -EAGAIN;
                if (timeout) {
                        /* nobody can wake it: it sleeps its time out (FUTEX_WAIT's
                         * is relative, FUTEX_WAIT_BITSET's absolute) */
                        uint64_t ns;
                        int r = get_timespec(vm, timeout, &ns);
                        if (r < 0)
                                return r;
                        bool bitset = (op & 0x7f) == 9;
                        uint64_t clk = (op & 256) ? CLOCK_REALTIME : CLOCK_MONOTONIC;
                        uint64_t until = wait_end(clk, bitset, ns);
                        return vmm_wait_until(vm, -1, 0, until, "in a futex wait") < 0 ? -EINTR
                                                                                       : -ETIMEDOUT;
                }
                vmm_stop(vm, VMM_END_FAULT, 125,
                         "futex wait at 0x%llx with no other thread to wake it (a deadlock)",
                         (unsigned long long)uaddr);
                return -EINTR;
        default:
                return -ENOSYS;
        }
}

/* clock_gettime (gettime) and clock_getres. */
static int64_t do_clock(struct vmm_vm *vm, bool gettime, uint64_t clk, uint64_t buf)
{
        if (!clock_ok(clk))
                return -EINVAL;
        struct timespec ts;
        if (gettime)
                clock_gettime(host_clock(clk), &ts);
        else
                clock_getres(host_clock(clk), &ts);
        return buf ? vmm_guest_put(vm, buf, &ts, sizeof(ts)) : 0;
}

static int64_t do_gettimeofday(struct vmm_vm *vm, uint64_t tvp, uint64_t tzp)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t tv[2] = {ts.tv_sec, ts.tv_nsec / 1000};
        if (tvp && vmm_guest_put(vm, tvp, tv, sizeof(tv)) < 0)
                return -EFAULT;
        if (tzp) {
                int32_t tz[2] = {0, 0};
                return vmm_guest_put(vm, tzp, tz, sizeof(tz));
        }
        return 0;
}

static int64_t do_time(struct vmm_vm *vm, uint64_t tloc)
{
        int64_t t = (int64_t)time(NULL);
        if (tloc && vmm_guest_put(vm, tloc, &t, 8) < 0)
                return -EFAULT;
        return t;
}

static int64_t do_pread(struct vmm_vm *vm, bool wr, uint64_t fd, uint64_t buf, uint64_t len,
                        int64_t off)
{
        struct vmm_fd *f = vmm_fd_get(vm, fd);
        if (!f)
                return -EBADF;
        if (f->kind != VMM_FD_FILE)
                return -ESPIPE;
        if (off < 0)
                return -EINVAL;
        void *p = vmm_guest_ptr(vm, buf, len);
        if (!p)
                return -EFAULT;
        ssize_t n = wr ? pwrite(f->host, p, len, off) : pread(f->host, p, len, off);
        return n < 0 ? -errno : n;
}

/* ---- paths ---- */

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

static int64_t do_openat(struct vmm_vm *vm, int64_t dirfd, uint64_t gpath, uint64_t flags,
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

static int64_t do_fstat(struct vmm_vm *vm, uint64_t fd, uint64_t buf)
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

static int64_t do_stat(struct vmm_vm *vm, int64_t dirfd, uint64_t gpath, uint64_t buf,
                       uint64_t flags)
{
        struct stat st;
        if (!vmm_guest_ok(vm, buf, sizeof(st)))
                return -EFAULT;
        char first = 0;
        if ((flags & AT_EMPTY_PATH) && vmm_guest_str(vm, gpath, &first, 1) == 0)
                return dirfd < 0 ? -EBADF : do_fstat(vm, (uint64_t)dirfd, buf);
        int h = open_path(vm, dirfd, gpath, flags & AT_SYMLINK_NOFOLLOW, NULL);
        if (h < 0)
                return h;
        int r = fstat(h, &st) < 0 ? -errno : 0;
        close(h);
        if (r < 0)
                return r;
        return vmm_guest_put(vm, buf, &st, sizeof(st));
}

static int64_t do_readlink(struct vmm_vm *vm, int64_t dirfd, uint64_t gpath, uint64_t buf,
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

static int64_t do_access(struct vmm_vm *vm, int64_t dirfd, uint64_t gpath, uint64_t mode,
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
static int64_t do_dirop(struct vmm_vm *vm, bool mk, int64_t dirfd, uint64_t gpath, uint64_t arg)
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

static int64_t do_ftruncate(struct vmm_vm *vm, uint64_t fd, uint64_t len)
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
static int64_t do_fchmod(struct vmm_vm *vm, uint64_t fd, uint64_t mode)
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

static int64_t do_getdents(struct vmm_vm *vm, uint64_t fd, uint64_t buf, uint64_t len)
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

static int64_t do_chdir(struct vmm_vm *vm, uint64_t gpath)
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

static int64_t do_getcwd(struct vmm_vm *vm, uint64_t buf, uint64_t size)
{
        size_t l = strlen(vm->cwd) + 1;
        if (size < l)
                return -ERANGE;
        return vmm_guest_put(vm, buf, vm->cwd, l) < 0 ? -EFAULT : (int64_t)l;
}

/* ---- memory: brk and the mmap area ---- */

uint64_t vmm_page_up(uint64_t a)
{
        return (a + VMM_PAGE - 1) & ~(VMM_PAGE - 1);
}

/* Zeroes whole guest pages (and gives their host memory back). */
static void zero_pages(struct vmm_vm *vm, uint64_t lo, uint64_t hi)
{
        if (hi > lo)
                vm->plat->zero(vm, lo, hi);
}

static bool overlaps_maps(const struct vmm_vm *vm, uint64_t lo, uint64_t hi)
{
        for (size_t i = 0; i < vm->nmaps; i++)
                if (vm->maps[i].lo < hi && lo < vm->maps[i].hi)
                        return true;
        return false;
}

static int maps_insert(struct vmm_vm *vm, uint64_t lo, uint64_t hi)
{
        if (!vm->maps)
                vm->maps = xcalloc(VMM_MAX_MAPS, sizeof(*vm->maps));
        size_t i = 0;
        while (i < vm->nmaps && vm->maps[i].lo < lo)
                i++;
        /* merge with neighbours */
        if (i > 0 && vm->maps[i - 1].hi == lo) {
                vm->maps[i - 1].hi = hi;
                if (i < vm->nmaps && vm->maps[i].lo == hi) {
                        vm->maps[i - 1].hi = vm->maps[i].hi;
                        memmove(&vm->maps[i], &vm->maps[i + 1],
                                (vm->nmaps - i - 1) * sizeof(*vm->maps));
                        vm->nmaps--;
                }
                return 0;
        }
        if (i < vm->nmaps && vm->maps[i].lo == hi) {
                vm->maps[i].lo = lo;
                return 0;
        }
        if (vm->nmaps == VMM_MAX_MAPS)
                return -ENOMEM;
        memmove(&vm->maps[i + 1], &vm->maps[i], (vm->nmaps - i) * sizeof(*vm->maps));
        vm->maps[i] = (struct vmm_range){lo, hi};
        vm->nmaps++;
        return 0;
}

/* Removes [lo, hi) from the map list, zeroing what was mapped. */
static int maps_remove(struct vmm_vm *vm, uint64_t lo, uint64_t hi)
{
        for (size_t i = 0; i < vm->nmaps;) {
                struct vmm_range *r = &vm->maps[i];
                if (r->hi <= lo || r->lo >= hi) {
                        i++;
                        continue;
                }
                uint64_t clo = r->lo > lo ? r->lo : lo;
                uint64_t chi = r->hi < hi ? r->hi : hi;
                zero_pages(vm, clo, chi);
                if (r->lo < clo && r->hi > chi) { /* split */
                        if (vm->nmaps == VMM_MAX_MAPS)
                                return -ENOMEM;
                        memmove(&vm->maps[i + 1], &vm->maps[i],
                                (vm->nmaps - i) * sizeof(*vm->maps));
                        vm->nmaps++;
                        vm->maps[i].hi = clo;
                        vm->maps[i + 1].lo = chi;
                        i += 2;
                } else if (r->lo < clo) {
                        r->hi = clo;
                        i++;
                } else if (r->hi > chi) {
                        r->lo = chi;
                        i++;
                } else {
                        memmove(&vm->maps[i], &vm->maps[i + 1],
                                (vm->nmaps - i - 1) * sizeof(*vm->maps));
                        vm->nmaps--;
                }
        }
        return 0;
}

/* Finds len bytes free, top-down below the stack guard and above the heap. */
static uint64_t maps_find(const struct vmm_vm *vm, uint64_t len)
{
        uint64_t floor = vmm_page_up(vm->brk_cur);
        uint64_t gap_hi = vm->guard_lo;
        for (size_t k = vm->nmaps + 1; k-- > 0;) {
                uint64_t gap_lo = k > 0 ? vm->maps[k - 1].hi : floor;
                if (gap_lo < floor)
                        gap_lo = floor;
                if (gap_hi > gap_lo && gap_hi - gap_lo >= len)
                        return gap_hi - len;
                if (k > 0)
                        gap_hi = vm->maps[k - 1].lo;
                if (gap_hi <= floor)
                        break;
        }
        return 0;
}

static int64_t out_of_memory(struct vmm_vm *vm, const char *what, uint64_t len)
{
        if (len <= vm->mem_size)
                vmm_stop(vm, VMM_END_LIMIT, 125,
                         "memory limit of %u MiB reached (%s of %llu bytes failed)", vm->memory_mb,
                         what, (unsigned long long)len);
        return -ENOMEM;
}

static int64_t do_mmap(struct vmm_vm *vm, uint64_t addr, uint64_t len, uint64_t prot,
                       uint64_t flags, int64_t fd, uint64_t off)
{
        (void)prot;
        if (len == 0 || (off & (VMM_PAGE - 1)))
                return -EINVAL;
        if (len > vm->mem_size)
                return -ENOMEM;
        len = vmm_page_up(len);
        struct vmm_fd *f = NULL;
        if (!(flags & MAP_ANONYMOUS)) {
                f = vmm_fd_get(vm, (uint64_t)fd);
                if (!f)
                        return -EBADF;
                if (f->kind != VMM_FD_FILE || f->dir)
                        return -ENODEV;
                if ((flags & MAP_SHARED) && (prot & PROT_WRITE))
                        return -EACCES; /* shared writable file maps are not offered */
        }
        uint64_t at;
        if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) {
                if (addr & (VMM_PAGE - 1))
                        return -EINVAL;
                if (addr < VMM_USER_BASE || addr > vm->guard_lo || len > vm->guard_lo - addr)
                        return -ENOMEM;
                if ((flags & MAP_FIXED_NOREPLACE) && overlaps_maps(vm, addr, addr + len))
                        return -EEXIST;
                if (maps_remove(vm, addr, addr + len) < 0)
                        return -ENOMEM;
                zero_pages(vm, addr, addr + len); /* also over image or heap pages */
                at = addr;
        } else {
                at = maps_find(vm, len);
                if (!at)
                        return out_of_memory(vm, "mmap", len);
        }
        if (maps_insert(vm, at, at + len) < 0)
                return out_of_memory(vm, "mmap (too many areas)", len);
        if (f) {
                uint64_t done = 0;
                while (done < len) {
                        ssize_t n =
                            pread(f->host, vm->mem + at + done, len - done, (off_t)(off + done));
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0)
                                break;
                        done += (uint64_t)n;
                }
        }
        return (int64_t)at;
}

static int64_t do_munmap(struct vmm_vm *vm, uint64_t addr, uint64_t len)
{
        if ((addr & (VMM_PAGE - 1)) || len == 0)
                return -EINVAL;
        if (addr < VMM_USER_BASE || addr >= vm->mem_size || len > vm->mem_size - addr)
                return -EINVAL;
        return maps_remove(vm, addr, addr + vmm_page_up(len));
}

static int64_t do_mremap(struct vmm_vm *vm, uint64_t old, uint64_t oldlen, uint64_t newlen,
                         uint64_t flags)
{
        if ((old & (VMM_PAGE - 1)) || newlen == 0 || (flags & ~(uint64_t)MREMAP_MAYMOVE))
                return -EINVAL;
        if (oldlen > vm->mem_size || newlen > vm->mem_size)
                return -ENOMEM;
        oldlen = vmm_page_up(oldlen);
        newlen = vmm_page_up(newlen);
        size_t i = 0;
        while (i < vm->nmaps && !(vm->maps[i].lo <= old && old < vm->maps[i].hi))
                i++;
        if (i == vm->nmaps || oldlen == 0 || oldlen > vm->maps[i].hi - old)
                return -EFAULT;
        if (newlen <= oldlen) {
                maps_remove(vm, old + newlen, old + oldlen);
                return (int64_t)old;
        }
        uint64_t end = old + oldlen, want = old + newlen;
        if (want <= vm->guard_lo && !overlaps_maps(vm, end, want)) {
                if (maps_insert(vm, end, want) == 0)
                        return (int64_t)old;
        }
        if (!(flags & MREMAP_MAYMOVE))
                return -ENOMEM;
        uint64_t at = maps_find(vm, newlen);
        if (!at || maps_insert(vm, at, at + newlen) < 0)
                return out_of_memory(vm, "mremap", newlen);
        memcpy(vm->mem + at, vm->mem + old, oldlen);
        maps_remove(vm, old, end);
        return (int64_t)at;
}

/* mprotect, madvise, msync, mlock and munlock: nothing is done; EINVAL for
 * an address off a page boundary. */
static int64_t do_mprotect(uint64_t addr)
{
        return (addr & (VMM_PAGE - 1)) ? -EINVAL : 0;
}

int64_t vmm_brk(struct vmm_vm *vm, uint64_t want)
{
        if (want < vm->brk_start || want > vm->guard_lo)
                return (int64_t)vm->brk_cur;
        if (want > vm->brk_cur) {
                if (overlaps_maps(vm, vmm_page_up(vm->brk_cur), vmm_page_up(want)))
                        return (int64_t)vm->brk_cur;
        } else {
                /* Memory given back must read as zero when it comes again. */
                uint64_t pg = vmm_page_up(want);
                uint64_t top = vmm_page_up(vm->brk_cur);
                memset(vm->mem + want, 0, (pg < vm->brk_cur ? pg : vm->brk_cur) - want);
                zero_pages(vm, pg, top);
        }
        vm->brk_cur = want;
        return (int64_t)want;
}

uint64_t vmm_brk_room(const struct vmm_vm *vm)
{
        uint64_t top = vmm_page_up(vm->brk_cur), room = vm->guard_lo;
        for (size_t i = 0; i < vm->nmaps; i++)
                if (vm->maps[i].hi > top && vm->maps[i].lo < room)
                        room = vm->maps[i].lo > top ? vm->maps[i].lo : top;
        return room;
}

/* ---- identity, time, misc ---- */

static int64_t do_uname(struct vmm_vm *vm, uint64_t buf)
{
        struct utsname u, host;
        memset(&u, 0, sizeof(u));
        if (uname(&host) < 0)
                memset(&host, 0, sizeof(host));
        snprintf(u.sysname, sizeof(u.sysname), "Linux");
        snprintf(u.nodename, sizeof(u.nodename), "osvm");
        snprintf(u.release, sizeof(u.release), "%s", host.release);
        snprintf(u.version, sizeof(u.version), "osvm vmm");
        snprintf(u.machine, sizeof(u.machine), "x86_64");
        snprintf(u.domainname, sizeof(u.domainname), "(none)");
        return vmm_guest_put(vm, buf, &u, sizeof(u));
}

uint64_t vmm_rlimit(const struct vmm_vm *vm, unsigned res)
{
        if (res == RLIMIT_STACK)
                return vm->mem_size - vm->stack_lo;
        if (res == RLIMIT_NOFILE)
                return VMM_MAX_FDS;
        if (res == RLIMIT_AS || res == RLIMIT_DATA)
                return vm->mem_size;
        return UINT64_MAX;
}

static _Thread_local uint8_t rand_pool[4096];
static _Thread_local size_t rand_left;
static pthread_once_t rand_once = PTHREAD_ONCE_INIT;

/* A fork's child (its one thread, the forking one) gives none of the bytes
 * its parent may give too. */
static void rand_forget(void)
{
        explicit_bzero(rand_pool, sizeof(rand_pool));
        rand_left = 0;
}

static void rand_init(void)
{
        pthread_atfork(NULL, NULL, rand_forget);
}

bool vmm_random(void *buf, size_t n)
{
        pthread_once(&rand_once, rand_init);
        if (n > VMM_RANDOM_MAX)
                return false;
        if (rand_left < n) {
                if (getrandom(rand_pool, sizeof(rand_pool), 0) != (ssize_t)sizeof(rand_pool)) {
                        rand_forget();
                        return false;
                }
                rand_left = sizeof(rand_pool);
        }
        uint8_t *p = rand_pool + sizeof(rand_pool) - rand_left;
        memcpy(buf, p, n);
        explicit_bzero(p, n);
        rand_left -= n;
        return true;
}

static int64_t do_prlimit(struct vmm_vm *vm, uint64_t res, uint64_t old)
{
        if (res >= RLIM_NLIMITS)
                return -EINVAL;
        uint64_t lim[2] = {vmm_rlimit(vm, (unsigned)res), vmm_rlimit(vm, (unsigned)res)};
        if (old && vmm_guest_put(vm, old, lim, sizeof(lim)) < 0)
                return -EFAULT;
        return 0;
}

static int64_t do_prlimit64(struct vmm_vm *vm, uint64_t pid, uint64_t res, uint64_t old)
{
        if (pid != 0 && pid != 1)
                return -ESRCH;
        return do_prlimit(vm, res, old);
}

static int64_t do_kill_self(struct vmm_vm *vm, uint64_t sig)
{
        if (sig == 0)
                return 0;
        if (sig >= 65)
                return -EINVAL;
        const char *name = sig == 6 ? " (SIGABRT: the program aborted)" : "";
        vmm_stop(vm, VMM_END_FAULT, 128 + (int)sig, "the program killed itself with signal %llu%s",
                 (unsigned long long)sig, name);
        return 0;
}

static int64_t do_exit(struct vmm_vm *vm, uint64_t code)
{
        vmm_stop(vm, VMM_END_EXIT, (int)(code & 0xff), "%s", "");
        return 0;
}

static int64_t do_kill(struct vmm_vm *vm, uint64_t pid, uint64_t sig)
{
        return (pid == 1 || pid == 0) ? do_kill_self(vm, sig) : -ESRCH;
}

static int64_t do_tkill(struct vmm_vm *vm, uint64_t tid, uint64_t sig)
{
        return tid == 1 ? do_kill_self(vm, sig) : -ESRCH;
}

static int64_t do_tgkill(struct vmm_vm *vm, uint64_t tgid, uint64_t tid, uint64_t sig)
{
        return (tgid == 1 && tid == 1) ? do_kill_self(vm, sig) : -ESRCH;
}

static int64_t do_rt_sigaction(struct vmm_vm *vm, uint64_t sig, uint64_t oact, uint64_t size)
{
        if (size != 8 || sig == 0 || sig >= 65)
                return -EINVAL;
        if (oact) {
                uint8_t z[32] = {0};
                return vmm_guest_put(vm, oact, z, sizeof(z));
        }
        return 0;
}

static int64_t do_rt_sigprocmask(struct vmm_vm *vm, uint64_t oldset, uint64_t size)
{
        if (size != 8)
                return -EINVAL;
        if (oldset) {
                uint64_t z = 0;
                return vmm_guest_put(vm, oldset, &z, 8);
        }
        return 0;
}

static int64_t do_arch_prctl(struct vmm_vm *vm, uint64_t code, uint64_t addr)
{
        if (code == 0x1002) { /* ARCH_SET_FS */
                if (addr >= (1ull << 47))
                        return -EPERM;
                return vm->plat->set_fs_base(vm, addr) < 0 ? -EINVAL : 0;
        }
        if (code == 0x1003) { /* ARCH_GET_FS */
                uint64_t base = vm->plat->fs_base(vm);
                return vmm_guest_put(vm, addr, &base, 8);
        }
        return -EINVAL;
}

/* getresuid (uid) and getresgid: the one id into each of the three. */
static int64_t do_getresid(struct vmm_vm *vm, bool uid, const uint64_t at[3])
{
        uint32_t id = uid ? vmm_host_uid() : vmm_host_gid();
        for (int i = 0; i < 3; i++)
                if (vmm_guest_put(vm, at[i], &id, 4) < 0)
                        return -EFAULT;
        return 0;
}

static int64_t do_prctl(struct vmm_vm *vm, uint64_t option, uint64_t arg)
{
        if (option == 15) /* PR_SET_NAME */
                return 0;
        if (option == 16) /* PR_GET_NAME */
                return vmm_guest_put(vm, arg, "osvm\0\0\0\0\0\0\0\0\0\0\0\0", 16);
        return -EINVAL;
}

static int64_t do_sysinfo(struct vmm_vm *vm, uint64_t buf)
{
        struct sysinfo si;
        memset(&si, 0, sizeof(si));
        si.uptime = (long)((time_mono_ns() - vm->start_ns) / 1000000000);
        si.totalram = vm->mem_size;
        si.freeram = vm->guard_lo - vmm_page_up(vm->brk_cur);
        si.procs = 1;
        si.mem_unit = 1;
        return vmm_guest_put(vm, buf, &si, sizeof(si));
}

static int64_t do_getrandom(struct vmm_vm *vm, uint64_t buf, uint64_t len)
{
        uint64_t n = len > (32u << 20) - 1 ? (32u << 20) - 1 : len;
        void *p = vmm_guest_ptr(vm, buf, n);
        if (!p)
                return -EFAULT;
        uint8_t small[VMM_RANDOM_MAX];
        if (n <= sizeof(small)) { /* the usual seed: by value */
                if (!vmm_random(small, n))
                        return -EAGAIN;
                vmm_guest_put(vm, buf, small, n);
                explicit_bzero(small, n);
                return (int64_t)n;
        }
        ssize_t r = getrandom(p, n, 0);
        return r < 0 ? -errno : r;
}

static int64_t do_sched_getaffinity(struct vmm_vm *vm, uint64_t len, uint64_t mask_addr)
{
        if (len < 8)
                return -EINVAL;
        uint64_t mask = 1;
        return vmm_guest_put(vm, mask_addr, &mask, 8) < 0 ? -EFAULT : 8;
}

static void log_refused(struct vmm_vm *vm, uint64_t nr)
{
        size_t slot = nr < 511 ? nr : 511;
        uint64_t bit = 1ull << (slot % 64);
        if (vm->unknown_seen[slot / 64] & bit)
                return;
        vm->unknown_seen[slot / 64] |= bit;
        log_info("vmm: %s: system call %llu refused with ENOSYS", vm->img->path,
                 (unsigned long long)nr);
}

static int64_t dispatch(struct vmm_vm *vm, uint64_t nr, const uint64_t *a)
{
        switch (nr) {
        case SYS_read:
                return do_read(vm, a[0], a[1], a[2]);
        case SYS_write:
                return do_write(vm, a[0], a[1], a[2]);
        case SYS_readv:
                return do_rwv(vm, false, a[0], a[1], a[2], -1);
        case SYS_writev:
                return do_rwv(vm, true, a[0], a[1], a[2], -1);
        case SYS_preadv:
                return do_rwv(vm, false, a[0], a[1], a[2], (int64_t)a[3]);
        case SYS_pwritev:
                return do_rwv(vm, true, a[0], a[1], a[2], (int64_t)a[3]);
        case SYS_pread64:
                return do_pread(vm, false, a[0], a[1], a[2], (int64_t)a[3]);
        case SYS_pwrite64:
                return do_pread(vm, true, a[0], a[1], a[2], (int64_t)a[3]);
        case SYS_open:
                return do_openat(vm, AT_FDCWD, a[0], a[1], a[2]);
        case SYS_creat:
                return do_openat(vm, AT_FDCWD, a[0], O_CREAT | O_WRONLY | O_TRUNC, a[1]);
        case SYS_openat:
                return do_openat(vm, (int)a[0], a[1], a[2], a[3]);
        case SYS_close:
                return do_close(vm, a[0]);
        case SYS_lseek:
                return do_lseek(vm, a[0], a[1], a[2]);
        case SYS_dup:
                return do_dup(vm, a[0]);
        case SYS_dup2:
        case SYS_dup3:
                return do_dup2(vm, a[0], a[1], nr == SYS_dup3);
        case SYS_fcntl:
                return do_fcntl(vm, a[0], a[1], a[2]);
        case SYS_ioctl:
                return do_ioctl(vm, a[0], a[1], a[2]);
        case SYS_fstat:
                return do_fstat(vm, a[0], a[1]);
        case SYS_stat:
                return do_stat(vm, AT_FDCWD, a[0], a[1], 0);
        case SYS_lstat:
                return do_stat(vm, AT_FDCWD, a[0], a[1], AT_SYMLINK_NOFOLLOW);
        case SYS_newfstatat:
                return do_stat(vm, (int64_t)(int)a[0], a[1], a[2], a[3]);
        case SYS_getdents64:
                return do_getdents(vm, a[0], a[1], a[2]);
        case SYS_readlink:
                return do_readlink(vm, AT_FDCWD, a[0], a[1], a[2]);
        case SYS_readlinkat:
                return do_readlink(vm, (int)a[0], a[1], a[2], a[3]);
        case SYS_access:
                return do_access(vm, AT_FDCWD, a[0], a[1], 0);
        case SYS_faccessat:
                return do_access(vm, (int)a[0], a[1], a[2], 0);
        case SYS_faccessat2:
                return do_access(vm, (int)a[0], a[1], a[2], a[3]);
        case SYS_mkdir:
                return do_dirop(vm, true, AT_FDCWD, a[0], a[1]);
        case SYS_mkdirat:
                return do_dirop(vm, true, (int)a[0], a[1], a[2]);
        case SYS_unlink:
                return do_dirop(vm, false, AT_FDCWD, a[0], 0);
        case SYS_rmdir:
                return do_dirop(vm, false, AT_FDCWD, a[0], AT_REMOVEDIR);
        case SYS_unlinkat:
                return do_dirop(vm, false, (int)a[0], a[1], a[2]);
        case SYS_chdir:
                return do_chdir(vm, a[0]);
        case SYS_getcwd:
                return do_getcwd(vm, a[0], a[1]);
        case SYS_ftruncate:
                return do_ftruncate(vm, a[0], a[1]);
        case SYS_fchmod:
                return do_fchmod(vm, a[0], a[1]);
        case SYS_fsync:
        case SYS_fdatasync:
                return do_fsync(vm, a[0]);
        case SYS_umask:
                return 022;
        case SYS_brk:
                return vmm_brk(vm, a[0]);
        case SYS_mmap:
                return do_mmap(vm, a[0], a[1], a[2], a[3], (int64_t)a[4], a[5]);
        case SYS_munmap:
                return do_munmap(vm, a[0], a[1]);
        case SYS_mremap:
                return do_mremap(vm, a[0], a[1], a[2], a[3]);
        case SYS_mprotect:
        case SYS_madvise:
        case SYS_msync:
        case SYS_mlock:
        case SYS_munlock:
                return do_mprotect(a[0]);
        case SYS_exit:
        case SYS_exit_group:
                return do_exit(vm, a[0]);
        case SYS_kill:
                return do_kill(vm, a[0], a[1]);
        case SYS_tkill:
                return do_tkill(vm, a[0], a[1]);
        case SYS_tgkill:
                return do_tgkill(vm, a[0], a[1], a[2]);
        case SYS_arch_prctl:
                return do_arch_prctl(vm, a[0], a[1]);
        case SYS_set_tid_address:
        case SYS_gettid:
        case SYS_getpid:
                return 1;
        case SYS_getppid:
                return 0;
        case SYS_getpgrp:
        case SYS_getsid:
        case SYS_getpgid:
                return 1;
        case SYS_getuid:
        case SYS_geteuid:
                return vmm_host_uid();
        case SYS_getgid:
        case SYS_getegid:
                return vmm_host_gid();
        case SYS_getresuid:
        case SYS_getresgid:
                return do_getresid(vm, nr == SYS_getresuid, a);
        case SYS_set_robust_list:
        case SYS_sched_yield:
        case SYS_sigaltstack:
                return 0;
        case SYS_rt_sigaction:
                return do_rt_sigaction(vm, a[0], a[2], a[3]);
        case SYS_rt_sigprocmask:
                return do_rt_sigprocmask(vm, a[2], a[3]);
        case SYS_prlimit64:
                return do_prlimit64(vm, a[0], a[1], a[3]);
        case SYS_getrlimit:
                return do_prlimit(vm, a[0], a[1]);
        case SYS_setrlimit:
                return 0;
        case SYS_prctl:
                return do_prctl(vm, a[0], a[1]);
        case SYS_uname:
                return do_uname(vm, a[0]);
        case SYS_sysinfo:
                return do_sysinfo(vm, a[0]);
        case SYS_futex:
                return do_futex(vm, a[0], a[1], a[2], a[3]);
        case SYS_getrandom:
                return do_getrandom(vm, a[0], a[1]);
        case SYS_clock_gettime:
        case SYS_clock_getres:
                return do_clock(vm, nr == SYS_clock_gettime, a[0], a[1]);
        case SYS_gettimeofday:
                return do_gettimeofday(vm, a[0], a[1]);
        case SYS_time:
                return do_time(vm, a[0]);
        case SYS_nanosleep:
                return do_nanosleep(vm, a[0]);
        case SYS_clock_nanosleep:
                return do_clock_nanosleep(vm, a[0], a[1], a[2]);
        case SYS_sched_getaffinity:
                return do_sched_getaffinity(vm, a[1], a[2]);
        default:
                log_refused(vm, nr);
                return -ENOSYS;
        }
}

int64_t vmm_syscall(struct vmm_vm *vm, uint64_t nr, const uint64_t a[6])
{
        /* what the guest wrote through the stub goes first, in order */
        vmm_io_flush(vm);
        if (vm->done)
                return -EINTR;
        int64_t ret = dispatch(vm, nr, a);
        if (vm->io_on) {
                /* the stub serves fds 0 and 1 only while they are the call's
                 * (both words in one write) */
                const uint64_t ok[2] = {vm->fds[0].kind == VMM_FD_IN,
                                        vm->fds[1].kind == VMM_FD_OUT &&
                                            vm->fds[1].host == vm->spec->out_fd};
                _Static_assert(VMM_IO_OUT_OK == VMM_IO_IN_OK + 8, "the staged I/O header");
                vm->plat->copy_in(vm, VMM_IO_IN_OK, ok, sizeof(ok));
        }
        return ret;
}
