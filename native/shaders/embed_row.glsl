// One token's embedding into x: x[x_base .. x_base + K) = token_embd row `id`, dequantized. The workgroup's
// `threads` invocations take 32-element blocks in turn. Shared by embed.comp (a prompt's tokens) and the GPU
// loop's advance kernels (decode_advance.comp, topk.comp's SAMPLE build), which embed the token they chose so
// the next step needs no embedding dispatch and barrier of its own. Include after weights.glsl and after
// declaring the writable float buffer `x`.
void embed_row(uint id, uint x_base, uint K, uint scale_offset, uint threads) {
  float w[32];
  for (uint b = gl_LocalInvocationID.x; b < K / 32u; b += threads) {
    dequant_block(id, b, K, scale_offset, w);
    [[unroll]] for (uint j = 0u; j < 32u; ++j) x[x_base + b * 32u + j] = w[j];
  }
}
