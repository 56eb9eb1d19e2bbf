/* `osvm unikernel run` (alias `osvm uk run`): one program in one fresh VM. */
#include "cli/cli.h"
#include "vmm/vmm.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* A positive number of at most max, or 0. */
static unsigned long number(const char *s, unsigned long max)
{
        char *end;
        errno = 0;
        unsigned long v = strtoul(s, &end, 10);
        return *s && !*end && !errno && v <= max ? v : 0;
}

/* "HOST:VM[:rw|:ro]" into m; the strings point into spec, which is cut up. */
static bool parse_mount(char *spec, struct vmm_mount *m)
{
        m->readonly = true;
        char *last = strrchr(spec, ':');
        if (last && (!strcmp(last, ":rw") || !strcmp(last, ":ro"))) {
                m->readonly = last[2] == 'o';
                *last = '\0';
        }
        char *colon = strchr(spec, ':');
        if (!colon || colon == spec || colon[1] != '/')
                return false;
        *colon = '\0';
        m->host_path = spec;
        m->vm_path = colon + 1;
        return true;
}

static int run(int argc, char **argv)
{
        static const struct option opts[] = {{"mem", required_argument, NULL, 'm'},
                                             {"timeout", required_argument, NULL, 't'},
                                             {"mount", required_argument, NULL, 'M'},
                                             {"max-output", required_argument, NULL, 'o'},
                                             {"max-syscalls", required_argument, NULL, 's'},
                                             {"platform", required_argument, NULL, 'P'},
                                             {0}};
        struct vmm_mount mounts[VMM_MAX_MOUNTS];
        size_t nm = 0;
        struct vmm_limits lim = {0};
        enum vmm_platform platform = VMM_PLATFORM_AUTO;
        int c;
        optind = 0;
        while ((c = getopt_long(argc, argv, "+m:t:M:o:s:P:", opts, NULL)) != -1) {
                switch (c) {
                case 'P':
                        if (!vmm_platform_parse(optarg, &platform))
                                return cli_usage_error(&cli_cmd_unikernel,
                                                       "--platform takes auto, kvm or process, not "
                                                       "\"%s\"",
                                                       optarg);
                        break;
                case 'm':
                        if (!(lim.memory_mb = (uint32_t)number(optarg, VMM_MEM_MAX_MB)) ||
                            lim.memory_mb < VMM_MEM_MIN_MB)
                                return cli_usage_error(&cli_cmd_unikernel,
                                                       "--mem takes %u to %u (MiB), not \"%s\"",
                                                       VMM_MEM_MIN_MB, VMM_MEM_MAX_MB, optarg);
                        break;
                case 't':
                        if (!(lim.timeout_ms = (uint32_t)number(optarg, 86400000)))
                                return cli_usage_error(&cli_cmd_unikernel,
                                                       "--timeout takes milliseconds, not \"%s\"",
                                                       optarg);
                        break;
                case 'o':
                        if (!(lim.max_output_bytes = number(optarg, 1ul << 40)))
                                return cli_usage_error(&cli_cmd_unikernel,
                                                       "--max-output takes bytes, not \"%s\"",
                                                       optarg);
                        break;
                case 's':
                        if (!(lim.max_syscalls = number(optarg, 1ul << 40)))
                                return cli_usage_error(&cli_cmd_unikernel,
                                                       "--max-syscalls takes a count, not \"%s\"",
                                                       optarg);
                        break;
                case 'M':
                        if (nm == VMM_MAX_MOUNTS)
                                return cli_usage_error(&cli_cmd_unikernel, "at most %d mounts",
                                                       VMM_MAX_MOUNTS);
                        if (!parse_mount(optarg, &mounts[nm++]))
                                return cli_usage_error(&cli_cmd_unikernel,
                                                       "--mount takes HOST:VM[:rw] with VM "
                                                       "absolute");
                        break;
                default:
                        return cli_usage_error(&cli_cmd_unikernel, "unknown option");
                }
        }
        if (optind >= argc)
                return cli_usage_error(&cli_cmd_unikernel, "usage: osvm unikernel run [OPTIONS] "
                                                           "IMAGE [ARGS...]");
        struct vmm_spec spec = {
            .image = argv[optind],
            .argv = (const char *const *)argv + optind,
            .envp = NULL,
            .in_fd = STDIN_FILENO,
            .out_fd = STDOUT_FILENO,
            .err_fd = STDERR_FILENO,
            .mounts = mounts,
            .nmounts = nm,
            .limits = lim,
            .platform = platform,
        };
        /* Without a platform that can run it no image runs: say so, and how
         * to get one, before anything else about the image. KVM where it
         * is usable (auto) or asked for; else the process platform. */
        char why[512], pwhy[512];
        bool kvm = platform != VMM_PLATFORM_PROCESS && vmm_probe(why, sizeof(why));
        if (platform == VMM_PLATFORM_KVM && !kvm) {
                log_error("%s: cannot run it in a VM: %s", spec.image, why);
                return OSVM_EXIT_FAILURE;
        }
        if (!kvm && !vmm_platform_probe(VMM_PLATFORM_PROCESS, pwhy, sizeof(pwhy))) {
                if (platform == VMM_PLATFORM_PROCESS)
                        log_error("%s: cannot run it in a trapped process: %s", spec.image, pwhy);
                else
                        log_error("%s: cannot run it in a VM: %s; nor in a trapped process (the "
                                  "process platform): %s",
                                  spec.image, why, pwhy);
                return OSVM_EXIT_FAILURE;
        }
        /* Ctrl-C ends the program's VM (exit 130), as it ends a tool call. */
        ui_catch_interrupt();
        spec.cancel = &ui_interrupted;
        struct vmm_result res;
        osvm_err e = {0};
        if (vmm_run(&spec, &res, &e) < 0) {
                log_error("%s", e.msg);
                return OSVM_EXIT_FAILURE;
        }
        if (res.platform == VMM_PLATFORM_PROCESS)
                session_note_unikernel_proc(session_get());
        else
                session_note_unikernel(session_get());
        log_debug("%s: %s on the %s platform (%s) after %llu system calls, %llu bytes out",
                  spec.image, vmm_end_name(res.end), vmm_platform_name(res.platform),
                  res.platform == VMM_PLATFORM_PROCESS ? "a trapped process" : "a KVM VM",
                  (unsigned long long)res.syscalls, (unsigned long long)res.output_bytes);
        if (res.end == VMM_END_CANCELLED)
                log_error("%s: cancelled (Ctrl-C)", spec.image);
        else if (res.end != VMM_END_EXIT)
                log_error("%s: %s: %s", spec.image, vmm_end_name(res.end), res.why);
        return res.exit_code;
}

