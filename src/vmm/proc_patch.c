/*
 * Patched system call sites (docs/vmm.md, "Patched system call sites").
 *
 * On the process platform every system call a program makes traps: Syscall
 * User Dispatch turns the `syscall` instruction into a SIGSYS, which the
 * kernel delivers on the stub's signal stack with the guest's registers and
 * FPU state: ~1.3 us on a host where a native getpid costs 0.15 us. So the
 * instruction before a syscall becomes a `jmp` (e9 rel32) to a trampoline
 * that does what it did (a `mov $nr, %eax`, "moved": the trampoline sets
 * eax; another instruction of three bytes or more, "displaced": the
 * trampoline runs it), sets ecx to the address past the syscall (as the
 * instruction itself would: rcx and r11 are its to clobber) and jumps into
 * the stub, which builds the frame a trap would have given it and serves
 * the call the same way: no signal, no kernel entry for what the stub
 * answers itself, one futex hand-off for the rest. After a moved mov the
 * syscall stays, so a jump straight to it traps as before; a displaced
 * instruction's jmp covers its syscall, which then must be no branch's
 * target.
 *
 * The sites are found in the image's own bytes, never from what a guest
 * says (a guest could name the tail of some other instruction, and every
 * later call of the image would run it broken): each executable section is
 * decoded from its start, one instruction after another (x86_len.c), its
 * direct branches' targets noted, and a site is an instruction of either
 * kind at an instruction boundary followed by a syscall, inside a segment
 * the stub maps from the image (read-only, executable), below 2 GiB (a
 * rel32 from the trampolines reaches it). A displaced instruction is a
 * plain move, load, store, lea or ALU operation, never a branch, call,
 * return, padding or trap. A section whose decoding meets something that
 * is no instruction gives no site. A program that jumps into a site's
 * instruction other than at its start (or, by a computed jump, to a
 * displaced site's syscall), or reads its own code, would see the patch:
 * compilers emit neither.
 *
 * The patched image is a copy of the image's memfd with the sites changed
 * and the trampolines' pages after it, sealed, with a serial of its own
 * (kept guest memory maps it apart from the original), made once per
 * image. Finding the sites takes a few milliseconds for a large program
 * (~4 ms for a static glibc one, ~14 ms for busybox), more than a whole
 * call of a small one: so the copy is made at the image's second load on
 * this platform in the process (the pool's, mostly, off the calls' path),
 * and a one-shot run (`osvm unikernel run`) never pays for it. The stub
 * maps the copy in place of the image and the trampolines at
 * VMM_PROC_TRAMP. OSVM_PROC_PATCH in osvm's environment: 0 turns patching
 * off (every call traps), `now` patches from an image's first load (the
 * tests' way to run every call of a one-shot run patched).
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

#define SYSCALL_LEN 2 /* 0f 05 */
#define JMP_LEN     5 /* e9 rel32 */
#define TRAMP_SLOT  32
#define TRAMP_SITES (VMM_PROC_TRAMP_PAGES * VMM_PAGE / TRAMP_SLOT)

/* A site: the instruction before a syscall, which a jmp to its trampoline
 * replaces. A `mov $nr, %eax` (moved: the trampoline sets eax; the syscall
 * stays) or another instruction of three bytes or more (displaced: the
 * trampoline runs it, and the jmp covers the syscall too). */
