/*
 * The pool and the reaper: one background thread that keeps guests (VMs,
 * or stub processes on the process platform) created ahead of need and
 * tears used ones down off the request path. A guest is used for one call
 * only: nothing of one call reaches the next.
 *
 * A guest made ahead (the platform's prepare) has its memory mapped, its
 * control state set, the image of the latest call loaded, and the pages
 * that image's program touched in its first runs (its profile) touched
 * ahead. On PVM the first KVM_RUN of a VM costs ~250 us and the first touch
 * of each guest page ~40 us; a first touch costs ~25 us in a process on a
 * host that is itself a PVM guest: all paid here. The reaper learns the
 * profile (the platform's touched) before it tears a used guest down.
 * The next guests are made once calls give their own back, not while a
 * call runs (unless the pool runs low): then they do not take CPU time from
 * the call. The thread is woken for half a pool's worth of work at a time,
 * not for every call: each wake-up, and each request to the process
 * platform's zygote, costs more than the guest it would make.
 *
 * The pool grows with the calls: one that finds no guest ready for the
 * pool's image while another call holds a guest of the pool doubles its
 * size (up to POOL_GROW_MAX), so that calls from several threads meet guests
 * made ahead in batches instead of making their own one by one (one thread
 * calling after another does not grow it: its calls meet the guests made
 * while the last one ran); a pool that no call took from for POOL_IDLE_MS
 * halves back toward the size it started with, its extra guests torn down.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "vmm/internal.h"

#define REAP_FIRST    8    /* past this many waiting teardowns, reap before refilling */
#define PROFILE_RUNS  4    /* runs of an image whose pages are learned */
#define POOL_GROW_MAX 16   /* guests ahead a pool grows to (or the size it started with) */
#define POOL_IDLE_MS  2000 /* a pool no call took from this long shrinks by half */

struct node {
        struct vmm_vm vm;
        struct vmm_image *img; /* prepared for (ready) or ran (reap); a reference */
        struct node *next;
};

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cond; /* on CLOCK_MONOTONIC: pool_once */
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static pthread_cond_t pool_idle = PTHREAD_COND_INITIALIZER;
static struct node *ready, *reap;
static unsigned nready, nreap, target;
static unsigned target_min, target_max; /* what target starts at and grows to */
static uint64_t takes;                  /* calls served so far (for the shrink) */
static unsigned made_since;             /* guests made for pool_img since it last grew */
static unsigned nout;                   /* guests taken and not given back: calls running */
static unsigned nmaking; /* guests being made (by the pool, or by a call that outran it) */
static uint32_t pool_mem;
static struct vmm_image *pool_img; /* the image VMs are prepared for (a reference) */
static const struct vmm_platform_ops *pool_plat;
static bool running, stopping;
static pthread_t pool_thread;

static void resources_copy(struct vmm_vm *to, const struct vmm_vm *from)
{
        to->plat = from->plat;
        to->proc = from->proc;
        to->vmfd = from->vmfd;
        to->vcpufd = from->vcpufd;
        to->run = from->run;
        to->run_size = from->run_size;
        to->mem = from->mem;
        to->mem_size = from->mem_size;
        to->memory_mb = from->memory_mb;
        to->stack_lo = from->stack_lo;
        to->guard_lo = from->guard_lo;
        to->cpl0_syscalls = from->cpl0_syscalls;
        to->mode_known = from->mode_known;
}

static void node_free(struct node *n)
{
        n->vm.plat->destroy(&n->vm);
        if (n->img)
                vmm_image_put(n->img);
        free(n);
}

static void nodes_free(struct node *n)
{
        for (struct node *next; n; n = next) {
                next = n->next;
                node_free(n);
        }
}

