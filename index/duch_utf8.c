/* duch_utf8.c: cut messages at UTF-8 character boundaries (see duch_utf8.h). */
#include "config.h"
#include "duch_utf8.h"

#include <stdio.h>
#include <string.h>

/* Bytes in the sequence that lead byte c starts; 0 when c cannot start one
 * (a continuation byte 0x80..0xBF, or 0xF8..0xFF). */
static int seq_len(unsigned char c)
{
    if (c < 0x80)
        return 1;
    if (c < 0xC0)
        return 0;
    if (c < 0xE0)
        return 2;
    if (c < 0xF0)
        return 3;
    if (c < 0xF8)
        return 4;
    return 0;
}

size_t duch_utf8_prefix(const char *s, size_t n)
{
    if (!s || n == 0)
        return 0;
    const unsigned char *u = (const unsigned char *)s;
    size_t i = n, cont = 0;
    /* a character has at most 3 continuation bytes after its lead byte */
    while (cont < 3 && i > 0 && (u[i - 1] & 0xC0) == 0x80) {
        i--;
        cont++;
    }
    if (i == 0)
        return n; /* continuation bytes only: malformed before the cut, not ours to fix */
    int need = seq_len(u[i - 1]);
    if (need <= 1)
        return n; /* ASCII (complete), stray continuation bytes or an invalid byte */
    if (cont + 1 < (size_t)need)
        return i - 1; /* the lead byte and its continuation bytes so far: incomplete */
    return n;
}

size_t duch_utf8_trim(char *s)
{
    if (!s)
        return 0;
    size_t n = strlen(s), k = duch_utf8_prefix(s, n);
    s[k] = 0;
    return k;
}

int duch_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    int r = vsnprintf(buf, size, fmt, ap);
    if (size == 0 || !buf)
        return r;
    if (r < 0) {
        buf[0] = 0; /* vsnprintf leaves the buffer unspecified on an encoding error */
        return r;
    }
    if ((size_t)r >= size) /* truncated: buf holds size - 1 bytes and a NUL */
        buf[duch_utf8_prefix(buf, size - 1)] = 0;
    return r;
}

int duch_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = duch_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return r;
}
