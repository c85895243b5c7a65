/*
 * duch_torch.cpp: the DUCH networks, losses, training, evaluation, the .duchm model
 * file and the C API table (duch_model_api_v1), over libtorch.
 *
 * HOW IT WORKS
 *   image  -> ImageNet (small ResNet, trained from scratch) -> HashHead -> tanh codes
 *   text   -> tokenize -> vocabulary ids -> TextNet (embeddings, conv, mean+max pool)
 *          -> HashHead -> tanh codes
 *   codes  -> sign -> packed bits (bit j of a code in byte j/8, at position j%8)
 * Training (no class labels ever): each step takes a batch of images, makes two
 * augmented views of each image and two augmented captions, and minimises
 *   w_inter     * NT-Xent(image view, its caption view)           (inter-modal)
 * + w_intra_img * NT-Xent(image view 1, image view 2)             (intra-modal)
 * + w_intra_txt * NT-Xent(caption view 1, caption view 2)         (intra-modal)
 * + w_adv       * BCE(D(image codes), "text")   (image hashing net fools D, as the paper says)
 * + w_quant     * mean (sign(h) - h)^2
 * + w_balance   * mean over bits of (batch mean of h)^2
 * while the discriminator D learns to tell text codes (label 1) from image codes (0).
 *
 * Every extern "C" entry point catches every exception; nothing C++ crosses the ABI.
 */
#include "duch_model.h"
#include "duch_model_internal.h"
#include "duch_wn_aliases.h" /* DUCH_WN_NOUN, ... (the word kinds of the training lexicon) */
#include "duch_utf8.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <numeric>
#include <thread>
#include <algorithm>
#include <sys/stat.h>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <unordered_map>

namespace nn = torch::nn;
namespace F = torch::nn::functional;
using torch::Tensor;

namespace duch {

/* The model file is read by the one plain-C reader (model/modelfile.c, duch_modelfile.h),
 * which the C text encoder uses too; this file writes it. Format 2: the checksum uses
 * the standard FNV-1a 64 offset basis; 1: the old basis (read). */
static const uint32_t FORMAT_VERSION = DUCH_MODELFILE_VERSION;

/* ------------------------------------------------------------------ networks */

struct BlockImpl : nn::Module {
    nn::Conv2d c1{nullptr}, c2{nullptr}, down{nullptr};
    nn::BatchNorm2d b1{nullptr}, b2{nullptr}, bd{nullptr};
    BlockImpl(int in, int out, int stride, double eps)
    {
        c1 = register_module("c1", nn::Conv2d(nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false)));
        b1 = register_module("b1", nn::BatchNorm2d(nn::BatchNorm2dOptions(out).eps(eps)));
        c2 = register_module("c2", nn::Conv2d(nn::Conv2dOptions(out, out, 3).padding(1).bias(false)));
        b2 = register_module("b2", nn::BatchNorm2d(nn::BatchNorm2dOptions(out).eps(eps)));
        if (stride != 1 || in != out) {
            down = register_module("down", nn::Conv2d(nn::Conv2dOptions(in, out, 1).stride(stride).bias(false)));
            bd = register_module("bd", nn::BatchNorm2d(nn::BatchNorm2dOptions(out).eps(eps)));
        }
    }
    Tensor forward(Tensor x)
    {
        Tensor y = torch::relu(b1(c1(x)));
        y = b2(c2(y));
        Tensor s = down ? bd(down(x)) : x;
        return torch::relu(y + s);
    }
};
TORCH_MODULE(Block);

/* stem: conv3x3/2 -> BN -> ReLU, then 4 stages of residual blocks (widths w, 2w, 4w,
 * 8w; stages 2-4 halve the resolution), global average pooling: 8w features. */
struct ImageNetImpl : nn::Module {
    nn::Conv2d stem{nullptr};
    nn::BatchNorm2d bn{nullptr};
    nn::Sequential stages;
    int feat;
    ImageNetImpl(int width, int blocks, double eps)
    {
        stem = register_module("stem", nn::Conv2d(nn::Conv2dOptions(3, width, 3).stride(2).padding(1).bias(false)));
        bn = register_module("bn", nn::BatchNorm2d(nn::BatchNorm2dOptions(width).eps(eps)));
        int in = width;
        for (int s = 0; s < 4; s++) {
            int out = width << s;
            for (int b = 0; b < blocks; b++) {
                stages->push_back(Block(in, out, b == 0 ? 2 : 1, eps));
                in = out;
            }
        }
        register_module("stages", stages);
        feat = in;
    }
    Tensor forward(Tensor x)
    {
        x = torch::relu(bn(stem(x)));
        x = stages->forward(x);
        return x.mean({2, 3});
    }
};
TORCH_MODULE(ImageNet);

/* embeddings (id 0 = padding) -> conv1d(k=3) with a residual ReLU -> masked mean and
 * max pooling: 2*dim features. */
struct TextNetImpl : nn::Module {
    nn::Embedding emb{nullptr};
    nn::Conv1d conv{nullptr};
    int feat;
    TextNetImpl(int vocab, int dim)
    {
        emb = register_module("emb", nn::Embedding(nn::EmbeddingOptions(vocab + 1, dim).padding_idx(0)));
        conv = register_module("conv", nn::Conv1d(nn::Conv1dOptions(dim, dim, 3).padding(1)));
        feat = 2 * dim;
    }
    /* Training with WordNet stand-ins: the embedding of a stand-in word (a row of
     * tie_dst) is its own row plus the mean of the rows of the caption words it stands in
     * for (tie_src, weights tie_w); its own row starts at 0, so a stand-in starts as the
     * words it replaces and learns what its own contexts add. fold_ties() writes the sums
     * into the table (the model file holds plain embeddings). */
    Tensor tie_dst, tie_src, tie_w;
    Tensor table()
    {
        Tensor E = emb->weight;
        if (!tie_dst.defined())
            return E;
        return E.index_add(0, tie_dst, E.index_select(0, tie_src) * tie_w.unsqueeze(1));
    }
    void fold_ties()
    {
        torch::NoGradGuard ng;
        if (tie_dst.defined())
            emb->weight.copy_(table());
        tie_dst = tie_src = tie_w = Tensor();
    }
    Tensor forward(Tensor ids, Tensor mask) /* ids (N,L) long, mask (N,L) float */
    {
        Tensor x = (tie_dst.defined() ? F::embedding(ids, table(), F::EmbeddingFuncOptions().padding_idx(0))
                                      : emb(ids)).transpose(1, 2); /* N,D,L */
        Tensor m = mask.unsqueeze(1);
        Tensor y = (torch::relu(conv(x)) + x) * m;
        Tensor mean = y.sum(2) / m.sum(2).clamp_min(1);
        Tensor mx = (y - (1 - m) * 1e4).amax(2);
        return torch::cat({mean, mx}, 1);
    }
};
TORCH_MODULE(TextNet);

struct HashHeadImpl : nn::Module {
    nn::Linear l1{nullptr}, l2{nullptr};
    nn::BatchNorm1d bn{nullptr};
    HashHeadImpl(int in, int hidden, int bits, double eps)
    {
        l1 = register_module("l1", nn::Linear(in, hidden));
        bn = register_module("bn", nn::BatchNorm1d(nn::BatchNorm1dOptions(hidden).eps(eps)));
        l2 = register_module("l2", nn::Linear(hidden, bits));
    }
    Tensor forward(Tensor x) { return torch::tanh(l2(torch::relu(bn(l1(x))))); }
};
TORCH_MODULE(HashHead);

struct DiscImpl : nn::Module {
    nn::Linear l1{nullptr}, l2{nullptr};
    nn::BatchNorm1d bn{nullptr};
    DiscImpl(int bits)
    {
        l1 = register_module("l1", nn::Linear(bits, 2 * bits));
        bn = register_module("bn", nn::BatchNorm1d(2 * bits));
        l2 = register_module("l2", nn::Linear(2 * bits, 1));
    }
    Tensor forward(Tensor x) { return l2(torch::relu(bn(l1(x)))).squeeze(1); }
};
TORCH_MODULE(Disc);

struct Arch {
    int bits = 64, input_size = 96, width = 32, blocks = 1, text_dim = 128, hidden = 512;
    double tile_ground_m = 78.03;
    /* known words of a text the network sees; the epsilon of every BatchNorm (written
     * into the file's architecture; older files lack them and get these values) */
    int max_tokens = DUCH_MODELFILE_MAX_TOKENS_DEFAULT;
    double bn_eps = DUCH_MODELFILE_BN_EPS_DEFAULT;
    std::vector<std::string> vocab;
    /* words outside the vocabulary taken for one in it (the header's "aliases") */
    std::vector<std::pair<std::string, std::string>> aliases;
    int caption_words = 0; /* vocab[0..caption_words): the captions' words; 0: unknown */
    std::vector<std::string> phrases; /* the captions' WordNet noun phrases ("mobile home") */
    std::vector<std::string> modifiers; /* caption words used as modifiers ("white") */
    std::vector<std::string> rare_words; /* caption words used rarely ("junction") */
    std::string training_json = "{}"; /* hyper-parameters of the run, for info */
    uint32_t format_version = FORMAT_VERSION; /* of the file it was read from */
};

