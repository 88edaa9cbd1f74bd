#version 450
// The GPU sampling loop's repetition penalties (runtime/sampler.ts's applyPenalties), applied to the decode
// step's logits in place before the top-64 selection: for every distinct token among the last
// `penalty_window` tokens of the history (positions up to the current one, pos0), a positive logit is
// divided by the repeat penalty and a negative one multiplied, then count·frequency + presence is
// subtracted. One workgroup; each thread takes window positions in turn and applies the penalty at a
// token's first occurrence only, counting the others (the window is at most 256 tokens, so the quadratic
// count stays small).
#include "common.glsl"

layout(local_size_x = 256) in;
layout(std430, set = 0, binding = 1) buffer Logits { float logits[]; };
layout(std430, set = 0, binding = 2) readonly buffer History { uint history[]; };  // token at each position
#define SAMPLER_BINDING 3
#include "sampler_state.glsl"

layout(push_constant) uniform PC { uint n_vocab; } pc;

void main() {
  uint n = min(state.penalty_window, step.pos0 + 1u);
  uint start = step.pos0 + 1u - n;
  for (uint i = gl_LocalInvocationID.x; i < n; i += 256u) {
    uint t = history[start + i];
    if (t >= pc.n_vocab) continue;
    bool first = true;
    uint count = 0u;
    for (uint j = 0u; j < n; ++j) {
      if (history[start + j] == t) {
        count++;
        if (j < i) first = false;
      }
    }
    if (!first) continue;
    float l = logits[t];
    l = l <= 0.0 ? l * state.repeat_penalty : l / state.repeat_penalty;
    logits[t] = l - (float(count) * state.frequency_penalty + state.presence_penalty);
  }
}
