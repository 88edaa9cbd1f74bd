#version 450
// The TOP_K largest logits of the last computed row, as (token id, logit) pairs, so a sampler that
// only looks at the top candidates reads back 512 bytes instead of the whole vocabulary (and the GPU
// sampling loop draws from them on the device).
//
// Two levels in one dispatch: each of the grid's workgroups selects the TOP_K largest of its slice of the
// row (contiguous ids) into the `cands` scratch, and the last workgroup to finish (a counter, as in
// attention_decode.comp) selects the TOP_K largest of those candidates. The row's top K are among them: no
// element of a slice beats its slice's K-th. Many slices instead of one workgroup over the whole row: each
// pass over 32,000 logits was one workgroup's serial work on the critical path of every sampled token.
//
// Selection (both levels): radix select on the logits' order-preserving uint keys (8 bits per pass, most
// significant first) finds the K-th largest key T; then every thread, owning a contiguous run of the
// elements in id order, writes its keys > T and the first needed keys == T at positions given by prefix
// sums, so the output set is deterministic: ties at T resolve to the lowest token ids (the candidates
// keep their slices' order, and within a slice the ties in id order, so the second level sees them in id
// order too). Order within the output is unspecified. Everything that is not per element runs on all 256
// threads: the bin holding the K-th key comes from a suffix sum over the histogram and the output positions
// from prefix sums, each a subgroup scan plus the totals of the subgroups before (two workgroup barriers, where
// a doubling scan over shared memory took 16: each selection now waits at 23 barriers, not 95, and a sampled
// token's two levels run one after the other on a GPU; on lavapipe, where the element passes dominate, the
// change measured nothing). Threads are numbered by subgroup (`tid` = subgroup · size + invocation), the order
// the scans run in.
// SAMPLE (compiled as topk_sample_<embedding format>, the GPU sampling loop's step between two decode replays,
// Session::decodeChain): before its selection each workgroup applies the repetition penalties to its slice
// of the logits in place (runtime/sampler.ts's applyPenalties, over the last `penalty_window` tokens of the
// history); after the second level the last workgroup draws the next token from the 64 candidates
// (sample_pick.glsl), advances the loop (chain_advance.glsl) and embeds the token into x for the next step
// (embed_row.glsl). Penalties, draw, advance and embedding need no dispatch or barrier of their own.
#extension GL_EXT_control_flow_attributes : enable
#extension GL_KHR_shader_subgroup_basic : enable
#extension GL_KHR_shader_subgroup_arithmetic : enable
#include "common.glsl"

layout(local_size_x = 256) in;
#ifdef SAMPLE
// Penalized in place by each workgroup and read back by its other invocations: coherent.
layout(std430, set = 0, binding = 1) coherent buffer Logits { float logits[]; };
#else
layout(std430, set = 0, binding = 1) readonly buffer Logits { float logits[]; };
#endif
layout(std430, set = 0, binding = 2) writeonly buffer Result { uint result_ids[64]; float result_logits[64]; };
// finished: workgroups done with their slice (the last resets it); cand[g * TOP_K + j]: slice g's candidates
// as (token id, logit bits), unused entries (a slice shorter than TOP_K) as (~0, bits of -inf).
layout(std430, set = 0, binding = 3) coherent buffer Candidates { uint finished; uint pad; uvec2 cand[]; } cands;

layout(push_constant) uniform PC {
  uint n_vocab;
  uint slice;  // logits per workgroup (the grid covers the row; the last slice may be shorter)
#ifdef SAMPLE
  uint capacity;  // entries of chain.out_tokens
  uint K;         // embedding length
  uint scale_offset;
#endif
} pc;

#ifdef SAMPLE
#define CHAIN_STEP_BINDING 4
#define CHAIN_OUT_BINDING 5
#include "chain_advance.glsl"
#define SAMPLER_BINDING 6
#include "sampler_state.glsl"
#include "sample_pick.glsl"
layout(std430, set = 0, binding = 7) buffer History { uint history[]; };  // the token at each position
#define WEIGHT_BINDING 8
#include "weights.glsl"
layout(std430, set = 0, binding = 9) writeonly buffer X { float x[]; };
#include "embed_row.glsl"
shared uint chosen;
#endif

