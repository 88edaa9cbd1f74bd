#version 450
// y[t][r] (+)= sum_k W[r][k] * x[t][k] for the step's tokens: one workgroup per output row.
// Each thread takes every WG-th block of 32 weights, dequantizes it once and applies it to up to
// TOKEN_TILE tokens, so a prefill reads each weight block n_tokens/TOKEN_TILE times, not n_tokens times.
#extension GL_EXT_control_flow_attributes : enable
#extension GL_KHR_shader_subgroup_arithmetic : enable
#include "common.glsl"
#define WEIGHT_BINDING 1
#include "weights.glsl"

layout(local_size_x = 64) in;
layout(std430, set = 0, binding = 2) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 3) buffer Y { float y[]; };

layout(push_constant) uniform PC {
  uint K;             // input features (row length)
  uint M;             // output features (rows)
  uint scale_offset;  // uint index where quant scales start
  uint accumulate;    // 1: y += W·x (residual add fused), 0: y = W·x
  uint logits_only;   // 1: only tokens [logits_begin, n_tokens), written from y row 0
} pc;

const uint TOKEN_TILE = 4u;
shared float partial[TOKEN_TILE][64];

void main() {
  uint row = gl_WorkGroupID.x + gl_WorkGroupID.y * 65535u;
  if (row >= pc.M) return;
  uint tid = gl_LocalInvocationID.x;
  uint t_begin = pc.logits_only != 0u ? step.logits_begin : 0u;
  uint t_end = step.n_tokens;
  uint blocks = pc.K / 32u;
  float w[32];
  for (uint t0 = t_begin; t0 < t_end; t0 += TOKEN_TILE) {
    float acc[TOKEN_TILE];
    [[unroll]] for (uint i = 0u; i < TOKEN_TILE; ++i) acc[i] = 0.0;
    for (uint b = tid; b < blocks; b += 64u) {
      dequant_block(row, b, pc.K, pc.scale_offset, w);
      [[unroll]] for (uint i = 0u; i < TOKEN_TILE; ++i) {
        uint t = t0 + i;
        if (t < t_end) {
          uint xo = t * pc.K + b * 32u;
          float s = 0.0;
          [[unroll]] for (uint j = 0u; j < 32u; ++j) s += w[j] * x[xo + j];
          acc[i] += s;
        }
      }
    }
    [[unroll]] for (uint i = 0u; i < TOKEN_TILE; ++i) partial[i][tid] = acc[i];
    barrier();
    for (uint stride = 32u; stride > 0u; stride >>= 1) {
      if (tid < stride) {
        [[unroll]] for (uint i = 0u; i < TOKEN_TILE; ++i) partial[i][tid] += partial[i][tid + stride];
      }
      barrier();
    }
    if (tid < TOKEN_TILE) {
      uint t = t0 + tid;
      if (t < t_end) {
        uint yo = (t - t_begin) * pc.M + row;
        float v = partial[tid][0];
        y[yo] = pc.accumulate != 0u ? y[yo] + v : v;
      }
    }
    barrier();
  }
}
