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
                return vmm_sys_read(vm, a[0], a[1], a[2]);
        case SYS_write:
                return vmm_sys_write(vm, a[0], a[1], a[2]);
        case SYS_readv:
                return vmm_sys_rwv(vm, false, a[0], a[1], a[2], -1);
        case SYS_writev:
                return vmm_sys_rwv(vm, true, a[0], a[1], a[2], -1);
        case SYS_preadv:
                return vmm_sys_rwv(vm, false, a[0], a[1], a[2], (int64_t)a[3]);
        case SYS_pwritev:
                return vmm_sys_rwv(vm, true, a[0], a[1], a[2], (int64_t)a[3]);
        case SYS_pread64:
                return vmm_sys_pread(vm, false, a[0], a[1], a[2], (int64_t)a[3]);
        case SYS_pwrite64:
                return vmm_sys_pread(vm, true, a[0], a[1], a[2], (int64_t)a[3]);
        case SYS_open:
                return vmm_sys_openat(vm, AT_FDCWD, a[0], a[1], a[2]);
        case SYS_creat:
                return vmm_sys_openat(vm, AT_FDCWD, a[0], O_CREAT | O_WRONLY | O_TRUNC, a[1]);
        case SYS_openat:
                return vmm_sys_openat(vm, (int)a[0], a[1], a[2], a[3]);
        case SYS_close:
                return vmm_sys_close(vm, a[0]);
        case SYS_lseek:
                return vmm_sys_lseek(vm, a[0], a[1], a[2]);
        case SYS_dup:
                return vmm_sys_dup(vm, a[0]);
        case SYS_dup2:
        case SYS_dup3:
                return vmm_sys_dup2(vm, a[0], a[1], nr == SYS_dup3);
        case SYS_fcntl:
                return vmm_sys_fcntl(vm, a[0], a[1], a[2]);
        case SYS_ioctl:
                return vmm_sys_ioctl(vm, a[0], a[1], a[2]);
        case SYS_fstat:
                return vmm_sys_fstat(vm, a[0], a[1]);
        case SYS_stat:
                return vmm_sys_stat(vm, AT_FDCWD, a[0], a[1], 0);
        case SYS_lstat:
                return vmm_sys_stat(vm, AT_FDCWD, a[0], a[1], AT_SYMLINK_NOFOLLOW);
        case SYS_newfstatat:
                return vmm_sys_stat(vm, (int64_t)(int)a[0], a[1], a[2], a[3]);
        case SYS_getdents64:
                return vmm_sys_getdents(vm, a[0], a[1], a[2]);
        case SYS_readlink:
                return vmm_sys_readlink(vm, AT_FDCWD, a[0], a[1], a[2]);
        case SYS_readlinkat:
                return vmm_sys_readlink(vm, (int)a[0], a[1], a[2], a[3]);
        case SYS_access:
                return vmm_sys_access(vm, AT_FDCWD, a[0], a[1], 0);
        case SYS_faccessat:
                return vmm_sys_access(vm, (int)a[0], a[1], a[2], 0);
        case SYS_faccessat2:
                return vmm_sys_access(vm, (int)a[0], a[1], a[2], a[3]);
        case SYS_mkdir:
                return vmm_sys_dirop(vm, true, AT_FDCWD, a[0], a[1]);
        case SYS_mkdirat:
                return vmm_sys_dirop(vm, true, (int)a[0], a[1], a[2]);
        case SYS_unlink:
                return vmm_sys_dirop(vm, false, AT_FDCWD, a[0], 0);
        case SYS_rmdir:
                return vmm_sys_dirop(vm, false, AT_FDCWD, a[0], AT_REMOVEDIR);
        case SYS_unlinkat:
                return vmm_sys_dirop(vm, false, (int)a[0], a[1], a[2]);
        case SYS_chdir:
                return vmm_sys_chdir(vm, a[0]);
        case SYS_getcwd:
                return vmm_sys_getcwd(vm, a[0], a[1]);
        case SYS_ftruncate:
                return vmm_sys_ftruncate(vm, a[0], a[1]);
        case SYS_fchmod:
                return vmm_sys_fchmod(vm, a[0], a[1]);
        case SYS_fsync:
        case SYS_fdatasync:
                return vmm_sys_fsync(vm, a[0]);
        case SYS_umask:
                return 022;
        case SYS_brk:
                return vmm_brk(vm, a[0]);
        case SYS_mmap:
                return vmm_sys_mmap(vm, a[0], a[1], a[2], a[3], (int64_t)a[4], a[5]);
        case SYS_munmap:
                return vmm_sys_munmap(vm, a[0], a[1]);
        case SYS_mremap:
                return vmm_sys_mremap(vm, a[0], a[1], a[2], a[3]);
        case SYS_mprotect:
        case SYS_madvise:
        case SYS_msync:
        case SYS_mlock:
        case SYS_munlock:
                return vmm_sys_mprotect(a[0]);
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
                return vmm_sys_futex(vm, a[0], a[1], a[2], a[3]);
        case SYS_getrandom:
                return do_getrandom(vm, a[0], a[1]);
        case SYS_clock_gettime:
        case SYS_clock_getres:
                return vmm_sys_clock(vm, nr == SYS_clock_gettime, a[0], a[1]);
        case SYS_gettimeofday:
                return vmm_sys_gettimeofday(vm, a[0], a[1]);
        case SYS_time:
                return vmm_sys_time(vm, a[0]);
        case SYS_nanosleep:
                return vmm_sys_nanosleep(vm, a[0]);
        case SYS_clock_nanosleep:
                return vmm_sys_clock_nanosleep(vm, a[0], a[1], a[2]);
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
