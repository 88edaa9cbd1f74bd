#include "forward_pass.h"

namespace {

// Where a stacked product's weights write: each to its own activation, in row order.
ProductOuts outputsOf(const SessionBuffers& b, const Product& p) {
  ProductOuts outs;
  for (const Product::Output& o : p.outputs) outs.push_back({b.activation(o.activation), o.rows});
  return outs;
}

// The layers with separate RMSNorm, RoPE and SwiGLU passes, then the LM head: prompt steps, and decode in the
// one-lane-per-row kernel set.
void recordUnfusedLayers(LlamaOps& op, const ForwardPass& f, uint32_t tokens, PrefillKernel products) {
  const ModelWeights& m = f.model;
  const LlamaHParams& hp = m.hparams();
  const SessionBuffers& b = f.buffers;
  auto matmul = [&](const WeightMatrix& w, const BufferView& in, const ProductOuts& out, bool accumulate) {
    op.matmul(w, in, out, accumulate, false, tokens, products);
  };

  for (uint32_t l = 0; l < hp.nLayer; ++l) {
    const LayerWeights& w = m.layers[l];
    // Attention block: x += Wo · attention(rope(Wq·n(x)), rope(Wk·n(x)), Wv·n(x)).
    op.rmsnorm(b.x, w.attnNorm, b.xn, tokens, false);  // xn = rmsnorm(x) · attn_norm         [tokens × nEmbd]
    op.barrier();
    for (const Product& p : w.qkv) matmul(p.w, b.xn, outputsOf(b, p), false);  // q; k; v = Wq; Wk; Wv · xn  [tokens × nEmbd; nKV; nKV]
    op.barrier();
    op.ropeKv(b.q, b.k, b.v, l, tokens);  // rotate q and k; k, v → the layer's KV cache (f16)
    op.barrier();
    op.attention(b.q, b.attn, l, tokens);  // attn = softmax(q·Kᵀ/√headDim)·V, causal, GQA  [tokens × nEmbd]
    op.barrier();
    matmul(w.o, b.attn, {{b.x, hp.nEmbd}}, true);  // x += Wo · attn                           [tokens × nEmbd]
    op.barrier();

    // Feed-forward block: x += Wdown · (silu(Wgate·n(x)) * Wup·n(x)).
    op.rmsnorm(b.x, w.ffnNorm, b.xn, tokens, false);  // xn = rmsnorm(x) · ffn_norm           [tokens × nEmbd]
    op.barrier();
    for (const Product& p : w.gateUp) matmul(p.w, b.xn, outputsOf(b, p), false);  // gate; up = Wgate; Wup · xn  [tokens × nFf; nFf]
    op.barrier();
    op.siluMul(b.gate, b.up, tokens);  // gate = silu(gate) · up                              [tokens × nFf]
    op.barrier();
    matmul(w.down, b.gate, {{b.x, hp.nEmbd}}, true);  // x += Wdown · gate                   [tokens × nEmbd]
    op.barrier();
  }

  // LM head, only for the tokens whose logits are wanted; then the greedy token.
  op.rmsnorm(b.x, m.outputNorm, b.xn, tokens, true);  // xn = rmsnorm(x) · output_norm       [wanted × nEmbd]
  op.barrier();
  op.matmul(m.output, b.xn, {{b.logits, hp.nVocab}}, false, true, tokens, products);  // logits = Wout · xn  [wanted × nVocab]
  op.barrier();
  op.argmax(b.logits);  // argmax = index of the largest logit (of the last token)
}

}  // namespace

void recordDecodeStep(Recorder& r, const ForwardPass& f) {
  LlamaOps op(r, f);
  if (f.kernels.decode == DecodeKernel::Lane) {
    recordUnfusedLayers(op, f, 1, PrefillKernel::Lane);
    return;
  }
  // On the matrix-vector kernels each RMSNorm is fused into the products that read it, SwiGLU into the gate/up
  // or the down product, and RoPE with the KV-cache store into attention: 5 dispatches per layer.
  const ModelWeights& m = f.model;
  const LlamaHParams& hp = m.hparams();
  const SessionBuffers& b = f.buffers;

  for (uint32_t l = 0; l < hp.nLayer; ++l) {
    const LayerWeights& w = m.layers[l];
    const BufferView attnNorm(w.attnNorm), ffnNorm(w.ffnNorm);
    // Attention block: x += Wo · attention(rope(Wq·n(x)), rope(Wk·n(x)), Wv·n(x)).
    for (const Product& p : w.qkv)
      op.matvec(p.w, b.x, outputsOf(b, p), false, XMode::RmsNorm, &attnNorm);  // q; k; v = Wq; Wk; Wv · rmsnorm(x)
    op.barrier();
    op.attentionDecode(b.q, b.k, b.v, b.attn, l);  // attn = attention(rope(q), cache + rope(k), cache + v)  [nEmbd]
    op.barrier();
    op.matvec(w.o, b.attn, {{b.x, hp.nEmbd}}, true, XMode::Plain, nullptr);  // x += Wo · attn  [nEmbd]
    op.barrier();

    // Feed-forward block: x += Wdown · (silu(Wgate·n(x)) * Wup·n(x)).
    if (f.kernels.swigluPairs && w.gateUp.size() == 1) {
      // Gate and up stacked: their product writes silu(gate)·up, which the down product reads as it is.
      op.matvecSwigluPairs(w.gateUp[0].w, b.x, b.gate, hp.nFf, ffnNorm);  // gate = silu(Wgate · rmsnorm(x)) · (Wup · rmsnorm(x))  [nFf]
      op.barrier();
      op.matvec(w.down, b.gate, {{b.x, hp.nEmbd}}, true, XMode::Plain, nullptr);  // x += Wdown · gate  [nEmbd]
    } else {
      // The down product computes SwiGLU as it reads gate and up (once per row it owns).
      for (const Product& p : w.gateUp)
        op.matvec(p.w, b.x, outputsOf(b, p), false, XMode::RmsNorm, &ffnNorm);  // gate; up = Wgate; Wup · rmsnorm(x)
      op.barrier();
      op.matvec(w.down, b.gate, {{b.x, hp.nEmbd}}, true, XMode::SwiGlu, &b.up);  // x += Wdown · (silu(gate) · up)  [nEmbd]
    }
    op.barrier();
  }

  // LM head (final norm fused); the greedy token inside its product, or a dispatch of its own.
  const BufferView outputNorm(m.outputNorm);
  if (f.kernels.fusedArgmax) {
    op.matvecArgmax(m.output, b.x, b.logits, hp.nVocab, outputNorm);  // logits = Wout · rmsnorm(x); argmax  [nVocab]
  } else {
    op.matvec(m.output, b.x, {{b.logits, hp.nVocab}}, false, XMode::RmsNorm, &outputNorm);  // logits = Wout · rmsnorm(x)  [nVocab]
    op.barrier();
    op.argmax(b.logits);
  }
}

void recordPromptStep(Recorder& r, const ForwardPass& f, uint32_t capacity, PrefillKernel products) {
  LlamaOps op(r, f);
  op.embed(f.buffers.tokens, f.buffers.x, capacity);  // x = token_embd[tokens]  [tokens × nEmbd]
  op.barrier();
  recordUnfusedLayers(op, f, capacity, products);
}
