/*
 * The OpenAI chat-completions reply parser (src/agent/openai.c): what an LLM
 * endpoint answers is hostile. Input: the body of a 2xx reply. Checked
 * beyond "no crash, no leak": fuzz_llm.h (every tool call parsed names a
 * tool of the set and has an id and a JSON object of arguments).
 */
#include "fuzz/fuzz_llm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        fuzz_llm_reply(data, size, llm_openai_parse_reply);
        return 0;
}
