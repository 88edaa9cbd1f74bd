#version 450
// Decode's matrix-vector product y (+)= W · f(x) for one token, with the step before it fused in.
// Each subgroup computes whole rows: its lanes read consecutive 32-bit words of a row (coalesced on
// GPUs, contiguous SIMD loads on CPU drivers), dot them with x, and reduce with subgroupAdd.
// f(x) is chosen by `x_mode`: x itself; RMSNorm(x) * aux, where every workgroup first computes x's RMS
// itself (x is small and cached); or SwiGLU's silu(x) * aux (x = gate, aux = up). Either way a separate
// dispatch and its barrier disappear.
#extension GL_KHR_shader_subgroup_basic : enable
#extension GL_KHR_shader_subgroup_arithmetic : enable
#extension GL_EXT_control_flow_attributes : enable
#include "common.glsl"

#define WEIGHT_BINDING 1
#include "weights.glsl"

layout(local_size_x = 256) in;
layout(std430, set = 0, binding = 2) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 3) buffer Y { float y[]; };
layout(std430, set = 0, binding = 4) readonly buffer Aux { float aux[]; };  // norm weight or SwiGLU's up

layout(push_constant) uniform PC {
  uint K;             // row length in elements
  uint M;             // rows
  uint scale_offset;  // quantized types: uint index where the f16 block scales start
  uint accumulate;    // 1: y += W·x (residual add fused)
  uint x_mode;        // X_PLAIN, X_RMSNORM or X_SWIGLU
  float eps;
  uint rows_per_wg;   // rows this workgroup covers; its subgroups take them in turn
} pc;

shared float partial[256];
shared float rms_scale;

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

float xin(uint k) {
  if (pc.x_mode == X_RMSNORM) return x[k] * aux[k] * rms_scale;
  if (pc.x_mode == X_SWIGLU) {
    float g = x[k];
    return g / (1.0 + exp(-g)) * aux[k];
  }
  return x[k];
}

