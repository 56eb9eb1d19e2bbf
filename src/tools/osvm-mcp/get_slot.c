/* get_slot {commitment?}: getSlot. */
#include "tools/tools.h"

static int run(struct tool *t)
{
        return tools_run_u64(t, "getSlot", "slot", "Current slot");
}

int main(int argc, char **argv)
{
        return tools_main(argc, argv, "get_slot", run);
}
