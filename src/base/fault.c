/*
 * Fault injection, for the tests: the sanitizer build only.
 *
 * Compiled to nothing unless OSVM_FAULT_INJECTION is defined, which only the
 * Makefile's ASAN_CFLAGS does; the programs of that build link with
 * -Wl,--wrap=SYMBOL for each call below (FAULT_WRAP), so that osvm's own calls
 * of them (not those made inside libc, libcurl or other libraries) come here
 * first. build/osvm has none of this.
 *
 *   OSVM_FAULT=KIND:N[,KIND:N...]  the Nth call of KIND (from 1) fails, once
 *   OSVM_FAULT=count               nothing fails; the calls are counted
 *   OSVM_FAULT_REPORT=FILE         each fault that fires appends "fired KIND N"
 *                                  to FILE, and a normal exit appends
 *                                  "count KIND CALLS" for every kind
 *   OSVM_FAULT_TRACE=1             a fault that fires prints its stack trace
 *
 * The kinds: alloc (malloc, calloc, realloc, strdup, strndup, vasprintf, and
 * so jansson's allocations, which go through xmalloc: ENOMEM), read (EIO),
 * write (EIO), send and recv (send, sendmsg, recv, recvmsg: ECONNRESET), fork
 * (fork, posix_spawn, posix_spawnp, and syscall(SYS_clone / SYS_clone3):
 * EAGAIN), memfd (memfd_create, also by syscall: EMFILE), kvm (ioctl on a KVM
 * file, type KVMIO, also by syscall: EIO).
 *
 * The Nth call is counted in the osvm process, over all its threads, with one
 * atomic counter per kind (so with threads the order, and the call that is
 * Nth, may differ from run to run). A child process made by clone or fork
 * counts in its own copy and never fails a call; OSVM_FAULT is removed from
 * the environment at start-up, so a program osvm runs does not see it.
 * docs/testing.md explains the walk that uses this (tests/base/fault.sh).
 */
#ifdef OSVM_FAULT_INJECTION

#include "base.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <sanitizer/common_interface_defs.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

enum fault_kind { F_ALLOC, F_READ, F_WRITE, F_SEND, F_RECV, F_FORK, F_MEMFD, F_KVM, F_NKINDS };
static const char *const fault_names[F_NKINDS] = {"alloc", "read", "write", "send",
                                                  "recv",  "fork", "memfd", "kvm"};

static bool fault_on;
static pid_t fault_owner;
static unsigned long fault_at[F_NKINDS]; /* 0: no fault of that kind */
static _Atomic unsigned long fault_calls[F_NKINDS];
static char fault_report[4096];
static bool fault_trace;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
int __real_vasprintf(char **out, const char *fmt, va_list ap);
ssize_t __real_read(int fd, void *buf, size_t n);
ssize_t __real_write(int fd, const void *buf, size_t n);
ssize_t __real_send(int fd, const void *buf, size_t n, int flags);
ssize_t __real_recv(int fd, void *buf, size_t n, int flags);
ssize_t __real_sendmsg(int fd, const struct msghdr *m, int flags);
ssize_t __real_recvmsg(int fd, struct msghdr *m, int flags);
pid_t __real_fork(void);
int __real_posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                       const posix_spawnattr_t *attr, char *const argv[], char *const envp[]);
int __real_posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                        const posix_spawnattr_t *attr, char *const argv[], char *const envp[]);
long __real_syscall(long nr, ...);
int __real_memfd_create(const char *name, unsigned flags);
int __real_ioctl(int fd, unsigned long req, ...);

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
int __wrap_vasprintf(char **out, const char *fmt, va_list ap);
ssize_t __wrap_read(int fd, void *buf, size_t n);
ssize_t __wrap_write(int fd, const void *buf, size_t n);
ssize_t __wrap_send(int fd, const void *buf, size_t n, int flags);
ssize_t __wrap_recv(int fd, void *buf, size_t n, int flags);
ssize_t __wrap_sendmsg(int fd, const struct msghdr *m, int flags);
ssize_t __wrap_recvmsg(int fd, struct msghdr *m, int flags);
pid_t __wrap_fork(void);
int __wrap_posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                       const posix_spawnattr_t *attr, char *const argv[], char *const envp[]);
int __wrap_posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                        const posix_spawnattr_t *attr, char *const argv[], char *const envp[]);
long __wrap_syscall(long nr, ...);
int __wrap_memfd_create(const char *name, unsigned flags);
int __wrap_ioctl(int fd, unsigned long req, ...);

