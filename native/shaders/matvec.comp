#version 450
// Decode's matrix-vector product y (+)= W · f(x) for one token, with the step before it fused in.
// Each subgroup computes ROWS whole rows at once: its lanes read consecutive 32-bit words of the rows
// (coalesced on GPUs), gather the matching x values once and dot them with every row's word, and reduce
// with subgroupAdd. ROWS is a specialization constant chosen per device (more rows reuse each x load
// more often; fewer rows put more subgroups on the GPU).
// f(x) is chosen by `x_mode`: x itself; RMSNorm(x) * aux; or SwiGLU's silu(x) * aux (x = gate, aux = up).
// Either way a separate dispatch and its barrier disappear. RMSNorm's scale 1/rms(x) is the same for every
// element, so unstaged it comes out of the sum: a subgroup's lanes read every x value of a row between
// them, so each subgroup sums x² from the loads its products make anyway and scales its dot products at
// the end — no prologue pass over x, no workgroup barrier, and the weight loads start as the kernel does
// (decode's products are small enough that their time is mostly such latency chains).
// DOT8 (compiled as the separate matvec_dot8_* kernels, Q4_0 and Q8_0 only, for devices with the 4×8-bit
// integer dot product): f(x) is staged and rounded to signed bytes per 32-element block, as llama.cpp
// rounds activations for its quantized dot products, and each weight word is dotted with 4 x bytes per
// instruction instead of being decoded to floats.
// ARGMAX (compiled as matvec_argmax_* / matvec_dot8_argmax_*, for decode's LM head): the product also finds the
// index of its largest output (ties → lowest index, as argmax.comp) without a dispatch of its own: each
// workgroup reduces its rows to one candidate and stores it, and the last workgroup to finish (a counter, as
// attention_decode.comp combines its key chunks) reduces the candidates and writes the index.
#ifdef DOT8
#extension GL_EXT_spirv_intrinsics : require
#extension GL_KHR_shader_subgroup_shuffle : enable
#endif
#extension GL_KHR_shader_subgroup_basic : enable
#extension GL_KHR_shader_subgroup_arithmetic : enable
#extension GL_EXT_control_flow_attributes : enable
#include "common.glsl"

#define WEIGHT_BINDING 1
#include "weights.glsl"

layout(local_size_x = 256) in;
layout(constant_id = 0) const uint ROWS = 1u;    // rows per subgroup
layout(constant_id = 1) const uint XSTAGE = 0u;  // 1: f(x) is computed once per workgroup into shared memory
layout(constant_id = 2) const uint TOKENS = 1u;  // > 1: a prefill step, TOKENS tokens per workgroup (grid z)
// 4: decode lanes load 4 adjacent quant words (16 bytes) at once, so a subgroup's load covers 16 bytes per
// lane instead of 4 (the host picks it only where a row has a multiple of 4 words).
layout(constant_id = 3) const uint WIDE = 1u;
// 1: the product is gate and up stacked (gate's M rows, then up's M rows; pc.M = M) and writes SwiGLU's
// silu(gate)·up itself: acc[2j] is gate row row0 + j, acc[2j + 1] up row row0 + j (ROWS even), so the down
// product reads one vector and computes no exponentials (it would compute each one once per row it owns).
layout(constant_id = 4) const uint PAIRS = 0u;
const uint OUT_ROWS = PAIRS != 0u ? ROWS / 2u : ROWS;  // output rows per subgroup
const uint STAGE_MAX = 6144u;                    // the longest row staged (the host checks K against it)
layout(std430, set = 0, binding = 2) readonly buffer X { float x[]; };
// x (and aux below) as 4-float groups: where f(x) is not staged, gather4 loads 4 values at a time.
layout(std430, set = 0, binding = 2) readonly buffer X4 { vec4 x4[]; };
layout(std430, set = 0, binding = 3) buffer Y { float y[]; };
layout(std430, set = 0, binding = 4) readonly buffer Aux { float aux[]; };  // norm weight or SwiGLU's up
layout(std430, set = 0, binding = 4) readonly buffer Aux4 { vec4 aux4[]; };

