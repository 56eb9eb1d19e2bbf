/*
 * The pool and the reaper: one background thread that keeps VMs created
 * ahead of need (memory mapped, vCPU in long mode, system pages written,
 * warmed up by one KVM_RUN) and tears used VMs down off the request path.
 * A VM is used for one call only: nothing of one call reaches the next.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "vmm/internal.h"

#define REAP_FIRST 8 /* past this many waiting teardowns, reap before refilling */

struct node {
        struct vmm_vm vm;
        struct node *next;
};

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cond = PTHREAD_COND_INITIALIZER;
static pthread_cond_t pool_idle = PTHREAD_COND_INITIALIZER;
static struct node *ready, *reap;
static unsigned nready, nreap, target;
static uint32_t pool_mem;
static bool running, stopping;
static pthread_t pool_thread;

static void resources_copy(struct vmm_vm *to, const struct vmm_vm *from)
{
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

static struct node *make_one(uint32_t mem_mb)
{
        struct node *n = xcalloc(1, sizeof(*n));
        osvm_err e = {0};
        if (vmm_vm_create(&n->vm, mem_mb, &e) < 0)
                goto fail;
        vmm_vm_layout(&n->vm);
        if (vmm_vm_setup_cpu(&n->vm, &e) < 0 || vmm_vm_warmup(&n->vm, &e) < 0) {
                vmm_vm_destroy(&n->vm);
                goto fail;
        }
        return n;
fail:
        log_warn("vmm: pool: making a VM ahead failed: %s", e.msg);
        free(n);
        return NULL;
}

static void *pool_main(void *arg)
{
        (void)arg;
        unsigned failures = 0;
        pthread_mutex_lock(&pool_lock);
        while (!stopping) {
                if (reap && (nready >= target || nreap > REAP_FIRST)) {
                        struct node *n = reap;
                        reap = n->next;
                        nreap--;
                        pthread_mutex_unlock(&pool_lock);
                        vmm_vm_destroy(&n->vm);
                        free(n);
                        pthread_mutex_lock(&pool_lock);
                        continue;
                }
                if (nready < target) {
                        uint32_t mem = pool_mem;
                        pthread_mutex_unlock(&pool_lock);
                        struct node *n = make_one(mem);
                        pthread_mutex_lock(&pool_lock);
                        if (!n) {
                                if (++failures >= 3)
                                        target = 0; /* stop trying; calls make their own VMs */
                                continue;
                        }
                        failures = 0;
                        n->next = ready;
                        ready = n;
                        nready++;
                        continue;
                }
                pthread_cond_broadcast(&pool_idle);
                pthread_cond_wait(&pool_cond, &pool_lock);
        }
        pthread_cond_broadcast(&pool_idle);
        struct node *lists[2] = {ready, reap};
        ready = reap = NULL;
        nready = nreap = 0;
        pthread_mutex_unlock(&pool_lock);
        for (int i = 0; i < 2; i++)
                for (struct node *n = lists[i], *next; n; n = next) {
                        next = n->next;
                        vmm_vm_destroy(&n->vm);
                        free(n);
                }
        return NULL;
}

int vmm_pool_start(unsigned n, uint32_t memory_mb, osvm_err *e)
{
        if (memory_mb < VMM_MEM_MIN_MB || memory_mb > VMM_MEM_MAX_MB)
                return err_set(e, EINVAL, "pool: memory %u MiB is not between %u and %u MiB",
                               memory_mb, VMM_MEM_MIN_MB, VMM_MEM_MAX_MB);
        if (n > 64)
                return err_set(e, EINVAL, "pool: %u VMs ahead, at most 64", n);
        if (vmm_kvm_fd(e) < 0)
                return -1;
        pthread_mutex_lock(&pool_lock);
        if (running) {
                pthread_mutex_unlock(&pool_lock);
                return err_set(e, EBUSY, "pool: already started");
        }
        target = n;
        pool_mem = (memory_mb + 1) & ~1u;
        stopping = false;
        int r = pthread_create(&pool_thread, NULL, pool_main, NULL);
        running = r == 0;
        pthread_mutex_unlock(&pool_lock);
        if (r != 0)
                return err_set(e, r, "pool: starting its thread: %s", strerror(r));
        return 0;
}

bool vmm_pool_take(uint32_t mem_mb, struct vmm_vm *vm)
{
        pthread_mutex_lock(&pool_lock);
        struct node *n = NULL;
        if (running && mem_mb == pool_mem && ready) {
                n = ready;
                ready = n->next;
                nready--;
                pthread_cond_signal(&pool_cond);
        }
        pthread_mutex_unlock(&pool_lock);
        if (!n)
                return false;
        resources_copy(vm, &n->vm);
        free(n);
        return true;
}

void vmm_pool_give(struct vmm_vm *vm)
{
        pthread_mutex_lock(&pool_lock);
        if (running && !stopping) {
                struct node *n = xcalloc(1, sizeof(*n));
                resources_copy(&n->vm, vm);
                n->next = reap;
                reap = n;
                nreap++;
                pthread_cond_signal(&pool_cond);
                pthread_mutex_unlock(&pool_lock);
        } else {
                pthread_mutex_unlock(&pool_lock);
                vmm_vm_destroy(vm);
        }
        vm->run = NULL;
        vm->mem = NULL;
        vm->vmfd = vm->vcpufd = -1;
}

void vmm_pool_wait_idle(void)
{
        pthread_mutex_lock(&pool_lock);
        while (running && !stopping && (reap || nready < target))
                pthread_cond_wait(&pool_idle, &pool_lock);
        pthread_mutex_unlock(&pool_lock);
}

void vmm_shutdown(void)
{
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
        vmm_image_cache_clear();
}
