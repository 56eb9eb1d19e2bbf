/*
 * The stub's entry and its only system call instructions (docs/vmm.md,
 * "The process platform"). The seccomp filter lets a system call through
 * only from the instruction after stub_sc_insn (the stub's allow-list) or
 * after zyg_sc_insn (the zygote's), which ends a page of its own that no
 * stub has (the zygote marks it MADV_DONTFORK): what follows it, where a
 * fork returns, is on the next page.
 */
#include "vmm/proc_abi.h"

/* The C calling convention's six arguments after the number, as the
 * kernel takes them: rax = nr, rdi rsi rdx r10 r8 r9. */
        .macro ARGS_TO_SYSCALL
        mov %rdi, %rax
        mov %rsi, %rdi
        mov %rdx, %rsi
        mov %rcx, %rdx
        mov %r8, %r10
        mov %r9, %r8
        mov 8(%rsp), %r9
        .endm

        .text
        .globl stub_start
stub_start:                     /* from the kernel: rsp -> argc */
        mov %rsp, %rdi
        and $-16, %rsp
        call stub_main
        ud2

/* A patched system call site's way in (proc_patch.c): its trampoline set
 * eax to the call's number (or ran the instruction the site displaced) and
 * ecx to the address past the site's syscall instruction, and jumped here,
 * VMM_PROC_PATCH_OFF bytes past the stub's entry point (the ELF header's),
 * where osvm finds it in the stub it embeds. Every other register is the
 * guest's, but r11, which the syscall instruction would have set to the
 * flags, as it sets rcx to that address: so does the frame built here, in
 * the layout a SIGSYS would have given the handler (no FPU state: the
 * stub's code uses none, and stub_resume then restores none), on the
 * signal stack (its top, or below the guest's red zone where the guest's
 * own stack is there). Nothing is written to the guest's stack. The
 * direction flag is cleared for the C code, as the kernel clears it for a
 * handler; the frame's flags bring it back. Whoever jumps here (the guest
 * may, with any registers) asks for no more than a system call from
 * wherever rcx says. */
        .org VMM_PROC_PATCH_OFF         /* from stub_start, this section's start */
        .globl stub_patch_entry
        .type stub_patch_entry, @function
stub_patch_entry:
        mov %rsp, VMM_PROC_PATCH_RSP
        mov $(VMM_PROC_PATCH_FLAGS + 8), %esp   /* the flags, before a compare */
        pushfq
        pop %r11
        /* the signal stack's top, unless the guest's stack is on the
         * signal stack: then below its red zone, as the kernel puts a
         * signal's frame there */
        mov VMM_PROC_PATCH_RSP, %rsp
        cmp $VMM_PROC_ALT_LO, %rsp
        jb 1f
        cmp $VMM_PROC_PATCH_STACK, %rsp
        ja 1f
        sub $128, %rsp
        and $-16, %rsp
        jmp 2f
1:      mov $VMM_PROC_PATCH_STACK, %esp
2:      cld
        sub $0x100, %rsp
        mov %r8, 0x00(%rsp)
        mov %r9, 0x08(%rsp)
        mov %r10, 0x10(%rsp)
        mov %r11, 0x18(%rsp)
        mov %r12, 0x20(%rsp)
        mov %r13, 0x28(%rsp)
        mov %r14, 0x30(%rsp)
        mov %r15, 0x38(%rsp)
        mov %rdi, 0x40(%rsp)
        mov %rsi, 0x48(%rsp)
        mov %rbp, 0x50(%rsp)
        mov %rbx, 0x58(%rsp)
        mov %rdx, 0x60(%rsp)
        mov %rax, 0x68(%rsp)
        mov %rcx, 0x70(%rsp)
        mov VMM_PROC_PATCH_RSP, %rax
        mov %rax, 0x78(%rsp)            /* rsp */
        mov %rcx, 0x80(%rsp)            /* rip */
        mov %r11, 0x88(%rsp)            /* eflags */
        xor %eax, %eax
        mov %rax, 0x90(%rsp)            /* cs, gs, fs, ss */
        mov %rax, 0x98(%rsp)            /* err */
        mov %rax, 0xa0(%rsp)            /* trapno */
        mov %rax, 0xa8(%rsp)            /* oldmask */
        mov %rax, 0xb0(%rsp)            /* cr2 */
        mov %rax, 0xb8(%rsp)            /* fpstate: none */
        mov %rsp, %rdi
        call stub_serve
        ud2


/* long stub_sc(long nr, long a0, long a1, long a2, long a3, long a4, long a5) */
        .globl stub_sc
        .type stub_sc, @function
stub_sc:
        ARGS_TO_SYSCALL
        .globl stub_sc_insn
stub_sc_insn:
        syscall
        .globl stub_sc_end
stub_sc_end:
        ret

/* long zyg_fork(long flags, int *pidfd, long stack, long memfd, long ctlfd,
 *                long imgfd): clone (through the zygote's one system call
 * instruction) with the stack the new stub starts on. The stub returns
 * from the system call with rsp at `stack`, whose word the zygote set to
 * stub_from_fork (and the next to stub_mapped); the fds ride in
 * callee-saved registers, which the clone keeps. */
        .globl zyg_fork
        .type zyg_fork, @function
zyg_fork:
        push %rbx
        push %r12
        push %r13
        push %r14
        mov %rcx, %r12
        mov %r8, %r13
        mov %r9, %r14
        mov %rsi, %rax
        mov %rdx, %rsi          /* newsp */
        mov %rax, %rdx          /* parent_tid: the pidfd (CLONE_PIDFD) */
        xor %r10d, %r10d        /* child_tid */
        xor %r8d, %r8d          /* tls */
        mov $56, %eax           /* clone */
        call zyg_sc_insn
        pop %r14
        pop %r13
        pop %r12
        pop %rbx
        ret

