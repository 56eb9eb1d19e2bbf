/*
 * The process platform: a program runs in a stub process of its own, made
 * for the call (ahead of it, by the pool), whose every system call traps and
 * comes out to the syscall layer here. For hosts without /dev/kvm. The
 * design and why it holds: docs/vmm.md, "The process platform".
 *
 * Guest memory is one memfd (offsets are guest addresses) that osvm maps at
 * vm->mem and the stub at the guest's own addresses, except the image's
 * read-only segments, which both map from the image cache's sealed memfd
 * (osvm copy-on-write, as on KVM). The stub's control page, page list and
 * signal stack sit below the user area in the same memfd: the syscall layer
 * never touches them (no guest pointer below VMM_USER_BASE is valid).
 *
 * This file is one guest: the platform's operations, and where its stub
 * runs. The zygote that forks the stubs is proc_zygote.c; the control
 * pages and guest memory kept from call to call, proc_mem.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmm/proc.h"

/* The stub's address space beyond guest memory: its own pages, its stack. */
#define PROC_AS_SLACK (64ull << 20)
#define PROC_SPIN     2000 /* rounds of pause before a futex wait, with a spare CPU */
#define PROC_SPARE_MS 10   /* how long a look at the spare CPUs holds */
/* How long a death the state word reports may take to show on the pidfd
 * (the kernel marks the word before it ends the process). */
#define PROC_DIED_WAIT_MS 200

/* The stub's pid here, from its pidfd. */
static int host_pid(struct vmm_vm *vm)
{
        if (vm->proc.hostpid <= 0 && vm->proc.pidfd >= 0)
                vm->proc.hostpid = vmm_proc_pidfd_pid(vm->proc.pidfd);
        return vm->proc.hostpid;
}

/*
 * Where a call's stub starts, while calls run side by side. A stub from the
 * pool last ran where it set itself up, well before its call, and the
 * kernel wakes it there: behind whatever runs on that CPU (other stubs
 * setting up, say), while the CPU of the call's thread, which sleeps as soon
 * as it woke the stub, goes idle; the load balancer leaves a task that ran a
 * moment ago where it is. So a call that runs beside another places its
 * stub itself: on the calling thread's CPU, unless another call's stub is
 * placed there, then on the allowed CPU with the fewest placed. A stub is
 * placed until it first hands osvm a system call, or for one wait of
 * osvm's at most (a guest that computes on): from then on the kernel places
 * it, from where it runs. A call alone is not placed: its stub then starts
 * at once on an idle CPU, and its exit does not hold up the calling thread
 * (placed on the caller's CPU, the stub's exit ran before the caller's end
 * of the call). Nothing here is needed for isolation; where the kernel
 * refuses, the stub runs where the kernel puts it.
 */
static pthread_once_t place_once = PTHREAD_ONCE_INIT;
static cpu_set_t place_all; /* the CPUs osvm (and so the zygote) may run on */
static int place_cpus[CPU_SETSIZE], place_n;
static int placed[CPU_SETSIZE]; /* stubs placed on each CPU now */

static void place_init(void)
{
        if (sched_getaffinity(0, sizeof(place_all), &place_all) < 0)
                return;
        for (int i = 0; i < CPU_SETSIZE; i++)
                if (CPU_ISSET(i, &place_all))
                        place_cpus[place_n++] = i;
}

/* The CPU for a stub: this thread's, unless another stub is placed there. */
static int place_pick(void)
{
        int here = sched_getcpu();
        int best = -1, least = INT_MAX;
        if (here >= 0 && here < CPU_SETSIZE && CPU_ISSET(here, &place_all)) {
                best = here;
                least = __atomic_load_n(&placed[here], __ATOMIC_RELAXED);
        }
        for (int i = 0; i < place_n && least > 0; i++) {
                int n = __atomic_load_n(&placed[place_cpus[i]], __ATOMIC_RELAXED);
                if (n < least) {
                        least = n;
                        best = place_cpus[i];
                }
        }
        return best;
}

/* Whether stubs are placed here: osvm may run on more than one CPU. */
static bool place_wanted(void)
{
        pthread_once(&place_once, place_init);
        return place_n > 1;
}

/*
 * Whether the stub has not ended: then its pid still names it, and no other
 * process, when the next call sets its CPUs. (An ended stub's pid is free
 * once the zygote reaped it, which it does while it serves a request of
 * another thread's: for the pid to name another process at that call, the
 * stub would have to end, be reaped and its pid be taken anew between the
 * two calls.)
 */
static bool stub_alive(struct vmm_vm *vm)
{
        struct pollfd p = {.fd = vm->proc.pidfd, .events = POLLIN};
        return !vm->proc.gone && host_pid(vm) > 0 && poll(&p, 1, 0) == 0;
}

static void place_stub(struct vmm_vm *vm)
{
        if (vmm_calls_running() < 2 || !place_wanted() || !stub_alive(vm))
                return;
        int cpu = place_pick();
        if (cpu < 0)
                return;
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        if (sched_setaffinity(vm->proc.hostpid, sizeof(one), &one) < 0)
                return;
        __atomic_fetch_add(&placed[cpu], 1, __ATOMIC_RELAXED);
        vm->proc.placed = cpu;
}

/* The stub free to run on every CPU again (ending: it is about to end, so
 * only the count changes). */
static void unplace_stub(struct vmm_vm *vm, bool ending)
{
        if (vm->proc.placed < 0)
                return;
        __atomic_fetch_sub(&placed[vm->proc.placed], 1, __ATOMIC_RELAXED);
        vm->proc.placed = -1;
        if (!ending && stub_alive(vm))
                (void)sched_setaffinity(vm->proc.hostpid, sizeof(place_all), &place_all);
}

