// A Llama model's weights, resident in device-local memory. Loading memory-maps the GGUF file and
// streams each tensor through a staging buffer; quantized blocks are repacked for aligned GPU reads
// (see native/shaders/weights.glsl). The GGUF header itself is parsed in TypeScript (runtime/gguf).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "buffer.h"

class VkContext;

enum GgmlType : uint32_t {
  GGML_F32 = 0,
  GGML_F16 = 1,
  GGML_Q4_0 = 2,
  GGML_Q8_0 = 8,
  GGML_Q4_K = 12,
  GGML_Q5_K = 13,
  GGML_Q6_K = 14,
  GGML_BF16 = 30
};

struct TensorDesc {
  std::string name;
  uint32_t type;
  std::vector<uint64_t> dims;  // ggml order: dims[0] is the contiguous (row) length
  uint64_t offset;             // absolute offset of the data in the file
  uint64_t nbytes;
};

struct LlamaHParams {
  uint32_t nLayer, nEmbd, nHead, nHeadKv, nFf, nVocab, ropeDim, headDim;
  float ropeBase, rmsEps;
};

// A 2-D weight [M rows of K] in one of the GPU layouts.
struct WeightMatrix {
  Buffer buffer;
  uint32_t type = 0;
  uint32_t K = 0, M = 0;
  uint32_t scaleOffsetWords = 0;  // quantized types: where the f16 scales start
};

// The activations a layer's stacked products write; the session keeps one buffer view for each.
enum class Activation : uint32_t { Q, K, V, Gate, Up };

// One dispatch's matrix: weights that read the same x (q, k and v; gate and up) and share a type, their rows
// stacked in order into one matrix, so one dispatch covers them all. Each weight's rows still go to their own
// activation: `outputs` lists them in row order (at most 3, what the product kernels address).
struct Product {
  struct Output {
    Activation activation;
    uint32_t rows;
  };
  WeightMatrix w;
  std::vector<Output> outputs;
};

struct LayerWeights {
  Buffer attnNorm, ffnNorm;  // f32 [nEmbd]
  // q, k, v: one product when all three share a type. Otherwise each run of one type is a product: llama.cpp's
  // Q4_K_M gives attn_v more bits in some layers, so there q and k are one product and v another.
  std::vector<Product> qkv;
  WeightMatrix o;
  std::vector<Product> gateUp;  // gate and up: one product when they share a type
  WeightMatrix down;
};

// How a load runs (tests and experiments change it: addon.cpp reads PARLEY_LOAD_THREADS and
// PARLEY_UPLOAD_STAGING_KIB).
struct LoadOptions {
  uint32_t threads = 0;  // threads that repack quantized blocks; 0: the CPU's cores, at most 8
  // Each half of the staging buffer, in KiB: 32 MiB (a small one makes a load switch halves often).
  uint32_t stagingKiB = 32u << 10;
};

class ModelWeights {
  // Declared first so it is destroyed last: every buffer below needs the device to release.
  std::shared_ptr<VkContext> ctx_;

 public:
  using Progress = std::function<void(uint64_t done, uint64_t total)>;
  ModelWeights(std::shared_ptr<VkContext> ctx, const std::string& path, const LlamaHParams& hp, const std::vector<TensorDesc>& tensors,
               const LoadOptions& options, const Progress& progress);

  const LlamaHParams& hparams() const { return hp_; }
  VkContext& context() const { return *ctx_; }
  std::shared_ptr<VkContext> contextPtr() const { return ctx_; }
  uint64_t deviceBytes() const { return deviceBytes_; }
  // Bytes the matrices' data occupies (each read once per token; the embedding is gathered, so not counted):
  // the tensors' GGUF sizes, which the GPU layouts keep (stacking included) apart from alignment padding.
  uint64_t weightBytes() const { return weightBytes_; }

  WeightMatrix tokenEmbd;
  WeightMatrix output;  // a copy of token_embd's layout when the model ties them (no output.weight)
  bool tiedOutput = false;
  Buffer outputNorm;
  std::vector<LayerWeights> layers;

 private:
  LlamaHParams hp_;
  uint64_t deviceBytes_ = 0;
  uint64_t weightBytes_ = 0;
};
