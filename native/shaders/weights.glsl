// Weight formats as laid out on the GPU. Q8_0, Q4_0 and Q6_K blocks are repacked at load time into two
// regions so every read is 4-byte aligned: all quants first (rows in order), then all f16 scales
// (`scale_offset`, in uint words, is where the scales start). Q4_K and Q5_K blocks are already a whole
// number of words and stay as GGUF stores them. `K` is the row length in elements.
// Define exactly one of WTYPE_F32, WTYPE_F16, WTYPE_BF16, WTYPE_Q8_0, WTYPE_Q4_0, WTYPE_Q4_K, WTYPE_Q5_K,
// WTYPE_Q6_K before including.
//
// K-quant super-blocks hold 256 elements as 8 sub-blocks of 32 (see docs/ARCHITECTURE.md):
//   Q4_K, 36 words: [0] f16 d | f16 dmin, [1..3] 8 six-bit scales + 8 six-bit mins, [4..35] 128 bytes of
//         nibbles: byte 32c+l holds element 64c+l (low nibble, sub-block 2c) and 64c+32+l (high, 2c+1).
//         value = d*scale*q - dmin*min.
//   Q5_K, 44 words: as Q4_K plus [4..11] qh: bit s of byte l is the fifth bit of element l of sub-block s;
//         nibbles in [12..43].
//   Q6_K, 52 words (+ f16 d in the scale region): [0..31] ql nibbles, [32..47] qh 2-bit pairs, [48..51]
//         16 int8 scales. Element 128h+32c+l (c = 0..3) has its low 4 bits in ql byte 64h+32(c&1)+l (high
//         nibble when c >= 2), its top 2 bits at bit 2c of qh byte 32h+l, scale byte 8h+2c+l/16.
//         value = d*scale*(q - 32).

#if defined(WTYPE_F32)
layout(std430, set = 0, binding = WEIGHT_BINDING) readonly buffer Weights { float w_f32[]; };
#else
layout(std430, set = 0, binding = WEIGHT_BINDING) readonly buffer Weights { uint w_u32[]; };
#endif

#if defined(WTYPE_Q4_K) || defined(WTYPE_Q5_K) || defined(WTYPE_Q6_K)
#define WTYPE_K_QUANT 1
const uint Q4_K_WORDS = 36u, Q5_K_WORDS = 44u, Q6_K_WORDS = 52u;

// Byte `addr` of the weight buffer.
uint weight_byte(uint addr) { return (w_u32[addr >> 2] >> (8u * (addr & 3u))) & 0xffu; }

// Q4_K/Q5_K: (scale, min) of sub-block j (0..7) from the 12 packed bytes at byte address `at`: sub-blocks
// 0-3 keep 6 bits in bytes j and j+4; 4-7 keep 4 bits in byte j+4 and their top 2 bits in bytes j-4 / j.
vec2 k_scale_min(uint at, uint j) {
  if (j < 4u) return vec2(float(weight_byte(at + j) & 63u), float(weight_byte(at + j + 4u) & 63u));
  uint lo = weight_byte(at + j + 4u);
  return vec2(float((lo & 15u) | ((weight_byte(at + j - 4u) >> 6) << 4)), float((lo >> 4) | ((weight_byte(at + j) >> 6) << 4)));
}

// Q6_K: signed scale byte `i` (0..15) of the super-block whose words start at `base`.
float q6_scale(uint base, uint i) { return float(bitfieldExtract(int(w_u32[base + 48u + (i >> 2)]), int(8u * (i & 3u)), 8)); }
#endif

#if defined(WTYPE_Q8_0) || defined(WTYPE_Q4_0) || defined(WTYPE_Q6_K)
float block_scale(uint bi, uint scale_offset) {
  vec2 pair = unpackHalf2x16(w_u32[scale_offset + (bi >> 1)]);
  return (bi & 1u) == 0u ? pair.x : pair.y;
}
#endif