void vmm_proc_shutdown(void)
{
        vmm_proc_slots_settle();
        vmm_proc_zyg_stop();
}

/* ---- one guest ---- */

/* The ranges an image was mapped over in osvm's view of guest memory (mem)
 * map the memfd again. */
static bool ro_unmap(uint8_t *mem, int memfd, const struct vmm_range *ro, size_t nro)
{
        for (size_t i = 0, j; i < nro; i = j) {
                uint64_t lo = ro[i].lo, hi = ro[i].hi;
                for (j = i + 1; j < nro && ro[j].lo == hi; j++) /* one mmap for a run */
                        hi = ro[j].hi;
                if (hi > lo && mmap(mem + lo, hi - lo, PROT_READ | PROT_WRITE,
                                    MAP_SHARED | MAP_FIXED, memfd, (off_t)lo) == MAP_FAILED)
                        return false;
        }
        return true;
}

static struct vmm_proc_ctl *ctl_of(const struct vmm_vm *vm)
{
        return vm->proc.ctl;
}

static uint64_t page_up(uint64_t a)
{
        return (a + VMM_PAGE - 1) & ~(VMM_PAGE - 1);
}

static long futex(uint32_t *w, int op, uint32_t v, const struct timespec *ts)
{
        return syscall(SYS_futex, w, op, v, ts, NULL, 0);
}

/*
 * Whether both sides may spin: the runnable tasks that are neither this
 * thread nor its stub leave a CPU for each of the two. stub_runs: the stub
 * is runnable now (it runs the guest), so the machine's count holds it too.
 * Looked at again every PROC_SPARE_MS at most, per thread, at enter and at
 * every wait: a moment that found the CPUs busy (the pool making the next
 * stub, say) holds no longer than that.
 */
static long runnable_now(void);
static bool spare_cpu(bool stub_runs)
{
        static _Thread_local long ncpu;
        static _Thread_local uint64_t when;
        static _Thread_local long others;
        if (!ncpu) {
                pthread_once(&place_once, place_init);
                long n = place_n ? place_n : sysconf(_SC_NPROCESSORS_ONLN);
                ncpu = n > 0 ? n : 1;
        }
        uint64_t now = time_mono_ns();
        if (!when || now - when > PROC_SPARE_MS * 1000000ull) {
                long running = runnable_now();
                others = running > 0 ? running - 1 - stub_runs : ncpu;
                when = now;
        }
        return others + 2 <= ncpu;
}

/* The machine's runnable tasks now, this thread among them, from
 * /proc/loadavg ("0.00 0.01 0.05 RUNNING/TOTAL LAST"); 0 if unknown. */
static long runnable_now(void)
{
        char buf[128];
        if (fs_read_proc("/proc/loadavg", buf, sizeof(buf)) <= 0)
                return 0;
        const char *p = buf;
        for (int i = 0; i < 3 && p; i++)
                p = strchr(p + 1, ' ');
        return p ? strtol(p + 1, NULL, 10) : 0;
}

/* A guest of mem_mb for the image of serial (0: not known). */
static int proc_create_for(struct vmm_vm *vm, uint32_t mem_mb, uint64_t serial, osvm_err *e)
{
        memset(&vm->proc, 0, sizeof(vm->proc));
        vm->proc.memfd = vm->proc.imgfd = vm->proc.pidfd = vm->proc.ctlfd = -1;
        vm->proc.placed = -1;
        vm->vmfd = vm->vcpufd = -1;
        vm->run = NULL;
        vm->memory_mb = mem_mb;
        vm->mem_size = (uint64_t)mem_mb << 20;
        vmm_vm_layout(vm);
        if (vmm_proc_slot_take(vm, serial, e) < 0)
                return -1;
        struct vmm_proc_ctl *c = ctl_of(vm);
        c->host_abi = VMM_PROC_ABI;
        c->mem_size = vm->mem_size;
        c->guard_lo = vm->guard_lo;
        c->stack_lo = vm->stack_lo;
        c->rlim_as = vm->mem_size + PROC_AS_SLACK;
        c->uid = vmm_host_uid();
        c->gid = vmm_host_gid();
        c->ioctl_fds = 3;
        return 0;
}

/* The image a stub maps for img: its newest patched copy (proc_patch.c),
 * or the image's memfd. */
struct image_view {
        int fd;
        uint64_t serial, tramp_off, tramp_len;
        bool patched;
};

static struct image_view image_view(const struct vmm_image *img, bool load)
{
        struct image_view v = {.fd = img->memfd, .serial = img->serial};
        v.patched = vmm_proc_patched(img, load, &v.fd, &v.serial, &v.tramp_off, &v.tramp_len);
        return v;
}

static int proc_create(struct vmm_vm *vm, uint32_t mem_mb, osvm_err *e)
{
        return proc_create_for(vm, mem_mb, vm->img ? image_view(vm->img, false).serial : 0, e);
}

/*
 * The image: read-only segments mapped from the image cache's memfd (by the
 * stub read-only, here copy-on-write: a write of the syscall layer there,
 * which the kernel would refuse with EFAULT, reaches no one), writable ones
 * copied into guest memory. An image whose segments share pages is copied
 * whole, and so is one loaded into a stub that is set up already (one the
 * pool made before it knew the image): its mappings are made.
 *
 * Guest memory that served the same image before still has its ranges
 * mapped here (mem_wipe leaves them): then nothing is mapped, the dearest
 * step of a small call's set-up here (~5 us an mmap where the host is
 * itself a PVM guest).
 */
