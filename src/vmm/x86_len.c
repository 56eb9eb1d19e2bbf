/*
 * The length of an x86-64 instruction, for finding patchable system call
 * sites (proc_patch.c): legacy prefixes, REX, VEX and EVEX, the one-, two-
 * and three-byte opcode maps, ModRM, SIB, displacements and immediates, in
 * 64-bit mode. Only lengths: what an instruction does is never needed. An
 * opcode that 64-bit mode does not have (or that compilers never emit, such
 * as XOP) is -1, and the caller stops trusting its sweep there.
 */
#include "vmm/internal.h"

/* Operand kinds after the opcode (and ModRM), in bytes or as a rule. */
enum {
        I0 = 0,  /* none */
        I1 = 1,  /* imm8, rel8 */
        I2 = 2,  /* imm16 */
        I3 = 3,  /* imm16 + imm8 (enter) */
        I4 = 4,  /* rel32 */
        IZ = 5,  /* imm16 with 66, else imm32 */
        IV = 6,  /* imm16 with 66, imm64 with REX.W, else imm32 (mov r, imm) */
        IO = 7,  /* moffs: 8 bytes, 4 with 67 */
        IF = 8,  /* f6/f7: imm8/iz when ModRM.reg is 0 or 1 */
        BAD = 15 /* not an instruction in 64-bit mode */
};
#define M 0x10 /* has ModRM */

/* The one-byte map; prefixes, REX, VEX and EVEX are handled before it. */
/* clang-format off */
static const uint8_t one[256] = {
    /* 00 */ M, M, M, M, I1, IZ, BAD, BAD, M, M, M, M, I1, IZ, BAD, 0,
    /* 10 */ M, M, M, M, I1, IZ, BAD, BAD, M, M, M, M, I1, IZ, BAD, BAD,
    /* 20 */ M, M, M, M, I1, IZ, 0, BAD, M, M, M, M, I1, IZ, 0, BAD,
    /* 30 */ M, M, M, M, I1, IZ, 0, BAD, M, M, M, M, I1, IZ, 0, BAD,
    /* 40 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 50 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 60 */ BAD, BAD, BAD, M, 0, 0, 0, 0, IZ, M | IZ, I1, M | I1, 0, 0, 0, 0,
    /* 70 */ I1, I1, I1, I1, I1, I1, I1, I1, I1, I1, I1, I1, I1, I1, I1, I1,
    /* 80 */ M | I1, M | IZ, BAD, M | I1, M, M, M, M, M, M, M, M, M, M, M, M,
    /* 90 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, BAD, 0, 0, 0, 0, 0,
    /* a0 */ IO, IO, IO, IO, 0, 0, 0, 0, I1, IZ, 0, 0, 0, 0, 0, 0,
    /* b0 */ I1, I1, I1, I1, I1, I1, I1, I1, IV, IV, IV, IV, IV, IV, IV, IV,
    /* c0 */ M | I1, M | I1, I2, 0, BAD, BAD, M | I1, M | IZ, I3, 0, I2, 0, 0, I1, BAD, 0,
    /* d0 */ M, M, M, M, BAD, BAD, BAD, 0, M, M, M, M, M, M, M, M,
    /* e0 */ I1, I1, I1, I1, I1, I1, I1, I1, I4, I4, BAD, I1, 0, 0, 0, 0,
    /* f0 */ 0, 0, 0, 0, 0, 0, M | IF, M | IF, 0, 0, 0, 0, 0, 0, M, M,
};

