/*
 * osvm-agent: the agent runtime that runs inside μVM-1. The supervisor
 * starts it as `osvm [-p PROMPT [--json]]` with the user's terminal as its
 * fds 0-2, the host-call channel as fd 3 and its state directory mounted;
 * it runs the same chat and one-shot mode as `osvm --no-microvm`, asking
 * the supervisor for everything beyond its own memory.
 */
#include "microvm/guest/guest.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
        /* the character set only (UTF-8 or not): each further category is
         * more files to read, which costs exits here */
        setlocale(LC_CTYPE, "");
        session_reset(session_get(), time_mono_ns());
        log_init();
        const char *prompt = NULL;
        bool json = false;
        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "-p") && i + 1 < argc) {
                        prompt = argv[++i];
                } else if (!strcmp(argv[i], "--json")) {
                        json = true;
                } else {
                        _cleanup_free_ char *arg = text_sanitize(argv[i], 0);
                        fprintf(stderr, "osvm-agent: unknown argument \"%s\"\n", arg);
                        return OSVM_EXIT_USAGE;
                }
        }
        char *state = paths_state_dir();
        char *logs = xasprintf("%s/agent/logs", state);
        log_set_file_dir(logs);
        free(logs);
        free(state);
        int r = prompt ? ui_oneshot(&guest_session, prompt, json) : ui_chat(&guest_session);
        log_close();
        return r;
}
