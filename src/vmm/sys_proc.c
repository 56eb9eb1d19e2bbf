/*
 * The process as the guest sees it: one process of one thread (pid 1) with
 * osvm's uid and gid; uname and sysinfo; its limits; random bytes; signals
 * (one it sends itself, other than 0, ends it; no handler ever runs); exit;
 * the FS base (arch_prctl) and prctl's name.
 *
 * Everything here reads hostile input: every number the guest gives (a
 * signal, a limit, a pid) is checked before it is used, and every address
 * is written through syscall.c's checks.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>

#include "vmm/internal.h"

int64_t vmm_sys_uname(struct vmm_vm *vm, uint64_t buf)
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

int64_t vmm_sys_getrlimit(struct vmm_vm *vm, uint64_t res, uint64_t old)
{
        if (res >= RLIM_NLIMITS)
                return -EINVAL;
        uint64_t lim[2] = {vmm_rlimit(vm, (unsigned)res), vmm_rlimit(vm, (unsigned)res)};
        if (old && vmm_guest_put(vm, old, lim, sizeof(lim)) < 0)
                return -EFAULT;
        return 0;
}

int64_t vmm_sys_prlimit(struct vmm_vm *vm, uint64_t pid, uint64_t res, uint64_t old)
{
        if (pid != 0 && pid != 1)
                return -ESRCH;
        return vmm_sys_getrlimit(vm, res, old);
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

int64_t vmm_sys_exit(struct vmm_vm *vm, uint64_t code)
{
        vmm_stop(vm, VMM_END_EXIT, (int)(code & 0xff), "%s", "");
        return 0;
}

int64_t vmm_sys_kill(struct vmm_vm *vm, uint64_t pid, uint64_t sig)
{
        return (pid == 1 || pid == 0) ? do_kill_self(vm, sig) : -ESRCH;
}

int64_t vmm_sys_tkill(struct vmm_vm *vm, uint64_t tid, uint64_t sig)
{
        return tid == 1 ? do_kill_self(vm, sig) : -ESRCH;
}

int64_t vmm_sys_tgkill(struct vmm_vm *vm, uint64_t tgid, uint64_t tid, uint64_t sig)
{
        return (tgid == 1 && tid == 1) ? do_kill_self(vm, sig) : -ESRCH;
}

int64_t vmm_sys_rt_sigaction(struct vmm_vm *vm, uint64_t sig, uint64_t oact, uint64_t size)
{
        if (size != 8 || sig == 0 || sig >= 65)
                return -EINVAL;
        if (oact) {
                uint8_t z[32] = {0};
                return vmm_guest_put(vm, oact, z, sizeof(z));
        }
        return 0;
}

int64_t vmm_sys_rt_sigprocmask(struct vmm_vm *vm, uint64_t oldset, uint64_t size)
{
        if (size != 8)
                return -EINVAL;
        if (oldset) {
                uint64_t z = 0;
                return vmm_guest_put(vm, oldset, &z, 8);
        }
        return 0;
}

int64_t vmm_sys_arch_prctl(struct vmm_vm *vm, uint64_t code, uint64_t addr)
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
int64_t vmm_sys_getresid(struct vmm_vm *vm, bool uid, const uint64_t at[3])
{
        uint32_t id = uid ? vmm_host_uid() : vmm_host_gid();
        for (int i = 0; i < 3; i++)
                if (vmm_guest_put(vm, at[i], &id, 4) < 0)
                        return -EFAULT;
        return 0;
}

int64_t vmm_sys_prctl(struct vmm_vm *vm, uint64_t option, uint64_t arg)
{
        if (option == 15) /* PR_SET_NAME */
                return 0;
        if (option == 16) /* PR_GET_NAME */
                return vmm_guest_put(vm, arg, "osvm\0\0\0\0\0\0\0\0\0\0\0\0", 16);
        return -EINVAL;
}

int64_t vmm_sys_sysinfo(struct vmm_vm *vm, uint64_t buf)
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

int64_t vmm_sys_getrandom(struct vmm_vm *vm, uint64_t buf, uint64_t len)
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

int64_t vmm_sys_sched_getaffinity(struct vmm_vm *vm, uint64_t len, uint64_t mask_addr)
{
        if (len < 8)
                return -EINVAL;
        uint64_t mask = 1;
        return vmm_guest_put(vm, mask_addr, &mask, 8) < 0 ? -EFAULT : 8;
}
