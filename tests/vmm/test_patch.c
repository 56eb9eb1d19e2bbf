/* Patched system call sites on the process platform (src/vmm/proc_patch.c):
 * the instruction lengths the sites are found by (x86_len.c), against known
 * encodings and against objdump over whole programs; the sites of a real
 * image, and of made-up ones where a site is not one. */
#include "testutil.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "vmm/proc.h"

struct enc {
        uint8_t b[16];
        size_t n;
        int len;
        const char *what;
};

static void test_lengths(void **state)
{
        (void)state;
        static const struct enc encs[] = {
            {{0x90}, 1, 1, "nop"},
            {{0xc3}, 1, 1, "ret"},
            {{0x48, 0x89, 0xe5}, 3, 3, "mov %rsp,%rbp"},
            {{0xb8, 0x27, 0, 0, 0}, 5, 5, "mov $39,%eax"},
            {{0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8}, 10, 10, "movabs $imm64,%rax"},
            {{0x66, 0xb8, 1, 0}, 4, 4, "mov $1,%ax"},
            {{0x0f, 0x05}, 2, 2, "syscall"},
            {{0xe8, 0, 0, 0, 0}, 5, 5, "call rel32"},
            {{0x48, 0x8b, 0x05, 1, 2, 3, 4}, 7, 7, "mov disp32(%rip),%rax"},
            {{0x8b, 0x44, 0x24, 0x08}, 4, 4, "mov 8(%rsp),%eax"},
            {{0x8b, 0x04, 0x25, 1, 2, 3, 4}, 7, 7, "mov abs32,%eax (SIB, no base)"},
            {{0x8b, 0x84, 0x24, 1, 2, 3, 4}, 7, 7, "mov disp32(%rsp),%eax"},
            {{0x81, 0xc3, 1, 2, 3, 4}, 6, 6, "add $imm32,%ebx"},
            {{0x66, 0x81, 0xc3, 1, 2}, 5, 5, "add $imm16,%bx"},
            {{0xf6, 0xc1, 0x01}, 3, 3, "test $1,%cl"},
            {{0xf6, 0xd1}, 2, 2, "not %cl"},
            {{0xf7, 0xc1, 1, 2, 3, 4}, 6, 6, "test $imm32,%ecx"},
            {{0xc7, 0x05, 0, 0, 0, 0xb8, 0x27, 0, 0, 0}, 10, 10, "movl $39,disp32(%rip)"},
            {{0xc5, 0xf8, 0x77}, 3, 3, "vzeroupper"},
            {{0xc5, 0xfd, 0x6f, 0x04, 0x24}, 5, 5, "vmovdqa (%rsp),%ymm0"},
            {{0xc4, 0xe3, 0x7d, 0x18, 0xc1, 0x01}, 6, 6, "vinsertf128 $1,%xmm1,%ymm0,%ymm0"},
            {{0x62, 0xf1, 0x7c, 0x48, 0x10, 0x44, 0x24, 0x01}, 8, 8, "vmovups 64(%rsp),%zmm0"},
            {{0x66, 0x0f, 0x3a, 0x0f, 0xc1, 0x08}, 6, 6, "palignr $8,%xmm1,%xmm0"},
            {{0x66, 0x0f, 0x38, 0x00, 0xc1}, 5, 5, "pshufb %xmm1,%xmm0"},
            {{0x66, 0x0f, 0x70, 0xc1, 0x1b}, 5, 5, "pshufd $0x1b,%xmm1,%xmm0"},
            {{0x0f, 0x1f, 0x44, 0x00, 0x00}, 5, 5, "nopl 0(%rax,%rax)"},
            {{0x66, 0x2e, 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0}, 10, 10, "cs nopw 0(%rax,%rax)"},
            {{0xf3, 0x0f, 0x1e, 0xfa}, 4, 4, "endbr64"},
            {{0xa1, 1, 2, 3, 4, 5, 6, 7, 8}, 9, 9, "movabs moffs64,%eax"},
            {{0xc8, 0x10, 0x00, 0x00}, 4, 4, "enter $16,$0"},
            {{0x0f, 0x84, 1, 2, 3, 4}, 6, 6, "je rel32"},
            {{0x70, 0x10}, 2, 2, "jo rel8"},
            {{0x41, 0xb8, 1, 0, 0, 0}, 6, 6, "mov $1,%r8d"},
            {{0x0f, 0xba, 0xe0, 0x03}, 4, 4, "bt $3,%eax"},
            {{0xc7, 0xf8, 1, 2, 3, 4}, 6, 6, "xbegin rel32"},
            /* none in 64-bit mode, or cut short */
            {{0x06}, 1, -1, "push %es"},
            {{0x27}, 1, -1, "daa"},
            {{0x60}, 1, -1, "pusha"},
            {{0x0f, 0x04}, 2, -1, "0f 04"},
            {{0x8f, 0xe8, 0x78, 0xa2, 0xc0, 0x10}, 6, -1, "an XOP instruction"},
            {{0xb8, 1, 2}, 3, -1, "mov $imm32,%eax cut short"},
            {{0x48, 0x8b, 0x05, 1, 2}, 5, -1, "a rip-relative load cut short"},
            {{0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
              0x90},
             15,
             15,
             "fourteen prefixes and a nop: fifteen bytes, the most there may be"},
            {{0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
              0x66, 0x90},
             16,
             -1,
             "fifteen prefixes and a nop: sixteen bytes"},
        };
        for (size_t i = 0; i < sizeof(encs) / sizeof(encs[0]); i++) {
                int got = vmm_x86_insn_len(encs[i].b, encs[i].n);
                if (got != encs[i].len)
                        fail_msg("%s: length %d, wanted %d", encs[i].what, got, encs[i].len);
        }
}

