/* get_block_height {commitment?}: getBlockHeight. */
#include "tools/tools.h"

static int run(struct tool *t)
{
        return tools_run_u64(t, "getBlockHeight", "block_height", "Current block height");
}

int main(int argc, char **argv)
{
        return tools_main(argc, argv, "get_block_height", run);
}
