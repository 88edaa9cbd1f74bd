// Shared by every Parley compute shader.
// Binding 0 is always the per-step parameters: the host writes them before each submission, so one
// recorded command buffer serves every token (no re-recording, no descriptor churn per token).
layout(std140, set = 0, binding = 0) uniform StepParams {
  uint n_tokens;      // tokens in this step (1 for decode)
  uint pos0;          // position of the first token of this step in the sequence
  uint logits_begin;  // first token whose logits are computed (n_tokens-1 unless all are wanted)
  uint pad0;
} step;