uint64_t *vmm_pool_profile(const struct vmm_image *img, const struct vmm_vm *vm, size_t *n)
{
        uint64_t *list = NULL;
        *n = 0;
        /* (on KVM the page list goes in the result buffer, which such an
         * image leaves free); only pages this guest has, not the guard */
        pthread_mutex_lock(&pool_lock);
        if (img->nprofile && img->lo >= VMM_LOAD_BASE) {
                list = xmalloc(img->nprofile * sizeof(*list));
                for (size_t i = 0; i < img->nprofile; i++) {
                        uint64_t gpa = img->profile[i] & ~(VMM_PAGE - 1);
                        if (gpa >= VMM_USER_BASE && gpa < vm->mem_size &&
                            !(gpa >= vm->guard_lo && gpa < vm->stack_lo))
                                list[(*n)++] = img->profile[i];
                }
        }
        pthread_mutex_unlock(&pool_lock);
        return list;
}

/* Under pool_lock: whether a run of img in a guest of memory_mb is one
 * whose pages are learned (only from guests of the pool's size: their
 * layout is the one warmed). */
static bool learns(const struct vmm_image *img, uint32_t memory_mb)
{
        return img->profiled_runs < PROFILE_RUNS && memory_mb == pool_mem;
}

bool vmm_pool_learns(const struct vmm_image *img, const struct vmm_vm *vm)
{
        pthread_mutex_lock(&pool_lock);
        bool want = learns(img, vm->memory_mb);
        pthread_mutex_unlock(&pool_lock);
        return want;
}

/* Under pool_lock: whether the pool thread has enough to do to be woken:
 * the ready guests run low, or half a pool's worth wait to be torn down. */
static bool pool_wanted(void)
{
        unsigned half = (target + 1) / 2;
        return nready + nmaking < half || nreap >= (half ? half : 1);
}

/* Up to want guests made ahead for img (NULL: none), at once: a list of
 * those made (NULL when none could be). */
static struct node *make_some(const struct vmm_platform_ops *plat, uint32_t mem_mb,
                              struct vmm_image *img, size_t want)
{
        struct node *n[VMM_PREPARE_MAX];
        struct vmm_vm *vms[VMM_PREPARE_MAX];
        bool ok[VMM_PREPARE_MAX];
        if (want == 0)
                return NULL;
        if (want > VMM_PREPARE_MAX)
                want = VMM_PREPARE_MAX;
        for (size_t i = 0; i < want; i++) {
                n[i] = xcalloc(1, sizeof(*n[i]));
                n[i]->vm.plat = plat;
                /* the layout of a guest of this size, to know whether the image fits */
                n[i]->vm.mem_size = (uint64_t)mem_mb << 20;
                vmm_vm_layout(&n[i]->vm);
                vms[i] = &n[i]->vm;
        }
        if (img && img->hi > n[0]->vm.guard_lo)
                img = NULL;
        osvm_err e = {0};
        uint64_t *list = NULL;
        size_t nlist = 0;
        if (img)
                list = vmm_pool_profile(img, &n[0]->vm, &nlist);
        size_t made = plat->prepare(vms, ok, want, mem_mb, img, list, nlist, &e);
        free(list);
        if (made < want) {
                if (nlist) { /* never again with this list */
                        pthread_mutex_lock(&pool_lock);
                        img->nprofile = 0;
                        img->profiled_runs = PROFILE_RUNS;
                        pthread_mutex_unlock(&pool_lock);
                }
                log_warn("vmm: pool: making a %s guest ahead failed: %s", plat->name, e.msg);
        }
        struct node *head = NULL;
        for (size_t i = want; i-- > 0;) {
                if (!ok[i]) {
                        free(n[i]);
                        continue;
                }
                n[i]->img = img ? vmm_image_ref(img) : NULL;
                n[i]->next = head;
                head = n[i];
        }
        return head;
}

/* Under pool_lock: guests made go to the ready list, those made for an image
 * the calls have moved on from to the reaper. While the pool stops, none
 * does: they are returned, for the caller to free once it unlocked. */