struct NetImpl : nn::Module {
    ImageNet img{nullptr};
    TextNet txt{nullptr};
    HashHead himg{nullptr}, htxt{nullptr};
    explicit NetImpl(const Arch &a)
    {
        img = register_module("img", ImageNet(a.width, a.blocks, a.bn_eps));
        txt = register_module("txt", TextNet((int)a.vocab.size(), a.text_dim));
        himg = register_module("himg", HashHead(img->feat, a.hidden, a.bits, a.bn_eps));
        htxt = register_module("htxt", HashHead(txt->feat, a.hidden, a.bits, a.bn_eps));
    }
};
TORCH_MODULE(Net);

/* ------------------------------------------------------------------ the model */

static void fail(int code, const std::string &msg); /* throws; defined below */

struct Model {
    Arch arch;
    Net net{nullptr};
    std::unordered_map<std::string, int> word_id; /* 1-based ids */
    /* alias (a word or a phrase "car park") -> the ids it stands for (a phrase target
     * "mobile home" gives two; none for a blocked word) */
    std::unordered_map<std::string, std::vector<int>> alias_ids;
    size_t max_phrase = 1; /* the most words of an alias key */
    /* the candidates of duch_word_nearest: the vocabulary words (as textenc.c) */
    std::vector<const char *> cand;
    std::vector<size_t> cand_len;
    /* the candidates of duch_alias_nearest: the single-word aliases that stand for a word,
     * in file order (as textenc.c) */
    std::vector<const char *> acand;
    std::vector<size_t> acand_len;
    uint64_t checksum = 0;
    size_t file_size = 0;
    int threads = 0;

    void build()
    {
        net = Net(arch);
        word_id.clear();
        for (size_t i = 0; i < arch.vocab.size(); i++)
            word_id[arch.vocab[i]] = (int)i + 1;
        alias_ids.clear();
        max_phrase = 1;
        for (const auto &al : arch.aliases) {
            std::vector<int> to; /* blocked (""): a word a query ignores */
            for (size_t at = 0; at < al.second.size();) {
                size_t sp = al.second.find(' ', at);
                std::string w = al.second.substr(at, sp == std::string::npos ? std::string::npos : sp - at);
                auto it = word_id.find(w);
                if (it == word_id.end())
                    fail(DUCH_CORRUPT, "model header: alias '" + al.first + "' stands for '" + al.second +
                                           "', which is not in the vocabulary");
                to.push_back(it->second);
                at = sp == std::string::npos ? al.second.size() : sp + 1;
            }
            size_t words = 1 + (size_t)std::count(al.first.begin(), al.first.end(), ' ');
            max_phrase = std::max(max_phrase, words);
            alias_ids[al.first] = to; /* a repeated alias keeps its last target */
        }
        cand.clear();
        cand_len.clear();
        for (const auto &w : arch.vocab)
            cand.push_back(w.c_str()), cand_len.push_back(w.size());
        acand.clear();
        acand_len.clear();
        for (const auto &al : arch.aliases)
            if (!al.second.empty() && al.first.find(' ') == std::string::npos)
                acand.push_back(al.first.c_str()), acand_len.push_back(al.first.size());
    }
    /* the 1-based ids of a word, as textenc.c's word_ids: an alias (none for a blocked
     * one), a vocabulary word, or the nearest vocabulary word within a spelling slip
     * (duch_word_nearest), else of an alias (duch_alias_nearest), else known words run
     * together (duch_word_split, read as a text); none when none */
    std::vector<int> word_of(const std::string &w) const
    {
        auto al = alias_ids.find(w); /* an alias first: "homes" -> "houses" (textenc.c) */
        if (al != alias_ids.end())
            return al->second;
        auto it = word_id.find(w);
        if (it != word_id.end())
            return {it->second};
        int c = duch_word_nearest(w.data(), w.size(), cand.data(), cand_len.data(), cand.size());
        if (c >= 0)
            return {word_id.at(std::string(cand[c], cand_len[c]))};
        c = duch_alias_nearest(w.data(), w.size(), acand.data(), acand_len.data(), acand.size());
        if (c >= 0)
            return alias_ids.at(std::string(acand[c], acand_len[c])); /* its last target */
        char parts[2 * DUCH_WORD_NEAREST_MAX + 4];
        if (!duch_word_split(w.data(), w.size(), word_known, (void *)this, parts, sizeof parts))
            return {};
        std::vector<int64_t> ids = ids_of(parts);
        return std::vector<int>(ids.begin(), ids.end());
    }
    /* duch_word_split's known, as textenc.c's: an alias with a target or a vocabulary word */
    static int word_known(void *ctx, const char *w, size_t len)
    {
        const Model *m = static_cast<const Model *>(ctx);
        std::string s(w, len);
        auto al = m->alias_ids.find(s);
        if (al != m->alias_ids.end())
            return !al->second.empty();
        return m->word_id.count(s) > 0;
    }
    /* as textenc.c's text_ids: at each word, a phrase alias of the most words first
     * ("car park"), else the word; the first max_tokens ids */
    std::vector<int64_t> ids_of(const std::string &text) const
    {
        std::vector<int64_t> ids;
        std::vector<std::string> tok = tokenize(text);
        for (size_t i = 0; i < tok.size() && ids.size() < (size_t)arch.max_tokens;) {
            std::vector<int> to;
            size_t used = 0;
            for (size_t k = std::min(max_phrase, tok.size() - i); k >= 2 && !used; k--) {
                std::string key = tok[i];
                for (size_t j = 1; j < k; j++)
                    key += " " + tok[i + j];
                auto al = alias_ids.find(key);
                if (al != alias_ids.end())
                    to = al->second, used = k;
            }
            if (!used)
                to = word_of(tok[i]), used = 1;
            for (int id : to)
                if (ids.size() < (size_t)arch.max_tokens)
                    ids.push_back(id);
            i += used;
        }
        return ids;
    }
};

/* libtorch's intra-op thread pool is one per process, and at::set_num_threads is not
 * safe while another thread computes (pipeline workers encode at the same time, each
 * with its own handle). So the count is set once per process: by the first encode,
 * train or eval call, to the count that call asked for (the handle's set_threads, or
 * the training options; 0 = all cores). Later requests do not change it. */
static void use_threads(int n)
{
    static std::once_flag once;
    std::call_once(once, [n] {
        int want = n > 0 ? n : (int)std::thread::hardware_concurrency();
        at::set_num_threads(want < 1 ? 1 : want);
    });
}

/* Pack id lists into (N,L) ids and mask; empty lists get one padding token. */
static void text_batch(const std::vector<std::vector<int64_t>> &lists, Tensor &ids, Tensor &mask)
{
    size_t L = 1;
    for (auto &l : lists)
        L = std::max(L, l.size());
    int64_t n = (int64_t)lists.size();
    ids = torch::zeros({n, (int64_t)L}, torch::kLong);
    mask = torch::zeros({n, (int64_t)L});
    auto ia = ids.accessor<int64_t, 2>();
    auto ma = mask.accessor<float, 2>();
    for (int64_t i = 0; i < n; i++)
        for (size_t j = 0; j < lists[i].size(); j++) {
            ia[i][j] = lists[i][j];
            ma[i][j] = 1;
        }
}

static void pack_codes(const Tensor &h, unsigned char *codes)
{
    Tensor hc = h.contiguous();
    int64_t n = hc.size(0), k = hc.size(1);
    const float *p = hc.data_ptr<float>();
    memset(codes, 0, (size_t)n * (k / 8));
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < k; j++)
            if (p[i * k + j] > 0)
                codes[i * (k / 8) + j / 8] |= (unsigned char)(1u << (j % 8));
}

static const int ENC_BATCH = 64;

/* Images already resampled to planar floats (n x 3 x S x S). */
static void encode_planar(Model &m, const float *data, int n, unsigned char *codes)
{
    torch::NoGradGuard ng;
    m.net->eval();
    int S = m.arch.input_size, nb = m.arch.bits / 8;
    for (int s = 0; s < n; s += ENC_BATCH) {
        int c = std::min(ENC_BATCH, n - s);
        Tensor x = torch::from_blob((void *)(data + (size_t)s * 3 * S * S), {c, 3, S, S}, torch::kFloat);
        Tensor h = m.net->himg(m.net->img(x));
        pack_codes(h, codes + (size_t)s * nb);
    }
}

static void encode_id_lists(Model &m, const std::vector<std::vector<int64_t>> &lists,
                            unsigned char *codes)
{
    torch::NoGradGuard ng;
    m.net->eval();
    int nb = m.arch.bits / 8;
    for (size_t s = 0; s < lists.size(); s += ENC_BATCH) {
        size_t c = std::min((size_t)ENC_BATCH, lists.size() - s);
        std::vector<std::vector<int64_t>> part(lists.begin() + s, lists.begin() + s + c);
        Tensor ids, mask;
        text_batch(part, ids, mask);
        Tensor h = m.net->htxt(m.net->txt(ids, mask));
        pack_codes(h, codes + s * nb);
    }
}