layout(push_constant) uniform PC {
  uint K;             // row length in elements
  uint M;             // rows
  uint scale_offset;  // quantized types: uint index where the f16 block scales start
  uint accumulate;    // 1: y += W·x (residual add fused)
  uint x_mode;        // X_PLAIN, X_RMSNORM or X_SWIGLU
  float eps;
  uint rows_per_wg;   // output rows this workgroup covers (a multiple of OUT_ROWS); its subgroups take them in turn
  uint logits_only;   // TOKENS > 1: only tokens [logits_begin, n_tokens), written from y row 0
  uint seg_row1;      // stacked weights: rows where segments 1 and 2 start (M when absent; output_rows.glsl)
  uint seg_row2;
  uint seg_base1;     // float offsets of segments 1 and 2's regions in y
  uint seg_base2;
} pc;

#include "output_rows.glsl"

#ifdef ARGMAX
// counter: workgroups finished (the last one resets it); best[wg]: that workgroup's (logit bits, row).
layout(std430, set = 0, binding = 5) coherent buffer Candidates { uint counter; uint pad; uvec2 best[]; } cand;
layout(std430, set = 0, binding = 6) writeonly buffer Result { uint argmax_result[]; };
shared bool last_wg;
#endif

shared float partial[256];
#ifdef DOT8
const uint STAGED = 1u;  // the byte rounding reads the staged f(x), whatever XSTAGE says
const uint WIDE_DECODE = 0u;
const uint XPAD = 0u;    // its byte copy of x needs the shared memory a padded stage would take
#else
const uint STAGED = XSTAGE;
const uint WIDE_DECODE = WIDE > 1u ? 1u : 0u;
// The lanes of a subgroup read x in strides of 32 floats — with 16-byte loads each lane's words cover 16..32
// adjacent elements; with 4-byte ones, Q4_0's lanes 4 apart start a block (32 floats) apart, so 32 lanes hit 4
// shared-memory banks — one pad float after every 32 spreads them over the banks (Q4_0: at most 2 lanes per
// bank; Q8_0: none shared).
const uint XPAD = STAGED;
#endif
shared float xstage[STAGED != 0u ? STAGE_MAX + XPAD * (STAGE_MAX / 32u) : 1u];
uint xs_at(uint k) { return k + XPAD * (k >> 5); }

// Elements per unit of work: one 32-bit word of the row's quants (K-quants: of its 4-bit nibbles).
#if defined(WTYPE_Q4_0) || defined(WTYPE_K_QUANT)
const uint ELEMS_PER_WORD = 8u;
#elif defined(WTYPE_Q8_0)
const uint ELEMS_PER_WORD = 4u;
#elif defined(WTYPE_F32)
const uint ELEMS_PER_WORD = 1u;
#else
const uint ELEMS_PER_WORD = 2u;
#endif

const uint X_PLAIN = 0u, X_RMSNORM = 1u, X_SWIGLU = 2u;

#ifdef DOT8
// OpSDot from SPV_KHR_integer_dot_product on two words of four signed bytes (GL_EXT_integer_dot_product's
// dotPacked4x8EXT, which Debian's glslang does not know yet): capabilities DotProduct (6019) and
// DotProductInput4x8BitPacked (6018); the literal operand 0 is PackedVectorFormat4x8Bit.
spirv_instruction(extensions = ["SPV_KHR_integer_dot_product"], capabilities = [6019, 6018], id = 4450)
int dot4x8(int a, int b, spirv_literal int packed_vector_format);

shared uint xq[STAGE_MAX / 4u];          // f(x) as signed bytes, 4 per word
shared float xq_scale[STAGE_MAX / 32u];  // per 32-element block: f(x) ≈ byte · scale
#endif

#ifdef ARGMAX
// One candidate per subgroup for the reduction across subgroups (at most 64: subgroups of 4 or more). The DOT8
// build has no shared memory to spare: there they reuse `partial` and the byte-rounded x's words, which the
// products are done with by then.
#ifdef DOT8
#define best_v partial
#define best_i xq
#else
shared float best_v[64];
shared uint best_i[64];
#endif

