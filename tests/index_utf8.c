/* index_utf8: duch_utf8_prefix / duch_utf8_trim / duch_snprintf cut at character
 * boundaries: every cut point inside 2-, 3- and 4-byte sequences, complete characters
 * kept, malformed input left alone, and the snprintf return value. */
#include "config.h"
#include "duch_utf8.h"

#include <stdio.h>
#include <string.h>

static int failures;
#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                              \
        }                                                                            \
    } while (0)

/* A strict UTF-8 validator, written independently of duch_utf8.c's rules. */
static int valid_utf8(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    while (*s) {
        unsigned c = *s, cp, k;
        if (c < 0x80) {
            s++;
            continue;
        } else if ((c & 0xE0) == 0xC0)
            k = 1, cp = c & 0x1F;
        else if ((c & 0xF0) == 0xE0)
            k = 2, cp = c & 0x0F;
        else if ((c & 0xF8) == 0xF0)
            k = 3, cp = c & 0x07;
        else
            return 0;
        for (unsigned j = 1; j <= k; j++) {
            if ((s[j] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (s[j] & 0x3F);
        }
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        s += k + 1;
    }
    return 1;
}

int main(void)
{
    /* "a" + one character of each length: é (2), € (3), U+1F600 (4) */
    static const struct {
        const char *ch;
        size_t len;
    } chars[] = {{"\xC3\xA9", 2}, {"\xE2\x82\xAC", 3}, {"\xF0\x9F\x98\x80", 4}};
    for (int c = 0; c < 3; c++) {
        char s[16];
        snprintf(s, sizeof s, "a%sb", chars[c].ch);
        size_t L = chars[c].len;
        /* cut before, inside (every byte) and after the character */
        CHECK(duch_utf8_prefix(s, 0) == 0);
        CHECK(duch_utf8_prefix(s, 1) == 1);
        for (size_t k = 1; k < L; k++) {
            CHECK(duch_utf8_prefix(s, 1 + k) == 1);
            char t[16];
            memcpy(t, s, 1 + k);
            t[1 + k] = 0;
            CHECK(!valid_utf8(t)); /* the cut really is invalid ... */
            CHECK(duch_utf8_trim(t) == 1);
            CHECK(!strcmp(t, "a") && valid_utf8(t)); /* ... and the trimmed one valid */
        }
        CHECK(duch_utf8_prefix(s, 1 + L) == 1 + L);
        CHECK(duch_utf8_prefix(s, 2 + L) == 2 + L);
        /* the character alone at the very start */
        CHECK(duch_utf8_prefix(chars[c].ch, L - 1) == 0);
        CHECK(duch_utf8_prefix(chars[c].ch, L) == L);

        /* duch_snprintf into every buffer size: always valid UTF-8, always the longest
         * prefix that fits, and the return value of snprintf */
        char big[64];
        snprintf(big, sizeof big, "x%sy%sz", chars[c].ch, chars[c].ch);
        size_t full = strlen(big);
        for (size_t size = 1; size <= full + 2; size++) {
            char out[64];
            memset(out, '#', sizeof out);
            int r = duch_snprintf(out, size, "x%sy%sz", chars[c].ch, chars[c].ch);
            CHECK(r == (int)full);
            size_t got = strlen(out);
            CHECK(got < size);
            CHECK(!memcmp(out, big, got));
            CHECK(valid_utf8(out));
            /* nothing shorter than necessary: got is size-1, or size-1 falls in a character */
            size_t want = size - 1 < full ? size - 1 : full;
            CHECK(got <= want && want - got < L);
            if (want < full) {
                /* the byte after the cut is where a character starts or continues */
                CHECK(got == want || ((unsigned char)big[want] & 0xC0) == 0x80);
            }
        }
    }
    /* size 0 writes nothing, NULL buffer allowed; the return value still counts */
    CHECK(duch_snprintf(NULL, 0, "%s", "\xC3\xA9t\xC3\xA9") == 5);
    char one[1] = {'#'};
    CHECK(duch_snprintf(one, 1, "\xC3\xA9") == 2 && one[0] == 0);
    char two[2];
    CHECK(duch_snprintf(two, 2, "\xC3\xA9") == 2 && two[0] == 0);
    char three[3];
    CHECK(duch_snprintf(three, 3, "\xC3\xA9") == 2 && !strcmp(three, "\xC3\xA9"));

    /* malformed input is not "repaired" (only a sequence cut at the end is removed) */
    CHECK(duch_utf8_prefix("ab\x80", 3) == 3);              /* stray continuation byte */
    CHECK(duch_utf8_prefix("\x80\x80\x80\x80", 4) == 4);    /* continuation bytes only */
    CHECK(duch_utf8_prefix("a\xFF", 2) == 2);               /* not UTF-8 at all */
    CHECK(duch_utf8_prefix("a\xC3\xA9\xA9", 4) == 4);       /* one continuation too many */
    CHECK(duch_utf8_prefix("a\xF0\x9F\x98\x80\x80", 6) == 6);
    CHECK(duch_utf8_prefix(NULL, 5) == 0);
    CHECK(duch_utf8_trim(NULL) == 0);
    /* a long message in Cyrillic cut into a 100-byte buffer (odd: mid-character) */
    char msg[100];
    char text[400] = "";
    for (int i = 0; i < 60; i++)
        strcat(text, "\xD0\xB6"); /* ж */
    CHECK(duch_snprintf(msg, sizeof msg, "no word of \"%s\"", text) > (int)sizeof msg);
    CHECK(valid_utf8(msg) && strlen(msg) == 98);

    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("ok: UTF-8 cut points\n");
    return 0;
}