/* ------------------------------------------------------------------ model file */

struct Error {
    int code;
    std::string msg;
};

/* ,"key":["w1",...] for a non-empty list of words (header members) */
static void string_member(std::ostringstream &o, const char *key, const std::vector<std::string> &v)
{
    if (v.empty())
        return;
    o << ",\"" << key << "\":[";
    for (size_t i = 0; i < v.size(); i++)
        o << (i ? "," : "") << json_escape(v[i]);
    o << "]";
}

/* with_vocab: the header written into a new file (this library's format version);
 * else the description of a loaded model (its file's format version) */
static std::string arch_json(const Arch &a, bool with_vocab)
{
    std::ostringstream o;
    o.precision(10);
    o << "{\"format\":\"duchm\",\"format_version\":" << (with_vocab ? FORMAT_VERSION : a.format_version)
      << ",\"bits\":" << a.bits << ",\"input_size\":" << a.input_size
      << ",\"tile_ground_m\":" << a.tile_ground_m
      << ",\"architecture\":{\"image\":\"resnet-basic\",\"width\":" << a.width
      << ",\"blocks\":" << a.blocks << ",\"text\":\"emb-conv1d-meanmax\",\"text_dim\":" << a.text_dim
      << ",\"hidden\":" << a.hidden << ",\"max_tokens\":" << a.max_tokens
      << ",\"bn_eps\":" << a.bn_eps
      << ",\"normalize\":\"(v-127.5)/64\",\"resample\":\"area\"}"
      << ",\"training\":" << a.training_json << ",\"vocab_size\":" << a.vocab.size();
    if (with_vocab) {
        o << ",\"vocab\":[";
        for (size_t i = 0; i < a.vocab.size(); i++)
            o << (i ? "," : "") << json_escape(a.vocab[i]);
        o << "]";
        if (!a.aliases.empty()) {
            o << ",\"aliases\":{";
            for (size_t i = 0; i < a.aliases.size(); i++)
                o << (i ? "," : "") << json_escape(a.aliases[i].first) << ":"
                  << json_escape(a.aliases[i].second);
            o << "}";
        }
        if (a.caption_words > 0)
            o << ",\"caption_words\":" << a.caption_words;
        string_member(o, "phrases", a.phrases);
        string_member(o, "modifiers", a.modifiers);
        string_member(o, "rare_words", a.rare_words);
    } else
        o << ",\"aliases\":" << a.aliases.size(); /* duch info: how many */
    o << "}";
    return o.str();
}

static void put32(std::string &s, uint32_t v) { s.append((const char *)&v, 4); }
static void put64(std::string &s, uint64_t v) { s.append((const char *)&v, 8); }

static std::vector<std::pair<std::string, Tensor>> state_of(Net &net)
{
    std::vector<std::pair<std::string, Tensor>> st;
    for (auto &p : net->named_parameters())
        st.emplace_back(p.key(), p.value());
    for (auto &b : net->named_buffers())
        if (b.key().find("num_batches_tracked") == std::string::npos)
            st.emplace_back(b.key(), b.value());
    return st;
}

/* Little-endian layout (x86-64, aarch64):
 *   "DUCHMODL" | u32 format version | u32 0 | u64 payload length P
 *   payload: u32 header length | header JSON | u32 tensor count |
 *            per tensor: u32 name length | name | u32 ndim | i64 dims | float32 data
 *   u64 FNV-1a 64 over every byte before it (standard offset basis; format 1 files
 *   used FNV1A64_BASIS_V1 and are still read). */
static std::string serialize(Model &m)
{
    std::string payload;
    std::string hdr = arch_json(m.arch, true);
    put32(payload, (uint32_t)hdr.size());
    payload += hdr;
    auto st = state_of(m.net);
    put32(payload, (uint32_t)st.size());
    for (auto &kv : st) {
        put32(payload, (uint32_t)kv.first.size());
        payload += kv.first;
        Tensor t = kv.second.detach().to(torch::kFloat).contiguous();
        put32(payload, (uint32_t)t.dim());
        for (int64_t d : t.sizes())
            put64(payload, (uint64_t)d);
        payload.append((const char *)t.data_ptr<float>(), t.numel() * sizeof(float));
    }
    std::string out("DUCHMODL", 8);
    put32(out, FORMAT_VERSION);
    put32(out, 0);
    put64(out, payload.size());
    out += payload;
    put64(out, duch_fnv1a64(out.data(), out.size(), DUCH_FNV1A64_BASIS));
    return out;
}

static void fail(int code, const std::string &msg) { throw Error{code, msg}; }

/* The training record (an object of numbers, strings and booleans) as compact JSON,
 * for info_json. */
static std::string training_json_of(const duch_json *tr)
{
    std::ostringstream o;
    o.precision(17);
    o << "{";
    for (size_t i = 0; i < tr->n; i++) {
        const duch_json &kv = tr->items[i];
        o << (i ? "," : "") << json_escape(std::string(kv.key, kv.keylen)) << ":";
        if (kv.type == DUCH_JSON_NUM)
            o << kv.num;
        else if (kv.type == DUCH_JSON_STR)
            o << json_escape(std::string(kv.str, kv.len));
        else if (kv.type == DUCH_JSON_BOOL)
            o << (kv.b ? "true" : "false");
        else
            o << "null";
    }
    o << "}";
    return o.str();
}

/* The weights of the convolution, embedding and linear layers of a network of
 * architecture a (biases and BatchNorm left out): at most its parameter count. */
static uint64_t weights_lower_bound(const Arch &a)
{
    uint64_t w = (uint64_t)a.width, V = a.vocab.size(), D = (uint64_t)a.text_dim, H = (uint64_t)a.hidden,
             K = (uint64_t)a.bits;
    uint64_t n = 27 * w, in = w;
    for (int s = 0; s < 4; s++) {
        uint64_t out = w << s;
        for (int b = 0; b < a.blocks; b++) {
            n += 9 * in * out + 9 * out * out + (in != out || b == 0 ? in * out : 0);
            in = out;
        }
    }
    return n + (V + 1) * D + 3 * D * D + (8 * w + 2 * D) * H + 2 * H * K;
}

/* A model file (the reader checked its frame, header and tensor table) into m: the
 * architecture must be this one, and the tensors exactly the network's. */
static void deserialize(Model &m, const unsigned char *d, size_t n)
{
    struct Holder {
        duch_modelfile mf;
        ~Holder() { duch_modelfile_free(&mf); }
    } h;
    char err[512];
    int rc = duch_modelfile_read(d, n, &h.mf, err, sizeof err);
    if (rc == DUCH_NOMEM)
        throw std::bad_alloc();
    if (rc)
        fail(rc, err);
    const duch_modelfile &mf = h.mf;
    if (strcmp(mf.image_arch, "resnet-basic") || strcmp(mf.text_arch, "emb-conv1d-meanmax"))
        fail(DUCH_VERSION, std::string("model architecture '") + (mf.image_arch[0] ? mf.image_arch : "?") +
                               "' is unknown to this library");
    Arch &a = m.arch;
    a = Arch();
    a.format_version = mf.version;
    a.bits = mf.bits;
    a.input_size = mf.input_size;
    a.tile_ground_m = mf.tile_ground_m;
    a.width = mf.width;
    a.blocks = mf.blocks;
    a.text_dim = mf.text_dim;
    a.hidden = mf.hidden;
    a.max_tokens = mf.max_tokens;
    a.bn_eps = mf.bn_eps;
    for (size_t i = 0; i < mf.vocab->n; i++)
        a.vocab.emplace_back(mf.vocab->items[i].str, mf.vocab->items[i].len);
    for (size_t i = 0; mf.aliases && i < mf.aliases->n; i++)
        a.aliases.emplace_back(std::string(mf.aliases->items[i].key, mf.aliases->items[i].keylen),
                               std::string(mf.aliases->items[i].str, mf.aliases->items[i].len));
    a.caption_words = mf.caption_words;
    for (size_t i = 0; mf.phrases && i < mf.phrases->n; i++)
        a.phrases.emplace_back(mf.phrases->items[i].str, mf.phrases->items[i].len);
    for (size_t i = 0; mf.modifiers && i < mf.modifiers->n; i++)
        a.modifiers.emplace_back(mf.modifiers->items[i].str, mf.modifiers->items[i].len);
    for (size_t i = 0; mf.rare_words && i < mf.rare_words->n; i++)
        a.rare_words.emplace_back(mf.rare_words->items[i].str, mf.rare_words->items[i].len);
    if (mf.training)
        a.training_json = training_json_of(mf.training);
    /* the header alone must not make this build a network larger than the file holds */
    uint64_t floats = 0;
    for (size_t i = 0; i < mf.ntensors; i++)
        floats += mf.tensors[i].count;
    if (floats < weights_lower_bound(a))
        fail(DUCH_CORRUPT, "model file holds fewer weights than its architecture needs");
    m.build();
    auto st = state_of(m.net);
    std::map<std::string, Tensor> want_t(st.begin(), st.end());
    if (mf.ntensors != want_t.size())
        fail(DUCH_CORRUPT, "model file holds " + std::to_string(mf.ntensors) + " tensors, architecture needs " +
                               std::to_string(want_t.size()));
    torch::NoGradGuard ng;
    for (size_t i = 0; i < mf.ntensors; i++) {
        const duch_modelfile_tensor &t = mf.tensors[i];
        std::string name(t.name, t.name_len);
        auto it = want_t.find(name);
        if (it == want_t.end())
            fail(DUCH_CORRUPT, "model file has unexpected tensor '" +
                                   name.substr(0, duch_utf8_prefix(name.data(), std::min<size_t>(name.size(), 128))) + "'");
        if (t.ndim != it->second.dim())
            fail(DUCH_CORRUPT, "tensor '" + name + "' has the wrong rank");
        for (int k = 0; k < t.ndim; k++)
            if (t.dims[k] != it->second.size(k))
                fail(DUCH_CORRUPT, "tensor '" + name + "' has the wrong shape");
        Tensor src = torch::from_blob((void *)t.data, {(int64_t)t.count}, torch::kFloat).clone();
        it->second.copy_(src.view(it->second.sizes()));
    }
    m.checksum = mf.checksum;
    m.file_size = n;
    m.net->eval();
}

