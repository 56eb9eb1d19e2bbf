/*
 * The image: a static x86-64 ELF (ET_EXEC, or ET_DYN for static-pie),
 * checked field by field, cached per path in a sealed memfd, and placed
 * into guest memory copy-on-write.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/internal.h"

#define IMAGE_MAX_BYTES (256ull << 20)
#define CACHE_MAX       16

static uint64_t page_down(uint64_t a)
{
        return a & ~(VMM_PAGE - 1);
}

static bool add_ok(uint64_t a, uint64_t b, uint64_t *out)
{
        return !__builtin_add_overflow(a, b, out);
}

int vmm_elf_parse(const uint8_t *bytes, uint64_t size, struct vmm_image *img, osvm_err *e)
{
        Elf64_Ehdr eh;
        if (size < sizeof(eh))
                return err_set(e, ENOEXEC, "not an ELF file: only %llu bytes",
                               (unsigned long long)size);
        memcpy(&eh, bytes, sizeof(eh));
        if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
                return err_set(e, ENOEXEC, "not an ELF file (bad magic)");
        if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
            eh.e_machine != EM_X86_64)
                return err_set(e, ENOEXEC, "not an x86-64 little-endian 64-bit ELF");
        if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN)
                return err_set(e, ENOEXEC, "ELF type %u is not an executable", eh.e_type);
        if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phnum > 64)
                return err_set(e, ENOEXEC, "bad program header table (entry size %u, count %u)",
                               eh.e_phentsize, eh.e_phnum);
        uint64_t phend;
        if (!add_ok(eh.e_phoff, (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr), &phend) || phend > size)
                return err_set(e, ENOEXEC, "program headers lie past the end of the file");

        img->pie = eh.e_type == ET_DYN;
        img->nseg = 0;
        uint64_t lo = UINT64_MAX, hi = 0, phdr_vaddr = 0;
        bool have_phdr = false;
        for (unsigned i = 0; i < eh.e_phnum; i++) {
                Elf64_Phdr ph;
                memcpy(&ph, bytes + eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
                if (ph.p_type == PT_INTERP)
                        return err_set(e, ENOEXEC,
                                       "dynamically linked (needs an interpreter): build it "
                                       "with -static or -static-pie");
                if (ph.p_type == PT_PHDR) {
                        phdr_vaddr = ph.p_vaddr;
                        have_phdr = true;
                }
                if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
                        continue;
                uint64_t fend, vend;
                if (ph.p_filesz > ph.p_memsz || !add_ok(ph.p_offset, ph.p_filesz, &fend) ||
                    fend > size || !add_ok(ph.p_vaddr, ph.p_memsz, &vend) || vend > (1ull << 40))
                        return err_set(e, ENOEXEC, "PT_LOAD segment %u is malformed", i);
                if (img->nseg == sizeof(img->seg) / sizeof(img->seg[0]))
                        return err_set(e, ENOEXEC, "too many PT_LOAD segments");
                img->seg[img->nseg++] =
                    (struct vmm_seg){ph.p_vaddr, ph.p_memsz, ph.p_offset, ph.p_filesz, ph.p_flags};
                if (page_down(ph.p_vaddr) < lo)
                        lo = page_down(ph.p_vaddr);
                if (vend > hi)
                        hi = vend;
                if (!have_phdr && eh.e_phoff >= ph.p_offset && phend <= fend)
                        phdr_vaddr = ph.p_vaddr + (eh.e_phoff - ph.p_offset);
        }
        if (img->nseg == 0)
                return err_set(e, ENOEXEC, "no loadable segment");
        hi = (hi + VMM_PAGE - 1) & ~(VMM_PAGE - 1);
        img->bias = img->pie ? VMM_LOAD_BASE - lo : 0;
        img->lo = lo + img->bias;
        img->hi = hi + img->bias;
        if (img->lo < VMM_USER_BASE)
                return err_set(e, ENOEXEC,
                               "image loads at 0x%llx, below the user area at 0x%llx: link it "
                               "at 0x400000 or as static-pie",
                               (unsigned long long)img->lo, (unsigned long long)VMM_USER_BASE);
        uint64_t entry = eh.e_entry + img->bias;
        if (entry < img->lo || entry >= img->hi)
                return err_set(e, ENOEXEC, "entry point 0x%llx is outside the image",
                               (unsigned long long)entry);
        img->entry = entry;
        img->phdr = phdr_vaddr ? phdr_vaddr + img->bias : 0;
        img->phnum = eh.e_phnum;

        /* Copy-on-write mapping needs each segment's offset and address to be
         * congruent modulo the page size and no page shared by two segments. */
        img->can_map = true;
        for (size_t i = 0; i < img->nseg; i++) {
                const struct vmm_seg *s = &img->seg[i];
                if ((s->off & (VMM_PAGE - 1)) != (s->vaddr & (VMM_PAGE - 1)))
                        img->can_map = false;
                for (size_t j = 0; j < img->nseg; j++) {
                        const struct vmm_seg *t = &img->seg[j];
                        if (i == j)
                                continue;
                        uint64_t s_first = page_down(s->vaddr);
                        uint64_t s_last = page_down(s->vaddr + s->memsz - 1);
                        uint64_t t_first = page_down(t->vaddr);
                        uint64_t t_last = page_down(t->vaddr + t->memsz - 1);
                        if (s_first <= t_last && t_first <= s_last)
                                img->can_map = false;
                }
        }
        return 0;
}

