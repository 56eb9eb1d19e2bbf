/* Hostile: an endless loop that makes no system call. */
int main(void)
{
        for (volatile unsigned long i = 0;; i++)
                ;
}