static int proc_load(struct vmm_vm *vm, const struct vmm_image *img, osvm_err *e)
{
        if (img->hi > vm->mem_size)
                return err_set(e, ENOMEM,
                               "%s: the image needs 0x%llx bytes of address space, more "
                               "than the guest's %llu MiB",
                               img->path, (unsigned long long)img->hi,
                               (unsigned long long)(vm->mem_size >> 20));
        struct vmm_proc_ctl *c = ctl_of(vm);
        /* The ranges to map. osvm maps them all alike (copy-on-write).
         * Segments that follow each other in memory and in the memfd are one
         * range (a musl tool's three in one), which osvm maps in one mmap and
         * the stub too, executable if any of it is: no more than the guest's
         * own memory, all of it executable, already gives. */
        size_t nseg = 0;
        struct vmm_range ro[VMM_PROC_MAX_SEGS];
        int64_t delta[VMM_PROC_MAX_SEGS];
        for (size_t i = 0; i < img->nseg; i++) {
                const struct vmm_seg *s = &img->seg[i];
                uint64_t va = s->vaddr + img->bias;
                uint64_t lo = va & ~(VMM_PAGE - 1), flo = s->off & ~(VMM_PAGE - 1);
                if (s->filesz == 0)
                        continue;
                bool map = img->can_map && !(s->flags & 2 /* PF_W */) && s->memsz == s->filesz &&
                           nseg < VMM_PROC_MAX_SEGS && vm->proc.pidfd < 0;
                if (map) {
                        uint64_t hi = page_up(va + s->filesz);
                        uint32_t prot = (uint32_t)(PROT_READ | ((s->flags & 1) ? PROT_EXEC : 0));
                        if (nseg && lo == ro[nseg - 1].hi &&
                            (int64_t)flo == (int64_t)lo + delta[nseg - 1]) { /* joins */
                                ro[nseg - 1].hi = hi;
                                c->seg[nseg - 1].len = hi - ro[nseg - 1].lo;
                                c->seg[nseg - 1].prot |= prot;
                        } else {
                                c->seg[nseg] = (struct vmm_proc_seg){
                                    .addr = lo, .len = hi - lo, .off = flo, .prot = prot};
                                ro[nseg] = (struct vmm_range){lo, hi};
                                delta[nseg] = (int64_t)flo - (int64_t)lo;
                                nseg++;
                        }
                        continue;
                }
                uint64_t done = 0;
                while (done < s->filesz) {
                        ssize_t n = pwrite(vm->proc.memfd, img->bytes + s->off + done,
                                           s->filesz - done, (off_t)(va + done));
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0)
                                return err_sys(e, "%s: copying segment %zu", img->path, i);
                        done += (uint64_t)n;
                }
        }
        /* the image, or its patched copy with the trampolines' page (the
         * stub's alone: osvm's view has no system pages) */
        struct image_view view = image_view(img, true);
        if (nseg && view.patched && nseg < VMM_PROC_MAX_SEGS)
                c->seg[nseg] = (struct vmm_proc_seg){.addr = VMM_PROC_TRAMP,
                                                     .len = view.tramp_len,
                                                     .off = view.tramp_off,
                                                     .prot = PROT_READ | PROT_EXEC};
        else
                view = (struct image_view){.fd = img->memfd, .serial = img->serial};
        c->nseg = nseg + view.patched;
        vm->proc.imgfd = nseg ? view.fd : -1;
        bool same = view.serial && vm->proc.ro_serial == view.serial && vm->proc.nro == nseg;
        for (size_t i = 0; same && i < nseg; i++)
                same = vm->proc.ro[i].lo == ro[i].lo && vm->proc.ro[i].hi == ro[i].hi &&
                       vm->proc.ro_delta[i] == delta[i];
        if (same)
                return 0;
        /* another image's ranges (or what a guest left of them) go first;
         * the serial is this image's once all of its ranges are mapped */
        vm->proc.ro_serial = 0;
        if (!ro_unmap(vm->mem, vm->proc.memfd, vm->proc.ro, vm->proc.nro))
                return err_sys(e, "%s: mapping guest memory again", img->path);
        vm->proc.nro = 0;
        for (size_t i = 0; i < nseg; i++) {
                vm->proc.ro[i] = ro[i];
                vm->proc.ro_delta[i] = delta[i];
                vm->proc.nro = i + 1; /* mapped over: for mem_wipe, should this fail */
                if (mmap(vm->mem + ro[i].lo, ro[i].hi - ro[i].lo, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_FIXED, view.fd,
                         (off_t)((int64_t)ro[i].lo + delta[i])) == MAP_FAILED)
                        return err_sys(e, "%s: mapping its segments at 0x%llx", img->path,
                                       (unsigned long long)ro[i].lo);
        }
        vm->proc.ro_serial = view.serial;
        return 0;
}

/* The stub's words about a failed set-up. */
static void setup_words(const struct vmm_vm *vm, char *why, size_t n)
{
        static const char *const steps[] = {"",
                                            "checking the ABI",
                                            "mapping guest memory",
                                            "mapping the image",
                                            "closing fds",
                                            "setting up its signals",
                                            "setting its limits"};
        const struct vmm_proc_ctl *c = ctl_of(vm);
        uint32_t step = c->err_step;
        int64_t err = c->err;
        snprintf(why, n, "the stub process could not set up (%s): %s",
                 step < sizeof(steps) / sizeof(steps[0]) ? steps[step] : "?",
                 err > 0 && err < 4096 ? strerror((int)err) : "unknown error");
}

