#version 450
// Causal grouped-query attention for a prompt step (flash-attention style): a workgroup takes 64 query rows
// — (token, head) pairs of the heads sharing KV head g, token-major — and walks the cached keys 0..its last
// position in chunks: each chunk's keys and values are staged in shared memory once for all 64 rows (one read
// of each K/V row per workgroup instead of one per query head and token, as attention.comp reads them),
// and each row keeps a running softmax (max, sum, weighted values) so nothing is stored per key. Four
// neighbouring threads share a row, each holding a quarter of its head dimensions (pairs q, q+4, q+8, ...);
// they sum their partial scores with two subgroup shuffles, so subgroups must have shuffles and be at least 4
// wide (the host checks). HD, the head size, is a specialization constant (a multiple of 8, at most 256) so the
// per-thread registers are sized exactly.
#extension GL_EXT_control_flow_attributes : enable
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#include "common.glsl"

layout(local_size_x = 256) in;
layout(constant_id = 0) const uint HD = 64u;
layout(std430, set = 0, binding = 1) readonly buffer Q { float q[]; };
layout(std430, set = 0, binding = 2) readonly buffer KCache { uint k_cache[]; };
layout(std430, set = 0, binding = 3) readonly buffer VCache { uint v_cache[]; };
layout(std430, set = 0, binding = 4) writeonly buffer Out { float outp[]; };

layout(push_constant) uniform PC {
  uint n_head;
  uint n_head_kv;
  uint head_dim;  // = HD
  uint cache_offset;
  float scale;
} pc;

const uint ROWS = 64u;
const uint PAIRS = HD / 2u;   // f16 pairs (cache words) per head
const uint QP = PAIRS / 4u;   // pairs per thread
// Keys per chunk: 32, or 16 for heads over 128 wide, so that K and V fit 32 KB of shared memory.
const uint CHUNK = HD > 128u ? 16u : 32u;
shared uint ks[CHUNK * PAIRS];  // ks[key · PAIRS + pair]
shared uint vs[CHUNK * PAIRS];

const float NONE = -1.0e30;  // the score of a key the row must not see (later than its token)

void main() {
  uint tid = gl_LocalInvocationID.x;
  // Roles by subgroup lane, so that a row's 4 threads are neighbours in one subgroup (what the xor shuffles
  // assume) however the device numbers its subgroups' invocations.
  uint lane = gl_SubgroupID * gl_SubgroupSize + gl_SubgroupInvocationID;
  uint row = lane / 4u, part = lane % 4u;
  uint g = gl_WorkGroupID.y;
  uint group = pc.n_head / pc.n_head_kv;
  uint r0 = gl_WorkGroupID.x * ROWS;
  if (r0 / group >= step.n_tokens) return;  // the grid covers the recorded capacity; this step has fewer tokens
  uint r = r0 + row, t = r / group, h = g * group + r % group;
  bool live = t < step.n_tokens;
  uint pos = step.pos0 + t;  // the row sees keys 0..pos
  // The workgroup's last key: its last live token's position.
  uint last = step.pos0 + min((r0 + ROWS - 1u) / group, step.n_tokens - 1u);
  uint row_pairs = pc.n_head_kv * PAIRS;
  uint head_pair0 = pc.cache_offset + g * PAIRS;

  vec2 qv[QP], acc[QP];
  uint qo = (t * pc.n_head + h) * HD;
  [[unroll]] for (uint i = 0u; i < QP; ++i) {
    uint d = 2u * (part + 4u * i);
    qv[i] = live ? vec2(q[qo + d], q[qo + d + 1u]) * pc.scale : vec2(0.0);
    acc[i] = vec2(0.0);
  }
  float m = NONE, l = 0.0;

  for (uint c0 = 0u; c0 <= last; c0 += CHUNK) {
    for (uint w = tid; w < CHUNK * PAIRS; w += 256u) {
      uint j = c0 + w / PAIRS;
      uint at = head_pair0 + j * row_pairs + w % PAIRS;
      ks[w] = j <= last ? k_cache[at] : 0u;
      vs[w] = j <= last ? v_cache[at] : 0u;
    }
    barrier();
    // Scores of the chunk's keys (every lane of a row computes all of them, so the shuffles stay uniform).
    float s[CHUNK];
    float cmax = NONE;
    [[unroll]] for (uint jj = 0u; jj < CHUNK; ++jj) {
      float d = 0.0;
      [[unroll]] for (uint i = 0u; i < QP; ++i) d += dot(qv[i], unpackHalf2x16(ks[jj * PAIRS + part + 4u * i]));
      d += subgroupShuffleXor(d, 1u);
      d += subgroupShuffleXor(d, 2u);
      s[jj] = live && c0 + jj <= pos ? d : NONE;
      cmax = max(cmax, s[jj]);
    }
    // Running softmax: rescale what was summed so far to the new maximum, then add the chunk.
    float m_new = max(m, cmax);
    float corr = exp(m - m_new);
    l *= corr;
    [[unroll]] for (uint i = 0u; i < QP; ++i) acc[i] *= corr;
    [[unroll]] for (uint jj = 0u; jj < CHUNK; ++jj) {
      float p = s[jj] > NONE ? exp(s[jj] - m_new) : 0.0;
      l += p;
      [[unroll]] for (uint i = 0u; i < QP; ++i) acc[i] += p * unpackHalf2x16(vs[jj * PAIRS + part + 4u * i]);
    }
    m = m_new;
    barrier();
  }

  if (live) {
    float inv = 1.0 / l;
    [[unroll]] for (uint i = 0u; i < QP; ++i) {
      uint d = 2u * (part + 4u * i);
      outp[qo + d] = acc[i].x * inv;
      outp[qo + d + 1u] = acc[i].y * inv;
    }
  }
}
