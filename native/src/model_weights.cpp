#include "model_weights.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>

#include "parallel_for.h"
#include "vk_check.h"
#include "vk_context.h"

namespace {

const char* typeName(uint32_t t) {
  switch (t) {
    case GGML_F32:
      return "F32";
    case GGML_F16:
      return "F16";
    case GGML_Q4_0:
      return "Q4_0";
    case GGML_Q8_0:
      return "Q8_0";
    case GGML_BF16:
      return "BF16";
    case GGML_Q4_K:
      return "Q4_K";
    case GGML_Q5_K:
      return "Q5_K";
    case GGML_Q6_K:
      return "Q6_K";
    default:
      return "unknown";
  }
}

float halfToFloat(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalize
      exp = 127 - 15 + 1;
      while (!(mant & 0x400)) {
        mant <<= 1;
        --exp;
      }
      bits = sign | (exp << 23) | ((mant & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000 | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Read-only memory map of the whole GGUF file, unmapped when loading ends.
struct MappedFile {
  const uint8_t* data = nullptr;
  uint64_t size = 0;
  explicit MappedFile(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw NativeError("GGUF_FORMAT", "cannot open " + path + ": " + std::strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
      ::close(fd);
      throw NativeError("GGUF_FORMAT", "cannot stat " + path);
    }
    size = uint64_t(st.st_size);
    void* p = size ? mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
    ::close(fd);
    if (p == MAP_FAILED) throw NativeError("GGUF_FORMAT", "cannot memory-map " + path);
    data = static_cast<const uint8_t*>(p);
    madvise(p, size, MADV_SEQUENTIAL);
  }
  ~MappedFile() {
    if (data) munmap(const_cast<uint8_t*>(data), size);
  }
};

constexpr VkBufferUsageFlags kWeightUsage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;

struct Loader {
  VkContext& ctx;
  const MappedFile& file;
  Uploader uploader;
  std::map<std::string, const TensorDesc*> byName;
  uint64_t done = 0, total = 0;
  uint64_t matrixBytes = 0;  // GGUF bytes of the 2-D weights loaded so far (a tied output counts twice)
  const ModelWeights::Progress& progress;
  // Repacking quantized blocks runs on several threads, each taking at least kBlocksPerThread blocks of a chunk.
  const uint32_t threads;
  static constexpr uint64_t kBlocksPerThread = 16384;

  Loader(VkContext& c, const MappedFile& f, const std::vector<TensorDesc>& tensors, const LoadOptions& options,
         const ModelWeights::Progress& p)
      : ctx(c),
        file(f),
        uploader(c, uint64_t(options.stagingKiB) << 10),
        progress(p),
        threads(options.threads ? options.threads : hostThreads()) {
    for (auto& t : tensors) {
      if (t.offset + t.nbytes > file.size || t.offset + t.nbytes < t.offset)
        throw NativeError("GGUF_TRUNCATED", "tensor " + t.name + " lies past the end of the file (file truncated?)");
      byName[t.name] = &t;
      total += t.nbytes;
    }
  }

  const TensorDesc& find(const std::string& name) const {
    auto it = byName.find(name);
    if (it == byName.end()) throw NativeError("MODEL_SHAPE", "missing tensor " + name);
    return *it->second;
  }

  void advance(uint64_t n) {
    done += n;
    if (progress) progress(done, total);
  }

  // 1-D norm weights are kept as f32 on the GPU whatever their file type.
  Buffer vector(const std::string& name, uint32_t n) {
    const TensorDesc& t = find(name);
    if (t.dims.size() != 1 || t.dims[0] != n)
      throw NativeError("MODEL_SHAPE", name + " must be a vector of " + std::to_string(n) + " values");
    Buffer buf(ctx, uint64_t(n) * 4, kWeightUsage, Buffer::Kind::DeviceLocal);
    const uint8_t* src = file.data + t.offset;
    float* dst = reinterpret_cast<float*>(uploader.reserve(buf.handle(), 0, uint64_t(n) * 4));
    for (uint32_t i = 0; i < n; ++i) {
      switch (t.type) {
        case GGML_F32:
          std::memcpy(&dst[i], src + 4 * i, 4);
          break;
        case GGML_F16: {
          uint16_t h;
          std::memcpy(&h, src + 2 * i, 2);
          dst[i] = halfToFloat(h);
          break;
        }
        case GGML_BF16: {
          uint16_t h;
          std::memcpy(&h, src + 2 * i, 2);
          uint32_t b = uint32_t(h) << 16;
          std::memcpy(&dst[i], &b, 4);
          break;
        }
        default:
          throw NativeError("UNSUPPORTED_TENSOR_TYPE", name + " has type " + typeName(t.type) + "; norm weights must be F32, F16 or BF16");
      }
    }
    advance(t.nbytes);
    return buf;
  }

  // Bytes of one row of K elements of tensor `t` as GGUF stores it (the GPU layouts keep the same bytes).
  static uint64_t rowBytes(const TensorDesc& t, uint32_t K) {
    switch (t.type) {
      case GGML_F32:
        return uint64_t(K) * 4;
      case GGML_F16:
      case GGML_BF16:
        return uint64_t(K) * 2;
      case GGML_Q8_0:
        return uint64_t(K) / 32 * 34;
      case GGML_Q4_0:
        return uint64_t(K) / 32 * 18;
      case GGML_Q4_K:
      case GGML_Q5_K:
      case GGML_Q6_K:
        if (K % 256 != 0)
          throw NativeError("MODEL_SHAPE",
                            t.name + ": " + typeName(t.type) + " needs a row length that is a multiple of 256, got " + std::to_string(K));
        return uint64_t(K) / 256 * (t.type == GGML_Q4_K ? 144 : t.type == GGML_Q5_K ? 176 : 210);
      default:
        throw NativeError("UNSUPPORTED_TENSOR_TYPE", t.name + " has unsupported type " + typeName(t.type) +
                                                         " (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K)");
    }
  }

  // One tensor of a stacked matrix: its name and row count.
  struct Part {
    std::string name;
    uint32_t M;
  };

  // The 2-D weights `parts`, all of one type with rows of K elements, as one matrix whose rows are theirs in
  // order. The rows are concatenated before the per-type repacking, so a split layout (Q6_K: quants, then
  // scales) is that of one tensor of all the rows. One part: the tensor itself.
  WeightMatrix matrix(const std::vector<Part>& parts, uint32_t K) {
    WeightMatrix w;
    w.K = K;
    std::vector<const TensorDesc*> ts;
    for (const Part& p : parts) {
      const TensorDesc& t = find(p.name);
      if (t.dims.size() != 2 || t.dims[0] != K || t.dims[1] != p.M)
        throw NativeError("MODEL_SHAPE", p.name + " must have shape [" + std::to_string(K) + ", " + std::to_string(p.M) + "]");
      if (K % 32 != 0) throw NativeError("MODEL_SHAPE", p.name + ": row length " + std::to_string(K) + " is not a multiple of 32");
      if (ts.empty())
        w.type = t.type;
      else if (t.type != w.type)  // callers stack only weights of one type (see products())
        throw NativeError("MODEL_SHAPE",
                          "cannot stack " + p.name + " (" + typeName(t.type) + ") onto " + parts[0].name + " (" + typeName(w.type) + ")");
      if (t.nbytes != p.M * rowBytes(t, K)) throw NativeError("MODEL_SHAPE", p.name + ": data size does not match its shape");
      if (uint64_t(w.M) + p.M > UINT32_MAX) throw NativeError("MODEL_SHAPE", "too many rows to stack at " + p.name);
      ts.push_back(&t);
      w.M += p.M;
    }
    const uint64_t M = w.M;
    switch (w.type) {
      case GGML_F32:
      case GGML_F16:
      case GGML_BF16:
      case GGML_Q4_K:
      case GGML_Q5_K: {
        // Plain values, and 144- and 176-byte super-blocks (whole words): uploaded as stored, row after row.
        const uint64_t rb = rowBytes(*ts[0], K);
        w.buffer = Buffer(ctx, M * rb, kWeightUsage, Buffer::Kind::DeviceLocal);
        uint64_t row = 0;
        for (size_t i = 0; i < ts.size(); ++i) {
          uploader.upload(w.buffer.handle(), row * rb, file.data + ts[i]->offset, ts[i]->nbytes);
          row += parts[i].M;
          advance(ts[i]->nbytes);
        }
        break;
      }
      default: {
        // Q8_0, Q4_0, Q6_K (rowBytes rejected every other type): blocks split into an aligned quant region and
        // an f16 scale region. GGUF blocks: Q8_0 = f16 scale + 32 int8 (34 bytes); Q4_0 = f16 scale + 16 bytes
        // of nibbles (18); Q6_K = 208 bytes of ql/qh/scales + f16 scale (210, per 256 elements).
        const bool k6 = w.type == GGML_Q6_K;
        const uint64_t blockElems = k6 ? 256 : 32;
        const uint64_t blockBytes = w.type == GGML_Q8_0 ? 34 : k6 ? 210 : 18;
        const uint64_t quantBytes = blockBytes - 2, quantAt = k6 ? 0 : 2, scaleAt = k6 ? 208 : 0;
        const uint64_t blocksPerRow = K / blockElems, blocks = M * blocksPerRow;
        const uint64_t quantRegion = blocks * quantBytes;
        const uint64_t bytes = quantRegion + ((blocks * 2 + 3) & ~uint64_t(3));
        w.scaleOffsetWords = uint32_t(quantRegion / 4);
        w.buffer = Buffer(ctx, bytes, kWeightUsage, Buffer::Kind::DeviceLocal);
        const uint64_t rowsPerChunk = std::max<uint64_t>(1, (uploader.stagingSize() / 2) / (blocksPerRow * blockBytes));
        uint64_t row = 0;  // the part's first row in the stacked matrix
        for (size_t i = 0; i < ts.size(); ++i) {
          const uint8_t* src = file.data + ts[i]->offset;
          for (uint64_t r0 = 0; r0 < parts[i].M; r0 += rowsPerChunk) {
            const uint64_t rows = std::min<uint64_t>(rowsPerChunk, parts[i].M - r0);
            // Block indices: `from` in the part's tensor, `b0` in the stacked matrix.
            const uint64_t from = r0 * blocksPerRow, b0 = (row + r0) * blocksPerRow, nb = rows * blocksPerRow;
            // Each region is filled before the next reserve, which may hand the staging half to the device.
            uint8_t* q = uploader.reserve(w.buffer.handle(), b0 * quantBytes, nb * quantBytes);
            parallelFor(nb, kBlocksPerThread, threads, [&](uint64_t begin, uint64_t end) {
              for (uint64_t b = begin; b < end; ++b) std::memcpy(q + b * quantBytes, src + (from + b) * blockBytes + quantAt, quantBytes);
            });
            uint8_t* sc = uploader.reserve(w.buffer.handle(), quantRegion + b0 * 2, nb * 2);
            parallelFor(nb, kBlocksPerThread, threads, [&](uint64_t begin, uint64_t end) {
              for (uint64_t b = begin; b < end; ++b) std::memcpy(sc + b * 2, src + (from + b) * blockBytes + scaleAt, 2);
            });
          }
          row += parts[i].M;
          advance(ts[i]->nbytes);
        }
        break;
      }
    }
    for (const TensorDesc* t : ts) matrixBytes += t->nbytes;
    return w;
  }

  WeightMatrix matrix(const std::string& name, uint32_t K, uint32_t M) { return matrix({{name, M}}, K); }

  // One weight that reads a product's x, the activation its rows go to and its row count.
  struct Input {
    std::string name;
    Activation activation;
    uint32_t rows;
  };

  // The products for weights that all read the same x (rows of K), in order: each run of weights of one type
  // is stacked into one product; a run of one is an ordinary matrix.
  std::vector<Product> products(const std::vector<Input>& inputs, uint32_t K) {
    std::vector<Product> out;
    for (size_t i = 0; i < inputs.size();) {
      size_t end = i + 1;
      while (end < inputs.size() && find(inputs[end].name).type == find(inputs[i].name).type) ++end;
      Product p;
      std::vector<Part> parts;
      for (size_t j = i; j < end; ++j) {
        parts.push_back({inputs[j].name, inputs[j].rows});
        p.outputs.push_back({inputs[j].activation, inputs[j].rows});
      }
      p.w = matrix(parts, K);
      out.push_back(std::move(p));
      i = end;
    }
    return out;
  }
};

}  // namespace

ModelWeights::ModelWeights(std::shared_ptr<VkContext> ctx, const std::string& path, const LlamaHParams& hp,
                           const std::vector<TensorDesc>& tensors, const LoadOptions& options, const Progress& progress)
    : ctx_(std::move(ctx)), hp_(hp) {
  if (hp.nHead == 0 || hp.nHeadKv == 0 || hp.nHead % hp.nHeadKv != 0 || hp.headDim * hp.nHead != hp.nEmbd || hp.headDim % 2 != 0 ||
      hp.headDim > 256 || hp.ropeDim > hp.headDim)
    throw NativeError("MODEL_SHAPE", "unsupported attention shape (heads, KV heads, head size)");
  MappedFile file(path);
  Loader L(*ctx_, file, tensors, options, progress);
  // A tied LM head uploads the embedding twice: count it twice in the total too, so progress ends at 100%.
  if (L.byName.count("output.weight") == 0 && L.byName.count("token_embd.weight") != 0) L.total += L.find("token_embd.weight").nbytes;
  const uint32_t E = hp.nEmbd, KV = hp.nHeadKv * hp.headDim, F = hp.nFf;
  tokenEmbd = L.matrix("token_embd.weight", E, hp.nVocab);
  const uint64_t embdBytes = L.matrixBytes;
  tiedOutput = L.byName.count("output.weight") == 0;
  // A tied LM head reuses the embedding's layout: it is uploaded a second time so each WeightMatrix owns its buffer.
  output = L.matrix(tiedOutput ? "token_embd.weight" : "output.weight", E, hp.nVocab);
  outputNorm = L.vector("output_norm.weight", E);
  for (uint32_t i = 0; i < hp.nLayer; ++i) {
    std::string p = "blk." + std::to_string(i) + ".";
    LayerWeights l;
    l.attnNorm = L.vector(p + "attn_norm.weight", E);
    l.qkv = L.products(
        {{p + "attn_q.weight", Activation::Q, E}, {p + "attn_k.weight", Activation::K, KV}, {p + "attn_v.weight", Activation::V, KV}}, E);
    l.o = L.matrix(p + "attn_output.weight", E, E);
    l.ffnNorm = L.vector(p + "ffn_norm.weight", E);
    l.gateUp = L.products({{p + "ffn_gate.weight", Activation::Gate, F}, {p + "ffn_up.weight", Activation::Up, F}}, E);
    l.down = L.matrix(p + "ffn_down.weight", F, E);
    layers.push_back(std::move(l));
  }
  L.uploader.flush();
  deviceBytes_ += tokenEmbd.buffer.size() + output.buffer.size() + outputNorm.size();
  for (auto& l : layers) {
    for (auto& p : l.qkv) deviceBytes_ += p.w.buffer.size();
    for (auto& p : l.gateUp) deviceBytes_ += p.w.buffer.size();
    deviceBytes_ += l.o.buffer.size() + l.down.buffer.size() + l.attnNorm.size() + l.ffnNorm.size();
  }
  weightBytes_ = L.matrixBytes - embdBytes;  // embedding rows are gathered, not read whole, per token
}
