/*
 * The syscall layer (src/vmm/syscall.c and its sys_*.c files, fs.c): every
 * argument of every system call comes from the guest. A memory-only
 * harness, as tests/vmm/test_syscall.c's: a struct vmm_vm over plain
 * memory, its system calls served by vmm_syscall() as the exit loop would,
 * with no VM and no process, so it runs everywhere.
 *
 * The guest has 8 MiB of memory; the input itself is copied to DATA in it,
 * so that the calls can point at paths, iovecs and timespecs it holds. Its
 * fds: 0 a request (a memfd), 1 and 2 discarded, 3 a host-call socket with
 * an answer waiting. Its mounts: /work (read-write) and /ro (read-only),
 * real directories made afresh under a temporary directory for each input,
 * beside a directory the guest must never reach (with a symbolic link to it
 * in /work).
 *
 * Input: a sequence of calls (at most MAX_CALLS), each a number and six
 * arguments:
 *   call:  one byte: below NTABLE an index into the table of served calls,
 *          else the number itself (refused numbers too)
 *   arg:   one tag byte, then its value: tag % 8 ==
 *          0 a small number (1 byte)     1 DATA + offset (2 bytes)
 *          2 any 64-bit value (8 bytes)  3 a constant of the layout (1 byte)
 *          4 minus a small number        5 the end of memory less an offset (2)
 *          6 SCRATCH + 8 * n (2 bytes)   7 a page number in user memory (1)
 *
 * Checked beyond "no crash, no leak": the layer never touches memory below
 * the user area or past the guest's end (both are mapped with no access);
 * every result is a value or an errno (-4095..-1); a read or write reports
 * at most the bytes asked; a new fd is one of the guest's; an mmap or brk
 * result is user memory; a stopped VM says why; after each input the
 * process has the same open fds as before (nothing leaks across inputs),
 * the read-only mount and the directory beside the mounts are as they were.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <sanitizer/common_interface_defs.h>

#include "vmm/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MEM_SIZE  (8ull << 20)
#define DATA      0x210000ull /* the input, up to 64 KiB */
#define SCRATCH   0x220000ull /* where calls may write: 512 KiB of the guest's */
#define BRK_START 0x300000ull
#define MAX_CALLS 32
#define CALL_MS   2 /* each call's time: a longer sleep or wait stops the VM */

static const uint16_t table[] = {
    SYS_read,
    SYS_write,
    SYS_readv,
    SYS_writev,
    SYS_preadv,
    SYS_pwritev,
    SYS_pread64,
    SYS_pwrite64,
    SYS_open,
    SYS_creat,
    SYS_openat,
    SYS_close,
    SYS_lseek,
    SYS_dup,
    SYS_dup2,
    SYS_dup3,
    SYS_fcntl,
    SYS_ioctl,
    SYS_fstat,
    SYS_stat,
    SYS_lstat,
    SYS_newfstatat,
    SYS_getdents64,
    SYS_readlink,
    SYS_readlinkat,
    SYS_access,
    SYS_faccessat,
    SYS_faccessat2,
    SYS_mkdir,
    SYS_mkdirat,
    SYS_unlink,
    SYS_rmdir,
    SYS_unlinkat,
    SYS_chdir,
    SYS_getcwd,
    SYS_ftruncate,
    SYS_fchmod,
    SYS_fsync,
    SYS_fdatasync,
    SYS_umask,
    SYS_brk,
    SYS_mmap,
    SYS_munmap,
    SYS_mremap,
    SYS_mprotect,
    SYS_madvise,
    SYS_msync,
    SYS_mlock,
    SYS_munlock,
    SYS_exit,
    SYS_exit_group,
    SYS_kill,
    SYS_tkill,
    SYS_tgkill,
    SYS_arch_prctl,
    SYS_set_tid_address,
    SYS_gettid,
    SYS_getpid,
    SYS_getppid,
    SYS_getpgrp,
    SYS_getsid,
    SYS_getpgid,
    SYS_getuid,
    SYS_geteuid,
    SYS_getgid,
    SYS_getegid,
    SYS_getresuid,
    SYS_getresgid,
    SYS_set_robust_list,
    SYS_sched_yield,
    SYS_sigaltstack,
    SYS_rt_sigaction,
    SYS_rt_sigprocmask,
    SYS_prlimit64,
    SYS_getrlimit,
    SYS_setrlimit,
    SYS_prctl,
    SYS_uname,
    SYS_sysinfo,
    SYS_futex,
    SYS_getrandom,
    SYS_clock_gettime,
    SYS_clock_getres,
    SYS_gettimeofday,
    SYS_time,
    SYS_nanosleep,
    SYS_clock_nanosleep,
    SYS_sched_getaffinity,
};
#define NTABLE (sizeof(table) / sizeof(table[0]))

