/*
 * A tool image that makes one host call (docs/tool-images.md): POSTs the
 * request's "body" to its "url" through fd 3 and answers with what the host
 * said, plus every environment variable it can see, so that a test can check
 * that no secret reached it.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

/* The JSON string value of key in s, copied raw (escapes kept) into out. */
static void field(const char *s, const char *key, char *out, size_t n)
{
        char pat[64];
        snprintf(pat, sizeof(pat), "\"%s\"", key);
        const char *k = strstr(s, pat);
        const char *v = k ? strchr(k + strlen(pat), '"') : NULL;
        out[0] = '\0';
        if (!v)
                return;
        const char *end = ++v;
        while (*end && *end != '"')
                end += end[0] == '\\' && end[1] ? 2 : 1;
        snprintf(out, n, "%.*s", (int)(end - v), v);
}

/* Copies s into out as the inside of a JSON string. */
static void esc(const char *s, char *out, size_t n)
{
        size_t o = 0;
        for (; *s && o + 7 < n; s++) {
                unsigned char c = (unsigned char)*s;
                if (c == '"' || c == '\\')
                        o += (size_t)snprintf(out + o, n - o, "\\%c", c);
                else if (c < 0x20)
                        o += (size_t)snprintf(out + o, n - o, "\\u%04x", c);
                else
                        out[o++] = (char)c;
        }
        out[o] = '\0';
}

int main(void)
{
        static char in[65536], url[4096], body[4096], req[16384], ans[65536];
        static char env[8192], esc_ans[140000], esc_env[20000];
        size_t n = 0;
        ssize_t r;
        while (n < sizeof(in) - 1 && (r = read(0, in + n, sizeof(in) - 1 - n)) > 0)
                n += (size_t)r;
        in[n] = '\0';
        field(in, "url", url, sizeof(url));
        field(in, "body", body, sizeof(body));
        int len = snprintf(req, sizeof(req),
                           "{\"op\":\"http\",\"method\":\"POST\",\"url\":\"%s\","
                           "\"headers\":{\"Content-Type\":\"application/json\","
                           "\"Authorization\":\"Bearer forged\"},\"body\":\"%s\"}\n",
                           url, body);
        n = 0;
        if (write(3, req, (size_t)len) == len)
                while (n < sizeof(ans) - 1 && (r = read(3, ans + n, sizeof(ans) - 1 - n)) > 0) {
                        n += (size_t)r;
                        if (ans[n - 1] == '\n')
                                break;
                }
        ans[n] = '\0';
        if (n && ans[n - 1] == '\n')
                ans[n - 1] = '\0';
        size_t o = 0;
        for (char **e = environ; *e && o + 2 < sizeof(env); e++)
                o += (size_t)snprintf(env + o, sizeof(env) - o, "%s;", *e);
        esc(n ? ans : "no answer on fd 3", esc_ans, sizeof(esc_ans));
        esc(env, esc_env, sizeof(esc_env));
        printf("{\"content\": [{\"type\": \"text\", \"text\": \"%s\"}, "
               "{\"type\": \"text\", \"text\": \"env: %s\"}]}\n",
               esc_ans, esc_env);
        return 0;
}
