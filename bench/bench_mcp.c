/*
 * One side of the MCP round-trip benchmark (bench/mcp.sh runs both sides):
 * connect to server-everything, call `echo` N times, print one JSON line
 * with the per-call latency and this process's peak RSS.
 *
 * usage: bench_mcp stdio SERVER_JS N | bench_mcp http URL N
 */
#include "mcp/mcp.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "bench_stats.h"

#define WARMUP 20

int main(int argc, char **argv)
{
        if (argc != 4 || (strcmp(argv[1], "stdio") && strcmp(argv[1], "http"))) {
                fprintf(stderr, "usage: bench_mcp stdio SERVER_JS N | bench_mcp http URL N\n");
                return 2;
        }
        long n = atol(argv[3]);
        if (n < 1 || n > 1000000)
                return 2;
        char *sargv[] = {"node", argv[2], "stdio", NULL};
        struct mcp_endpoint ep = {.name = "bench"};
        if (!strcmp(argv[1], "stdio"))
                ep.argv = sargv;
        else
                ep.url = argv[2];
        osvm_err e = {0};
        struct mcp_client *c = mcp_connect(&ep, NULL, &e);
        if (!c) {
                fprintf(stderr, "%s\n", e.msg);
                return 1;
        }
        uint64_t *lat = xcalloc((size_t)n, sizeof(*lat));
        json_t *args = json_pack("{s:s}", "message", "hello from the benchmark");
        for (long i = -WARMUP; i < n; i++) {
                uint64_t t0 = time_mono_ns();
                json_t *r = mcp_call_tool(c, "echo", args, NULL, &e);
                uint64_t t1 = time_mono_ns();
                if (!r) {
                        fprintf(stderr, "%s\n", e.msg);
                        return 1;
                }
                json_decref(r);
                if (i >= 0)
                        lat[i] = t1 - t0;
        }
        json_decref(args);
        mcp_close(c);
        uint64_t sum = 0;
        for (long i = 0; i < n; i++)
                sum += lat[i];
        qsort(lat, (size_t)n, sizeof(*lat), bench_cmp_u64);
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        printf("{\"client\": \"osvm\", \"transport\": \"%s\", \"calls\": %ld, \"mean_us\": %.1f, "
               "\"p50_us\": %.1f, \"p99_us\": %.1f, \"maxrss_kb\": %ld}\n",
               argv[1], n, (double)sum / (double)n / 1e3, (double)lat[n / 2] / 1e3,
               (double)lat[(size_t)((double)(n - 1) * 0.99)] / 1e3, ru.ru_maxrss);
        free(lat);
        return 0;
}
