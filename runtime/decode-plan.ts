// `parley bench --plan`: the decode step's deterministic cost proxies, for a model file. Dispatches and
// barriers come from the recorded command buffer; bytes are counted from the model's shapes: what one
// decode step reads on the device (weights, one embedding row, norm weights, the KV cache up to the
// position) and what crosses between host and device per token for each sampling path, and how often
// the host waits on the device per generated token.

import type { Model } from "./model.js";
import { gpuLoopSubmissions, type Session } from "./session.js";
import { GPU_TOP_K, type ChainPlan } from "./native.js";

export interface DecodePlan {
  /** One decode step as `session.evaluate([token])` runs it. */
  dispatches: number;
  barriers: number;
  /** Per token of generate()'s GPU loop: greedy, and sampled (the dialogue system's path, penalties included). */
  chain: ChainPlan;
  /** Distinct compute pipelines a session with these settings builds (decode, prompt steps, sampling): on a
   * player's first launch the driver compiles each one before the first token. */
  pipelines: number;
  /** Bytes of weights a decode step reads (all matrices but the embedding table). */
  weightBytes: number;
  /** Everything a decode step reads at context position `position`: weights, one embedding row, norms, KV cache. */
  bytesRead: number;
  position: number;
  /** bytesRead / weightBytes: how close the step is to reading each weight once and nothing else. */
  readRatio: number;
  /** Host → device per token: step parameters and the token id. */
  hostToDeviceBytes: number;
  /**
   * Device → host per token, by sampling path: `greedy` (temperature 0, no penalties) and `sampled` (top-k
   * 1..63, the dialogue system's settings, or penalties over ≤ 256 tokens) run generate()'s GPU loop and read
   * back token ids; `topK` samples on the host from the GPU's 64 best candidates (top-k 64, or `gpuLoop:
   * false`); `allLogits` reads the whole row (penalties over the whole history, top-k 0).
   */
  deviceToHostBytes: { greedy: number; sampled: number; topK: number; allLogits: number };
  /**
   * Host round trips (a queue submission and a fence wait) per generated token of a `replyTokens`-token
   * reply, after the prompt's: the GPU loop chains several steps per submission (greedy or sampled on the
   * device); the other sampling paths read every step back.
   */
  hostRoundTripsPerToken: { greedy: number; sampled: number; topK: number; allLogits: number };
  /** The reply length hostRoundTripsPerToken assumes: generate()'s default maxTokens. */
  replyTokens: number;
}

const REPLY_TOKENS = 256;

export function decodePlan(model: Model, session: Session, position = 0): DecodePlan {
  const { dispatches, barriers, chain, pipelines, weightBytes } = session.plan();
  const c = model.info.config;
  const kvDim = c.nHeadKv * c.headDim;
  const embeddingRowBytes = c.nEmbd * 4; // upper bound: one f32 row of the embedding table
  const normBytes = (2 * c.nLayer + 1) * c.nEmbd * 4;
  const kvBytes = 2 * c.nLayer * (position + 1) * kvDim * 2; // keys and values, f16
  const bytesRead = weightBytes + embeddingRowBytes + normBytes + kvBytes;
  return {
    dispatches,
    barriers,
    chain,
    pipelines,
    weightBytes,
    bytesRead,
    position,
    readRatio: bytesRead / weightBytes,
    hostToDeviceBytes: 16 + 4,
    // Sampled chains also hand the 16-byte generator state back once per submission.
    deviceToHostBytes: { greedy: 4, sampled: 4 + (16 * gpuLoopSubmissions(REPLY_TOKENS)) / REPLY_TOKENS, topK: GPU_TOP_K * 8, allLogits: c.nVocab * 4 },
    // The first token comes with the prompt's evaluation; each later one is a feed-back step.
    hostRoundTripsPerToken: {
      greedy: gpuLoopSubmissions(REPLY_TOKENS) / REPLY_TOKENS,
      sampled: gpuLoopSubmissions(REPLY_TOKENS) / REPLY_TOKENS,
      topK: (REPLY_TOKENS - 1) / REPLY_TOKENS,
      allLogits: (REPLY_TOKENS - 1) / REPLY_TOKENS,
    },
    replyTokens: REPLY_TOKENS,
  };
}
