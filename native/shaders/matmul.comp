#version 450
// y[t][r] (+)= sum_k W[r][k] * x[t][k] for the step's tokens.
// A workgroup of 64 threads covers 64/TPR rows (and, with a grid z > 1, one token tile per z); the TPR threads of a row split its 32-weight blocks,
// dequantize each block once and apply it to up to TOKEN_TILE tokens (a prefill reads each block
// n_tokens/TOKEN_TILE times, not n_tokens times). TPR (threads per row, a power of two ≤ 64) is chosen
// by the host from the row length, so short rows do not leave most threads idle and the grid stays
// small (CPU drivers pay per workgroup).
#extension GL_EXT_control_flow_attributes : enable
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
  uint tpr;           // threads per row
  uint seg_row1;      // stacked weights: rows where segments 1 and 2 start (M when absent; output_rows.glsl)
  uint seg_row2;
  uint seg_base1;     // float offsets of segments 1 and 2's regions in y
  uint seg_base2;
} pc;

#include "output_rows.glsl"

#if defined(SINGLE_TOKEN)
const uint TOKEN_TILE = 1u;   // the decode variant for CPU drivers: one token per step
#elif defined(WIDE_TILE)
const uint TOKEN_TILE = 16u;  // the prefill variant for GPUs: more reuse of each dequantized block
#else
const uint TOKEN_TILE = 4u;
#endif
shared float partial[TOKEN_TILE][64];

void main() {
  uint tid = gl_LocalInvocationID.x;
  uint lane = tid % pc.tpr;
  uint rows_per_wg = 64u / pc.tpr;
  uint wg = gl_WorkGroupID.x + gl_WorkGroupID.y * 65535u;
  uint row = wg * rows_per_wg + tid / pc.tpr;
  bool row_valid = row < pc.M;
  uint t_begin = pc.logits_only != 0u ? step.logits_begin : 0u;
  uint t_end = step.n_tokens;
  uint blocks = pc.K / 32u;
  float w[32];
  // Token tiles are spread over the grid's z dimension (GPUs) or looped over (z = 1).
  for (uint t0 = t_begin + gl_WorkGroupID.z * TOKEN_TILE; t0 < t_end; t0 += TOKEN_TILE * gl_NumWorkGroups.z) {
    float acc[TOKEN_TILE];
    [[unroll]] for (uint i = 0u; i < TOKEN_TILE; ++i) acc[i] = 0.0;
    if (row_valid) {
      for (uint b = lane; b < blocks; b += pc.tpr) {
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
    }
    [[unroll]] for (uint i = 0u; i < TOKEN_TILE; ++i) partial[i][tid] = acc[i];
    barrier();
    for (uint stride = pc.tpr / 2u; stride > 0u; stride >>= 1) {
      if (lane < stride) {
        [[unroll]] for (uint i = 0u; i < TOKEN_TILE; ++i) partial[i][tid] += partial[i][tid + stride];
      }
      barrier();
    }
    if (row_valid) {
      for (uint i = lane; i < TOKEN_TILE; i += pc.tpr) {
        uint t = t0 + i;
        if (t < t_end) {
          uint yo = out_index(t - t_begin, row);
          float v = partial[i][tid - lane];
          y[yo] = pc.accumulate != 0u ? y[yo] + v : v;
        }
      }
    }
    barrier();
  }
}
