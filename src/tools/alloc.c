/*
 * The tool images' malloc: replaces musl's (mallocng) in the images only
 * (not in the unit tests, which keep the sanitizers' allocator).
 *
 * Why: a tool is one short call. mallocng maps a fresh area with mmap for
 * each new size class and for each buffer of 64 KiB, and gives them back with
 * munmap as soon as they are free: some 12 system calls for one get_balance.
 * In osvm's engine on a nested hypervisor each is an exit (~100 us), and a
 * page given back and taken again is a fresh page, whose first touch costs
 * ~40 us more (bench/vmm.md); the call took ~2 ms longer than with glibc.
 *
 * So: one heap, its first 256 KiB in .bss (no system call at all for most
 * calls; the engine's pool touches those pages ahead like the image's), then
 * growing with brk 1 MiB at a time; and a stack discipline.
 * A block is 16 bytes of header (its size and the block before it) and its
 * bytes, 16-aligned. free() of the newest block gives it back, and with it
 * every older block already freed; any other block is marked free and comes
 * back when the blocks after it do. realloc() of the newest block grows in
 * place. The tools allocate like that (a read buffer growing, a tree, a
 * result); what is not given back is at most a few copies of the answer,
 * within the VM's memory for answers of the protocol's sizes.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ALIGN 16u
#define STEP  (1u << 20)
#define FIRST (256u << 10)

struct block {
        size_t size;        /* bytes usable after the header, 0 when the block is free */
        struct block *prev; /* the block before, NULL for the first */
        /* the bytes follow: sizeof(struct block) == ALIGN */
};

/* The first 256 KiB: in .bss, no system call (most calls need no more). */
static _Alignas(ALIGN) char first[FIRST];
static char *top = first, *end = first + FIRST; /* the next free byte, the heap's end */
static bool on_brk;
static struct block *newest;

/* Makes room for n more bytes at top; false (errno ENOMEM) when brk refuses. */
static bool room(size_t n)
{
        if ((size_t)(end - top) >= n)
                return true;
        if (!on_brk) {
                /* past the first area the heap goes on at the break; the blocks
                 * left there are not given back (newest starts again) */
                uintptr_t b = (uintptr_t)syscall(SYS_brk, 0);
                top = end = (char *)((b + ALIGN - 1) & ~(uintptr_t)(ALIGN - 1));
                on_brk = true;
                newest = NULL;
        }
        size_t want = n - (size_t)(end - top);
        if (want > SIZE_MAX - STEP) {
                errno = ENOMEM;
                return false;
        }
        want = (want + STEP - 1) / STEP * STEP;
        char *got = (char *)syscall(SYS_brk, end + want);
        if (got != end + want) {
                errno = ENOMEM;
                return false;
        }
        end = got;
        return true;
}

static size_t round_up(size_t n)
{
        return n > SIZE_MAX - 2 * ALIGN ? 0 : (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
}

void *malloc(size_t n)
{
        size_t size = round_up(n ? n : 1);
        if (!size || !room(sizeof(struct block) + size)) {
                errno = ENOMEM;
                return NULL;
        }
        struct block *b = (struct block *)top;
        b->size = size;
        b->prev = newest;
        newest = b;
        top += sizeof(*b) + size;
        return b + 1;
}

void free(void *p)
{
        if (!p)
                return;
        struct block *b = (struct block *)p - 1;
        b->size = 0;
        /* give back the newest blocks while they are free */
        while (newest && newest->size == 0) {
                top = (char *)newest;
                newest = newest->prev;
        }
}

void *calloc(size_t k, size_t n)
{
        if (n && k > SIZE_MAX / n) {
                errno = ENOMEM;
                return NULL;
        }
        void *p = malloc(k * n);
        if (p)
                memset(p, 0, k * n); /* a block given back and taken again is not zero */
        return p;
}

void *realloc(void *p, size_t n)
{
        if (!p)
                return malloc(n);
        struct block *b = (struct block *)p - 1;
        size_t size = round_up(n ? n : 1);
        if (!size) {
                errno = ENOMEM;
                return NULL;
        }
        if (size <= b->size)
                return p; /* shrinking keeps the block */
        /* the newest block grows in place, unless that would leave the first area */
        if (b == newest && (on_brk || (size_t)(end - top) >= size - b->size)) {
                if (!room(size - b->size))
                        return NULL;
                top += size - b->size;
                b->size = size;
                return p;
        }
        void *q = malloc(n);
        if (q) {
                memcpy(q, p, b->size);
                free(p);
        }
        return q;
}

void *aligned_alloc(size_t align, size_t n)
{
        if (align > ALIGN) { /* the tools never ask; musl's stdio does not either */
                errno = EINVAL;
                return NULL;
        }
        return malloc(n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
        void *p = aligned_alloc(align, n);
        if (!p)
                return errno;
        *out = p;
        return 0;
}
