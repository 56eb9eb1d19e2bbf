/*
 * The ELF loader's checks (src/vmm/elf.c): the image a run loads is the
 * user's, or anybody's who could write the file.
 *
 * Input: the whole file. Checked beyond "no crash, no leak": a refusal has a
 * message; an image it accepts has its segments inside the file and inside
 * the guest's address limits (in the user area, at most 2^40 and the load
 * bias), its entry point inside the loaded range, and it loads into guest
 * memory of its size (the copying path; the mapping path needs a memfd)
 * without touching anything outside that memory.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "vmm/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MEM_MAX (16ull << 20) /* guest memory an accepted image is loaded into */

static uint8_t *mem;

static void check(bool ok)
{
        if (!ok)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (!mem) {
                /* the guest memory, with a page of no access after it */
                mem = mmap(NULL, MEM_MAX + VMM_PAGE, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
                check(mem != MAP_FAILED);
                check(mprotect(mem + MEM_MAX, VMM_PAGE, PROT_NONE) == 0);
        }
        /* the bytes as the loader sees them: a copy of exactly size bytes */
        uint8_t *bytes = malloc(size ? size : 1);
        memcpy(bytes, data, size);
        struct vmm_image img;
        memset(&img, 0, sizeof(img));
        img.path = "fuzz";
        img.memfd = -1;
        osvm_err e = {0};
        if (vmm_elf_parse(bytes, size, &img, &e) < 0) {
                check(e.msg[0] != '\0'); /* a refusal says why */
                free(bytes);
                return 0;
        }
        check(img.nseg >= 1 && img.nseg <= sizeof(img.seg) / sizeof(img.seg[0]));
        check(img.lo >= VMM_USER_BASE && img.lo < img.hi);
        check(img.lo % VMM_PAGE == 0 && img.hi % VMM_PAGE == 0);
        check(img.hi <= (1ull << 40) + VMM_LOAD_BASE);
        check(img.entry >= img.lo && img.entry < img.hi);
        check(img.pie ? img.lo == VMM_LOAD_BASE : img.bias == 0); /* static-pie goes there */
        for (size_t i = 0; i < img.nseg; i++) {
                const struct vmm_seg *s = &img.seg[i];
                check(s->memsz > 0 && s->filesz <= s->memsz);
                check(s->off <= size && s->filesz <= size - s->off); /* inside the file */
                check(s->vaddr <= (1ull << 40) && s->memsz <= (1ull << 40) - s->vaddr);
                uint64_t va = s->vaddr + img.bias;
                check(va >= img.lo && va + s->memsz <= img.hi); /* inside the loaded range */
        }
        if (img.hi <= MEM_MAX) {
                img.bytes = bytes;
                img.size = size;
                img.can_map = false; /* no memfd: the copying path */
                check(vmm_image_load(&img, mem, MEM_MAX, &e) == 0);
                /* the image's pages back to zero, for the next input */
                madvise(mem + img.lo, img.hi - img.lo, MADV_DONTNEED);
        } else {
                check(vmm_image_load(&img, mem, MEM_MAX, &e) < 0 && e.msg[0] != '\0');
        }
        free(bytes);
        return 0;
}