// (v, i) beats (bv, bi): larger, or equal with a lower index. NaN never wins (as in argmax.comp).
bool beats(float v, uint i, float bv, uint bi) { return v > bv || (v == bv && i < bi); }

// The best of the subgroup's lanes' (v, i) (every lane gets it). v is never NaN: beats() never picks one.
void subgroup_best(inout float v, inout uint i) {
  float m = subgroupMax(v);
  i = subgroupMin(v == m ? i : 0xffffffffu);
  v = m;
}

// Subgroup 0 reduces the subgroups' candidates in best_v/best_i (call after a barrier; valid in subgroup 0).
void best_of_subgroups(out float v, out uint i) {
  v = -1.0 / 0.0;
  i = 0xffffffffu;
  for (uint s = gl_SubgroupInvocationID; s < gl_NumSubgroups; s += gl_SubgroupSize) {
    if (beats(best_v[s], best_i[s], v, i)) {
      v = best_v[s];
      i = best_i[s];
    }
  }
  subgroup_best(v, i);
}
#endif

uint x_base = 0u;  // TOKENS > 1: where the current token's x starts

// Unstaged RMSNorm: Σ x² over the x values this lane has read since its row loop began (main() reduces it
// over the subgroup into the scale). Staged: the scale stage_x found. Either way it multiplies the sums.
float lane_ss = 0.0;
float x_scale = 1.0;

float xin(uint k) {
  if (TOKENS > 1u) return x[x_base + k];  // prefill: x is already normalized (X_PLAIN)
  if (STAGED != 0u) return xstage[xs_at(k)];
  if (pc.x_mode == X_RMSNORM) {
    float v = x[k];
    lane_ss += v * v;
    return v * aux[k];  // the scale is applied to the finished sums
  }
  if (pc.x_mode == X_SWIGLU) {
    float g = x[k];
    return g / (1.0 + exp(-g)) * aux[k];
  }
  return x[k];
}

#if !defined(WTYPE_F32) && !defined(WTYPE_F16) && !defined(WTYPE_BF16)
// f(x) at the 4 adjacent elements from k (a multiple of 4), as xin computes it, into xs[at..at + 3]: from
// global memory with one 16-byte load of x (and of aux) instead of 4 scalar ones each. Every buffer these
// kernels read x and aux from starts at a multiple of 256 bytes, and prefill's x_base is a multiple of K.
void gather4(uint k, inout float xs[ELEMS_PER_WORD], uint at) {
  vec4 v;
  if (TOKENS > 1u) {
    v = x4[(x_base + k) >> 2];
  } else if (STAGED != 0u) {
    [[unroll]] for (uint i = 0u; i < 4u; ++i) v[i] = xstage[xs_at(k + i)];
  } else {
    v = x4[k >> 2];
    if (pc.x_mode == X_RMSNORM) {
      lane_ss += dot(v, v);
      v *= aux4[k >> 2];  // the scale is applied to the finished sums
    } else if (pc.x_mode == X_SWIGLU) {
      v = v / (1.0 + exp(-v)) * aux4[k >> 2];
    }
  }
  [[unroll]] for (uint i = 0u; i < 4u; ++i) xs[at + i] = v[i];
}
#endif

