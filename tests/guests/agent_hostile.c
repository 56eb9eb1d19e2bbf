/*
 * A compromised agent in μVM-1 (run in place of osvm-agent.img through
 * OSVM_AGENT_IMAGE by tests/microvm/hostile.sh). It tries each way out and
 * prints one line per try: "NAME: what happened". After each refused try it
 * makes a good host call, to show that the session goes on.
 * The test gives the supervisor SECRET as the LLM key.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static char answer[1 << 20];

/* Sends one line on fd 3 and reads one answer line (pending lines skipped). */
static const char *call(const char *line)
{
        size_t len = strlen(line);
        if (write(3, line, len) != (ssize_t)len || write(3, "\n", 1) != 1)
                return "(write failed)";
        for (;;) {
                size_t n = 0;
                for (;;) {
                        char c;
                        ssize_t r = read(3, &c, 1);
                        if (r < 0 && errno == EINTR)
                                continue;
                        if (r <= 0)
                                return "(channel closed)";
                        if (c == '\n')
                                break;
                        if (n < sizeof(answer) - 1)
                                answer[n++] = c;
                }
                answer[n] = '\0';
                if (!strstr(answer, "\"pending\""))
                        return answer;
        }
}

static void report(const char *name, const char *ans)
{
        printf("%s: %.300s\n", name, ans);
        /* the session goes on: a good call right after */
        const char *ok = call("{\"op\":\"events\"}");
        printf("%s-then: %s\n", name, strstr(ok, "\"ok\":true") ? "ok" : ok);
        fflush(stdout);
}

static void try_open(const char *name, const char *path, int flags)
{
        int fd = open(path, flags, 0600);
        printf("%s: %s\n", name, fd >= 0 ? "OPENED" : strerror(errno));
        if (fd >= 0)
                close(fd);
}

int main(int argc, char **argv)
{
        /* assembled at run time, so that the program's own bytes do not hold it */
        char secret[64];
        snprintf(secret, sizeof(secret), "%s%s", "sk-osvm-test-", "5ecret-93f1");
        setvbuf(stdout, NULL, _IOLBF, 0);

        /* the handshake: the supervisor says where the agent is */
        const char *hello = call("{\"op\":\"hello\",\"protocol\":1}");
        printf("hello: %s\n", strstr(hello, "\"microvm\":true") ? "microvm" : hello);
        printf("hello-has-secret: %s\n", strstr(hello, secret) ? "YES" : "no");

        /* the config: readable through the supervisor, not as a file */
        const char *cfg = call("{\"op\":\"config\"}");
        printf("config: %s\n",
               strstr(cfg, "\"ok\":true") && strstr(cfg, "default_execution_mode") ? "read" : cfg);
        report("config-with-path", call("{\"op\":\"config\",\"path\":\"/etc/shadow\"}"));

        /* host files outside the grant */
        try_open("open-etc-passwd", "/etc/passwd", O_RDONLY);
        try_open("open-dotdot", "/state/osvm/agent/../../../etc/passwd", O_RDONLY);
        try_open("open-proc-environ", "/proc/self/environ", O_RDONLY);
        try_open("write-terminfo", "/usr/share/terminfo/osvm-was-here", O_WRONLY | O_CREAT);
        try_open("write-own-state", "/state/osvm/agent/hostile-note", O_WRONLY | O_CREAT);

        /* the network, directly */
        int s = socket(AF_INET, SOCK_STREAM, 0);
        printf("socket: %s\n", s >= 0 ? "CREATED" : strerror(errno));

        /* the key: not in the environment, not in the initial stack */
        int in_env = 0;
        for (char **e = environ; *e; e++)
                if (strstr(*e, secret) || !strncmp(*e, "OSVM_AI_KEY=", 12) ||
                    !strncmp(*e, "OPENAI_API_KEY=", 15) || !strncmp(*e, "ANTHROPIC_API_KEY=", 18))
                        in_env = 1;
        printf("env-has-key: %s\n", in_env ? "YES" : "no");
        size_t slen = strlen(secret);
        const char *lo = (const char *)&slen, *top = lo;
        for (char **e = environ; *e; e++)
                if (*e + strlen(*e) > top)
                        top = *e + strlen(*e);
        for (int i = 0; i < argc; i++)
                if (argv[i] + strlen(argv[i]) > top)
                        top = argv[i] + strlen(argv[i]);
        int in_mem = 0;
        for (const char *p = lo; p + slen <= top; p++)
                if (p != secret && !memcmp(p, secret, slen))
                        in_mem = 1;
        printf("stack-has-key: %s\n", in_mem ? "YES" : "no");

        /* wider reach through the host calls */
        report("call-with-policy", call("{\"op\":\"tool.call\",\"server\":\"osvm-mcp\",\"tool\":"
                                        "\"get_slot\",\"policy\":{\"mode\":\"direct\"}}"));
        report("decide-with-route", call("{\"op\":\"tool.decide\",\"server\":\"osvm-mcp\","
                                         "\"tool\":\"get_slot\",\"route\":\"direct\"}"));
        report("call-unknown-server",
               call("{\"op\":\"tool.call\",\"server\":\"/bin/sh\",\"tool\":\"x\"}"));
        report("llm-with-url", call("{\"op\":\"llm\",\"body\":\"{}\",\"url\":\"http://evil/\"}"));
        report("unknown-op", call("{\"op\":\"exec\",\"argv\":[\"/bin/sh\"]}"));
        report("not-json", call("this is not json"));
        report("wrong-type", call("{\"op\":\"tool.decide\",\"server\":1,\"tool\":\"x\"}"));
        /* the chat's /tools: a preview, whose flag must be a boolean */
        report("decide-preview", call("{\"op\":\"tool.decide\",\"server\":\"osvm-mcp\","
                                      "\"tool\":\"get_slot\",\"preview\":true}"));
        report("preview-wrong-type", call("{\"op\":\"tool.decide\",\"server\":\"osvm-mcp\","
                                          "\"tool\":\"get_slot\",\"preview\":\"yes\"}"));
        {
                size_t big = (16u << 20) + 16;
                char *line = malloc(big + 1);
                if (line) {
                        memset(line, 'x', big);
                        line[big] = '\0';
                        report("oversized", call(line));
                        free(line);
                }
        }

        /* a flood of host calls, timed: how many the limit must refuse
         * depends on how fast they came (tests/microvm/hostile.sh) */
        int refused = 0, first_refused = -1;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int i = 0; i < 1000; i++)
                if (strstr(call("{\"op\":\"events\"}"), "too many host calls")) {
                        refused++;
                        if (first_refused < 0)
                                first_refused = i;
                }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        long long ms = (t1.tv_sec - t0.tv_sec) * 1000LL + (t1.tv_nsec - t0.tv_nsec) / 1000000;
        printf("flood: %d of 1000 refused, the first at %d, in %lld ms\n", refused, first_refused,
               ms);
        struct timespec pause = {1, 200000000};
        nanosleep(&pause, NULL);
        const char *after = call("{\"op\":\"events\"}");
        printf("flood-then: %s\n", strstr(after, "\"ok\":true") ? "ok" : after);

        printf("DONE\n");
        return 0;
}
