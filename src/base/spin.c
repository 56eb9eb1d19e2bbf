/*
 * Waiting on file descriptors, spinning first (base.h, spin_poll).
 *
 * A process that blocks in poll() gives its CPU up; when nothing else wants
 * that CPU it goes idle, and on a virtual machine an idle vCPU halts into
 * the hypervisor. The wake-up that ends the wait then costs an interrupt
 * sent to that vCPU and its return to the guest: tens of microseconds,
 * more than a short answer takes to make. A wait whose answers come within
 * a few hundred microseconds is therefore spun on first, by polling with no
 * timeout until the answer comes or the spin's time is up, and blocks only
 * after that. gVisor's systrap hands system calls between its stub and its
 * Sentry the same way (spin first, futex after).
 *
 * A spin only pays while a CPU is idle for it to use. It is made only
 *  - where this process may run on two CPUs or more: its affinity, and the
 *    CPU quota (cpu.max) of its cgroup and of the cgroups above it;
 *  - while no more threads are runnable on the machine than it has CPUs
 *    (this one counted: it and the peer it waits for fill two), from
 *    /proc/loadavg; on a busy machine a spin takes a CPU from the peer it
 *    waits for, and makes the wait longer;
 *  - for a wait that has, on average, lasted less than the longest spin:
 *    each wait's own history (struct spin_wait) says how long the next is
 *    likely to be, and the spin lasts twice that, so a wait for a slow
 *    answer (a tool that works for a while, a client that is idle) is not
 *    spun on at all.
 * The spin yields the CPU between its polls: the peer it waits for may have
 * been woken onto this CPU, and runs then rather than at the spin's end.
 * OSVM_SPIN_US sets the longest spin in microseconds (0: never spin).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"

#define SPIN_DEFAULT_US 300u
/* What OSVM_SPIN_US may ask for, at most: a spin does not look at the call's
 * cancel flag or deadline, so it is kept short enough not to delay them. */
#define SPIN_MAX_US 10000u

static pthread_once_t once = PTHREAD_ONCE_INIT;
static uint64_t spin_max_ns; /* 0: no spinning in this process */
static long cpus;            /* online CPUs, as /proc/loadavg counts them */
static int loadavg_fd = -1;

/* Whether a cgroup v2 CPU quota, this process's own or that of a cgroup
 * above it, is below two CPUs' time (a container run with --cpus=1, say). */
static bool quota_below_two(void)
{
        char line[512];
        FILE *f = fopen("/proc/self/cgroup", "re");
        if (!f)
                return false;
        bool found = false;
        while (fgets(line, sizeof(line), f))
                if (!strncmp(line, "0::", 3)) {
                        found = true;
                        break;
                }
        fclose(f);
        if (!found)
                return false; /* cgroup v1 alone: its quota is not read */
        line[strcspn(line, "\n")] = '\0';
        char path[sizeof(line) + 32];
        const char *cg = line + 3;
        for (;;) {
                snprintf(path, sizeof(path), "/sys/fs/cgroup%s/cpu.max", strcmp(cg, "/") ? cg : "");
                FILE *m = fopen(path, "re");
                if (m) {
                        long long quota = 0, period = 0;
                        char q[32] = "";
                        if (fscanf(m, "%31s %lld", q, &period) == 2 && strcmp(q, "max") != 0) {
                                quota = strtoll(q, NULL, 10);
                                if (period > 0 && quota < 2 * period) {
                                        fclose(m);
                                        return true;
                                }
                        }
                        fclose(m);
                }
                char *slash = strrchr(line + 3, '/');
                if (!slash || slash == line + 3)
                        return false;
                *slash = '\0';
        }
}

static void spin_setup(void)
{
        unsigned long us = SPIN_DEFAULT_US;
        const char *v = getenv("OSVM_SPIN_US");
        if (v && *v) {
                char *end;
                errno = 0;
                unsigned long asked = strtoul(v, &end, 10);
                if (*end || errno || asked > SPIN_MAX_US || v[0] == '-')
                        log_warn("OSVM_SPIN_US is not a number of microseconds from 0 to %u; "
                                 "%u is used",
                                 SPIN_MAX_US, SPIN_DEFAULT_US);
                else
                        us = asked;
        }
        cpu_set_t set;
        CPU_ZERO(&set);
        cpus = sysconf(_SC_NPROCESSORS_ONLN);
        if (sched_getaffinity(0, sizeof(set), &set) != 0 || CPU_COUNT(&set) < 2 || cpus < 2 ||
            (us && quota_below_two()))
                us = 0;
        if (us) {
                loadavg_fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
                if (loadavg_fd < 0)
                        us = 0; /* the machine's load cannot be seen: no spinning */
        }
        spin_max_ns = (uint64_t)us * 1000;
}

uint64_t spin_max(void)
{
        pthread_once(&once, spin_setup);
        return spin_max_ns;
}

/* Whether a CPU is free for a spin: /proc/loadavg's fourth field,
 * "runnable/threads", counts at most as many runnable threads as there are
 * CPUs, this one among them. */
static bool cpu_free(void)
{
        char buf[128];
        ssize_t n = pread(loadavg_fd, buf, sizeof(buf) - 1, 0);
        if (n <= 0)
                return false;
        buf[n] = '\0';
        char *slash = strchr(buf, '/');
        if (!slash)
                return false;
        char *num = slash;
        while (num > buf && num[-1] >= '0' && num[-1] <= '9')
                num--;
        if (num == slash)
                return false;
        return strtol(num, NULL, 10) <= cpus;
}

/* The wait's average, moved an eighth of the way towards this one. A wait
 * counts as at most twice the longest spin: one long pause (a collection of
 * the peer's garbage, say) then stops spinning for a few waits, not for
 * dozens, and waits that are all long still average out above the limit. */
static void learn(struct spin_wait *sw, uint64_t took)
{
        if (took > 2 * spin_max_ns)
                took = 2 * spin_max_ns;
        if (!sw->avg_ns)
                sw->avg_ns = took ? took : 1;
        else if (took >= sw->avg_ns)
                sw->avg_ns += (took - sw->avg_ns) / 8;
        else
                sw->avg_ns -= (sw->avg_ns - took) / 8;
}

int spin_poll(struct spin_wait *sw, struct pollfd *fds, unsigned n, int timeout_ms)
{
        uint64_t max = spin_max();
        if (!max || timeout_ms == 0)
                return poll(fds, n, timeout_ms);
        uint64_t t0 = time_mono_ns();
        uint64_t budget = sw->avg_ns && sw->avg_ns <= max ? 2 * sw->avg_ns : 0;
        if (budget > max)
                budget = max;
        if (timeout_ms > 0 && budget > (uint64_t)timeout_ms * 1000000)
                budget = (uint64_t)timeout_ms * 1000000;
        int r = 0;
        if (budget && cpu_free()) {
                uint64_t end = t0 + budget;
                for (;;) {
                        r = poll(fds, n, 0);
                        if (r != 0)
                                goto done;
                        /* the peer this spin waits for may have been woken
                         * onto this CPU: it runs now, not at the spin's end */
                        sched_yield();
                        if (time_mono_ns() >= end)
                                break;
                }
        }
        int left = timeout_ms;
        if (timeout_ms > 0) {
                uint64_t spent_ms = (time_mono_ns() - t0) / 1000000;
                left = spent_ms >= (uint64_t)timeout_ms ? 0 : timeout_ms - (int)spent_ms;
        }
        r = poll(fds, n, left);
done:
        learn(sw, time_mono_ns() - t0);
        return r;
}
