/* Hostile: a privileged instruction at CPL3, chosen by argv[1]:
 * cli hlt cr3 wrmsr lgdt int80 int3 ud2 invlpg */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
        const char *w = argc > 1 ? argv[1] : "cli";
        if (!strcmp(w, "cli"))
                __asm__ volatile("cli");
        else if (!strcmp(w, "hlt"))
                __asm__ volatile("hlt");
        else if (!strcmp(w, "cr3"))
                __asm__ volatile("mov %0, %%cr3" ::"r"(0x1000ul));
        else if (!strcmp(w, "wrmsr"))
                __asm__ volatile("wrmsr" ::"c"(0xc0000082u), "a"(0), "d"(0));
        else if (!strcmp(w, "lgdt")) {
                static char d[10];
                __asm__ volatile("lgdt %0" ::"m"(d));
        } else if (!strcmp(w, "int80"))
                __asm__ volatile("int $0x80");
        else if (!strcmp(w, "int3"))
                __asm__ volatile("int3");
        else if (!strcmp(w, "ud2"))
                __asm__ volatile("ud2");
        else if (!strcmp(w, "invlpg"))
                __asm__ volatile("invlpg (%0)" ::"r"(0x1000ul));
        printf("%s ran at CPL3: not contained\n", w);
        return 0;
}
