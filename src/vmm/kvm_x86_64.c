/*
 * One KVM VM on x86-64: creation, long mode set up from the host (no
 * firmware, no real mode), the tiny CPL0 part, and faults in words.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/internal.h"

#define MSR_STAR           0xc0000081u
#define MSR_LSTAR          0xc0000082u
#define MSR_CSTAR          0xc0000083u
#define MSR_SFMASK         0xc0000084u
#define MSR_FS_BASE        0xc0000100u
#define MSR_GS_BASE        0xc0000101u
#define MSR_KERNEL_GS_BASE 0xc0000102u

/* Selectors of the GDT below. */
#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UDATA 0x23 /* 0x20 | RPL 3 */
#define SEL_UCODE 0x2b /* 0x28 | RPL 3 */
#define SEL_TSS   0x30

/* Page table entry bits. */
#define PTE_P  0x1ull
#define PTE_RW 0x2ull
#define PTE_US 0x4ull
#define PTE_A  0x20ull
#define PTE_D  0x40ull
#define PTE_PS 0x80ull

static pthread_once_t kvm_once = PTHREAD_ONCE_INIT;
static int kvm_fd = -1;
static int kvm_errno;
static size_t kvm_run_size;
static bool kvm_is_pvm;
static struct kvm_cpuid2 *kvm_cpuid;

/* ioctl, again while a signal interrupts it (setup calls only, not KVM_RUN). */
static int xioctl(int fd, unsigned long req, void *arg)
{
        int r;
        do
                r = ioctl(fd, req, arg);
        while (r < 0 && errno == EINTR);
        return r;
}

/* Set when OSVM_NO_KVM=1 turned KVM off for this process. */
static bool kvm_turned_off;

static void kvm_open_once(void)
{
        const char *off = getenv(VMM_NO_KVM_ENV);
        if (off && !strcmp(off, "1")) {
                kvm_turned_off = true;
                kvm_errno = ENODEV;
                return;
        }
        kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
        if (kvm_fd < 0) {
                kvm_errno = errno;
                return;
        }
        int v = ioctl(kvm_fd, KVM_GET_API_VERSION, 0);
        int sz = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
        if (v != KVM_API_VERSION || sz <= 0 ||
            ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY) <= 0) {
                close(kvm_fd);
                kvm_fd = -1;
                kvm_errno = ENOTSUP;
                return;
        }
        kvm_run_size = (size_t)sz;
        /* PVM (software nested virtualization) ignores the guest CPUID table:
         * skip KVM_SET_CPUID2 there, it costs 30-50 us per VM. */
        kvm_is_pvm = access("/sys/module/kvm_pvm", F_OK) == 0 &&
                     access("/sys/module/kvm_intel", F_OK) != 0 &&
                     access("/sys/module/kvm_amd", F_OK) != 0;
        if (!kvm_is_pvm) {
                int n = 256;
                kvm_cpuid =
                    xcalloc(1, sizeof(*kvm_cpuid) + (size_t)n * sizeof(kvm_cpuid->entries[0]));
                kvm_cpuid->nent = (uint32_t)n;
                if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, kvm_cpuid) < 0) {
                        free(kvm_cpuid);
                        kvm_cpuid = NULL;
                }
        }
}

int vmm_kvm_fd(osvm_err *e)
{
        pthread_once(&kvm_once, kvm_open_once);
        if (kvm_fd >= 0)
                return kvm_fd;
        if (kvm_turned_off)
                return err_set(e, ENODEV, "KVM is turned off (%s=1)", VMM_NO_KVM_ENV);
        if (kvm_errno == ENOTSUP)
                return err_set(e, ENOTSUP, "/dev/kvm: unsupported KVM API (need version %d)",
                               KVM_API_VERSION);
        return err_set(e, kvm_errno, "opening /dev/kvm: %s", strerror(kvm_errno));
}

bool vmm_kvm_is_pvm(void)
{
        pthread_once(&kvm_once, kvm_open_once);
        return kvm_fd >= 0 && kvm_is_pvm;
}

