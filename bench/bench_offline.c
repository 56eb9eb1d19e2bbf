/*
 * The offline planner's cost against the request's length: one plan (tool
 * choice and arguments) for requests of 2 KB, 20 KB and 200 KB, against the
 * real tool lists of server-everything and server-filesystem and the Solana
 * fixture (tests/agent/fixtures). What each byte from 20 KB to 200 KB costs
 * is set side by side with what each byte from 2 KB to 20 KB cost (the
 * choice among the tools, whatever the length, cancels out): the ratio is
 * ~1.0 when the planner is linear in the request's length, ~10 when a part
 * is quadratic. Four kinds of request: the mixed tokens of the unit tests'
 * hostile request (quotes left open, key=value, paths, addresses, URLs), a
 * pasted text after "echo", one long word of many hyphenated parts, and one
 * of opening brackets; and, the request fixed, a tool whose description (a
 * server's text) has that many bytes of distinct words. Sizes are
 * interleaved so that machine noise hits all alike.
 * usage: bench_offline [ROUNDS]   (from the repository's top directory)
 */
#include "agent/agent.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_stats.h"

#define ADDR "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin"

static const size_t sizes[] = {2000, 20000, 200000};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

static int add_fixture(struct agent_toolset *ts, const char *server, const char *file)
{
        json_error_t je;
        json_t *list = json_load_file(file, 0, &je);
        if (!list) {
                fprintf(stderr, "bench_offline: %s: %s (run from the repository's top directory)\n",
                        file, je.text);
                return -1;
        }
        agent_toolset_add(ts, server, list);
        json_decref(list);
        return 0;
}

/* The unit tests' hostile mix, cut at n bytes on a piece boundary. */
static char *mixed(size_t n)
{
        static const char *const pieces[] = {"the ",   "a=1 ",   "/tmp/x ",  "'unterminated ",
                                             "\"q\" ", "-3.5 ",  "echo ",    "ü ",
                                             "=== ",   ADDR " ", "key=\"v ", "https://x/ "};
        strbuf b = {0};
        for (size_t i = 0; b.len < n; i++)
                sb_add(&b, pieces[(i * 7 + i / 5) % (sizeof(pieces) / sizeof(pieces[0]))]);
        return sb_steal(&b);
}

/* "echo " and prose, as pasted. */
static char *pasted(size_t n)
{
        static const char prose[] = "The quick brown fox jumps over the lazy dog, twice; then "
                                    "it reads /etc/hosts and adds 2 and 3. ";
        strbuf b = {0};
        sb_add(&b, "echo ");
        while (b.len < n)
                sb_add(&b, prose);
        return sb_steal(&b);
}

/* "read-" and a word of parts, as one token. */
static char *one_word(size_t n)
{
        static const char *const parts[] = {"alpha", "beta", "gamma", "delta", "file", "list"};
        strbuf b = {0};
        sb_add(&b, "read");
        for (size_t i = 0; b.len < n; i++)
                sb_addf(&b, "-%s%zu", parts[i % 6], i);
        return sb_steal(&b);
}

/* "echo " and opening brackets, as one token. */
static char *brackets(size_t n)
{
        strbuf b = {0};
        sb_add(&b, "echo ");
        while (b.len < n)
                sb_add(&b, "(");
        return sb_steal(&b);
}

static uint64_t plan_ns(struct agent_planner *p, const struct agent_toolset *ts, const char *req)
{
        struct agent_convo c = {0};
        agent_convo_add_user(&c, req);
        struct agent_step s;
        osvm_err e = {0};
        uint64_t t0 = time_mono_ns();
        int rc = p->ops->plan(p, &c, ts, &s, &e);
        uint64_t t1 = time_mono_ns();
        if (rc < 0) {
                fprintf(stderr, "bench_offline: plan failed: %s\n", e.msg);
                exit(1);
        }
        agent_step_free(&s);
        agent_convo_free(&c);
        return t1 - t0;
}

/* Prints the medians of each size and the cost per byte past each size,
 * the last against the first (the ratio). */
static void report(const char *kind, const size_t *len, uint64_t *const *t, int rounds)
{
        uint64_t m[NSIZES];
        double slope[NSIZES] = {0};
        for (size_t k = 0; k < NSIZES; k++) {
                m[k] = bench_median_u64(t[k], (size_t)rounds);
                printf("%-8s %7zu bytes  p50 %9.3f ms", kind, len[k], (double)m[k] / 1e6);
                if (k > 0) {
                        slope[k] =
                            ((double)m[k] - (double)m[k - 1]) / (double)(len[k] - len[k - 1]);
                        printf("  %8.2f ns per byte past %zu", slope[k], len[k - 1]);
                }
                if (k > 1 && slope[1] > 0)
                        printf(": %.2fx the bytes before", slope[k] / slope[1]);
                else if (k > 1)
                        printf(" (the bytes before: within the noise)");
                printf("\n");
        }
}

