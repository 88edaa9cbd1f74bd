#version 450
// Applies RoPE (llama.cpp "normal" mode: adjacent pairs (2i, 2i+1)) to Q in place and to K, and
// stores K and V as f16 into this layer's slice of the KV cache at the tokens' positions.
// cos/sin come from a host-computed table (double precision, exact for large positions).
#include "common.glsl"

layout(local_size_x = 64) in;
layout(std430, set = 0, binding = 1) buffer Q { float q[]; };
layout(std430, set = 0, binding = 2) readonly buffer K { float k[]; };
layout(std430, set = 0, binding = 3) readonly buffer V { float v[]; };
layout(std430, set = 0, binding = 4) readonly buffer Rope { vec2 cos_sin[]; };  // [pos][rope_dim/2]
layout(std430, set = 0, binding = 5) writeonly buffer KCache { uint k_cache[]; };  // f16 pairs
layout(std430, set = 0, binding = 6) writeonly buffer VCache { uint v_cache[]; };

layout(push_constant) uniform PC {
  uint n_head;
  uint n_head_kv;
  uint head_dim;
  uint rope_dim;
  uint cache_offset;  // uint index of this layer's slice in the caches
} pc;

vec2 rotate(vec2 p, uint pos, uint i) {
  if (2u * i >= pc.rope_dim) return p;
  vec2 cs = cos_sin[pos * (pc.rope_dim / 2u) + i];
  return vec2(p.x * cs.x - p.y * cs.y, p.x * cs.y + p.y * cs.x);
}

void main() {
  uint t = gl_WorkGroupID.x;
  if (t >= step.n_tokens) return;
  uint pos = step.pos0 + t;
  uint half_hd = pc.head_dim / 2u;
  uint q_pairs = pc.n_head * half_hd;
  uint kv_pairs = pc.n_head_kv * half_hd;
  uint q_base = t * pc.n_head * pc.head_dim;
  uint kv_base = t * pc.n_head_kv * pc.head_dim;
  for (uint p = gl_LocalInvocationID.x; p < q_pairs; p += 64u) {
    uint i = p % half_hd;
    uint o = q_base + 2u * p;
    vec2 r = rotate(vec2(q[o], q[o + 1u]), pos, i);
    q[o] = r.x;
    q[o + 1u] = r.y;
  }
  uint cache_row = pc.cache_offset + pos * kv_pairs;
  for (uint p = gl_LocalInvocationID.x; p < kv_pairs; p += 64u) {
    uint i = p % half_hd;
    uint o = kv_base + 2u * p;
    vec2 r = rotate(vec2(k[o], k[o + 1u]), pos, i);
    k_cache[cache_row + p] = packHalf2x16(r);
    v_cache[cache_row + p] = packHalf2x16(vec2(v[o], v[o + 1u]));
  }
}