// The x values word `w` of any row multiplies, in the order word_values lists the weights.
void gather_x(uint w, out float xs[ELEMS_PER_WORD]) {
#if defined(WTYPE_F32)
  xs[0] = xin(w);
#elif defined(WTYPE_F16) || defined(WTYPE_BF16)
  xs[0] = xin(2u * w);
  xs[1] = xin(2u * w + 1u);
#elif defined(WTYPE_Q8_0)
  // 8 words per 32-element block; word j holds elements 4j..4j+3.
  gather4((w >> 3) * 32u + (w & 7u) * 4u, xs, 0u);
#elif defined(WTYPE_Q4_0)
  // 4 words per block; byte b of word j holds element 4j+b (low nibble) and 4j+b+16 (high nibble).
  uint base = (w >> 2) * 32u + (w & 3u) * 4u;
  gather4(base, xs, 0u);
  gather4(base + 16u, xs, 4u);
#elif defined(WTYPE_Q4_K) || defined(WTYPE_Q5_K)
  // 32 nibble words per super-block; word 8c+i holds elements 64c+4i.. (low nibbles, sub-block 2c) and
  // 64c+32+4i.. (high nibbles, sub-block 2c+1).
  uint qw = w & 31u, e = (w >> 5) * 256u + 64u * (qw >> 3) + 4u * (qw & 7u);
  gather4(e, xs, 0u);
  gather4(e + 32u, xs, 4u);
#elif defined(WTYPE_Q6_K)
  // 32 ql words per super-block; word 16h+8p+i holds, for l = 4i..4i+3, element 128h+32p+l (low nibbles)
  // and 128h+32(p+2)+l (high nibbles).
  uint qw = w & 31u, e = (w >> 5) * 256u + 128u * (qw >> 4) + 32u * ((qw >> 3) & 1u) + 4u * (qw & 7u);
  gather4(e, xs, 0u);
  gather4(e + 64u, xs, 4u);
#else
#error "define a WTYPE_*"
#endif
}

// Where word `w` of row `row` sits in the weight buffer: the one place that knows each format's row layout.
// Words 4j..4j+3 of a row are always adjacent and 16-byte aligned (K-quant super-blocks hold 32 quant words
// at a multiple of 4), which the WIDE loads rely on.
uint quant_word_index(uint row, uint w, uint words_per_row) {
#if defined(WTYPE_Q4_K)
  return (row * (pc.K / 256u) + (w >> 5)) * Q4_K_WORDS + 4u + (w & 31u);
#elif defined(WTYPE_Q5_K)
  return (row * (pc.K / 256u) + (w >> 5)) * Q5_K_WORDS + 12u + (w & 31u);
#elif defined(WTYPE_Q6_K)
  return (row * (pc.K / 256u) + (w >> 5)) * Q6_K_WORDS + (w & 31u);
#else
  return row * words_per_row + w;
#endif
}

#if defined(WTYPE_F32)
uint weight_word(uint i) { return floatBitsToUint(w_f32[i]); }
#else
uint weight_word(uint i) { return w_u32[i]; }
#endif
// The same buffer as 16-byte words, for WIDE loads.
layout(std430, set = 0, binding = WEIGHT_BINDING) readonly buffer WeightQuads { uvec4 w_quads[]; };