bool vmm_probe(char *why, size_t n)
{
        osvm_err e = {0};
        if (vmm_kvm_fd(&e) >= 0) {
                if (n)
                        snprintf(why, n, "/dev/kvm is usable%s", kvm_is_pvm ? " (PVM)" : "");
                return true;
        }
        const char *fix = "";
        if (kvm_turned_off)
                fix = ": unset it to use /dev/kvm";
        else if (e.code == ENOENT)
                fix = ": KVM is not available here; enable virtualization (VT-x/AMD-V) or "
                      "nested virtualization, and load kvm_intel or kvm_amd";
        else if (e.code == EACCES || e.code == EPERM)
                fix = ": add yourself to the group that owns /dev/kvm (often `kvm`) or "
                      "run with access to it";
        if (n)
                snprintf(why, n, "%s%s", e.msg, fix);
        return false;
}

void vmm_vm_destroy(struct vmm_vm *vm)
{
        if (vm->run && vm->run != MAP_FAILED)
                munmap(vm->run, vm->run_size);
        if (vm->vcpufd >= 0)
                close(vm->vcpufd);
        if (vm->vmfd >= 0)
                close(vm->vmfd);
        if (vm->mem && vm->mem != MAP_FAILED)
                munmap(vm->mem, vm->mem_size);
        vm->run = NULL;
        vm->mem = NULL;
        vm->vcpufd = vm->vmfd = -1;
}

/*
 * Guest memory: anonymous, reserved lazily. With huge, aligned to 2 MiB and
 * backed by transparent huge pages where the host allows them, so that the
 * shadow page tables map the guest's 2 MiB pages whole: one first-touch
 * fault (~40 us on PVM) for 2 MiB instead of one for each 4 KiB page, paid
 * for with host memory (a touched 2 MiB region is 2 MiB).
 */
