#version 450
// Prefill's matrix product on GPUs: Y[t][r] (+)= sum_k W[r][k] * X[t][k] for the step's tokens, as a tiled
// GEMM. A workgroup owns a 64-row × 64-token tile of Y. For each 32-element slice of K it dequantizes the
// 64 rows' blocks once into shared memory and stages the 64 tokens' x values beside them, then each of its
// 256 threads accumulates a 4 × 4 patch (rows ty + 16i, tokens tx + 16j: neighbouring threads read
// neighbouring shared words, so there are no bank conflicts). Each weight block is read once per 64 tokens
// instead of once per 16, and the inner loop is 16 multiply-adds per 8 shared-memory reads.
#extension GL_EXT_control_flow_attributes : enable
#include "common.glsl"
#define WEIGHT_BINDING 1
#include "weights.glsl"

layout(local_size_x = 256) in;
layout(std430, set = 0, binding = 2) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 3) buffer Y { float y[]; };

layout(push_constant) uniform PC {
  uint K;             // input features (row length)
  uint M;             // output features (rows)
  uint scale_offset;  // uint index where quant scales start
  uint accumulate;    // 1: y += W·x (residual add fused), 0: y = W·x
  uint logits_only;   // 1: only tokens [logits_begin, n_tokens), written from y row 0
  uint unused;        // matmul.comp's threads per row: the push constants are the same
  uint seg_row1;      // stacked weights: rows where segments 1 and 2 start (M when absent; output_rows.glsl)
  uint seg_row2;
  uint seg_base1;     // float offsets of segments 1 and 2's regions in y
  uint seg_base2;
} pc;

#include "output_rows.glsl"

const uint BM = 64u, BN = 64u, BK = 32u, PAD = 1u;
shared float ws[BK][BM + PAD];  // ws[k][row]: the tile's weights, dequantized
shared float xs[BK][BN + PAD];  // xs[k][token]

void main() {
  uint tid = gl_LocalInvocationID.x;
  uint tx = tid % 16u, ty = tid / 16u;
  uint row0 = gl_WorkGroupID.x * BM;
  uint t_begin = pc.logits_only != 0u ? step.logits_begin : 0u;
  uint t0 = t_begin + gl_WorkGroupID.y * BN;
  uint t_end = step.n_tokens;
  if (t0 >= t_end) return;  // the grid covers the recorded capacity; this step has fewer tokens

  float acc[4][4];
  [[unroll]] for (uint i = 0u; i < 4u; ++i) [[unroll]] for (uint j = 0u; j < 4u; ++j) acc[i][j] = 0.0;

  // Staging assignments: thread tid copies 8 x values (token tid / 4, k = 8 (tid % 4) ..) and, for
  // tid < 64, dequantizes row row0 + tid's block.
  uint st = tid / 4u, sk = (tid % 4u) * 8u;
  for (uint kb = 0u; kb < pc.K / BK; ++kb) {
    if (tid < BM) {
      float w[32];
      uint r = row0 + tid;
      if (r < pc.M) dequant_block(r, kb, pc.K, pc.scale_offset, w);
      else [[unroll]] for (uint j = 0u; j < 32u; ++j) w[j] = 0.0;
      [[unroll]] for (uint j = 0u; j < 32u; ++j) ws[j][tid] = w[j];
    }
    uint t = t0 + st;
    [[unroll]] for (uint e = 0u; e < 8u; ++e) xs[sk + e][st] = t < t_end ? x[t * pc.K + kb * BK + sk + e] : 0.0;
    barrier();
    [[unroll]] for (uint kk = 0u; kk < BK; ++kk) {
      float a[4], b[4];
      [[unroll]] for (uint i = 0u; i < 4u; ++i) a[i] = ws[kk][ty + 16u * i];
      [[unroll]] for (uint j = 0u; j < 4u; ++j) b[j] = xs[kk][tx + 16u * j];
      [[unroll]] for (uint i = 0u; i < 4u; ++i) [[unroll]] for (uint j = 0u; j < 4u; ++j) acc[i][j] += a[i] * b[j];
    }
    barrier();
  }

  [[unroll]] for (uint i = 0u; i < 4u; ++i) {
    uint r = row0 + ty + 16u * i;
    if (r >= pc.M) continue;
    [[unroll]] for (uint j = 0u; j < 4u; ++j) {
      uint t = t0 + tx + 16u * j;
      if (t >= t_end) continue;
      uint yo = out_index(t - t_begin, r);
      y[yo] = pc.accumulate != 0u ? y[yo] + acc[i][j] : acc[i][j];
    }
  }
}