/* Reads a whole file; its size in *n. */
static uint8_t *slurp(const char *path, size_t *n)
{
        FILE *f = fopen(path, "rb");
        if (!f)
                return NULL;
        fseek(f, 0, SEEK_END);
        long sz = ftell(f);
        rewind(f);
        uint8_t *b = malloc((size_t)sz);
        if (sz <= 0 || !b || fread(b, 1, (size_t)sz, f) != (size_t)sz) {
                free(b);
                b = NULL;
        }
        fclose(f);
        *n = (size_t)sz;
        return b;
}

/* Every instruction start in path's executable sections as objdump finds
 * them matches a decoded one, and the other way round (objdump counts a
 * fwait prefix into the next instruction: that start alone may be ours).
 * False (with a note) where objdump or path is missing. */
static bool agrees_with_objdump(const char *path)
{
        size_t size;
        uint8_t *b = slurp(path, &size);
        if (!b) {
                print_message("# skipped: %s is missing\n", path);
                return false;
        }
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "objdump -d -z --no-show-raw-insn '%s' 2>/dev/null", path);
        FILE *p = popen(cmd, "r");
        size_t cap = 1 << 20, nod = 0;
        uint64_t *od = malloc(cap * sizeof(*od));
        char line[512];
        while (p && fgets(line, sizeof(line), p)) {
                char *end;
                unsigned long long a = strtoull(line, &end, 16);
                if (end != line && *end == ':' && line[0] == ' ') {
                        if (nod == cap)
                                od = realloc(od, (cap *= 2) * sizeof(*od));
                        od[nod++] = a;
                }
        }
        if (p)
                pclose(p);
        if (!nod) {
                print_message("# skipped: objdump found nothing in %s (is binutils there?)\n",
                              path);
                free(od);
                free(b);
                return false;
        }
        const Elf64_Ehdr *eh = (const Elf64_Ehdr *)b;
        const Elf64_Shdr *sh = (const Elf64_Shdr *)(b + eh->e_shoff);
        size_t j = 0, ours = 0;
        for (size_t i = 0; i < eh->e_shnum; i++) {
                if (sh[i].sh_type != SHT_PROGBITS || !(sh[i].sh_flags & SHF_EXECINSTR))
                        continue;
                for (uint64_t o = sh[i].sh_offset, hi = o + sh[i].sh_size; o < hi;) {
                        uint64_t a = sh[i].sh_addr + (o - sh[i].sh_offset);
                        while (j < nod && od[j] < a)
                                fail_msg("%s: objdump has an instruction at %#llx, the "
                                         "decoder none",
                                         path, (unsigned long long)od[j]);
                        int len = vmm_x86_insn_len(b + o, (size_t)(hi - o));
                        if (len < 0)
                                fail_msg("%s: no instruction at %#llx", path,
                                         (unsigned long long)a);
                        if (j < nod && od[j] == a)
                                j++;
                        else if (b[o] != 0x9b) /* fwait */
                                fail_msg("%s: the decoder has an instruction at %#llx, objdump "
                                         "none",
                                         path, (unsigned long long)a);
                        ours++;
                        o += (uint64_t)len;
                }
        }
        assert_int_equal(j, nod);
        print_message("# %s: %zu instructions, as objdump has them\n", path, ours);
        free(od);
        free(b);
        return true;
}

