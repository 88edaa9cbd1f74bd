// The end of one GPU-resident loop step, shared by decode_advance.comp (greedy) and sample_advance.comp:
// the chosen token becomes the next step's input, the step's position moves on by one, and the token is
// appended to the host-visible chain output, so n tokens need one submission and one fence wait.
//
// Binding 0 (the step-parameter uniform every kernel gets) is not read here: the same buffer is bound
// again at binding 1 as a storage buffer, so the step can advance pos0 for the next one.
layout(std430, set = 0, binding = 1) buffer StepRW {  // mirrors StepParams in common.glsl
  uint n_tokens;
  uint pos0;
  uint logits_begin;
  uint pad0;
} step_rw;
layout(std430, set = 0, binding = 3) writeonly buffer Tokens { uint tokens[]; };
layout(std430, set = 0, binding = 4) buffer Chain {
  uint count;         // tokens appended so far (the host zeroes it before the submission)
  uint out_tokens[];  // `capacity` entries
} chain;

void advance_chain(uint t, uint n_vocab, uint capacity) {
  uint i = chain.count;
  // The raw token goes to the host (0xffffffff reads as -1 there, as eval's argmax does); the next
  // embedding lookup never reads outside the table, whatever the step chose.
  if (i < capacity) chain.out_tokens[i] = t;
  chain.count = i + 1u;
  tokens[0] = t < n_vocab ? t : 0u;
  step_rw.pos0 = step_rw.pos0 + 1u;
}
