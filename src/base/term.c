/* What the terminal can show. */
#include "base.h"

#include <langinfo.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

bool term_utf8(void)
{
        const char *cs = nl_langinfo(CODESET);
        return cs && (strcasecmp(cs, "UTF-8") == 0 || strcasecmp(cs, "utf8") == 0);
}

bool term_color(int fd)
{
        const char *nc = getenv("NO_COLOR");
        if (nc && *nc)
                return false;
        const char *t = getenv("TERM");
        if (t && strcmp(t, "dumb") == 0)
                return false;
        return isatty(fd);
}