static void test_whole_programs(void **state)
{
        (void)state;
        bool any = false;
        any |= agrees_with_objdump("build/guests/echo");
        any |= agrees_with_objdump("build/guests/echo.glibc");
        any |= agrees_with_objdump("/bin/busybox");
        if (!any)
                skip();
}

/* The sites objdump shows in path: `mov $N,%eax` right before `syscall`. */
static size_t objdump_sites(const char *path)
{
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "objdump -d --no-show-raw-insn '%s' 2>/dev/null", path);
        FILE *p = popen(cmd, "r");
        size_t n = 0;
        bool mov = false;
        char line[512];
        while (p && fgets(line, sizeof(line), p)) {
                char *insn = strchr(line, '\t');
                if (!insn || line[0] != ' ')
                        continue;
                insn++;
                if (mov && !strncmp(insn, "syscall", 7))
                        n++;
                mov = !strncmp(insn, "mov    $0x", 10) && strstr(insn, ",%eax\n");
        }
        if (p)
                pclose(p);
        return n;
}

static void test_sites_of_a_program(void **state)
{
        (void)state;
        const char *path = "build/guests/echo.glibc";
        size_t want = objdump_sites(path);
        if (!want) {
                print_message("# skipped: objdump finds no site in %s\n", path);
                skip();
        }
        setenv("OSVM_PROC_PATCH", "now", 1);
        osvm_err e = {0};
        struct vmm_image *img = vmm_image_get(path, &e);
        assert_non_null(img);
        int fd = -1;
        uint64_t serial = 0, toff = 0, tlen = 0;
        assert_true(vmm_proc_patched(img, true, &fd, &serial, &toff, &tlen));
        assert_true(vmm_proc_patch_count(img) >= want);
        assert_true(serial != img->serial && fd != img->memfd);
        assert_int_equal(toff % 4096, 0);
        assert_true(toff >= img->size && tlen >= want * 32);

        /* the copy: the image, but for a jmp at each site into its
         * trampoline, which sets eax (a moved mov) or runs the displaced
         * instruction, sets ecx and jumps on */
        size_t n = (size_t)(toff + tlen), sites = 0, moved = 0;
        uint8_t *c = malloc(n);
        assert_int_equal(pread(fd, c, n, 0), (ssize_t)n);
        for (size_t o = 0; o + 7 <= img->size; o++) {
                if (c[o] == img->bytes[o])
                        continue;
                assert_int_equal(c[o], 0xe9);
                int len = vmm_x86_insn_len(img->bytes + o, img->size - o);
                assert_true(len >= 3);
                assert_memory_equal(img->bytes + o + len, "\x0f\x05", 2);
                bool mov = len == 5 && img->bytes[o] == 0xb8;
                if (mov)
                        assert_memory_equal(c + o + 5, "\x0f\x05", 2);
                for (int k = 5; k < len + 2; k++)
                        if (!mov)
                                assert_int_equal(c[o + k], 0xcc);
                int32_t rel;
                memcpy(&rel, c + o + 1, 4);
                uint64_t at = 0;
                for (size_t i = 0; i < img->nseg; i++)
                        if (o >= img->seg[i].off && o < img->seg[i].off + img->seg[i].filesz)
                                at = img->seg[i].vaddr + img->bias + (o - img->seg[i].off);
                assert_true(at != 0);
                uint64_t slot = at + 5 + (uint64_t)(int64_t)rel;
                assert_true(slot >= VMM_PROC_TRAMP && slot < VMM_PROC_TRAMP + tlen);
                const uint8_t *t = c + toff + (slot - VMM_PROC_TRAMP);
                assert_int_equal(t[0], img->bytes[o]); /* the instruction, moved */
                uint32_t ret;
                assert_int_equal(t[len], 0xb9);
                memcpy(&ret, t + len + 1, 4);
                assert_int_equal(ret, at + (uint64_t)len + 2);
                assert_int_equal(t[len + 5], 0xe9);
                sites++;
                moved += mov;
                o += (size_t)(len > 3 ? len + 1 : 4);
        }
        assert_int_equal(moved, want);
        assert_int_equal(sites, vmm_proc_patch_count(img));
        print_message("# %s: %zu sites, %zu of them a mov of the number\n", path, sites, moved);

        free(c);
        vmm_image_put(img);
}