// The dequantized weights of word `w` of row `row`, whose quant word `u` the caller loaded, in gather_x's
// order: the one place that knows how a word of each format decodes (prefill decodes it once for every
// token of the workgroup).
void decode_word(uint u, uint row, uint w, out float wv[ELEMS_PER_WORD]) {
#if defined(WTYPE_F32)
  wv[0] = uintBitsToFloat(u);
#elif defined(WTYPE_F16)
  vec2 h = unpackHalf2x16(u);
  wv[0] = h.x;
  wv[1] = h.y;
#elif defined(WTYPE_BF16)
  wv[0] = uintBitsToFloat(u << 16);
  wv[1] = uintBitsToFloat(u & 0xffff0000u);
#elif defined(WTYPE_Q8_0)
  float d = block_scale(row * (pc.K / 32u) + (w >> 3), pc.scale_offset);
  [[unroll]] for (uint k = 0u; k < 4u; ++k) wv[k] = float(bitfieldExtract(int(u), int(8u * k), 8)) * d;
#elif defined(WTYPE_Q4_0)
  float d = block_scale(row * (pc.K / 32u) + (w >> 2), pc.scale_offset);
  [[unroll]] for (uint k = 0u; k < 4u; ++k) {
    wv[k] = (float((u >> (8u * k)) & 15u) - 8.0) * d;
    wv[k + 4u] = (float((u >> (8u * k + 4u)) & 15u) - 8.0) * d;
  }
#elif defined(WTYPE_Q4_K) || defined(WTYPE_Q5_K)
  uint sb = row * (pc.K / 256u) + (w >> 5), qw = w & 31u, c = qw >> 3;
#if defined(WTYPE_Q4_K)
  uint base = sb * Q4_K_WORDS;
#else
  uint base = sb * Q5_K_WORDS, hbits = w_u32[base + 4u + (qw & 7u)];
#endif
  vec2 dm = unpackHalf2x16(w_u32[base]);
  vec2 smlo = k_scale_min(4u * base + 4u, 2u * c), smhi = k_scale_min(4u * base + 4u, 2u * c + 1u);
  float dlo = dm.x * smlo.x, mlo = dm.y * smlo.y, dhi = dm.x * smhi.x, mhi = dm.y * smhi.y;
  [[unroll]] for (uint k = 0u; k < 4u; ++k) {
    uint lo = (u >> (8u * k)) & 15u, hi = (u >> (8u * k + 4u)) & 15u;
#if defined(WTYPE_Q5_K)
    lo |= ((hbits >> (8u * k + 2u * c)) & 1u) << 4;
    hi |= ((hbits >> (8u * k + 2u * c + 1u)) & 1u) << 4;
#endif
    wv[k] = dlo * float(lo) - mlo;
    wv[k + 4u] = dhi * float(hi) - mhi;
  }
#elif defined(WTYPE_Q6_K)
  uint sb = row * (pc.K / 256u) + (w >> 5), qw = w & 31u, h = qw >> 4, p = (qw >> 3) & 1u, i = qw & 7u;
  uint base = sb * Q6_K_WORDS, hbits = w_u32[base + 32u + 8u * h + i];
  uint si = 8u * h + 2u * p + (i >> 2);
  float d = block_scale(sb, pc.scale_offset), slo = d * q6_scale(base, si), shi = d * q6_scale(base, si + 4u);
  [[unroll]] for (uint k = 0u; k < 4u; ++k) {
    int lo = int(((u >> (8u * k)) & 15u) | (((hbits >> (8u * k + 2u * p)) & 3u) << 4)) - 32;
    int hi = int(((u >> (8u * k + 4u)) & 15u) | (((hbits >> (8u * k + 2u * p + 4u)) & 3u) << 4)) - 32;
    wv[k] = slo * float(lo);
    wv[k + 4u] = shi * float(hi);
  }
#endif
}

void word_values(uint row, uint w, uint words_per_row, out float wv[ELEMS_PER_WORD]) {
  decode_word(weight_word(quant_word_index(row, w, words_per_row)), row, w, wv);
}

// A prefill step: each subgroup computes ROWS rows for the workgroup's TOKENS tokens, decoding every weight
// word once for all of them; x is the step's normalized input, token t at t·K.
void prefill_rows(uint wg) {
  uint t_begin = pc.logits_only != 0u ? step.logits_begin : 0u;
  uint t0 = t_begin + gl_WorkGroupID.z * TOKENS;
  if (t0 >= step.n_tokens) return;  // the grid covers the recorded capacity; this step has fewer tokens
  uint nt = min(TOKENS, step.n_tokens - t0);
  uint words_per_row = pc.K / ELEMS_PER_WORD;
  for (uint r = gl_SubgroupID * ROWS; r < pc.rows_per_wg; r += gl_NumSubgroups * ROWS) {
    uint row0 = wg * pc.rows_per_wg + r;
    if (row0 >= pc.M) break;
    uint rows = min(ROWS, pc.M - row0);
    float acc[ROWS][TOKENS];
    [[unroll]] for (uint i = 0u; i < ROWS; ++i) [[unroll]] for (uint t = 0u; t < TOKENS; ++t) acc[i][t] = 0.0;
    for (uint w = gl_SubgroupInvocationID; w < words_per_row; w += gl_SubgroupSize) {
      float xs[TOKENS][ELEMS_PER_WORD];
      [[unroll]] for (uint t = 0u; t < TOKENS; ++t) {
        x_base = (t0 + min(t, nt - 1u)) * pc.K;  // tokens past the step repeat the last one (not written)
        gather_x(w, xs[t]);
      }
      [[unroll]] for (uint i = 0u; i < ROWS; ++i) {
        if (i >= rows) break;
        float wv[ELEMS_PER_WORD];
        word_values(row0 + i, w, words_per_row, wv);
        [[unroll]] for (uint t = 0u; t < TOKENS; ++t) {
          float s = 0.0;
          [[unroll]] for (uint e = 0u; e < ELEMS_PER_WORD; ++e) s += wv[e] * xs[t][e];
          acc[i][t] += s;
        }
      }
    }
    [[unroll]] for (uint i = 0u; i < ROWS; ++i) {
      [[unroll]] for (uint t = 0u; t < TOKENS; ++t) {
        float sum = subgroupAdd(acc[i][t]);
        if (i < rows && t < nt && subgroupElect()) {
          uint yo = out_index(t0 + t - t_begin, row0 + i);
          y[yo] = pc.accumulate != 0u ? y[yo] + sum : sum;
        }
      }
    }
  }
}

