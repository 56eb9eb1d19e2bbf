/*
 * What one VM exit costs on this host: the engine's VM (long mode, CPL3)
 * running tiny loops, to re-measure the figures that docs and
 * KVM-HOST-FACTS.md quote. Prints the first KVM_RUN of a fresh VM, the round
 * trip of a port I/O exit from CPL3, the same with a CPUID before it (CPUID
 * at CPL3 traps on PVM), a `syscall` answered by the stub inside the guest,
 * an exit of a warm vCPU after its thread slept and from another thread, and
 * VM create/teardown.
 *
 *   bench_exit [-n N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <time.h>

#include "bench_stats.h"
#include "vmm/internal.h"

static double median_us(uint64_t *v, int n)
{
        return (double)bench_median_u64(v, (size_t)n) / 1e3;
}

/* Runs the code at 0x400000 until n port exits; returns ns per exit. */
static double loop(struct vmm_vm *vm, const uint8_t *code, size_t len, int n)
{
        memcpy(vm->mem + 0x400000, code, len);
        struct kvm_regs r;
        memset(&r, 0, sizeof(r));
        r.rip = 0x400000;
        r.rflags = 0x202;
        r.rsp = vm->mem_size - 64;
        ioctl(vm->vcpufd, KVM_SET_REGS, &r);
        for (int i = 0; i < 10; i++)
                ioctl(vm->vcpufd, KVM_RUN, 0);
        uint64_t t0 = time_mono_ns();
        for (int i = 0; i < n; i++)
                if (ioctl(vm->vcpufd, KVM_RUN, 0) < 0 || vm->run->exit_reason != KVM_EXIT_IO) {
                        fprintf(stderr, "bench_exit: unexpected exit %u\n", vm->run->exit_reason);
                        exit(1);
                }
        return (double)(time_mono_ns() - t0) / n;
}

/* One exit round trip of the out loop already loaded: ns. */
static uint64_t one_exit(struct vmm_vm *vm)
{
        uint64_t t0 = time_mono_ns();
        if (ioctl(vm->vcpufd, KVM_RUN, 0) < 0 || vm->run->exit_reason != KVM_EXIT_IO) {
                fprintf(stderr, "bench_exit: unexpected exit %u\n", vm->run->exit_reason);
                exit(1);
        }
        return time_mono_ns() - t0;
}

static void *warm_elsewhere(void *arg)
{
        struct vmm_vm *vm = arg;
        for (int i = 0; i < 5; i++)
                (void)one_exit(vm);
        return NULL;
}

/*
 * Where a warm vCPU's exit gets dearer: after its thread slept (1 ms), and
 * on the first run from another thread than the one that ran it last.
 */
static void exit_after(struct vmm_vm *vm, int n)
{
        enum { M = 200 };
        uint64_t hot[M], slept[M], moved[M];
        if (n > M)
                n = M;
        for (int i = 0; i < n; i++) {
                hot[i] = one_exit(vm);
                nanosleep(&(struct timespec){0, 1000000}, NULL);
                slept[i] = one_exit(vm);
                pthread_t t;
                pthread_create(&t, NULL, warm_elsewhere, vm);
                pthread_join(t, NULL);
                moved[i] = one_exit(vm);
        }
        double h = median_us(hot, n), sl = median_us(slept, n), mv = median_us(moved, n);
        printf("one exit, warm: %.1f us; after its thread slept 1 ms: %.1f us (%.2fx); first on "
               "another thread: %.1f us (%.2fx) (medians of %d, alternating)\n",
               h, sl, sl / h, mv, mv / h, n);
}

int main(int argc, char **argv)
{
        int n = argc > 2 && !strcmp(argv[1], "-n") ? atoi(argv[2]) : 2000;
        char why[512];
        if (!vmm_probe(why, sizeof(why))) {
                printf("bench_exit: skipped: %s\n", why);
                return 0;
        }
        enum { K = 30 };
        uint64_t create[K], first[K], teardown[K];
        struct vmm_vm vm;
        osvm_err e = {0};
        for (int k = 0; k < K; k++) {
                memset(&vm, 0, sizeof(vm));
                uint64_t t0 = time_mono_ns();
                if (vmm_vm_create(&vm, 16, &e) < 0) {
                        fprintf(stderr, "bench_exit: %s\n", e.msg);
                        return 1;
                }
                vmm_vm_layout(&vm);
                if (vmm_vm_setup_cpu(&vm, &e) < 0) {
                        fprintf(stderr, "bench_exit: %s\n", e.msg);
                        return 1;
                }
                uint64_t t1 = time_mono_ns();
                if (vmm_vm_warmup(&vm, NULL, 0, &e) < 0) {
                        fprintf(stderr, "bench_exit: %s\n", e.msg);
                        return 1;
                }
                uint64_t t2 = time_mono_ns();
                create[k] = t1 - t0;
                first[k] = t2 - t1;
                if (k < K - 1) {
                        vmm_vm_destroy(&vm);
                        teardown[k] = time_mono_ns() - t2;
                }
        }
        /* out %al,$0xe0; jmp back */
        const uint8_t out_loop[] = {0xe6, VMM_PORT_SYSCALL, 0xeb, 0xfc};
        /* mov $7,%eax; xor %ecx,%ecx; cpuid; out %al,$0xe0; jmp back */
        const uint8_t cpuid_loop[] = {
            0xb8, 0x07, 0x00, 0x00, 0x00, 0x31, 0xc9, 0x0f, 0xa2, 0xe6, VMM_PORT_SYSCALL,
            0xeb, 0xf3};
        double exit_ns = loop(&vm, out_loop, sizeof(out_loop), n);
        double cpuid_ns = loop(&vm, cpuid_loop, sizeof(cpuid_loop), n);
        /* mov $10,%ebx; 1: mov $39,%eax; syscall; dec %ebx; jnz 1b; out %al,$0xe0; jmp back:
         * ten getpid() the stub answers in the guest, then one exit */
        const uint8_t syscall_loop[] = {0xbb, 0x0a, 0x00, 0x00, 0x00, 0xb8,
                                        0x27, 0x00, 0x00, 0x00, 0x0f, 0x05,
                                        0xff, 0xcb, 0x75, 0xf5, 0xe6, VMM_PORT_SYSCALL,
                                        0xeb, 0xec};
        double syscall_ns = loop(&vm, syscall_loop, sizeof(syscall_loop), n / 4);
        (void)loop(&vm, out_loop, sizeof(out_loop), 10);
        exit_after(&vm, 200);
        vmm_vm_destroy(&vm);
        printf("VM create + long mode set up (16 MiB): %.0f us (median of %d)\n",
               median_us(create, K), K);
        printf("first KVM_RUN of a VM, to its first exit: %.0f us\n", median_us(first, K));
        printf("port I/O exit round trip from CPL3: %.1f us (mean of %d)\n", exit_ns / 1e3, n);
        printf("CPUID at CPL3: %.1f us (the same loop with a CPUID, less the exit)\n",
               (cpuid_ns - exit_ns) / 1e3);
        printf("a system call the stub answers in the guest (no exit): %.1f us, %.2fx an exit "
               "(the same loop with ten, less the exit, a tenth)\n",
               (syscall_ns - exit_ns) / 10 / 1e3, (syscall_ns - exit_ns) / 10 / exit_ns);
        printf("VM teardown: %.0f us\n", median_us(teardown, K - 1));
        return 0;
}
