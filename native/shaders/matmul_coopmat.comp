#version 450
// Prefill's matrix product through cooperative matrices (the tensor cores of NVIDIA GPUs, through
// VK_NV_cooperative_matrix): Y[t][r] (+)= sum_k W[r][k] * X[t][k] for the step's tokens.
//
// A workgroup of 4 subgroups of 32 owns a 64-row × 64-token tile of Y; each subgroup a 32 × 32 quarter of it,
// as 2 × 2 accumulators of 16 × 16 (fp32). For each 64-value slice of K the workgroup dequantizes the 64 rows'
// two blocks to fp16 in shared memory (one block per thread) and stages the 64 tokens' x values beside them
// as fp16; then each subgroup runs 4 steps of 16: 2 A loads (weights, row-major), 2 B loads (x, which as
// K × tokens is column-major) and 4 16 × 16 × 16 multiply-adds. fp16 inputs with fp32 sums, as llama.cpp's
// cooperative-matrix path computes. The epilogue stores each accumulator to a per-subgroup 16 × 16 scratch,
// from which the lanes write the rows with the bounds checks and the residual add (output_rows.glsl).
//
// EMULATED (compiled as matmul_coopmat_emu_*, run with PARLEY_COOPMAT_EMULATE=1): the same kernel with the
// three cooperative-matrix operations computed from shared memory by plain arithmetic, by the load / store
// semantics of GL_NV_cooperative_matrix (element (i, j) of a row-major matrix at offset + i·stride + j, of a
// column-major one at offset + j·stride + i). Devices without cooperative matrices (lavapipe in CI) run it,
// so the tiling, staging, fp16 rounding and epilogue are proven there; on a GPU with them, the emulated and
// the real kernel must agree to rounding. 4 "subgroups" of 32 invocations each, whatever the device's size.
#extension GL_EXT_control_flow_attributes : enable
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#ifndef EMULATED
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require
#endif
#include "common.glsl"
#define WEIGHT_BINDING 1
#include "weights.glsl"

layout(local_size_x = 128) in;
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

// SK: a staged row's length in fp16 values, padded by 8 so that rows start 144 bytes apart: every fragment
// starts on a 16-byte boundary, as cooperative-matrix loads want, and neighbouring rows fall in other banks.
const uint BM = 64u, BN = 64u, BK = 64u, SK = BK + 8u;
shared float16_t ws[BM * SK];  // ws[row · SK + k]: the tile's weights
shared float16_t xs[BN * SK];  // xs[token · SK + k]: the tile's x values
shared float cs[4u * 256u];    // per subgroup, one accumulator for the epilogue: cs[256 · subgroup + 16 · token + row]

#ifdef EMULATED
// A or B: where the fragment lies in ws (A) or xs (B). Reading it at multiply-add time is exact because the
// kernel only multiplies fragments loaded since the last staging barrier.
struct Frag { uint offset; uint stride; bool column_major; };
// An accumulator: lane l (of 32) holds elements 8l..8l+7 in row-major order.
struct Acc { float v[8]; };
#define FRAG_A Frag
#define FRAG_B Frag
#define ACC Acc

Acc acc_zero() {
  Acc c;
  [[unroll]] for (uint q = 0u; q < 8u; ++q) c.v[q] = 0.0;
  return c;
}
uint element_at(Frag f, uint i, uint j) { return f.column_major ? f.offset + j * f.stride + i : f.offset + i * f.stride + j; }
void load_a(out Frag f, uint offset, uint stride, bool column_major) { f = Frag(offset, stride, column_major); }
void load_b(out Frag f, uint offset, uint stride, bool column_major) { f = Frag(offset, stride, column_major); }
Acc mul_add(Frag a, Frag b, Acc c, uint lane) {
  [[unroll]] for (uint q = 0u; q < 8u; ++q) {
    uint e = 8u * lane + q, i = e / 16u, j = e % 16u;
    float s = c.v[q];
    for (uint k = 0u; k < 16u; ++k) s += float(ws[element_at(a, i, k)]) * float(xs[element_at(b, k, j)]);
    c.v[q] = s;
  }
  return c;
}
void store_acc(Acc c, uint offset, uint stride, bool column_major, uint lane) {
  [[unroll]] for (uint q = 0u; q < 8u; ++q) {
    uint e = 8u * lane + q;
    cs[element_at(Frag(offset, stride, column_major), e / 16u, e % 16u)] = c.v[q];
  }
}
#else
#define FRAG_A fcoopmatNV<16, gl_ScopeSubgroup, 16, 16>
#define FRAG_B fcoopmatNV<16, gl_ScopeSubgroup, 16, 16>
#define ACC fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>