/* vm's stub, pid (as the zygote sees it) with pidfd, is made. */
static void proc_forked(struct vmm_vm *vm, int pid, int pidfd)
{
        vm->proc.pidfd = pidfd;
        vm->proc.nspid = pid;
        vm->proc.run = (uint32_t)pid | VMM_PROC_WAITERS;
}

/* Makes the stub (the zygote forks it; it sets itself up and says READY). */
static int proc_fork(struct vmm_vm *vm, osvm_err *e)
{
        int pid = 0, pidfd = -1;
        int fds[3] = {vm->proc.memfd, vm->proc.ctlfd, vm->proc.imgfd};
        if (vmm_proc_zyg_fork(fds, fds[2] >= 0 ? 3 : 2, 1, &pid, &pidfd, e) < 0)
                return -1;
        proc_forked(vm, pid, pidfd);
        return 0;
}

static int wait_ready(struct vmm_vm *vm, osvm_err *e);
static void write_list(struct vmm_vm *vm, const uint64_t *list, size_t n);

/* The break and its room, for the stub to answer brk with: glibc's start
 * alone makes five calls that would each be a round trip to osvm. */
static void share_brk(const struct vmm_vm *vm, struct vmm_proc_ctl *c)
{
        c->brk_lo = vm->brk_start;
        c->brk_cur = vm->brk_cur;
        c->brk_room = vmm_brk_room(vm);
}

_Static_assert(VMM_PROC_NLIMITS == RLIM_NLIMITS, "the stub's limits are Linux's");

/* What the stub answers getrlimit and getrandom with: the layer's limits,
 * and random bytes for this guest alone (vmm_random). */
static void share_answers(const struct vmm_vm *vm, struct vmm_proc_ctl *c)
{
        for (unsigned i = 0; i < VMM_PROC_NLIMITS; i++)
                c->rlim[i] = vmm_rlimit(vm, i);
        /* none, unless drawn: then osvm answers */
        c->rand_used = vmm_random(c->rand, sizeof(c->rand)) ? 0 : sizeof(c->rand);
}

static int proc_enter(struct vmm_vm *vm, uint64_t rip, uint64_t rsp, osvm_err *e)
{
        struct vmm_proc_ctl *c = ctl_of(vm);
        c->entry_rip = rip;
        c->entry_rsp = rsp;
        share_brk(vm, c);
        share_answers(vm, c);
        c->fs_set = 0;
        c->nremap = 0;
        c->ioctl_fds = vm->spec && vm->spec->tty ? 0 : 3;
        const char *rest;
        c->exe_enoent = vmm_fs_lookup(&vm->fs, "/proc/self/exe", &rest) < 0;
        c->park = vm->img && vmm_pool_learns(vm->img, vm);
        vm->proc.spin = spare_cpu(false); /* the stub sleeps, or is to be made */
        c->spin = vm->proc.spin ? PROC_SPIN : 0;
        if (vm->proc.pidfd < 0) {
                /* made for this call: the image's pages touched ahead as well */
                size_t n = 0;
                uint64_t *list = vm->img ? vmm_pool_profile(vm->img, vm, &n) : NULL;
                write_list(vm, list, n);
                free(list);
                if (proc_fork(vm, e) < 0 || wait_ready(vm, e) < 0)
                        return -1;
        }
        /* the program starts at the first run, as on KVM: by then the
         * staged request's header is whole (vmm_io_start), which the
         * stub reads at the program's first read */
        vm->proc.started = false;
        place_stub(vm);
        return 0;
}

/* The staged request and result: served by the stub (io_fast), from its
 * system pages below the user area, for every image; not for the user's
 * terminal. */
static bool proc_io_setup(struct vmm_vm *vm)
{
        bool on = !(vm->spec && vm->spec->tty);
        ctl_of(vm)->io_on = on;
        return on;
}

static volatile uint64_t *proc_io_hdr(struct vmm_vm *vm)
{
        return ctl_of(vm)->io;
}

static const struct vmm_io_area proc_io = {
    .hdr = VMM_PROC_SYS + offsetof(struct vmm_proc_ctl, io),
    .in_buf = VMM_PROC_IO_IN,
    .in_cap = VMM_PROC_IO_OUT - VMM_PROC_IO_IN,
    .out_buf = VMM_PROC_IO_OUT,
    .out_cap = VMM_PROC_SYS_END - VMM_PROC_IO_OUT,
    .user_lo = VMM_USER_BASE,
};
_Static_assert(VMM_PROC_ALT + VMM_PROC_ALT_SIZE <= VMM_PROC_IO_IN &&
                   VMM_PROC_SYS_END == VMM_USER_BASE,
               "the process platform's system pages");

/* Whether [gpa, gpa + len) meets the image's read-only pages, which guest
 * memory's memfd does not hold (osvm maps them from the image there). */
static bool over_image(const struct vmm_vm *vm, uint64_t gpa, size_t len)
{
        for (size_t i = 0; i < vm->proc.nro; i++)
                if (vm->proc.ro[i].lo < gpa + len && gpa < vm->proc.ro[i].hi)
                        return true;
        return false;
}

/* Guest memory through its memfd: osvm's mapping keeps no page of it. The
 * image's read-only pages through osvm's mapping of them (a write there
 * reaches no one, as on the guest's side). */
