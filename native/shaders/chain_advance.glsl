// The end of one GPU-resident loop step, shared by decode_advance.comp (greedy) and topk.comp's SAMPLE build:
// the step's position moves on by one and the chosen token is appended to the host-visible chain output, so n
// tokens need one submission and one fence wait. (The two kernels embed the token into x themselves,
// embed_row.glsl, which is all the next step needs of it: no token id is written for it.)
//
// Binding 0 (the step-parameter uniform every kernel gets) is not read for this: the same buffer is bound
// again as a storage buffer, so the step can advance pos0 for the next one. The bindings default to decode_advance's;
// a kernel that binds them elsewhere defines CHAIN_STEP_BINDING and CHAIN_OUT_BINDING first.
#ifndef CHAIN_STEP_BINDING
#define CHAIN_STEP_BINDING 1
#define CHAIN_OUT_BINDING 3
#endif
layout(std430, set = 0, binding = CHAIN_STEP_BINDING) buffer StepRW {  // mirrors StepParams in common.glsl
  uint n_tokens;
  uint pos0;
  uint logits_begin;
  uint pad0;
} step_rw;
layout(std430, set = 0, binding = CHAIN_OUT_BINDING) buffer Chain {
  uint count;         // tokens appended so far (the host zeroes it before the submission)
  uint out_tokens[];  // `capacity` entries
} chain;

// Call from one invocation.
void advance_chain(uint t, uint capacity) {
  uint i = chain.count;
  // The raw token goes to the host (0xffffffff reads as -1 there, as eval's argmax does).
  if (i < capacity) chain.out_tokens[i] = t;
  chain.count = i + 1u;
  step_rw.pos0 = step_rw.pos0 + 1u;
}