// Dot product of word `w` of row `row` with the matching elements of x.
float word_dot(uint row, uint w, uint words_per_row) {
#if defined(WTYPE_F32)
  return w_f32[row * words_per_row + w] * xin(w);
#elif defined(WTYPE_F16)
  vec2 h = unpackHalf2x16(w_u32[row * words_per_row + w]);
  return h.x * xin(2u * w) + h.y * xin(2u * w + 1u);
#elif defined(WTYPE_BF16)
  uint u = w_u32[row * words_per_row + w];
  return uintBitsToFloat(u << 16) * xin(2u * w) + uintBitsToFloat(u & 0xffff0000u) * xin(2u * w + 1u);
#elif defined(WTYPE_Q8_0)
  // 8 words per 32-element block; word j holds elements 4j..4j+3.
  uint u = w_u32[row * words_per_row + w];
  uint block = w >> 3, base = block * 32u + (w & 7u) * 4u;
  float s = float(bitfieldExtract(int(u), 0, 8)) * xin(base) + float(bitfieldExtract(int(u), 8, 8)) * xin(base + 1u) +
            float(bitfieldExtract(int(u), 16, 8)) * xin(base + 2u) + float(bitfieldExtract(int(u), 24, 8)) * xin(base + 3u);
  return s * block_scale(row * (pc.K / 32u) + block, pc.scale_offset);
#elif defined(WTYPE_Q4_0)
  // 4 words per block; byte b of word j holds element 4j+b (low nibble) and 4j+b+16 (high nibble).
  uint u = w_u32[row * words_per_row + w];
  uint block = w >> 2, base = block * 32u + (w & 3u) * 4u;
  float s = 0.0;
  for (uint b = 0u; b < 4u; ++b) {
    uint byte_ = (u >> (8u * b)) & 0xffu;
    s += (float(byte_ & 0xfu) - 8.0) * xin(base + b) + (float(byte_ >> 4) - 8.0) * xin(base + b + 16u);
  }
  return s * block_scale(row * (pc.K / 32u) + block, pc.scale_offset);
#elif defined(WTYPE_Q4_K) || defined(WTYPE_Q5_K)
  // 32 nibble words per super-block; word 8c+i holds elements 64c+4i.. (low nibbles, sub-block 2c) and
  // 64c+32+4i.. (high nibbles, sub-block 2c+1).
  uint sb = row * (pc.K / 256u) + (w >> 5), qw = w & 31u, c = qw >> 3, i = qw & 7u;
#if defined(WTYPE_Q4_K)
  uint base = sb * Q4_K_WORDS, u = w_u32[base + 4u + qw];
#else
  uint base = sb * Q5_K_WORDS, u = w_u32[base + 12u + qw], hbits = w_u32[base + 4u + i];
#endif
  uint e = (w >> 5) * 256u + 64u * c + 4u * i;
  float qlo = 0.0, qhi = 0.0, xlo = 0.0, xhi = 0.0;
  for (uint k = 0u; k < 4u; ++k) {
    uint lo = (u >> (8u * k)) & 15u, hi = (u >> (8u * k + 4u)) & 15u;
#if defined(WTYPE_Q5_K)
    lo |= ((hbits >> (8u * k + 2u * c)) & 1u) << 4;
    hi |= ((hbits >> (8u * k + 2u * c + 1u)) & 1u) << 4;
#endif
    float a = xin(e + k), b = xin(e + 32u + k);
    qlo += float(lo) * a;
    qhi += float(hi) * b;
    xlo += a;
    xhi += b;
  }
  vec2 dm = unpackHalf2x16(w_u32[base]);
  vec2 smlo = k_scale_min(4u * base + 4u, 2u * c), smhi = k_scale_min(4u * base + 4u, 2u * c + 1u);
  return dm.x * (smlo.x * qlo + smhi.x * qhi) - dm.y * (smlo.y * xlo + smhi.y * xhi);
#elif defined(WTYPE_Q6_K)
  // 32 ql words per super-block; word 16h+8p+i holds, for l = 4i..4i+3, element 128h+32p+l (low nibbles)
  // and 128h+32(p+2)+l (high nibbles); their top 2 bits are in qh word 32+8h+i.
  uint sb = row * (pc.K / 256u) + (w >> 5), qw = w & 31u, h = qw >> 4, p = (qw >> 3) & 1u, i = qw & 7u;
  uint base = sb * Q6_K_WORDS, u = w_u32[base + qw], hbits = w_u32[base + 32u + 8u * h + i];
  uint e = (w >> 5) * 256u + 128u * h + 32u * p + 4u * i;
  float slo = 0.0, shi = 0.0;
  for (uint k = 0u; k < 4u; ++k) {
    int lo = int(((u >> (8u * k)) & 15u) | (((hbits >> (8u * k + 2u * p)) & 3u) << 4)) - 32;
    int hi = int(((u >> (8u * k + 4u)) & 15u) | (((hbits >> (8u * k + 2u * p + 4u)) & 3u) << 4)) - 32;
    slo += float(lo) * xin(e + k);
    shi += float(hi) * xin(e + 64u + k);
  }
  uint si = 8u * h + 2u * p + (i >> 2);  // l / 16 picks the scale's odd neighbour
  return block_scale(sb, pc.scale_offset) * (q6_scale(base, si) * slo + q6_scale(base, si + 4u) * shi);
#else
#error "define a WTYPE_*"
#endif
}

void main() {
  uint tid = gl_LocalInvocationID.x;
  if (pc.x_mode == X_RMSNORM) {
    float ss = 0.0;
    for (uint k = tid; k < pc.K; k += 256u) ss += x[k] * x[k];
    partial[tid] = ss;
    barrier();
    for (uint stride = 128u; stride > 0u; stride >>= 1) {
      if (tid < stride) partial[tid] += partial[tid + stride];
      barrier();
    }
    if (tid == 0u) rms_scale = inversesqrt(partial[0] / float(pc.K) + pc.eps);
    barrier();
  }
  uint words_per_row = pc.K / ELEMS_PER_WORD;
  uint wg = gl_WorkGroupID.x + gl_WorkGroupID.y * 65535u;
  for (uint r = gl_SubgroupID; r < pc.rows_per_wg; r += gl_NumSubgroups) {
    uint row = wg * pc.rows_per_wg + r;
    if (row >= pc.M) break;
    float acc = 0.0;
    for (uint w = gl_SubgroupInvocationID; w < words_per_row; w += gl_SubgroupSize) acc += word_dot(row, w, words_per_row);
    acc = subgroupAdd(acc);
    if (subgroupElect()) y[row] = pc.accumulate != 0u ? y[row] + acc : acc;
  }
}
