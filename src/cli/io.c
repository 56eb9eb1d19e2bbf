/*
 * What the agent's front end needs on the host and inside μVM-1 alike:
 * Ctrl-C caught as a flag, and JSON printed for --json.
 */
#include "cli/cli.h"

#include <stdio.h>

volatile sig_atomic_t cli_interrupted;

static void on_interrupt(int sig)
{
        (void)sig;
        cli_interrupted = 1;
}

void cli_catch_interrupt(void)
{
        struct sigaction sa = {.sa_handler = on_interrupt};
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL); /* no SA_RESTART: a waiting poll() wakes up */
}

static volatile sig_atomic_t *resize_flag;

static void on_resize(int sig)
{
        (void)sig;
        if (resize_flag)
                *resize_flag = 1;
}

void cli_catch_resize(volatile sig_atomic_t *flag)
{
        resize_flag = flag;
        struct sigaction sa = {.sa_handler = on_resize};
        sigemptyset(&sa.sa_mask);
        sigaction(SIGWINCH, &sa, NULL); /* no SA_RESTART: a waiting read wakes up */
}

void cli_print_json(json_t *v)
{
        char *s = json_dumps(v, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
        if (s)
                printf("%s\n", s);
        free(s);
}
