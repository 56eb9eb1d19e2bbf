/*
 * What the isolation layer adds to a tool call, as ratios against the
 * irreducible work done side by side in the same process:
 *   load:   iso_config_load (read + parse + validate + build) vs. jansson's
 *           json_load_file of the same file (read + parse only)
 *   decide: iso_decide for one call vs. one stat() of the tool's image (what
 *           any router must do to know whether the image is there)
 * Runs are interleaved so that machine noise hits both sides alike.
 */
#include "isolation/isolation.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_stats.h"

#define RUNS 2000

static void report(const char *name, uint64_t *ours, uint64_t *base, const char *base_name)
{
        uint64_t o50 = bench_pct(ours, RUNS, 0.5), o99 = bench_pct(ours, RUNS, 0.99);
        uint64_t b50 = bench_pct(base, RUNS, 0.5), b99 = bench_pct(base, RUNS, 0.99);
        printf("%-7s p50 %7.2f us  p99 %7.2f us | %-16s p50 %7.2f us  p99 %7.2f us | ratio p50 "
               "%.2fx\n",
               name, o50 / 1e3, o99 / 1e3, base_name, b50 / 1e3, b99 / 1e3,
               b50 ? (double)o50 / (double)b50 : 0.0);
}

int main(void)
{
        char dir[] = "/tmp/osvm-bench-XXXXXX";
        if (!mkdtemp(dir))
                return 1;
        char *path = xasprintf("%s/isolation_config.json", dir);
        char *text = iso_config_default_text();
        if (fs_write_atomic(path, text, strlen(text), 0600, NULL) < 0)
                return 1;
        static uint64_t ours[RUNS], base[RUNS];

        for (int i = 0; i < RUNS; i++) {
                uint64_t t0 = time_mono_ns();
                struct iso_config cfg;
                struct iso_diags d = {0};
                if (iso_config_load(path, &cfg, &d) < 0)
                        return 1;
                uint64_t t1 = time_mono_ns();
                iso_config_free(&cfg);
                iso_diags_free(&d);
                uint64_t t2 = time_mono_ns();
                json_t *v = json_load_file(path, 0, NULL);
                uint64_t t3 = time_mono_ns();
                json_decref(v);
                ours[i] = t1 - t0, base[i] = t3 - t2;
        }
        printf("isolation layer, %d runs each, default config (%zu bytes)\n", RUNS, strlen(text));
        report("load", ours, base, "json_load_file");

        struct iso_config cfg;
        struct iso_diags d = {0};
        if (iso_config_load(path, &cfg, &d) < 0)
                return 1;
        struct iso_host host = {.kvm_usable = true};
        for (int i = 0; i < RUNS; i++) {
                uint64_t t0 = time_mono_ns();
                struct iso_decision dec;
                iso_decide(&cfg, "osvm-mcp", "get_balance", &host, &dec);
                uint64_t t1 = time_mono_ns();
                iso_decision_free(&dec);
                struct stat st;
                uint64_t t2 = time_mono_ns();
                stat("/var/osvm/unikernels/osvm-mcp-get_balance.img", &st);
                uint64_t t3 = time_mono_ns();
                ours[i] = t1 - t0, base[i] = t3 - t2;
        }
        report("decide", ours, base, "stat(image)");
        iso_config_free(&cfg);
        iso_diags_free(&d);
        unlink(path);
        rmdir(dir);
        free(path);
        free(text);
        return 0;
}
