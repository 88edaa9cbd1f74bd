#version 450
// x[t][:] = token_embd[token[t]][:] dequantized: one workgroup per token.
#extension GL_EXT_control_flow_attributes : enable
#include "common.glsl"
#define WEIGHT_BINDING 1
#include "weights.glsl"

layout(local_size_x = 64) in;
layout(std430, set = 0, binding = 2) readonly buffer Tokens { uint tokens[]; };
layout(std430, set = 0, binding = 3) writeonly buffer X { float x[]; };
#include "embed_row.glsl"

layout(push_constant) uniform PC {
  uint K;             // embedding length
  uint n_vocab;
  uint scale_offset;
} pc;

void main() {
  uint t = gl_WorkGroupID.x;
  if (t >= step.n_tokens) return;
  uint id = min(tokens[t], pc.n_vocab - 1u);  // ids are validated on the host; clamp keeps reads in bounds
  embed_row(id, t * pc.K, pc.K, pc.scale_offset, 64u);
}
