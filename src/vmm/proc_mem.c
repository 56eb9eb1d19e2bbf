/*
 * The process platform's kept pages: control pages and guest memory, mapped
 * in osvm for good and given to one stub at a time.
 *
 * A stub's control pages (the control page and its set-up stack) are a
 * memfd of their own that osvm maps once and keeps: taken from here for a
 * stub, zeroed, and given back once that stub is gone (no other process
 * maps them then). Mapping and unmapping a page osvm touched
 * costs a TLB flush on every CPU osvm's threads run on (~50 us here).
 *
 * Its guest memory goes back with it, memfd and mapping, and serves the next
 * guest of that size: wiped when taken (mem_wipe), its pages zeroed in place
 * while they are few, so that the next stub maps pages that exist rather
 * than allocating, zeroing and later freeing each (a first touch of a new
 * page is the dearest step of a small call), and osvm makes and tears down
 * no memfd and no mapping per call. The design: docs/vmm.md, "Guest
 * memory".
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/proc.h"

#define SLOTS_KEPT   64
#define MEM_KEEP_MAX (256u << 10) /* bytes of a wiped guest's pages kept, zeroed */
static pthread_mutex_t slot_lock = PTHREAD_MUTEX_INITIALIZER;
static struct slot {
        int fd;
        struct vmm_proc_ctl *ctl;
        int memfd; /* guest memory, or -1 */
        uint8_t *mem;
        uint64_t mem_size;
        size_t nro; /* ranges of mem mapped from an image (copy-on-write) */
        struct vmm_range ro[VMM_PROC_MAX_SEGS];
        int64_t ro_delta[VMM_PROC_MAX_SEGS];
        uint64_t ro_serial; /* the image they map (its serial), kept for its next call */
        struct vmm_proc_wiped wiped;
} slots[SLOTS_KEPT];
static size_t nslots;

/*
 * Stubs killed whose end has not shown on their pidfd yet, with their
 * control pages: a page goes back for another stub only once its stub is
 * gone (a live one could still write it). Looked at without waiting before
 * a page is taken, so that no thread sleeps on a stub's end.
 */
#define DYING_MAX 64
static struct dying {
        int pidfd, pid;
        struct slot sl;
        uint64_t since_ns;
} dying[DYING_MAX];
static size_t ndying;

static void slot_free_mem(struct slot *sl)
{
        if (sl->memfd < 0)
                return;
        munmap(sl->mem, sl->mem_size);
        close(sl->memfd);
        sl->memfd = -1;
        sl->mem = NULL;
        sl->nro = 0;
        sl->ro_serial = 0;
        sl->wiped.known = false;
}

static void slot_free(struct slot sl)
{
        slot_free_mem(&sl);
        munmap(sl.ctl, VMM_PROC_CTL_SIZE);
        close(sl.fd);
}

/* Zeroes [lo, hi) of a memfd whose pages there exist. */
static bool zero_in_place(int memfd, off_t lo, off_t hi)
{
        static const uint8_t zeros[65536];
        for (off_t o = lo; o < hi;) {
                size_t n = (size_t)(hi - o) < sizeof(zeros) ? (size_t)(hi - o) : sizeof(zeros);
                ssize_t w = pwrite(memfd, zeros, n, o);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return false;
                o += w;
        }
        return true;
}

/* Whether guest memory holds the pages its last wipe left and no other: no
 * page was given back since (a hole punched: proc_zero says so), and the
 * memfd holds as many pages as then (only a hole punched takes one away:
 * the memfd's size is sealed, and the stub's filter lets no madvise but
 * populating through). One fstat, where a walk of the memfd's extents takes
 * two lseeks an extent. */
static bool mem_as_wiped(const struct slot *sl)
{
        struct stat st;
        return sl->wiped.known && fstat(sl->memfd, &st) == 0 &&
               (uint64_t)st.st_blocks * 512u == sl->wiped.bytes;
}

/*
 * The guest memory of a slot whose stub is gone, made as new: every page the
 * memfd holds reads as zero (zeroed in place up to MEM_KEEP_MAX, past it
 * given back). The image's ranges stay mapped in osvm's view, for the next
 * call of the same image (proc_load maps nothing then), with osvm's own
 * copies of pages it wrote there dropped: they read as the image again.
 * The pages left are noted (sl->wiped): when the next guest added none,
 * they are the ones to zero, and the memfd need not be walked.
 * False when that could not be done: the memory is not to be used.
 */