static uint8_t *guest_memory(uint64_t size, bool huge)
{
        const size_t align = huge ? VMM_HUGE : 0;
        uint8_t *raw = mmap(NULL, size + align, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (raw == MAP_FAILED)
                return NULL;
        if (!huge)
                return raw;
        uint8_t *mem = (uint8_t *)(((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1));
        if (mem > raw)
                munmap(raw, (size_t)(mem - raw));
        if (raw + align > mem)
                munmap(mem + size, (size_t)(raw + align - mem));
        (void)madvise(mem, size, MADV_HUGEPAGE); /* a hint: without THP, 4 KiB pages */
        return mem;
}

int vmm_vm_create(struct vmm_vm *vm, uint32_t mem_mb, osvm_err *e)
{
        vm->vmfd = vm->vcpufd = -1;
        vm->run = NULL;
        vm->mem = NULL;
        int kfd = vmm_kvm_fd(e);
        if (kfd < 0)
                return -1;
        vm->memory_mb = mem_mb;
        vm->mem_size = (uint64_t)mem_mb << 20;
        vm->vmfd = xioctl(kfd, KVM_CREATE_VM, NULL);
        if (vm->vmfd < 0) {
                err_sys(e, "KVM_CREATE_VM");
                goto fail;
        }
        vm->mem = guest_memory(vm->mem_size, vm->huge_pages);
        if (!vm->mem) {
                err_sys(e, "allocating %u MiB of guest memory", mem_mb);
                goto fail;
        }
        struct kvm_userspace_memory_region region = {
            .slot = 0,
            .guest_phys_addr = 0,
            .memory_size = vm->mem_size,
            .userspace_addr = (uintptr_t)vm->mem,
        };
        if (xioctl(vm->vmfd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
                err_sys(e, "KVM_SET_USER_MEMORY_REGION");
                goto fail;
        }
        vm->vcpufd = xioctl(vm->vmfd, KVM_CREATE_VCPU, NULL);
        if (vm->vcpufd < 0) {
                err_sys(e, "KVM_CREATE_VCPU");
                goto fail;
        }
        vm->run_size = kvm_run_size;
        vm->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->vcpufd, 0);
        if (vm->run == MAP_FAILED) {
                vm->run = NULL;
                err_sys(e, "mapping the vCPU's kvm_run");
                goto fail;
        }
        if (kvm_cpuid && xioctl(vm->vcpufd, KVM_SET_CPUID2, kvm_cpuid) < 0) {
                err_sys(e, "KVM_SET_CPUID2");
                goto fail;
        }
        if (kvm_cpuid) {
                /* Hardware: let the guest use the host's enabled AVX state. */
                uint32_t lo, hi;
                __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
                struct kvm_xcrs xcrs = {.nr_xcrs = 1};
                xcrs.xcrs[0].xcr = 0;
                xcrs.xcrs[0].value = ((uint64_t)hi << 32) | lo;
                (void)ioctl(vm->vcpufd, KVM_SET_XCRS, &xcrs);
        }
        return 0;
fail:
        vmm_vm_destroy(vm);
        return -1;
}

static void put64(uint8_t *mem, uint64_t addr, uint64_t v)
{
        memcpy(mem + addr, &v, 8);
}

static uint64_t gdt_entry(uint32_t flags, uint32_t base, uint32_t limit)
{
        /* flags: access byte in bits 0..7, flags nibble in bits 12..15 */
        return ((uint64_t)(base & 0xff000000u) << 32) | ((uint64_t)(flags & 0xf0ffu) << 40) |
               ((uint64_t)(limit & 0x000f0000u) << 32) | ((uint64_t)(base & 0x00ffffffu) << 16) |
               (uint64_t)(limit & 0xffffu);
}

static void write_system_area(struct vmm_vm *vm)
{
        uint8_t *m = vm->mem;

        /* Page tables: identity, system pages supervisor-only, the stub user
         * read-only, user memory in 2 MiB pages except the stack guard. */
        put64(m, VMM_PML4_ADDR, VMM_PDPT_ADDR | PTE_P | PTE_RW | PTE_US | PTE_A);
        uint64_t ngb = (vm->mem_size + (1ull << 30) - 1) >> 30;
        for (uint64_t i = 0; i < ngb; i++)
                put64(m, VMM_PDPT_ADDR + 8 * i,
                      (VMM_PD_ADDR + VMM_PAGE * i) | PTE_P | PTE_RW | PTE_US | PTE_A);
        put64(m, VMM_PD_ADDR, VMM_PT_ADDR | PTE_P | PTE_RW | PTE_US | PTE_A);
        for (uint64_t a = VMM_PML4_ADDR; a < VMM_KSTACK_TOP; a += VMM_PAGE) {
                uint64_t pte = a | PTE_P | PTE_A | PTE_D;
                if (a == VMM_STUB_ADDR)
                        pte |= PTE_US;
                else if (a != VMM_CPL0_ADDR)
                        pte |= PTE_RW;
                put64(m, VMM_PT_ADDR + 8 * (a / VMM_PAGE), pte);
        }
        for (uint64_t a = VMM_USER_BASE; a < vm->mem_size; a += VMM_HUGE) {
                if (a >= vm->guard_lo && a < vm->stack_lo)
                        continue;
                put64(m, VMM_PD_ADDR + 8 * (a / VMM_HUGE),
                      a | PTE_P | PTE_RW | PTE_US | PTE_PS | PTE_A | PTE_D);
        }

        /* GDT: null, kernel code64, kernel data, user code32, user data,
         * user code64 (the order SYSCALL/SYSRET expect), then the TSS. */
        put64(m, VMM_GDT_ADDR + 0x08, gdt_entry(0xa09b, 0, 0xfffff));
        put64(m, VMM_GDT_ADDR + 0x10, gdt_entry(0xc093, 0, 0xfffff));
        put64(m, VMM_GDT_ADDR + 0x18, gdt_entry(0xc0fb, 0, 0xfffff));
        put64(m, VMM_GDT_ADDR + 0x20, gdt_entry(0xc0f3, 0, 0xfffff));
        put64(m, VMM_GDT_ADDR + 0x28, gdt_entry(0xa0fb, 0, 0xfffff));
        put64(m, VMM_GDT_ADDR + 0x30, gdt_entry(0x0089, (uint32_t)VMM_TSS_ADDR, VMM_TSS_LIMIT));
        put64(m, VMM_GDT_ADDR + 0x38, 0); /* upper half of the TSS base */

        /* TSS: RSP0 and an I/O bitmap that allows only the syscall port. */
        put64(m, VMM_TSS_ADDR + 4, VMM_KSTACK_TOP);
        uint16_t iomap = 0x68;
        memcpy(m + VMM_TSS_ADDR + 0x66, &iomap, 2);
        memset(m + VMM_TSS_ADDR + 0x68, 0xff, 0x2001);
        m[VMM_TSS_ADDR + 0x68 + VMM_PORT_SYSCALL / 8] &= (uint8_t) ~(1u << (VMM_PORT_SYSCALL % 8));

        /* IDT: vectors 0..31 to 8-byte CPL0 handlers that report the vector
         * through VMM_PORT_FAULT and halt: mov $v,%al; out %al,$p; hlt; jmp .-1 */
        for (unsigned v = 0; v < 32; v++) {
                uint64_t h = VMM_CPL0_ADDR + 8 * v;
                uint8_t code[8] = {0xb0, (uint8_t)v, 0xe6, VMM_PORT_FAULT, 0xf4, 0xeb, 0xfd, 0x90};
                memcpy(m + h, code, 8);
                uint64_t lo = (h & 0xffff) | ((uint64_t)SEL_KCODE << 16) | (0x8eull << 40) |
                              ((h >> 16) & 0xffff) << 48;
                put64(m, VMM_IDT_ADDR + 16 * v, lo);
                put64(m, VMM_IDT_ADDR + 16 * v + 8, h >> 32);
        }

        /* The syscall stub (LSTAR), stub.c; and the warm-up: syscall; ud2. */
        if (kvm_is_pvm) {
                memcpy(m + VMM_STUB_ADDR, vmm_stub_pvm, sizeof(vmm_stub_pvm));
                uint32_t uid = vmm_host_uid(), gid = vmm_host_gid();
                memcpy(m + VMM_STUB_ADDR + VMM_STUB_PVM_UID, &uid, 4);
                memcpy(m + VMM_STUB_ADDR + VMM_STUB_PVM_GID, &gid, 4);
        } else {
                memcpy(m + VMM_STUB_ADDR, vmm_stub_plain, sizeof(vmm_stub_plain));
        }
        memcpy(m + VMM_WARMUP_ADDR, vmm_warmup_code, sizeof(vmm_warmup_code));
}

static struct kvm_segment seg(uint16_t sel, uint8_t type, bool code)
{
        struct kvm_segment s = {
            .base = 0,
            .limit = 0xffffffff,
            .selector = sel,
            .type = type,
            .present = 1,
            .dpl = (uint8_t)(sel & 3),
            .db = code ? 0 : 1,
            .s = 1,
            .l = code ? 1 : 0,
            .g = 1,
        };
        return s;
}

static int set_msrs(int vcpufd, const uint32_t *idx, const uint64_t *val, unsigned n)
{
        /* struct kvm_msrs ends in a flexible array: room for 8 entries after it */
        union {
                struct kvm_msrs h;
                unsigned char room[sizeof(struct kvm_msrs) + 8 * sizeof(struct kvm_msr_entry)];
        } msrs;
        if (n > 8)
                return -1;
        memset(&msrs, 0, sizeof(msrs));
        msrs.h.nmsrs = n;
        for (unsigned i = 0; i < n; i++) {
                msrs.h.entries[i].index = idx[i];
                msrs.h.entries[i].data = val[i];
        }
        int r = xioctl(vcpufd, KVM_SET_MSRS, &msrs);
        return r == (int)n ? 0 : -1;
}

int vmm_vm_set_fs_base(struct vmm_vm *vm, uint64_t base)
{
        uint32_t idx = MSR_FS_BASE;
        if (set_msrs(vm->vcpufd, &idx, &base, 1) < 0)
                return -1;
        vm->fs_base = base;
        return 0;
}

static int set_user_sregs(struct vmm_vm *vm, osvm_err *e)
{
        struct kvm_sregs sr;
        if (xioctl(vm->vcpufd, KVM_GET_SREGS, &sr) < 0)
                return err_sys(e, "KVM_GET_SREGS");
        sr.cs = seg(SEL_UCODE, 0xb, true);
        sr.ss = sr.ds = sr.es = sr.fs = sr.gs = seg(SEL_UDATA, 0x3, false);
        sr.tr = (struct kvm_segment){.base = VMM_TSS_ADDR,
                                     .limit = (uint32_t)VMM_TSS_LIMIT,
                                     .selector = SEL_TSS,
                                     .type = 0xb,
                                     .present = 1};
        sr.gdt.base = VMM_GDT_ADDR;
        sr.gdt.limit = 0x3f;
        sr.idt.base = VMM_IDT_ADDR;
        sr.idt.limit = 32 * 16 - 1;
        sr.cr0 = 0x80010033; /* PG WP NE ET MP PE */
        sr.cr3 = VMM_PML4_ADDR;
        /* OSXSAVE OSXMMEXCPT OSFXSR PAE; no SMEP: the stub is a user page.
         * On PVM also FSGSBASE, for the stub's wrfsbase. */
        sr.cr4 = 0x40620 | (kvm_is_pvm ? 0x10000 : 0);
        sr.efer = 0x501; /* LMA LME SCE */
        if (xioctl(vm->vcpufd, KVM_SET_SREGS, &sr) < 0)
                return err_sys(e, "KVM_SET_SREGS");
        return 0;
}

int vmm_vm_setup_cpu(struct vmm_vm *vm, osvm_err *e)
{
        write_system_area(vm);
        if (set_user_sregs(vm, e) < 0)
                return -1;

        const uint32_t idx[] = {MSR_STAR,    MSR_LSTAR,   MSR_CSTAR,         MSR_SFMASK,
                                MSR_FS_BASE, MSR_GS_BASE, MSR_KERNEL_GS_BASE};
        const uint64_t val[] = {((uint64_t)0x18 << 48) | ((uint64_t)SEL_KCODE << 32),
                                VMM_STUB_ADDR,
                                VMM_STUB_ADDR,
                                0x47500, /* TF DF IOPL NT AC cleared on entry (IF kept: at CPL3 on
                                          * PVM the stub could not set it again) */
                                0,
                                0,
                                0};
        if (set_msrs(vm->vcpufd, idx, val, 7) < 0)
                return err_set(e, EINVAL, "KVM_SET_MSRS: the vCPU refused the syscall MSRs");
        vm->fs_base = 0;
        return 0;
}

uint64_t vmm_vm_fs_base(struct vmm_vm *vm)
{
        struct kvm_sregs sr;
        if (ioctl(vm->vcpufd, KVM_GET_SREGS, &sr) == 0)
                vm->fs_base = sr.fs.base;
        return vm->fs_base;
}

void vmm_vm_layout(struct vmm_vm *vm)
{
        uint64_t stack = vm->mem_size / 8;
        if (stack > (8ull << 20))
                stack = 8ull << 20;
        stack &= ~(VMM_HUGE - 1);
        if (stack < VMM_HUGE)
                stack = VMM_HUGE;
        vm->stack_lo = vm->mem_size - stack;
        vm->guard_lo = vm->stack_lo - VMM_HUGE;
}

int vmm_vm_warmup(struct vmm_vm *vm, const uint64_t *list, size_t n, osvm_err *e)
{
        struct kvm_regs r;
        memset(&r, 0, sizeof(r));
        if (n > VMM_WARM_MAX)
                n = VMM_WARM_MAX;
        if (n && VMM_WARM_LIST + n * 8 <= vm->mem_size) {
                memcpy(vm->mem + VMM_WARM_LIST, list, n * 8);
                r.rsi = VMM_WARM_LIST;
                r.rcx = n;
        }
        r.rip = VMM_WARMUP_ADDR;
        r.rax = 0xffff; /* no such call: the PVM stub takes its slow path */
        r.rflags = 0x202;
        if (xioctl(vm->vcpufd, KVM_SET_REGS, &r) < 0)
                return err_sys(e, "KVM_SET_REGS");
        int rc, tries = 0;
        while ((rc = ioctl(vm->vcpufd, KVM_RUN, 0)) < 0 && (errno == EINTR || errno == EAGAIN) &&
               ++tries < 100)
                vm->run->immediate_exit = 0;
        if (rc < 0)
                return err_sys(e, "KVM_RUN (warm-up)");
        struct kvm_run *run = vm->run;
        if (run->exit_reason != KVM_EXIT_IO || run->io.port != VMM_PORT_SYSCALL)
                return err_set(e, EIO, "warm-up: unexpected KVM exit %u", run->exit_reason);
        if (r.rcx)
                memset(vm->mem + VMM_WARM_LIST, 0, n * 8);
        struct kvm_sregs sr;
        if (xioctl(vm->vcpufd, KVM_GET_SREGS, &sr) < 0)
                return err_sys(e, "KVM_GET_SREGS");
        vm->cpl0_syscalls = sr.cs.dpl == 0;
        vm->mode_known = true;
        /* On VT-x/AMD-V the vCPU now sits at CPL0 in the stub: back to CPL3,
         * and never the PVM stub (its fast paths return with a jmp). */
        if (vm->cpl0_syscalls) {
                memcpy(vm->mem + VMM_STUB_ADDR, vmm_stub_plain, sizeof(vmm_stub_plain));
                if (set_user_sregs(vm, e) < 0)
                        return -1;
        }
        return 0;
}

int vmm_vm_set_entry(struct vmm_vm *vm, uint64_t rip, uint64_t rsp, osvm_err *e)
{
        struct kvm_regs r;
        memset(&r, 0, sizeof(r));
        r.rip = rip;
        r.rsp = rsp;
        r.rflags = 0x202;
        if (xioctl(vm->vcpufd, KVM_SET_REGS, &r) < 0)
                return err_sys(e, "KVM_SET_REGS");
        return 0;
}

void vmm_vm_describe_fault(struct vmm_vm *vm, unsigned vector, char *why, size_t wn)
{
        struct kvm_regs *r = &vm->run->s.regs.regs;
        struct kvm_sregs sr;
        uint64_t cr2 = 0;
        if (ioctl(vm->vcpufd, KVM_GET_SREGS, &sr) == 0)
                cr2 = sr.cr2;
        /* The frame the CPU pushed on the CPL0 stack: [error code] rip cs rflags rsp ss. */
        bool ec = vector == 8 || (vector >= 10 && vector <= 14) || vector == 17 || vector == 21 ||
                  vector == 29 || vector == 30;
        uint64_t frame[6] = {0};
        uint64_t sp = r->rsp, n = ec ? 6 : 5;
        if (sp >= VMM_PAGE && sp <= vm->mem_size && vm->mem_size - sp >= n * 8)
                memcpy(frame, vm->mem + sp, n * 8);
        uint64_t err = ec ? frame[0] : 0;
        const uint64_t *f = ec ? frame + 1 : frame;
        vmm_fault_words(vm, vector, err, cr2, f[0], (unsigned)(f[1] & 3),
                        "the VM's own system pages (page tables, GDT, IDT, TSS, CPL0 code)", why,
                        wn);
}

/* ---- the KVM platform ---- */

static bool canonical(uint64_t a)
{
        return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

static int kvm_create(struct vmm_vm *vm, uint32_t mem_mb, osvm_err *e)
{
        if (vmm_vm_create(vm, mem_mb, e) < 0)
                return -1;
        vmm_vm_layout(vm);
        if (vmm_vm_setup_cpu(vm, e) < 0) {
                vmm_vm_destroy(vm);
                return -1;
        }
        return 0;
}

static int kvm_load(struct vmm_vm *vm, const struct vmm_image *img, osvm_err *e)
{
        return vmm_image_load(img, vm->mem, vm->mem_size, e);
}

static bool kvm_io_setup(struct vmm_vm *vm)
{
        bool pvm_stub = kvm_is_pvm && !vm->cpl0_syscalls;
        if (!pvm_stub)
                return false;
        bool on = vm->img->lo >= VMM_LOAD_BASE && !vm->spec->tty;
        vm->mem[VMM_STUB_ADDR + VMM_STUB_PVM_IOFLAG] = on;
        vm->mem[VMM_STUB_ADDR + VMM_STUB_PVM_IOCTL_FDS] = vm->spec->tty ? 0 : 3;
        return on;
}

static const struct vmm_io_area kvm_io = {
    .hdr = VMM_KVM_IO_HDR,
    .in_buf = VMM_KVM_IO_IN_BUF,
    .in_cap = VMM_KVM_IO_OUT_BUF - VMM_KVM_IO_IN_BUF,
    .out_buf = VMM_KVM_IO_OUT_BUF,
    .out_cap = VMM_KVM_IO_OUT_CAP,
    .user_lo = VMM_LOAD_BASE, /* below it: the area itself */
};

/* A syscall exit: on PVM the first one tells where syscalls enter. */
static bool kvm_syscall_exit(struct vmm_vm *vm, struct vmm_exit *x)
{
        if (!vm->mode_known) {
                struct kvm_sregs sr;
                if (ioctl(vm->vcpufd, KVM_GET_SREGS, &sr) == 0) {
                        vm->cpl0_syscalls = sr.cs.dpl == 0;
                        vm->mode_known = true;
                }
                if (vm->cpl0_syscalls && kvm_is_pvm) {
                        /* the CPL3 stub must never run at CPL0 */
                        vmm_stop(vm, VMM_END_ERROR, 125,
                                 "syscalls enter at CPL0 on a host taken for PVM");
                        return false;
                }
        }
        const struct kvm_regs *r = &vm->run->s.regs.regs;
        x->kind = VMM_EXIT_SYSCALL;
        x->nr = r->rax;
        x->a[0] = r->rdi;
        x->a[1] = r->rsi;
        x->a[2] = r->rdx;
        x->a[3] = r->r10;
        x->a[4] = r->r8;
        x->a[5] = r->r9;
        return true;
}

static void kvm_run(struct vmm_vm *vm, struct vmm_exit *x)
{
        struct kvm_run *run = vm->run;
        x->kind = VMM_EXIT_STOPPED;
        run->kvm_valid_regs = KVM_SYNC_X86_REGS;
        if (ioctl(vm->vcpufd, KVM_RUN, 0) < 0) {
                int err = errno;
                if (err == EINTR || err == EAGAIN) {
                        run->immediate_exit = 0;
                        x->kind = VMM_EXIT_AGAIN;
                        return;
                }
                vmm_stop(vm, VMM_END_ERROR, 125, "KVM_RUN: %s", strerror(err));
                return;
        }
        run->kvm_dirty_regs = 0;
        const unsigned long long rip = run->s.regs.regs.rip;
        switch (run->exit_reason) {
        case KVM_EXIT_IO:
                if (run->io.direction == KVM_EXIT_IO_OUT && run->io.port == VMM_PORT_SYSCALL) {
                        (void)kvm_syscall_exit(vm, x);
                } else if (run->io.direction == KVM_EXIT_IO_OUT && run->io.port == VMM_PORT_FAULT) {
                        unsigned v = *((uint8_t *)run + run->io.data_offset);
                        char why[sizeof(vm->res->why)];
                        vmm_vm_describe_fault(vm, v, why, sizeof(why));
                        vmm_stop(vm, VMM_END_FAULT, vmm_fault_code(v), "%s", why);
                } else {
                        vmm_stop(vm, VMM_END_FAULT, 128 + SIGSEGV, "I/O to port 0x%x at rip 0x%llx",
                                 run->io.port, rip);
                }
                break;
        case KVM_EXIT_MMIO:
                vmm_stop(vm, VMM_END_FAULT, 128 + SIGSEGV,
                         "access to guest physical address 0x%llx outside guest memory at rip "
                         "0x%llx",
                         (unsigned long long)run->mmio.phys_addr, rip);
                break;
        case KVM_EXIT_HLT:
                vmm_stop(vm, VMM_END_FAULT, 128 + SIGSEGV, "the vCPU halted at rip 0x%llx", rip);
                break;
        case KVM_EXIT_SHUTDOWN:
                vmm_stop(vm, VMM_END_FAULT, 128 + SIGSEGV,
                         "triple fault: the VM shut down (an exception while delivering an "
                         "exception) at rip 0x%llx",
                         rip);
                break;
        case KVM_EXIT_INTERNAL_ERROR:
                vmm_stop(vm, VMM_END_FAULT, 128 + SIGSEGV,
                         "the virtual CPU could not continue (KVM internal error, suberror %u) at "
                         "rip 0x%llx",
                         run->internal.suberror, rip);
                break;
        case KVM_EXIT_FAIL_ENTRY:
                vmm_stop(vm, VMM_END_FAULT, 128 + SIGSEGV,
                         "the VM could not be entered (hardware reason 0x%llx)",
                         (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
                break;
        case KVM_EXIT_INTR:
                x->kind = VMM_EXIT_AGAIN;
                break;
        default:
                vmm_stop(vm, VMM_END_FAULT, 128 + SIGSEGV, "unexpected KVM exit %u",
                         run->exit_reason);
                break;
        }
}

static void kvm_complete(struct vmm_vm *vm, int64_t ret)
{
        struct kvm_run *run = vm->run;
        struct kvm_regs *r = &run->s.regs.regs;
        r->rax = (uint64_t)ret;
        if (!vm->cpl0_syscalls) {
                /* PVM: the stub runs at CPL3 and cannot sysretq; do its work. */
                if (!canonical(r->rcx)) {
                        vmm_stop(vm, VMM_END_FAULT, 128 + SIGSEGV,
                                 "system call return to a non-canonical address 0x%llx",
                                 (unsigned long long)r->rcx);
                        return;
                }
                r->rip = r->rcx;
                r->rflags = (r->r11 & 0x240dd5) | 0x202;
        }
        run->kvm_dirty_regs = KVM_SYNC_X86_REGS;
}

static int kvm_set_fs(struct vmm_vm *vm, uint64_t base)
{
        return vmm_vm_set_fs_base(vm, base);
}

static uint64_t kvm_get_fs(struct vmm_vm *vm)
{
        return vmm_vm_fs_base(vm);
}

/* Guest memory is this process's own anonymous mapping: a fresh one over
 * the range reads as zero and frees what was there. */
static void kvm_zero(struct vmm_vm *vm, uint64_t lo, uint64_t hi)
{
        void *p = mmap(vm->mem + lo, hi - lo, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED)
                memset(vm->mem + lo, 0, hi - lo);
}

static void kvm_copy_in(struct vmm_vm *vm, uint64_t gpa, const void *src, size_t len)
{
        memcpy(vm->mem + gpa, src, len);
}

static void kvm_copy_out(struct vmm_vm *vm, uint64_t gpa, void *dst, size_t len)
{
        memcpy(dst, vm->mem + gpa, len);
}

/* A vCPU runs only inside KVM_RUN, which the loop no longer calls. */
static void kvm_halt(struct vmm_vm *vm)
{
        (void)vm;
}

static int kvm_prepare_one(struct vmm_vm *vm, uint32_t mem_mb, struct vmm_image *img,
                           const uint64_t *list, size_t n, osvm_err *e)
{
        if (kvm_create(vm, mem_mb, e) < 0)
                return -1;
        if ((img && vmm_image_load(img, vm->mem, vm->mem_size, e) < 0) ||
            vmm_vm_warmup(vm, list, n, e) < 0) {
                vmm_vm_destroy(vm);
                return -1;
        }
        return 0;
}

/* One after the other: each VM's warm-up runs on its own vCPU. */
static size_t kvm_prepare(struct vmm_vm *const *vms, bool *ok, size_t n, uint32_t mem_mb,
                          struct vmm_image *img, const uint64_t *list, size_t nlist, osvm_err *e)
{
        size_t made = 0;
        for (size_t i = 0; i < n; i++) {
                osvm_err mine = {0};
                ok[i] = kvm_prepare_one(vms[i], mem_mb, img, list, nlist, &mine) == 0;
                if (ok[i])
                        made++;
                else
                        vmm_first_error(e, &mine);
        }
        return made;
}

static size_t kvm_touched(struct vmm_vm *vm, uint64_t *out, size_t max)
{
        return vmm_pagemap_touched(vm, 0, (uintptr_t)vm->mem, out, max);
}

static bool kvm_probe(char *why, size_t n)
{
        return vmm_probe(why, n);
}

const struct vmm_platform_ops vmm_platform_kvm = {
    .id = VMM_PLATFORM_KVM,
    .name = "kvm",
    .kicks = true,
    .probe = kvm_probe,
    .create = kvm_create,
    .load = kvm_load,
    .enter = vmm_vm_set_entry,
    .io_setup = kvm_io_setup,
    .io = &kvm_io,
    .run = kvm_run,
    .complete = kvm_complete,
    .set_fs_base = kvm_set_fs,
    .fs_base = kvm_get_fs,
    .zero = kvm_zero,
    .copy_in = kvm_copy_in,
    .copy_out = kvm_copy_out,
    .halt = kvm_halt,
    .destroy = vmm_vm_destroy,
    .prepare = kvm_prepare,
    .touched = kvm_touched,
};