struct patch_site {
        uint64_t at;  /* the instruction's guest address */
        uint64_t off; /* its offset in the image */
        uint32_t len; /* its length */
        bool moved;   /* a `mov $nr, %eax`, whose nr the trampoline sets */
        int32_t rip; /* displaced with a rip-relative operand: its disp32's offset in it; else -1 */
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

/* The offset of a rip-relative operand's disp32 in the instruction at p
 * (len bytes) that displaceable() accepted, or -1. */
static int32_t rip_disp(const uint8_t *p, size_t len)
{
        size_t i = 0;
        while (i < len && (p[i] == 0x66 || (p[i] & 0xf0) == 0x40))
                i++;
        if (i >= len || (p[i] >= 0xb8 && p[i] <= 0xbf))
                return -1; /* no ModRM */
        i += p[i] == 0x0f ? 2 : 1;
        if (i < len && (p[i] & 0xc7) == 0x05 && i + 5 <= len)
                return (int32_t)(i + 1);
        return -1;
}

/* Whether the instruction at p (len bytes) may run elsewhere, in a
 * trampoline, unchanged but for a rip-relative displacement: a plain
 * move, load, store or ALU operation (with REX or an operand-size prefix),
 * never a branch, a call, a return, padding or a trap, which either would
 * not come back or would mean that code around it could be jumped to. */
static bool displaceable(const uint8_t *p, size_t len)
{
        size_t i = 0;
        while (i < len && (p[i] == 0x66 || (p[i] & 0xf0) == 0x40))
                i++;
        if (i >= len)
                return false;
        uint8_t op = p[i];
        if (op == 0x0f)
                return i + 1 < len && (p[i + 1] == 0xb6 || p[i + 1] == 0xb7 || p[i + 1] == 0xbe ||
                                       p[i + 1] == 0xbf);
        switch (op) {
        case 0x01: /* add */
        case 0x03:
        case 0x09: /* or */
        case 0x0b:
        case 0x21: /* and */
        case 0x23:
        case 0x29: /* sub */
        case 0x2b:
        case 0x31: /* xor */
        case 0x33:
        case 0x63: /* movsxd */
        case 0x81: /* ALU with an immediate */
        case 0x83:
        case 0x88: /* mov */
        case 0x89:
        case 0x8a:
        case 0x8b:
        case 0x8d: /* lea */
                return true;
        case 0xc6: /* mov of an immediate (ModRM.reg 0; 7 is xabort and xbegin, a branch) */
        case 0xc7:
                return i + 1 < len && ((p[i + 1] >> 3) & 7) == 0;
        default:
                return op >= 0xb8 && op <= 0xbf; /* mov of an immediate to a register */
        }
}

/* A growing array of guest addresses. */
struct addrs {
        uint64_t *a;
        size_t n, cap;
};

static void addrs_add(struct addrs *v, uint64_t a)
{
        if (v->n == v->cap)
                v->a = xrealloc(v->a, (v->cap = v->cap ? v->cap * 2 : 1024) * sizeof(*v->a));
        v->a[v->n++] = a;
}

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return x < y ? -1 : x > y;
}

/* The target of the direct branch (jcc, jmp, call, loop, jrcxz) of len
 * bytes at p, guest address at; 0 where it is none. */
static uint64_t branch_target(const uint8_t *p, int len, uint64_t at)
{
        int i = 0;
        while (i < len && (p[i] == 0x66 || (p[i] & 0xf0) == 0x40 || p[i] == 0xf2 || p[i] == 0xf3 ||
                           p[i] == 0x2e || p[i] == 0x3e))
                i++;
        if (i >= len)
                return 0;
        uint8_t op = p[i];
        int64_t rel;
        if ((op >= 0x70 && op <= 0x7f) || (op >= 0xe0 && op <= 0xe3) || op == 0xeb) {
                rel = (int8_t)p[len - 1];
        } else if (op == 0xe8 || op == 0xe9 ||
                   (op == 0x0f && i + 1 < len && (p[i + 1] & 0xf0) == 0x80)) {
                int32_t r32;
                memcpy(&r32, p + len - 4, 4);
                rel = r32;
        } else {
                return 0;
        }
        return at + (uint64_t)len + (uint64_t)rel;
}

/* Decodes [lo, hi) of the image (guest address base at lo) from lo on,
 * adding each candidate site to sites (at most TRAMP_SITES in all) and
 * each direct branch's target to t: a candidate is a syscall after a `mov
 * $nr, %eax`, or after an instruction of three bytes or more that may be
 * displaced (the caller drops those whose syscall a branch goes to). A
 * section where something is no instruction holds data too (hand-written
 * code's tables), where a sweep may have taken bytes for instructions
 * before it noticed: none of its sites then. */
static void sweep(const struct vmm_image *img, uint64_t lo, uint64_t hi, uint64_t base,
                  struct addrs *t, struct patch_site *sites, size_t *n)
{
        const uint8_t *b = img->bytes;
        size_t before = *n;
        uint64_t prev = 0;
        int prev_len = 0;
        for (uint64_t o = lo; o < hi;) {
                int len = vmm_x86_insn_len(b + o, (size_t)(hi - o));
                if (len < 0) {
                        *n = before;
                        return;
                }
                uint64_t to = branch_target(b + o, len, base + (o - lo));
                if (to)
                        addrs_add(t, to);
                if (len == SYSCALL_LEN && b[o] == 0x0f && b[o + 1] == 0x05 && prev_len >= 3 &&
                    prev + (uint64_t)prev_len == o && *n < TRAMP_SITES) {
                        uint32_t plen = (uint32_t)prev_len;
                        uint64_t at = code_addr(img, prev, plen + SYSCALL_LEN);
                        bool moved = plen == 5 && b[prev] == 0xb8;
                        uint32_t nr = 0;
                        if (moved)
                                memcpy(&nr, b + prev + 1, 4);
                        bool ok = at >= VMM_USER_BASE && at + plen + SYSCALL_LEN < (1ull << 31) &&
                                  (moved ? nr < 1024 : displaceable(b + prev, plen));
                        if (ok)
                                sites[(*n)++] = (struct patch_site){
                                    .at = at,
                                    .off = prev,
                                    .len = plen,
                                    .moved = moved,
                                    .rip = moved ? -1 : rip_disp(b + prev, plen)};
                }
                prev = o;
                prev_len = len;
                o += (uint64_t)len;
        }
}