static const uint64_t constants[] = {
    0,
    UINT64_MAX,
    (uint64_t)-100, /* AT_FDCWD */
    VMM_USER_BASE - 1,
    VMM_USER_BASE,
    VMM_USER_BASE - VMM_PAGE,
    MEM_SIZE - 1,
    MEM_SIZE,
    MEM_SIZE - VMM_PAGE,
    MEM_SIZE - 2 * VMM_HUGE, /* the guard */
    MEM_SIZE - VMM_HUGE,     /* the stack */
    BRK_START,
    VMM_PAGE,
    VMM_HUGE,
    1ull << 31,
    1ull << 32,
    1ull << 63,
    UINT64_MAX - VMM_PAGE + 1,
    INT64_MAX,
    0x7fffffff,
    O_CREAT | O_RDWR,
    O_CREAT | O_WRONLY | O_TRUNC,
    O_DIRECTORY | O_RDONLY,
    O_PATH | O_NOFOLLOW,
    O_TMPFILE | O_RDWR,
    MAP_PRIVATE | MAP_ANONYMOUS,
    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
    MAP_SHARED,
    MAP_PRIVATE | MAP_FIXED_NOREPLACE | MAP_ANONYMOUS,
    0x1002, /* ARCH_SET_FS */
    0x1003, /* ARCH_GET_FS */
    0777,
    07777,
    F_DUPFD,
    F_DUPFD_CLOEXEC,
    F_GETFL,
    F_SETFL,
    AT_REMOVEDIR,
    AT_SYMLINK_NOFOLLOW,
    AT_EMPTY_PATH,
};
#define NCONST (sizeof(constants) / sizeof(constants[0]))

static char base[128]; /* the temporary directory: rw/, ro/, outside/ */
static char rw[160], ro[160], outside[160];
static int in_fd = -1;
static uint8_t *mem;
static struct vmm_platform_ops plat;

/* A property that does not hold: said where libFuzzer's report goes, then
 * the crash that makes the input a finding. */
static void failed(const char *what, int line)
{
        char msg[256];
        snprintf(msg, sizeof(msg), "fuzz_vmm_syscall.c:%d: %s does not hold", line, what);
        __sanitizer_report_error_summary(msg);
        abort();
}
#define check(ok) ((ok) ? (void)0 : failed(#ok, __LINE__))

/* The KVM platform's memory operations over plain memory; the FS base as a
 * value (there is no vCPU). */
static int fuzz_set_fs(struct vmm_vm *vm, uint64_t base_)
{
        vm->fs_base = base_;
        return 0;
}

static uint64_t fuzz_get_fs(struct vmm_vm *vm)
{
        return vm->fs_base;
}

/* The process's open fds, as a string of their numbers (but the one that
 * reads the directory). */
static char *open_fds(void)
{
        DIR *d = opendir("/proc/self/fd");
        check(d != NULL);
        strbuf b = {0};
        struct dirent *de;
        while ((de = readdir(d)))
                if (atoi(de->d_name) != dirfd(d) && de->d_name[0] != '.')
                        sb_addf(&b, "%s ", de->d_name);
        closedir(d);
        return sb_steal(&b);
}

static int remove_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st, (void)flag, (void)ftw;
        return remove(p);
}

