/*
 * The Anthropic messages reply parser (src/agent/anthropic.c): what an LLM
 * endpoint answers is hostile. Input: the body of a 2xx reply. Checked
 * beyond "no crash, no leak": fuzz_llm.h (every tool_use block parsed names
 * a tool of the set and has an id and a JSON object as input).
 */
#include "fuzz/fuzz_llm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        fuzz_llm_reply(data, size, llm_anthropic_parse_reply);
        return 0;
}
