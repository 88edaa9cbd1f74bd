#version 450
// Causal grouped-query attention for one (query head, token) per workgroup over the f16 KV cache:
// scores into shared memory, softmax, then each thread produces output dimensions.
//
// The DECODE_ROPE variant (GPU decode, one token) also does rope_kv's work, saving a dispatch and a
// barrier per layer: it applies RoPE to its query head and to the new token's K, rounds K and V to f16
// as the cache holds them, and takes the newest key from shared memory instead of the cache. The first
// query head of each KV group stores that K/V row into the cache for later tokens; no other workgroup of
// the dispatch reads that row from memory, so the write races with nothing.
#include "common.glsl"

layout(local_size_x = 64) in;
layout(std430, set = 0, binding = 1) readonly buffer Q { float q[]; };
#if defined(DECODE_ROPE)
layout(std430, set = 0, binding = 2) buffer KCache { uint k_cache[]; };
layout(std430, set = 0, binding = 3) buffer VCache { uint v_cache[]; };
#else
layout(std430, set = 0, binding = 2) readonly buffer KCache { uint k_cache[]; };
layout(std430, set = 0, binding = 3) readonly buffer VCache { uint v_cache[]; };
#endif
layout(std430, set = 0, binding = 4) writeonly buffer Out { float outp[]; };
#if defined(DECODE_ROPE)
layout(std430, set = 0, binding = 5) readonly buffer K { float k_new[]; };
layout(std430, set = 0, binding = 6) readonly buffer V { float v_new[]; };
layout(std430, set = 0, binding = 7) readonly buffer Rope { vec2 cos_sin[]; };  // [pos][rope_dim/2]
#endif

layout(push_constant) uniform PC {
  uint n_head;
  uint n_head_kv;
  uint head_dim;
  uint cache_offset;
  float scale;
  uint rope_dim;  // DECODE_ROPE only
} pc;

const uint MAX_CTX = 4096u;
shared float scores[MAX_CTX];
shared float q_sh[256];
shared float red[64];
#if defined(DECODE_ROPE)
shared uint k_sh[128];  // the new token's K and V for this head's KV group, as f16 pairs
shared uint v_sh[128];

// RoPE (llama.cpp "normal" mode) of the adjacent pair (2i, 2i+1) at position `pos`.
vec2 rotate(vec2 p, uint pos, uint i) {
  if (2u * i >= pc.rope_dim) return p;
  vec2 cs = cos_sin[pos * (pc.rope_dim / 2u) + i];
  return vec2(p.x * cs.x - p.y * cs.y, p.x * cs.y + p.y * cs.x);
}
#endif

void main() {
  uint h = gl_WorkGroupID.x;
  uint t = gl_WorkGroupID.y;
  if (t >= step.n_tokens) return;
  uint tid = gl_LocalInvocationID.x;
  uint hd = pc.head_dim;
  uint group = pc.n_head / pc.n_head_kv;
  uint g = h / group;
  uint pos = step.pos0 + t;
  uint n_keys = pos + 1u;  // causal: keys 0..pos inclusive
  uint row_pairs = pc.n_head_kv * hd / 2u;
  uint head_pair0 = g * hd / 2u;

#if defined(DECODE_ROPE)
  for (uint i = tid; i < hd / 2u; i += 64u) {
    uint o = (t * pc.n_head + h) * hd + 2u * i;
    vec2 r = rotate(vec2(q[o], q[o + 1u]), pos, i);
    q_sh[2u * i] = r.x;
    q_sh[2u * i + 1u] = r.y;
    uint kv = (t * pc.n_head_kv + g) * hd + 2u * i;
    k_sh[i] = packHalf2x16(rotate(vec2(k_new[kv], k_new[kv + 1u]), pos, i));
    v_sh[i] = packHalf2x16(vec2(v_new[kv], v_new[kv + 1u]));
    if (h % group == 0u) {
      uint c = pc.cache_offset + pos * row_pairs + head_pair0 + i;
      k_cache[c] = k_sh[i];
      v_cache[c] = v_sh[i];
    }
  }
#else
  for (uint d = tid; d < hd; d += 64u) q_sh[d] = q[(t * pc.n_head + h) * hd + d];
#endif
  barrier();

  float local_max = -1.0e30;
  for (uint j = tid; j < n_keys; j += 64u) {
    uint kr = pc.cache_offset + j * row_pairs + head_pair0;
    float s = 0.0;
    for (uint d2 = 0u; d2 < hd / 2u; ++d2) {
#if defined(DECODE_ROPE)
      vec2 kk = unpackHalf2x16(j == pos ? k_sh[d2] : k_cache[kr + d2]);
#else
      vec2 kk = unpackHalf2x16(k_cache[kr + d2]);
#endif
      s += q_sh[2u * d2] * kk.x + q_sh[2u * d2 + 1u] * kk.y;
    }
    s *= pc.scale;
    scores[j] = s;
    local_max = max(local_max, s);
  }
  red[tid] = local_max;
  barrier();
  for (uint stride = 32u; stride > 0u; stride >>= 1) {
    if (tid < stride) red[tid] = max(red[tid], red[tid + stride]);
    barrier();
  }
  float m = red[0];
  barrier();
  float local_sum = 0.0;
  for (uint j = tid; j < n_keys; j += 64u) {
    float e = exp(scores[j] - m);
    scores[j] = e;
    local_sum += e;
  }
  red[tid] = local_sum;
  barrier();
  for (uint stride = 32u; stride > 0u; stride >>= 1) {
    if (tid < stride) red[tid] += red[tid + stride];
    barrier();
  }
  float inv_sum = 1.0 / red[0];

  // Each thread owns a pair of output dimensions.
  for (uint d2 = tid; d2 < hd / 2u; d2 += 64u) {
    vec2 acc = vec2(0.0);
    for (uint j = 0u; j < n_keys; ++j) {
#if defined(DECODE_ROPE)
      uint vv = j == pos ? v_sh[d2] : v_cache[pc.cache_offset + j * row_pairs + head_pair0 + d2];
#else
      uint vv = v_cache[pc.cache_offset + j * row_pairs + head_pair0 + d2];
#endif
      acc += scores[j] * unpackHalf2x16(vv);
    }
    uint o = (t * pc.n_head + h) * hd + 2u * d2;
    outp[o] = acc.x * inv_sum;
    outp[o + 1u] = acc.y * inv_sum;
  }
}
