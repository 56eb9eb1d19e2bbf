/* Hostile: a million cheap system calls. */
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
        for (long i = 0; i < 1000000; i++)
                syscall(SYS_getppid);
        return 0;
}
