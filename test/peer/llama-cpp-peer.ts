// llama.cpp as a test peer, through node-llama-cpp's prebuilt binaries (never builds from source).
//
// How full per-position logits are obtained: `LlamaContextSequence.controlledEvaluate(items)` decodes a
// whole token list as one (or several) llama_decode batches, and for every item given as
// `[token, { generateNext: { logits: true } }]` it marks that position's output flag in the batch and runs
// the sampler on its logits row. With node-llama-cpp's default temperature 0 the sampler chain is just
// llama.cpp's greedy sampler, which selects the argmax and leaves the candidates untouched, so
// `result[i].next.logits` is a Map (sorted by logit, descending) of the raw logits of every vocabulary
// token after position i. We scatter it back into a Float32Array indexed by token id. Each call uses a
// fresh context (empty KV cache), so positions are 0..n-1 exactly as in a teacher-forced forward pass.

import { getLlama, LlamaLogLevel, type Llama, type LlamaModel, type Token } from "node-llama-cpp";

export interface LlamaCppPeerOptions {
  /** false (default): CPU backend. "vulkan": llama.cpp's Vulkan backend, all layers offloaded. */
  gpu?: false | "vulkan";
  /** CPU threads for evaluation. Default 2. */
  threads?: number;
  /**
   * KV cache element type. Default "f16", llama.cpp's own default; "f32" removes the cache's rounding
   * (use it when comparing against the float64 reference).
   */
  kvCache?: "f16" | "f32";
}

export interface LlamaCppPeerModel {
  readonly nVocab: number;
  /** Token ids; `special` parses special-token text such as "<s>" as the special tokens. */
  tokenize(text: string, special?: boolean): number[];
  detokenize(ids: readonly number[], special?: boolean): string;
  /** Logits after each position of `tokens` (teacher forced): result[i] predicts token i+1. */
  teacherForcedLogits(tokens: readonly number[]): Promise<Float32Array[]>;
  dispose(): Promise<void>;
}

export interface LlamaCppPeer {
  readonly llama: Llama;
  loadModel(path: string): Promise<LlamaCppPeerModel>;
  dispose(): Promise<void>;
}

export async function openLlamaCppPeer(options: LlamaCppPeerOptions = {}): Promise<LlamaCppPeer> {
  const gpu = options.gpu ?? false;
  const threads = options.threads ?? 2;
  const kvType = options.kvCache === "f32" ? "F32" : "F16";
  const llama = await getLlama({ gpu, build: "never", logLevel: LlamaLogLevel.error, progressLogs: false });
  const models = new Set<LlamaCppPeerModel>();

  return {
    llama,
    async loadModel(path: string): Promise<LlamaCppPeerModel> {
      const model: LlamaModel = await llama.loadModel({ modelPath: path, gpuLayers: gpu === false ? 0 : "max" });
      const nVocab = countVocab(model);
      const handle: LlamaCppPeerModel = {
        nVocab,
        tokenize: (text, special = false) => model.tokenize(text, special).map(Number),
        detokenize: (ids, special = false) => model.detokenize(ids as Token[], special),
        async teacherForcedLogits(tokens) {
          if (tokens.length === 0) return [];
          const context = await model.createContext({
            // node-llama-cpp evaluates at most contextSize - 1 tokens before it shifts the context.
            contextSize: Math.max(tokens.length + 1, 64),
            batchSize: Math.min(Math.max(tokens.length, 1), 512),
            sequences: 1,
            threads,
            flashAttention: false,
            experimentalKvCacheKeyType: kvType,
            experimentalKvCacheValueType: kvType,
          });
          try {
            const sequence = context.getSequence();
            const items = tokens.map((t) => [t as Token, { generateNext: { logits: true } }] as [Token, { generateNext: { logits: true } }]);
            const results = await sequence.controlledEvaluate(items);
            const out: Float32Array[] = [];
            for (let i = 0; i < tokens.length; i++) {
              const logits = results[i]?.next.logits;
              if (!logits) throw new Error(`llama.cpp returned no logits for position ${i}`);
              const row = new Float32Array(nVocab).fill(Number.NaN);
              for (const [token, value] of logits) row[token] = value;
              out.push(row);
            }
            return out;
          } finally {
            await context.dispose();
          }
        },
        async dispose() {
          models.delete(handle);
          await model.dispose();
        },
      };
      models.add(handle);
      return handle;
    },
    async dispose() {
      for (const m of [...models]) await m.dispose();
      await llama.dispose();
    },
  };
}

function countVocab(model: LlamaModel): number {
  const meta = model.fileInfo.metadata as { tokenizer?: { ggml?: { tokens?: readonly unknown[] } } };
  const n = meta.tokenizer?.ggml?.tokens?.length;
  if (typeof n === "number" && n > 0) return n;
  const dims = model.fileInfo.tensorInfo?.find((t) => t.name === "token_embd.weight")?.dimensions;
  if (dims && dims.length >= 2) return Number(dims[1]);
  throw new Error("cannot tell the vocabulary size of the model");
}