/* The two-byte map (0f xx); 38 and 3a escape to the three-byte maps. */
static const uint8_t two[256] = {
    /* 00 */ M, M, M, M, BAD, 0, 0, 0, 0, 0, BAD, 0, BAD, M, 0, M | I1,
    /* 10 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    /* 20 */ M, M, M, M, BAD, BAD, BAD, BAD, M, M, M, M, M, M, M, M,
    /* 30 */ 0, 0, 0, 0, 0, 0, BAD, 0, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,
    /* 40 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    /* 50 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    /* 60 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    /* 70 */ M | I1, M | I1, M | I1, M | I1, M, M, M, 0, M, M, M, M, M, M, M, M,
    /* 80 */ I4, I4, I4, I4, I4, I4, I4, I4, I4, I4, I4, I4, I4, I4, I4, I4,
    /* 90 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    /* a0 */ 0, 0, 0, M, M | I1, M, BAD, BAD, 0, 0, 0, M, M | I1, M, M, M,
    /* b0 */ M, M, M, M, M, M, M, M, M, M, M | I1, M, M, M, M, M,
    /* c0 */ M, M, M | I1, M, M | I1, M | I1, M | I1, M, 0, 0, 0, 0, 0, 0, 0, 0,
    /* d0 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    /* e0 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    /* f0 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
};
/* clang-format on */

/* Whether a VEX or EVEX instruction of map 1 (0f) takes an imm8. */
static bool vex_map1_imm(uint8_t op)
{
        return (op >= 0x70 && op <= 0x73) || op == 0xc2 || (op >= 0xc4 && op <= 0xc6);
}

/* The bytes of ModRM, SIB and displacement at p (n available), or -1. */
static int modrm_len(const uint8_t *p, size_t n)
{
        if (n < 1)
                return -1;
        unsigned mod = p[0] >> 6, rm = p[0] & 7;
        int len = 1;
        if (mod == 3)
                return len;
        if (rm == 4) { /* SIB */
                if (n < 2)
                        return -1;
                len++;
                if (mod == 0 && (p[1] & 7) == 5)
                        len += 4;
        } else if (mod == 0 && rm == 5) {
                len += 4; /* rip-relative */
        }
        if (mod == 1)
                len += 1;
        else if (mod == 2)
                len += 4;
        return (size_t)len <= n ? len : -1;
}

int vmm_x86_insn_len(const uint8_t *p, size_t n)
{
        size_t i = 0;
        bool opsize = false, addrsize = false, rexw = false;
        /* legacy prefixes (an instruction is at most 15 bytes in all) */
        for (; i < n && i < 15; i++) {
                uint8_t b = p[i];
                if (b == 0x66)
                        opsize = true;
                else if (b == 0x67)
                        addrsize = true;
                else if (!(b == 0xf0 || b == 0xf2 || b == 0xf3 || b == 0x2e || b == 0x36 ||
                           b == 0x3e || b == 0x26 || b == 0x64 || b == 0x65))
                        break;
        }
        if (i < n && (p[i] & 0xf0) == 0x40) { /* REX */
                rexw = p[i] & 8;
                i++;
        }
        if (i >= n)
                return -1;
        uint8_t op = p[i++];
        int len;
        if (op == 0xc4 || op == 0xc5 || op == 0x62) { /* VEX, EVEX */
                unsigned map;
                if (op == 0xc5) {
                        map = 1;
                        i += 1;
                } else if (op == 0xc4) {
                        if (i >= n)
                                return -1;
                        map = p[i] & 0x1f;
                        i += 2;
                } else {
                        if (i >= n)
                                return -1;
                        map = p[i] & 0x07;
                        if (p[i] & 0x08) /* reserved, zero in EVEX */
                                return -1;
                        i += 3;
                }
                if (i >= n || map == 0 || map == 4 || map > 6)
                        return -1;
                uint8_t vop = p[i++];
                if (map == 1 && vop == 0x77 && op != 0x62)
                        return (int)i <= 15 ? (int)i : -1; /* vzeroupper, vzeroall */
                int m = modrm_len(p + i, n - i);
                if (m < 0)
                        return -1;
                i += (size_t)m;
                if (map == 3 || (map == 1 && vex_map1_imm(vop)))
                        i += 1;
                return i <= n && i <= 15 ? (int)i : -1;
        }
        uint8_t kind;
        if (op == 0x0f) {
                if (i >= n)
                        return -1;
                uint8_t op2 = p[i++];
                if (op2 == 0x38 || op2 == 0x3a) {
                        if (i >= n)
                                return -1;
                        i++; /* the third opcode byte */
                        kind = (uint8_t)(M | (op2 == 0x3a ? I1 : I0));
                } else {
                        kind = two[op2];
                }
        } else {
                kind = one[op];
        }
        if ((kind & 0xf) == BAD)
                return -1;
        uint8_t reg = 0;
        if (kind & M) {
                int m = modrm_len(p + i, n - i);
                if (m < 0)
                        return -1;
                reg = (p[i] >> 3) & 7;
                if (op == 0x8f && reg != 0)
                        return -1; /* XOP, which compilers for Linux never emit */
                i += (size_t)m;
        }
        switch (kind & 0xf) {
        case I0:
                len = 0;
                break;
        case I1:
                len = 1;
                break;
        case I2:
                len = 2;
                break;
        case I3:
                len = 3;
                break;
        case I4:
                len = 4;
                break;
        case IZ:
                len = opsize ? 2 : 4;
                break;
        case IV:
                len = rexw ? 8 : opsize ? 2 : 4;
                break;
        case IO:
                len = addrsize ? 4 : 8;
                break;
        case IF:
                len = reg > 1 ? 0 : op == 0xf6 ? 1 : opsize ? 2 : 4;
                break;
        default:
                return -1;
        }
        i += (size_t)len;
        return i <= n && i <= 15 ? (int)i : -1;
}
