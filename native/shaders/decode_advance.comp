#version 450
// One step of the GPU-resident greedy loop (Session::decodeChain), run by a single invocation between
// two replays of the recorded decode command buffer: the argmax of the step just computed becomes the
// next step's input token (chain_advance.glsl).

layout(local_size_x = 1) in;
#include "chain_advance.glsl"
layout(std430, set = 0, binding = 2) readonly buffer Argmax { uint argmax_result[]; };

layout(push_constant) uniform PC {
  uint n_vocab;
  uint capacity;  // entries of chain.out_tokens
} pc;

void main() { advance_chain(argmax_result[0], pc.n_vocab, pc.capacity); }
