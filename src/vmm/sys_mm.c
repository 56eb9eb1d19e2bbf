/*
 * The guest's memory: the heap (brk) and the mmap area, which grows down
 * from the stack's guard, kept as a sorted list of ranges; mmap, munmap,
 * mremap, and mprotect and its kind, which change nothing.
 *
 * Everything here reads hostile input: every address and length is checked
 * against user memory, the guard and the areas before a page is touched,
 * and memory given back reads as zero when it comes again.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/internal.h"

uint64_t vmm_page_up(uint64_t a)
{
        return (a + VMM_PAGE - 1) & ~(VMM_PAGE - 1);
}

/* Zeroes whole guest pages (and gives their host memory back). */
static void zero_pages(struct vmm_vm *vm, uint64_t lo, uint64_t hi)
{
        if (hi > lo)
                vm->plat->zero(vm, lo, hi);
}

static bool overlaps_maps(const struct vmm_vm *vm, uint64_t lo, uint64_t hi)
{
        for (size_t i = 0; i < vm->nmaps; i++)
                if (vm->maps[i].lo < hi && lo < vm->maps[i].hi)
                        return true;
        return false;
}

static int maps_insert(struct vmm_vm *vm, uint64_t lo, uint64_t hi)
{
        if (!vm->maps)
                vm->maps = xcalloc(VMM_MAX_MAPS, sizeof(*vm->maps));
        size_t i = 0;
        while (i < vm->nmaps && vm->maps[i].lo < lo)
                i++;
        /* merge with neighbours */
        if (i > 0 && vm->maps[i - 1].hi == lo) {
                vm->maps[i - 1].hi = hi;
                if (i < vm->nmaps && vm->maps[i].lo == hi) {
                        vm->maps[i - 1].hi = vm->maps[i].hi;
                        memmove(&vm->maps[i], &vm->maps[i + 1],
                                (vm->nmaps - i - 1) * sizeof(*vm->maps));
                        vm->nmaps--;
                }
                return 0;
        }
        if (i < vm->nmaps && vm->maps[i].lo == hi) {
                vm->maps[i].lo = lo;
                return 0;
        }
        if (vm->nmaps == VMM_MAX_MAPS)
                return -ENOMEM;
        memmove(&vm->maps[i + 1], &vm->maps[i], (vm->nmaps - i) * sizeof(*vm->maps));
        vm->maps[i] = (struct vmm_range){lo, hi};
        vm->nmaps++;
        return 0;
}

/* Removes [lo, hi) from the map list, zeroing what was mapped. */
static int maps_remove(struct vmm_vm *vm, uint64_t lo, uint64_t hi)
{
        for (size_t i = 0; i < vm->nmaps;) {
                struct vmm_range *r = &vm->maps[i];
                if (r->hi <= lo || r->lo >= hi) {
                        i++;
                        continue;
                }
                uint64_t clo = r->lo > lo ? r->lo : lo;
                uint64_t chi = r->hi < hi ? r->hi : hi;
                zero_pages(vm, clo, chi);
                if (r->lo < clo && r->hi > chi) { /* split */
                        if (vm->nmaps == VMM_MAX_MAPS)
                                return -ENOMEM;
                        memmove(&vm->maps[i + 1], &vm->maps[i],
                                (vm->nmaps - i) * sizeof(*vm->maps));
                        vm->nmaps++;
                        vm->maps[i].hi = clo;
                        vm->maps[i + 1].lo = chi;
                        i += 2;
                } else if (r->lo < clo) {
                        r->hi = clo;
                        i++;
                } else if (r->hi > chi) {
                        r->lo = chi;
                        i++;
                } else {
                        memmove(&vm->maps[i], &vm->maps[i + 1],
                                (vm->nmaps - i - 1) * sizeof(*vm->maps));
                        vm->nmaps--;
                }
        }
        return 0;
}

/* Finds len bytes free, top-down below the stack guard and above the heap. */
static uint64_t maps_find(const struct vmm_vm *vm, uint64_t len)
{
        uint64_t floor = vmm_page_up(vm->brk_cur);
        uint64_t gap_hi = vm->guard_lo;
        for (size_t k = vm->nmaps + 1; k-- > 0;) {
                uint64_t gap_lo = k > 0 ? vm->maps[k - 1].hi : floor;
                if (gap_lo < floor)
                        gap_lo = floor;
                if (gap_hi > gap_lo && gap_hi - gap_lo >= len)
                        return gap_hi - len;
                if (k > 0)
                        gap_hi = vm->maps[k - 1].lo;
                if (gap_hi <= floor)
                        break;
        }
        return 0;
}

static int64_t out_of_memory(struct vmm_vm *vm, const char *what, uint64_t len)
{
        if (len <= vm->mem_size)
                vmm_stop(vm, VMM_END_LIMIT, 125,
                         "memory limit of %u MiB reached (%s of %llu bytes failed)", vm->memory_mb,
                         what, (unsigned long long)len);
        return -ENOMEM;
}

