/* get_epoch_info {commitment?}: the current epoch (getEpochInfo). */
#include "tools/tools.h"

static int run(struct tool *t)
{
        json_t *res = tools_rpc(t, "getEpochInfo", tools_commitment_params(t));
        if (!res)
                return -1;
        uint64_t epoch, index, slots, slot, height;
        if (tools_u64(json_object_get(res, "epoch"), &epoch) < 0 ||
            tools_u64(json_object_get(res, "slotIndex"), &index) < 0 ||
            tools_u64(json_object_get(res, "slotsInEpoch"), &slots) < 0 ||
            tools_u64(json_object_get(res, "absoluteSlot"), &slot) < 0 ||
            tools_u64(json_object_get(res, "blockHeight"), &height) < 0) {
                json_decref(res);
                return tools_fail(t, NULL, "getEpochInfo: the result is not epoch information");
        }
        json_t *sc =
            json_pack("{s:I, s:I, s:I, s:I, s:I}", "epoch", (json_int_t)epoch, "slot_index",
                      (json_int_t)index, "slots_in_epoch", (json_int_t)slots, "absolute_slot",
                      (json_int_t)slot, "block_height", (json_int_t)height);
        uint64_t txs;
        if (tools_u64(json_object_get(res, "transactionCount"), &txs) == 0)
                json_object_set_new(sc, "transaction_count", json_integer((json_int_t)txs));
        json_decref(res);
        return tools_ok(t, sc, false,
                        "Epoch %llu: slot %llu of %llu in the epoch, absolute slot %llu, block "
                        "height %llu",
                        (unsigned long long)epoch, (unsigned long long)index,
                        (unsigned long long)slots, (unsigned long long)slot,
                        (unsigned long long)height);
}

int main(int argc, char **argv)
{
        return tools_main(argc, argv, "get_epoch_info", run);
}
