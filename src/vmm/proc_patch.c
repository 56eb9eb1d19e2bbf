/*
 * Patched system call sites (docs/vmm.md, "Patched system call sites").
 *
 * On the process platform every system call a program makes traps: Syscall
 * User Dispatch turns the `syscall` instruction into a SIGSYS, which the
 * kernel delivers on the stub's signal stack with the guest's registers and
 * FPU state: ~1.2 us on a host where a native getpid costs 0.15 us. Most of
 * a program's calls come from sites compiled as `mov $nr, %eax; syscall`
 * (b8 imm32 0f 05). Such a site's mov, five bytes, can become a `jmp` (e9
 * rel32) to a trampoline that sets eax to the number and ecx to the address
 * past the syscall instruction (as the instruction itself would: rcx and
 * r11 are its to clobber) and jumps into the stub, which builds the frame a
 * trap would have given it and serves the call the same way: no signal, no
 * kernel entry for what the stub answers itself, one futex hand-off for
 * the rest. The syscall instruction stays where it was, so a jump straight
 * to it traps as before.
 *
 * The sites are found in the image's own bytes, never from what a guest
 * says (a guest could name the tail of some other instruction, and every
 * later call of the image would run it broken): each executable section is
 * decoded from its start, one instruction after another (x86_len.c), and a
 * site is a mov of that form at an instruction boundary followed by a
 * syscall, inside a segment the stub maps from the image (read-only,
 * executable), below 2 GiB (a rel32 from the trampolines reaches it). A
 * section whose decoding meets something that is no instruction gives no
 * site. A program that jumps into the middle of a mov, or reads its
 * own code, would see the patch: compilers emit neither.
 *
 * The patched image is a copy of the image's memfd with those five bytes
 * changed and the trampolines' pages after it, sealed, with a serial of its
 * own (kept guest memory maps it apart from the original), made once per
 * image. Finding the sites takes a few milliseconds for a large program
 * (~3 ms for a static glibc one), more than a whole call of a small one: so
 * the copy is made at the image's second load on this platform in the
 * process (the pool's, mostly, off the calls' path), and a one-shot run
 * (`osvm unikernel run`) never pays for it. The stub maps the copy in place
 * of the image and the trampolines at VMM_PROC_TRAMP. OSVM_PROC_PATCH in
 * osvm's environment: 0 turns patching off (every call traps), `now`
 * patches from an image's first load (the tests' way to run every call of
 * a one-shot run patched).
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/proc.h"

#define PATCH_LEN   7 /* b8 imm32 0f 05 */
#define TRAMP_SLOT  16
#define TRAMP_SITES (VMM_PROC_TRAMP_PAGES * VMM_PAGE / TRAMP_SLOT)

struct patch_site {
        uint64_t at;  /* the mov's guest address */
        uint64_t off; /* its offset in the image */
        uint32_t nr;
};

struct vmm_proc_patch {
        unsigned uses; /* loads of the image on this platform so far */
        bool done;     /* looked for sites (and made the copy, where any) */
        int fd;        /* the patched copy, or -1 */
        uint64_t serial;
        size_t nsites;
};

static pthread_mutex_t patch_lock = PTHREAD_MUTEX_INITIALIZER;

struct vmm_proc_patch *vmm_proc_patch_new(void)
{
        struct vmm_proc_patch *p = xcalloc(1, sizeof(*p));
        p->fd = -1;
        return p;
}

void vmm_proc_patch_free(struct vmm_image *img)
{
        struct vmm_proc_patch *p = img->patch;
        if (!p)
                return;
        if (p->fd >= 0)
                close(p->fd);
        free(p);
        img->patch = NULL;
}

/* From which load of an image on this platform its patched copy serves:
 * the second (0: never). */
static unsigned patch_from(void)
{
        const char *v = getenv("OSVM_PROC_PATCH");
        return !v ? 2 : !strcmp(v, "0") ? 0 : !strcmp(v, "now") ? 1 : 2;
}

