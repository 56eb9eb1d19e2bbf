/* What the terminal can show, and putting it back as it was found. */
#include "base.h"

#include <errno.h>
#include <langinfo.h>
#include <signal.h>
#include <stdlib.h>
#include <termios.h>
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

static struct termios saved_tty;
static volatile sig_atomic_t tty_saved;

void term_restore(void)
{
        if (tty_saved)
                tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
}

static void on_fatal(int sig)
{
        term_restore(); /* tcsetattr is async-signal-safe */
        signal(sig, SIG_DFL);
        raise(sig);
}

/*
 * Ctrl-Z: the shell gets its terminal back as it was found while osvm is
 * stopped; on fg the settings osvm had are put back and a resize is
 * signalled, so that the line editor takes the terminal in again. (In an
 * orphaned process group the stop does not happen and this is a no-op.)
 */
static void on_suspend(int sig)
{
        int saved_errno = errno;
        struct termios now;
        bool have = tcgetattr(STDIN_FILENO, &now) == 0;
        term_restore();
        signal(sig, SIG_DFL);
        sigset_t s;
        sigemptyset(&s);
        sigaddset(&s, sig);
        sigprocmask(SIG_UNBLOCK, &s, NULL);
        raise(sig); /* stopped here until fg */
        struct sigaction sa = {.sa_handler = on_suspend};
        sigemptyset(&sa.sa_mask);
        sigaction(sig, &sa, NULL);
        if (have)
                tcsetattr(STDIN_FILENO, TCSADRAIN, &now);
        kill(getpid(), SIGWINCH); /* to the process: the thread that waits on the terminal */
        errno = saved_errno;
}

void term_guard(void)
{
        if (tty_saved || !isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_tty) < 0)
                return;
        tty_saved = 1;
        static const int fatal[] = {SIGTERM, SIGHUP, SIGQUIT, SIGSEGV, SIGBUS, SIGABRT, SIGFPE};
        struct sigaction sa = {.sa_handler = on_fatal};
        sigemptyset(&sa.sa_mask);
        for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
                sigaction(fatal[i], &sa, NULL);
        sa.sa_handler = on_suspend;
        sigaction(SIGTSTP, &sa, NULL);
        atexit(term_restore);
}
