#version 450
// Decode attention on GPUs (one token), split over the keys ("flash-decoding") and packed by KV group.
//
// Grid: x = packs of `heads_per_wg` query heads that share one KV head (GQA: each K/V row is read once
// per pack, not once per head), y = key chunks of `chunk` keys (the count is fixed when the command
// buffer is recorded, from the context size; the live key count pos0 + 1 comes from the step UBO and
// workgroups whose chunk starts past it exit at once). Each workgroup:
//   1. applies RoPE to its heads' q (and, in the chunk holding the new token, to the new k; k and v are
//      rounded to f16 as the cache holds them);
//   2. scores its chunk's keys for all its heads, then per head the chunk max m, l = Σ exp(s - m) and the
//      unnormalised acc = Σ exp(s - m)·v, written to the coherent `part` scratch;
//   3. bumps its pack's counter. The last workgroup of the pack to finish (counter == live chunks - 1)
//      combines the chunks (global max, rescale, sum), writes the heads' output and resets the counter
//      for the next layer or step. No extra dispatch or pipeline barrier is needed.
//
// The new token's K/V row (position pos) is stored into the cache by the first pack of its KV group, in
// the chunk holding pos. Every workgroup that needs that key (same chunk, any pack of the group) takes it
// from its own shared-memory copy, and earlier chunks never read row pos, so the write races with nothing.
#extension GL_KHR_shader_subgroup_basic : enable
#extension GL_KHR_shader_subgroup_arithmetic : enable
#include "common.glsl"

layout(local_size_x = 64) in;
layout(std430, set = 0, binding = 1) readonly buffer Q { float q[]; };
layout(std430, set = 0, binding = 2) buffer KCache { uint k_cache[]; };  // f16 pairs
layout(std430, set = 0, binding = 3) buffer VCache { uint v_cache[]; };
layout(std430, set = 0, binding = 4) writeonly buffer Out { float outp[]; };
layout(std430, set = 0, binding = 5) readonly buffer K { float k_new[]; };
layout(std430, set = 0, binding = 6) readonly buffer V { float v_new[]; };
layout(std430, set = 0, binding = 7) readonly buffer Rope { vec2 cos_sin[]; };  // [pos][rope_dim/2]
// Per (head, chunk): [n_head × n_chunks] of (m, l), then [n_head × n_chunks × head_dim/2] of acc pairs.
layout(std430, set = 0, binding = 8) coherent buffer Partials { vec2 part[]; };
layout(std430, set = 0, binding = 9) coherent buffer Counters { uint counters[]; };  // one per pack, 0 between steps

layout(push_constant) uniform PC {
  uint n_head;
  uint n_head_kv;
  uint head_dim;
  uint cache_offset;  // uint index of this layer's slice in the caches
  float scale;
  uint rope_dim;
  uint chunk;         // keys per workgroup, <= MAX_CHUNK
  uint heads_per_wg;  // divides n_head / n_head_kv, <= MAX_HP
} pc;

const uint MAX_HP = 8u;
const uint MAX_CHUNK = 256u;
const uint MAX_HEAD_DIM = 256u;
// 8 + 8 + 2 + 4 + 1 KB: within the 32 KB lavapipe allows.
shared vec2 q_sh[MAX_HP * MAX_HEAD_DIM / 2u];  // rotated q of the pack's heads, [head][pair]
shared float scores[MAX_HP * MAX_CHUNK];      // [head][key in chunk], then exp(s - m)
shared float red[MAX_HP * 64u];               // [head][subgroup] max / sum partials
shared vec2 acc_sh[MAX_HP * 64u];             // [head][thread] value partials across key lanes
shared uint k_sh[MAX_HEAD_DIM / 2u];          // the new token's K and V for this KV group, as f16 pairs
shared uint v_sh[MAX_HEAD_DIM / 2u];
shared bool is_last;

// RoPE (llama.cpp "normal" mode) of the adjacent pair (2i, 2i+1) at position `pos`.
vec2 rotate(vec2 p, uint pos, uint i) {
  if (2u * i >= pc.rope_dim) return p;
  vec2 cs = cos_sin[pos * (pc.rope_dim / 2u) + i];
  return vec2(p.x * cs.x - p.y * cs.y, p.x * cs.y + p.y * cs.x);
}

