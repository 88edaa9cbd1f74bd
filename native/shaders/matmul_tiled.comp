#version 450
// Prefill's matrix product on GPUs: Y[t][r] (+)= sum_k W[r][k] * X[t][k] for the step's tokens, as a tiled
// GEMM. A workgroup owns a 64-row × 64-token tile of Y. For each 32-element slice of K it dequantizes the
// 64 rows' blocks once into shared memory and stages the 64 tokens' x values beside them, then each of its
// 256 threads accumulates a 4 × 4 patch (rows ty + 16i, tokens tx + 16j: neighbouring threads read
// neighbouring shared words, so there are no bank conflicts). Each weight block is read once per 64 tokens
// instead of once per 16, and the inner loop is 16 multiply-adds per 8 shared-memory reads.
//
// DOT8 (compiled as matmul_tiled_dot8_q4_0 / _q8_0, for devices with the 4×8-bit integer dot product): the
// same tiles, but the weights are staged as signed bytes (Q4_0 nibbles − 8, Q8_0 as stored) with one scale
// per row and block, the tokens' x values are rounded to signed bytes with one scale per token and block
// (max |x| / 127, as llama.cpp rounds activations for its quantized products, and as matvec.comp's DOT8
// decode does), and each thread's 4 × 4 patch takes 8 integer dot instructions per pair and block (4 bytes
// each) instead of 32 multiply-adds: 4× the arithmetic per shared-memory read. Bytes are 4× smaller than
// floats, so a stage holds 4 blocks (128 values of K) and the tile waits at a quarter of the barriers.
#extension GL_EXT_control_flow_attributes : enable
#ifdef DOT8
#extension GL_EXT_spirv_intrinsics : require
#extension GL_KHR_shader_subgroup_shuffle : enable
#endif
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
#ifdef DOT8
// OpSDot (SPV_KHR_integer_dot_product) on two words of 4 signed bytes; see matvec.comp for why it is spelled so.
spirv_instruction(extensions = ["SPV_KHR_integer_dot_product"], capabilities = [6019, 6018], id = 4450)
int dot4x8(int a, int b, spirv_literal int packed_vector_format);

// Each stage holds SB 32-element blocks of K (128 values: a quarter of the barriers of one block per stage).
// Word q of a block holds elements 4q..4q+3; [block][word][row or token] keeps neighbouring threads on
// neighbouring words.
const uint SB = 4u;
shared uint wq[SB][BK / 4u][BM + PAD];
shared float wd[SB][BM];
shared uint xq[SB][BK / 4u][BN + PAD];
shared float xd[SB][BN];

// Four floats → one word of signed bytes, round(v · inv) with halves away from zero.
uint pack_bytes(vec4 v, float inv) {
  ivec4 b = ivec4(sign(v) * floor(abs(v * inv) + 0.5));
  return (uint(b.x) & 255u) | ((uint(b.y) & 255u) << 8) | ((uint(b.z) & 255u) << 16) | ((uint(b.w) & 255u) << 24);
}