static struct node *file_made(struct node *made)
{
        if (!running || stopping)
                return made;
        for (struct node *n = made, *next; n; n = next) {
                next = n->next;
                if (n->img != pool_img) { /* the calls moved on to another image */
                        n->next = reap;
                        reap = n;
                        nreap++;
                        continue;
                }
                n->next = ready;
                ready = n;
                nready++;
                made_since++;
        }
        return NULL;
}

/* The pages of a used guest that are in memory: touched by the guest (or by
 * the host on its behalf). */
static void learn_profile(struct node *n)
{
        struct vmm_image *img = n->img;
        pthread_mutex_lock(&pool_lock);
        bool want = learns(img, n->vm.memory_mb);
        if (want)
                img->profiled_runs++;
        pthread_mutex_unlock(&pool_lock);
        if (!want)
                return;
        uint64_t *found = xmalloc(VMM_WARM_MAX * sizeof(*found));
        size_t nfound = n->vm.plat->touched(&n->vm, found, VMM_WARM_MAX);
        /* merge with what earlier runs touched (both sorted) */
        pthread_mutex_lock(&pool_lock);
        uint64_t *merged = xmalloc(VMM_WARM_MAX * sizeof(*merged));
        size_t a = 0, b = 0, m = 0;
        while ((a < img->nprofile || b < nfound) && m < VMM_WARM_MAX) {
                uint64_t x = a < img->nprofile ? img->profile[a] : UINT64_MAX;
                uint64_t y = b < nfound ? found[b] : UINT64_MAX;
                if ((x & ~1ull) == (y & ~1ull)) {
                        merged[m++] = x | y;
                        a++;
                        b++;
                } else if ((x & ~1ull) < (y & ~1ull)) {
                        merged[m++] = x;
                        a++;
                } else {
                        merged[m++] = y;
                        b++;
                }
        }
        free(img->profile);
        img->profile = merged;
        img->nprofile = m;
        pthread_mutex_unlock(&pool_lock);
        free(found);
}

/* Under pool_lock: the pool half its size (not below where it started),
 * the ready guests past it to the reaper. */
static void shrink(void)
{
        target = target / 2 > target_min ? target / 2 : target_min;
        while (nready > target) {
                struct node *n = ready;
                ready = n->next;
                nready--;
                n->next = reap;
                reap = n;
                nreap++;
        }
}

static void pool_cond_init(void)
{
        pthread_condattr_t a;
        pthread_condattr_init(&a);
        pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
        pthread_cond_init(&pool_cond, &a);
        pthread_condattr_destroy(&a);
}

static void *pool_main(void *arg)
{
        (void)arg;
        unsigned failures = 0;
        pthread_mutex_lock(&pool_lock);
        while (!stopping) {
                if (reap && (nready + nmaking >= target || nreap > REAP_FIRST)) {
                        struct node *n = reap;
                        reap = n->next;
                        nreap--;
                        pthread_mutex_unlock(&pool_lock);
                        if (n->img)
                                learn_profile(n);
                        node_free(n);
                        pthread_mutex_lock(&pool_lock);
                        continue;
                }
                if (nready + nmaking < target) {
                        /* every guest missing, in one go */
                        uint32_t mem = pool_mem;
                        unsigned want = target - nready - nmaking;
                        struct vmm_image *img = pool_img ? vmm_image_ref(pool_img) : NULL;
                        nmaking += want;
                        pthread_mutex_unlock(&pool_lock);
                        struct node *made = make_some(pool_plat, mem, img, want);
                        if (img)
                                vmm_image_put(img);
                        pthread_mutex_lock(&pool_lock);
                        nmaking -= want;
                        if (!made) {
                                if (++failures >= 3)
                                        target = 0; /* stop trying; calls make their own VMs */
                                continue;
                        }
                        failures = 0;
                        struct node *left = file_made(made);
                        if (left) {
                                pthread_mutex_unlock(&pool_lock);
                                nodes_free(left);
                                pthread_mutex_lock(&pool_lock);
                        }
                        continue;
                }
                pthread_cond_broadcast(&pool_idle);
                if (target <= target_min) {
                        pthread_cond_wait(&pool_cond, &pool_lock);
                        continue;
                }
                uint64_t seen = takes;
                struct timespec until =
                    time_after(CLOCK_MONOTONIC, (uint64_t)POOL_IDLE_MS * 1000000u);
                if (pthread_cond_timedwait(&pool_cond, &pool_lock, &until) == ETIMEDOUT &&
                    takes == seen && !stopping)
                        shrink();
        }
        pthread_cond_broadcast(&pool_idle);
        struct node *lists[2] = {ready, reap};
        ready = reap = NULL;
        nready = nreap = 0;
        struct vmm_image *img = pool_img;
        pool_img = NULL;
        pthread_mutex_unlock(&pool_lock);
        for (int i = 0; i < 2; i++)
                nodes_free(lists[i]);
        if (img)
                vmm_image_put(img);
        return NULL;
}

