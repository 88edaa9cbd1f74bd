#version 450
// SwiGLU's elementwise half: gate[i] = silu(gate[i]) * up[i] over the step's tokens.
#include "common.glsl"

layout(local_size_x = 256) in;
layout(std430, set = 0, binding = 1) buffer Gate { float gate[]; };
layout(std430, set = 0, binding = 2) readonly buffer Up { float up[]; };

layout(push_constant) uniform PC { uint n_ff; } pc;

void main() {
  uint i = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * 65535u * 256u;
  if (i >= step.n_tokens * pc.n_ff) return;
  float g = gate[i];
  gate[i] = g / (1.0 + exp(-g)) * up[i];
}