// The max (take_max) or sum of v[hh] over the workgroup's 64 threads, for every head of the pack at once;
// every thread gets the results. Subgroup reductions, then one pass over the subgroups' partials: two
// workgroup barriers where a tree over shared memory needs seven (each one a wait on the GPU's critical path:
// decode runs this kernel once per layer and token). hp is uniform, so the subgroup operations are too.
void reduce_heads(inout float v[MAX_HP], uint hp, bool take_max) {
  for (uint hh = 0u; hh < MAX_HP; ++hh) {
    if (hh < hp) {
      float r = take_max ? subgroupMax(v[hh]) : subgroupAdd(v[hh]);
      if (subgroupElect()) red[hh * 64u + gl_SubgroupID] = r;
    }
  }
  barrier();
  for (uint hh = 0u; hh < MAX_HP; ++hh) {
    if (hh < hp) {
      float r = red[hh * 64u];
      for (uint sg = 1u; sg < gl_NumSubgroups; ++sg) r = take_max ? max(r, red[hh * 64u + sg]) : r + red[hh * 64u + sg];
      v[hh] = r;
    }
  }
  barrier();  // red is written again by the next reduction
}

void main() {
  uint pack = gl_WorkGroupID.x;
  uint split = gl_WorkGroupID.y;
  uint n_splits = gl_NumWorkGroups.y;
  uint tid = gl_LocalInvocationID.x;
  uint hd = pc.head_dim;
  uint pairs = hd / 2u;
  uint hp = pc.heads_per_wg;
  uint h0 = pack * hp;                     // first query head of the pack
  uint group = pc.n_head / pc.n_head_kv;
  uint g = h0 / group;                     // its KV head
  uint pos = step.pos0;                    // the new token's position (decode: one token)
  uint n_keys = pos + 1u;                  // causal: keys 0..pos inclusive
  uint k0 = split * pc.chunk;
  if (k0 >= n_keys) return;                // past the live keys: not counted below either
  uint n_live = (n_keys + pc.chunk - 1u) / pc.chunk;
  uint n_chunk = min(pc.chunk, n_keys - k0);
  bool holds_pos = pos - k0 < pc.chunk;    // this chunk holds the new token (always the last live one)
  uint row_pairs = pc.n_head_kv * pairs;
  uint head_pair0 = g * pairs;
  uint row0 = pc.cache_offset + k0 * row_pairs + head_pair0;  // first key of the chunk, this KV head

  for (uint i = tid; i < pairs; i += 64u) {
    for (uint hh = 0u; hh < hp; ++hh) {
      uint o = (h0 + hh) * hd + 2u * i;
      q_sh[hh * pairs + i] = rotate(vec2(q[o], q[o + 1u]), pos, i);
    }
    if (holds_pos) {
      uint kv = g * hd + 2u * i;
      k_sh[i] = packHalf2x16(rotate(vec2(k_new[kv], k_new[kv + 1u]), pos, i));
      v_sh[i] = packHalf2x16(vec2(v_new[kv], v_new[kv + 1u]));
      if (h0 % group == 0u) {
        uint c = pc.cache_offset + pos * row_pairs + head_pair0 + i;
        k_cache[c] = k_sh[i];
        v_cache[c] = v_sh[i];
      }
    }
  }
  barrier();

  // Scores: one thread per key, all heads of the pack against the K row it reads once. Loops over the
  // pack's heads that touch per-thread arrays run to the constant MAX_HP (guarded by hp) so that those
  // arrays can stay in registers.
  float local_max[MAX_HP];
  for (uint hh = 0u; hh < MAX_HP; ++hh) local_max[hh] = -1.0e30;
  for (uint j = tid; j < n_chunk; j += 64u) {
    bool newest = k0 + j == pos;
    uint kr = row0 + j * row_pairs;
    float s[MAX_HP];
    for (uint hh = 0u; hh < MAX_HP; ++hh) s[hh] = 0.0;
    for (uint d2 = 0u; d2 < pairs; ++d2) {
      vec2 kk = unpackHalf2x16(newest ? k_sh[d2] : k_cache[kr + d2]);
      for (uint hh = 0u; hh < MAX_HP; ++hh)
        if (hh < hp) s[hh] += dot(q_sh[hh * pairs + d2], kk);
    }
    for (uint hh = 0u; hh < MAX_HP; ++hh) {
      if (hh < hp) {
        float sc = s[hh] * pc.scale;
        scores[hh * pc.chunk + j] = sc;
        local_max[hh] = max(local_max[hh], sc);
      }
    }
  }
  reduce_heads(local_max, hp, true);  // now each head's chunk max m
  float local_sum[MAX_HP];
  for (uint hh = 0u; hh < MAX_HP; ++hh) {
    local_sum[hh] = 0.0;
    if (hh >= hp) continue;
    for (uint j = tid; j < n_chunk; j += 64u) {
      float e = exp(scores[hh * pc.chunk + j] - local_max[hh]);
      scores[hh * pc.chunk + j] = e;
      local_sum[hh] += e;
    }
  }
  reduce_heads(local_sum, hp, false);  // now each head's l; its barriers also make the exp'd scores visible

  // Values: thread = (key lane, output pair). With fewer than 64 pairs, 64 / pairs lanes split the chunk's
  // keys and are summed through shared memory; with 64 or more, one lane and a thread loops over pairs.
  uint lanes = max(1u, 64u / pairs);
  uint lane = tid / pairs;  // 0 when pairs >= 64
  uint n_part = pc.n_head * n_splits;  // (m, l) entries before the acc pairs
  if (tid == 0u) {
    for (uint hh = 0u; hh < MAX_HP; ++hh)
      if (hh < hp) part[(h0 + hh) * n_splits + split] = vec2(local_max[hh], local_sum[hh]);
  }
  if (lane < lanes) {
    for (uint d2 = tid % pairs; d2 < pairs; d2 += 64u) {
      vec2 acc[MAX_HP];
      for (uint hh = 0u; hh < MAX_HP; ++hh) acc[hh] = vec2(0.0);
      for (uint j = lane; j < n_chunk; j += lanes) {
        vec2 vv = unpackHalf2x16(k0 + j == pos ? v_sh[d2] : v_cache[row0 + j * row_pairs + d2]);
        for (uint hh = 0u; hh < MAX_HP; ++hh)
          if (hh < hp) acc[hh] += scores[hh * pc.chunk + j] * vv;
      }
      for (uint hh = 0u; hh < MAX_HP; ++hh) {
        if (hh >= hp) break;
        if (lanes == 1u) part[n_part + ((h0 + hh) * n_splits + split) * pairs + d2] = acc[hh];
        else acc_sh[hh * 64u + tid] = acc[hh];
      }
    }
  }
  if (lanes > 1u) {
    barrier();
    for (uint e = tid; e < hp * pairs; e += 64u) {
      uint hh = e / pairs, d2 = e % pairs;
      vec2 sum = vec2(0.0);
      for (uint l = 0u; l < lanes; ++l) sum += acc_sh[hh * 64u + l * pairs + d2];
      part[n_part + ((h0 + hh) * n_splits + split) * pairs + d2] = sum;
    }
  }

  // Publish this chunk's partials, then count it; the pack's last chunk to arrive combines.
  memoryBarrierBuffer();
  barrier();
  if (tid == 0u) {
    is_last = atomicAdd(counters[pack], 1u) == n_live - 1u;
    memoryBarrierBuffer();
  }
  barrier();
  if (!is_last) return;
  memoryBarrierBuffer();
  for (uint e = tid; e < hp * pairs; e += 64u) {
    uint h = h0 + e / pairs, d2 = e % pairs;
    float gm = -1.0e30;
    for (uint c = 0u; c < n_live; ++c) gm = max(gm, part[h * n_splits + c].x);
    float l_sum = 0.0;
    vec2 o = vec2(0.0);
    for (uint c = 0u; c < n_live; ++c) {
      vec2 ml = part[h * n_splits + c];
      float w = exp(ml.x - gm);
      l_sum += w * ml.y;
      o += w * part[n_part + (h * n_splits + c) * pairs + d2];
    }
    outp[h * hd + 2u * d2] = o.x / l_sum;
    outp[h * hd + 2u * d2 + 1u] = o.y / l_sum;
  }
  if (tid == 0u) counters[pack] = 0u;  // the next layer's or step's dispatch follows a pipeline barrier
}
