// The GPU sampling loop's sampler (Session::Sampling, written by the host before each chain), read and advanced
// by topk.comp's SAMPLE build (penalties, sample_pick.glsl). Declare SAMPLER_BINDING before including.
layout(std430, set = 0, binding = SAMPLER_BINDING) buffer SamplerState {
  float temperature;        // <= 0: greedy (the top candidate, no draw)
  uint top_k;               // 1..63 (< the candidates)
  float top_p;              // (0, 1]; 1 disables
  float min_p;              // [0, 1]; 0 disables
  uint rng[4];              // xoshiro128** state, advanced by every draw
  float repeat_penalty;     // > 0; 1 disables
  float frequency_penalty;  // subtracted once per occurrence in the window
  float presence_penalty;   // subtracted once if the token occurs in the window
  uint penalty_window;      // the last this many tokens of the history (0: no penalties)
} state;
