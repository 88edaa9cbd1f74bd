#version 450
// Index of the largest logit of the last computed row (ties → lowest index), so greedy decoding
// reads back 4 bytes instead of the whole vocabulary.
#include "common.glsl"

layout(local_size_x = 256) in;
layout(std430, set = 0, binding = 1) readonly buffer Logits { float logits[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Result { uint result[]; };

layout(push_constant) uniform PC { uint n_vocab; } pc;

shared float best_v[256];
shared uint best_i[256];

void main() {
  uint tid = gl_LocalInvocationID.x;
  uint row = step.n_tokens - 1u - step.logits_begin;
  uint base = row * pc.n_vocab;
  float bv = -1.0 / 0.0;
  uint bi = 0xffffffffu;
  for (uint i = tid; i < pc.n_vocab; i += 256u) {
    float v = logits[base + i];
    if (v > bv) { bv = v; bi = i; }
  }
  best_v[tid] = bv;
  best_i[tid] = bi;
  barrier();
  for (uint stride = 128u; stride > 0u; stride >>= 1) {
    if (tid < stride) {
      float ov = best_v[tid + stride];
      uint oi = best_i[tid + stride];
      if (ov > best_v[tid] || (ov == best_v[tid] && oi < best_i[tid])) {
        best_v[tid] = ov;
        best_i[tid] = oi;
      }
    }
    barrier();
  }
  if (tid == 0u) result[0] = best_i[0];
}
