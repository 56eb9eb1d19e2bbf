/* The ELF loader's checks: a well-formed image parses; truncated, foreign,
 * dynamic and malformed ones are refused with a reason. */
#include "testutil.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "vmm/internal.h"

struct img {
        Elf64_Ehdr eh;
        Elf64_Phdr ph[2];
        uint8_t code[64];
};

static void make(struct img *m)
{
        memset(m, 0, sizeof(*m));
        memcpy(m->eh.e_ident, ELFMAG, SELFMAG);
        m->eh.e_ident[EI_CLASS] = ELFCLASS64;
        m->eh.e_ident[EI_DATA] = ELFDATA2LSB;
        m->eh.e_type = ET_EXEC;
        m->eh.e_machine = EM_X86_64;
        m->eh.e_entry = 0x400000 + offsetof(struct img, code);
        m->eh.e_phoff = offsetof(struct img, ph);
        m->eh.e_phentsize = sizeof(Elf64_Phdr);
        m->eh.e_phnum = 1;
        m->ph[0] = (Elf64_Phdr){.p_type = PT_LOAD,
                                .p_offset = 0,
                                .p_vaddr = 0x400000,
                                .p_filesz = sizeof(*m),
                                .p_memsz = sizeof(*m) + 8192};
}

static void refused(const struct img *m, size_t size, const char *why)
{
        struct vmm_image img;
        osvm_err e = {0};
        memset(&img, 0, sizeof(img));
        assert_int_equal(vmm_elf_parse((const uint8_t *)m, size, &img, &e), -1);
        if (!strstr(e.msg, why))
                fail_msg("wanted \"%s\" in \"%s\"", why, e.msg);
}

static void test_good(void **state)
{
        (void)state;
        struct img m;
        make(&m);
        struct vmm_image img;
        osvm_err e = {0};
        memset(&img, 0, sizeof(img));
        assert_int_equal(vmm_elf_parse((const uint8_t *)&m, sizeof(m), &img, &e), 0);
        assert_int_equal(img.entry, m.eh.e_entry);
        assert_int_equal(img.lo, 0x400000);
        assert_int_equal(img.hi, 0x400000 + 3 * 4096);
        assert_int_equal(img.phdr, 0x400000 + offsetof(struct img, ph));
        assert_true(img.can_map);

        /* static-pie: loaded at VMM_LOAD_BASE whatever its link address */
        m.eh.e_type = ET_DYN;
        m.ph[0].p_vaddr = 0;
        m.eh.e_entry = offsetof(struct img, code);
        assert_int_equal(vmm_elf_parse((const uint8_t *)&m, sizeof(m), &img, &e), 0);
        assert_int_equal(img.entry, VMM_LOAD_BASE + offsetof(struct img, code));
        assert_true(img.pie);
}

static void test_refused(void **state)
{
        (void)state;
        struct img m;
        make(&m);
        refused(&m, 10, "not an ELF file");
        make(&m);
        m.eh.e_ident[0] = 0;
        refused(&m, sizeof(m), "bad magic");
        make(&m);
        m.eh.e_machine = EM_AARCH64;
        refused(&m, sizeof(m), "not an x86-64");
        make(&m);
        m.eh.e_type = ET_REL;
        refused(&m, sizeof(m), "not an executable");
        make(&m);
        m.eh.e_phoff = sizeof(m) - 8;
        refused(&m, sizeof(m), "past the end of the file");
        make(&m);
        m.eh.e_phoff = UINT64_MAX - 8;
        refused(&m, sizeof(m), "past the end of the file");
        make(&m);
        m.eh.e_phnum = 2;
        m.ph[1].p_type = PT_INTERP;
        refused(&m, sizeof(m), "dynamically linked");
        make(&m);
        m.ph[0].p_filesz = sizeof(m) + 1;
        refused(&m, sizeof(m), "malformed");
        make(&m);
        m.ph[0].p_offset = UINT64_MAX;
        refused(&m, sizeof(m), "malformed");
        make(&m);
        m.ph[0].p_vaddr = UINT64_MAX - 100;
        refused(&m, sizeof(m), "malformed");
        make(&m);
        m.ph[0].p_filesz = 100;
        m.ph[0].p_memsz = 10;
        refused(&m, sizeof(m), "malformed");
        make(&m);
        m.ph[0].p_vaddr = 0x1000;
        m.eh.e_entry = 0x1000;
        refused(&m, sizeof(m), "below the user area");
        make(&m);
        m.eh.e_entry = 0x900000;
        refused(&m, sizeof(m), "entry point");
        make(&m);
        m.ph[0].p_type = PT_NOTE;
        refused(&m, sizeof(m), "no loadable segment");
        make(&m);
        m.eh.e_phentsize = 12;
        refused(&m, sizeof(m), "program header table");
}

