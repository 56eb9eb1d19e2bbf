/* Hostile: unbounded recursion until the stack runs out. */
#include <stdio.h>

static unsigned long down(unsigned long n)
{
        volatile char pad[512];
        pad[0] = (char)n;
        return down(n + 1) + pad[0];
}

int main(void)
{
        printf("%lu\n", down(0));
        return 0;
}
