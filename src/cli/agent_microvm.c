/*
 * Where the agent runs: inside μVM-1, supervised from here (the default),
 * or directly in this process (--no-microvm, OSVM_SKIP_MICROVM=1, or a
 * host that cannot run it, said in one line). --require-isolation refuses
 * the second case instead.
 */
#include "cli/cli.h"
#include "vmm/vmm.h"

#include <stdio.h>

static char *status_line(bool utf8, bool color)
{
        return cli_status_line(session_get(), time_mono_ns(),
                               (struct status_style){.utf8 = utf8, .color = color});
}

static int run_direct(const char *prompt, bool json)
{
        return prompt ? cli_agent_oneshot(prompt, json) : cli_agent_chat();
}

/* What the service thread opens while μVM-1 starts. */
struct prepared {
        struct cli_agent_host h;
        bool opened, chat;
};

static int prepare(struct microvm_host *mh, void *ctx)
{
        struct prepared *p = ctx;
        int r = cli_agent_host_open(&p->h);
        if (r)
                return r;
        p->opened = true;
        mh->hub = p->h.srv.hub;
        mh->reg = &p->h.srv.reg;
        mh->ai = &p->h.ai;
        mh->planner = p->h.planner;
        if (p->chat)
                cli_start_vm_pool(&p->h.srv.host);
        return 0;
}

static int run_in_microvm(const char *prompt, bool json, const char *image)
{
        static volatile sig_atomic_t resized;
        cli_catch_interrupt();
        cli_catch_resize(&resized);
        _cleanup_free_ char *state = paths_state_dir();
        _cleanup_free_ char *agent_dir = xasprintf("%s/agent", state);
        /* what the terminal and the locale need, read-only */
        static const char *const ro_dirs[] = {"/etc/terminfo", "/lib/terminfo",
                                              "/usr/share/terminfo", "/usr/lib/locale", NULL};
        struct prepared p = {.chat = !prompt};
        struct microvm_host mh = {
            .prepare = prepare,
            .prepare_ctx = &p,
            .interrupted = &cli_interrupted,
            .resized = &resized,
            .status_line = status_line,
            .image = image,
            .state_dir = agent_dir,
            .ro_dirs = ro_dirs,
        };
        const struct microvm_agent_args a = {
            .prompt = prompt, .json = json, .log_level = log_get_level()};
        int r = microvm_agent_run(&mh, &a);
        if (p.chat)
                vmm_shutdown();
        if (p.opened)
                cli_agent_host_close(&p.h);
        return r;
}

int cli_agent(const char *prompt, bool json, enum microvm_mode mode)
{
        if (mode == MICROVM_OFF)
                return run_direct(prompt, json);
        char why[512] = "";
        char *image = NULL;
        if (vmm_probe(why, sizeof(why)))
                image = microvm_agent_image(why, sizeof(why));
        if (!image) {
                if (mode == MICROVM_REQUIRED) {
                        _cleanup_free_ char *shown = text_sanitize(why, 0);
                        fprintf(stderr,
                                "osvm: refusing to run (--require-isolation): the agent cannot "
                                "run inside μVM-1: %s\n",
                                shown);
                        return OSVM_EXIT_DENIED;
                }
                /* one line, a warning: -q hides it */
                log_warn("the agent runs on the host, not inside μVM-1: %s", why);
                return run_direct(prompt, json);
        }
        int r = run_in_microvm(prompt, json, image);
        free(image);
        return r;
}