int vmm_pool_start(unsigned n, uint32_t memory_mb, osvm_err *e)
{
        return vmm_pool_start_platform(VMM_PLATFORM_AUTO, n, memory_mb, e);
}

int vmm_pool_start_platform(enum vmm_platform p, unsigned n, uint32_t memory_mb, osvm_err *e)
{
        if (memory_mb < VMM_MEM_MIN_MB || memory_mb > VMM_MEM_MAX_MB)
                return err_set(e, EINVAL, "pool: memory %u MiB is not between %u and %u MiB",
                               memory_mb, VMM_MEM_MIN_MB, VMM_MEM_MAX_MB);
        if (n > 64)
                return err_set(e, EINVAL, "pool: %u VMs ahead, at most 64", n);
        const struct vmm_platform_ops *plat = vmm_platform_pick(p, e);
        char why[256];
        if (!plat)
                return -1;
        if (!plat->probe(why, sizeof(why)))
                return err_set(e, ENODEV, "pool: %s", why);
        pthread_once(&pool_once, pool_cond_init);
        pthread_mutex_lock(&pool_lock);
        if (running) {
                pthread_mutex_unlock(&pool_lock);
                return err_set(e, EBUSY, "pool: already started");
        }
        target = target_min = n;
        target_max = n > POOL_GROW_MAX ? n : POOL_GROW_MAX;
        takes = 0;
        made_since = 0;
        nout = 0;
        pool_plat = plat;
        pool_mem = (memory_mb + 1) & ~1u;
        stopping = false;
        int r = pthread_create(&pool_thread, NULL, pool_main, NULL);
        running = r == 0;
        pthread_mutex_unlock(&pool_lock);
        if (r != 0)
                return err_set(e, r, "pool: starting its thread: %s", strerror(r));
        return 0;
}

