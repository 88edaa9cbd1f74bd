#version 450
// out[t][i] = x[t][i] / sqrt(mean(x[t]^2) + eps) * weight[i]: one workgroup per token.
#include "common.glsl"

layout(local_size_x = 64) in;
layout(std430, set = 0, binding = 1) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 2) readonly buffer W { float weight[]; };
layout(std430, set = 0, binding = 3) writeonly buffer Out { float outp[]; };

layout(push_constant) uniform PC {
  uint n;
  float eps;
  uint logits_only;  // 1: only normalize tokens [logits_begin, n_tokens) (the final norm before the LM head)
} pc;

shared float partial[64];

void main() {
  uint t = gl_WorkGroupID.x;
  if (t >= step.n_tokens) return;
  if (pc.logits_only != 0u && t < step.logits_begin) return;
  uint tid = gl_LocalInvocationID.x;
  uint base = t * pc.n;
  float s = 0.0;
  for (uint i = tid; i < pc.n; i += 64u) s += x[base + i] * x[base + i];
  partial[tid] = s;
  barrier();
  for (uint stride = 32u; stride > 0u; stride >>= 1) {
    if (tid < stride) partial[tid] += partial[tid + stride];
    barrier();
  }
  float scale = inversesqrt(partial[0] / float(pc.n) + pc.eps);
  for (uint i = tid; i < pc.n; i += 64u) outp[base + i] = x[base + i] * scale * weight[i];
}