// Stages blocks kb0..kb0+SB-1 (those past the row's end as zeros). Weights: a row's SB blocks are contiguous
// quant words, so consecutive threads take consecutive words of a row (whole 32-byte sectors per subgroup)
// and one scale each. x: lane `lane` (numbered by subgroup, so the 4 lanes of a token are neighbours in one
// subgroup, which is at least 4 wide) takes token lane / 4 (8 of each block's 32 values): two shuffles find
// the token's maximum per block; every lane runs them, so control flow stays uniform.
void stage_blocks(uint tid, uint kb0, uint row0, uint t0, uint t_end) {
  uint blocks = pc.K / 32u;
#if defined(WTYPE_Q4_0)
  const uint WORDS = 4u;  // words of nibbles per block
#elif defined(WTYPE_Q8_0)
  const uint WORDS = 8u;  // words of bytes per block
#else
#error "DOT8 is built for Q4_0 and Q8_0 only"
#endif
  [[unroll]] for (uint i = 0u; i < BM * SB * WORDS / 256u; ++i) {
    uint w = i * 256u + tid;
    uint wr = w / (SB * WORDS), b = (w / WORDS) % SB, q = w % WORDS;
    uint r = row0 + wr, kb = kb0 + b;
    uint u = r < pc.M && kb < blocks ? w_u32[r * (blocks * WORDS) + kb * WORDS + q] : 0u;
#if defined(WTYPE_Q4_0)
    // Word q: low nibbles are elements 4q.., high nibbles 16 + 4q..; n → n − 8 per byte without borrows, as in
    // matvec.comp (a zero word stays zero only for Q8_0: here it is masked below by the zero scale).
    wq[b][q][wr] = (((u & 0x0F0F0F0Fu) | 0x80808080u) - 0x08080808u) ^ 0x80808080u;
    wq[b][4u + q][wr] = ((((u >> 4) & 0x0F0F0F0Fu) | 0x80808080u) - 0x08080808u) ^ 0x80808080u;
#else
    wq[b][q][wr] = u;
#endif
  }
  {
    uint wr = tid / SB, b = tid % SB, r = row0 + wr, kb = kb0 + b;
    wd[b][wr] = r < pc.M && kb < blocks ? block_scale(r * blocks + kb, pc.scale_offset) : 0.0;
  }
  uint lane = gl_SubgroupID * gl_SubgroupSize + gl_SubgroupInvocationID;
  uint st = lane / 4u, t = t0 + st, part = lane % 4u;
  [[unroll]] for (uint b = 0u; b < SB; ++b) {
    bool live = t < t_end && kb0 + b < blocks;
    uint at = t * pc.K + (kb0 + b) * BK + 8u * part;
    vec4 lo = live ? vec4(x[at], x[at + 1u], x[at + 2u], x[at + 3u]) : vec4(0.0);
    vec4 hi = live ? vec4(x[at + 4u], x[at + 5u], x[at + 6u], x[at + 7u]) : vec4(0.0);
    vec4 a = max(abs(lo), abs(hi));
    float amax = max(max(a.x, a.y), max(a.z, a.w));
    amax = max(amax, subgroupShuffleXor(amax, 1u));
    amax = max(amax, subgroupShuffleXor(amax, 2u));
    float d = amax / 127.0;
    float inv = d > 0.0 ? 1.0 / d : 0.0;
    xq[b][2u * part][st] = pack_bytes(lo, inv);
    xq[b][2u * part + 1u][st] = pack_bytes(hi, inv);
    if (part == 0u) xd[b][st] = unpackHalf2x16(packHalf2x16(vec2(d, 0.0))).x;  // kept as f16, like llama.cpp's
  }
}
#else
shared float ws[BK][BM + PAD];  // ws[k][row]: the tile's weights, dequantized
shared float xs[BK][BN + PAD];  // xs[k][token]
#endif

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

#ifdef DOT8
  for (uint kb0 = 0u; kb0 < pc.K / BK; kb0 += SB) {
    stage_blocks(tid, kb0, row0, t0, t_end);
    barrier();
    [[unroll]] for (uint b = 0u; b < SB; ++b) {
      int isum[4][4];
      [[unroll]] for (uint i = 0u; i < 4u; ++i) [[unroll]] for (uint j = 0u; j < 4u; ++j) isum[i][j] = 0;
      [[unroll]] for (uint q = 0u; q < BK / 4u; ++q) {
        int a[4], c[4];
        [[unroll]] for (uint i = 0u; i < 4u; ++i) a[i] = int(wq[b][q][ty + 16u * i]);
        [[unroll]] for (uint j = 0u; j < 4u; ++j) c[j] = int(xq[b][q][tx + 16u * j]);
        [[unroll]] for (uint i = 0u; i < 4u; ++i) [[unroll]] for (uint j = 0u; j < 4u; ++j) isum[i][j] += dot4x8(a[i], c[j], 0);
      }
      [[unroll]] for (uint i = 0u; i < 4u; ++i) {
        float di = wd[b][ty + 16u * i];
        [[unroll]] for (uint j = 0u; j < 4u; ++j) acc[i][j] += float(isum[i][j]) * di * xd[b][tx + 16u * j];
      }
    }
    barrier();
  }
#else
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
#endif

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