bool vmm_pool_take(const struct vmm_platform_ops *plat, uint32_t mem_mb, struct vmm_image *img,
                   struct vmm_vm *vm)
{
        pthread_mutex_lock(&pool_lock);
        struct node *n = NULL, *extra = NULL;
        if (running && !stopping && mem_mb == pool_mem && plat == pool_plat) {
                bool same = img == pool_img;
                if (!same) {
                        /* prepare for this image from now on; VMs loaded with
                         * another one go to the reaper */
                        if (pool_img)
                                vmm_image_put(pool_img);
                        pool_img = vmm_image_ref(img);
                        made_since = 0;
                        for (struct node **pp = &ready; *pp;) {
                                struct node *r = *pp;
                                if (!r->img || r->img == img) {
                                        pp = &r->next;
                                        continue;
                                }
                                *pp = r->next;
                                nready--;
                                r->next = reap;
                                reap = r;
                                nreap++;
                        }
                }
                /* one loaded with this image, or one with none (the call loads it) */
                for (struct node **pp = &ready; *pp; pp = &(*pp)->next) {
                        if ((*pp)->img == img || !(*pp)->img) {
                                n = *pp;
                                *pp = n->next;
                                nready--;
                                break;
                        }
                }
                takes++;
                /* calls running side by side outrun the pool: a bigger
                 * one, made in bigger batches. Once it made as many as it
                 * holds (not while it fills at its start, after a change of
                 * image or after it last grew; not once it gave up) */
                if (!n && same && nout && target && target < target_max && made_since >= target) {
                        target = target * 2 < target_max ? target * 2 : target_max;
                        made_since = 0;
                }
                /* none ready for the image the pool works for (the calls
                 * outrun it): this call makes what is missing, its own guest
                 * among them, in one go, where that costs less a guest. A
                 * call of another image makes its own alone (below). */
                bool make_here = !n && same && plat->prepare_shares;
                /* refilled once calls are over (vmm_pool_give), so that
                 * making the next guests does not compete with this one for
                 * the CPUs; at once when the pool runs low */
                if (!make_here && (!n || pool_wanted()))
                        pthread_cond_signal(&pool_cond);
                if (make_here) {
                        unsigned want = target > nready + nmaking ? target - nready - nmaking : 1;
                        nmaking += want;
                        pthread_mutex_unlock(&pool_lock);
                        struct node *made = make_some(plat, mem_mb, img, want);
                        pthread_mutex_lock(&pool_lock);
                        nmaking -= want;
                        n = made;
                        extra = made ? file_made(made->next) : NULL; /* freed below */
                }
                if (n)
                        nout++;
        }
        pthread_mutex_unlock(&pool_lock);
        nodes_free(extra);
        if (!n)
                return false;
        resources_copy(vm, &n->vm);
        vm->prepared = n->img; /* the reference moves to the caller's VM */
        vm->pooled = true;
        free(n);
        return true;
}

void vmm_pool_give(struct vmm_vm *vm, struct vmm_image *img)
{
        pthread_mutex_lock(&pool_lock);
        if (vm->pooled && nout)
                nout--;
        vm->pooled = false;
        if (running && !stopping) {
                struct node *n = xcalloc(1, sizeof(*n));
                resources_copy(&n->vm, vm);
                n->img = img ? vmm_image_ref(img) : NULL;
                n->next = reap;
                reap = n;
                nreap++;
                if (pool_wanted())
                        pthread_cond_signal(&pool_cond);
                pthread_mutex_unlock(&pool_lock);
        } else {
                pthread_mutex_unlock(&pool_lock);
                vm->plat->destroy(vm);
        }
        if (vm->prepared)
                vmm_image_put(vm->prepared);
        vm->prepared = NULL;
        vm->run = NULL;
        vm->mem = NULL;
        vm->vmfd = vm->vcpufd = -1;
}

/* Whether the pool has guests to make or to tear down. Under pool_lock. */
static bool pool_has_work(void)
{
        return running && !stopping && (reap || nready + nmaking < target);
}

void vmm_pool_wait_idle(void)
{
        pthread_mutex_lock(&pool_lock);
        /* a take may have left the refill for later; an idle pool is left
         * asleep */
        if (pool_has_work())
                pthread_cond_signal(&pool_cond);
        while (pool_has_work())
                pthread_cond_wait(&pool_idle, &pool_lock);
        pthread_mutex_unlock(&pool_lock);
}

void vmm_pool_counts(unsigned *now, unsigned *size)
{
        pthread_mutex_lock(&pool_lock);
        *now = nready;
        *size = target;
        pthread_mutex_unlock(&pool_lock);
}

void vmm_shutdown(void)
{
        pthread_once(&pool_once, pool_cond_init);
        pthread_mutex_lock(&pool_lock);
        bool was = running;
        stopping = true;
        pthread_cond_signal(&pool_cond);
        pthread_mutex_unlock(&pool_lock);
        if (was)
                pthread_join(pool_thread, NULL);
        pthread_mutex_lock(&pool_lock);
        running = false;
        pthread_mutex_unlock(&pool_lock);
        vmm_proc_shutdown(); /* no process of the engine's outlives it */
        vmm_image_cache_clear();
}
