/*
 * The cost of one audit record (src/mcp/audit.c), the one a gateway call
 * pays between the server's answer and the answer sent on: an echo call's
 * record (its decision's reasons as the gateway benchmark's server has them,
 * ~900 bytes a line) appended to a log in a temporary directory.
 *
 * Three figures, with the CPU's SHA instructions (where there are any) and
 * with the portable code: the part made while the server works
 * (mcp_audit_prepare), what is left after the answer once it was (the
 * outcome, the chain's hash, the lock and the write), and a record made
 * whole after the answer (a call that prepared nothing).
 *
 * usage: build/bench/bench_audit [RECORDS]     (default 5000)
 */
#include "bench_stats.h"
#include "mcp/mcp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char decision[] =
    "{\"server\": \"ev\", \"tool\": \"echo\", \"route\": \"direct\", \"sandboxed\": true,"
    " \"reasons\": ["
    "{\"text\": \"Checking isolation config for ev/echo\"},"
    "{\"text\": \"Tool echo has no entry under server ev; the server's execution_mode "
    "applies\"},"
    "{\"text\": \"Tool configured for Direct execution mode (the server's execution_mode)\"},"
    "{\"text\": \"The call goes to the MCP server directly, without a VM\"},"
    "{\"text\": \"The server runs in its sandbox (\\\"sandbox\\\": true): 0 mounts, "
    "network.allow 0 hosts through osvm's proxy, 1024 MiB, 64 processes; timeout_ms (30000 "
    "ms) holds\"}]}";

struct run {
        uint64_t *prepare, *after, *whole;
};

static struct mcp_audit_call echo_call(const struct iso_decision *d, json_t *args, json_t *result)
{
        return (struct mcp_audit_call){.caller = "gateway bench session 1",
                                       .dec = d,
                                       .args = args,
                                       .result = result,
                                       .duration_ns = 123456,
                                       .call_id = "1-1"};
}

static void measure(const struct iso_decision *d, json_t *args, json_t *result, size_t n,
                    struct run *r)
{
        for (size_t i = 0; i < n; i++) {
                struct mcp_audit_call a = echo_call(d, args, result);
                uint64_t t0 = time_mono_ns();
                mcp_audit_prepare(&a);
                uint64_t t1 = time_mono_ns();
                mcp_audit_record(&a);
                uint64_t t2 = time_mono_ns();
                r->prepare[i] = t1 - t0;
                r->after[i] = t2 - t1;
                struct mcp_audit_call w = echo_call(d, args, result);
                t0 = time_mono_ns();
                mcp_audit_record(&w);
                r->whole[i] = time_mono_ns() - t0;
        }
}

int main(int argc, char **argv)
{
        size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 5000;
        if (n < 10)
                n = 10;
        char dir[] = "/tmp/osvm-bench-audit.XXXXXX";
        if (!mkdtemp(dir)) {
                perror("mkdtemp");
                return 1;
        }
        char *path = xasprintf("%s/audit.jsonl", dir);
        setenv("OSVM_AUDIT_FILE", path, 1);
        setenv("OSVM_AUDIT_MAX_BYTES", "1000000000", 1);
        json_t *dj = json_loads(decision, 0, NULL);
        struct iso_decision d;
        osvm_err e = {0};
        if (!dj || iso_decision_from_json(dj, &d, &e) < 0) {
                fprintf(stderr, "bench_audit: the decision: %s\n", e.msg);
                return 1;
        }
        json_t *args = json_pack("{s:s}", "message", "hello from the benchmark");
        json_t *result = json_pack("{s:[{s:s, s:s}]}", "content", "type", "text", "text",
                                   "Echo: hello from the benchmark");
        struct run r = {xcalloc(n, sizeof(uint64_t)), xcalloc(n, sizeof(uint64_t)),
                        xcalloc(n, sizeof(uint64_t))};
        printf("one audit record (an echo call through the gateway), %zu records; p50 / p90 in "
               "us\n",
               n);
        double after_p50[2] = {0, 0};
        for (int portable = 0; portable < 2; portable++) {
                if (!portable && !sha256_accelerated())
                        continue;
                sha256_force_portable(portable);
                measure(&d, args, result, n / 10, &r); /* warm up */
                measure(&d, args, result, n, &r);
                after_p50[portable] = bench_pct(r.after, n, 0.5);
                double whole = bench_pct(r.whole, n, 0.5);
                printf("  SHA-256 %-22s prepared while the server works %5.1f / %5.1f, "
                       "after the answer %5.1f / %5.1f; made whole after the answer %5.1f / "
                       "%5.1f\n",
                       portable ? "(portable code):" : "(the CPU's):",
                       bench_pct(r.prepare, n, 0.5) / 1e3, bench_pct(r.prepare, n, 0.9) / 1e3,
                       after_p50[portable] / 1e3, bench_pct(r.after, n, 0.9) / 1e3, whole / 1e3,
                       bench_pct(r.whole, n, 0.9) / 1e3);
                printf("    after the answer against made whole after it (p50): %.2fx\n",
                       whole > 0 ? after_p50[portable] / whole : 0);
        }
        if (after_p50[0] > 0 && after_p50[1] > 0)
                printf("  after the answer, the CPU's SHA-256 against the portable code (p50): "
                       "%.2fx\n",
                       after_p50[0] / after_p50[1]);
        strbuf report = {0};
        size_t records = 0;
        int problems = mcp_audit_verify(path, &report, &records, &e);
        if (problems != 0)
                fprintf(stderr, "bench_audit: the log does not verify: %s%s\n", e.msg,
                        report.s ? report.s : "");
        sb_free(&report);
        unlink(path);
        char *lock = xasprintf("%s.lock", path);
        unlink(lock);
        rmdir(dir);
        free(lock);
        free(path);
        free(r.prepare);
        free(r.after);
        free(r.whole);
        json_decref(args);
        json_decref(result);
        json_decref(dj);
        iso_decision_free(&d);
        return problems != 0;
}
