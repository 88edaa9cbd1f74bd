#version 450
// One step of the GPU-resident greedy loop (Session::decodeChain), between two replays of the recorded
// decode command buffer: the argmax of the step just computed is appended to the chain, the position
// moves on (chain_advance.glsl), and its embedding becomes the next step's x (embed_row.glsl; ids outside
// the table embed token 0), so the step itself starts at the first layer. Compiled once per weight format of the embedding table.
#extension GL_EXT_control_flow_attributes : enable
#include "common.glsl"

layout(local_size_x = 64) in;
#include "chain_advance.glsl"
layout(std430, set = 0, binding = 2) readonly buffer Argmax { uint argmax_result[]; };
#define WEIGHT_BINDING 4
#include "weights.glsl"
layout(std430, set = 0, binding = 5) writeonly buffer X { float x[]; };
#include "embed_row.glsl"

layout(push_constant) uniform PC {
  uint n_vocab;
  uint capacity;  // entries of chain.out_tokens
  uint K;         // embedding length
  uint scale_offset;
} pc;

void main() {
  uint t = argmax_result[0];
  if (gl_LocalInvocationID.x == 0u) advance_chain(t, pc.capacity);
  embed_row(t < pc.n_vocab ? t : 0u, 0u, pc.K, pc.scale_offset, 64u);
}