const uint TOP_K = 64u;
shared uint histogram[256];
shared uint prefix_bits;   // high bits of T found so far
shared uint still_needed;  // how many of the remaining candidates (matching prefix_bits) to take
shared uvec2 subgroup_sums[64];  // workgroup_scan's per-subgroup totals (subgroups of 4 lanes or more)
shared bool last_wg;

uint sort_key(float f) {
  uint u = floatBitsToUint(f);
  return (u & 0x80000000u) != 0u ? ~u : (u | 0x80000000u);
}

// The elements a selection reads: the logits [src_base, src_base + src_n) of this workgroup's slice (ids
// from src_id0), or (second level) the candidates cand[0, src_n).
bool from_cands = false;
uint src_base = 0u, src_n = 0u, src_id0 = 0u;
float value_at(uint i) { return from_cands ? uintBitsToFloat(cands.cand[i].y) : logits[src_base + i]; }
uint id_at(uint i) { return from_cands ? cands.cand[i].x : src_id0 + i; }

// Where a selection puts its slot-th element: the workgroup's candidate entries, or (second level) the result.
void emit(uint slot, uint id, float v) {
  if (from_cands) {
    result_ids[slot] = id;
    result_logits[slot] = v;
#ifdef SAMPLE
    cand_ids_sh[slot] = id;
    cand_logits_sh[slot] = v;
#endif
  } else {
    cands.cand[gl_WorkGroupID.x * TOP_K + slot] = uvec2(id, floatBitsToUint(v));
  }
}

// Exclusive prefix sums of v over the workgroup's lanes (in lane order), and their totals: a subgroup scan,
// then each lane adds the totals of the subgroups before its own. Call with every thread; two barriers.
uvec2 workgroup_scan(uvec2 v, out uvec2 total) {
  uvec2 before = subgroupExclusiveAdd(v);
  uvec2 sum = subgroupAdd(v);
  if (subgroupElect()) subgroup_sums[gl_SubgroupID] = sum;
  barrier();
  total = uvec2(0u);
  for (uint s = 0u; s < gl_NumSubgroups; ++s) {
    uvec2 t = subgroup_sums[s];
    if (s < gl_SubgroupID) before += t;
    total += t;
  }
  barrier();  // subgroup_sums is written again by the next scan
  return before;
}

// Emits the k (<= TOP_K, <= src_n) largest source elements into slots 0..k-1. Call with every thread.
void select_top(uint tid, uint k) {
  if (tid == 0u) {
    prefix_bits = 0u;
    still_needed = k;
  }
  for (int pass = 0; pass < 4; ++pass) {
    uint shift = uint(24 - 8 * pass);
    histogram[tid] = 0u;
    barrier();
    // Keys whose bits above this pass's byte equal the prefix found so far (neighbouring threads read
    // neighbouring elements).
    uint high_mask = pass == 0 ? 0u : (0xffffffffu << (shift + 8u));
    uint prefix = prefix_bits;
    for (uint i = tid; i < src_n; i += 256u) {
      uint key = sort_key(value_at(i));
      if ((key & high_mask) == prefix) atomicAdd(histogram[(key >> shift) & 0xffu], 1u);
    }
    barrier();
    uint need = still_needed;
    // Keys in bins >= this lane's bin, and in bins above it (a suffix sum: the total less the bins below).
    uint own = histogram[tid];
    uvec2 total;
    uint at_or_above = workgroup_scan(uvec2(own, 0u), total).x;
    at_or_above = total.x - at_or_above;
    uint above = at_or_above - own;
    // The K-th largest key is in the highest bin whose suffix count reaches `need` (bin 0 if none does).
    if ((at_or_above >= need && above < need) || (tid == 0u && at_or_above < need)) {
      prefix_bits = prefix | (tid << shift);
      still_needed = need - above;
    }
    barrier();
  }
  uint threshold = prefix_bits;    // the K-th largest key
  uint take_equal = still_needed;  // how many keys == threshold belong to the top K

  // Each thread's contiguous run of elements, in id order.
  uint run = (src_n + 255u) / 256u;
  uint begin = min(tid * run, src_n);
  uint end = min(begin + run, src_n);
  uint gt = 0u, eq = 0u;
  for (uint i = begin; i < end; ++i) {
    uint key = sort_key(value_at(i));
    if (key > threshold) gt++;
    else if (key == threshold) eq++;
  }
  uvec2 total;
  uvec2 before = workgroup_scan(uvec2(gt, eq), total);
  uint out_gt = before.x;
  uint eq_rank = before.y;
  uint n_gt_total = k - take_equal;
  for (uint i = begin; i < end; ++i) {
    float v = value_at(i);
    uint key = sort_key(v);
    if (key > threshold) {
      emit(out_gt, id_at(i), v);
      out_gt++;
    } else if (key == threshold) {
      if (eq_rank < take_equal) emit(n_gt_total + eq_rank, id_at(i), v);
      eq_rank++;
    }
  }
  barrier();  // the shared state is reused by the next selection
}

