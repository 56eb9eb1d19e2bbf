/* Hostile: jumps to a non-canonical address. */
int main(void)
{
        void (*f)(void) = (void (*)(void))0x8000000000001000ull;
        f();
        return 0;
}
