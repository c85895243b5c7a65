/*
 * json.c: the one JSON reader (see duch_json.h). A recursive descent over the text into
 * a tree; every failure path frees what it built.
 */
#include "config.h"
#include "duch_json.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 200

typedef struct parser {
    const char *p, *end, *begin;
    char *err;
    size_t errlen;
    int failed, nomem, depth;
    char point; /* the locale's decimal point, for strtod */
} parser;

static int fail(parser *j, const char *what)
{
    if (!j->failed && j->err && j->errlen)
        snprintf(j->err, j->errlen, "%s at byte %ld", what, (long)(j->p - j->begin));
    j->failed = 1;
    return 0;
}

static int oom(parser *j)
{
    if (!j->failed && j->err && j->errlen)
        snprintf(j->err, j->errlen, "out of memory");
    j->failed = j->nomem = 1;
    return 0;
}

static void ws(parser *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

/* a growing byte buffer for strings */
typedef struct buf {
    char *d;
    size_t n, cap;
} buf;

static int put(parser *j, buf *b, const char *src, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 32;
        while (b->n + n + 1 > cap)
            cap *= 2;
        char *d = realloc(b->d, cap);
        if (!d)
            return oom(j);
        b->d = d;
        b->cap = cap;
    }
    memcpy(b->d + b->n, src, n);
    b->n += n;
    b->d[b->n] = 0;
    return 1;
}

static int put_utf8(parser *j, buf *b, unsigned cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return put(j, b, u, n);
}

static int hex4(parser *j, unsigned *v)
{
    if (j->end - j->p < 4)
        return fail(j, "truncated \\u escape");
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = *j->p++;
        *v <<= 4;
        if (c >= '0' && c <= '9')
            *v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            *v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            *v |= (unsigned)(c - 'A' + 10);
        else
            return fail(j, "bad \\u escape");
    }
    return 1;
}

static int escape(parser *j, buf *b)
{
    char e = *j->p++, o;
    switch (e) {
    case '"': o = '"'; break;
    case '\\': o = '\\'; break;
    case '/': o = '/'; break;
    case 'b': o = '\b'; break;
    case 'f': o = '\f'; break;
    case 'n': o = '\n'; break;
    case 'r': o = '\r'; break;
    case 't': o = '\t'; break;
    case 'u': {
        unsigned cp = 0;
        if (!hex4(j, &cp))
            return 0;
        if (cp >= 0xD800 && cp < 0xDC00 && j->end - j->p >= 6 && j->p[0] == '\\' && j->p[1] == 'u') {
            j->p += 2;
            unsigned lo = 0;
            if (!hex4(j, &lo))
                return 0;
            if (lo >= 0xDC00 && lo < 0xE000)
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            else
                cp = 0xFFFD;
        } else if (cp >= 0xD800 && cp < 0xE000)
            cp = 0xFFFD;
        return put_utf8(j, b, cp);
    }
    default:
        j->p--;
        return fail(j, "bad escape in string");
    }
    return put(j, b, &o, 1);
}

/* A string at j->p into a new NUL-terminated copy (*s, *len). */
static int string(parser *j, char **s, size_t *len)
{
    if (j->p >= j->end || *j->p != '"')
        return fail(j, "expected a string");
    j->p++;
    buf b = {0};
    int ok = 1;
    while (ok && j->p < j->end && *j->p != '"') {
        unsigned char c = (unsigned char)*j->p;
        if (c < 0x20) {
            ok = fail(j, "control character in string");
            break;
        }
        if (c != '\\') {
            const char *run = j->p;
            while (j->p < j->end && *j->p != '"' && *j->p != '\\' && (unsigned char)*j->p >= 0x20)
                j->p++;
            ok = put(j, &b, run, (size_t)(j->p - run));
            continue;
        }
        if (++j->p >= j->end)
            break;
        ok = escape(j, &b);
    }
    if (ok && j->p >= j->end)
        ok = fail(j, "unterminated string");
    if (ok && !b.d)
        ok = put(j, &b, "", 0);
    if (!ok) {
        free(b.d);
        return 0;
    }
    j->p++;
    *s = b.d;
    *len = b.n;
    return 1;
}

static int number(parser *j, double *out)
{
    const char *s = j->p;
    while (j->p < j->end && (strchr("+-.eE", *j->p) || (*j->p >= '0' && *j->p <= '9')) && *j->p)
        j->p++;
    char tmp[512], *e;
    size_t n = (size_t)(j->p - s);
    if (n >= sizeof tmp) {
        j->p = s;
        return fail(j, "bad number");
    }
    memcpy(tmp, s, n);
    tmp[n] = 0;
    /* strtod reads the locale's decimal point: give it that one */
    if (j->point != '.')
        for (size_t i = 0; i < n; i++)
            if (tmp[i] == '.')
                tmp[i] = j->point;
    *out = strtod(tmp, &e);
    if (*e) {
        j->p = s + (e - tmp);
        return fail(j, "bad number");
    }
    return 1;
}

