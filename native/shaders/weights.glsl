// Weight formats as laid out on the GPU. Quantized GGUF blocks are repacked at load time into two
// regions so every read is 4-byte aligned: all quants first (rows in order), then all f16 scales.
// Define exactly one of WTYPE_F32, WTYPE_F16, WTYPE_BF16, WTYPE_Q8_0, WTYPE_Q4_0 before including.
// `pc_scale_offset` (in uint words) is where the scales start; `K` is the row length in elements.

#if defined(WTYPE_F32)
layout(std430, set = 0, binding = WEIGHT_BINDING) readonly buffer Weights { float w_f32[]; };
#else
layout(std430, set = 0, binding = WEIGHT_BINDING) readonly buffer Weights { uint w_u32[]; };
#endif

#if defined(WTYPE_Q8_0) || defined(WTYPE_Q4_0)
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
#else
#error "define a WTYPE_* for weights.glsl"
#endif
}