/* The sites of img's executable sections (from its section headers; none
 * where it has none), in two walks: the direct branches' targets first. */
static size_t find_sites(const struct vmm_image *img, struct patch_site *sites)
{
        const Elf64_Ehdr *eh = (const Elf64_Ehdr *)img->bytes;
        if (img->size < sizeof(*eh) || eh->e_shentsize != sizeof(Elf64_Shdr) || !eh->e_shoff ||
            eh->e_shoff > img->size || eh->e_shnum > (img->size - eh->e_shoff) / sizeof(Elf64_Shdr))
                return 0;
        Elf64_Shdr *code = xmalloc(eh->e_shnum * sizeof(*code) + 1);
        size_t ncode = 0;
        for (size_t i = 0; i < eh->e_shnum; i++) {
                Elf64_Shdr sh;
                memcpy(&sh, img->bytes + eh->e_shoff + i * sizeof(sh), sizeof(sh));
                if (sh.sh_type == SHT_PROGBITS && (sh.sh_flags & SHF_EXECINSTR) &&
                    sh.sh_offset <= img->size && sh.sh_size <= img->size - sh.sh_offset)
                        code[ncode++] = sh;
        }
        struct addrs t = {0};
        size_t n = 0, kept = 0;
        for (size_t i = 0; i < ncode; i++)
                sweep(img, code[i].sh_offset, code[i].sh_offset + code[i].sh_size,
                      code[i].sh_addr + img->bias, &t, sites, &n);
        /* a displaced instruction's jmp covers its syscall: none where a
         * branch goes to that syscall (the few syscalls sorted, each of the
         * many targets looked up among them) */
        uint64_t *sc = xmalloc((n + 1) * sizeof(*sc));
        for (size_t i = 0; i < n; i++)
                sc[i] = sites[i].moved ? 0 : sites[i].at + sites[i].len;
        qsort(sc, n, sizeof(*sc), cmp_u64);
        bool *hit = xcalloc(n + 1, sizeof(*hit));
        for (size_t i = 0; i < t.n; i++) {
                const uint64_t *f = bsearch(&t.a[i], sc, n, sizeof(*sc), cmp_u64);
                if (f)
                        hit[f - sc] = true;
        }
        for (size_t i = 0; i < n; i++) {
                uint64_t a = sites[i].at + sites[i].len;
                const uint64_t *f =
                    sites[i].moved ? NULL : bsearch(&a, sc, n, sizeof(*sc), cmp_u64);
                if (!f || !hit[f - sc])
                        sites[kept++] = sites[i];
        }
        free(hit);
        free(sc);
        free(t.a);
        free(code);
        return kept;
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

/* The trampoline at guest address slot_at of a site s (its bytes in the
 * image: b): `mov $nr, %eax`, or the displaced instruction (its
 * rip-relative displacement, if any, made to reach what it reached from the
 * site); then `mov $ret, %ecx` (ret: past the syscall), `jmp rel32` to the
 * stub, int3 to the slot's end. False where a displacement does not reach. */
static bool tramp_write(uint8_t *slot, uint64_t slot_at, const struct patch_site *s,
                        const uint8_t *b)
{
        memset(slot, 0xcc, TRAMP_SLOT);
        size_t i = s->len;
        memcpy(slot, b, s->len);
        if (s->rip >= 0) {
                int32_t d;
                memcpy(&d, b + s->rip, 4);
                int64_t nd = (int64_t)d + (int64_t)s->at - (int64_t)slot_at;
                if (nd != (int32_t)nd)
                        return false;
                put32(slot + s->rip, (uint32_t)(int32_t)nd);
        }
        slot[i] = 0xb9;
        put32(slot + i + 1, (uint32_t)(s->at + s->len + SYSCALL_LEN));
        i += 5;
        slot[i] = 0xe9;
        put32(slot + i + 1,
              (uint32_t)(int32_t)((int64_t)patch_entry() - (int64_t)(slot_at + i + JMP_LEN)));
        return true;
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
                if (!tramp_write(buf + toff + k * TRAMP_SLOT, slot, s, img->bytes + s->off))
                        continue; /* this one traps */
                /* jmp rel32, from the end of its five bytes; a displaced
                 * instruction's other bytes and the syscall it covers: int3 */
                buf[s->off] = 0xe9;
                put32(buf + s->off + 1,
                      (uint32_t)(int32_t)((int64_t)slot - (int64_t)(s->at + JMP_LEN)));
                if (!s->moved)
                        memset(buf + s->off + JMP_LEN, 0xcc, s->len + SYSCALL_LEN - JMP_LEN);
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
