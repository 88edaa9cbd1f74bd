#version 450
// One step of the GPU-resident greedy loop (Session::decodeChain), run by a single invocation between
// two replays of the recorded decode command buffer: the argmax of the step just computed becomes the
// next step's input token, the step's position moves on by one, and the token is appended to the
// host-visible chain output, so n greedy tokens need one submission and one fence wait.
//
// Binding 0 (the step-parameter uniform every kernel gets) is not read here: the same buffer is bound
// again at binding 1 as a storage buffer, so this kernel can advance pos0 for the next step.

layout(local_size_x = 1) in;
layout(std430, set = 0, binding = 1) buffer StepRW {  // mirrors StepParams in common.glsl
  uint n_tokens;
  uint pos0;
  uint logits_begin;
  uint pad0;
} step_rw;
layout(std430, set = 0, binding = 2) readonly buffer Argmax { uint argmax_result[]; };
layout(std430, set = 0, binding = 3) writeonly buffer Tokens { uint tokens[]; };
layout(std430, set = 0, binding = 4) buffer Chain {
  uint count;        // tokens appended so far (the host zeroes it before the submission)
  uint out_tokens[];  // capacity entries
} chain;

layout(push_constant) uniform PC {
  uint n_vocab;
  uint capacity;  // entries of chain.out_tokens
} pc;

void main() {
  uint t = argmax_result[0];
  uint i = chain.count;
  // The raw result goes to the host (0xffffffff reads as -1 there, as eval's argmax does); the next
  // embedding lookup never reads outside the table, whatever the argmax returned.
  if (i < pc.capacity) chain.out_tokens[i] = t;
  chain.count = i + 1u;
  tokens[0] = t < pc.n_vocab ? t : 0u;
  step_rw.pos0 = step_rw.pos0 + 1u;
}