static void proc_copy_in(struct vmm_vm *vm, uint64_t gpa, const void *src, size_t len)
{
        if (over_image(vm, gpa, len)) {
                memcpy(vm->mem + gpa, src, len);
                return;
        }
        for (size_t done = 0; done < len;) {
                ssize_t n = pwrite(vm->proc.memfd, (const uint8_t *)src + done, len - done,
                                   (off_t)(gpa + done));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) { /* the memfd cannot refuse a write inside its size */
                        memcpy(vm->mem + gpa + done, (const uint8_t *)src + done, len - done);
                        return;
                }
                done += (size_t)n;
        }
}

/* The image's read-only bytes at [gpa, gpa + len), all inside range i:
 * from the image's memfd, so that osvm's mapping keeps no page of them
 * either. */
static bool image_read(struct vmm_vm *vm, uint64_t gpa, void *dst, size_t len)
{
        for (size_t i = 0; i < vm->proc.nro; i++) {
                const struct vmm_range *r = &vm->proc.ro[i];
                if (gpa < r->lo || gpa + len > r->hi)
                        continue;
                off_t at = (off_t)((int64_t)gpa + vm->proc.ro_delta[i]);
                for (size_t done = 0; done < len;) {
                        ssize_t n = pread(vm->proc.imgfd, (uint8_t *)dst + done, len - done,
                                          at + (off_t)done);
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0)
                                return false;
                        done += (size_t)n;
                }
                return true;
        }
        return false;
}

static void proc_copy_out(struct vmm_vm *vm, uint64_t gpa, void *dst, size_t len)
{
        if (over_image(vm, gpa, len)) {
                if (!image_read(vm, gpa, dst, len))
                        memcpy(dst, vm->mem + gpa, len);
                return;
        }
        for (size_t done = 0; done < len;) {
                ssize_t n =
                    pread(vm->proc.memfd, (uint8_t *)dst + done, len - done, (off_t)(gpa + done));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        memcpy((uint8_t *)dst + done, vm->mem + gpa + done, len - done);
                        return;
                }
                done += (size_t)n;
        }
}

static void proc_kill(struct vmm_vm *vm)
{
        if (vm->proc.pidfd >= 0 && !vm->proc.gone)
                vmm_proc_pidfd_kill(vm->proc.pidfd);
}

/* The stub's wait status once it ended (reaped through the zygote). */
static bool proc_reap(struct vmm_vm *vm, int wait_ms)
{
        if (vm->proc.gone)
                return true;
        if (vm->proc.pidfd < 0)
                return false;
        if (vmm_proc_wait_readable(vm->proc.pidfd, wait_ms) < 0)
                return false;
        int st = vmm_proc_zyg_reap(vm->proc.nspid);
        if (st == -EAGAIN && vmm_proc_wait_readable(vm->proc.pidfd, wait_ms) == 0)
                st = vmm_proc_zyg_reap(vm->proc.nspid);
        if (st < 0 && st != -ESRCH && st != -ECHILD)
                return false;
        vm->proc.gone = true;
        vm->proc.status = st < 0 ? -1 : st;
        return true;
}

/* The stub died under the guest (the kernel killed it), or the guest wrote
 * the state word to say so: the pidfd tells which. */
static void proc_died(struct vmm_vm *vm)
{
        if (vmm_proc_wait_readable(vm->proc.pidfd, PROC_DIED_WAIT_MS) < 0) {
                proc_kill(vm);
                vmm_stop(vm, VMM_END_FAULT, 128 + SIGSEGV,
                         "the guest wrote over the stub's control page (a forged state word)");
                return;
        }
        proc_reap(vm, PROC_DEATH_WAIT_MS);
        int st = vm->proc.status;
        if (!vm->proc.gone || st < 0) {
                vmm_stop(vm, VMM_END_FAULT, 128 + SIGKILL, "the guest's process ended unseen");
                return;
        }
        if (WIFEXITED(st)) {
                vmm_stop(vm, VMM_END_FAULT, 125, "the guest's process exited by itself (%d)",
                         WEXITSTATUS(st));
                return;
        }
        int sig = WTERMSIG(st);
        const char *what;
        switch (sig) {
        case SIGSYS:
                what = "a system call outside the stub's allow-list (the seccomp filter), or "
                       "a trap signal blocked by the guest";
                break;
        case SIGSEGV:
        case SIGBUS:
                what = "a fault inside the stub's trap handler, or a signal it could not "
                       "take";
                break;
        case SIGKILL:
                what = "SIGKILL: out of memory, or a resource limit";
                break;
        case SIGXCPU:
        case SIGXFSZ:
                what = "a resource limit";
                break;
        default:
                what = "a signal";
                break;
        }
        vmm_stop(vm, VMM_END_FAULT, 128 + sig,
                 "the host kernel killed the guest's process: %s "
                 "(signal %d)",
                 what, sig);
}

