/*
 * Reading and writing: the request and the result, staged in guest memory
 * where the platform's stub serves them; read, write and their vector and
 * positioned forms on every kind of fd; and the one blocking wait of the
 * syscall layer.
 *
 * Everything here reads hostile input: every guest address and length goes
 * through syscall.c's checks before the host touches it, and a caller's fd
 * is waited on no longer than the call may run.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "vmm/internal.h"

#define IOV_MAX_GUEST 1024

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

/* ---- staged I/O (PVM, the process platform): the header is guest memory,
 * trusted for nothing ---- */

/* The header in memory shared with the stub, or NULL: in guest memory. */
static volatile uint64_t *io_hdr(struct vmm_vm *vm)
{
        return vm->plat->io_hdr ? vm->plat->io_hdr(vm) : NULL;
}

/* A header field (VMM_IO_* offset) of the platform's staging area. */
static uint64_t io_get(struct vmm_vm *vm, uint64_t field)
{
        volatile uint64_t *h = io_hdr(vm);
        if (h)
                return h[field / 8];
        uint64_t v;
        vm->plat->copy_out(vm, vm->plat->io->hdr + field, &v, 8);
        return v;
}

void vmm_io_hdr_write(struct vmm_vm *vm, uint64_t field, const uint64_t *v, size_t n)
{
        volatile uint64_t *h = io_hdr(vm);
        if (!h) {
                vm->plat->copy_in(vm, vm->plat->io->hdr + field, v, n * 8);
                return;
        }
        for (size_t i = 0; i < n; i++)
                h[field / 8 + i] = v[i];
}

static void io_set(struct vmm_vm *vm, uint64_t field, uint64_t v)
{
        vmm_io_hdr_write(vm, field, &v, 1);
}

#define IO_CHUNK 65536

void vmm_io_start(struct vmm_vm *vm)
{
        vm->io_on = vm->plat->io_setup(vm);
        if (!vm->io_on)
                return;
        const struct vmm_io_area *io = vm->plat->io;
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
                        while (len < io->in_cap) {
                                size_t want = io->in_cap - len;
                                ssize_t n = read(fd, buf, want < IO_CHUNK ? want : IO_CHUNK);
                                if (n < 0 && errno == EINTR)
                                        continue;
                                if (n <= 0) {
                                        eof = n == 0;
                                        break;
                                }
                                vm->plat->copy_in(vm, io->in_buf + len, buf, (size_t)n);
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
        const uint64_t hdr[10] = {0,           len,          eof,          0,           1, 1,
                                  io->user_lo, vm->guard_lo, vm->stack_lo, vm->mem_size};
        _Static_assert(VMM_IO_ST_HI == 9 * 8, "the staged I/O header");
        vmm_io_hdr_write(vm, 0, hdr, sizeof(hdr) / 8);
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
        if (n > vm->plat->io->out_cap)
                n = vm->plat->io->out_cap;
        struct vmm_fd out = {
            .kind = VMM_FD_OUT, .stream = vm->out_stream, .host = vm->spec->out_fd};
        uint8_t *buf = xmalloc(IO_CHUNK);
        /* also once the guest stopped: its last output still goes out */
        for (uint64_t done = 0; done < n;) {
                size_t k = n - done < IO_CHUNK ? (size_t)(n - done) : IO_CHUNK;
                vm->plat->copy_out(vm, vm->plat->io->out_buf + done, buf, k);
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
        memmove(dst, vm->mem + vm->plat->io->in_buf + pos, n);
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

int64_t vmm_sys_read(struct vmm_vm *vm, uint64_t fd, uint64_t buf, uint64_t len)
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

int64_t vmm_sys_write(struct vmm_vm *vm, uint64_t fd, uint64_t buf, uint64_t len)
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

int64_t vmm_sys_rwv(struct vmm_vm *vm, bool wr, uint64_t fd, uint64_t iov, uint64_t cnt,
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

int64_t vmm_sys_pread(struct vmm_vm *vm, bool wr, uint64_t fd, uint64_t buf, uint64_t len,
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
