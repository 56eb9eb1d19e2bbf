/*
 * Test driver: runs a tool image in the engine as osvm would for one call,
 * with our fds 0-2 as its request, result and log, our fd 3 (when open) as
 * its host-call channel, argv [IMAGE, TOOL] and the protocol's environment
 * (OSVM_TOOL_PROTOCOL, 1 unless ours says otherwise, and our OSVM_SOLANA_RPC,
 * when set).
 *
 *   vm_call [--platform auto|kvm|process] IMAGE TOOL
 *                           exit status: the tool's, 125 when the engine failed
 *   vm_call [--platform P] --probe
 *                           0 when platform P (default kvm) can run here, else
 *                           77 with the reason
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/vmm.h"

int main(int argc, char **argv)
{
        log_init();
        enum vmm_platform platform = VMM_PLATFORM_AUTO;
        bool chosen = false;
        if (argc >= 3 && strcmp(argv[1], "--platform") == 0) {
                if (!vmm_platform_parse(argv[2], &platform)) {
                        fprintf(stderr, "vm_call: --platform takes auto, kvm or process\n");
                        return 2;
                }
                chosen = true;
                argv += 2;
                argc -= 2;
        }
        if (argc == 2 && strcmp(argv[1], "--probe") == 0) {
                char why[512];
                bool ok =
                    vmm_platform_probe(chosen ? platform : VMM_PLATFORM_KVM, why, sizeof(why));
                if (!ok)
                        fprintf(stderr, "vm_call: %s\n", why);
                vmm_shutdown();
                return ok ? 0 : 77;
        }
        if (argc != 3) {
                fprintf(stderr, "usage: vm_call [--platform auto|kvm|process] IMAGE TOOL\n");
                return 2;
        }
        static char rpc[4096], proto[64];
        const char *p = getenv("OSVM_TOOL_PROTOCOL"); /* a test may claim another version */
        snprintf(proto, sizeof(proto), "OSVM_TOOL_PROTOCOL=%s", p ? p : "1");
        const char *env[3] = {proto, NULL, NULL};
        const char *url = getenv("OSVM_SOLANA_RPC");
        if (url) {
                snprintf(rpc, sizeof(rpc), "OSVM_SOLANA_RPC=%s", url);
                env[1] = rpc;
        }
        const char *args[3] = {argv[1], argv[2], NULL};
        struct vmm_spec spec = {
            .image = argv[1],
            .argv = args,
            .envp = env,
            .in_fd = 0,
            .out_fd = 1,
            .err_fd = 2,
            .host_fd = fcntl(3, F_GETFD) >= 0 ? 3 : -1,
            .platform = platform,
        };
        struct vmm_result res;
        osvm_err e = {0};
        int rc = vmm_run(&spec, &res, &e);
        vmm_shutdown();
        if (rc < 0) {
                fprintf(stderr, "vm_call: error: %s\n", e.msg);
                return 125;
        }
        if (res.end != VMM_END_EXIT)
                fprintf(stderr, "vm_call: %s: %s\n", vmm_end_name(res.end), res.why);
        return res.exit_code;
}