static std::string read_file(const std::string &path)
{
    FILE *f = fopen(path.c_str(), "rb");
    if (!f)
        fail(errno == ENOENT ? DUCH_NOTFOUND : DUCH_IO, "cannot open " + path + ": " + strerror(errno));
    std::string s;
    char buf[1 << 16];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, f)) > 0)
        s.append(buf, k);
    bool bad = ferror(f);
    fclose(f);
    if (bad)
        fail(DUCH_IO, "error reading " + path);
    return s;
}

static void write_file(const std::string &path, const std::string &data)
{
    struct stat st;
    if (stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
        /* a device or a pipe (/dev/null): written to, never replaced by a file */
        if (S_ISDIR(st.st_mode))
            fail(DUCH_IO, "cannot write " + path + ": it is a folder");
        FILE *f = fopen(path.c_str(), "wb");
        if (!f)
            fail(DUCH_IO, "cannot write " + path + ": " + strerror(errno));
        bool ok = fwrite(data.data(), 1, data.size(), f) == data.size();
        if (!((fclose(f) == 0) && ok))
            fail(DUCH_IO, "cannot write " + path + ": " + strerror(errno));
        return;
    }
    std::string tmp = path + ".tmp";
    FILE *f = fopen(tmp.c_str(), "wb");
    if (!f)
        fail(DUCH_IO, "cannot create " + tmp + ": " + strerror(errno));
    bool ok = fwrite(data.data(), 1, data.size(), f) == data.size();
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
        remove(tmp.c_str());
        fail(DUCH_IO, "cannot write " + path + ": " + strerror(errno));
    }
}

/* ------------------------------------------------------------------ data set */

struct Dataset {
    std::vector<Item> items;
    std::string dir;
};

static Dataset load_dataset(const std::string &dir)
{
    Dataset ds;
    ds.dir = dir;
    std::string err;
    if (!load_captions(dir + "/captions.json", ds.items, err))
        fail(DUCH_IO, err);
    return ds;
}

static int split_bit(const std::string &s)
{
    return s == "train" ? 1 : s == "query" ? 2 : s == "retrieval" ? 4 : 0;
}

/* Decode images[idx] and resample each to side x side, planar (uint8 for the training
 * cache, normalised floats for encoding), in parallel. */
template <typename T, typename Resample>
static std::vector<T> decode_images(const Dataset &ds, const std::vector<int> &idx, int side,
                                    Resample resample)
{
    std::vector<T> out((size_t)idx.size() * 3 * side * side);
    std::vector<std::string> errs(idx.size());
    at::parallel_for(0, (int64_t)idx.size(), 1, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; i++) {
            std::vector<unsigned char> rgb;
            int w, h;
            std::string err;
            if (!jpeg_decode(ds.dir + "/images/" + ds.items[idx[i]].filename, rgb, w, h, err)) {
                errs[i] = err;
                continue;
            }
            resample(rgb.data(), w, h, side, &out[(size_t)i * 3 * side * side]);
        }
    });
    for (auto &e : errs)
        if (!e.empty())
            fail(DUCH_IO, e);
    return out;
}

static std::vector<unsigned char> decode_u8(const Dataset &ds, const std::vector<int> &idx, int side)
{
    return decode_images<unsigned char>(ds, idx, side, resample_rgb_u8);
}

static std::vector<float> decode_planar(const Dataset &ds, const std::vector<int> &idx, int side)
{
    return decode_images<float>(ds, idx, side, resample_rgb_planar);
}

/* ------------------------------------------------------------------ augmentation */

using Rng = std::mt19937_64;
static double unif(Rng &r, double a, double b) { return std::uniform_real_distribution<double>(a, b)(r); }
static int randint(Rng &r, int a, int b) { return std::uniform_int_distribution<int>(a, b)(r); } /* [a,b] */

/* Random resized crop, flips, a rotation by k*90 degrees, brightness/contrast/
 * saturation jitter and an occasional Gaussian blur; returns normalised floats
 * (N,3,I,I). Plain loops over the uint8 cache, one sample per task: thousands of tiny
 * tensor ops per step would cost more than the CNN on a busy machine. The random
 * numbers are drawn up front, in order, so the result does not depend on threads. */
struct AugParams {
    int x0, y0, cw, ch, flip, rot, blur;
    float br, co, sa, sigma;
};

static void augment_one(const unsigned char *src, int R, int I, const AugParams &p, float *out)
{
    size_t plane = (size_t)I * I, rplane = (size_t)R * R;
    std::vector<float> buf(plane * 3);
    for (int v = 0; v < I; v++)
        for (int u = 0; u < I; u++) {
            /* output (u,v) -> crop coordinates (cu,cv) through flip and rotation */
            int cu = u, cv = v;
            for (int r = 0; r < p.rot; r++) { /* rotate by 90 degrees */
                int t = cu;
                cu = I - 1 - cv;
                cv = t;
            }
            if (p.flip)
                cu = I - 1 - cu;
            float sx = p.x0 + (cu + 0.5f) * p.cw / I - 0.5f;
            float sy = p.y0 + (cv + 0.5f) * p.ch / I - 0.5f;
            sx = std::min(std::max(sx, 0.0f), (float)(R - 1));
            sy = std::min(std::max(sy, 0.0f), (float)(R - 1));
            int ix = std::min((int)sx, R - 2 < 0 ? 0 : R - 2), iy = std::min((int)sy, R - 2 < 0 ? 0 : R - 2);
            float fx = sx - ix, fy = sy - iy;
            int ix1 = std::min(ix + 1, R - 1), iy1 = std::min(iy + 1, R - 1);
            for (int c = 0; c < 3; c++) {
                const unsigned char *pl = src + c * rplane;
                float a = pl[(size_t)iy * R + ix] * (1 - fx) + pl[(size_t)iy * R + ix1] * fx;
                float b = pl[(size_t)iy1 * R + ix] * (1 - fx) + pl[(size_t)iy1 * R + ix1] * fx;
                buf[c * plane + (size_t)v * I + u] = a * (1 - fy) + b * fy;
            }
        }
    /* saturation, then contrast around the mean grey, then brightness */
    double gsum = 0;
    for (size_t i = 0; i < plane; i++) {
        float g = 0.299f * buf[i] + 0.587f * buf[plane + i] + 0.114f * buf[2 * plane + i];
        for (int c = 0; c < 3; c++)
            buf[c * plane + i] = g + (buf[c * plane + i] - g) * p.sa;
        gsum += g;
    }
    float mean = (float)(gsum / plane);
    for (size_t i = 0; i < 3 * plane; i++)
        buf[i] = (buf[i] - mean) * p.co + mean * p.br;
    if (p.blur) {
        float k[5], tot = 0;
        for (int t = 0; t < 5; t++)
            tot += k[t] = std::exp(-(t - 2) * (t - 2) / (2 * p.sigma * p.sigma));
        for (int t = 0; t < 5; t++)
            k[t] /= tot;
        std::vector<float> tmp(plane);
        auto refl = [I](int i) { return i < 0 ? -i : i >= I ? 2 * I - 2 - i : i; };
        for (int c = 0; c < 3; c++) {
            float *pl = &buf[c * plane];
            for (int y = 0; y < I; y++)
                for (int x = 0; x < I; x++) {
                    float acc = 0;
                    for (int t = 0; t < 5; t++)
                        acc += k[t] * pl[(size_t)y * I + refl(x + t - 2)];
                    tmp[(size_t)y * I + x] = acc;
                }
            for (int y = 0; y < I; y++)
                for (int x = 0; x < I; x++) {
                    float acc = 0;
                    for (int t = 0; t < 5; t++)
                        acc += k[t] * tmp[(size_t)refl(y + t - 2) * I + x];
                    pl[(size_t)y * I + x] = acc;
                }
        }
    }
    for (size_t i = 0; i < 3 * plane; i++)
        out[i] = (std::min(std::max(buf[i], 0.0f), 255.0f) - 127.5f) / 64.0f;
}

