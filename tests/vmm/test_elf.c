/* The ELF loader's checks: a well-formed image parses; truncated, foreign,
 * dynamic and malformed ones are refused with a reason. */
#include "testutil.h"

#include <elf.h>
#include <errno.h>
#include <string.h>

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

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_good),
            cmocka_unit_test(test_refused),
            cmocka_unit_test(test_image_check),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
