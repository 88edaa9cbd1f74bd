#version 450
// Decode's matrix-vector product y (+)= W · norm(x) for one token, with the RMSNorm before it fused in.
// Each subgroup computes whole rows: its lanes read consecutive 32-bit words of a row (coalesced on
// GPUs, contiguous SIMD loads on CPU drivers), dot them with x, and reduce with subgroupAdd. When
// `use_norm` is set, every workgroup first computes x's RMS itself (x is small and cached), so the
// separate RMSNorm dispatch and its barrier disappear.
#extension GL_KHR_shader_subgroup_basic : enable
#extension GL_KHR_shader_subgroup_arithmetic : enable
#include "common.glsl"

layout(local_size_x = 256) in;
#if defined(WTYPE_F32)
layout(std430, set = 0, binding = 1) readonly buffer Weights { float w_f32[]; };
#else
layout(std430, set = 0, binding = 1) readonly buffer Weights { uint w_u32[]; };
#endif
layout(std430, set = 0, binding = 2) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 3) buffer Y { float y[]; };
layout(std430, set = 0, binding = 4) readonly buffer NormWeight { float norm_w[]; };

layout(push_constant) uniform PC {
  uint K;             // row length in elements
  uint M;             // rows
  uint scale_offset;  // quantized types: uint index where the f16 block scales start
  uint accumulate;    // 1: y += W·x (residual add fused)
  uint use_norm;      // 1: x is RMS-normalized and scaled by norm_w first
  float eps;
  uint rows_per_wg;   // rows this workgroup covers; its subgroups take them in turn
} pc;

shared float partial[256];
shared float rms_scale;

#if defined(WTYPE_Q4_0)
const uint ELEMS_PER_WORD = 8u;
#elif defined(WTYPE_Q8_0)
const uint ELEMS_PER_WORD = 4u;
#elif defined(WTYPE_F32)
const uint ELEMS_PER_WORD = 1u;
#else
const uint ELEMS_PER_WORD = 2u;
#endif

float xin(uint k) {
  return pc.use_norm != 0u ? x[k] * norm_w[k] * rms_scale : x[k];
}

#if defined(WTYPE_Q8_0) || defined(WTYPE_Q4_0)
float block_scale(uint bi) {
  vec2 pair = unpackHalf2x16(w_u32[pc.scale_offset + (bi >> 1)]);
  return (bi & 1u) == 0u ? pair.x : pair.y;
}
#endif

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
  return s * block_scale(row * (pc.K / 32u) + block);
#elif defined(WTYPE_Q4_0)
  // 4 words per block; byte b of word j holds element 4j+b (low nibble) and 4j+b+16 (high nibble).
  uint u = w_u32[row * words_per_row + w];
  uint block = w >> 2, base = block * 32u + (w & 3u) * 4u;
  float s = 0.0;
  for (uint b = 0u; b < 4u; ++b) {
    uint byte_ = (u >> (8u * b)) & 0xffu;
    s += (float(byte_ & 0xfu) - 8.0) * xin(base + b) + (float(byte_ >> 4) - 8.0) * xin(base + b + 16u);
  }
  return s * block_scale(row * (pc.K / 32u) + block);
#else
#error "define a WTYPE_*"
#endif
}

void main() {
  uint tid = gl_LocalInvocationID.x;
  if (pc.use_norm != 0u) {
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
