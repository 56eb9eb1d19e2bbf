/* Hostile: a million system calls that the host must serve (uname; the
 * constant ones such as getppid are answered inside the guest on PVM). */
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

int main(void)
{
        struct utsname u;
        for (long i = 0; i < 1000000; i++)
                syscall(SYS_uname, &u);
        return 0;
}