// Dot product of word `w` of row `row` with its x values (decode: one token).
float word_dot(uint row, uint w, uint words_per_row, float xs[ELEMS_PER_WORD]) {
  float wv[ELEMS_PER_WORD];
  word_values(row, w, words_per_row, wv);
  float s = 0.0;
  [[unroll]] for (uint e = 0u; e < ELEMS_PER_WORD; ++e) s += wv[e] * xs[e];
  return s;
}

#ifdef DOT8
// Rounds the staged f(x) to signed bytes: scale = max|f(x)| / 127 per 32-element block (kept as f16, as
// llama.cpp's Q8_0 activations keep it), byte = round(f(x) / scale), halves away from zero. Every thread
// takes one 4-element word at a time, numbered by subgroup lane so that 8 neighbouring lanes hold one block
// and find its maximum with three shuffles (subgroups are at least 8 wide); the loop count is the same for
// every lane, so the shuffles never run in divergent control flow.
void quantize_x() {
  uint words = pc.K / 4u;
  uint lane_base = gl_SubgroupID * gl_SubgroupSize + gl_SubgroupInvocationID;
  for (uint first = 0u; first < words; first += gl_NumSubgroups * gl_SubgroupSize) {
    uint q = first + lane_base;
    vec4 v = q < words ? vec4(xstage[4u * q], xstage[4u * q + 1u], xstage[4u * q + 2u], xstage[4u * q + 3u]) : vec4(0.0);
    vec4 a = abs(v);
    float amax = max(max(a.x, a.y), max(a.z, a.w));
    amax = max(amax, subgroupShuffleXor(amax, 1u));
    amax = max(amax, subgroupShuffleXor(amax, 2u));
    amax = max(amax, subgroupShuffleXor(amax, 4u));
    float d = amax / 127.0;
    float inv = d > 0.0 ? 1.0 / d : 0.0;
    if (q < words) {
      ivec4 b = ivec4(sign(v) * floor(abs(v * inv) + 0.5));
      xq[q] = (uint(b.x) & 255u) | ((uint(b.y) & 255u) << 8) | ((uint(b.z) & 255u) << 16) | ((uint(b.w) & 255u) << 24);
      if ((q & 7u) == 0u) xq_scale[q >> 3] = unpackHalf2x16(packHalf2x16(vec2(d, 0.0))).x;
    }
  }
  barrier();
}

// Dot product of word `w` of row `row` with the quantized f(x): one or two integer dot instructions, then
// the two block scales. The x word index follows gather_x's element order.
float word_dot8(uint row, uint w, uint words_per_row) {
  uint u = w_u32[row * words_per_row + w];
#if defined(WTYPE_Q8_0)
  uint blk = w >> 3;  // word j of a block holds elements 4j..4j+3: x word w
  int s = dot4x8(int(u), int(xq[w]), 0);
#elif defined(WTYPE_Q4_0)
  uint blk = w >> 2, j = w & 3u;  // low nibbles: elements 4j.. (x word 8·blk+j); high: 16+4j.. (8·blk+4+j)
  // Nibbles n → signed bytes n − 8 without borrows between bytes: (n | 0x80) − 8 stays within 120..135,
  // and flipping the top bit back gives n − 8 in two's complement.
  uint lo = (((u & 0x0F0F0F0Fu) | 0x80808080u) - 0x08080808u) ^ 0x80808080u;
  uint hi = ((((u >> 4) & 0x0F0F0F0Fu) | 0x80808080u) - 0x08080808u) ^ 0x80808080u;
  int s = dot4x8(int(lo), int(xq[8u * blk + j]), 0) + dot4x8(int(hi), int(xq[8u * blk + 4u + j]), 0);
#else
#error "DOT8 is built for Q4_0 and Q8_0 only"
#endif
  return float(s) * block_scale(row * (pc.K / 32u) + blk, pc.scale_offset) * xq_scale[blk];
}
#endif