static void proc_fault(struct vmm_vm *vm)
{
        const struct vmm_proc_ctl *c = ctl_of(vm);
        uint64_t sig = c->sig, trapno = c->trapno, err = c->errcode, addr = c->addr, rip = c->rip;
        char why[sizeof(vm->res->why)];
        if (sig == SIGSYS) {
                snprintf(why, sizeof(why),
                         "a system call the engine does not serve (%s, number %llu) at rip 0x%llx",
                         c->arch == 0x40000003u ? "32-bit, int $0x80" : "not a trap of its own",
                         (unsigned long long)c->nr, (unsigned long long)rip);
                vmm_stop(vm, VMM_END_FAULT, 128 + SIGSYS, "%s", why);
                return;
        }
        if (sig != SIGSEGV && sig != SIGBUS && sig != SIGILL && sig != SIGFPE && sig != SIGTRAP) {
                vmm_stop(vm, VMM_END_FAULT, 128 + SIGSEGV,
                         "the guest's process took signal %llu at rip 0x%llx",
                         (unsigned long long)sig, (unsigned long long)rip);
                return;
        }
        unsigned vector = trapno < 32 ? (unsigned)trapno : 13;
        if (sig == SIGTRAP && vector != 1 && vector != 3)
                vector = 3;
        char words[sizeof(why)];
        vmm_fault_words(vm, vector, err, addr, rip, 3, "the stub's own pages below the user area",
                        words, sizeof(words));
        snprintf(why, sizeof(why), "%s%s",
                 rip < VMM_PROC_SYS ? "a fault in the stub's code (its trap handler acting on "
                                      "memory the guest named, or the guest's own jump there): "
                                    : "",
                 words);
        /* a #GP from a non-canonical address or a privileged instruction has
         * no address; the signal decides the code as it would for a process */
        int code = sig == SIGILL    ? 128 + SIGILL
                   : sig == SIGFPE  ? 128 + SIGFPE
                   : sig == SIGTRAP ? 128 + SIGTRAP
                   : sig == SIGBUS  ? 128 + SIGBUS
                                    : 128 + SIGSEGV;
        vmm_stop(vm, VMM_END_FAULT, code, "%s", why);
}

/* Sleeps while the state word holds v: until it changes, a kick, or the
 * next slice (so that a stub that died unseen is found within one). */
static void wait_change(struct vmm_vm *vm, uint32_t v)
{
        struct vmm_proc_ctl *c = ctl_of(vm);
        vm->proc.spin = spare_cpu(true);
        if (vm->proc.spin)
                for (int i = 0; i < PROC_SPIN; i++) {
                        if (__atomic_load_n(&c->state, __ATOMIC_ACQUIRE) != v)
                                return;
                        __builtin_ia32_pause();
                }
        uint64_t now = time_mono_ns();
        uint64_t slice =
            (uint64_t)(vm->spec && vm->spec->cancel ? VMM_CANCEL_TICK_MS : PROC_SLICE_MS) *
            1000000ull;
        uint64_t left = vm->deadline_ns > now ? vm->deadline_ns - now : 0;
        if (left < slice)
                slice = left;
        if (!slice)
                return;
        struct timespec ts = {(time_t)(slice / 1000000000ull), (long)(slice % 1000000000ull)};
        if (futex(&c->state, FUTEX_WAIT, v, &ts) < 0 && errno == ETIMEDOUT)
                unplace_stub(vm, false); /* a guest that computes on */
}

static void proc_run(struct vmm_vm *vm, struct vmm_exit *x)
{
        struct vmm_proc_ctl *c = ctl_of(vm);
        if (!vm->proc.started) { /* go: the stub starts the program */
                vm->proc.started = true;
                __atomic_store_n(&c->state, vm->proc.run, __ATOMIC_RELEASE);
                futex(&c->state, FUTEX_WAKE, 1, NULL);
        }
        x->kind = VMM_EXIT_STOPPED;
        uint32_t s = __atomic_load_n(&c->state, __ATOMIC_ACQUIRE);
        switch (s) {
        case VMM_PROC_SYSCALL:
                /* the break as the stub left it: the guest's own brk calls
                 * (a value the guest wrote there is no more than such a call) */
                if (c->brk_cur != vm->brk_cur)
                        vmm_brk(vm, c->brk_cur);
                x->kind = VMM_EXIT_SYSCALL;
                x->nr = c->nr;
                /* (at the guest's end the stub ends by itself: see the stub) */
                unplace_stub(vm, (c->nr == SYS_exit_group || c->nr == SYS_exit) && !c->park);
                for (int i = 0; i < 6; i++)
                        x->a[i] = c->a[i];
                return;
        case VMM_PROC_FAULT:
                proc_fault(vm);
                return;
        case VMM_PROC_SETUP_ERR:
                /* the stub was set up before the guest started: only the guest
                 * can have written this */
                proc_kill(vm);
                vmm_stop(vm, VMM_END_FAULT, 128 + SIGSEGV,
                         "the guest wrote over the stub's control page (a forged state word)");
                return;
        default:
                break;
        }
        if ((s & VMM_PROC_DIED) &&
            (s & ~(VMM_PROC_DIED | VMM_PROC_WAITERS)) == (uint32_t)vm->proc.nspid) {
                proc_died(vm);
                return;
        }
        /* the guest runs (or the stub sets up, or the guest wrote the word) */
        wait_change(vm, s);
        if (__atomic_load_n(&c->state, __ATOMIC_ACQUIRE) == s) {
                struct pollfd p = {.fd = vm->proc.pidfd, .events = POLLIN};
                if (poll(&p, 1, 0) == 1) {
                        proc_died(vm);
                        return;
                }
        }
        x->kind = VMM_EXIT_AGAIN;
}

static void proc_complete(struct vmm_vm *vm, int64_t ret)
{
        struct vmm_proc_ctl *c = ctl_of(vm);
        c->ret = ret;
        c->spin = vm->proc.spin ? PROC_SPIN : 0; /* as this side last found the CPUs */
        share_brk(vm, c);
        c->nremap = vm->proc.nremap; /* the stub's copy, whatever the guest wrote there */
        vm->proc.nremap = 0;
        __atomic_store_n(&c->state, vm->proc.run, __ATOMIC_RELEASE);
        futex(&c->state, FUTEX_WAKE, 1, NULL);
}

