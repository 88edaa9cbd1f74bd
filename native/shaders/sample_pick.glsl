// The GPU sampling loop's draw (topk.comp's SAMPLE build): runtime/sampler.ts's chain — top-k → top-p → min-p →
// temperature → one draw from xoshiro128** — over the topk selection's candidates, continuing the host
// sampler's random stream (the host hands its generator state in and takes it back).
//
// The same algorithm as the host sampler over the same candidates, in float32 where the host uses float64:
// the two pick the same token unless a draw lands within float rounding of a boundary between two candidates.
//
// The caller puts the candidates in cand_ids_sh / cand_logits_sh; sort_candidates (one invocation per
// candidate) ranks them (logit descending, ties → lower token id, the host's order), then one invocation
// calls pick(), which walks the sorted list (at most 63 entries: cheap, and sequential like the host's loops,
// so the cut-offs and the draw accumulate in the same order). Include after sampler_state.glsl.

shared uint cand_ids_sh[64];
shared float cand_logits_sh[64];
shared uint sorted_ids[64];
shared float sorted_logits[64];

// Invocation i < candidates places candidate i at its rank; barrier() before pick().
void sort_candidates(uint i, uint candidates) {
  if (i >= candidates) return;
  uint id = cand_ids_sh[i];
  float l = cand_logits_sh[i];
  uint rank = 0u;
  for (uint j = 0u; j < candidates; ++j) {
    float lj = cand_logits_sh[j];
    uint idj = cand_ids_sh[j];
    if (lj > l || (lj == l && idj < id)) rank++;
  }
  sorted_ids[rank] = id;
  sorted_logits[rank] = l;
}

uint rotl(uint x, uint k) { return (x << k) | (x >> (32u - k)); }

// xoshiro128** (Blackman & Vigna), as runtime/sampler.ts's Xoshiro128.nextU32.
uint next_u32() {
  uint a = state.rng[0], b = state.rng[1], c = state.rng[2], d = state.rng[3];
  uint result = rotl(b * 5u, 7u) * 9u;
  uint t = b << 9u;
  c ^= a;
  d ^= b;
  b ^= c;
  a ^= d;
  c ^= t;
  d = rotl(d, 11u);
  state.rng[0] = a;
  state.rng[1] = b;
  state.rng[2] = c;
  state.rng[3] = d;
  return result;
}

// Uniform in [0, 1) from two draws (Xoshiro128.nextFloat's 27 + 26 bits; float keeps the top 24).
float next_float() {
  uint hi = next_u32() >> 5u;
  uint lo = next_u32() >> 6u;
  return (float(hi) + float(lo) / 67108864.0) / 134217728.0;
}

uint pick(uint candidates) {
  uint size = min(state.top_k, candidates);
  // Greedy (penalties only), or a top logit of ±inf (or NaN) that leaves nothing else drawable: the host
  // returns the top candidate without a draw.
  if (state.temperature <= 0.0 || isinf(sorted_logits[0]) || isnan(sorted_logits[0])) return sorted_ids[0];
  float max_l = sorted_logits[0];

  // top-p: the shortest prefix whose probability mass reaches top_p.
  if (state.top_p < 1.0 && size > 1u) {
    float sum = 0.0;
    for (uint i = 0u; i < size; ++i) sum += exp(sorted_logits[i] - max_l);
    float target = state.top_p * sum, acc = 0.0;
    for (uint i = 0u; i < size; ++i) {
      acc += exp(sorted_logits[i] - max_l);
      if (acc >= target) { size = i + 1u; break; }
    }
  }
  // min-p: p >= min_p * p_max  <=>  logit >= max + ln(min_p); on a sorted list that is a prefix.
  if (state.min_p > 0.0 && size > 1u) {
    float threshold = max_l + log(state.min_p);
    uint keep = 0u;
    while (keep < size && sorted_logits[keep] >= threshold) keep++;
    size = max(keep, 1u);
  }
  // temperature, softmax and one draw.
  float inv_t = 1.0 / state.temperature;
  float sum = 0.0;
  for (uint i = 0u; i < size; ++i) sum += exp((sorted_logits[i] - max_l) * inv_t);
  float r = next_float() * sum, acc = 0.0;
  for (uint i = 0u; i < size; ++i) {
    acc += exp((sorted_logits[i] - max_l) * inv_t);
    if (r < acc) return sorted_ids[i];
  }
  // Rounding left r >= acc: the last candidate with non-zero weight.
  for (uint i = size; i > 0u; --i)
    if (exp((sorted_logits[i - 1u] - max_l) * inv_t) > 0.0) return sorted_ids[i - 1u];
  return sorted_ids[0];
}