#ifdef SAMPLE
// The repetition penalties on the logits of ids [lo, hi), row_base the row's start: for every distinct token of
// the window (the last penalty_window positions up to the current one, pos0), a positive logit is divided by the
// repeat penalty and a negative one multiplied, then count·frequency + presence is subtracted. Each invocation
// takes window positions in turn and applies a token's penalty at its first occurrence only, counting the others
// (the window is at most 256 tokens, so the quadratic count stays small; tokens outside the slice are skipped).
void penalize_slice(uint tid, uint lo, uint hi, uint row_base) {
  uint n = min(state.penalty_window, step.pos0 + 1u);
  uint start = step.pos0 + 1u - n;
  for (uint i = tid; i < n; i += 256u) {
    uint t = history[start + i];
    if (t < lo || t >= hi) continue;
    bool first = true;
    uint count = 0u;
    for (uint j = 0u; j < n; ++j) {
      if (history[start + j] == t) {
        count++;
        if (j < i) first = false;
      }
    }
    if (!first) continue;
    float l = logits[row_base + t];
    l = l <= 0.0 ? l * state.repeat_penalty : l / state.repeat_penalty;
    logits[row_base + t] = l - (float(count) * state.frequency_penalty + state.presence_penalty);
  }
  memoryBarrierBuffer();
  barrier();  // the slice's penalized logits before any invocation selects from them
}
#endif

void main() {
  uint tid = gl_SubgroupID * gl_SubgroupSize + gl_SubgroupInvocationID;  // the scans' order (see the top)
  uint groups = gl_NumWorkGroups.x;

  // Level 1: this workgroup's slice.
  src_id0 = gl_WorkGroupID.x * pc.slice;
  src_base = (step.n_tokens - 1u - step.logits_begin) * pc.n_vocab + src_id0;
  src_n = src_id0 < pc.n_vocab ? min(pc.slice, pc.n_vocab - src_id0) : 0u;
  uint k = min(TOP_K, src_n);
#ifdef SAMPLE
  penalize_slice(tid, src_id0, src_id0 + src_n, src_base - src_id0);
#endif
  select_top(tid, k);
  // A short slice pads its entries with elements no real logit loses to (and, at equal keys, ids after all).
  for (uint j = k + tid; j < TOP_K; j += 256u) cands.cand[gl_WorkGroupID.x * TOP_K + j] = uvec2(0xffffffffu, floatBitsToUint(-1.0 / 0.0));

  // Publish the candidates, then count this workgroup in; the last one to arrive selects among them all.
  memoryBarrierBuffer();
  barrier();
  if (tid == 0u) {
    last_wg = atomicAdd(cands.finished, 1u) == groups - 1u;
    memoryBarrierBuffer();
  }
  barrier();
  if (!last_wg) return;
  memoryBarrierBuffer();

  // Level 2: the candidates of every slice, in slice order.
  from_cands = true;
  src_n = groups * TOP_K;
  uint candidates = min(TOP_K, pc.n_vocab);
  select_top(tid, candidates);
  if (tid == 0u) cands.finished = 0u;  // ready for the next dispatch (it follows a pipeline barrier)

#ifdef SAMPLE
  // The draw: emit() also left the candidates in shared memory (select_top ends with a barrier).
  sort_candidates(tid, candidates);
  barrier();
  if (tid == 0u) {
    uint t = pick(candidates);
    // The penalties of the next step look at this token at the next position.
    if (state.penalty_window > 0u) history[step_rw.pos0 + 1u] = t;
    advance_chain(t, pc.capacity);
    chosen = t < pc.n_vocab ? t : 0u;
  }
  barrier();
  embed_row(chosen, 0u, pc.K, pc.scale_offset, 256u);
#endif
}
