/*
 * The seccomp filter of a confined MCP server, built with libseccomp in the
 * parent and handed to sbx_spawn as a BPF program (the child only installs
 * it: no allocation after clone).
 */
#include "sandbox/sandbox.h"

#include <errno.h>
#include <linux/sched.h>
#include <sched.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x80
#endif

/* Refused outright: EPERM. */
static const char *const refused[] = {
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "mount",
    "umount2",
    "pivot_root",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    "bpf",
    "keyctl",
    "add_key",
    "request_key",
    "userfaultfd",
    "perf_event_open",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "setns",
    "chroot",
    "swapon",
    "swapoff",
    "reboot",
    "acct",
    "quotactl",
    "open_by_handle_at",
    "name_to_handle_at",
    "lookup_dcookie",
    "syslog",
    "personality",
    "uselib",
    "ustat",
    "sysfs",
    "vhangup",
    "pidfd_getfd",
    "kcmp",
    "iopl",
    "ioperm",
};

/* Refused with ENOSYS, so that a library falls back: clone3 (its flags are
 * behind a pointer the filter cannot read; glibc then uses clone) and
 * io_uring (libuv then uses its thread pool). */
static const char *const absent[] = {"clone3", "io_uring_setup", "io_uring_enter",
                                     "io_uring_register"};

static int add(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned n,
               const struct scmp_arg_cmp *args)
{
        int nr = seccomp_syscall_resolve_name(name);
        if (nr == __NR_SCMP_ERROR)
                return 0; /* not on this architecture */
        return seccomp_rule_add_array(ctx, action, nr, n, args);
}

/* An argument comparison with every field set (libseccomp's SCMP_A* leave
 * datum_b out where the comparison has one datum). */
static struct scmp_arg_cmp cmp(unsigned arg, enum scmp_compare op, uint64_t a, uint64_t b)
{
        return (struct scmp_arg_cmp){.arg = arg, .op = op, .datum_a = a, .datum_b = b};
}

int sbx_server_filter(struct sock_fprog *prog, osvm_err *e)
{
        memset(prog, 0, sizeof(*prog));
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
        if (!ctx)
                return err_set(e, ENOMEM, "building the sandbox's seccomp filter");
        int rc = 0;
        const uint32_t eperm = SCMP_ACT_ERRNO(EPERM);
        for (size_t i = 0; rc == 0 && i < sizeof(refused) / sizeof(refused[0]); i++)
                rc = add(ctx, eperm, refused[i], 0, NULL);
        for (size_t i = 0; rc == 0 && i < sizeof(absent) / sizeof(absent[0]); i++)
                rc = add(ctx, SCMP_ACT_ERRNO(ENOSYS), absent[i], 0, NULL);
        /* no new namespaces of any kind (a user namespace above all) */
        const uint64_t ns = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET |
                            CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP | CLONE_NEWTIME;
        for (uint64_t bit = 1; rc == 0 && bit; bit <<= 1) {
                if (!(ns & bit))
                        continue;
                struct scmp_arg_cmp c = cmp(0, SCMP_CMP_MASKED_EQ, bit, bit);
                rc = add(ctx, eperm, "unshare", 1, &c);
                if (rc == 0)
                        rc = add(ctx, eperm, "clone", 1, &c);
        }
        /*
         * Sockets: TCP over IPv4 and IPv6, and netlink (interface listings),
         * nothing else. socket() of any other family, and a datagram or raw
         * socket of IPv4 or IPv6, is refused. The low bits of the type are
         * the kind (SOCK_NONBLOCK and SOCK_CLOEXEC above them).
         */
        static const int families_ok[] = {AF_INET, AF_INET6, AF_NETLINK};
        /* every family but the three: one rule each for the ranges between them */
        if (rc == 0) {
                struct scmp_arg_cmp lo = cmp(0, SCMP_CMP_LT, AF_INET, 0);
                rc = add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), "socket", 1, &lo);
        }
        for (int f = AF_INET + 1; rc == 0 && f < AF_MAX + 8; f++) {
                bool ok = false;
                for (size_t i = 0; i < 3; i++)
                        ok = ok || families_ok[i] == f;
                if (ok)
                        continue;
                struct scmp_arg_cmp c = cmp(0, SCMP_CMP_EQ, (uint64_t)f, 0);
                rc = add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), "socket", 1, &c);
        }
        if (rc == 0) {
                struct scmp_arg_cmp hi = cmp(0, SCMP_CMP_GE, AF_MAX + 8, 0);
                rc = add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), "socket", 1, &hi);
        }
        for (int fam = 0; rc == 0 && fam < 2; fam++) {
                struct scmp_arg_cmp c[2] = {
                    cmp(0, SCMP_CMP_EQ, (uint64_t)(fam ? AF_INET6 : AF_INET), 0),
                    cmp(1, SCMP_CMP_MASKED_EQ, 0xf, SOCK_STREAM)};
                /* not a stream: refused (the rule below matches "!= STREAM" by
                 * listing the kinds there are) */
                static const int kinds[] = {SOCK_DGRAM,     SOCK_RAW,  SOCK_RDM,
                                            SOCK_SEQPACKET, SOCK_DCCP, SOCK_PACKET};
                for (size_t k = 0; rc == 0 && k < sizeof(kinds) / sizeof(kinds[0]); k++) {
                        c[1] = cmp(1, SCMP_CMP_MASKED_EQ, 0xf, (uint64_t)kinds[k]);
                        rc = add(ctx, eperm, "socket", 2, c);
                }
        }
        /* and no datagram socket pairs of other kinds: socketpair stays for AF_UNIX only */
        if (rc == 0) {
                struct scmp_arg_cmp c = cmp(0, SCMP_CMP_NE, AF_UNIX, 0);
                rc = add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), "socketpair", 1, &c);
        }
        if (rc != 0) {
                seccomp_release(ctx);
                return err_set(e, -rc, "building the sandbox's seccomp filter: %s", strerror(-rc));
        }
        /* exported into a memfd, read back as the program */
        int fd = memfd_create("osvm-seccomp", MFD_CLOEXEC);
        if (fd < 0) {
                seccomp_release(ctx);
                return err_sys(e, "building the sandbox's seccomp filter: memfd_create");
        }
        rc = seccomp_export_bpf(ctx, fd);
        seccomp_release(ctx);
        off_t size = rc == 0 ? lseek(fd, 0, SEEK_END) : -1;
        if (size <= 0 || size % (off_t)sizeof(struct sock_filter) ||
            size > (off_t)(4096 * sizeof(struct sock_filter))) {
                close(fd);
                return err_set(e, EIO, "building the sandbox's seccomp filter: export failed");
        }
        struct sock_filter *f = xmalloc((size_t)size);
        ssize_t got = pread(fd, f, (size_t)size, 0);
        close(fd);
        if (got != size) {
                free(f);
                return err_set(e, EIO, "building the sandbox's seccomp filter: export failed");
        }
        prog->filter = f;
        prog->len = (unsigned short)(size / (off_t)sizeof(struct sock_filter));
        return 0;
}
