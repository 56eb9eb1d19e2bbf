/*
 * What the engine's benchmarks share: the trivial tool's request, its fds
 * (memfds as stdin and stdout), a call as a host process (posix_spawn +
 * waitpid of the same binary), the result's check, percentiles. Included by
 * one benchmark program each (each bench/ source file is one program).
 */
#ifndef OSVM_BENCH_CALLS_H
#define OSVM_BENCH_CALLS_H

#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/base.h"
#include "bench_stats.h"

extern char **environ;

static const char request[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\"}\n";

struct fds {
        int in, out;
};

static void fds_open(struct fds *f)
{
        f->in = memfd_create("req", MFD_CLOEXEC);
        f->out = memfd_create("res", MFD_CLOEXEC);
        if (f->in < 0 || f->out < 0 ||
            write(f->in, request, sizeof(request) - 1) != (ssize_t)sizeof(request) - 1) {
                perror("memfd");
                exit(1);
        }
}

static void fds_reset(struct fds *f)
{
        lseek(f->in, 0, SEEK_SET);
        lseek(f->out, 0, SEEK_SET);
        if (ftruncate(f->out, 0) < 0)
                exit(1);
}

static void check_result(const struct fds *f, const char *what)
{
        char buf[sizeof(request)];
        ssize_t n = pread(f->out, buf, sizeof(buf), 0);
        if (n != (ssize_t)sizeof(request) - 1 || memcmp(buf, request, (size_t)n) != 0) {
                fprintf(stderr, "bench: %s returned a wrong result (%zd bytes)\n", what, n);
                exit(1);
        }
}

static uint64_t call_spawn(const char *tool, struct fds *f)
{
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, f->in, 0);
        posix_spawn_file_actions_adddup2(&fa, f->out, 1);
        char *argv[] = {(char *)tool, NULL};
        char *envp[] = {NULL};
        fds_reset(f);
        uint64_t t0 = time_mono_ns();
        pid_t pid;
        int st;
        if (posix_spawn(&pid, tool, &fa, NULL, argv, envp) != 0 || waitpid(pid, &st, 0) != pid ||
            !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                fprintf(stderr, "bench: spawning %s failed\n", tool);
                exit(1);
        }
        uint64_t t = time_mono_ns() - t0;
        posix_spawn_file_actions_destroy(&fa);
        check_result(f, "the host process");
        return t;
}

static uint64_t pct(uint64_t *v, size_t n, double p)
{
        qsort(v, n, sizeof(*v), bench_cmp_u64);
        return v[(size_t)(p * (double)(n - 1) + 0.5)];
}

#endif