// Macros, not functions: the operations want the layout flag as a constant, not a parameter.
#define acc_zero() ACC(0.0)
#define load_a(f, offset, stride, column_major) coopMatLoadNV(f, ws, offset, stride, column_major)
#define load_b(f, offset, stride, column_major) coopMatLoadNV(f, xs, offset, stride, column_major)
#define mul_add(a, b, c, lane) coopMatMulAddNV(a, b, c)
#define store_acc(c, offset, stride, column_major, lane) coopMatStoreNV(c, cs, offset, stride, column_major)
#endif

void main() {
  uint tid = gl_LocalInvocationID.x;
#ifdef EMULATED
  uint sg = tid / 32u, lane = tid % 32u;
#else
  // The host runs this kernel only on devices whose subgroups are 32 wide: 4 subgroups per workgroup.
  uint sg = gl_SubgroupID, lane = gl_SubgroupInvocationID;
#endif
  uint row0 = gl_WorkGroupID.x * BM;
  uint t_begin = pc.logits_only != 0u ? step.logits_begin : 0u;
  uint t0 = t_begin + gl_WorkGroupID.y * BN;
  uint t_end = step.n_tokens;
  if (t0 >= t_end) return;  // the grid covers the recorded capacity; this step has fewer tokens

  uint sr = (sg % 2u) * 32u, st = (sg / 2u) * 32u;  // the subgroup's quarter: rows sr.., tokens st..
  ACC acc[2][2];
  [[unroll]] for (uint i = 0u; i < 2u; ++i) [[unroll]] for (uint j = 0u; j < 2u; ++j) acc[i][j] = acc_zero();

  uint blocks = pc.K / 32u;
  for (uint kb0 = 0u; kb0 < blocks; kb0 += 2u) {
    {
      // Thread tid dequantizes block kb0 + tid % 2 of row tid / 2 (a block past the row's end: zeros).
      uint r = tid / 2u, b = tid % 2u, kb = kb0 + b;
      float w[32];
      if (row0 + r < pc.M && kb < blocks) dequant_block(row0 + r, kb, pc.K, pc.scale_offset, w);
      else [[unroll]] for (uint j = 0u; j < 32u; ++j) w[j] = 0.0;
      [[unroll]] for (uint j = 0u; j < 32u; ++j) ws[r * SK + 32u * b + j] = float16_t(w[j]);
    }
    // x: 64 tokens × 64 values, consecutive threads on consecutive values of a token (coalesced reads).
    [[unroll]] for (uint i = 0u; i < BN * BK / 128u; ++i) {
      uint e = i * 128u + tid, tt = e / BK, k = e % BK, t = t0 + tt, kk = 32u * kb0 + k;
      xs[tt * SK + k] = float16_t(t < t_end && kk < pc.K ? x[t * pc.K + kk] : 0.0);
    }
    barrier();
    [[unroll]] for (uint kk = 0u; kk < BK; kk += 16u) {
      FRAG_A a[2];
      FRAG_B b[2];
      [[unroll]] for (uint i = 0u; i < 2u; ++i) load_a(a[i], (sr + 16u * i) * SK + kk, SK, false);
      [[unroll]] for (uint j = 0u; j < 2u; ++j) load_b(b[j], (st + 16u * j) * SK + kk, SK, true);
      [[unroll]] for (uint i = 0u; i < 2u; ++i) [[unroll]] for (uint j = 0u; j < 2u; ++j) acc[i][j] = mul_add(a[i], b[j], acc[i][j], lane);
    }
    barrier();
  }

  // Epilogue, one accumulator at a time through the subgroup's scratch (token-major, as y is): lane l writes
  // rows l % 16 of tokens l / 16 + 2q, so a subgroup's writes cover whole runs of y.
  [[unroll]] for (uint i = 0u; i < 2u; ++i) {
    [[unroll]] for (uint j = 0u; j < 2u; ++j) {
      store_acc(acc[i][j], 256u * sg, 16u, true, lane);
      barrier();
      [[unroll]] for (uint q = 0u; q < 8u; ++q) {
        uint e = 32u * q + lane, tt = e / 16u, rr = e % 16u;
        uint r = row0 + sr + 16u * i + rr, t = t0 + st + 16u * j + tt;
        if (r < pc.M && t < t_end) {
          uint yo = out_index(t - t_begin, r);
          float v = cs[256u * sg + e];
          y[yo] = pc.accumulate != 0u ? y[yo] + v : v;
        }
      }
      barrier();
    }
  }
}