static Tensor augment_images(const Tensor &cache, const std::vector<int> &idx, int I, double crop_min,
                             Rng &rng)
{
    int R = (int)cache.size(2);
    std::vector<AugParams> ps(idx.size());
    for (auto &p : ps) {
        double area = unif(rng, crop_min, 1.0);
        double ar = std::exp(unif(rng, std::log(3.0 / 4), std::log(4.0 / 3)));
        p.cw = (int)std::min<long>(R, std::max<long>(8, std::lround(R * std::sqrt(area * ar))));
        p.ch = (int)std::min<long>(R, std::max<long>(8, std::lround(R * std::sqrt(area / ar))));
        p.x0 = randint(rng, 0, R - p.cw);
        p.y0 = randint(rng, 0, R - p.ch);
        p.flip = randint(rng, 0, 1);
        p.rot = randint(rng, 0, 3);
        p.br = (float)unif(rng, 0.7, 1.3);
        p.co = (float)unif(rng, 0.7, 1.3);
        p.sa = (float)unif(rng, 0.6, 1.4);
        p.blur = unif(rng, 0, 1) < 0.3;
        p.sigma = (float)unif(rng, 0.3, 1.5);
    }
    Tensor out = torch::empty({(int64_t)idx.size(), 3, I, I});
    float *po = out.data_ptr<float>();
    const unsigned char *pc = cache.data_ptr<unsigned char>();
    at::parallel_for(0, (int64_t)idx.size(), 1, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; i++)
            augment_one(pc + (size_t)idx[i] * 3 * R * R, R, I, ps[i], po + (size_t)i * 3 * I * I);
    });
    return out;
}

/* The caption src with each word that has WordNet stand-ins replaced by one of them with
 * chance p_subst. */
static void substitute(std::vector<int64_t> &src, const Lexicon &lx, Rng &rng, double p_subst)
{
    if (!lx.subs.empty())
        for (int64_t &w : src) {
            const auto &alt = lx.subs[w - 1];
            if (!alt.empty() && unif(rng, 0, 1) < p_subst)
                w = alt[randint(rng, 0, (int)alt.size() - 1)] + 1;
        }
}

/* How a training caption is augmented (view 2 of augment_text). */
struct TextAug {
    double p_subst = 0, p_keywords = 0, p_pool = 0, p_insert = 0, p_drop = 0.15, p_swap = 0.1;
    const std::vector<int64_t> *stray = nullptr; /* content words of every training caption,
                                                    one per occurrence */
};

/* A random caption of the image, its words with stand-ins (substitute); then, with chance
 * p_keywords, a keyword query made of it (one of its nouns, or 2-3 of its content words in
 * caption order; with chance p_pool made of the content words of all the image's captions,
 * each with its stand-ins, in the order they first occur), else the caption with word
 * dropout and adjacent swaps. Last, with chance p_insert, one stray content word (of any
 * training caption, drawn by frequency) is inserted at a random place. */
static std::vector<int64_t> augment_text(const std::vector<std::vector<int64_t>> &caps,
                                         const Lexicon &lx, Rng &rng, const TextAug &a)
{
    std::vector<int64_t> src = caps[randint(rng, 0, (int)caps.size() - 1)];
    substitute(src, lx, rng, a.p_subst);
    std::vector<int64_t> out;
    bool cut = false;
    if (!lx.kind.empty() && unif(rng, 0, 1) < a.p_keywords) {
        if (a.p_pool > 0 && caps.size() > 1 && unif(rng, 0, 1) < a.p_pool) {
            std::vector<int64_t> all;
            for (const auto &c : caps) {
                std::vector<int64_t> s = c;
                substitute(s, lx, rng, a.p_subst);
                for (int64_t w : s)
                    if (std::find(all.begin(), all.end(), w) == all.end())
                        all.push_back(w);
            }
            src = all;
        }
        std::vector<int64_t> nouns, content;
        for (int64_t w : src) {
            unsigned char k = lx.kind[w - 1];
            if (k == DUCH_WN_NOUN)
                nouns.push_back(w);
            if (k != DUCH_WN_FUNCTION)
                content.push_back(w);
        }
        if (!content.empty()) {
            cut = true;
            if (unif(rng, 0, 1) < 0.4 && !nouns.empty())
                out = {nouns[randint(rng, 0, (int)nouns.size() - 1)]};
            else {
                size_t k = std::min(content.size(), (size_t)randint(rng, 2, 3));
                std::vector<int> pos(content.size());
                std::iota(pos.begin(), pos.end(), 0);
                std::shuffle(pos.begin(), pos.end(), rng);
                pos.resize(k);
                std::sort(pos.begin(), pos.end());
                for (int j : pos)
                    out.push_back(content[j]);
            }
        }
    }
    if (!cut) {
        for (int64_t w : src)
            if (unif(rng, 0, 1) >= a.p_drop)
                out.push_back(w);
        if (out.empty() && !src.empty())
            out.push_back(src[randint(rng, 0, (int)src.size() - 1)]);
        for (size_t j = 0; j + 1 < out.size(); j++)
            if (unif(rng, 0, 1) < a.p_swap)
                std::swap(out[j], out[j + 1]);
    }
    if (a.stray && !a.stray->empty() && a.p_insert > 0 && unif(rng, 0, 1) < a.p_insert) {
        int64_t w = (*a.stray)[randint(rng, 0, (int)a.stray->size() - 1)];
        out.insert(out.begin() + randint(rng, 0, (int)out.size()), w);
    }
    return out;
}

/* ------------------------------------------------------------------ losses */

static Tensor nt_xent(const Tensor &a, const Tensor &b, double tau)
{
    int64_t n = a.size(0);
    Tensor z = F::normalize(torch::cat({a, b}, 0), F::NormalizeFuncOptions().dim(1));
    Tensor sim = torch::mm(z, z.t()) / tau;
    sim = sim - torch::eye(2 * n) * 1e9;
    Tensor tgt = torch::cat({torch::arange(n, 2 * n), torch::arange(0, n)}).to(torch::kLong);
    return F::cross_entropy(sim, tgt);
}

static Tensor balance_loss(const Tensor &h) { return h.mean(0).pow(2).mean(); }

/* ------------------------------------------------------------------ training */

