/*
 * Did-you-mean: the known name nearest to a mistyped one (`osvm mpc` ->
 * "mcp", `osvm mcp lsit` -> "list", `/hepl` -> "/help"), by the edit
 * distance with transpositions (optimal string alignment).
 */
#include "ui/ui.h"

#include <string.h>

#define WORD_MAX 64 /* longer words get no suggestion */

size_t ui_edit_distance(const char *a, const char *b)
{
        size_t n = strlen(a), m = strlen(b);
        if (n > WORD_MAX || m > WORD_MAX)
                return SIZE_MAX;
        unsigned char d[WORD_MAX + 1][WORD_MAX + 1];
        for (size_t i = 0; i <= n; i++)
                d[i][0] = (unsigned char)i;
        for (size_t j = 0; j <= m; j++)
                d[0][j] = (unsigned char)j;
        for (size_t i = 1; i <= n; i++) {
                for (size_t j = 1; j <= m; j++) {
                        unsigned v = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
                        if (d[i - 1][j] + 1u < v)
                                v = d[i - 1][j] + 1u;
                        if (d[i][j - 1] + 1u < v)
                                v = d[i][j - 1] + 1u;
                        if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                            d[i - 2][j - 2] + 1u < v)
                                v = d[i - 2][j - 2] + 1u;
                        d[i][j] = (unsigned char)v;
                }
        }
        return d[n][m];
}

const char *ui_nearest(const char *word, const char *const *names, size_t n)
{
        size_t len = strlen(word);
        if (len == 0)
                return NULL;
        /* one edit for short words, two for longer ones: past that it is
         * another word, not a typo (and one letter is no word at all) */
        size_t limit = len < 2 ? 0 : len <= 3 ? 1 : 2;
        const char *best = NULL;
        size_t best_d = SIZE_MAX;
        for (size_t i = 0; i < n; i++) {
                if (!names[i])
                        continue;
                size_t dist = ui_edit_distance(word, names[i]);
                if (dist <= limit && dist < best_d) {
                        best = names[i];
                        best_d = dist;
                }
        }
        if (best)
                return best;
        /* else a name the word begins, when just one does ("iso" -> "isolation") */
        const char *prefix_of = NULL;
        for (size_t i = 0; len >= 2 && i < n; i++) {
                if (!names[i] || strncmp(names[i], word, len) != 0)
                        continue;
                if (prefix_of && strcmp(prefix_of, names[i]) != 0)
                        return NULL;
                prefix_of = names[i];
        }
        return prefix_of;
}