// XSTAGE: every workgroup computes f(x) once into shared memory, reading x (and the norm weight or `up`)
// from global memory once instead of once per row, and the dot products read shared memory. RMSNorm stages
// x · weight and leaves the scale in x_scale, as the unstaged path applies it (to the finished sums), so
// staged and unstaged products round alike but for the order x² is summed in.
void stage_x(uint tid) {
  float ss = 0.0;
  for (uint k = tid; k < pc.K; k += 256u) {
    float v = x[k];
    if (pc.x_mode == X_SWIGLU) v = v / (1.0 + exp(-v)) * aux[k];
    if (pc.x_mode == X_RMSNORM) {
      ss += v * v;
      v *= aux[k];
    }
    xstage[xs_at(k)] = v;
  }
  if (pc.x_mode == X_RMSNORM) {
    ss = subgroupAdd(ss);
    if (subgroupElect()) partial[gl_SubgroupID] = ss;
  }
  barrier();
  if (pc.x_mode == X_RMSNORM) {
    // Every thread adds the subgroups' partials itself: one barrier instead of a second one after thread 0.
    float total = 0.0;
    for (uint s = 0u; s < gl_NumSubgroups; ++s) total += partial[s];
    x_scale = inversesqrt(total / float(pc.K) + pc.eps);
  }
}

// The weight row behind acc[i] of a subgroup whose first output row is row0.
uint weight_row(uint row0, uint i) { return PAIRS != 0u ? row0 + (i >> 1) + (i & 1u) * pc.M : row0 + i; }