static bool mem_wipe(struct slot *sl)
{
        struct vmm_proc_wiped *w = &sl->wiped;
        for (size_t i = 0; i < sl->nro; i++)
                if (sl->ro[i].hi > sl->ro[i].lo &&
                    madvise(sl->mem + sl->ro[i].lo, sl->ro[i].hi - sl->ro[i].lo, MADV_DONTNEED) < 0)
                        return false;
        if (mem_as_wiped(sl)) {
                for (size_t i = 0; i < w->n; i++)
                        if (!zero_in_place(sl->memfd, (off_t)w->ext[i].lo, (off_t)w->ext[i].hi)) {
                                w->known = false;
                                return false;
                        }
                return true;
        }
        bool fits = true;
        *w = (struct vmm_proc_wiped){0};
        off_t at = 0, size = (off_t)sl->mem_size;
        while (at < size) {
                off_t lo = lseek(sl->memfd, at, SEEK_DATA);
                if (lo < 0 && errno == ENXIO)
                        break; /* no page past at */
                off_t hi = lo < 0 ? -1 : lseek(sl->memfd, lo, SEEK_HOLE);
                if (lo < 0 || hi <= lo || hi > size) { /* unknown: every page given back */
                        *w = (struct vmm_proc_wiped){0};
                        w->known = fallocate(sl->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                                             0, size) == 0;
                        return w->known;
                }
                uint64_t len = (uint64_t)(hi - lo);
                if (w->bytes + len > MEM_KEEP_MAX) {
                        if (fallocate(sl->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, lo,
                                      hi - lo) < 0)
                                return false;
                } else {
                        if (!zero_in_place(sl->memfd, lo, hi))
                                return false;
                        if (w->n < VMM_PROC_WIPED_MAX)
                                w->ext[w->n++] = (struct vmm_range){(uint64_t)lo, (uint64_t)hi};
                        else
                                fits = false;
                        w->bytes += len;
                }
                at = hi;
        }
        w->known = fits;
        return true;
}

/* Under slot_lock: keeps sl for another stub (vmm_proc_slot_take wipes it before
 * use); false when enough are kept (the caller frees it). */
static bool slot_keep(struct slot sl)
{
        if (nslots >= SLOTS_KEPT)
                return false;
        slots[nslots++] = sl;
        return true;
}

/* Under slot_lock: the stubs that ended give their pages back; one past
 * wait_ms since its kill is given up on (its page dropped). */
static void dying_sweep(int wait_ms)
{
        if (!ndying)
                return;
        struct pollfd p[DYING_MAX];
        for (size_t i = 0; i < ndying; i++)
                p[i] = (struct pollfd){.fd = dying[i].pidfd, .events = POLLIN};
        if (poll(p, ndying, wait_ms) < 0) /* none seen to end: the time bound still holds */
                for (size_t i = 0; i < ndying; i++)
                        p[i].revents = 0;
        uint64_t now = time_mono_ns();
        size_t k = 0;
        for (size_t i = 0; i < ndying; i++) {
                struct dying *d = &dying[i];
                bool ended = p[i].revents != 0;
                if (!ended && now - d->since_ns < (uint64_t)PROC_DEATH_WAIT_MS * 1000000ull) {
                        dying[k++] = *d;
                        continue;
                }
                if (!ended)
                        log_warn("vmm: a stub process (pid %d) did not end", d->pid);
                close(d->pidfd);
                if (d->sl.fd < 0)
                        continue;
                if (!ended || !slot_keep(d->sl))
                        slot_free(d->sl);
        }
        ndying = k;
}

void vmm_proc_slots_settle(void)
{
        pthread_mutex_lock(&slot_lock);
        while (ndying)
                dying_sweep(PROC_SLICE_MS);
        for (size_t i = 0; i < nslots; i++)
                slot_free_mem(&slots[i]);
        pthread_mutex_unlock(&slot_lock);
}

size_t vmm_proc_kept_memory(uint32_t mem_mb, int wait_ms)
{
        size_t n = 0;
        pthread_mutex_lock(&slot_lock);
        dying_sweep(wait_ms);
        for (size_t i = 0; i < nslots; i++)
                n += slots[i].memfd >= 0 && slots[i].mem_size == (uint64_t)mem_mb << 20;
        pthread_mutex_unlock(&slot_lock);
        return n;
}