/* The guest address of the image's byte at file offset off, where a
 * segment the stub maps read-only and executable (as proc_load decides:
 * not writable, no bss) holds [off, off + len); 0 where none does. */
static uint64_t code_addr(const struct vmm_image *img, uint64_t off, uint64_t len)
{
        if (!img->can_map)
                return 0;
        for (size_t i = 0; i < img->nseg; i++) {
                const struct vmm_seg *s = &img->seg[i];
                if (!(s->flags & PF_X) || (s->flags & PF_W) || !s->filesz ||
                    s->memsz != s->filesz || s->off > img->size || s->filesz > img->size - s->off)
                        continue;
                if (off >= s->off && len <= s->filesz && off - s->off <= s->filesz - len)
                        return s->vaddr + img->bias + (off - s->off);
        }
        return 0;
}

/* Decodes [lo, hi) of the image from lo on, adding each site to sites (at
 * most TRAMP_SITES in all). A section where something is no instruction
 * holds data too (hand-written code's tables), where a sweep may have
 * taken bytes for instructions before it noticed: none of its sites then. */
static void sweep(const struct vmm_image *img, uint64_t lo, uint64_t hi, struct patch_site *sites,
                  size_t *n)
{
        const uint8_t *b = img->bytes;
        size_t before = *n;
        for (uint64_t o = lo; o < hi && *n < TRAMP_SITES;) {
                int len = vmm_x86_insn_len(b + o, (size_t)(hi - o));
                if (len < 0) {
                        *n = before;
                        return;
                }
                if (len == 5 && b[o] == 0xb8 && hi - o >= PATCH_LEN && b[o + 5] == 0x0f &&
                    b[o + 6] == 0x05) {
                        uint32_t nr = (uint32_t)b[o + 1] | (uint32_t)b[o + 2] << 8 |
                                      (uint32_t)b[o + 3] << 16 | (uint32_t)b[o + 4] << 24;
                        uint64_t at = code_addr(img, o, PATCH_LEN);
                        if (nr < 1024 && at >= VMM_USER_BASE && at + PATCH_LEN < (1ull << 31))
                                sites[(*n)++] = (struct patch_site){at, o, nr};
                }
                o += (uint64_t)len;
        }
}

/* The sites of img's executable sections (from its section headers; none
 * where it has none). */
static size_t find_sites(const struct vmm_image *img, struct patch_site *sites)
{
        size_t n = 0;
        const Elf64_Ehdr *eh = (const Elf64_Ehdr *)img->bytes;
        if (img->size < sizeof(*eh) || eh->e_shentsize != sizeof(Elf64_Shdr) || !eh->e_shoff ||
            eh->e_shoff > img->size || eh->e_shnum > (img->size - eh->e_shoff) / sizeof(Elf64_Shdr))
                return 0;
        for (size_t i = 0; i < eh->e_shnum; i++) {
                Elf64_Shdr sh;
                memcpy(&sh, img->bytes + eh->e_shoff + i * sizeof(sh), sizeof(sh));
                if (sh.sh_type != SHT_PROGBITS || !(sh.sh_flags & SHF_EXECINSTR) ||
                    sh.sh_offset > img->size || sh.sh_size > img->size - sh.sh_offset)
                        continue;
                sweep(img, sh.sh_offset, sh.sh_offset + sh.sh_size, sites, &n);
        }
        return n;
}

static void put32(uint8_t *p, uint32_t v)
{
        p[0] = (uint8_t)v;
        p[1] = (uint8_t)(v >> 8);
        p[2] = (uint8_t)(v >> 16);
        p[3] = (uint8_t)(v >> 24);
}

/* Where the trampolines jump: the stub's stub_patch_entry, at a fixed
 * offset from the entry point its ELF header names (gadget.S). Not a word
 * of the control page, which the guest may overwrite. */
static uint64_t patch_entry(void)
{
        const Elf64_Ehdr *eh = (const Elf64_Ehdr *)vmm_stub_blob;
        return eh->e_entry + VMM_PROC_PATCH_OFF;
}