// Dequantizes block `b` (32 elements) of row `row` into w[32].
void dequant_block(uint row, uint b, uint K, uint scale_offset, out float w[32]) {
  uint bpr = K / 32u;            // blocks per row
  uint bi = row * bpr + b;       // global block index
#if defined(WTYPE_F32)
  uint base = bi * 32u;
  [[unroll]] for (uint j = 0u; j < 32u; ++j) w[j] = w_f32[base + j];
#elif defined(WTYPE_F16)
  uint base = bi * 16u;
  [[unroll]] for (uint j = 0u; j < 16u; ++j) {
    vec2 h = unpackHalf2x16(w_u32[base + j]);
    w[2u * j] = h.x;
    w[2u * j + 1u] = h.y;
  }
#elif defined(WTYPE_BF16)
  uint base = bi * 16u;
  [[unroll]] for (uint j = 0u; j < 16u; ++j) {
    uint u = w_u32[base + j];
    w[2u * j] = uintBitsToFloat(u << 16);
    w[2u * j + 1u] = uintBitsToFloat(u & 0xffff0000u);
  }
#elif defined(WTYPE_Q8_0)
  float d = block_scale(bi, scale_offset);
  uint base = bi * 8u;
  [[unroll]] for (uint j = 0u; j < 8u; ++j) {
    uint u = w_u32[base + j];
    w[4u * j + 0u] = float(bitfieldExtract(int(u), 0, 8)) * d;
    w[4u * j + 1u] = float(bitfieldExtract(int(u), 8, 8)) * d;
    w[4u * j + 2u] = float(bitfieldExtract(int(u), 16, 8)) * d;
    w[4u * j + 3u] = float(bitfieldExtract(int(u), 24, 8)) * d;
  }
#elif defined(WTYPE_Q4_0)
  // Byte j holds element j in its low nibble and element j+16 in its high nibble.
  float d = block_scale(bi, scale_offset);
  uint base = bi * 4u;
  [[unroll]] for (uint j = 0u; j < 4u; ++j) {
    uint u = w_u32[base + j];
    [[unroll]] for (uint k = 0u; k < 4u; ++k) {
      uint byte_ = (u >> (8u * k)) & 0xffu;
      w[4u * j + k] = (float(byte_ & 0xfu) - 8.0) * d;
      w[4u * j + k + 16u] = (float(byte_ >> 4) - 8.0) * d;
    }
  }
#elif defined(WTYPE_Q4_K) || defined(WTYPE_Q5_K)
  // Block b of the row is sub-block b % 8 of super-block b / 8.
  uint sb = row * (K / 256u) + (b >> 3), sub = b & 7u, c = sub >> 1, shift = 4u * (sub & 1u);
#if defined(WTYPE_Q4_K)
  uint base = sb * Q4_K_WORDS, qs = base + 4u + 8u * c;
#else
  uint base = sb * Q5_K_WORDS, qs = base + 12u + 8u * c;
#endif
  vec2 dm = unpackHalf2x16(w_u32[base]);
  vec2 sm = k_scale_min(4u * base + 4u, sub);
  float d = dm.x * sm.x, m = dm.y * sm.y;
  [[unroll]] for (uint i = 0u; i < 8u; ++i) {
    uint u = w_u32[qs + i] >> shift;
#if defined(WTYPE_Q5_K)
    uint h = w_u32[base + 4u + i] >> sub;
#endif
    [[unroll]] for (uint k = 0u; k < 4u; ++k) {
      uint q = (u >> (8u * k)) & 15u;
#if defined(WTYPE_Q5_K)
      q |= ((h >> (8u * k)) & 1u) << 4;
#endif
      w[4u * i + k] = d * float(q) - m;
    }
  }
#elif defined(WTYPE_Q6_K)
  // Block b of the row is elements 32c..32c+31 of half h of super-block b / 8.
  uint sb = row * (K / 256u) + (b >> 3), h = (b >> 2) & 1u, c = b & 3u;
  uint base = sb * Q6_K_WORDS;
  float d = block_scale(sb, scale_offset);
  uint ql = base + 16u * h + 8u * (c & 1u), qh = base + 32u + 8u * h;
  uint nib = 4u * (c >> 1), hshift = 2u * c;
  float s0 = d * q6_scale(base, 8u * h + 2u * c), s1 = d * q6_scale(base, 8u * h + 2u * c + 1u);
  [[unroll]] for (uint i = 0u; i < 8u; ++i) {
    uint u = w_u32[ql + i] >> nib, hb = w_u32[qh + i] >> hshift;
    [[unroll]] for (uint k = 0u; k < 4u; ++k) {
      int q = int(((u >> (8u * k)) & 15u) | (((hb >> (8u * k)) & 3u) << 4)) - 32;
      w[4u * i + k] = (i < 4u ? s0 : s1) * float(q);
    }
  }
#else
#error "define a WTYPE_* for weights.glsl"
#endif
}
