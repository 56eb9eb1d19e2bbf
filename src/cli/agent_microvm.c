/*
 * Where the agent runs: inside μVM-1, supervised from here (the default),
 * on a host without KVM in a trapped process under the same supervision
 * (the engine's process platform, said in one line), or directly in this
 * process (--no-microvm, OSVM_SKIP_MICROVM=1, or a host that can do
 * neither, said in one line). --require-isolation refuses the last case.
 * The isolation config's "platform" applies to the agent as to the tools.
 */
#include "cli/cli.h"
#include "vmm/vmm.h"

#include <stdio.h>
#include <string.h>

static char *status_line(bool utf8, bool color)
{
        return ui_status_line(session_get(), time_mono_ns(),
                              (struct ui_style){.utf8 = utf8, .color = color});
}

static int run_direct(const char *prompt, bool json)
{
        return prompt ? ui_oneshot(&cli_host_session, prompt, json) : ui_chat(&cli_host_session);
}

/* What the service thread opens while μVM-1 starts. */
struct prepared {
        struct cli_agent_host h;
        bool opened, chat;
        char isolation[192];
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
        cli_isolation_words(&p->h.srv.host, p->isolation, sizeof(p->isolation));
        mh->isolation = p->isolation;
        if (p->chat)
                cli_start_vm_pool(&p->h.srv.host);
        return 0;
}

static int run_in_microvm(const char *prompt, bool json, const char *image, bool process)
{
        static volatile sig_atomic_t resized;
        ui_catch_interrupt();
        ui_catch_resize(&resized);
        _cleanup_free_ char *state = paths_state_dir();
        _cleanup_free_ char *agent_dir = xasprintf("%s/agent", state);
        /* what the terminal and the locale need, read-only */
        static const char *const ro_dirs[] = {"/etc/terminfo", "/lib/terminfo",
                                              "/usr/share/terminfo", "/usr/lib/locale", NULL};
        struct prepared p = {.chat = !prompt};
        struct microvm_host mh = {
            .prepare = prepare,
            .prepare_ctx = &p,
            .interrupted = &ui_interrupted,
            .resized = &resized,
            .status_line = status_line,
            .image = image,
            .state_dir = agent_dir,
            .ro_dirs = ro_dirs,
            .process = process,
            .ask = !prompt,
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

/*
 * The platform the agent can run on here under the config's "platform": 1
 * KVM, 2 the process platform (why then says why not KVM), 0 neither (why
 * says why).
 */
static int agent_platform(char *why, size_t n)
{
        struct iso_config cfg;
        struct iso_diags d = {0};
        enum iso_platform want = ISO_PLATFORM_AUTO;
        if (iso_config_open(&cfg, &d) == 0) {
                want = cfg.platform;
                iso_config_free(&cfg);
        }
        iso_diags_free(&d);
        if (want == ISO_PLATFORM_PROCESS)
                snprintf(why, n, "the isolation config's platform is \"process\"");
        else if (vmm_probe(why, n))
                return 1;
        if (want == ISO_PLATFORM_KVM) {
                size_t l = strlen(why);
                snprintf(why + l, n - l, " (the isolation config's platform is \"kvm\")");
                return 0;
        }
        char pw[256];
        if (vmm_platform_probe(VMM_PLATFORM_PROCESS, pw, sizeof(pw)))
                return 2;
        size_t l = strlen(why);
        snprintf(why + l, n - l, "; and the process platform cannot run it: %s", pw);
        return 0;
}

int cli_agent(const char *prompt, bool json, enum microvm_mode mode)
{
        if (mode == MICROVM_OFF)
                return run_direct(prompt, json);
        char why[768] = "";
        char *image = NULL;
        int where = agent_platform(why, sizeof(why));
        if (where)
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
        if (where == 2) /* one line, as the host case's: -q hides it */
                log_warn("the agent runs in μVM-1's stand-in, a trapped process, not a VM (the "
                         "process platform): %s",
                         why);
        int r = run_in_microvm(prompt, json, image, where == 2);
        free(image);
        return r;
}