/* The trampoline at guest address slot_at of a site: mov $nr, %eax;
 * mov $ret, %ecx (ret: past the syscall instruction); jmp rel32 to the
 * stub; int3. */
static void tramp_write(uint8_t *slot, uint64_t slot_at, const struct patch_site *s)
{
        memset(slot, 0xcc, TRAMP_SLOT);
        slot[0] = 0xb8;
        put32(slot + 1, s->nr);
        slot[5] = 0xb9;
        put32(slot + 6, (uint32_t)(s->at + PATCH_LEN));
        slot[10] = 0xe9;
        put32(slot + 11, (uint32_t)(int32_t)((int64_t)patch_entry() - (int64_t)(slot_at + 15)));
}

static uint64_t tramp_off(const struct vmm_image *img)
{
        return (img->size + VMM_PAGE - 1) & ~(uint64_t)(VMM_PAGE - 1);
}

/* A sealed copy of img with its n sites patched and the trampolines' pages
 * after it; its fd, or -1. */
static int copy_make(const struct vmm_image *img, const struct patch_site *sites, size_t n)
{
        uint64_t toff = tramp_off(img);
        size_t len = (size_t)(toff + VMM_PROC_TRAMP_PAGES * VMM_PAGE);
        uint8_t *buf = xcalloc(1, len);
        memcpy(buf, img->bytes, img->size);
        for (size_t k = 0; k < n; k++) {
                const struct patch_site *s = &sites[k];
                uint64_t slot = VMM_PROC_TRAMP + k * TRAMP_SLOT;
                buf[s->off] = 0xe9; /* jmp rel32, from the end of these five bytes */
                put32(buf + s->off + 1, (uint32_t)(int32_t)((int64_t)slot - (int64_t)(s->at + 5)));
                tramp_write(buf + toff + k * TRAMP_SLOT, slot, s);
        }
        int fd = memfd_create("osvm-image-patched", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        bool ok = fd >= 0;
        for (size_t done = 0; ok && done < len;) {
                ssize_t w = pwrite(fd, buf + done, len - done, (off_t)done);
                if (w < 0 && errno == EINTR)
                        continue;
                ok = w > 0;
                done += ok ? (size_t)w : 0;
        }
        free(buf);
        if (ok)
                ok = fcntl(fd, F_ADD_SEALS,
                           F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) == 0;
        if (!ok && fd >= 0) {
                close(fd);
                fd = -1;
        }
        return fd;
}

/* Under patch_lock: p's copy of img, made once. */
static void patch_make(const struct vmm_image *img, struct vmm_proc_patch *p)
{
        p->done = true;
        struct patch_site *sites = xmalloc(TRAMP_SITES * sizeof(*sites));
        size_t n = find_sites(img, sites);
        if (n) {
                p->fd = copy_make(img, sites, n);
                if (p->fd < 0)
                        log_warn("vmm: patching %s's system call sites: %s", img->path,
                                 strerror(errno));
                else {
                        p->serial = vmm_image_serial_new();
                        p->nsites = n;
                }
        }
        free(sites);
}

bool vmm_proc_patched(const struct vmm_image *img, bool load, int *fd, uint64_t *serial,
                      uint64_t *toff, uint64_t *tlen)
{
        struct vmm_proc_patch *p = img->patch;
        if (!p)
                return false;
        pthread_mutex_lock(&patch_lock);
        unsigned from = patch_from();
        if (load && !p->done && from && ++p->uses >= from)
                patch_make(img, p);
        bool have = p->fd >= 0;
        if (have) {
                *fd = p->fd;
                *serial = p->serial;
                *toff = tramp_off(img);
                *tlen = (p->nsites * TRAMP_SLOT + VMM_PAGE - 1) & ~(uint64_t)(VMM_PAGE - 1);
        }
        pthread_mutex_unlock(&patch_lock);
        return have;
}

size_t vmm_proc_patch_count(const struct vmm_image *img)
{
        if (!img->patch)
                return 0;
        pthread_mutex_lock(&patch_lock);
        size_t n = img->patch->nsites;
        pthread_mutex_unlock(&patch_lock);
        return n;
}