/* Appends a line to the report file (async-signal-safe: a child of a clone may
 * be here, though it never fires). */
static void fault_note(const char *line, size_t n)
{
        if (!fault_report[0])
                return;
        int fd = open(fault_report, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
                return;
        (void)!__real_write(fd, line, n);
        close(fd);
}

/* Counts a call of kind k; true when it is to fail. */
static bool fault_hit(enum fault_kind k)
{
        if (!fault_on)
                return false;
        unsigned long n = atomic_fetch_add(&fault_calls[k], 1) + 1;
        if (n != fault_at[k] || getpid() != fault_owner)
                return false;
        char line[64];
        int l = snprintf(line, sizeof(line), "fired %s %lu\n", fault_names[k], n);
        fault_note(line, (size_t)l);
        if (fault_trace)
                __sanitizer_print_stack_trace();
        return true;
}

static void fault_counts(void)
{
        if (getpid() != fault_owner)
                return;
        for (int k = 0; k < F_NKINDS; k++) {
                char line[64];
                int l = snprintf(line, sizeof(line), "count %s %lu\n", fault_names[k],
                                 atomic_load(&fault_calls[k]));
                fault_note(line, (size_t)l);
        }
}

static void fault_bad(const char *spec, const char *why)
{
        fprintf(stderr,
                "osvm: OSVM_FAULT=%s: %s (KIND:N[,KIND:N...] or count; kinds: alloc, "
                "read, write, send, recv, fork, memfd, kvm)\n",
                spec, why);
        _exit(OSVM_EXIT_USAGE);
}

__attribute__((constructor)) static void fault_init(void)
{
        const char *env = getenv("OSVM_FAULT");
        if (!env || !*env)
                return;
        char spec[512];
        snprintf(spec, sizeof(spec), "%s", env);
        if (strcmp(spec, "count") != 0) {
                char *save = NULL;
                char copy[sizeof(spec)];
                memcpy(copy, spec, sizeof(copy));
                for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                        char *colon = strchr(t, ':');
                        if (!colon)
                                fault_bad(spec, "an item without ':N'");
                        *colon = '\0';
                        int k = 0;
                        while (k < F_NKINDS && strcmp(fault_names[k], t) != 0)
                                k++;
                        if (k == F_NKINDS)
                                fault_bad(spec, "an unknown kind");
                        char *end;
                        errno = 0;
                        unsigned long n = strtoul(colon + 1, &end, 10);
                        if (errno || end == colon + 1 || *end || n == 0)
                                fault_bad(spec, "N is not a whole number from 1");
                        fault_at[k] = n;
                }
        }
        const char *rep = getenv("OSVM_FAULT_REPORT");
        if (rep)
                snprintf(fault_report, sizeof(fault_report), "%s", rep);
        const char *tr = getenv("OSVM_FAULT_TRACE");
        fault_trace = tr && strcmp(tr, "1") == 0;
        unsetenv("OSVM_FAULT");
        unsetenv("OSVM_FAULT_REPORT");
        unsetenv("OSVM_FAULT_TRACE");
        fault_owner = getpid();
        atexit(fault_counts);
        fault_on = true;
}

void *__wrap_malloc(size_t n)
{
        if (fault_hit(F_ALLOC)) {
                errno = ENOMEM;
                return NULL;
        }
        return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
        if (fault_hit(F_ALLOC)) {
                errno = ENOMEM;
                return NULL;
        }
        return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
        if (fault_hit(F_ALLOC)) {
                errno = ENOMEM;
                return NULL;
        }
        return __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
        if (fault_hit(F_ALLOC)) {
                errno = ENOMEM;
                return NULL;
        }
        return __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
        if (fault_hit(F_ALLOC)) {
                errno = ENOMEM;
                return NULL;
        }
        return __real_strndup(s, n);
}