/* A static program of one executable section holding code (what the test
 * passes), written to dir; its path. */
static void made_up(const char *dir, const char *name, const uint8_t *code, size_t n, char *path,
                    size_t cap)
{
        struct {
                Elf64_Ehdr eh;
                Elf64_Phdr ph;
                Elf64_Shdr sh[2];
                uint8_t
                    pad[4096 - sizeof(Elf64_Ehdr) - sizeof(Elf64_Phdr) - 2 * sizeof(Elf64_Shdr)];
                uint8_t code[4096];
        } m;
        memset(&m, 0, sizeof(m));
        memcpy(m.eh.e_ident, ELFMAG, SELFMAG);
        m.eh.e_ident[EI_CLASS] = ELFCLASS64;
        m.eh.e_ident[EI_DATA] = ELFDATA2LSB;
        m.eh.e_type = ET_EXEC;
        m.eh.e_machine = EM_X86_64;
        m.eh.e_entry = 0x401000;
        m.eh.e_phoff = offsetof(__typeof__(m), ph);
        m.eh.e_phentsize = sizeof(Elf64_Phdr);
        m.eh.e_phnum = 1;
        m.eh.e_shoff = offsetof(__typeof__(m), sh);
        m.eh.e_shentsize = sizeof(Elf64_Shdr);
        m.eh.e_shnum = 2;
        m.ph = (Elf64_Phdr){.p_type = PT_LOAD,
                            .p_flags = PF_R | PF_X,
                            .p_offset = 4096,
                            .p_vaddr = 0x401000,
                            .p_filesz = 4096,
                            .p_memsz = 4096};
        m.sh[1] = (Elf64_Shdr){.sh_type = SHT_PROGBITS,
                               .sh_flags = SHF_ALLOC | SHF_EXECINSTR,
                               .sh_addr = 0x401000,
                               .sh_offset = 4096,
                               .sh_size = n};
        memcpy(m.code, code, n);
        snprintf(path, cap, "%s/%s", dir, name);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, &m, sizeof(m)), (ssize_t)sizeof(m));
        close(fd);
}

/* The sites found in a made-up program of code; the first bytes of its
 * patched code into first (where there is a copy). */
static size_t sites_in(const char *dir, const char *name, const uint8_t *code, size_t n,
                       uint8_t first[8])
{
        char path[512];
        made_up(dir, name, code, n, path, sizeof(path));
        osvm_err e = {0};
        struct vmm_image *img = vmm_image_get(path, &e);
        if (!img)
                fail_msg("%s: %s", name, e.msg);
        int fd;
        uint64_t serial, toff, tlen;
        bool have = vmm_proc_patched(img, true, &fd, &serial, &toff, &tlen);
        size_t count = vmm_proc_patch_count(img);
        assert_int_equal(have, count > 0);
        if (have && first)
                assert_int_equal(pread(fd, first, 8, 4096), 8);
        vmm_image_put(img);
        return count;
}