/* New guest memory for vm: a sealed memfd of vm->mem_size bytes, mapped. */
static int mem_make(struct vmm_vm *vm, osvm_err *e)
{
        unsigned mb = (unsigned)(vm->mem_size >> 20);
        int fd = memfd_create("osvm-guest", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0)
                return err_sys(e, "guest memory: memfd");
        if (ftruncate(fd, (off_t)vm->mem_size) < 0 ||
            fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
                err_sys(e, "allocating %u MiB of guest memory", mb);
                close(fd);
                return -1;
        }
        void *mem = mmap(NULL, vm->mem_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (mem == MAP_FAILED) {
                err_sys(e, "mapping %u MiB of guest memory", mb);
                close(fd);
                return -1;
        }
        vm->mem = mem;
        vm->proc.memfd = fd;
        vm->proc.wiped = (struct vmm_proc_wiped){.known = true}; /* no page yet */
        return 0;
}

/* Under slot_lock: the newest kept slot (its index + 1) with memory of
 * vm's size whose image ranges map image serial (any, when 0); 0: none. */
static size_t slot_find(const struct vmm_vm *vm, uint64_t serial)
{
        for (size_t i = nslots; i > 0; i--)
                if (slots[i - 1].memfd >= 0 && slots[i - 1].mem_size == vm->mem_size &&
                    (!serial || slots[i - 1].ro_serial == serial))
                        return i;
        return 0;
}

/* Memory that served the image of serial last still has its ranges
 * mapped in osvm's view (proc_load then maps nothing). */
int vmm_proc_slot_take(struct vmm_vm *vm, uint64_t serial, osvm_err *e)
{
        struct slot sl = {.fd = -1, .memfd = -1};
        pthread_mutex_lock(&slot_lock);
        dying_sweep(0);
        /* the newest with memory of this size that served this image, else
         * the newest with memory of this size, else the newest */
        size_t pick = serial ? slot_find(vm, serial) : 0;
        if (pick == 0)
                pick = slot_find(vm, 0);
        if (pick == 0)
                pick = nslots;
        if (pick > 0) {
                sl = slots[pick - 1];
                slots[pick - 1] = slots[--nslots];
        }
        pthread_mutex_unlock(&slot_lock);
        if (sl.memfd >= 0 && (sl.mem_size != vm->mem_size || !mem_wipe(&sl)))
                slot_free_mem(&sl);
        if (sl.fd < 0) {
                sl.fd = memfd_create("osvm-ctl", MFD_CLOEXEC | MFD_ALLOW_SEALING);
                if (sl.fd < 0 || ftruncate(sl.fd, VMM_PROC_CTL_SIZE) < 0 ||
                    fcntl(sl.fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
                        err_sys(e, "a stub's control page");
                        if (sl.fd >= 0)
                                close(sl.fd);
                        return -1;
                }
                sl.ctl =
                    mmap(NULL, VMM_PROC_CTL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, sl.fd, 0);
                if (sl.ctl == MAP_FAILED) {
                        err_sys(e, "mapping a stub's control page");
                        close(sl.fd);
                        return -1;
                }
        }
        memset(sl.ctl, 0, VMM_PROC_CTL_SIZE); /* the last stub's stack too */
        vm->proc.ctlfd = sl.fd;
        vm->proc.ctl = sl.ctl;
        vm->proc.memfd = sl.memfd;
        vm->mem = sl.mem;
        if (sl.memfd >= 0) { /* an image's ranges still mapped here (proc_load) */
                vm->proc.wiped = sl.wiped;
                vm->proc.nro = sl.nro;
                vm->proc.ro_serial = sl.ro_serial;
                memcpy(vm->proc.ro, sl.ro, sizeof(sl.ro));
                memcpy(vm->proc.ro_delta, sl.ro_delta, sizeof(sl.ro_delta));
        }
        if (vm->proc.memfd < 0 && mem_make(vm, e) < 0) {
                vmm_proc_slot_give(vm);
                return -1;
        }
        return 0;
}

/* vm's control page and guest memory, as a slot to keep. */
static struct slot slot_of(struct vmm_vm *vm)
{
        struct slot sl = {.fd = vm->proc.ctlfd,
                          .ctl = vm->proc.ctl,
                          .memfd = vm->proc.memfd,
                          .mem = vm->mem,
                          .mem_size = vm->mem_size,
                          .nro = vm->proc.nro,
                          .ro_serial = vm->proc.ro_serial,
                          .wiped = vm->proc.wiped};
        memcpy(sl.ro, vm->proc.ro, sizeof(sl.ro));
        memcpy(sl.ro_delta, vm->proc.ro_delta, sizeof(sl.ro_delta));
        vm->proc.ctlfd = vm->proc.memfd = -1;
        vm->proc.ctl = NULL;
        vm->mem = NULL;
        return sl;
}

void vmm_proc_slot_give(struct vmm_vm *vm)
{
        if (vm->proc.ctlfd < 0)
                return;
        struct slot sl = slot_of(vm);
        pthread_mutex_lock(&slot_lock);
        bool kept = slot_keep(sl);
        pthread_mutex_unlock(&slot_lock);
        if (!kept)
                slot_free(sl);
}

/* (The oldest waited for when too many do.) */
void vmm_proc_slot_retire(struct vmm_vm *vm)
{
        struct slot sl = slot_of(vm);
        pthread_mutex_lock(&slot_lock);
        while (ndying == DYING_MAX)
                dying_sweep(PROC_SLICE_MS);
        dying[ndying++] = (struct dying){vm->proc.pidfd, vm->proc.nspid, sl, time_mono_ns()};
        pthread_mutex_unlock(&slot_lock);
        vm->proc.pidfd = -1;
}
