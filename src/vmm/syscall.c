/*
 * The syscall layer: the guest's Linux system calls, served on the host.
 * This file checks and copies guest memory and hands each call to the file
 * of its area: sys_fd.c (the fd table), sys_io.c (reading and writing),
 * sys_file.c (paths and files), sys_mm.c (memory), sys_time.c (clocks,
 * sleeps, futex) and sys_proc.c (the process: ids, limits, signals, exit).
 *
 * Everything in these files reads hostile input. Every guest address and
 * length is checked against user memory (overflow-safe) before the host
 * touches it; files exist only below the mounts (fs.c); what is not served
 * gets an errno, and each distinct refused number is logged once.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>

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

/* ---- the dispatch ---- */

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
                return vmm_sys_exit(vm, a[0]);
        case SYS_kill:
                return vmm_sys_kill(vm, a[0], a[1]);
        case SYS_tkill:
                return vmm_sys_tkill(vm, a[0], a[1]);
        case SYS_tgkill:
                return vmm_sys_tgkill(vm, a[0], a[1], a[2]);
        case SYS_arch_prctl:
                return vmm_sys_arch_prctl(vm, a[0], a[1]);
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
                return vmm_sys_getresid(vm, nr == SYS_getresuid, a);
        case SYS_set_robust_list:
        case SYS_sched_yield:
        case SYS_sigaltstack:
                return 0;
        case SYS_rt_sigaction:
                return vmm_sys_rt_sigaction(vm, a[0], a[2], a[3]);
        case SYS_rt_sigprocmask:
                return vmm_sys_rt_sigprocmask(vm, a[2], a[3]);
        case SYS_prlimit64:
                return vmm_sys_prlimit(vm, a[0], a[1], a[3]);
        case SYS_getrlimit:
                return vmm_sys_getrlimit(vm, a[0], a[1]);
        case SYS_setrlimit:
                return 0;
        case SYS_prctl:
                return vmm_sys_prctl(vm, a[0], a[1]);
        case SYS_uname:
                return vmm_sys_uname(vm, a[0]);
        case SYS_sysinfo:
                return vmm_sys_sysinfo(vm, a[0]);
        case SYS_futex:
                return vmm_sys_futex(vm, a[0], a[1], a[2], a[3]);
        case SYS_getrandom:
                return vmm_sys_getrandom(vm, a[0], a[1]);
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
                return vmm_sys_sched_getaffinity(vm, a[1], a[2]);
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
                vmm_io_hdr_write(vm, VMM_IO_IN_OK, ok, 2);
        }
        return ret;
}