static std::string fmt_time(double s)
{
    char b[32];
    if (s >= 3600)
        snprintf(b, sizeof b, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
    else
        snprintf(b, sizeof b, "%dm%02ds", (int)(s / 60), (int)s % 60);
    return b;
}

static std::string training_record(const duch_train_options &o, int N, int B, int epochs,
                                   std::chrono::steady_clock::time_point t0)
{
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::ostringstream tj;
    tj.precision(10);
    tj << "{\"images\":" << N << ",\"splits\":" << o.splits << ",\"epochs\":" << epochs
       << ",\"batch_size\":" << B << ",\"lr\":" << o.lr << ",\"weight_decay\":" << o.weight_decay
       << ",\"temperature\":" << o.temperature << ",\"w_inter\":" << o.w_inter
       << ",\"w_intra_img\":" << o.w_intra_img << ",\"w_intra_txt\":" << o.w_intra_txt
       << ",\"w_adv\":" << o.w_adv << ",\"w_quant\":" << o.w_quant << ",\"w_balance\":" << o.w_balance
       << ",\"crop_min\":" << o.crop_min << ",\"wordnet_senses\":" << o.wordnet_senses
       << ",\"p_subst\":" << o.p_subst << ",\"p_keywords\":" << o.p_keywords
       << ",\"p_pool\":" << o.p_pool << ",\"p_insert\":" << o.p_insert << ",\"seed\":" << o.seed << ",\"threads\":" << o.threads
       << ",\"adversarial\":\"image net fools D (paper)\",\"wall_s\":" << secs << "}";
    return tj.str();
}

static void check_train_options(const duch_train_options &o)
{
    if (!o.data_dir || !o.output)
        fail(DUCH_INVALID, "train needs data_dir and output");
    /* the codes an archive can hold (index/duch_index.h: duch_code_bits_valid) */
    if (o.bits < 16 || o.bits > 1024 || o.bits % 8)
        fail(DUCH_INVALID, "bits must be a multiple of 8 from 16 to 1024 (the code lengths an"
                           " archive stores), got " + std::to_string(o.bits));
    if (o.epochs < 1 || o.batch_size < 2 || o.input_size < 16 || o.input_size > 512 || o.width < 1 ||
        o.width > 256 || o.text_dim < 4 || !(o.lr > 0) || !(o.temperature > 0) ||
        !(o.crop_min > 0 && o.crop_min <= 1) || o.wordnet_senses < 0 || o.wordnet_senses > 10 ||
        !(o.p_subst >= 0 && o.p_subst <= 1) || !(o.p_keywords >= 0 && o.p_keywords <= 1) ||
        !(o.p_pool >= 0 && o.p_pool <= 1) || !(o.p_insert >= 0 && o.p_insert <= 1))
        fail(DUCH_INVALID, "train: an option is out of range");
}

/* every word of the captions of the images use, most frequent first (ties by word) */
static std::vector<std::string> vocabulary_of(const Dataset &ds, const std::vector<int> &use)
{
    std::map<std::string, int> count;
    for (int i : use)
        for (auto &s : ds.items[i].sentences)
            for (auto &w : tokenize(s))
                count[w]++;
    std::vector<std::pair<int, std::string>> byfreq;
    for (auto &kv : count)
        byfreq.emplace_back(-kv.second, kv.first);
    std::sort(byfreq.begin(), byfreq.end());
    std::vector<std::string> vocab;
    for (auto &p : byfreq)
        vocab.push_back(p.second);
    if (vocab.empty())
        fail(DUCH_INVALID, "train: the captions hold no words");
    return vocab;
}

/* the word pairs and triples of the captions of the images use ("mobile homes"), once per
 * occurrence (as duch aliases --data reads them): the candidates of the vocabulary's
 * phrases, and how often words occur in them (duch_wn_aliases) */
static std::vector<std::string> caption_phrases(const Dataset &ds, const std::vector<int> &use)
{
    std::vector<std::string> seen;
    for (int i : use)
        for (auto &s : ds.items[i].sentences) {
            std::vector<std::string> w = tokenize(s);
            for (size_t k = 0; k + 1 < w.size(); k++) {
                seen.push_back(w[k] + " " + w[k + 1]);
                if (k + 2 < w.size())
                    seen.push_back(w[k] + " " + w[k + 1] + " " + w[k + 2]);
            }
        }
    return seen;
}

/* the vocabulary ids of each image's captions (captions without a known word left out) */
static std::vector<std::vector<std::vector<int64_t>>> caption_ids(const Model &m, const Dataset &ds,
                                                                  const std::vector<int> &use)
{
    std::vector<std::vector<std::vector<int64_t>>> caps(use.size());
    for (size_t i = 0; i < use.size(); i++) {
        for (auto &s : ds.items[use[i]].sentences) {
            auto ids = m.ids_of(s);
            if (!ids.empty())
                caps[i].push_back(ids);
        }
        if (caps[i].empty())
            fail(DUCH_INVALID, "train: image " + ds.items[use[i]].filename + " has no usable caption");
    }
    return caps;
}

/* One training run: the model, its discriminator, their optimisers and the data. */
struct TrainRun {
    const duch_train_options &o;
    Model &m;
    Disc disc;
    Rng &rng;
    Tensor cache; /* the decoded images, uint8 N x 3 x R x R */
    std::vector<std::vector<std::vector<int64_t>>> caps;
    Lexicon lx; /* WordNet stand-ins and word kinds (empty without WordNet) */
    std::unique_ptr<torch::optim::AdamW> opt;
    std::unique_ptr<torch::optim::Adam> dopt;
    int B = 0;
    double aug_s = 0; /* seconds spent augmenting in this epoch */
    TextAug aug;                /* how view 2 of a caption is made */
    std::vector<int64_t> stray; /* the content words of every caption (TextAug::stray) */

    void set_lr(double lr)
    {
        for (auto &g : opt->param_groups())
            static_cast<torch::optim::AdamWOptions &>(g.options()).lr(lr);
        for (auto &g : dopt->param_groups())
            static_cast<torch::optim::AdamOptions &>(g.options()).lr(lr);
    }

    /* One step on the images bidx: two augmented views of each image and of its
     * captions, the losses of the header comment, one optimiser step of each net.
     * vals: total, inter, intra_img, intra_txt, adv, quant, D. */
    void step(const std::vector<int> &bidx, double vals[7])
    {
        auto ta = std::chrono::steady_clock::now();
        Tensor v1 = augment_images(cache, bidx, o.input_size, o.crop_min, rng);
        Tensor v2 = augment_images(cache, bidx, o.input_size, o.crop_min, rng);
        std::vector<std::vector<int64_t>> tl;
        static const Lexicon plain_lx;
        static const TextAug plain;
        /* view 1 is the caption as it is (dropout, swaps); view 2 also gets the WordNet
         * stand-ins and the keyword cuts, so every image keeps one full caption to align
         * with and the caption term pulls the user-worded view towards it */
        for (int v = 0; v < 2; v++)
            for (int i : bidx)
                tl.push_back(v == 0 ? augment_text(caps[i], plain_lx, rng, plain)
                                    : augment_text(caps[i], lx, rng, aug));
        Tensor ids, mask;
        text_batch(tl, ids, mask);
        aug_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - ta).count();

        Tensor hi = m.net->himg(m.net->img(torch::cat({v1, v2}, 0)));
        Tensor ht = m.net->htxt(m.net->txt(ids, mask));
        Tensor hi1 = hi.slice(0, 0, B), hi2 = hi.slice(0, B, 2 * B);
        Tensor ht1 = ht.slice(0, 0, B), ht2 = ht.slice(0, B, 2 * B);
        Tensor zero = torch::zeros({});
        Tensor l_inter = (nt_xent(hi1, ht1, o.temperature) + nt_xent(hi2, ht2, o.temperature)) / 2;
        Tensor l_ii = nt_xent(hi1, hi2, o.temperature);
        Tensor l_tt = nt_xent(ht1, ht2, o.temperature);
        Tensor l_adv = zero;
        if (o.w_adv > 0) {
            /* D sees text and image codes in one batch (its BatchNorm must not
             * normalise the two modalities apart); the image net wants "text" */
            Tensor logits = disc(torch::cat({ht.detach(), hi}, 0)).slice(0, 2 * B, 4 * B);
            l_adv = F::binary_cross_entropy_with_logits(logits, torch::ones_like(logits));
        }
        Tensor hall = torch::cat({hi, ht}, 0);
        Tensor l_q = (hall - hall.sign().detach()).pow(2).mean();
        Tensor l_b = balance_loss(hi) + balance_loss(ht);
        Tensor loss = o.w_inter * l_inter + o.w_intra_img * l_ii + o.w_intra_txt * l_tt +
                      o.w_adv * l_adv + o.w_quant * l_q + o.w_balance * l_b;
        opt->zero_grad();
        loss.backward();
        opt->step();
        double l_d = 0;
        if (o.w_adv > 0) {
            dopt->zero_grad();
            Tensor logits = disc(torch::cat({ht.detach(), hi.detach()}, 0));
            Tensor tgt = torch::cat({torch::ones({2 * B}), torch::zeros({2 * B})});
            Tensor dl = F::binary_cross_entropy_with_logits(logits, tgt);
            dl.backward();
            dopt->step();
            l_d = dl.item<double>();
        }
        double v[7] = {loss.item<double>(), l_inter.item<double>(), l_ii.item<double>(),
                       l_tt.item<double>(), l_adv.item<double>(), l_q.item<double>(), l_d};
        memcpy(vals, v, sizeof v);
        if (!std::isfinite(vals[0]))
            fail(DUCH_ERROR, "training diverged (loss is not finite); lower --lr");
    }
};

