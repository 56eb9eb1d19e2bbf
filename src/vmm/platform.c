/*
 * The platforms under the one syscall layer: which one a call runs on, what
 * each can do here, and what they share (faults in words, the pages a used
 * guest touched).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vmm/internal.h"

const char *vmm_platform_name(enum vmm_platform p)
{
        switch (p) {
        case VMM_PLATFORM_KVM:
                return "kvm";
        case VMM_PLATFORM_PROCESS:
                return "process";
        case VMM_PLATFORM_AUTO:
                break;
        }
        return "auto";
}

bool vmm_platform_parse(const char *s, enum vmm_platform *out)
{
        static const enum vmm_platform all[] = {VMM_PLATFORM_AUTO, VMM_PLATFORM_KVM,
                                                VMM_PLATFORM_PROCESS};
        for (size_t i = 0; s && i < sizeof(all) / sizeof(all[0]); i++)
                if (strcmp(s, vmm_platform_name(all[i])) == 0) {
                        *out = all[i];
                        return true;
                }
        return false;
}

const struct vmm_platform_ops *vmm_platform_ops(enum vmm_platform p)
{
        switch (p) {
        case VMM_PLATFORM_KVM:
                return &vmm_platform_kvm;
        case VMM_PLATFORM_PROCESS:
                return &vmm_platform_process;
        case VMM_PLATFORM_AUTO:
                break;
        }
        return vmm_platform_ops(vmm_platform_auto());
}

enum vmm_platform vmm_platform_auto(void)
{
        return vmm_probe(NULL, 0) ? VMM_PLATFORM_KVM : VMM_PLATFORM_PROCESS;
}

bool vmm_platform_probe(enum vmm_platform p, char *why, size_t n)
{
        const struct vmm_platform_ops *ops = vmm_platform_ops(p);
        if (!ops) {
                if (n)
                        snprintf(why, n, "the %s platform is not in this build",
                                 vmm_platform_name(p));
                return false;
        }
        return ops->probe(why, n);
}

const struct vmm_platform_ops *vmm_platform_pick(enum vmm_platform want, osvm_err *e)
{
        const struct vmm_platform_ops *ops = NULL;
        if (want == VMM_PLATFORM_AUTO || want == VMM_PLATFORM_KVM || want == VMM_PLATFORM_PROCESS)
                ops = vmm_platform_ops(want);
        if (!ops)
                err_set(e, ENOTSUP, "platform %s: not in this build", vmm_platform_name(want));
        return ops;
}

int vmm_fault_code(unsigned vector)
{
        switch (vector) {
        case 0:
        case 16:
        case 19:
                return 128 + SIGFPE;
        case 6:
                return 128 + SIGILL;
        case 1:
        case 3:
                return 128 + SIGTRAP;
        case 17:
                return 128 + SIGBUS;
        default:
                return 128 + SIGSEGV;
        }
}

static const char *vector_name(unsigned v)
{
        static const char *const names[32] = {
            [0] = "divide error (#DE)",
            [1] = "debug trap (#DB)",
            [2] = "non-maskable interrupt",
            [3] = "breakpoint (#BP)",
            [4] = "overflow (#OF)",
            [5] = "bound range exceeded (#BR)",
            [6] = "invalid opcode (#UD)",
            [7] = "device not available (#NM)",
            [8] = "double fault (#DF)",
            [10] = "invalid TSS (#TS)",
            [11] = "segment not present (#NP)",
            [12] = "stack-segment fault (#SS)",
            [13] = "general protection fault (#GP)",
            [14] = "page fault (#PF)",
            [16] = "x87 floating-point error (#MF)",
            [17] = "alignment check (#AC)",
            [18] = "machine check (#MC)",
            [19] = "SIMD floating-point exception (#XM)",
            [20] = "virtualization exception (#VE)",
            [21] = "control protection exception (#CP)",
        };
        return v < 32 && names[v] ? names[v] : "reserved exception";
}

static bool has_error_code(unsigned v)
{
        return v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21 || v == 29 || v == 30;
}

void vmm_fault_words(const struct vmm_vm *vm, unsigned vector, uint64_t err, uint64_t cr2,
                     uint64_t rip, unsigned cpl, const char *sys, char *why, size_t wn)
{
        if (vector == 14) {
                const char *acc = (err & 0x10) ? "instruction fetch from"
                                  : (err & 2)  ? "write to"
                                               : "read of";
                const char *what;
                if (cr2 >= vm->guard_lo && cr2 < vm->stack_lo)
                        what = "stack overflow: the stack guard page";
                else if (cr2 < VMM_USER_BASE && (err & 1))
                        what = sys;
                else if (err & 1)
                        what = "a read-only page";
                else if (cr2 >= vm->mem_size)
                        what = "an address past the end of guest memory";
                else
                        what = "an unmapped address";
                snprintf(why, wn, "%s: %s 0x%llx at rip 0x%llx (%s, CPL%u)", vector_name(vector),
                         acc, (unsigned long long)cr2, (unsigned long long)rip, what, cpl);
        } else if (vector == 13 && err == 0) {
                snprintf(why, wn,
                         "%s at rip 0x%llx, CPL%u (a privileged instruction, I/O to a port not "
                         "allowed, or a non-canonical address)",
                         vector_name(vector), (unsigned long long)rip, cpl);
        } else if (has_error_code(vector)) {
                snprintf(why, wn, "%s at rip 0x%llx, CPL%u, error code 0x%llx", vector_name(vector),
                         (unsigned long long)rip, cpl, (unsigned long long)err);
        } else {
                snprintf(why, wn, "%s at rip 0x%llx, CPL%u", vector_name(vector),
                         (unsigned long long)rip, cpl);
        }
}

#define PAGEMAP_BATCH 512

size_t vmm_pagemap_touched(const struct vmm_vm *vm, int pid, uintptr_t base, uint64_t *out,
                           size_t max)
{
        char path[64];
        if (pid > 0)
                snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
        else
                snprintf(path, sizeof(path), "/proc/self/pagemap");
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        size_t nfound = 0;
        uint64_t first = VMM_USER_BASE / VMM_PAGE, last = vm->mem_size / VMM_PAGE;
        uint64_t pbase = base / VMM_PAGE;
        uint64_t ent[PAGEMAP_BATCH];
        for (uint64_t pg = first; pg < last && nfound < max; pg += PAGEMAP_BATCH) {
                uint64_t cnt = last - pg < PAGEMAP_BATCH ? last - pg : PAGEMAP_BATCH;
                ssize_t r = pread(fd, ent, cnt * 8, (off_t)((pbase + pg) * 8));
                if (r <= 0)
                        break;
                for (uint64_t i = 0; i < (uint64_t)r / 8 && nfound < max; i++) {
                        uint64_t gpa = (pg + i) * VMM_PAGE;
                        if (!(ent[i] >> 63 & 1) || gpa == VMM_WARM_LIST ||
                            (gpa >= vm->guard_lo && gpa < vm->stack_lo))
                                continue;
                        bool file = ent[i] >> 61 & 1; /* still the image's page: only read */
                        out[nfound++] = gpa | (file ? 0 : 1);
                }
        }
        close(fd);
        return nfound;
}

void vmm_first_error(osvm_err *e, const osvm_err *mine)
{
        if (!e->msg[0])
                *e = *mine;
}
