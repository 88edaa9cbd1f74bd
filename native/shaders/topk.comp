#version 450
// The TOP_K largest logits of the last computed row, as (token id, logit) pairs, so a sampler that
// only looks at the top candidates reads back 512 bytes instead of the whole vocabulary.
// Radix select on the logits' order-preserving uint keys (8 bits per pass, most significant first)
// finds the K-th largest key T; then every thread, owning a contiguous slice of the row, writes its
// keys > T and the first needed keys == T at positions given by prefix sums, so the output set is
// deterministic (ties at T resolve to the lowest token ids). Order within the output is unspecified.
#include "common.glsl"

layout(local_size_x = 256) in;
layout(std430, set = 0, binding = 1) readonly buffer Logits { float logits[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Result { uint result_ids[64]; float result_logits[64]; };

layout(push_constant) uniform PC { uint n_vocab; } pc;

const uint TOP_K = 64u;
shared uint histogram[256];
shared uint prefix_bits;   // high bits of T found so far
shared uint still_needed;  // how many of the remaining candidates (matching prefix_bits) to take
shared uint counts_gt[256];
shared uint counts_eq[256];

uint sort_key(float f) {
  uint u = floatBitsToUint(f);
  return (u & 0x80000000u) != 0u ? ~u : (u | 0x80000000u);
}

void main() {
  uint tid = gl_LocalInvocationID.x;
  uint base = (step.n_tokens - 1u - step.logits_begin) * pc.n_vocab;
  uint k = min(TOP_K, pc.n_vocab);
  uint chunk = (pc.n_vocab + 255u) / 256u;
  uint begin = min(tid * chunk, pc.n_vocab);
  uint end = min(begin + chunk, pc.n_vocab);
  if (tid == 0u) { prefix_bits = 0u; still_needed = k; }

  for (int pass = 0; pass < 4; ++pass) {
    uint shift = uint(24 - 8 * pass);
    histogram[tid] = 0u;
    barrier();
    // Keys whose bits above this pass's byte equal the prefix found so far.
    uint high_mask = pass == 0 ? 0u : (0xffffffffu << (shift + 8u));
    for (uint i = begin; i < end; ++i) {
      uint key = sort_key(logits[base + i]);
      if ((key & high_mask) == prefix_bits) atomicAdd(histogram[(key >> shift) & 0xffu], 1u);
    }
    barrier();
    if (tid == 0u) {
      uint need = still_needed;
      uint bin = 255u;
      for (;;) {
        uint c = histogram[bin];
        if (c >= need || bin == 0u) break;
        need -= c;
        bin--;
      }
      prefix_bits |= bin << shift;
      still_needed = need;
    }
    barrier();
  }
  uint threshold = prefix_bits;  // the K-th largest key
  uint take_equal = still_needed; // how many keys == threshold belong to the top K

  uint gt = 0u, eq = 0u;
  for (uint i = begin; i < end; ++i) {
    uint key = sort_key(logits[base + i]);
    if (key > threshold) gt++;
    else if (key == threshold) eq++;
  }
  counts_gt[tid] = gt;
  counts_eq[tid] = eq;
  barrier();
  if (tid == 0u) {  // exclusive prefix sums (256 entries: cheap next to the passes above)
    uint sg = 0u, se = 0u;
    for (uint t = 0u; t < 256u; ++t) {
      uint g = counts_gt[t], e = counts_eq[t];
      counts_gt[t] = sg;
      counts_eq[t] = se;
      sg += g;
      se += e;
    }
  }
  barrier();
  uint out_gt = counts_gt[tid];
  uint eq_rank = counts_eq[tid];
  uint n_gt_total = k - take_equal;
  for (uint i = begin; i < end; ++i) {
    float v = logits[base + i];
    uint key = sort_key(v);
    if (key > threshold) {
      result_ids[out_gt] = i;
      result_logits[out_gt] = v;
      out_gt++;
    } else if (key == threshold) {
      if (eq_rank < take_equal) {
        result_ids[n_gt_total + eq_rank] = i;
        result_logits[n_gt_total + eq_rank] = v;
      }
      eq_rank++;
    }
  }
}
