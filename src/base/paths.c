/* The standard directories: configuration, state, and osvm's own images. */
#include "base.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *home_dir(void)
{
        const char *h = getenv("HOME");
        if (h && *h)
                return h;
        struct passwd *pw = getpwuid(getuid());
        return pw && pw->pw_dir ? pw->pw_dir : "/";
}

/* An XDG variable counts only when it holds an absolute path. */
static const char *xdg(const char *name)
{
        const char *v = getenv(name);
        return v && v[0] == '/' ? v : NULL;
}

char *paths_config_dir(void)
{
        const char *v = getenv("OSVM_HOME");
        if (v && *v)
                return xstrdup(v);
        if ((v = xdg("XDG_CONFIG_HOME")))
                return xasprintf("%s/osvm", v);
        return xasprintf("%s/.config/osvm", home_dir());
}

char *paths_state_dir(void)
{
        const char *v = xdg("XDG_STATE_HOME");
        if (v)
                return xasprintf("%s/osvm", v);
        return xasprintf("%s/.local/state/osvm", home_dir());
}

size_t paths_own(char *out[PATHS_OWN_MAX])
{
        const char *file = getenv("OSVM_SECRETS_FILE");
        char *paths[PATHS_OWN_MAX] = {paths_config_dir(), paths_state_dir(),
                                      file && *file == '/' ? xstrdup(file) : NULL};
        size_t n = 0;
        for (size_t i = 0; i < PATHS_OWN_MAX; i++) {
                if (!paths[i])
                        continue;
                out[n++] = fs_real_or_same(paths[i]);
                free(paths[i]);
        }
        return n;
}

char *paths_images_dir(void)
{
        char exe[400];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n <= 0)
                return NULL;
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
                *slash = '\0';
        const char *const cands[] = {"%s/unikernels", "%s/../lib/osvm/unikernels"};
        for (size_t i = 0; i < 2; i++) {
                char dir[512];
                struct stat st;
                snprintf(dir, sizeof(dir), cands[i], exe);
                if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) {
                        char *real = realpath(dir, NULL);
                        return real ? real : xstrdup(dir);
                }
        }
        return NULL;
}