static void train(const duch_train_options &o, duch_progress_fn progress, void *parg)
{
    check_train_options(o);
    use_threads(o.threads);
    auto t0 = std::chrono::steady_clock::now();
    Dataset ds = load_dataset(o.data_dir);
    std::vector<int> use;
    for (size_t i = 0; i < ds.items.size(); i++)
        if (split_bit(ds.items[i].split) & o.splits)
            use.push_back((int)i);
    if (o.max_images > 0 && (int)use.size() > o.max_images)
        use.resize(o.max_images);
    if (use.size() < 4)
        fail(DUCH_INVALID, "train: fewer than 4 images in the selected splits");

    Model m;
    Arch &a = m.arch;
    a.bits = o.bits;
    a.input_size = o.input_size;
    a.width = o.width;
    a.blocks = 1;
    a.text_dim = o.text_dim;
    a.hidden = 512;
    a.tile_ground_m = o.tile_ground_m;
    a.vocab = vocabulary_of(ds, use);
    Lexicon lx;
    std::string err;
    if (o.wordnet_senses > 0) {
        if (progress && !progress(0.0, "WordNet: stand-ins for the caption words and an alias table", parg))
            fail(DUCH_INTERRUPTED, "interrupted");
        std::vector<std::string> pairs = caption_phrases(ds, use);
        std::vector<unsigned char> mod;
        int ncap = (int)a.vocab.size();
        if (!caption_modifiers(a.vocab, ncap, pairs, mod, err) ||
            !caption_lexicon(a.vocab, o.wordnet_senses, lx, err) ||
            !wordnet_aliases(a.vocab, (int)lx.caption_words, pairs, mod, o.wordnet_senses, a.aliases,
                             a.phrases, err))
            fail(DUCH_NOTFOUND, "train: " + err + " (or train without it: --wordnet-senses 0)");
        for (int i = 0; i < ncap; i++) {
            if (mod[i] & DUCH_WN_MODIFIER)
                a.modifiers.push_back(a.vocab[i]);
            if (mod[i] & DUCH_WN_RARE)
                a.rare_words.push_back(a.vocab[i]);
        }
        a.caption_words = (int)lx.caption_words;
        if (progress) {
            size_t nsub = 0;
            for (auto &v : lx.subs)
                nsub += v.size();
            std::string msg = "WordNet: " + std::to_string(lx.caption_words) + " caption words, " +
                              std::to_string(nsub) + " stand-ins (" +
                              std::to_string(a.vocab.size() - lx.caption_words) + " new words), " +
                              std::to_string(a.aliases.size()) + " aliases";
            if (!progress(0.0, msg.c_str(), parg))
                fail(DUCH_INTERRUPTED, "interrupted");
        }
    }
    torch::manual_seed(o.seed);
    Rng rng(o.seed);
    m.build();
    if (lx.caption_words && a.vocab.size() > lx.caption_words) {
        /* tie each stand-in to the caption words it stands in for (TextNet::table) */
        std::vector<std::vector<int64_t>> src(a.vocab.size());
        for (size_t f = 0; f < lx.caption_words; f++)
            for (int t : lx.subs[f])
                if ((size_t)t >= lx.caption_words)
                    src[t].push_back((int64_t)f);
        std::vector<int64_t> dst, from;
        std::vector<float> w;
        for (size_t t = lx.caption_words; t < src.size(); t++)
            for (int64_t f : src[t])
                dst.push_back((int64_t)t + 1), from.push_back(f + 1), w.push_back(1.0f / src[t].size());
        auto &txt = m.net->txt;
        txt->tie_dst = torch::tensor(dst, torch::kLong);
        txt->tie_src = torch::tensor(from, torch::kLong);
        txt->tie_w = torch::tensor(w, torch::kFloat);
        torch::NoGradGuard ng;
        txt->emb->weight.slice(0, (int64_t)lx.caption_words + 1).zero_();
    }
    TrainRun run{o, m, Disc(o.bits), rng, Tensor(), caption_ids(m, ds, use), std::move(lx), nullptr, nullptr};
    run.aug.p_subst = o.p_subst;
    run.aug.p_keywords = o.p_keywords;
    run.aug.p_pool = o.p_pool;
    run.aug.p_insert = o.p_insert;
    if (o.p_insert > 0 && !run.lx.kind.empty()) { /* the stray words, only when inserted */
        for (auto &img : run.caps)
            for (auto &c : img)
                for (int64_t w : c)
                    if (run.lx.kind[w - 1] != DUCH_WN_FUNCTION)
                        run.stray.push_back(w);
        run.aug.stray = &run.stray;
    }

    int R = (o.input_size * 4 + 2) / 3; /* crops come from a cache 4/3 the input size */
    if (progress && !progress(0.0, ("decoding " + std::to_string(use.size()) + " images").c_str(), parg))
        fail(DUCH_INTERRUPTED, "interrupted");
    std::vector<unsigned char> raw = decode_u8(ds, use, R);
    run.cache = torch::from_blob(raw.data(), {(int64_t)use.size(), 3, R, R}, torch::kUInt8);

    std::vector<Tensor> main_params;
    for (auto &p : m.net->parameters())
        main_params.push_back(p);
    run.opt = std::make_unique<torch::optim::AdamW>(main_params,
                                                    torch::optim::AdamWOptions(o.lr).weight_decay(o.weight_decay));
    run.dopt = std::make_unique<torch::optim::Adam>(run.disc->parameters(), torch::optim::AdamOptions(o.lr));

    int N = (int)use.size();
    int B = run.B = std::min(o.batch_size, N);
    int steps = std::max(1, N / B);
    long total_steps = (long)steps * o.epochs, step_no = 0;
    long warm = std::min<long>(total_steps / 10, (long)steps * 2);
    std::vector<int> order(N);
    std::iota(order.begin(), order.end(), 0);
    auto t_train = std::chrono::steady_clock::now();
    m.net->train();
    run.disc->train();
    for (int ep = 0; ep < o.epochs; ep++) {
        std::shuffle(order.begin(), order.end(), rng);
        double sums[7] = {0, 0, 0, 0, 0, 0, 0};
        run.aug_s = 0;
        for (int st = 0; st < steps; st++, step_no++) {
            /* linear warm-up, then cosine decay */
            run.set_lr(step_no < warm ? o.lr * (step_no + 1) / (warm + 1)
                                      : o.lr * 0.5 * (1 + std::cos(M_PI * (step_no - warm) /
                                                                   std::max<long>(1, total_steps - warm))));
            std::vector<int> bidx(order.begin() + st * B, order.begin() + st * B + B);
            double vals[7];
            run.step(bidx, vals);
            for (int k = 0; k < 7; k++)
                sums[k] += vals[k] / steps;
            if (progress) {
                double frac = (double)(step_no + 1) / total_steps;
                if (!progress(0.02 + 0.96 * frac, nullptr, parg))
                    fail(DUCH_INTERRUPTED, "interrupted");
            }
        }
        if (o.epoch_loss)
            o.epoch_loss[ep] = sums[0];
        double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_train).count();
        double left = el / (ep + 1) * (o.epochs - ep - 1);
        char msg[400];
        snprintf(msg, sizeof msg,
                 "epoch %d/%d loss %.4f (inter %.3f intra_img %.3f intra_txt %.3f adv %.3f quant %.3f; D %.3f)"
                 " %.1f s/epoch (augment %.1f s), ETA %s",
                 ep + 1, o.epochs, sums[0], sums[1], sums[2], sums[3], sums[4], sums[5], sums[6],
                 el / (ep + 1), run.aug_s, fmt_time(left).c_str());
        if (progress && !progress(0.02 + 0.96 * (ep + 1) / o.epochs, msg, parg))
            fail(DUCH_INTERRUPTED, "interrupted");
        if (o.checkpoint_every > 0 && (ep + 1) % o.checkpoint_every == 0 && ep + 1 < o.epochs) {
            a.training_json = training_record(o, N, B, ep + 1, t0);
            m.net->eval();
            auto &txt = m.net->txt;
            Tensor keep = txt->emb->weight.detach().clone();
            Tensor d = txt->tie_dst, sr = txt->tie_src, w = txt->tie_w;
            txt->fold_ties();
            write_file(o.output, serialize(m));
            {
                torch::NoGradGuard ng;
                txt->emb->weight.copy_(keep);
            }
            txt->tie_dst = d, txt->tie_src = sr, txt->tie_w = w;
            m.net->train();
        }
    }
    a.training_json = training_record(o, N, B, o.epochs, t0);
    m.net->eval();
    m.net->txt->fold_ties();
    write_file(o.output, serialize(m));
    if (progress)
        progress(1.0, nullptr, parg);
}

/* ------------------------------------------------------------------ evaluation */

static void evaluate(Model &m, const std::string &dir, duch_eval_result &r, duch_progress_fn progress,
                     void *parg)
{
    use_threads(m.threads);
    Dataset ds = load_dataset(dir);
    std::vector<int> qi, ri;
    for (size_t i = 0; i < ds.items.size(); i++) {
        if (ds.items[i].split == "query")
            qi.push_back((int)i);
        else if (ds.items[i].split == "retrieval")
            ri.push_back((int)i);
    }
    if (qi.empty() || ri.empty())
        fail(DUCH_INVALID, dir + "/captions.json: needs images in both the 'query' and 'retrieval' splits");
    std::map<std::string, int> cls;
    auto labels = [&](const std::vector<int> &idx) {
        std::vector<int> l;
        for (int i : idx) {
            auto it = cls.emplace(ds.items[i].cls, (int)cls.size()).first;
            l.push_back(it->second);
        }
        return l;
    };
    std::vector<int> ql = labels(qi), rl = labels(ri);
    int nb = m.arch.bits / 8, S = m.arch.input_size;
    auto enc_img = [&](const std::vector<int> &idx) {
        std::vector<unsigned char> codes(idx.size() * nb);
        for (size_t s = 0; s < idx.size(); s += 128) {
            std::vector<int> part(idx.begin() + s, idx.begin() + std::min(idx.size(), s + 128));
            std::vector<float> px = decode_planar(ds, part, S);
            encode_planar(m, px.data(), (int)part.size(), codes.data() + s * nb);
            if (progress && !progress(0.9 * (s + part.size()) / (qi.size() + ri.size()), nullptr, parg))
                fail(DUCH_INTERRUPTED, "interrupted");
        }
        return codes;
    };
    auto enc_txt = [&](const std::vector<int> &idx) {
        std::vector<std::vector<int64_t>> lists;
        for (int i : idx)
            lists.push_back(m.ids_of(ds.items[i].sentences[0])); /* first caption, as DUCH */
        std::vector<unsigned char> codes(idx.size() * nb);
        encode_id_lists(m, lists, codes.data());
        return codes;
    };
    auto qimg = enc_img(qi);
    auto rimg = enc_img(ri);
    auto qtxt = enc_txt(qi), rtxt = enc_txt(ri);
    int nq = (int)qi.size(), nr = (int)ri.size(), K = m.arch.bits;
    r.bits = K;
    r.queries = nq;
    r.retrieval = nr;
    r.map20_i2t = duch_map_at_k(qimg.data(), ql.data(), nq, rtxt.data(), rl.data(), nr, K, 20);
    r.map20_t2i = duch_map_at_k(qtxt.data(), ql.data(), nq, rimg.data(), rl.data(), nr, K, 20);
    r.map20_i2i = duch_map_at_k(qimg.data(), ql.data(), nq, rimg.data(), rl.data(), nr, K, 20);
    r.map20_t2t = duch_map_at_k(qtxt.data(), ql.data(), nq, rtxt.data(), rl.data(), nr, K, 20);
    if (progress)
        progress(1.0, nullptr, parg);
}

} /* namespace duch */

