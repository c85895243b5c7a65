/*
 * duch_utf8.h: keep messages valid UTF-8 when they are cut to fit a buffer.
 *
 * A message formatted into a fixed buffer (vsnprintf) or shortened to N bytes
 * ("%.*s") can end in the middle of a multi-byte UTF-8 character: a path, a scene
 * name or a text query in another script then turns into invalid UTF-8, which SQLite,
 * Python and JSON consumers reject or mangle. These helpers cut at the last complete
 * character instead. They only ever remove the bytes of one incomplete trailing
 * sequence; anything else (ASCII, complete characters, bytes that were malformed
 * before the cut) is left as it is.
 *
 * Part of libduch_utf8.la (index/local.mk), linked into libduch.so, mod_duch.so and
 * libduch_model.so. Plain C, no allocation, thread-safe, callable from C++.
 *
 *   char msg[256];
 *   duch_snprintf(msg, sizeof msg, "cannot open %s: %s", path, strerror(errno));
 *   // or, for a prefix of a string of your own:
 *   printf("\"%.*s...\"", (int)duch_utf8_prefix(text, 57), text);  // text is >= 57 bytes
 */
#ifndef DUCH_UTF8_H
#define DUCH_UTF8_H

#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The length of the longest prefix of s[0..n) that does not end inside a multi-byte
 * UTF-8 sequence: n itself, or n minus the 1 to 3 bytes of an incomplete character
 * at the end. s must hold at least n readable bytes (NUL bytes are plain ASCII here). */
size_t duch_utf8_prefix(const char *s, size_t n);

/* Cut the NUL-terminated string s in place so that it does not end inside a
 * multi-byte sequence; returns its new length (strlen). NULL gives 0. */
size_t duch_utf8_trim(char *s);

/* vsnprintf / snprintf, except that when the output is truncated the buffer ends at
 * a complete UTF-8 character. The return value is vsnprintf's (the length the whole
 * output would have, or negative on an encoding error), so `ret >= (int)size` still
 * detects truncation. size 0 writes nothing; buf may then be NULL. */
int duch_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int duch_snprintf(char *buf, size_t size, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#ifdef __cplusplus
}
#endif

#endif
