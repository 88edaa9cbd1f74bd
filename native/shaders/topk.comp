#version 450
// The TOP_K largest logits of the last computed row, as (token id, logit) pairs, so a sampler that
// only looks at the top candidates reads back 512 bytes instead of the whole vocabulary (and the GPU
// sampling loop draws from them on the device).
// Radix select on the logits' order-preserving uint keys (8 bits per pass, most significant first)
// finds the K-th largest key T; then every thread, owning a contiguous slice of the row, writes its
// keys > T and the first needed keys == T at positions given by prefix sums, so the output set is
// deterministic (ties at T resolve to the lowest token ids). Order within the output is unspecified.
// Everything that is not per element runs on all 256 threads: the bin holding the K-th key comes from a
// suffix sum over the histogram and the output positions from prefix sums, each 8 doubling steps (one
// thread walking 256 entries would take longer than the passes over the row on a GPU). The histogram
// passes read the row interleaved (neighbouring threads, neighbouring logits); only the two passes that
// need each thread's logits in id order read contiguous slices.
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

// Inclusive suffix sums of histogram[] in place: histogram[b] becomes the count of bins >= b.
void suffix_sum(uint tid) {
  for (uint off = 1u; off < 256u; off <<= 1) {
    uint v = histogram[tid] + (tid + off < 256u ? histogram[tid + off] : 0u);
    barrier();
    histogram[tid] = v;
    barrier();
  }
}

// Exclusive prefix sums of counts_gt[] and counts_eq[] in place.
void prefix_sums(uint tid) {
  uint own_gt = counts_gt[tid], own_eq = counts_eq[tid];
  for (uint off = 1u; off < 256u; off <<= 1) {
    uint g = counts_gt[tid] + (tid >= off ? counts_gt[tid - off] : 0u);
    uint e = counts_eq[tid] + (tid >= off ? counts_eq[tid - off] : 0u);
    barrier();
    counts_gt[tid] = g;
    counts_eq[tid] = e;
    barrier();
  }
  counts_gt[tid] -= own_gt;
  counts_eq[tid] -= own_eq;
  barrier();
}

void main() {
  uint tid = gl_LocalInvocationID.x;
  uint base = (step.n_tokens - 1u - step.logits_begin) * pc.n_vocab;
  uint k = min(TOP_K, pc.n_vocab);
  if (tid == 0u) { prefix_bits = 0u; still_needed = k; }

  for (int pass = 0; pass < 4; ++pass) {
    uint shift = uint(24 - 8 * pass);
    histogram[tid] = 0u;
    barrier();
    // Keys whose bits above this pass's byte equal the prefix found so far.
    uint high_mask = pass == 0 ? 0u : (0xffffffffu << (shift + 8u));
    uint prefix = prefix_bits;
    for (uint i = tid; i < pc.n_vocab; i += 256u) {
      uint key = sort_key(logits[base + i]);
      if ((key & high_mask) == prefix) atomicAdd(histogram[(key >> shift) & 0xffu], 1u);
    }
    barrier();
    uint need = still_needed;
    suffix_sum(tid);
    // The K-th largest key is in the highest bin whose suffix count reaches `need` (bin 0 if none does).
    uint at_or_above = histogram[tid], above = tid < 255u ? histogram[tid + 1u] : 0u;
    if ((at_or_above >= need && above < need) || (tid == 0u && at_or_above < need)) {
      prefix_bits = prefix | (tid << shift);
      still_needed = need - above;
    }
    barrier();
  }
  uint threshold = prefix_bits;  // the K-th largest key
  uint take_equal = still_needed; // how many keys == threshold belong to the top K

  uint chunk = (pc.n_vocab + 255u) / 256u;
  uint begin = min(tid * chunk, pc.n_vocab);
  uint end = min(begin + chunk, pc.n_vocab);
  uint gt = 0u, eq = 0u;
  for (uint i = begin; i < end; ++i) {
    uint key = sort_key(logits[base + i]);
    if (key > threshold) gt++;
    else if (key == threshold) eq++;
  }
  counts_gt[tid] = gt;
  counts_eq[tid] = eq;
  barrier();
  prefix_sums(tid);
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