static void rmrf(const char *dir)
{
        nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void put_file(const char *dir, const char *name, const char *text)
{
        char p[256];
        snprintf(p, sizeof(p), "%s/%s", dir, name);
        int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        check(fd >= 0);
        check(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
        close(fd);
}

/* What a directory holds, names and sizes and modes, in one string. */
static char *listing(const char *dir)
{
        struct dirent **names;
        int n = scandir(dir, &names, NULL, alphasort);
        check(n >= 0);
        strbuf b = {0};
        for (int i = 0; i < n; i++) {
                char p[512];
                struct stat st;
                snprintf(p, sizeof(p), "%s/%s", dir, names[i]->d_name);
                if (strcmp(names[i]->d_name, "..") && lstat(p, &st) == 0)
                        sb_addf(&b, "%s %o %lld\n", names[i]->d_name, st.st_mode,
                                (long long)st.st_size);
                free(names[i]);
        }
        free(names);
        return sb_steal(&b);
}

static char *ro_was, *outside_was, *base_was;

static void cleanup(void)
{
        rmrf(base);
}

static void init(void)
{
        snprintf(base, sizeof(base), "%s/osvm-fuzz-syscall-XXXXXX",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        check(mkdtemp(base) != NULL);
        atexit(cleanup);
        snprintf(rw, sizeof(rw), "%s/rw", base);
        snprintf(ro, sizeof(ro), "%s/ro", base);
        snprintf(outside, sizeof(outside), "%s/outside", base);
        check(mkdir(ro, 0755) == 0 && mkdir(outside, 0755) == 0);
        put_file(ro, "data.txt", "read-only data\n");
        check(mkdir(strcat(strcpy((char[200]){0}, ro), "/sub"), 0755) == 0);
        put_file(outside, "secret", "not for the guest\n");
        /* a file the guest writes is bounded: a write past it fails (EFBIG) */
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit fsz = {1u << 20, 1u << 20};
        setrlimit(RLIMIT_FSIZE, &fsz);

        in_fd = memfd_create("request", MFD_CLOEXEC);
        check(in_fd >= 0);
        check(write(in_fd, "{\"tool\":\"x\"}\n", 13) == 13);

        /* guest memory: the system pages and a page past the end with no access */
        mem = mmap(NULL, MEM_SIZE + VMM_PAGE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        check(mem != MAP_FAILED);
        check(mprotect(mem, VMM_USER_BASE, PROT_NONE) == 0);
        check(mprotect(mem + MEM_SIZE, VMM_PAGE, PROT_NONE) == 0);

        plat = vmm_platform_kvm;
        plat.set_fs_base = fuzz_set_fs;
        plat.fs_base = fuzz_get_fs;
        ro_was = listing(ro);
        outside_was = listing(outside);
}

struct reader {
        const uint8_t *p;
        size_t n;
};

static uint64_t take(struct reader *r, size_t k)
{
        uint64_t v = 0;
        for (size_t i = 0; i < k; i++)
                v |= r->n > i ? (uint64_t)r->p[i] << (8 * i) : 0;
        k = k < r->n ? k : r->n;
        r->p += k;
        r->n -= k;
        return v;
}

static uint64_t arg(struct reader *r)
{
        uint8_t tag = (uint8_t)take(r, 1);
        switch (tag % 8) {
        case 0:
                return take(r, 1);
        case 1:
                return DATA + take(r, 2);
        case 2:
                return take(r, 8);
        case 3:
                return constants[take(r, 1) % NCONST];
        case 4:
                return (uint64_t) - (int64_t)take(r, 1);
        case 5:
                return MEM_SIZE - take(r, 2);
        case 6:
                return SCRATCH + 8 * take(r, 2);
        default:
                return VMM_USER_BASE + VMM_PAGE * take(r, 1);
        }
}

/* The properties of one call's result. */
static void check_result(const struct vmm_vm *vm, uint64_t nr, const uint64_t *a, int64_t ret)
{
        check(ret >= -4095);
        if (ret < 0)
                return;
        switch (nr) {
        case SYS_read:
        case SYS_write:
        case SYS_pread64:
        case SYS_pwrite64:
        case SYS_getrandom:
                check((uint64_t)ret <= a[nr == SYS_getrandom ? 1 : 2]);
                break;
        case SYS_open:
        case SYS_creat:
        case SYS_openat:
        case SYS_dup:
        case SYS_dup2:
        case SYS_dup3:
                check(ret < VMM_MAX_FDS);
                break;
        case SYS_mmap:
        case SYS_mremap:
                check(ret % VMM_PAGE == 0 && ret >= (int64_t)VMM_USER_BASE &&
                      (uint64_t)ret < vm->guard_lo);
                break;
        case SYS_brk:
                check((uint64_t)ret >= vm->brk_start && (uint64_t)ret <= vm->guard_lo);
                break;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (!mem)
                init();
        if (size > 0x10000)
                return 0;

        char *fds_before = open_fds();
        /* the mounts, afresh */
        check(mkdir(rw, 0755) == 0);
        put_file(rw, "file.txt", "hello\n");
        check(mkdir(strcat(strcpy((char[200]){0}, rw), "/dir"), 0755) == 0);
        char lnk[200];
        snprintf(lnk, sizeof(lnk), "%s/escape", rw);
        check(symlink("../outside/secret", lnk) == 0);
        snprintf(lnk, sizeof(lnk), "%s/abs", rw);
        check(symlink("/etc/passwd", lnk) == 0);
        const struct vmm_mount mounts[2] = {{rw, "/work", false}, {ro, "/ro", true}};

        int sv[2];
        check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
        check(write(sv[0], "{\"ok\":true}\n", 12) == 12);
        check(lseek(in_fd, 0, SEEK_SET) == 0);

        static struct vmm_vm vm;
        static struct vmm_spec spec;
        static struct vmm_result res;
        static struct vmm_image img;
        memset(&vm, 0, sizeof(vm));
        memset(&spec, 0, sizeof(spec));
        memset(&res, 0, sizeof(res));
        memset(&img, 0, sizeof(img));
        spec.in_fd = in_fd;
        spec.out_fd = spec.err_fd = -1;
        spec.host_fd = sv[1];
        spec.mounts = mounts;
        spec.nmounts = 2;
        img.path = "fuzz";
        vm.plat = &plat;
        vm.mem = mem;
        vm.mem_size = MEM_SIZE;
        vm.memory_mb = (uint32_t)(MEM_SIZE >> 20);
        vm.stack_lo = MEM_SIZE - VMM_HUGE;
        vm.guard_lo = vm.stack_lo - VMM_HUGE;
        vm.brk_start = vm.brk_cur = BRK_START;
        vm.img = &img;
        vm.spec = &spec;
        vm.res = &res;
        vm.lim = (struct vmm_limits){.memory_mb = vm.memory_mb,
                                     .timeout_ms = CALL_MS,
                                     .max_output_bytes = 1u << 20,
                                     .max_syscalls = MAX_CALLS};
        for (int i = 0; i < VMM_MAX_FDS; i++)
                vm.fds[i].host = -1;
        vmm_fds_std(&vm);
        osvm_err e = {0};
        check(vmm_fs_init(&vm.fs, mounts, 2, &e) == 0);
        vm.cwd = xstrdup("/work");
        res.end = VMM_END_EXIT;
        memcpy(mem + DATA, data, size);

        static int trace = -1;
        if (trace < 0)
                trace = getenv("FUZZ_TRACE") != NULL;
        struct reader r = {data, size};
        for (int i = 0; i < MAX_CALLS && r.n > 0 && !vm.done; i++) {
                uint8_t sel = (uint8_t)take(&r, 1);
                uint64_t nr = sel < NTABLE ? table[sel] : sel;
                uint64_t a[6];
                for (int k = 0; k < 6; k++)
                        a[k] = arg(&r);
                vm.start_ns = time_mono_ns();
                vm.deadline_ns = vm.start_ns + CALL_MS * 1000000ull;
                res.syscalls++;
                int64_t ret = vmm_syscall(&vm, nr, a);
                if (trace) /* FUZZ_TRACE=1: each call and its result, to read a finding */
                        fprintf(stderr,
                                "%llu(%#llx, %#llx, %#llx, %#llx, %#llx, %#llx) = %lld%s%s\n",
                                (unsigned long long)nr, (unsigned long long)a[0],
                                (unsigned long long)a[1], (unsigned long long)a[2],
                                (unsigned long long)a[3], (unsigned long long)a[4],
                                (unsigned long long)a[5], (long long)ret, vm.done ? ": " : "",
                                vm.done ? res.why : "");
                check_result(&vm, nr, a, ret);
                if (vm.done)
                        check(res.end == VMM_END_EXIT || res.why[0] != '\0');
        }

        vmm_fds_close(&vm);
        vmm_fs_fini(&vm.fs);
        free(vm.maps);
        free(vm.cwd);
        close(sv[0]);
        close(sv[1]);
        /* user memory back to zero; the system pages stay without access */
        madvise(mem + VMM_USER_BASE, MEM_SIZE - VMM_USER_BASE, MADV_DONTNEED);

        char *fds_after = open_fds();
        if (strcmp(fds_before, fds_after) != 0) { /* no fd leaks across inputs */
                char msg[512];
                snprintf(msg, sizeof(msg), "fds before: %s; after: %s", fds_before, fds_after);
                failed(msg, __LINE__);
        }
        free(fds_before);
        free(fds_after);
        char *now = listing(ro);
        check(!strcmp(now, ro_was)); /* the read-only mount is as it was */
        free(now);
        now = listing(outside);
        check(!strcmp(now, outside_was)); /* and what lies beside the mounts */
        free(now);
        rmrf(rw);
        now = listing(base);
        if (!base_was)
                base_was = xstrdup(now);
        check(!strcmp(now, base_was)); /* nothing new beside the mounts */
        free(now);
        return 0;
}
