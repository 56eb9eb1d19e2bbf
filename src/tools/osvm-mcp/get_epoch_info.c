/* get_epoch_info {commitment?}: the current epoch (getEpochInfo). */
#include "tools/tools.h"

static int run(struct tool *t)
{
        struct jv *res = tools_rpc(t, "getEpochInfo", tools_commitment_params(t));
        if (!res)
                return -1;
        uint64_t epoch, index, slots, slot, height;
        if (tools_u64(jv_get(res, "epoch"), &epoch) < 0 ||
            tools_u64(jv_get(res, "slotIndex"), &index) < 0 ||
            tools_u64(jv_get(res, "slotsInEpoch"), &slots) < 0 ||
            tools_u64(jv_get(res, "absoluteSlot"), &slot) < 0 ||
            tools_u64(jv_get(res, "blockHeight"), &height) < 0) {
                jv_free(res);
                return tools_fail(t, NULL, "getEpochInfo: the result is not epoch information");
        }
        struct jv *sc = jv_obj("epoch", jv_uint(epoch), "slot_index", jv_uint(index),
                               "slots_in_epoch", jv_uint(slots), "absolute_slot", jv_uint(slot),
                               "block_height", jv_uint(height), NULL);
        uint64_t txs;
        if (tools_u64(jv_get(res, "transactionCount"), &txs) == 0)
                jv_set(sc, "transaction_count", jv_uint(txs));
        jv_free(res);
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