/* vmm_image_check: a file on disk, checked as a run loads it, with no KVM. */
static void check_file(const char *dir, const void *bytes, size_t len, const char *why)
{
        char path[512];
        snprintf(path, sizeof(path), "%s/image", dir);
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(bytes, 1, len, f), len);
        fclose(f);
        osvm_err e = {0};
        int r = vmm_image_check(path, &e);
        if (!why) {
                assert_int_equal(r, 0);
        } else {
                assert_int_equal(r, -1);
                if (!strstr(e.msg, why))
                        fail_msg("wanted \"%s\" in \"%s\"", why, e.msg);
                if (!strstr(e.msg, path))
                        fail_msg("wanted the path in \"%s\"", e.msg);
        }
        unlink(path);
}

static void test_image_check(void **state)
{
        (void)state;
        char dir[64];
        assert_int_equal(tu_tempdir(dir, sizeof(dir), "elfcheck"), 0);
        struct img m;
        make(&m);
        check_file(dir, &m, sizeof(m), NULL);
        m.eh.e_phnum = 2;
        m.ph[1].p_type = PT_INTERP;
        check_file(dir, &m, sizeof(m), "dynamically linked");
        check_file(dir, "#!/bin/sh\n", 10, "not an ELF file");
        check_file(dir, "", 0, "size 0");

        osvm_err e = {0};
        assert_int_equal(vmm_image_check(dir, &e), -1);
        assert_non_null(strstr(e.msg, "not a regular file"));
        char missing[128];
        snprintf(missing, sizeof(missing), "%s/missing.img", dir);
        err_clear(&e);
        assert_int_equal(vmm_image_check(missing, &e), -1);
        assert_int_equal(e.code, ENOENT);
        assert_int_equal(tu_rmrf(dir), 0);
}

/* The file at path written anew with its first code byte `code` and both
 * times t (apart from any earlier ones: a write within one clock tick leaves
 * mtime as it was). */
static void write_image(const char *path, struct img *m, uint8_t code, time_t t)
{
        m->code[0] = code;
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(m, 1, sizeof(*m), f), sizeof(*m));
        assert_int_equal(fclose(f), 0);
        struct timespec ts[2] = {{t, 0}, {t, 0}};
        assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/* The image of path from the cache, which must be a new one, not was; its
 * first code byte code (or any, for -1). The caller puts it. */
static struct vmm_image *get_new(const char *path, const struct vmm_image *was, int code)
{
        osvm_err e = {0};
        struct vmm_image *img = vmm_image_get(path, &e);
        if (!img)
                fail_msg("%s: %s", path, e.msg);
        assert_ptr_not_equal(img, was);
        if (code >= 0)
                assert_int_equal(img->bytes[offsetof(struct img, code)], code);
        return img;
}

/* The image cache hands out the image it holds while the file is unchanged,
 * and loads it again once the file was written, renamed over, or had its
 * mode changed (ctime). */
static void test_image_cache(void **state)
{
        (void)state;
        char dir[64], path[128], other[128];
        assert_int_equal(tu_tempdir(dir, sizeof(dir), "elfcache"), 0);
        snprintf(path, sizeof(path), "%s/tool", dir);
        snprintf(other, sizeof(other), "%s/tool.new", dir);
        struct img m;
        make(&m);
        write_image(path, &m, 0x11, 1000000);
        struct vmm_image *a = get_new(path, NULL, 0x11);
        osvm_err e = {0};
        struct vmm_image *b = vmm_image_get(path, &e);
        assert_ptr_equal(a, b); /* unchanged: the one held */
        vmm_image_put(b);

        /* written: same size, new bytes; the image held keeps the old ones */
        write_image(path, &m, 0x22, 2000000);
        struct vmm_image *c = get_new(path, a, 0x22);
        assert_int_equal(a->bytes[offsetof(struct img, code)], 0x11);
        vmm_image_put(a);

        /* its mode changed only */
        assert_int_equal(chmod(path, 0500), 0);
        struct vmm_image *d = get_new(path, c, 0x22);
        vmm_image_put(c);

        /* renamed over by another file of the same times and size */
        write_image(other, &m, 0x33, 2000000);
        assert_int_equal(rename(other, path), 0);
        struct vmm_image *f = get_new(path, d, 0x33);
        vmm_image_put(d);
        vmm_image_put(f);

        /* gone */
        assert_int_equal(unlink(path), 0);
        assert_null(vmm_image_get(path, &e));
        assert_int_equal(e.code, ENOENT);
        assert_int_equal(tu_rmrf(dir), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_good),
            cmocka_unit_test(test_refused),
            cmocka_unit_test(test_image_check),
            cmocka_unit_test(test_image_cache),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