static int proc_set_fs(struct vmm_vm *vm, uint64_t base)
{
        struct vmm_proc_ctl *c = ctl_of(vm);
        c->fs_base = base;
        c->fs_set = 1;
        vm->fs_base = base;
        return 0;
}

static uint64_t proc_get_fs(struct vmm_vm *vm)
{
        const struct vmm_proc_ctl *c = ctl_of(vm);
        return c->fs_set ? c->fs_base : c->fs_cur;
}

/*
 * Zeroes guest memory: a hole punched in the memfd reads as zero in both
 * processes. Over the image's read-only pages (a MAP_FIXED mmap there) both
 * map guest memory again: here now, the stub before it resumes the guest.
 */
static void proc_zero(struct vmm_vm *vm, uint64_t lo, uint64_t hi)
{
        vm->proc.wiped.known = false; /* pages given back: the next wipe walks */
        if (fallocate(vm->proc.memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)lo,
                      (off_t)(hi - lo)) < 0)
                memset(vm->mem + lo, 0, hi - lo);
        bool over = false;
        for (size_t i = 0; i < vm->proc.nro; i++)
                if (vm->proc.ro[i].lo < hi && lo < vm->proc.ro[i].hi)
                        over = true;
        if (!over)
                return;
        struct vmm_proc_ctl *c = ctl_of(vm);
        size_t k = vm->proc.nremap;
        if (k >= VMM_PROC_MAX_REMAPS ||
            mmap(vm->mem + lo, hi - lo, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
                 vm->proc.memfd, (off_t)lo) == MAP_FAILED) {
                vmm_stop(vm, VMM_END_FAULT, 128 + SIGSEGV,
                         "mapping guest memory over the image at 0x%llx failed",
                         (unsigned long long)lo);
                return;
        }
        c->remap[k][0] = lo;
        c->remap[k][1] = hi;
        vm->proc.nremap = k + 1;
        c->nremap = vm->proc.nremap;
        /* what is left of the read-only ranges (a range split in two keeps
         * its lower part: a later overlap with the upper is remapped too) */
        for (size_t i = 0; i < vm->proc.nro; i++) {
                struct vmm_range *r = &vm->proc.ro[i];
                if (!(r->lo < hi && lo < r->hi))
                        continue;
                if (r->lo < lo)
                        r->hi = lo;
                else if (r->hi > hi)
                        r->lo = hi;
                else
                        r->lo = r->hi = 0;
        }
}

/* The call is over. A guest that still runs (a time limit, a cancel) is
 * killed now; a stub parked in its handler waits for the reaper, which
 * reads which pages it touched first. */
static void proc_halt(struct vmm_vm *vm)
{
        unplace_stub(vm, true); /* it ends, or waits to be killed */
        if (vm->proc.pidfd < 0)
                return;
        uint32_t s = __atomic_load_n(&ctl_of(vm)->state, __ATOMIC_ACQUIRE);
        if (s != VMM_PROC_SYSCALL && s != VMM_PROC_FAULT && s != VMM_PROC_READY)
                proc_kill(vm);
}

static void proc_destroy(struct vmm_vm *vm)
{
        unplace_stub(vm, true);
        if (vm->proc.pidfd >= 0 && !vm->proc.gone) {
                /* killed, unless it ended by itself at the guest's exit;
                 * its control page goes back for another stub once its
                 * pidfd says it ended (the zygote reaps it after its next
                 * request). One reaped already, or none made: at once. */
                proc_kill(vm);
                vmm_proc_slot_retire(vm);
        }
        if (vm->proc.pidfd >= 0)
                close(vm->proc.pidfd);
        vm->proc.pidfd = -1;
        vmm_proc_slot_give(vm);
}

/* Waits until the stub is set up and parked (READY), for the pool. */
static int wait_ready(struct vmm_vm *vm, osvm_err *e)
{
        struct vmm_proc_ctl *c = ctl_of(vm);
        uint64_t until = time_mono_ns() + (uint64_t)PROC_SETUP_WAIT_MS * 1000000ull;
        bool timed_out = false;
        for (;;) {
                uint32_t s = __atomic_load_n(&c->state, __ATOMIC_ACQUIRE);
                if (s == VMM_PROC_READY)
                        return 0;
                if (s == VMM_PROC_SETUP_ERR) {
                        char why[256];
                        setup_words(vm, why, sizeof(why));
                        return err_set(e, EIO, "%s", why);
                }
                /* a stub that died while it set up leaves the word as it was:
                 * looked for once a wait ran out (not before each) */
                struct pollfd p = {.fd = vm->proc.pidfd, .events = POLLIN};
                if (timed_out && poll(&p, 1, 0) == 1)
                        return err_set(e, ECHILD, "the stub process ended while it set up");
                uint64_t now = time_mono_ns();
                if (now >= until)
                        return err_set(e, ETIMEDOUT, "the stub process did not set up in %d ms",
                                       PROC_SETUP_WAIT_MS);
                struct timespec ts = {0, 10 * 1000000};
                timed_out = futex(&c->state, FUTEX_WAIT, s, &ts) < 0 && errno == ETIMEDOUT;
        }
}

/* The pages the stub touches ahead (write for guest memory, read for the
 * image's): in the control page while they are few, else through the
 * memfd at VMM_PROC_LIST. */