/* ---- the cache ---- */

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct vmm_image *cache[CACHE_MAX];

static void image_free(struct vmm_image *img)
{
        vmm_proc_patch_free(img);
        free(img->profile);
        if (img->bytes)
                munmap((void *)img->bytes, img->size);
        if (img->memfd >= 0)
                close(img->memfd);
        free(img->path);
        free(img);
}

/* A file time in ns, as the cache keys it. */
static int64_t ns_of(struct timespec t)
{
        return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

uint64_t vmm_image_serial_new(void)
{
        static uint64_t serials;
        return __atomic_add_fetch(&serials, 1, __ATOMIC_RELAXED);
}

static struct vmm_image *image_load(const char *path, const struct stat *st, int fd, osvm_err *e)
{
        if (!S_ISREG(st->st_mode)) {
                err_set(e, EINVAL, "%s: not a regular file", path);
                return NULL;
        }
        if ((uint64_t)st->st_size > IMAGE_MAX_BYTES || st->st_size == 0) {
                err_set(e, EFBIG, "%s: size %lld is not between 1 byte and %llu MiB", path,
                        (long long)st->st_size, IMAGE_MAX_BYTES >> 20);
                return NULL;
        }
        struct vmm_image *img = xcalloc(1, sizeof(*img));
        img->serial = vmm_image_serial_new();
        img->patch = vmm_proc_patch_new();
        img->memfd = -1;
        img->path = xstrdup(path);
        img->dev = st->st_dev;
        img->ino = st->st_ino;
        img->mtime_ns = ns_of(st->st_mtim);
        img->ctime_ns = ns_of(st->st_ctim);
        img->size = (uint64_t)st->st_size;
        /* Copy the file into a sealed memfd: later changes to the file cannot
         * reach a running VM, and a truncation cannot SIGBUS the host. */
        img->memfd = memfd_create("osvm-image", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (img->memfd < 0 || ftruncate(img->memfd, (off_t)img->size) < 0) {
                err_sys(e, "%s: memfd for the image", path);
                goto fail;
        }
        uint64_t done = 0;
        while (done < img->size) {
                ssize_t n = copy_file_range(fd, NULL, img->memfd, NULL, img->size - done, 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        /* fall back to read/write */
                        char buf[65536];
                        ssize_t r = pread(fd, buf, sizeof(buf), (off_t)done);
                        if (r <= 0 || pwrite(img->memfd, buf, (size_t)r, (off_t)done) != r) {
                                err_set(e, r < 0 ? errno : EIO, "%s: reading the image", path);
                                goto fail;
                        }
                        n = r;
                }
                done += (uint64_t)n;
        }
        if (fcntl(img->memfd, F_ADD_SEALS,
                  F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
                err_sys(e, "%s: sealing the image memfd", path);
                goto fail;
        }
        img->bytes = mmap(NULL, img->size, PROT_READ, MAP_PRIVATE, img->memfd, 0);
        if (img->bytes == MAP_FAILED) {
                img->bytes = NULL;
                err_sys(e, "%s: mapping the image", path);
                goto fail;
        }
        if (vmm_elf_parse(img->bytes, img->size, img, e) < 0) {
                err_wrap(e, "%s", path);
                goto fail;
        }
        return img;
fail:
        image_free(img);
        return NULL;
}

/* The cached image of path as st describes the file, with a reference, or NULL. */
static struct vmm_image *cache_find(const char *path, const struct stat *st)
{
        int64_t mt = ns_of(st->st_mtim), ct = ns_of(st->st_ctim);
        struct vmm_image *found = NULL;
        pthread_mutex_lock(&cache_lock);
        for (int i = 0; i < CACHE_MAX && !found; i++) {
                struct vmm_image *c = cache[i];
                if (c && c->dev == st->st_dev && c->ino == st->st_ino && c->mtime_ns == mt &&
                    c->ctime_ns == ct && c->size == (uint64_t)st->st_size &&
                    strcmp(c->path, path) == 0) {
                        c->refs++;
                        found = c;
                }
        }
        pthread_mutex_unlock(&cache_lock);
        return found;
}

struct vmm_image *vmm_image_get(const char *path, osvm_err *e)
{
        /* a file the cache holds, unchanged (not written, not renamed over,
         * its mode and owner as they were): one stat */
        struct stat st;
        struct vmm_image *img;
        if (stat(path, &st) == 0 && (img = cache_find(path, &st)))
                return img;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                err_sys(e, "image %s", path);
                return NULL;
        }
        if (fstat(fd, &st) < 0) {
                err_sys(e, "image %s", path);
                close(fd);
                return NULL;
        }
        img = image_load(path, &st, fd, e);
        close(fd);
        if (!img)
                return NULL;
        img->refs = 2; /* the cache's and the caller's */
        pthread_mutex_lock(&cache_lock);
        int slot = -1;
        for (int i = 0; i < CACHE_MAX && slot < 0; i++)
                if (!cache[i])
                        slot = i;
        for (int i = 0; i < CACHE_MAX && slot < 0; i++) {
                /* replace a stale entry of the same path, else the first */
                if (strcmp(cache[i]->path, path) == 0)
                        slot = i;
        }
        if (slot < 0)
                slot = 0;
        struct vmm_image *old = cache[slot];
        cache[slot] = img;
        if (old && --old->refs == 0)
                image_free(old);
        pthread_mutex_unlock(&cache_lock);
        return img;
}

int vmm_image_check(const char *path, osvm_err *e)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return err_sys(e, "image %s", path);
        struct stat st;
        struct vmm_image *img = NULL;
        if (fstat(fd, &st) < 0)
                err_sys(e, "image %s", path);
        else
                img = image_load(path, &st, fd, e); /* as a run loads it, but not cached */
        close(fd);
        if (!img)
                return -1;
        image_free(img);
        return 0;
}

struct vmm_image *vmm_image_ref(struct vmm_image *img)
{
        pthread_mutex_lock(&cache_lock);
        img->refs++;
        pthread_mutex_unlock(&cache_lock);
        return img;
}

void vmm_image_put(struct vmm_image *img)
{
        if (!img)
                return;
        pthread_mutex_lock(&cache_lock);
        bool last = --img->refs == 0;
        pthread_mutex_unlock(&cache_lock);
        if (last)
                image_free(img);
}

void vmm_image_cache_clear(void)
{
        pthread_mutex_lock(&cache_lock);
        for (int i = 0; i < CACHE_MAX; i++) {
                struct vmm_image *c = cache[i];
                cache[i] = NULL;
                if (c && --c->refs == 0)
                        image_free(c);
        }
        pthread_mutex_unlock(&cache_lock);
}

int vmm_image_load(const struct vmm_image *img, uint8_t *mem, uint64_t mem_size, osvm_err *e)
{
        if (img->hi > mem_size)
                return err_set(e, ENOMEM,
                               "%s: the image needs 0x%llx bytes of address space, more than "
                               "the VM's %llu MiB",
                               img->path, (unsigned long long)img->hi,
                               (unsigned long long)(mem_size >> 20));
        for (size_t i = 0; i < img->nseg; i++) {
                const struct vmm_seg *s = &img->seg[i];
                uint64_t va = s->vaddr + img->bias;
                if (s->filesz == 0)
                        continue;
                if (img->can_map) {
                        uint64_t mlo = page_down(va);
                        uint64_t flo = page_down(s->off);
                        uint64_t len = va + s->filesz - mlo;
                        void *p = mmap(mem + mlo, len, PROT_READ | PROT_WRITE,
                                       MAP_PRIVATE | MAP_FIXED, img->memfd, (off_t)flo);
                        if (p == MAP_FAILED)
                                return err_sys(e, "%s: mapping segment %zu", img->path, i);
                        /* The file's bytes after the segment on its last page
                         * belong to the bss: zero them (this copies that page). */
                        uint64_t end = va + s->filesz;
                        uint64_t pend = (end + VMM_PAGE - 1) & ~(VMM_PAGE - 1);
                        if (pend > end)
                                memset(mem + end, 0, pend - end);
                } else {
                        memcpy(mem + va, img->bytes + s->off, s->filesz);
                }
        }
        return 0;
}
