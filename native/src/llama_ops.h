// The Llama forward pass's operations, one dispatch each: which kernel (and specialization constants) runs an
// op with the session's kernel choice, its push constants and its grid. forward_pass.cpp strings them together.
// Operands the forward pass moves data through (x, q, attn, ...) are arguments; each op's own scratch (the KV
// cache, the RoPE table, partial results, counters) comes from the session's buffers.
#pragma once
#include <cstdint>
#include <vector>

#include "buffer.h"
#include "kernel_choice.h"
#include "model_weights.h"
#include "recorder.h"
#include "session_buffers.h"

// What a recording reads besides its operands.
struct ForwardPass {
  const ModelWeights& model;
  const KernelChoice& kernels;
  const SessionBuffers& buffers;
  uint32_t contextSize;
  uint32_t subgroupSize;  // the device's
};

constexpr uint32_t kMaxGroups = 65535;  // per grid dimension that the kernels spill rows over

struct Grid {
  uint32_t x = 1, y = 1, z = 1;
  uint64_t workgroups() const { return uint64_t(x) * y * z; }
};
// Workgroups of `rowsPerWg` rows each over `rows` rows; past kMaxGroups they spill into the grid's y.
Grid productGrid(uint32_t rowsPerWg, uint32_t rows);
// Rows a workgroup of the matrix-vector kernels covers: its subgroups (256 threads) × rows per subgroup.
uint32_t matvecRowsPerWorkgroup(uint32_t subgroupSize, uint32_t rowsPerSubgroup);

// Where a product's rows go: consecutive row ranges of W (a stacked matrix: one per weight), each to its own
// view, all views in one buffer. Token t's row r of an output lands at view[t·rows + r].
struct ProductOut {
  BufferView view;
  uint32_t rows;
};
using ProductOuts = std::vector<ProductOut>;

// The step fused in front of a decode product: y (+)= W·f(x) with f nothing, the RMSNorm (aux = its weight) or
// SwiGLU's silu(x)·aux (x = gate, aux = up). Values as matvec.comp's x_mode.
enum class XMode : uint32_t { Plain = 0, RmsNorm = 1, SwiGlu = 2 };

class LlamaOps {
 public:
  LlamaOps(Recorder& r, const ForwardPass& f) : r_(r), f_(f), hp_(f.model.hparams()) {}

  void barrier() { r_.barrier(); }

  // x = token_embd[tokens] for up to `capacity` tokens.
  void embed(const Buffer& tokens, const Buffer& x, uint32_t capacity);
  // out = RMSNorm(x) · weight per token (`logitsOnly`: only the tokens whose logits the step wants).
  void rmsnorm(const Buffer& x, const Buffer& weight, const Buffer& out, uint32_t capacity, bool logitsOnly);

  // Decode: y (+)= W·f(x) for one token, through the matrix-vector kernels.
  void matvec(const WeightMatrix& w, const BufferView& x, const ProductOuts& outs, bool accumulate, XMode mode, const BufferView* aux);
  // ... the LM head: logits = W·RMSNorm(x), and the largest logit's index into the argmax buffer (matvec.comp's ARGMAX).
  void matvecArgmax(const WeightMatrix& w, const BufferView& x, const BufferView& logits, uint32_t rows, const BufferView& norm);
  // ... gate and up stacked in equal halves: out = silu(gate)·up of RMSNorm(x), one row per gate row (matvec.comp's PAIRS).
  void matvecSwigluPairs(const WeightMatrix& w, const BufferView& x, const BufferView& out, uint32_t rows, const BufferView& norm);

  // Prompt steps: y (+)= W·x over up to `capacity` tokens through `kernel` (one token: one lane per row).
  void matmul(const WeightMatrix& w, const BufferView& x, const ProductOuts& outs, bool accumulate, bool logitsOnly, uint32_t capacity,
              PrefillKernel kernel);

  // Prompt steps: RoPE on q and k, then k and v into layer `layer`'s KV cache.
  void ropeKv(const BufferView& q, const BufferView& k, const BufferView& v, uint32_t layer, uint32_t capacity);
  // Prompt steps: attn = causal GQA attention of q over the cached keys and values.
  void attention(const BufferView& q, const Buffer& attn, uint32_t layer, uint32_t capacity);
  // Decode: RoPE, the KV-cache store and attention in one, split over key chunks.
  void attentionDecode(const BufferView& q, const BufferView& k, const BufferView& v, const Buffer& attn, uint32_t layer);
  // gate = silu(gate) · up.
  void siluMul(const BufferView& gate, const BufferView& up, uint32_t capacity);
  // The greedy token: the largest logit's index into the argmax buffer.
  void argmax(const Buffer& logits);

  // The 64 most likely tokens of the logits row into the topk buffer.
  void topk();
  // The GPU loop's advance: the step's argmax becomes the next token, embedded into x.
  void decodeAdvance();
  // ... or the sampled advance: penalties, top 64, a draw with the host sampler's chain, embedded into x.
  void topkSample();

 private:
  struct OutputRows;  // output_rows.glsl's push constants
  BufferView outputRows(const WeightMatrix& w, const ProductOuts& outs, OutputRows& rows) const;
  struct MatvecVariant {
    bool argmax = false, swigluPairs = false;
  };
  void matvecDispatch(const WeightMatrix& w, const BufferView& x, const BufferView& y, uint32_t M, const OutputRows& seg, bool accumulate,
                      XMode mode, const BufferView& aux, MatvecVariant variant);

  Recorder& r_;
  const ForwardPass& f_;
  const LlamaHParams& hp_;
};