static void run(const char *kind, char *(*make)(size_t), struct agent_planner *p,
                const struct agent_toolset *ts, int rounds)
{
        char *req[NSIZES];
        size_t len[NSIZES];
        uint64_t *t[NSIZES];
        for (size_t k = 0; k < NSIZES; k++) {
                req[k] = make(sizes[k]);
                len[k] = strlen(req[k]);
                t[k] = xcalloc((size_t)rounds, sizeof(uint64_t));
                plan_ns(p, ts, req[k]); /* warm */
        }
        for (int r = 0; r < rounds; r++)
                for (size_t k = 0; k < NSIZES; k++)
                        t[k][r] = plan_ns(p, ts, req[k]);
        report(kind, len, t, rounds);
        for (size_t k = 0; k < NSIZES; k++) {
                free(req[k]);
                free(t[k]);
        }
}

/* A server's tool whose description is n bytes of distinct words: what a
 * server writes costs the planner linear time too. */
static void run_description(struct agent_planner *p, const struct agent_toolset *base, int rounds)
{
        struct agent_toolset ts[NSIZES];
        size_t len[NSIZES];
        uint64_t *t[NSIZES];
        for (size_t k = 0; k < NSIZES; k++) {
                strbuf d = {0};
                for (size_t i = 0; d.len < sizes[k]; i++)
                        sb_addf(&d, "word%zu ", i);
                len[k] = d.len;
                json_t *tools = json_pack("[{s:s, s:s, s:{s:s}}]", "name", "lookup", "description",
                                          d.s, "inputSchema", "type", "object");
                sb_free(&d);
                ts[k] = (struct agent_toolset){0};
                for (size_t i = 0; i < base->n; i++) {
                        json_t *one = json_pack("[{s:s, s:O}]", "name", base->v[i].name,
                                                "inputSchema", base->v[i].input_schema);
                        agent_toolset_add(&ts[k], base->v[i].server, one);
                        json_decref(one);
                }
                agent_toolset_add(&ts[k], "notes", tools);
                json_decref(tools);
                t[k] = xcalloc((size_t)rounds, sizeof(uint64_t));
                plan_ns(p, &ts[k], "echo hello"); /* warm */
        }
        for (int r = 0; r < rounds; r++)
                for (size_t k = 0; k < NSIZES; k++)
                        t[k][r] = plan_ns(p, &ts[k], "echo hello");
        report("desc", len, t, rounds);
        for (size_t k = 0; k < NSIZES; k++) {
                agent_toolset_free(&ts[k]);
                free(t[k]);
        }
}

int main(int argc, char **argv)
{
        /* glibc serves blocks of 128 KB and more with fresh pages from mmap
         * (and gives the heap's top back past 128 KB): a cost per byte that
         * starts at 128 KB, a step and not a slope. Blocks come from the heap
         * here, so that the ratio shows how the planner's work grows. */
        mallopt(M_MMAP_THRESHOLD, 16 << 20);
        mallopt(M_TRIM_THRESHOLD, 64 << 20);
        int rounds = argc > 1 ? atoi(argv[1]) : 21;
        if (rounds < 1)
                rounds = 1;
        struct agent_toolset ts = {0};
        if (add_fixture(&ts, "everything", "tests/agent/fixtures/everything.json") < 0 ||
            add_fixture(&ts, "filesystem", "tests/agent/fixtures/filesystem.json") < 0 ||
            add_fixture(&ts, "solana", "tests/agent/fixtures/solana.json") < 0)
                return 1;
        struct agent_planner *p = agent_planner_offline();
        printf("offline planner, %zu tools, %d rounds per size; the cost of a byte past 20 KB "
               "against one past 2 KB (linear: ~1.0x, quadratic: ~10x)\n",
               ts.n, rounds);
        run("mixed", mixed, p, &ts, rounds);
        run("pasted", pasted, p, &ts, rounds);
        run("one word", one_word, p, &ts, rounds);
        run("brackets", brackets, p, &ts, rounds);
        run_description(p, &ts, rounds);
        p->ops->free(p);
        agent_toolset_free(&ts);
        return 0;
}
