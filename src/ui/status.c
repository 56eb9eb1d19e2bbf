/* The status line: `OSVM: 0μVMs 0uK • osvm-mcp(μVM-1:cfg) • net:unknown • up:0s`.
 * Where the engine ran something on its process platform (no KVM), the
 * figures of trapped processes follow, never counted as VMs:
 * `OSVM: 0μVMs 0uK 1μPs 3uKp • ...` (docs/cli.md). MCP servers running in
 * their sandbox are counted as `2sbx` (`2sbx~` when one is the reduced tier). */
#include "ui/ui.h"

#include <string.h>
#include <unistd.h>

#define BOLD   "\033[1m"
#define YELLOW "\033[33m"
#define GREEN  "\033[32m"
#define RED    "\033[31m"
#define RESET  "\033[0m"

/* Copies s, turning μ into u and any other non-ASCII or control byte into '?'. */
static void add_ascii(strbuf *b, const char *s)
{
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                if (p[0] == 0xCE && p[1] == 0xBC) {
                        sb_add(b, "u");
                        p++;
                } else if (*p < 0x20 || *p >= 0x7f) {
                        sb_add(b, "?");
                        while ((p[1] & 0xC0) == 0x80)
                                p++;
                } else {
                        sb_addf(b, "%c", *p);
                }
        }
}

/* Copies s (a name from a config file or a server) through the sanitizer,
 * so that it cannot drive the terminal; in ASCII where the locale is not UTF-8. */
static void add_text(strbuf *b, const char *s, bool utf8)
{
        _cleanup_free_ char *safe = text_sanitize(s, 0);
        if (utf8)
                sb_add(b, safe);
        else
                add_ascii(b, safe);
}

static void add_uptime(strbuf *b, uint64_t secs)
{
        if (secs < 60)
                sb_addf(b, "%lus", (unsigned long)secs);
        else if (secs < 3600)
                sb_addf(b, "%lum%02lus", (unsigned long)(secs / 60), (unsigned long)(secs % 60));
        else
                sb_addf(b, "%luh%02lum", (unsigned long)(secs / 3600),
                        (unsigned long)(secs / 60 % 60));
}

char *ui_status_line(const struct osvm_session *s, uint64_t now_ns, struct ui_style st)
{
        static const char *const states[] = {"cfg", "up", "down"};
        static const char *const state_colors[] = {"", GREEN, RED};
        const char *sep = st.utf8 ? " \xe2\x80\xa2 " : " - ";
        strbuf b = {0};

        sb_addf(&b, "%sOSVM:%s %u%sVMs %uuK", st.color ? BOLD : "", st.color ? RESET : "",
                s->live_microvms, st.utf8 ? "\xce\xbc" : "u", s->unikernels_run);
        if (s->live_agent_procs || s->unikernel_procs_run)
                sb_addf(&b, " %u%sPs %uuKp", s->live_agent_procs, st.utf8 ? "\xce\xbc" : "u",
                        s->unikernel_procs_run);
        /* MCP servers running confined: "2sbx" (a reduced one marked "~") */
        unsigned sbx = 0, reduced = 0;
        for (size_t i = 0; i < s->nservers; i++) {
                sbx += !strcmp(s->servers[i].where, "sandbox");
                reduced += !strcmp(s->servers[i].where, "reduced");
        }
        if (sbx + reduced)
                sb_addf(&b, " %usbx%s", sbx + reduced, reduced ? "~" : "");
        if (s->fallbacks)
                sb_addf(&b, "%s*%s", st.color ? YELLOW : "", st.color ? RESET : "");
        for (size_t i = 0; i < s->nservers; i++) {
                const struct session_server *sv = &s->servers[i];
                sb_add(&b, sep);
                add_text(&b, sv->name, st.utf8);
                sb_add(&b, "(");
                add_text(&b, sv->where, st.utf8);
                sb_addf(&b, ":%s%s%s)", st.color ? state_colors[sv->state] : "", states[sv->state],
                        st.color && sv->state ? RESET : "");
        }
        sb_add(&b, sep);
        if (s->net == SESSION_NET_ALLOW)
                sb_addf(&b, "net:allow(%u)", s->net_allow_count);
        else
                sb_add(&b, s->net == SESSION_NET_OFF ? "net:off" : "net:unknown");
        sb_add(&b, sep);
        sb_add(&b, "up:");
        add_uptime(&b, now_ns > s->start_ns ? (now_ns - s->start_ns) / 1000000000u : 0);
        return sb_steal(&b);
}

struct ui_style ui_style_stdout(void)
{
        return (struct ui_style){.utf8 = term_utf8(), .color = term_color(STDOUT_FILENO)};
}
