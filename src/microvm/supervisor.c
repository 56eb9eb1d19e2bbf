/*
 * The supervisor: starts the agent runtime inside μVM-1 under the engine,
 * forwards the user's terminal to it and serves its host calls.
 *
 * The terminal: the guest sees fds 0-2 as the user's terminal and may switch
 * line editing, echo and signals (spec.tty); Ctrl-C reaches this process as
 * SIGINT, which ends a host call that waits (a tool, the LLM) or the guest's
 * read at its prompt (which then asks what happened); a new window size
 * likewise. The settings found at start are put back on every way out: the
 * agent's exit, its fault, and a fatal signal to this process.
 */
#include "microvm/microvm.h"
#include "vmm/vmm.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define ENV_MAX 16

/* ---- the image ---- */

char *microvm_agent_image(char *why, size_t n)
{
        const char *env = getenv("OSVM_AGENT_IMAGE");
        char *img = NULL;
        if (env && *env) {
                img = xstrdup(env);
        } else {
                char *dir = paths_images_dir();
                img = dir ? xasprintf("%s/%s", dir, MICROVM_AGENT_IMAGE) : NULL;
                free(dir);
        }
        struct stat st;
        if (img && stat(img, &st) == 0 && S_ISREG(st.st_mode))
                return img;
        snprintf(why, n,
                 "the agent's image %s is not there (build it with 'make', or install osvm "
                 "with 'make install')",
                 img ? img : MICROVM_AGENT_IMAGE);
        free(img);
        return NULL;
}

/* ---- the run ---- */

const char *microvm_name(const struct microvm_host *h)
{
        return h && h->process ? "the agent's process" : "\xce\xbcVM-1";
}

/* The environment the agent gets: the terminal's, its state directory, the
 * log level. Nothing else of the host's, so no key in any form. */
static size_t agent_env(char **env, const struct microvm_agent_args *a)
{
        static const char *const pass[] = {"TERM",     "LANG",    "LC_ALL", "LC_CTYPE",
                                           "NO_COLOR", "COLUMNS", "LINES"};
        size_t n = 0;
        for (size_t i = 0; i < sizeof(pass) / sizeof(pass[0]); i++) {
                const char *v = getenv(pass[i]);
                if (v && strlen(v) < 256)
                        env[n++] = xasprintf("%s=%s", pass[i], v);
        }
        env[n++] = xstrdup("HOME=" MICROVM_STATE_DIR);
        env[n++] = xstrdup("XDG_STATE_HOME=" MICROVM_STATE_DIR);
        env[n++] = xasprintf("OSVM_LOG=%s", log_level_name(a->log_level));
        env[n] = NULL;
        return n;
}

int microvm_agent_run(struct microvm_host *h, const struct microvm_agent_args *a)
{
        osvm_err e = {0};
        if (fs_mkdir_p(h->state_dir, 0700, &e) < 0) {
                log_error("%s: the agent's state directory: %s", microvm_name(h), e.msg);
                return OSVM_EXIT_FAILURE;
        }
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
                log_error("%s: socketpair: %s", microvm_name(h), strerror(errno));
                return OSVM_EXIT_FAILURE;
        }
        /* Ctrl-C and resizes must interrupt this thread's waits (the guest's
         * read of its prompt, of a host-call answer), not the service's. */
        sigset_t block, old;
        sigemptyset(&block);
        sigaddset(&block, SIGINT);
        sigaddset(&block, SIGWINCH);
        pthread_sigmask(SIG_BLOCK, &block, &old);
        struct microvm_service *svc = microvm_service_start(sv[0], h, &e);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (!svc) {
                log_error("%s: %s", microvm_name(h), e.msg);
                close(sv[0]);
                close(sv[1]);
                return OSVM_EXIT_FAILURE;
        }

        /* The guest's view: its state directory read-write, the terminal
         * descriptions and locales read-only, nothing else. */
        struct vmm_mount mounts[8];
        size_t nm = 0;
        char guest_state[64];
        snprintf(guest_state, sizeof(guest_state), "%s/osvm/agent", MICROVM_STATE_DIR);
        mounts[nm++] = (struct vmm_mount){h->state_dir, guest_state, false};
        for (size_t i = 0; h->ro_dirs && h->ro_dirs[i] && nm < 8; i++) {
                struct stat st;
                if (stat(h->ro_dirs[i], &st) == 0 && S_ISDIR(st.st_mode))
                        mounts[nm++] = (struct vmm_mount){h->ro_dirs[i], h->ro_dirs[i], true};
        }
        char *env[ENV_MAX];
        size_t nenv = agent_env(env, a);
        const char *argv[6];
        size_t na = 0;
        argv[na++] = "osvm";
        if (a->prompt) {
                argv[na++] = "-p";
                argv[na++] = a->prompt;
        }
        if (a->json)
                argv[na++] = "--json";
        argv[na] = NULL;
        volatile sig_atomic_t *const wake[] = {h->interrupted, h->resized, NULL};
        struct vmm_spec spec = {
            .image = h->image,
            .argv = argv,
            .envp = (const char *const *)env,
            .in_fd = STDIN_FILENO,
            .out_fd = STDOUT_FILENO,
            .err_fd = STDERR_FILENO,
            .host_fd = sv[1],
            .mounts = mounts,
            .nmounts = nm,
            .tty = true,
            .tty_wake = wake,
            .huge_pages = true, /* ~3 ms less to the prompt here (KVM) */
            .platform = h->process ? VMM_PLATFORM_PROCESS : VMM_PLATFORM_KVM,
            .limits = {.memory_mb = MICROVM_MEMORY_MB,
                       .timeout_ms = UINT32_MAX, /* a session lasts as long as the user likes */
                       .max_output_bytes = UINT64_MAX,
                       .max_syscalls = UINT64_MAX},
        };

        term_guard();
        log_debug("%s: starts %.1f ms after osvm did", microvm_name(h),
                  (double)(time_mono_ns() - session_get()->start_ns) / 1e6);
        /* a trapped process is counted as one, never as a VM */
        void (*note)(struct osvm_session *, int) =
            h->process ? session_note_agent_proc : session_note_microvm;
        note(session_get(), +1);
        struct vmm_result res;
        int rc = vmm_run(&spec, &res, &e);
        note(session_get(), -1);
        term_restore();

        close(sv[1]); /* the agent's end: the service sees the end */
        unsigned refused = 0;
        int prepared = 0;
        unsigned calls = microvm_service_finish(svc, &refused, &prepared);
        close(sv[0]);
        log_debug("%s: %s after %.1f ms, %llu syscalls, %u host calls (%u refused)",
                  microvm_name(h), vmm_end_name(res.end), (double)res.t.run_ns / 1e6,
                  (unsigned long long)res.syscalls, calls, refused);
        for (size_t i = 0; i < nenv; i++)
                free(env[i]);
        if (rc < 0) {
                log_error("%s could not start: %s", microvm_name(h), e.msg);
                return OSVM_EXIT_FAILURE;
        }
        if (prepared) /* the agent could not go on: the reason is the host's */
                return prepared;
        if (res.end != VMM_END_EXIT) {
                log_error("%s stopped: %s", microvm_name(h), res.why);
                return OSVM_EXIT_FAILURE;
        }
        return res.exit_code;
}
