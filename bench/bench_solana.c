/*
 * get_balance isolated against direct, side by side in one run: the same
 * tool program of the osvm-mcp pack, in a fresh VM per call (from the pool)
 * and as a host process, each asking the same local JSON-RPC endpoint
 * through the host. bench/solana.sh starts the endpoint and runs this.
 *
 * usage: bench_solana IMAGES_DIR ADDRESS [N]   (OSVM_SOLANA_RPC set)
 */
#include "mcp/mcp.h"
#include "vmm/vmm.h"

#include "bench_stats.h"

#include <stdio.h>
#include <string.h>

static const char *text_of(json_t *r)
{
        return json_string_value(
            json_object_get(json_array_get(json_object_get(r, "content"), 0), "text"));
}

int main(int argc, char **argv)
{
        if (argc < 3) {
                fprintf(stderr, "usage: bench_solana IMAGES_DIR ADDRESS [N]\n");
                return 2;
        }
        int n = argc > 3 ? atoi(argv[3]) : 200;
        if (n < 10)
                n = 10;
        struct iso_host host = {0};
        host.kvm_usable = vmm_probe(host.kvm_problem, sizeof(host.kvm_problem));
        if (!host.kvm_usable) {
                fprintf(stderr, "bench_solana: %s\n", host.kvm_problem);
                return 77;
        }
        snprintf(host.builtin_images, sizeof(host.builtin_images), "%s", argv[1]);
        const char *cfg_text = "{}";
        struct iso_config cfg;
        struct iso_diags d = {0};
        if (iso_config_parse(cfg_text, strlen(cfg_text), "bench", &cfg, &d) < 0)
                return 1;
        struct iso_decision dec;
        iso_decide(&cfg, "osvm-mcp", "get_balance", &host, &dec);
        if (dec.route != ISO_ROUTE_UNIKERNEL) {
                fprintf(stderr, "bench_solana: no get_balance image under %s\n", argv[1]);
                return 1;
        }
        osvm_err e = {0};
        if (vmm_pool_start(2, dec.policy.memory_mb, &e) < 0)
                fprintf(stderr, "bench_solana: no pool: %s\n", e.msg);
        json_t *args = json_pack("{s:s}", "address", argv[2]);
        uint64_t *vm = xcalloc((size_t)n, sizeof(*vm)), *direct = xcalloc((size_t)n, sizeof(*vm));
        for (int i = -5; i < n; i++) {
                uint64_t t0 = time_mono_ns();
                json_t *a = mcp_tool_run(&dec, "get_balance", args, NULL, true, &e);
                uint64_t t1 = time_mono_ns();
                json_t *b = mcp_tool_run(&dec, "get_balance", args, NULL, false, &e);
                uint64_t t2 = time_mono_ns();
                if (!a || !b ||
                    strcmp(text_of(a) ? text_of(a) : "", text_of(b) ? text_of(b) : "x")) {
                        fprintf(stderr, "bench_solana: the two runs differ: %s | %s\n",
                                a ? text_of(a) : e.msg, b ? text_of(b) : e.msg);
                        return 1;
                }
                json_decref(a);
                json_decref(b);
                if (i >= 0)
                        vm[i] = t1 - t0, direct[i] = t2 - t1;
        }
        qsort(vm, (size_t)n, sizeof(*vm), bench_cmp_u64);
        qsort(direct, (size_t)n, sizeof(*direct), bench_cmp_u64);
        double v50 = (double)vm[n / 2] / 1e3, d50 = (double)direct[n / 2] / 1e3;
        double v99 = (double)vm[(n - 1) * 99 / 100] / 1e3,
               d99 = (double)direct[(n - 1) * 99 / 100] / 1e3;
        printf("get_balance against a local SVM endpoint, %d calls each, alternating\n", n);
        printf("  isolated (VM per call): p50 %8.0f us  p99 %8.0f us\n", v50, v99);
        printf("  direct (host process):  p50 %8.0f us  p99 %8.0f us\n", d50, d99);
        printf("  ratio isolated/direct:  p50 %.2fx  p99 %.2fx\n", v50 / d50, v99 / d99);
        json_decref(args);
        free(vm);
        free(direct);
        iso_decision_free(&dec);
        iso_config_free(&cfg);
        vmm_shutdown();
        return 0;
}
