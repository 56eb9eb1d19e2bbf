/*
 * vmm: the KVM engine. Runs a static x86-64 Linux ELF in a fresh VM with no
 * guest kernel; its system calls are served by the host.
 */
#ifndef OSVM_VMM_H
#define OSVM_VMM_H

#include "base/base.h"

/* Probes /dev/kvm: true when usable; otherwise why says what is wrong and how to fix it. */
bool vmm_probe(char *why, size_t n);

#endif
