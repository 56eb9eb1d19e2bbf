/*
 * The process platform's stub program (stub/osvm-stub.c, built
 * freestanding by the Makefile as build/stub/osvm-stub), embedded in osvm:
 * the zygote is exec'd from a sealed memfd of these bytes, so no file of
 * the installation can be swapped under it.
 */
__asm__(".section .rodata\n"
        ".balign 16\n"
        ".globl vmm_stub_blob\n"
        "vmm_stub_blob:\n"
        ".incbin \"build/stub/osvm-stub\"\n"
        ".globl vmm_stub_blob_end\n"
        "vmm_stub_blob_end:\n"
        ".previous\n");