static void free_node(duch_json *v)
{
    for (size_t i = 0; i < v->n; i++)
        free_node(&v->items[i]);
    free(v->items);
    free(v->str);
    free(v->key);
}

static int value(parser *j, duch_json *v);

static int container(parser *j, duch_json *v, int obj)
{
    char close = obj ? '}' : ']';
    size_t cap = 0;
    j->p++;
    ws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        return 1;
    }
    for (;;) {
        if (v->n == cap) {
            size_t nc = cap ? cap * 2 : 4;
            duch_json *it = realloc(v->items, nc * sizeof *it);
            if (!it)
                return oom(j);
            v->items = it;
            cap = nc;
        }
        duch_json *m = &v->items[v->n];
        memset(m, 0, sizeof *m);
        ws(j);
        m->at = (size_t)(j->p - j->begin);
        if (obj) {
            if (!string(j, &m->key, &m->keylen))
                return 0;
            v->n++; /* owned from here on, freed with v */
            ws(j);
            if (j->p >= j->end || *j->p != ':')
                return fail(j, "expected ':'");
            j->p++;
        } else
            v->n++;
        if (!value(j, m))
            return 0;
        m->end = (size_t)(j->p - j->begin);
        ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (j->p < j->end && *j->p == close) {
            j->p++;
            return 1;
        }
        return fail(j, obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static int value(parser *j, duch_json *v)
{
    ws(j);
    if (j->p >= j->end)
        return fail(j, "unexpected end of input");
    if (++j->depth > JSON_MAX_DEPTH)
        return fail(j, "nesting too deep");
    int ok = 1;
    char c = *j->p;
    if (c == '{' || c == '[') {
        v->type = c == '{' ? DUCH_JSON_OBJ : DUCH_JSON_ARR;
        ok = container(j, v, c == '{');
    } else if (c == '"') {
        ok = string(j, &v->str, &v->len);
        if (ok)
            v->type = DUCH_JSON_STR;
    } else if (c == 't' && j->end - j->p >= 4 && !memcmp(j->p, "true", 4)) {
        v->type = DUCH_JSON_BOOL;
        v->b = 1;
        j->p += 4;
    } else if (c == 'f' && j->end - j->p >= 5 && !memcmp(j->p, "false", 5)) {
        v->type = DUCH_JSON_BOOL;
        j->p += 5;
    } else if (c == 'n' && j->end - j->p >= 4 && !memcmp(j->p, "null", 4)) {
        v->type = DUCH_JSON_NULL;
        j->p += 4;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        ok = number(j, &v->num);
        if (ok)
            v->type = DUCH_JSON_NUM;
    } else
        ok = fail(j, "unexpected character");
    j->depth--;
    return ok;
}

int duch_json_parse(const char *text, size_t len, duch_json **out, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = 0;
    if (!out)
        return DUCH_INVALID;
    *out = NULL;
    if (!text && len)
        return DUCH_INVALID;
    parser j = {text, text + len, text, err, errlen, 0, 0, 0, '.'};
    const struct lconv *lc = localeconv();
    if (lc && lc->decimal_point && lc->decimal_point[0] && !lc->decimal_point[1])
        j.point = lc->decimal_point[0];
    duch_json *root = calloc(1, sizeof *root);
    if (!root) {
        oom(&j);
        return DUCH_NOMEM;
    }
    ws(&j);
    root->at = (size_t)(j.p - j.begin);
    int ok = value(&j, root);
    root->end = (size_t)(j.p - j.begin);
    if (ok) {
        ws(&j);
        if (j.p != j.end)
            ok = fail(&j, "trailing characters");
    }
    if (!ok) {
        duch_json_free(root);
        return j.nomem ? DUCH_NOMEM : DUCH_CORRUPT;
    }
    *out = root;
    return DUCH_OK;
}

void duch_json_free(duch_json *root)
{
    if (!root)
        return;
    free_node(root);
    free(root);
}

const duch_json *duch_json_get(const duch_json *obj, const char *key)
{
    if (!obj || obj->type != DUCH_JSON_OBJ || !key)
        return NULL;
    size_t kl = strlen(key);
    for (size_t i = 0; i < obj->n; i++)
        if (obj->items[i].keylen == kl && !memcmp(obj->items[i].key, key, kl))
            return &obj->items[i];
    return NULL;
}

double duch_json_num_or(const duch_json *obj, const char *key, double dflt)
{
    const duch_json *v = duch_json_get(obj, key);
    return v && v->type == DUCH_JSON_NUM ? v->num : dflt;
}

const char *duch_json_str_or(const duch_json *obj, const char *key, const char *dflt)
{
    const duch_json *v = duch_json_get(obj, key);
    return v && v->type == DUCH_JSON_STR ? v->str : dflt;
}
