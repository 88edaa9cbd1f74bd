#version 450
// Causal grouped-query attention for one (query head, token) per workgroup over the f16 KV cache:
// scores into shared memory, softmax, then each thread produces output dimensions. Used by the CPU kernel
// set's one-token steps (after rope_kv), and by prompt steps where attention_prefill.comp cannot run (head
// sizes not a multiple of 8 or over 256, subgroups without shuffles or under 4 wide) or where
// PARLEY_PREFILL_ATTENTION=0 asks for it; GPU decode runs attention_decode.comp.
#include "common.glsl"

layout(local_size_x = 64) in;
layout(std430, set = 0, binding = 1) readonly buffer Q { float q[]; };
layout(std430, set = 0, binding = 2) readonly buffer KCache { uint k_cache[]; };
layout(std430, set = 0, binding = 3) readonly buffer VCache { uint v_cache[]; };
layout(std430, set = 0, binding = 4) writeonly buffer Out { float outp[]; };

layout(push_constant) uniform PC {
  uint n_head;
  uint n_head_kv;
  uint head_dim;
  uint cache_offset;
  float scale;
} pc;

const uint MAX_CTX = 4096u;
shared float scores[MAX_CTX];
shared float q_sh[256];
shared float red[64];

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

  for (uint d = tid; d < hd; d += 64u) q_sh[d] = q[(t * pc.n_head + h) * hd + d];
  barrier();

  float local_max = -1.0e30;
  for (uint j = tid; j < n_keys; j += 64u) {
    uint kr = pc.cache_offset + j * row_pairs + head_pair0;
    float s = 0.0;
    for (uint d2 = 0u; d2 < hd / 2u; ++d2) {
      vec2 kk = unpackHalf2x16(k_cache[kr + d2]);
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
      uint vv = v_cache[pc.cache_offset + j * row_pairs + head_pair0 + d2];
      acc += scores[j] * unpackHalf2x16(vv);
    }
    uint o = (t * pc.n_head + h) * hd + 2u * d2;
    outp[o] = acc.x * inv_sum;
    outp[o + 1u] = acc.y * inv_sum;
  }
}