int __wrap_vasprintf(char **out, const char *fmt, va_list ap)
{
        if (fault_hit(F_ALLOC)) {
                errno = ENOMEM;
                return -1;
        }
        return __real_vasprintf(out, fmt, ap);
}

ssize_t __wrap_read(int fd, void *buf, size_t n)
{
        if (fault_hit(F_READ)) {
                errno = EIO;
                return -1;
        }
        return __real_read(fd, buf, n);
}

ssize_t __wrap_write(int fd, const void *buf, size_t n)
{
        if (fault_hit(F_WRITE)) {
                errno = EIO;
                return -1;
        }
        return __real_write(fd, buf, n);
}

ssize_t __wrap_send(int fd, const void *buf, size_t n, int flags)
{
        if (fault_hit(F_SEND)) {
                errno = ECONNRESET;
                return -1;
        }
        return __real_send(fd, buf, n, flags);
}

ssize_t __wrap_recv(int fd, void *buf, size_t n, int flags)
{
        if (fault_hit(F_RECV)) {
                errno = ECONNRESET;
                return -1;
        }
        return __real_recv(fd, buf, n, flags);
}

ssize_t __wrap_sendmsg(int fd, const struct msghdr *m, int flags)
{
        if (fault_hit(F_SEND)) {
                errno = ECONNRESET;
                return -1;
        }
        return __real_sendmsg(fd, m, flags);
}

ssize_t __wrap_recvmsg(int fd, struct msghdr *m, int flags)
{
        if (fault_hit(F_RECV)) {
                errno = ECONNRESET;
                return -1;
        }
        return __real_recvmsg(fd, m, flags);
}

pid_t __wrap_fork(void)
{
        if (fault_hit(F_FORK)) {
                errno = EAGAIN;
                return -1;
        }
        return __real_fork();
}

int __wrap_posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                       const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
        if (fault_hit(F_FORK))
                return EAGAIN;
        return __real_posix_spawn(pid, path, fa, attr, argv, envp);
}

int __wrap_posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                        const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
        if (fault_hit(F_FORK))
                return EAGAIN;
        return __real_posix_spawnp(pid, file, fa, attr, argv, envp);
}

int __wrap_memfd_create(const char *name, unsigned flags)
{
        if (fault_hit(F_MEMFD)) {
                errno = EMFILE;
                return -1;
        }
        return __real_memfd_create(name, flags);
}

static bool fault_kvm_req(unsigned long req)
{
        return _IOC_TYPE(req) == KVMIO;
}

int __wrap_ioctl(int fd, unsigned long req, ...)
{
        va_list ap;
        va_start(ap, req);
        void *arg = va_arg(ap, void *);
        va_end(ap);
        if (fault_kvm_req(req) && fault_hit(F_KVM)) {
                errno = EIO;
                return -1;
        }
        return __real_ioctl(fd, req, arg);
}

/* syscall(2) passes up to six words; the ones a call does not use are read
 * and passed on unused, as the kernel's calling convention allows. */
long __wrap_syscall(long nr, ...)
{
        va_list ap;
        va_start(ap, nr);
        long a[6];
        for (int i = 0; i < 6; i++)
                a[i] = va_arg(ap, long);
        va_end(ap);
        enum fault_kind k = F_NKINDS;
        int err = 0;
        if (nr == SYS_clone || nr == SYS_clone3) {
                k = F_FORK;
                err = EAGAIN;
        } else if (nr == SYS_memfd_create) {
                k = F_MEMFD;
                err = EMFILE;
        } else if (nr == SYS_ioctl && fault_kvm_req((unsigned long)a[1])) {
                k = F_KVM;
                err = EIO;
        }
        if (k != F_NKINDS && fault_hit(k)) {
                errno = err;
                return -1;
        }
        return __real_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

#else
/* ISO C wants something in a translation unit. */
typedef int fault_injection_off;
#endif