/* The new stub, from zyg_fork's clone. Its stack so far is the zygote's
 * page of the stub stack region, which the fork left shared copy-on-write:
 * its first write there would cost a page fault, the dearest step of a
 * stub where the host is itself a PVM guest. So it writes nothing before
 * it has mapped its control pages (ctlfd, in r13) populated, whose second
 * is its stack from then on: the mmap returns (stub_sc_end's ret) through
 * the next word of the zygote's page, which the zygote set to stub_mapped.
 * Nowhere to say a failure: osvm sees the stub's death. */
        .set MAP_CTL, 0x8011            /* MAP_SHARED | MAP_FIXED | MAP_POPULATE */
        .globl stub_from_fork
stub_from_fork:
        mov $9, %eax                    /* mmap */
        mov $VMM_PROC_SYS, %edi
        mov $VMM_PROC_CTL_SIZE, %esi
        mov $3, %edx                    /* PROT_READ | PROT_WRITE */
        mov $MAP_CTL, %r10d
        mov %r13, %r8
        xor %r9d, %r9d
        jmp stub_sc_insn
        .globl stub_mapped
stub_mapped:
        cmp $VMM_PROC_SYS, %rax
        jne 1f
        mov $(VMM_PROC_SYS + VMM_PROC_CTL_SIZE), %esp
        mov %r12, %rdi
        mov %r13, %rsi
        mov %r14, %rdx
        call stub_child
        ud2
1:      mov $231, %eax                  /* exit_group(126) */
        mov $126, %edi
        jmp stub_sc_insn

/* The signal handlers' return: rt_sigreturn with rsp at the frame's ucontext. */
        .globl stub_restorer
stub_restorer:
        mov $15, %eax
        jmp stub_sc_insn

/* void stub_resume(struct ksigcontext *g): back into the guest from a
 * trap's frame (rdi: its registers), as rt_sigreturn would but without a
 * second kernel entry: the FPU state the kernel saved in the frame (XSAVE
 * format when the frame says so, else FXSAVE), the flags (popfq takes only
 * what user code may set), every register, then the guest's stack and its
 * instruction. The signal mask is the guest's already (SIGSYS is taken with
 * SA_NODEFER and an empty sa_mask), and the signal stack is not disarmed
 * (no SS_AUTODISARM), so the kernel keeps nothing that a sigreturn would
 * have to give back. */
        .set SC_RSP, 0x78
        .set SC_RIP, 0x80
        .set SC_EFLAGS, 0x88
        .set SC_FPSTATE, 0xb8
        .set FX_SW_MAGIC, 464           /* the frame's fx_sw_bytes.magic1 */
        .set FP_XSTATE_MAGIC1, 0x46505853
        .set RESUME_RSP, VMM_PROC_RESUME
        .set RESUME_RIP, VMM_PROC_RESUME + 8
        .globl stub_resume
        .type stub_resume, @function
stub_resume:
        mov %rdi, %r11
        mov SC_FPSTATE(%r11), %rcx
        test %rcx, %rcx
        jz 2f
        cmpl $FP_XSTATE_MAGIC1, FX_SW_MAGIC(%rcx)
        jne 1f
        mov $-1, %eax
        mov $-1, %edx
        xrstor64 (%rcx)
        jmp 2f
1:      fxrstor64 (%rcx)
2:      mov SC_RIP(%r11), %rax
        mov %rax, RESUME_RIP
        mov SC_RSP(%r11), %rax
        mov %rax, RESUME_RSP
        pushq SC_EFLAGS(%r11)
        popfq
        mov 0x00(%r11), %r8
        mov 0x08(%r11), %r9
        mov 0x10(%r11), %r10
        mov 0x20(%r11), %r12
        mov 0x28(%r11), %r13
        mov 0x30(%r11), %r14
        mov 0x38(%r11), %r15
        mov 0x40(%r11), %rdi
        mov 0x48(%r11), %rsi
        mov 0x50(%r11), %rbp
        mov 0x58(%r11), %rbx
        mov 0x60(%r11), %rdx
        mov 0x68(%r11), %rax
        mov 0x70(%r11), %rcx
        mov 0x18(%r11), %r11
        mov RESUME_RSP, %rsp
        jmp *RESUME_RIP

/* void stub_enter(void *uc): rt_sigreturn into the guest from a frame built
 * by the stub (rdi: its ucontext). */
        .globl stub_enter
stub_enter:
        mov %rdi, %rsp
        mov $15, %eax
        jmp stub_sc_insn

/* long zyg_sc(long nr, long a0, ..., long a5): the zygote's system calls,
 * through its one instruction */
        .globl zyg_sc
        .type zyg_sc, @function
zyg_sc:
        ARGS_TO_SYSCALL
        jmp zyg_sc_insn

/* The zygote's page: int3, then its system call instruction, the page's
 * last two bytes. The next instruction (a fork's child returns there too)
 * is the next page's first, in every stub as in the zygote. */
        .section .text.zyg, "ax", @progbits
        .balign 4096
        .globl zyg_page
zyg_page:
        .fill 4094, 1, 0xcc
        .globl zyg_sc_insn
zyg_sc_insn:
        syscall
        .globl zyg_sc_end
zyg_sc_end:
        ret
        .balign 4096

        .section .note.GNU-stack, "", @progbits