static void write_list(struct vmm_vm *vm, const uint64_t *list, size_t n)
{
        uint64_t *dst = xcalloc(n ? n : 1, sizeof(*dst));
        size_t k = 0;
        for (size_t i = 0; i < n && k < VMM_PROC_LIST_MAX; i++) {
                uint64_t a = list[i] & ~(VMM_PAGE - 1);
                bool ro = false;
                for (size_t j = 0; j < vm->proc.nro; j++)
                        ro |= a >= vm->proc.ro[j].lo && a < vm->proc.ro[j].hi;
                dst[k++] = a | (ro ? 0 : 1);
        }
        if (k <= VMM_PROC_LIST_INLINE)
                memcpy(ctl_of(vm)->list_inline, dst, k * sizeof(*dst));
        else
                proc_copy_in(vm, VMM_PROC_LIST, dst, k * sizeof(*dst));
        free(dst);
        ctl_of(vm)->nlist = k;
}

_Static_assert(VMM_PREPARE_MAX <= VMM_PROC_FORK_MAX, "the pool's guests in one request");

/* The pool's guests, made alike: each one's memory and image, then every
 * stub in one request to the zygote, then each one set up (READY). */
static size_t proc_prepare(struct vmm_vm *const *vms, bool *ok, size_t n, uint32_t mem_mb,
                           struct vmm_image *img, const uint64_t *list, size_t nlist, osvm_err *e)
{
        size_t forking[VMM_PROC_FORK_MAX]; /* which of vms each stub asked for is */
        int fds[3 * VMM_PROC_FORK_MAX];
        size_t k = 0, nfds = 0, per = 0, made = 0;
        for (size_t i = 0; i < n; i++) {
                osvm_err mine = {0};
                struct vmm_vm *vm = vms[i];
                ok[i] = false;
                if (i >= VMM_PROC_FORK_MAX ||
                    proc_create_for(vm, mem_mb, img ? img->serial : 0, &mine) < 0) {
                        if (i >= VMM_PROC_FORK_MAX)
                                err_set(&mine, EINVAL, "more guests than one request makes");
                        vmm_first_error(e, &mine);
                        continue;
                }
                if (img && proc_load(vm, img, &mine) < 0) {
                        proc_destroy(vm);
                        vmm_first_error(e, &mine);
                        continue;
                }
                write_list(vm, list, nlist);
                /* one image for all: each stub takes as many fds */
                size_t p = vm->proc.imgfd >= 0 ? 3 : 2;
                if (per && p != per) {
                        proc_destroy(vm);
                        continue;
                }
                per = p;
                fds[nfds++] = vm->proc.memfd;
                fds[nfds++] = vm->proc.ctlfd;
                if (per == 3)
                        fds[nfds++] = vm->proc.imgfd;
                forking[k++] = i;
        }
        int pids[VMM_PROC_FORK_MAX], pidfds[VMM_PROC_FORK_MAX];
        osvm_err mine = {0};
        if (k && vmm_proc_zyg_fork(fds, per, k, pids, pidfds, &mine) < 0) {
                for (size_t j = 0; j < k; j++)
                        proc_destroy(vms[forking[j]]);
                vmm_first_error(e, &mine);
                return 0;
        }
        for (size_t j = 0; j < k; j++) {
                struct vmm_vm *vm = vms[forking[j]];
                if (pids[j] < 0) {
                        err_set(&mine, -pids[j], "the zygote could not fork a stub: %s",
                                strerror(-pids[j]));
                        proc_destroy(vm);
                        vmm_first_error(e, &mine);
                        continue;
                }
                proc_forked(vm, pids[j], pidfds[j]);
        }
        /* the stubs set up side by side: waited for in turn, the last forked
         * first (the last to be ready, as a rule: then this thread sleeps
         * once for the lot, not once for each) */
        for (size_t j = k; j-- > 0;) {
                struct vmm_vm *vm = vms[forking[j]];
                if (pids[j] < 0)
                        continue;
                if (wait_ready(vm, &mine) < 0) {
                        proc_destroy(vm);
                        vmm_first_error(e, &mine);
                        continue;
                }
                ok[forking[j]] = true;
                made++;
        }
        return made;
}

static size_t proc_touched(struct vmm_vm *vm, uint64_t *out, size_t max)
{
        int pid = host_pid(vm);
        if (pid <= 0 || vm->proc.gone)
                return 0;
        size_t n = vmm_pagemap_touched(vm, pid, 0, out, max);
        for (size_t i = 0; i < n; i++) {
                uint64_t a = out[i] & ~(VMM_PAGE - 1);
                bool ro = false;
                for (size_t j = 0; j < vm->proc.nro; j++)
                        ro |= a >= vm->proc.ro[j].lo && a < vm->proc.ro[j].hi;
                out[i] = a | (ro ? 0 : 1);
        }
        return n;
}

const struct vmm_platform_ops vmm_platform_process = {
    .id = VMM_PLATFORM_PROCESS,
    .name = "process",
    .kicks = false, /* every wait of the platform's ends at the deadline or a cancel tick */
    .probe = vmm_proc_probe,
    .create = proc_create,
    .load = proc_load,
    .enter = proc_enter,
    .io_setup = proc_io_setup,
    .io = &proc_io,
    .io_hdr = proc_io_hdr,
    .run = proc_run,
    .complete = proc_complete,
    .set_fs_base = proc_set_fs,
    .fs_base = proc_get_fs,
    .zero = proc_zero,
    .copy_in = proc_copy_in,
    .copy_out = proc_copy_out,
    .halt = proc_halt,
    .destroy = proc_destroy,
    .prepare = proc_prepare,
    .prepare_shares = true,
    .touched = proc_touched,
};