static void test_sites_made_up(void **state)
{
        (void)state;
        char dir[64];
        assert_int_equal(tu_tempdir(dir, sizeof(dir), "patch"), 0);
        setenv("OSVM_PROC_PATCH", "now", 1);
        /* getpid(); exit_group(0): two sites */
        static const uint8_t two[] = {0xb8, 0x27, 0,    0, 0, 0x0f, 0x05, 0x31,
                                      0xff, 0xb8, 0xe7, 0, 0, 0,    0x0f, 0x05};
        assert_int_equal(sites_in(dir, "two", two, sizeof(two), NULL), 2);
        /* the same bytes inside another instruction (movl $39 to a
         * rip-relative address ending in b8), then a syscall: a site, but
         * that whole instruction displaced, not a mov at its sixth byte */
        uint8_t first[8];
        static const uint8_t inside[] = {0xc7, 0x05, 0, 0, 0, 0xb8, 0x27, 0, 0, 0, 0x0f, 0x05};
        assert_int_equal(sites_in(dir, "inside", inside, sizeof(inside), first), 1);
        assert_int_equal(first[0], 0xe9);
        assert_memory_equal(first + 5, "\xcc\xcc\xcc", 3);
        /* mov $1,%r8d (a REX prefix before b8): displaced, not a mov to eax */
        static const uint8_t rex[] = {0x41, 0xb8, 1, 0, 0, 0, 0x0f, 0x05};
        assert_int_equal(sites_in(dir, "rex", rex, sizeof(rex), first), 1);
        assert_int_equal(first[0], 0xe9);
        assert_int_equal(first[5], 0xcc);
        /* mov %rcx,%rdx; syscall (musl's way): displaced, one site; so is
         * a rip-relative lea */
        static const uint8_t disp[] = {0x48, 0x89, 0xca, 0x0f, 0x05, 0xc3};
        assert_int_equal(sites_in(dir, "disp", disp, sizeof(disp), NULL), 1);
        static const uint8_t lea[] = {0x48, 0x8d, 0x3d, 0x10, 0, 0, 0, 0x0f, 0x05, 0xc3};
        assert_int_equal(sites_in(dir, "lea", lea, sizeof(lea), NULL), 1);
        /* ... but not where a branch goes to the syscall itself (its jmp
         * would cover it), nor after an instruction of two bytes, a call or
         * padding */
        static const uint8_t target[] = {0x48, 0x89, 0xca, 0x0f, 0x05, 0xeb, 0xfc};
        assert_int_equal(sites_in(dir, "target", target, sizeof(target), NULL), 0);
        static const uint8_t two_bytes[] = {0x31, 0xff, 0x0f, 0x05};
        assert_int_equal(sites_in(dir, "short", two_bytes, sizeof(two_bytes), NULL), 0);
        static const uint8_t call[] = {0xe8, 0, 0, 0, 0, 0x0f, 0x05};
        assert_int_equal(sites_in(dir, "call", call, sizeof(call), NULL), 0);
        static const uint8_t pad[] = {0x0f, 0x1f, 0x00, 0x0f, 0x05};
        assert_int_equal(sites_in(dir, "pad", pad, sizeof(pad), NULL), 0);
        /* xbegin (c7 f8 rel32) is a branch, though c7 with ModRM.reg 0 is a mov */
        static const uint8_t xbegin[] = {0xc7, 0xf8, 0, 0, 0, 0, 0x0f, 0x05};
        assert_int_equal(sites_in(dir, "xbegin", xbegin, sizeof(xbegin), NULL), 0);
        static const uint8_t movl[] = {0xc7, 0xc0, 0x27, 0, 0, 0, 0x0f, 0x05};
        assert_int_equal(sites_in(dir, "movl", movl, sizeof(movl), NULL), 1);
        /* a number no system call has */
        static const uint8_t big[] = {0xb8, 0x00, 0x10, 0, 0, 0x0f, 0x05};
        assert_int_equal(sites_in(dir, "big", big, sizeof(big), NULL), 0);
        /* a site, then bytes that are no instruction: the section holds data
         * too, so none of its sites */
        static const uint8_t data[] = {0xb8, 0x27, 0, 0, 0, 0x0f, 0x05, 0x06, 0x27};
        assert_int_equal(sites_in(dir, "data", data, sizeof(data), NULL), 0);
        /* turned off */
        setenv("OSVM_PROC_PATCH", "0", 1);
        assert_int_equal(sites_in(dir, "off", two, sizeof(two), NULL), 0);
        setenv("OSVM_PROC_PATCH", "now", 1);
        vmm_image_cache_clear();
        assert_int_equal(tu_rmrf(dir), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_lengths),
            cmocka_unit_test(test_whole_programs),
            cmocka_unit_test(test_sites_of_a_program),
            cmocka_unit_test(test_sites_made_up),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