static int run_unikernel(int argc, char **argv)
{
        static const struct cli_verb verbs[] = {{"run", run}};
        return cli_run_verb(&cli_cmd_unikernel, verbs, 1, argc, argv);
}

const struct cli_cmd cli_cmd_unikernel = {
    .name = "unikernel",
    .alias = "uk",
    .summary = "run a static Linux program in a fresh KVM VM or trapped process (alias: uk)",
    .help = "usage: osvm unikernel run [--platform auto|kvm|process] [--mem MB] [--timeout MS]\n"
            "                          [--mount HOST:VM[:rw]]... [--max-output BYTES]\n"
            "                          [--max-syscalls N] IMAGE [ARGS...]\n"
            "       osvm uk run ...\n"
            "\n"
            "Runs IMAGE, a static x86-64 Linux ELF (musl or glibc, static or static-pie), in a\n"
            "KVM VM made for this one run and destroyed after it, or where /dev/kvm is missing\n"
            "in a trapped process (the process platform: a confined process of its own whose\n"
            "every system call traps to osvm; not a VM). There is no guest kernel: the\n"
            "program's system calls are served by osvm under the limits and mounts given.\n"
            "stdin goes to the program, its stdout to stdout, its stderr to stderr, and its\n"
            "exit status is osvm's. Files exist only below the mounts (read-only unless\n"
            ":rw); there is no network. A fault or a limit stops the program and is reported\n"
            "in words; a fault exits as the matching signal would (139 for a #GP or #PF),\n"
            "a limit with 125.\n"
            "\n"
            "  --platform P        auto (KVM where usable, else process), kvm or process\n"
            "  --mem MB            guest memory (default 128)\n"
            "  --timeout MS        wall time (default 10000)\n"
            "  --mount HOST:VM     a host directory at VM inside; :rw to allow writes\n"
            "  --max-output BYTES  stdout and stderr together (default 64 MiB)\n"
            "  --max-syscalls N    system calls (default 1000000)\n"
            "\n"
            "The image format is described in docs/vmm.md.\n",
    .run = run_unikernel,
};
