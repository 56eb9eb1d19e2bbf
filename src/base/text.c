/*
 * Text that comes from outside osvm: UTF-8 checks, the one sanitizer for
 * whatever is shown to a person or written to a log, and the checks on values
 * that go into HTTP headers.
 */
#include "base.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

/*
 * Decodes the code point at s[*i] (len bytes in all) into *cp and moves *i
 * past it. Returns false, moving *i by one byte, when the bytes there are not
 * well-formed UTF-8 (overlong, a surrogate, past U+10FFFF, truncated, a
 * stray continuation byte).
 */
static bool utf8_next(const unsigned char *s, size_t len, size_t *i, unsigned *cp)
{
        unsigned c = s[*i];
        size_t n;
        unsigned min;
        if (c < 0x80) {
                *cp = c;
                (*i)++;
                return true;
        } else if ((c & 0xE0) == 0xC0) {
                n = 1, min = 0x80, c &= 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
                n = 2, min = 0x800, c &= 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
                n = 3, min = 0x10000, c &= 0x07;
        } else {
                (*i)++;
                return false;
        }
        if (len - *i - 1 < n) {
                (*i)++;
                return false;
        }
        for (size_t k = 1; k <= n; k++) {
                if ((s[*i + k] & 0xC0) != 0x80) {
                        (*i)++;
                        return false;
                }
                c = (c << 6) | (s[*i + k] & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
                (*i)++;
                return false;
        }
        *cp = c;
        *i += n + 1;
        return true;
}

int text_cut(const char *s, size_t max)
{
        size_t n = strnlen(s, max);
        if (n == max && s[n] != '\0')
                while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
                        n--; /* s[n] continues the character before it: cut before that */
        return n > INT_MAX ? INT_MAX : (int)n;
}

bool text_valid_utf8(const char *str, size_t len)
{
        const unsigned char *s = (const unsigned char *)str;
        size_t i = 0;
        unsigned cp;
        while (i < len)
                if (!utf8_next(s, len, &i, &cp) || cp == 0)
                        return false;
        return true;
}

/* Code points that reorder or hide the text around them ("Trojan Source"):
 * the bidirectional embeddings, overrides and isolates. */
static bool is_bidi_control(unsigned cp)
{
        return (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200E ||
               cp == 0x200F || cp == 0x061C;
}

void sb_add_sanitized(strbuf *b, const char *str, size_t len, unsigned flags)
{
        const unsigned char *s = (const unsigned char *)str;
        size_t i = 0;
        sb_addn(b, "", 0); /* b->s exists even for empty text */
        while (i < len) {
                size_t at = i;
                unsigned cp;
                if (!utf8_next(s, len, &i, &cp)) {
                        sb_addf(b, "\\x%02x", s[at]);
                } else if (cp == '\n' || cp == '\t') {
                        if (flags & TEXT_MULTILINE)
                                sb_addn(b, (const char *)s + at, 1);
                        else
                                sb_add(b, cp == '\n' ? "\\n" : " ");
                } else if (cp < 0x20) {
                        char caret[3] = {'^', (char)(cp + 0x40), '\0'};
                        sb_add(b, caret);
                } else if (cp == 0x7F) {
                        sb_add(b, "^?");
                } else if ((cp >= 0x80 && cp <= 0x9F) || is_bidi_control(cp)) {
                        sb_addf(b, "\\u%04x", cp);
                } else {
                        sb_addn(b, (const char *)s + at, i - at);
                }
        }
}

char *text_sanitize(const char *s, unsigned flags)
{
        strbuf b = {0};
        sb_add_sanitized(&b, s ? s : "", s ? strlen(s) : 0, flags);
        return sb_steal(&b);
}

/* RFC 9110 5.6.2: tchar. */
bool text_token_char(char ch)
{
        unsigned char c = (unsigned char)ch;
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* RFC 9110 5.6.2: token = 1*tchar. */
bool text_header_name_ok(const char *s)
{
        if (!s || !*s)
                return false;
        for (; *s; s++)
                if (!text_token_char(*s))
                        return false;
        return true;
}

/* RFC 9110 5.5: field-value is visible characters, spaces and tabs, and
 * obs-text; never CR, LF, NUL or another control, which would end the header
 * or start a new one. */
bool text_header_value_ok(const char *s)
{
        if (!s)
                return false;
        for (; *s; s++) {
                unsigned char c = (unsigned char)*s;
                if ((c < 0x20 && c != '\t') || c == 0x7F)
                        return false;
        }
        return true;
}
