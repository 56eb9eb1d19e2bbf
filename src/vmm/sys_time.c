/*
 * Time: the clocks the guest reads (its CPU clocks are the VM's wall time),
 * sleeps, and futex waits for a guest of one thread.
 *
 * Everything here reads hostile input: a time value is checked as the
 * kernel checks it and saturates rather than overflows, and every wait ends
 * by the call's deadline or at its cancel flag (vmm_wait_until).
 */
#include <errno.h>
#include <time.h>

#include "vmm/internal.h"

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

/* ---- clocks ---- */

/* clock_gettime (gettime) and clock_getres. */
int64_t vmm_sys_clock(struct vmm_vm *vm, bool gettime, uint64_t clk, uint64_t buf)
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

int64_t vmm_sys_gettimeofday(struct vmm_vm *vm, uint64_t tvp, uint64_t tzp)
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

int64_t vmm_sys_time(struct vmm_vm *vm, uint64_t tloc)
{
        int64_t t = (int64_t)time(NULL);
        if (tloc && vmm_guest_put(vm, tloc, &t, 8) < 0)
                return -EFAULT;
        return t;
}

/* ---- sleeps and futex waits ---- */

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

int64_t vmm_sys_nanosleep(struct vmm_vm *vm, uint64_t req)
{
        return do_sleep(vm, CLOCK_MONOTONIC, 0, req);
}

int64_t vmm_sys_clock_nanosleep(struct vmm_vm *vm, uint64_t clk, uint64_t flags, uint64_t req)
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
int64_t vmm_sys_futex(struct vmm_vm *vm, uint64_t uaddr, uint64_t op, uint64_t val,
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
