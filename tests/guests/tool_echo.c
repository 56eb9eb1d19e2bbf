/*
 * A tool image speaking the tool-image protocol (docs/tool-images.md): reads
 * {"name": ..., "arguments": {"message": "..."}} on stdin and writes a
 * CallToolResult echoing the message. Small on purpose: it copies the JSON
 * string value of "message" as it is, escapes included.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
        static char in[65536];
        size_t n = 0;
        ssize_t r;
        while (n < sizeof(in) - 1 && (r = read(0, in + n, sizeof(in) - 1 - n)) > 0)
                n += (size_t)r;
        in[n] = '\0';
        const char *key = strstr(in, "\"message\"");
        const char *v = key ? strchr(key + 9, '"') : NULL;
        if (!v) {
                printf("{\"content\": [{\"type\": \"text\", \"text\": \"no message given\"}], "
                       "\"isError\": true}\n");
                return 0;
        }
        const char *end = ++v;
        while (*end && *end != '"')
                end += end[0] == '\\' && end[1] ? 2 : 1;
        printf("{\"content\": [{\"type\": \"text\", \"text\": \"Echo from a unikernel: %.*s\"}]}\n",
               (int)(end - v), v);
        return 0;
}