int64_t vmm_sys_mmap(struct vmm_vm *vm, uint64_t addr, uint64_t len, uint64_t prot, uint64_t flags,
                     int64_t fd, uint64_t off)
{
        (void)prot;
        if (len == 0 || (off & (VMM_PAGE - 1)))
                return -EINVAL;
        if (len > vm->mem_size)
                return -ENOMEM;
        len = vmm_page_up(len);
        struct vmm_fd *f = NULL;
        if (!(flags & MAP_ANONYMOUS)) {
                f = vmm_fd_get(vm, (uint64_t)fd);
                if (!f)
                        return -EBADF;
                if (f->kind != VMM_FD_FILE || f->dir)
                        return -ENODEV;
                if ((flags & MAP_SHARED) && (prot & PROT_WRITE))
                        return -EACCES; /* shared writable file maps are not offered */
        }
        uint64_t at;
        if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) {
                if (addr & (VMM_PAGE - 1))
                        return -EINVAL;
                if (addr < VMM_USER_BASE || addr > vm->guard_lo || len > vm->guard_lo - addr)
                        return -ENOMEM;
                if ((flags & MAP_FIXED_NOREPLACE) && overlaps_maps(vm, addr, addr + len))
                        return -EEXIST;
                if (maps_remove(vm, addr, addr + len) < 0)
                        return -ENOMEM;
                zero_pages(vm, addr, addr + len); /* also over image or heap pages */
                at = addr;
        } else {
                at = maps_find(vm, len);
                if (!at)
                        return out_of_memory(vm, "mmap", len);
        }
        if (maps_insert(vm, at, at + len) < 0)
                return out_of_memory(vm, "mmap (too many areas)", len);
        if (f) {
                uint64_t done = 0;
                while (done < len) {
                        ssize_t n =
                            pread(f->host, vm->mem + at + done, len - done, (off_t)(off + done));
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0)
                                break;
                        done += (uint64_t)n;
                }
        }
        return (int64_t)at;
}

int64_t vmm_sys_munmap(struct vmm_vm *vm, uint64_t addr, uint64_t len)
{
        if ((addr & (VMM_PAGE - 1)) || len == 0)
                return -EINVAL;
        if (addr < VMM_USER_BASE || addr >= vm->mem_size || len > vm->mem_size - addr)
                return -EINVAL;
        return maps_remove(vm, addr, addr + vmm_page_up(len));
}

int64_t vmm_sys_mremap(struct vmm_vm *vm, uint64_t old, uint64_t oldlen, uint64_t newlen,
                       uint64_t flags)
{
        if ((old & (VMM_PAGE - 1)) || newlen == 0 || (flags & ~(uint64_t)MREMAP_MAYMOVE))
                return -EINVAL;
        if (oldlen > vm->mem_size || newlen > vm->mem_size)
                return -ENOMEM;
        oldlen = vmm_page_up(oldlen);
        newlen = vmm_page_up(newlen);
        size_t i = 0;
        while (i < vm->nmaps && !(vm->maps[i].lo <= old && old < vm->maps[i].hi))
                i++;
        if (i == vm->nmaps || oldlen == 0 || oldlen > vm->maps[i].hi - old)
                return -EFAULT;
        if (newlen <= oldlen) {
                maps_remove(vm, old + newlen, old + oldlen);
                return (int64_t)old;
        }
        uint64_t end = old + oldlen, want = old + newlen;
        if (want <= vm->guard_lo && !overlaps_maps(vm, end, want)) {
                if (maps_insert(vm, end, want) == 0)
                        return (int64_t)old;
        }
        if (!(flags & MREMAP_MAYMOVE))
                return -ENOMEM;
        uint64_t at = maps_find(vm, newlen);
        if (!at || maps_insert(vm, at, at + newlen) < 0)
                return out_of_memory(vm, "mremap", newlen);
        memcpy(vm->mem + at, vm->mem + old, oldlen);
        maps_remove(vm, old, end);
        return (int64_t)at;
}

/* mprotect, madvise, msync, mlock and munlock: nothing is done; EINVAL for
 * an address off a page boundary. */
int64_t vmm_sys_mprotect(uint64_t addr)
{
        return (addr & (VMM_PAGE - 1)) ? -EINVAL : 0;
}

int64_t vmm_brk(struct vmm_vm *vm, uint64_t want)
{
        if (want < vm->brk_start || want > vm->guard_lo)
                return (int64_t)vm->brk_cur;
        if (want > vm->brk_cur) {
                if (overlaps_maps(vm, vmm_page_up(vm->brk_cur), vmm_page_up(want)))
                        return (int64_t)vm->brk_cur;
        } else {
                /* Memory given back must read as zero when it comes again. */
                uint64_t pg = vmm_page_up(want);
                uint64_t top = vmm_page_up(vm->brk_cur);
                memset(vm->mem + want, 0, (pg < vm->brk_cur ? pg : vm->brk_cur) - want);
                zero_pages(vm, pg, top);
        }
        vm->brk_cur = want;
        return (int64_t)want;
}

uint64_t vmm_brk_room(const struct vmm_vm *vm)
{
        uint64_t top = vmm_page_up(vm->brk_cur), room = vm->guard_lo;
        for (size_t i = 0; i < vm->nmaps; i++)
                if (vm->maps[i].hi > top && vm->maps[i].lo < room)
                        room = vm->maps[i].lo > top ? vm->maps[i].lo : top;
        return room;
}
