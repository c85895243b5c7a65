/*
 * duch_data.cpp: the parts of libduch_model.so that need no libtorch: a small JSON
 * reader, captions.json, JPEG decoding (libjpeg), the resampler, the tokenizer,
 * FNV-1a checksums and the mAP@k metric. Kept apart from duch_torch.cpp because the
 * libtorch headers make every translation unit that includes them slow to compile.
 */
#include "duch_model_internal.h"

#include <jpeglib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>

namespace duch {

/* ------------------------------------------------------------------ JSON */

const Json *Json::get(const char *key) const
{
    if (type != Obj)
        return nullptr;
    for (const auto &kv : obj)
        if (kv.first == key)
            return &kv.second;
    return nullptr;
}

double Json::num_or(const char *key, double dflt) const
{
    const Json *j = get(key);
    return j && j->type == Num ? j->num : dflt;
}

std::string Json::str_or(const char *key, const char *dflt) const
{
    const Json *j = get(key);
    return j && j->type == Str ? j->str : std::string(dflt);
}

namespace {
struct Parser {
    const char *p, *end, *begin;
    std::string err;
    int depth = 0;

    bool fail(const char *what)
    {
        if (err.empty())
            err = std::string(what) + " at byte " + std::to_string(p - begin);
        return false;
    }
    void ws()
    {
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
            p++;
    }
    static void put_utf8(std::string &s, unsigned cp)
    {
        if (cp < 0x80)
            s += (char)cp;
        else if (cp < 0x800) {
            s += (char)(0xC0 | (cp >> 6));
            s += (char)(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            s += (char)(0xE0 | (cp >> 12));
            s += (char)(0x80 | ((cp >> 6) & 0x3F));
            s += (char)(0x80 | (cp & 0x3F));
        } else {
            s += (char)(0xF0 | (cp >> 18));
            s += (char)(0x80 | ((cp >> 12) & 0x3F));
            s += (char)(0x80 | ((cp >> 6) & 0x3F));
            s += (char)(0x80 | (cp & 0x3F));
        }
    }
    bool hex4(unsigned &v)
    {
        if (end - p < 4)
            return fail("truncated \\u escape");
        v = 0;
        for (int i = 0; i < 4; i++) {
            char c = *p++;
            v <<= 4;
            if (c >= '0' && c <= '9')
                v |= c - '0';
            else if (c >= 'a' && c <= 'f')
                v |= c - 'a' + 10;
            else if (c >= 'A' && c <= 'F')
                v |= c - 'A' + 10;
            else
                return fail("bad \\u escape");
        }
        return true;
    }
    bool string(std::string &s)
    {
        if (p >= end || *p != '"')
            return fail("expected a string");
        p++;
        while (p < end && *p != '"') {
            unsigned char c = (unsigned char)*p;
            if (c < 0x20)
                return fail("control character in string");
            if (c != '\\') {
                s += (char)c;
                p++;
                continue;
            }
            if (++p >= end)
                break;
            char e = *p++;
            switch (e) {
            case '"': s += '"'; break;
            case '\\': s += '\\'; break;
            case '/': s += '/'; break;
            case 'b': s += '\b'; break;
            case 'f': s += '\f'; break;
            case 'n': s += '\n'; break;
            case 'r': s += '\r'; break;
            case 't': s += '\t'; break;
            case 'u': {
                unsigned cp = 0;
                if (!hex4(cp))
                    return false;
                if (cp >= 0xD800 && cp < 0xDC00 && end - p >= 6 && p[0] == '\\' && p[1] == 'u') {
                    p += 2;
                    unsigned lo = 0;
                    if (!hex4(lo))
                        return false;
                    if (lo >= 0xDC00 && lo < 0xE000)
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    else
                        cp = 0xFFFD;
                } else if (cp >= 0xD800 && cp < 0xE000)
                    cp = 0xFFFD;
                put_utf8(s, cp);
                break;
            }
            default:
                return fail("bad escape in string");
            }
        }
        if (p >= end)
            return fail("unterminated string");
        p++;
        return true;
    }
    bool value(Json &v)
    {
        ws();
        if (p >= end)
            return fail("unexpected end of input");
        if (++depth > 200)
            return fail("nesting too deep");
        bool ok = true;
        char c = *p;
        if (c == '{') {
            v.type = Json::Obj;
            p++;
            ws();
            if (p < end && *p == '}')
                p++;
            else
                for (;;) {
                    ws();
                    std::pair<std::string, Json> kv;
                    if (!string(kv.first))
                        return false;
                    ws();
                    if (p >= end || *p != ':')
                        return fail("expected ':'");
                    p++;
                    if (!value(kv.second))
                        return false;
                    v.obj.push_back(std::move(kv));
                    ws();
                    if (p < end && *p == ',') {
                        p++;
                        continue;
                    }
                    if (p < end && *p == '}') {
                        p++;
                        break;
                    }
                    return fail("expected ',' or '}'");
                }
        } else if (c == '[') {
            v.type = Json::Arr;
            p++;
            ws();
            if (p < end && *p == ']')
                p++;
            else
                for (;;) {
                    v.arr.emplace_back();
                    if (!value(v.arr.back()))
                        return false;
                    ws();
                    if (p < end && *p == ',') {
                        p++;
                        continue;
                    }
                    if (p < end && *p == ']') {
                        p++;
                        break;
                    }
                    return fail("expected ',' or ']'");
                }
        } else if (c == '"') {
            v.type = Json::Str;
            ok = string(v.str);
        } else if (c == 't' && end - p >= 4 && !memcmp(p, "true", 4)) {
            v.type = Json::Bool;
            v.b = true;
            p += 4;
        } else if (c == 'f' && end - p >= 5 && !memcmp(p, "false", 5)) {
            v.type = Json::Bool;
            p += 5;
        } else if (c == 'n' && end - p >= 4 && !memcmp(p, "null", 4)) {
            p += 4;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            const char *s = p;
            while (p < end && (strchr("+-.eE", *p) || (*p >= '0' && *p <= '9')))
                p++;
            std::string tmp(s, p);
            char *e;
            v.type = Json::Num;
            v.num = strtod(tmp.c_str(), &e);
            if (*e)
                return fail("bad number");
        } else
            return fail("unexpected character");
        depth--;
        return ok;
    }
};
} /* namespace */

bool json_parse(const char *text, size_t len, Json &out, std::string &err)
{
    Parser ps{text, text + len, text, {}};
    out = Json();
    if (!ps.value(out)) {
        err = ps.err;
        return false;
    }
    ps.ws();
    if (ps.p != ps.end) {
        ps.fail("trailing characters");
        err = ps.err;
        return false;
    }
    return true;
}

std::string json_escape(const std::string &s)
{
    std::string o = "\"";
    for (unsigned char c : s) {
        if (c == '"')
            o += "\\\"";
        else if (c == '\\')
            o += "\\\\";
        else if (c < 0x20) {
            char b[8];
            snprintf(b, sizeof b, "\\u%04x", c);
            o += b;
        } else
            o += (char)c;
    }
    return o + "\"";
}

/* ------------------------------------------------------------------ captions.json */

bool load_captions(const std::string &path, std::vector<Item> &items, std::string &err)
{
    FILE *f = fopen(path.c_str(), "rb");
    if (!f) {
        err = "cannot open " + path + ": " + strerror(errno);
        return false;
    }
    std::string text;
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        text.append(buf, n);
    fclose(f);
    Json root;
    std::string jerr;
    if (!json_parse(text.data(), text.size(), root, jerr)) {
        err = path + ": " + jerr;
        return false;
    }
    const Json *imgs = root.get("images");
    if (!imgs || imgs->type != Json::Arr) {
        err = path + ": no \"images\" array (expected Karpathy-style captions)";
        return false;
    }
    items.clear();
    for (const Json &j : imgs->arr) {
        Item it;
        it.filename = j.str_or("filename", "");
        it.cls = j.str_or("class", "");
        it.split = j.str_or("split", "");
        const Json *ss = j.get("sentences");
        if (ss && ss->type == Json::Arr)
            for (const Json &s : ss->arr) {
                std::string raw = s.str_or("raw", "");
                if (raw.empty()) { /* fall back on the tokens */
                    const Json *tk = s.get("tokens");
                    if (tk && tk->type == Json::Arr)
                        for (const Json &t : tk->arr)
                            if (t.type == Json::Str)
                                raw += (raw.empty() ? "" : " ") + t.str;
                }
                if (!raw.empty())
                    it.sentences.push_back(raw);
            }
        if (it.filename.empty()) {
            err = path + ": an image record has no filename";
            return false;
        }
        if (it.sentences.empty()) {
            err = path + ": image " + it.filename + " has no caption";
            return false;
        }
        items.push_back(std::move(it));
    }
    if (items.empty()) {
        err = path + ": no images";
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------ JPEG */

namespace {
struct JerrMgr {
    jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
};
extern "C" void jerr_exit(j_common_ptr cinfo)
{
    JerrMgr *m = (JerrMgr *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, m->msg);
    longjmp(m->jb, 1);
}
extern "C" void jerr_silent(j_common_ptr, int) {}
} /* namespace */

bool jpeg_decode(const std::string &path, std::vector<unsigned char> &rgb, int &w, int &h,
                 std::string &err)
{
    FILE *f = fopen(path.c_str(), "rb");
    if (!f) {
        err = "cannot open " + path + ": " + strerror(errno);
        return false;
    }
    jpeg_decompress_struct cinfo;
    JerrMgr jerr;
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = jerr_exit;
    jerr.pub.emit_message = jerr_silent;
    /* volatile: survives the longjmp */
    std::vector<unsigned char> *volatile out = &rgb;
    if (setjmp(jerr.jb)) {
        err = path + ": " + jerr.msg;
        jpeg_destroy_decompress(&cinfo);
        fclose(f);
        return false;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_stdio_src(&cinfo, f);
    jpeg_read_header(&cinfo, TRUE);
    cinfo.out_color_space = JCS_RGB;
    jpeg_start_decompress(&cinfo);
    w = (int)cinfo.output_width;
    h = (int)cinfo.output_height;
    out->assign((size_t)w * h * 3, 0);
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = out->data() + (size_t)cinfo.output_scanline * w * 3;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    fclose(f);
    return true;
}

/* ------------------------------------------------------------------ resampling */

namespace {
/* Output pixel i of n covers source [i*s/n, (i+1)*s/n). For downsampling, average the
 * covered source pixels with fractional weights; for upsampling (footprint < 1 px),
 * interpolate linearly at the footprint centre. Weights per output index. */
struct Taps {
    std::vector<int> start, count;
    std::vector<float> w;
    std::vector<int> off;
};
Taps make_taps(int src, int dst)
{
    Taps t;
    t.start.resize(dst);
    t.count.resize(dst);
    t.off.resize(dst);
    double scale = (double)src / dst;
    for (int i = 0; i < dst; i++) {
        t.off[i] = (int)t.w.size();
        if (scale <= 1.0) {
            double c = (i + 0.5) * scale - 0.5;
            if (c < 0)
                c = 0;
            int a = (int)std::floor(c);
            if (a > src - 1)
                a = src - 1;
            double fr = c - a;
            int b = std::min(a + 1, src - 1);
            t.start[i] = a;
            t.count[i] = 2;
            t.w.push_back((float)(1 - fr));
            t.w.push_back((float)(b == a ? 0 : fr));
            if (b == a)
                t.w[t.w.size() - 2] = 1.0f;
        } else {
            double a = i * scale, b = (i + 1) * scale;
            int ia = (int)std::floor(a), ib = std::min((int)std::ceil(b), src);
            t.start[i] = ia;
            t.count[i] = ib - ia;
            double tot = 0;
            for (int k = ia; k < ib; k++) {
                double lo = std::max(a, (double)k), hi = std::min(b, (double)k + 1);
                t.w.push_back((float)(hi - lo));
                tot += hi - lo;
            }
            for (int k = 0; k < ib - ia; k++)
                t.w[t.off[i] + k] = (float)(t.w[t.off[i] + k] / tot);
        }
    }
    return t;
}

template <typename Out, typename Conv>
void resample(const unsigned char *rgb, int w, int h, int side, Out *out, Conv conv)
{
    Taps tx = make_taps(w, side), ty = make_taps(h, side);
    /* horizontal pass: h rows x side x 3 */
    std::vector<float> tmp((size_t)h * side * 3);
    for (int y = 0; y < h; y++) {
        const unsigned char *row = rgb + (size_t)y * w * 3;
        float *o = &tmp[(size_t)y * side * 3];
        for (int x = 0; x < side; x++) {
            float acc[3] = {0, 0, 0};
            int s = tx.start[x];
            for (int k = 0; k < tx.count[x]; k++) {
                int sx = std::min(s + k, w - 1);
                float wt = tx.w[tx.off[x] + k];
                acc[0] += wt * row[sx * 3];
                acc[1] += wt * row[sx * 3 + 1];
                acc[2] += wt * row[sx * 3 + 2];
            }
            o[x * 3] = acc[0];
            o[x * 3 + 1] = acc[1];
            o[x * 3 + 2] = acc[2];
        }
    }
    size_t plane = (size_t)side * side;
    for (int y = 0; y < side; y++)
        for (int x = 0; x < side; x++) {
            float acc[3] = {0, 0, 0};
            int s = ty.start[y];
            for (int k = 0; k < ty.count[y]; k++) {
                int sy = std::min(s + k, h - 1);
                float wt = ty.w[ty.off[y] + k];
                const float *t = &tmp[((size_t)sy * side + x) * 3];
                acc[0] += wt * t[0];
                acc[1] += wt * t[1];
                acc[2] += wt * t[2];
            }
            for (int c = 0; c < 3; c++)
                out[c * plane + (size_t)y * side + x] = conv(acc[c]);
        }
}
} /* namespace */

void resample_rgb_planar(const unsigned char *rgb, int w, int h, int side, float *out)
{
    resample(rgb, w, h, side, out, [](float v) { return (v - 127.5f) / 64.0f; });
}

void resample_rgb_u8(const unsigned char *rgb, int w, int h, int side, unsigned char *out)
{
    resample(rgb, w, h, side, out, [](float v) {
        int i = (int)std::lround(v);
        return (unsigned char)(i < 0 ? 0 : i > 255 ? 255 : i);
    });
}

/* ------------------------------------------------------------------ tokenizer */

std::vector<std::string> tokenize(const std::string &text)
{
    std::vector<std::string> out;
    std::string cur;
    const unsigned char *s = (const unsigned char *)text.data();
    size_t n = text.size(), i = 0;
    auto flush = [&]() {
        if (!cur.empty())
            out.push_back(cur);
        cur.clear();
    };
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
                cur += (char)c;
            else if (c >= 'A' && c <= 'Z')
                cur += (char)(c - 'A' + 'a');
            else
                flush();
            i++;
            continue;
        }
        /* a multi-byte UTF-8 sequence: keep it whole when well formed */
        int len = (c >= 0xC2 && c <= 0xDF) ? 2 : (c >= 0xE0 && c <= 0xEF) ? 3
                : (c >= 0xF0 && c <= 0xF4) ? 4 : 0;
        bool ok = len > 0 && i + len <= n;
        for (int k = 1; ok && k < len; k++)
            ok = (s[i + k] & 0xC0) == 0x80;
        if (!ok) {
            flush();
            i++;
            continue;
        }
        cur.append((const char *)s + i, len);
        i += len;
    }
    flush();
    return out;
}

/* ------------------------------------------------------------------ checksum */

uint64_t fnv1a64(const void *data, size_t n, uint64_t h)
{
    const unsigned char *p = (const unsigned char *)data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

} /* namespace duch */

/* ------------------------------------------------------------------ mAP@k */

extern "C" __attribute__((visibility("default"))) double
duch_map_at_k(const unsigned char *qcodes, const int *qlabels, int nq, const unsigned char *rcodes,
              const int *rlabels, int nr, int bits, int k)
{
    if (!qcodes || !qlabels || !rcodes || !rlabels || nq <= 0 || nr <= 0 || bits <= 0 ||
        bits % 8 || k <= 0)
        return -1;
    int nb = bits / 8;
    double sum = 0;
    std::vector<int> dist(nr), order(nr);
    for (int q = 0; q < nq; q++) {
        const unsigned char *a = qcodes + (size_t)q * nb;
        int tsum = 0;
        for (int r = 0; r < nr; r++) {
            const unsigned char *b = rcodes + (size_t)r * nb;
            int d = 0;
            for (int j = 0; j < nb; j++)
                d += __builtin_popcount((unsigned)(a[j] ^ b[j]));
            dist[r] = d;
            tsum += rlabels[r] == qlabels[q];
        }
        if (tsum == 0)
            continue;
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(),
                         [&](int x, int y) { return dist[x] < dist[y]; });
        int total = std::min(k, tsum), found = 0;
        double ap = 0;
        for (int i = 0; i < nr && found < total; i++)
            if (rlabels[order[i]] == qlabels[q]) {
                found++;
                ap += (double)found / (i + 1);
            }
        sum += ap / total;
    }
    return sum / nq;
}