void main() {
  uint tid = gl_LocalInvocationID.x;
  if (TOKENS > 1u) {
    prefill_rows(gl_WorkGroupID.x + gl_WorkGroupID.y * 65535u);
    return;
  }
#ifdef DOT8
  stage_x(tid);
  quantize_x();
#else
  if (XSTAGE != 0u) stage_x(tid);
#endif
  uint words_per_row = pc.K / ELEMS_PER_WORD;
  uint wg = gl_WorkGroupID.x + gl_WorkGroupID.y * 65535u;
#ifdef ARGMAX
  float bv = -1.0 / 0.0;  // this subgroup's best row so far
  uint bi = 0xffffffffu;
#endif
  // Rows are numbered as the output's (with PAIRS, gate rows: each subgroup takes ROWS / 2 of them and their up rows).
  for (uint r = gl_SubgroupID * OUT_ROWS; r < pc.rows_per_wg; r += gl_NumSubgroups * OUT_ROWS) {
    uint row0 = wg * pc.rows_per_wg + r;
    if (row0 >= pc.M) break;
    uint rows = min(OUT_ROWS, pc.M - row0) * (PAIRS != 0u ? 2u : 1u);  // weight rows: acc[i] for i < rows
    float acc[ROWS];
    [[unroll]] for (uint i = 0u; i < ROWS; ++i) acc[i] = 0.0;
    lane_ss = 0.0;
    for (uint w = gl_SubgroupInvocationID; WIDE_DECODE == 0u && w < words_per_row; w += gl_SubgroupSize) {
#ifdef DOT8
      [[unroll]] for (uint i = 0u; i < ROWS; ++i) {
        if (i < rows) acc[i] += word_dot8(weight_row(row0, i), w, words_per_row);
      }
#else
      float xs[ELEMS_PER_WORD];
      gather_x(w, xs);
      [[unroll]] for (uint i = 0u; i < ROWS; ++i) {
        if (i < rows) acc[i] += word_dot(weight_row(row0, i), w, words_per_row, xs);
      }
#endif
    }
#ifndef DOT8
    // WIDE: lane l takes words 4l..4l+3 (then 4(l + subgroup size)..), one 16-byte load per row.
    for (uint q = gl_SubgroupInvocationID; WIDE_DECODE != 0u && q < words_per_row / 4u; q += gl_SubgroupSize) {
      float xs[4][ELEMS_PER_WORD];
      [[unroll]] for (uint j = 0u; j < 4u; ++j) gather_x(4u * q + j, xs[j]);
      [[unroll]] for (uint i = 0u; i < ROWS; ++i) {
        if (i >= rows) break;
        uvec4 u4 = w_quads[quant_word_index(weight_row(row0, i), 4u * q, words_per_row) >> 2];
        [[unroll]] for (uint j = 0u; j < 4u; ++j) {
          float wv[ELEMS_PER_WORD];
          decode_word(u4[j], weight_row(row0, i), 4u * q + j, wv);
          [[unroll]] for (uint e = 0u; e < ELEMS_PER_WORD; ++e) acc[i] += wv[e] * xs[j][e];
        }
      }
    }
#endif
    // Unstaged RMSNorm: the lanes' words covered the whole row once, so their x² sums make x's.
    if (STAGED == 0u && pc.x_mode == X_RMSNORM) x_scale = inversesqrt(subgroupAdd(lane_ss) / float(pc.K) + pc.eps);
    float gate = 0.0;  // PAIRS: the gate row's sum, until its up row's comes
    [[unroll]] for (uint i = 0u; i < ROWS; ++i) {
      float sum = subgroupAdd(acc[i]) * x_scale;
      if (PAIRS != 0u) {
        if ((i & 1u) == 0u) {
          gate = sum;
        } else if (i < rows && subgroupElect()) {
          y[out_index(0u, row0 + (i >> 1))] = gate / (1.0 + exp(-gate)) * sum;  // SwiGLU: silu(gate) · up
        }
        continue;
      }
      if (i < rows && subgroupElect()) {
        uint yo = out_index(0u, row0 + i);
        y[yo] = pc.accumulate != 0u ? y[yo] + sum : sum;
      }
#ifdef ARGMAX
      if (i < rows && beats(sum, row0 + i, bv, bi)) {  // sum is the same in every lane
        bv = sum;
        bi = row0 + i;
      }
#endif
    }
  }
#ifdef ARGMAX
  // The workgroup's candidate: each subgroup's best (uniform across its lanes) reduced by subgroup 0, which
  // stores it and counts the workgroup in. Few workgroup barriers: CPU drivers pay dearly for each.
#ifdef DOT8
  barrier();  // every subgroup is done with xq before it holds candidates
#endif
  if (subgroupElect()) {
    best_v[gl_SubgroupID] = bv;
    best_i[gl_SubgroupID] = bi;
  }
  barrier();
  uint groups = gl_NumWorkGroups.x * gl_NumWorkGroups.y;  // every dispatched workgroup counts, rows or not
  if (gl_SubgroupID == 0u) {
    float v;
    uint index;
    best_of_subgroups(v, index);
    if (subgroupElect()) {
      cand.best[wg] = uvec2(floatBitsToUint(v), index);
      memoryBarrierBuffer();
      last_wg = atomicAdd(cand.counter, 1u) == groups - 1u;
    }
  }
  barrier();
  if (last_wg) {
    // Every other workgroup's candidate is visible: each stored it before its atomicAdd.
    memoryBarrierBuffer();
    float v = -1.0 / 0.0;
    uint index = 0xffffffffu;
    for (uint g = tid; g < groups; g += 256u) {
      uvec2 c = cand.best[g];
      if (beats(uintBitsToFloat(c.x), c.y, v, index)) {
        v = uintBitsToFloat(c.x);
        index = c.y;
      }
    }
    subgroup_best(v, index);
    if (subgroupElect()) {
      best_v[gl_SubgroupID] = v;
      best_i[gl_SubgroupID] = index;
    }
    barrier();
    if (gl_SubgroupID == 0u) {
      best_of_subgroups(v, index);
      if (subgroupElect()) {
        argmax_result[0] = index;
        cand.counter = 0u;  // ready for the next step
      }
    }
  }
#endif
}