/* ------------------------------------------------------------------ C API */

using namespace duch;

struct duch_model {
    std::unique_ptr<Model> impl;
    std::string err;
    std::string id;
};

template <typename Fn>
static int guarded(duch_model *h, Fn fn)
{
    try {
        fn();
        if (h)
            h->err.clear();
        return DUCH_OK;
    } catch (const Error &e) {
        if (h)
            h->err = e.msg;
        return e.code;
    } catch (const std::bad_alloc &) {
        if (h)
            h->err = "out of memory";
        return DUCH_NOMEM;
    } catch (const std::exception &e) {
        if (h)
            h->err = e.what();
        return DUCH_ERROR;
    } catch (...) {
        if (h)
            h->err = "unknown error";
        return DUCH_ERROR;
    }
}

static duch_model *new_handle()
{
    try {
        return new duch_model();
    } catch (...) {
        return nullptr;
    }
}

static int api_open_blob(const void *data, size_t size, duch_model **out)
{
    if (!out)
        return DUCH_INVALID;
    duch_model *h = *out = new_handle();
    if (!h)
        return DUCH_NOMEM;
    return guarded(h, [&] {
        if (!data)
            fail(DUCH_INVALID, "open_blob: NULL data");
        auto m = std::make_unique<Model>();
        deserialize(*m, (const unsigned char *)data, size);
        char b[20];
        snprintf(b, sizeof b, "%016llx", (unsigned long long)m->checksum);
        h->id = b;
        h->impl = std::move(m);
    });
}

static int api_open(const char *path, duch_model **out)
{
    if (!out)
        return DUCH_INVALID;
    std::string data;
    duch_model *tmp = new_handle();
    if (!tmp) {
        *out = nullptr;
        return DUCH_NOMEM;
    }
    int rc = guarded(tmp, [&] {
        if (!path)
            fail(DUCH_INVALID, "open: NULL path");
        data = read_file(path);
    });
    if (rc != DUCH_OK) {
        *out = tmp;
        return rc;
    }
    delete tmp;
    rc = api_open_blob(data.data(), data.size(), out);
    if (rc != DUCH_OK && *out && path)
        (*out)->err = std::string(path) + ": " + (*out)->err;
    return rc;
}

static void api_close(duch_model *m) { delete m; }

static const char *api_errmsg(const duch_model *m)
{
    if (!m)
        return "no model handle (out of memory?)";
    return m->err.empty() ? "no error" : m->err.c_str();
}

static int api_bits(const duch_model *m) { return m && m->impl ? m->impl->arch.bits : 0; }
static int api_input_size(const duch_model *m) { return m && m->impl ? m->impl->arch.input_size : 0; }
static double api_tile_ground_m(const duch_model *m) { return m && m->impl ? m->impl->arch.tile_ground_m : 0; }
static const char *api_id(const duch_model *m) { return m && m->impl ? m->id.c_str() : ""; }

static int api_set_threads(duch_model *m, int n)
{
    if (!m || !m->impl)
        return DUCH_INVALID;
    if (n < 0) {
        m->err = "set_threads: negative thread count";
        return DUCH_INVALID;
    }
    m->impl->threads = n;
    return DUCH_OK;
}

static int api_encode_images(duch_model *m, int n, const unsigned char *const *rgb, const int *widths,
                             const int *heights, unsigned char *codes)
{
    if (!m)
        return DUCH_INVALID;
    return guarded(m, [&] {
        if (!m->impl)
            fail(DUCH_INVALID, "model is not open");
        if (n < 0 || (n > 0 && (!rgb || !widths || !heights || !codes)))
            fail(DUCH_INVALID, "encode_images: bad arguments");
        for (int i = 0; i < n; i++)
            if (!rgb[i] || widths[i] < 1 || heights[i] < 1)
                fail(DUCH_INVALID, "encode_images: tile " + std::to_string(i) + " has no pixels");
        Model &md = *m->impl;
        use_threads(md.threads);
        int S = md.arch.input_size, nb = md.arch.bits / 8;
        for (int s = 0; s < n; s += ENC_BATCH) {
            int c = std::min(ENC_BATCH, n - s);
            std::vector<float> px((size_t)c * 3 * S * S);
            at::parallel_for(0, c, 1, [&](int64_t b, int64_t e) {
                for (int64_t i = b; i < e; i++)
                    resample_rgb_planar(rgb[s + i], widths[s + i], heights[s + i], S,
                                        &px[(size_t)i * 3 * S * S]);
            });
            encode_planar(md, px.data(), c, codes + (size_t)s * nb);
        }
    });
}

static int api_encode_texts(duch_model *m, int n, const char *const *texts, unsigned char *codes)
{
    if (!m)
        return DUCH_INVALID;
    return guarded(m, [&] {
        if (!m->impl)
            fail(DUCH_INVALID, "model is not open");
        if (n < 0 || (n > 0 && (!texts || !codes)))
            fail(DUCH_INVALID, "encode_texts: bad arguments");
        Model &md = *m->impl;
        std::vector<std::vector<int64_t>> lists;
        for (int i = 0; i < n; i++) {
            if (!texts[i])
                fail(DUCH_INVALID, "encode_texts: text " + std::to_string(i) + " is NULL");
            lists.push_back(md.ids_of(texts[i]));
            if (lists.back().empty()) {
                std::string t = texts[i];
                if (t.size() > 60)
                    t = t.substr(0, duch_utf8_prefix(t.data(), 57)) + "...";
                fail(DUCH_INVALID, "no word of \"" + t + "\" is in the model's vocabulary (" +
                                       std::to_string(md.arch.vocab.size()) + " words, " +
                                       std::to_string(md.arch.aliases.size()) +
                                       " aliases; duch info --vocabulary lists them)");
            }
        }
        use_threads(md.threads);
        encode_id_lists(md, lists, codes);
    });
}

static char *api_info_json(duch_model *m)
{
    if (!m || !m->impl)
        return nullptr;
    char *out = nullptr;
    guarded(m, [&] {
        Model &md = *m->impl;
        std::string s = arch_json(md.arch, false);
        int64_t params = 0;
        for (auto &p : md.net->parameters())
            params += p.numel();
        s.pop_back();
        s += ",\"id\":\"" + m->id + "\",\"parameters\":" + std::to_string(params) +
             ",\"file_bytes\":" + std::to_string(md.file_size) + "}";
        out = (char *)malloc(s.size() + 1);
        if (!out)
            throw std::bad_alloc();
        memcpy(out, s.c_str(), s.size() + 1);
    });
    return out;
}

static void api_train_options_init(duch_train_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->bits = 64;
    o->splits = 1;
    o->epochs = 30;
    o->batch_size = 64;
    o->input_size = 80;
    o->width = 32;
    o->text_dim = 128;
    o->lr = 2e-3;
    o->weight_decay = 1e-4;
    o->temperature = 0.3;
    o->w_inter = 1.0;
    o->w_intra_img = 1.0;
    o->w_intra_txt = 0.5;
    o->w_adv = 0.05;
    o->w_quant = 0.1;
    o->w_balance = 0.1;
    o->seed = 1;
    o->threads = 0;
    o->tile_ground_m = 256 * 0.3048;
    o->crop_min = 0.35;
    o->wordnet_senses = 2;
    o->p_subst = 0.2;
    o->p_keywords = 0.5;
    o->p_pool = 0;
    o->p_insert = 0;
}

static int api_train(const duch_train_options *o, duch_progress_fn progress, void *arg, char *err,
                     size_t errlen)
{
    duch_model tmp;
    int rc = guarded(&tmp, [&] {
        if (!o)
            fail(DUCH_INVALID, "train: NULL options");
        train(*o, progress, arg);
    });
    if (err && errlen)
        duch_snprintf(err, errlen, "%s", rc ? tmp.err.c_str() : "");
    return rc;
}

static int api_eval(duch_model *m, const char *data_dir, duch_eval_result *out, duch_progress_fn progress,
                    void *arg)
{
    if (!m)
        return DUCH_INVALID;
    return guarded(m, [&] {
        if (!m->impl)
            fail(DUCH_INVALID, "model is not open");
        if (!data_dir || !out)
            fail(DUCH_INVALID, "eval: bad arguments");
        duch_eval_result r;
        memset(&r, 0, sizeof r);
        evaluate(*m->impl, data_dir, r, progress, arg);
        *out = r;
    });
}

static const duch_model_api the_api = {
    DUCH_MODEL_ABI_VERSION,
    api_open,
    api_open_blob,
    api_close,
    api_errmsg,
    api_bits,
    api_input_size,
    api_tile_ground_m,
    api_id,
    api_set_threads,
    api_encode_images,
    api_encode_texts,
    api_info_json,
    api_train_options_init,
    api_train,
    api_eval,
};

extern "C" __attribute__((visibility("default"))) const duch_model_api *duch_model_api_v1(void)
{
    return &the_api;
}
