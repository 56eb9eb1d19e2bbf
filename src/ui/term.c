/*
 * What the agent's front end needs on the host and inside μVM-1 alike:
 * Ctrl-C caught as a flag, JSON printed for --json, text cut to the
 * terminal's width, and a call's egress in words.
 */
#include "ui/ui.h"

#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <wchar.h>

volatile sig_atomic_t ui_interrupted;

static void on_interrupt(int sig)
{
        (void)sig;
        ui_interrupted = 1;
}

void ui_catch_interrupt(void)
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

void ui_catch_resize(volatile sig_atomic_t *flag)
{
        resize_flag = flag;
        struct sigaction sa = {.sa_handler = on_resize};
        sigemptyset(&sa.sa_mask);
        sigaction(SIGWINCH, &sa, NULL); /* no SA_RESTART: a waiting read wakes up */
}

/*
 * jansson escapes the C0 controls in strings but writes every other
 * character as it is: a C1 control, a bidirectional override or DEL would
 * reach the terminal. Each character the sanitizer would not pass as it is
 * becomes a \uXXXX escape, which any JSON reader decodes to the same text.
 * (Outside strings, JSON output is ASCII without controls.)
 */
static char *json_escape_controls(const char *s)
{
        strbuf out = {0}, one = {0};
        const unsigned char *p = (const unsigned char *)s;
        while (*p) {
                size_t n = 1;
                if (*p >= 0xC0)
                        while (n < 4 && (p[n] & 0xC0) == 0x80)
                                n++;
                if (*p < 0x7F) {
                        sb_addn(&out, (const char *)p, 1);
                } else {
                        one.len = 0;
                        sb_add_sanitized(&one, (const char *)p, n, 0);
                        if (one.len == n && !memcmp(one.s, p, n)) {
                                sb_addn(&out, (const char *)p, n);
                        } else { /* a control: one code point, from its UTF-8 */
                                unsigned cp = n == 1 ? *p : *p & (0x7F >> n);
                                for (size_t k = 1; k < n; k++)
                                        cp = (cp << 6) | (p[k] & 0x3F);
                                sb_addf(&out, "\\u%04x", cp);
                        }
                }
                p += n;
        }
        sb_free(&one);
        sb_addn(&out, "", 0);
        return sb_steal(&out);
}

void ui_print_json(json_t *v)
{
        char *s = json_dumps(v, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
        if (s) {
                char *safe = json_escape_controls(s);
                printf("%s\n", safe);
                free(safe);
        }
        free(s);
}

/* ---- text cut to the terminal's width ---- */

unsigned ui_term_columns(int fd)
{
        struct winsize ws;
        if (isatty(fd) && ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col)
                return ws.ws_col;
        const char *c = getenv("COLUMNS");
        char *end;
        unsigned long n = c ? strtoul(c, &end, 10) : 0;
        return c && *c && !*end && n && n <= 100000 ? (unsigned)n : 0;
}

/* The character at s (at least one byte, at most the UTF-8 sequence its
 * first byte announces): its length in bytes and its width in columns. */
static size_t char_at(const unsigned char *s, int *width)
{
        size_t n = *s >= 0xF0 ? 4 : *s >= 0xE0 ? 3 : *s >= 0xC0 ? 2 : 1;
        unsigned cp = n == 1 ? *s : *s & (0x7F >> n);
        for (size_t k = 1; k < n; k++) {
                if ((s[k] & 0xC0) != 0x80) { /* not UTF-8: a byte, one column */
                        *width = 1;
                        return 1;
                }
                cp = (cp << 6) | (s[k] & 0x3F);
        }
        int w = wcwidth((wchar_t)cp);
        *width = w < 0 ? 1 : w; /* unknown to the locale: as most terminals, one */
        return n;
}

size_t ui_text_columns(const char *s)
{
        size_t cols = 0;
        for (const unsigned char *p = (const unsigned char *)s; *p;) {
                int w;
                p += char_at(p, &w);
                cols += (size_t)w;
        }
        return cols;
}

char *ui_fit_columns(const char *s, size_t cols, bool utf8)
{
        if (ui_text_columns(s) <= cols)
                return xstrdup(s);
        const char *ell = utf8 ? "\xe2\x80\xa6" : "...";
        size_t ell_cols = utf8 ? 1 : 3;
        if (cols < ell_cols)
                ell = "", ell_cols = 0;
        size_t room = cols - ell_cols, used = 0;
        const unsigned char *p = (const unsigned char *)s;
        while (*p) {
                int w;
                size_t n = char_at(p, &w);
                if (used + (size_t)w > room)
                        break;
                used += (size_t)w;
                p += n;
        }
        strbuf b = {0};
        sb_addn(&b, s, (size_t)(p - (const unsigned char *)s));
        sb_add(&b, ell);
        return sb_steal(&b);
}

char *ui_egress_words(json_t *egress, bool blocked_only)
{
        strbuf b = {0};
        size_t i, shown = 0, left = 0;
        json_t *x;
        json_array_foreach(egress, i, x)
        {
                const char *outcome = !json_is_true(json_object_get(x, "allowed")) ? " refused"
                                      : json_object_get(x, "why")                  ? " failed"
                                                                                   : "";
                if (blocked_only && !*outcome)
                        continue;
                if (shown == 3) {
                        left++;
                        continue;
                }
                const char *host = json_string_value(json_object_get(x, "host"));
                const char *url = json_string_value(json_object_get(x, "url"));
                _cleanup_free_ char *where =
                    host ? xasprintf(strchr(host, ':') ? "[%s]:%lld" : "%s:%lld", host,
                                     (long long)json_integer_value(json_object_get(x, "port")))
                         : xstrdup(url ? url : "?");
                _cleanup_free_ char *text = text_sanitize(where, 0);
                sb_addf(&b, "%s%.*s%s", shown++ ? ", " : "", text_cut(text, 80), text, outcome);
        }
        if (left)
                sb_addf(&b, ", and %zu more", left);
        return b.s ? sb_steal(&b) : xstrdup("");
}
