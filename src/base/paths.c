/* The standard directories: configuration and state. */
#include "base.h"

#include <pwd.h>
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
