// The Llama forward pass as dispatches, recorded once per session and replayed every step. The number of live
// tokens and their positions come from the step parameters at replay, so one recording serves every step of
// up to its capacity.
#pragma once
#include <cstdint>

#include "kernel_choice.h"
#include "llama_ops.h"
#include "recorder.h"

// A decode step: one token, whose embedding x already holds (the embedding recording or the GPU loop's
// advance put it there). Ends with the logits and the greedy token.
void recordDecodeStep(Recorder& r, const ForwardPass& f);

// A prompt step of up to `capacity` tokens: their embeddings, every layer, then the logits of the rows the step
// wants (its last token, or all) and the greedy token. `products`: the kernels of its matrix products.
void recordPromptStep(Recorder& r, const ForwardPass& f, uint32_t capacity, PrefillKernel products);
