/*
 * duch_data.cpp: the parts of libduch_model.so that need no libtorch: JSON string
 * escaping (for the writer), captions.json (read with the C JSON reader, model/json.c),
 * JPEG decoding (libjpeg), the resampler, the tokenizer (over the C one,
 * model/modelfile.c) and the mAP@k metric. Kept apart from duch_torch.cpp because the
 * libtorch headers make every translation unit that includes them slow to compile.
 */
#include "duch_model_internal.h"
#include "duch_wn_aliases.h"

#include <jpeglib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csetjmp>
#include <memory>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <unordered_map>

namespace duch {

/* ------------------------------------------------------------------ JSON */

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

/* The images of a parsed captions.json (Karpathy style: images[] with filename, class,
 * split and sentences[] of raw text or tokens). */
static bool captions_of(const duch_json *root, const std::string &path, std::vector<Item> &items,
                        std::string &err)
{
    const duch_json *imgs = duch_json_get(root, "images");
    if (!imgs || imgs->type != DUCH_JSON_ARR) {
        err = path + ": no \"images\" array (expected Karpathy-style captions)";
        return false;
    }
    items.clear();
    for (size_t i = 0; i < imgs->n; i++) {
        const duch_json *j = &imgs->items[i];
        Item it;
        it.filename = duch_json_str_or(j, "filename", "");
        it.cls = duch_json_str_or(j, "class", "");
        it.split = duch_json_str_or(j, "split", "");
        const duch_json *ss = duch_json_get(j, "sentences");
        if (ss && ss->type == DUCH_JSON_ARR)
            for (size_t k = 0; k < ss->n; k++) {
                const duch_json *s = &ss->items[k];
                const duch_json *rv = duch_json_get(s, "raw");
                std::string raw;
                if (rv && rv->type == DUCH_JSON_STR)
                    raw.assign(rv->str, rv->len);
                if (raw.empty()) { /* fall back on the tokens */
                    const duch_json *tk = duch_json_get(s, "tokens");
                    if (tk && tk->type == DUCH_JSON_ARR)
                        for (size_t t = 0; t < tk->n; t++)
                            if (tk->items[t].type == DUCH_JSON_STR)
                                raw += (raw.empty() ? "" : " ") +
                                       std::string(tk->items[t].str, tk->items[t].len);
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
    duch_json *root = nullptr;
    char jerr[160];
    int rc = duch_json_parse(text.data(), text.size(), &root, jerr, sizeof jerr);
    if (rc == DUCH_NOMEM)
        throw std::bad_alloc();
    if (rc) {
        err = path + ": " + jerr;
        return false;
    }
    std::unique_ptr<duch_json, void (*)(duch_json *)> hold(root, duch_json_free);
    return captions_of(root, path, items, err);
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
    std::string word(text.size(), '\0'); /* no word is longer than the text */
    size_t pos = 0, len;
    while (duch_token_next(text.data(), text.size(), &pos, &word[0], word.size(), &len))
        out.emplace_back(word.data(), len);
    return out;
}

/* ------------------------------------------------------------------ WordNet */

static std::vector<const char *> c_words(const std::vector<std::string> &v)
{
    std::vector<const char *> p;
    for (const auto &w : v)
        p.push_back(w.c_str());
    return p;
}

bool caption_modifiers(const std::vector<std::string> &vocab, int ncaption,
                       const std::vector<std::string> &pairs, std::vector<unsigned char> &modifier,
                       std::string &err)
{
    std::vector<const char *> words = c_words(vocab), pr = c_words(pairs);
    modifier.assign((size_t)ncaption, 0);
    char e[256];
    if (duch_wn_modifiers(words.data(), ncaption, pr.data(), (int)pr.size(), modifier.data(), e,
                          sizeof e) != DUCH_OK) {
        err = e;
        return false;
    }
    return true;
}

bool caption_lexicon(std::vector<std::string> &vocab, int senses, Lexicon &lx, std::string &err)
{
    size_t n = vocab.size();
    std::vector<const char *> words = c_words(vocab);
    std::vector<unsigned char> kind(n);
    duch_wn_alias *sub = nullptr;
    int nsub = 0;
    char e[256];
    if (duch_wn_lexicon(words.data(), (int)n, senses, &sub, &nsub, kind.data(), e, sizeof e) != DUCH_OK) {
        err = e;
        return false;
    }
    std::unordered_map<std::string, int> index;
    for (size_t i = 0; i < n; i++)
        index.emplace(vocab[i], (int)i);
    lx.caption_words = n;
    lx.subs.assign(n, {});
    lx.kind = kind;
    for (int k = 0; k < nsub; k++) {
        int from = index.at(sub[k].word);
        auto it = index.find(sub[k].target);
        int to;
        if (it != index.end())
            to = it->second;
        else {
            to = (int)vocab.size();
            vocab.emplace_back(sub[k].target);
            index.emplace(sub[k].target, to);
            lx.subs.emplace_back();
            lx.kind.push_back(lx.kind[from]);
        }
        lx.subs[from].push_back(to);
    }
    duch_wn_aliases_free(sub, nsub);
    return true;
}

bool wordnet_aliases(const std::vector<std::string> &vocab, int ncaption,
                     const std::vector<std::string> &phrases, const std::vector<unsigned char> &modifier,
                     int senses,
                     std::vector<std::pair<std::string, std::string>> &out,
                     std::vector<std::string> &kept, std::string &err)
{
    std::vector<const char *> words = c_words(vocab), ph = c_words(phrases);
    duch_wn_alias *al = nullptr;
    int nal = 0, nkept = 0;
    char **k = nullptr;
    char e[256];
    if (duch_wn_aliases(words.data(), (int)words.size(), ncaption, ph.data(), (int)ph.size(), nullptr,
                        0, modifier.empty() ? nullptr : modifier.data(), senses, &al, &nal, &k, &nkept,
                        e, sizeof e) != DUCH_OK) {
        err = e;
        return false;
    }
    out.clear();
    for (int i = 0; i < nal; i++)
        out.emplace_back(al[i].word, al[i].target);
    kept.assign(k, k + nkept);
    duch_wn_aliases_free(al, nal);
    duch_wn_phrases_free(k, nkept);
    return true;
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
