// Synthetic Llama-architecture GGUF files: seeded random weights in any supported tensor type, the real Llama 2
// vocabulary and TinyLlama's chat template. Generated and quantized one tensor at a time, streamed to disk.
// K-quant types (q4_k, q5_k, q6_k, and llama.cpp's Q4_K_M mixture q4_k_m) need 2-D rows that are multiples of 256
// elements: shapes small and tinyllama, not tiny.

import { InvalidArgumentError } from "../errors.js";
import { quantize } from "../gguf/quant.js";
import { GgmlType, GgufValueType, LlamaFileType, ggmlTypeInfo, gguf, tensorByteSize, type GgufMetadataValue } from "../gguf/types.js";
import { writeGguf, type GgufWriterTensor } from "../gguf/writer.js";
import { TINYLLAMA_CHAT_TEMPLATE } from "./chat-template.js";
import { loadLlamaVocab } from "./vocab.js";

export type SynthShapeName = "tiny" | "small" | "tinyllama";
export type SynthType = "f32" | "f16" | "bf16" | "q8_0" | "q4_0" | "q4_k" | "q5_k" | "q6_k" | "q4_k_m";

/** Every synthetic type, in the order help texts list them. */
export const SYNTH_TYPES: readonly SynthType[] = Object.freeze(["f32", "f16", "bf16", "q8_0", "q4_0", "q4_k", "q5_k", "q6_k", "q4_k_m"]);

export interface SynthShape {
  readonly nEmbd: number;
  readonly nLayer: number;
  readonly nHead: number;
  readonly nHeadKv: number;
  readonly nFf: number;
  readonly nCtx: number;
  readonly nVocab: number;
  readonly rmsEps: number;
  readonly ropeFreqBase: number;
}

export const SYNTH_SHAPES: Readonly<Record<SynthShapeName, SynthShape>> = Object.freeze({
  /** Fast tests on a CPU Vulkan driver; GQA (4 query heads over 2 KV heads), head size 32. */
  tiny: Object.freeze({ nEmbd: 128, nLayer: 2, nHead: 4, nHeadKv: 2, nFf: 384, nCtx: 2048, nVocab: 32000, rmsEps: 1e-5, ropeFreqBase: 10000 }),
  /** Head size 32, 4 query heads per KV head. */
  small: Object.freeze({ nEmbd: 256, nLayer: 4, nHead: 8, nHeadKv: 2, nFf: 768, nCtx: 1024, nVocab: 32000, rmsEps: 1e-5, ropeFreqBase: 10000 }),
  /** Exactly TinyLlama-1.1B. */
  tinyllama: Object.freeze({ nEmbd: 2048, nLayer: 22, nHead: 32, nHeadKv: 4, nFf: 5632, nCtx: 2048, nVocab: 32000, rmsEps: 1e-5, ropeFreqBase: 10000 }),
});

/**
 * Per type: the 2-D weight type (the base type of a mixture), general.file_type, whether the file is quantized
 * (general.quantization_version 2), and for mixtures the rule that overrides the base type per tensor.
 */
interface SynthTypeInfo {
  readonly ggml: number;
  readonly ftype: number;
  readonly quantized: boolean;
  readonly mixture?: (role: WeightRole, layer: number, nLayer: number) => number | undefined;
}

type WeightRole = "token_embd" | "output" | "attn_q" | "attn_k" | "attn_v" | "attn_output" | "ffn_gate" | "ffn_up" | "ffn_down";

/** llama.cpp's use_more_bits (src/llama-quant.cpp): the layers Q4_K_M gives more bits (C integer division). */
export function useMoreBits(layer: number, nLayer: number): boolean {
  const eighth = Math.floor(nLayer / 8);
  return layer < eighth || layer >= Math.floor((7 * nLayer) / 8) || (layer - eighth) % 3 === 2;
}

/**
 * llama.cpp's Q4_K_M (llama_tensor_get_type for LLAMA_FTYPE_MOSTLY_Q4_K_M on a Llama model): output.weight Q6_K;
 * attn_v.weight and ffn_down.weight Q6_K in the layers use_more_bits picks; everything else Q4_K.
 */
function q4KMMixture(role: WeightRole, layer: number, nLayer: number): number | undefined {
  if (role === "output") return GgmlType.Q6_K;
  if ((role === "attn_v" || role === "ffn_down") && useMoreBits(layer, nLayer)) return GgmlType.Q6_K;
  return undefined;
}

const TYPES: Readonly<Record<SynthType, SynthTypeInfo>> = {
  f32: { ggml: GgmlType.F32, ftype: LlamaFileType.ALL_F32, quantized: false },
  f16: { ggml: GgmlType.F16, ftype: LlamaFileType.MOSTLY_F16, quantized: false },
  bf16: { ggml: GgmlType.BF16, ftype: LlamaFileType.MOSTLY_BF16, quantized: false },
  q8_0: { ggml: GgmlType.Q8_0, ftype: LlamaFileType.MOSTLY_Q8_0, quantized: true },
  q4_0: { ggml: GgmlType.Q4_0, ftype: LlamaFileType.MOSTLY_Q4_0, quantized: true },
  q4_k: { ggml: GgmlType.Q4_K, ftype: LlamaFileType.MOSTLY_Q4_K_S, quantized: true },
  q5_k: { ggml: GgmlType.Q5_K, ftype: LlamaFileType.MOSTLY_Q5_K_S, quantized: true },
  q6_k: { ggml: GgmlType.Q6_K, ftype: LlamaFileType.MOSTLY_Q6_K, quantized: true },
  q4_k_m: { ggml: GgmlType.Q4_K, ftype: LlamaFileType.MOSTLY_Q4_K_M, quantized: true, mixture: q4KMMixture },
};

export interface SynthProgress {
  readonly tensorsDone: number;
  readonly tensorCount: number;
  readonly bytesDone: number;
  readonly bytesTotal: number;
}

export interface SynthOptions {
  readonly shape: SynthShapeName;
  readonly type: SynthType;
  readonly seed: number;
  readonly out: string;
  readonly onProgress?: (p: SynthProgress) => void;
}

// ---------------------------------------------------------------------------------------------------------------
// Deterministic random numbers: sfc32 seeded from (seed, tensor name), so every tensor is independent of the
// others and of the order they are generated in. Only integer and basic float arithmetic: identical everywhere.

function mix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function hashString(s: string, h: number): number {
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return mix32(h);
}

class Sfc32 {
  private a: number;
  private b: number;
  private c: number;
  private d = 1;
  constructor(seed: number, stream: string) {
    const lo = seed >>> 0;
    const hi = Math.floor(seed / 4294967296) >>> 0;
    this.a = mix32(lo ^ 0x9e3779b9);
    this.b = mix32(hi ^ 0x7f4a7c15);
    this.c = hashString(stream, 0x811c9dc5 ^ lo);
    for (let i = 0; i < 16; i++) this.next();
  }
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }
}

const SQRT3 = Math.sqrt(3);

/**
 * Approximately Gaussian values (Irwin–Hall: the sum of four 16-bit uniforms, rescaled to unit variance;
 * bounded at ±3.46σ) with the given mean and standard deviation.
 */
function fillNormal(out: Float32Array, rng: Sfc32, mean: number, std: number): void {
  const k = (SQRT3 * std) / 65536;
  // Each uniform is (x + 0.5) / 65536 for a 16-bit x; four of them sum to (s + 2) / 65536, mean 2.
  const base = mean + 2 * k - 2 * SQRT3 * std;
  for (let i = 0; i < out.length; i++) {
    const r1 = rng.next();
    const r2 = rng.next();
    const s = (r1 >>> 16) + (r1 & 0xffff) + (r2 >>> 16) + (r2 & 0xffff);
    out[i] = base + k * s;
  }
}

// ---------------------------------------------------------------------------------------------------------------

/** One tensor of a synthetic model: name, ggml dimensions (ne0 first) and GGML type id. */
export interface SynthTensorPlan {
  readonly name: string;
  readonly dims: readonly number[];
  readonly type: number;
}

interface TensorPlan extends SynthTensorPlan {
  readonly mean: number;
  readonly std: number;
}

function planTensors(s: SynthShape, t: SynthTypeInfo): TensorPlan[] {
  const headDim = s.nEmbd / s.nHead;
  const nEmbdKv = s.nHeadKv * headDim;
  const proj = (fanIn: number, gain = 1): { mean: number; std: number } => ({ mean: 0, std: gain / Math.sqrt(fanIn) });
  const norm = { mean: 1, std: 0.05 };
  const weightType = (role: WeightRole, layer: number): number => t.mixture?.(role, layer, s.nLayer) ?? t.ggml;
  const w = (name: string, role: WeightRole, layer: number, dims: number[], init: { mean: number; std: number }): TensorPlan => ({
    name,
    dims,
    type: weightType(role, layer),
    ...init,
  });
  const n = (name: string): TensorPlan => ({ name, dims: [s.nEmbd], type: GgmlType.F32, ...norm });
  const plans: TensorPlan[] = [
    w("token_embd.weight", "token_embd", -1, [s.nEmbd, s.nVocab], { mean: 0, std: 1 }),
    n("output_norm.weight"),
    // Logit standard deviation ~8: the top token rarely ties with the runner-up (median gap ~1.2).
    w("output.weight", "output", -1, [s.nEmbd, s.nVocab], proj(s.nEmbd, 8)),
  ];
  for (let i = 0; i < s.nLayer; i++) {
    const p = `blk.${i}.`;
    plans.push(
      n(p + "attn_norm.weight"),
      w(p + "attn_q.weight", "attn_q", i, [s.nEmbd, s.nEmbd], proj(s.nEmbd, 1.5)),
      w(p + "attn_k.weight", "attn_k", i, [s.nEmbd, nEmbdKv], proj(s.nEmbd, 1.5)),
      w(p + "attn_v.weight", "attn_v", i, [s.nEmbd, nEmbdKv], proj(s.nEmbd)),
      w(p + "attn_output.weight", "attn_output", i, [s.nEmbd, s.nEmbd], proj(s.nEmbd)),
      n(p + "ffn_norm.weight"),
      w(p + "ffn_gate.weight", "ffn_gate", i, [s.nEmbd, s.nFf], proj(s.nEmbd)),
      w(p + "ffn_up.weight", "ffn_up", i, [s.nEmbd, s.nFf], proj(s.nEmbd)),
      w(p + "ffn_down.weight", "ffn_down", i, [s.nFf, s.nEmbd], proj(s.nFf)),
    );
  }
  return plans;
}

function checkedPlan(shape: SynthShapeName, type: SynthType): TensorPlan[] {
  const s = SYNTH_SHAPES[shape];
  if (!s) throw new InvalidArgumentError(`unknown synthetic shape "${String(shape)}" (${Object.keys(SYNTH_SHAPES).join(", ")})`);
  const t = TYPES[type];
  if (!t) throw new InvalidArgumentError(`unknown synthetic type "${String(type)}" (${SYNTH_TYPES.join(", ")})`);
  const plans = planTensors(s, t);
  for (const p of plans) {
    const info = ggmlTypeInfo(p.type)!;
    if (p.dims[0] % info.blockSize !== 0) {
      const ok = (Object.keys(SYNTH_SHAPES) as SynthShapeName[]).filter((name) => {
        const o = SYNTH_SHAPES[name];
        return [o.nEmbd, o.nFf].every((len) => len % info.blockSize === 0);
      });
      throw new InvalidArgumentError(
        `${type} needs row lengths that are multiples of ${info.blockSize}; shape ${shape} has ${p.dims[0]} (${p.name})` +
          (ok.length > 0 ? ` — use shape ${ok.join(" or ")}` : ""),
      );
    }
  }
  return plans;
}

/**
 * The tensors a synthetic model of this shape and type holds, in file order, with their types (for mixtures such
 * as q4_k_m, the per-tensor choice). Throws InvalidArgumentError when the type cannot encode the shape's rows.
 */
export function synthTensorPlan(shape: SynthShapeName, type: SynthType): SynthTensorPlan[] {
  return checkedPlan(shape, type).map(({ name, dims, type }) => ({ name, dims, type }));
}

/** The metadata a synthetic model carries (exported for tests and tools). */
export function synthMetadata(shapeName: SynthShapeName, type: SynthType, seed: number): Array<[string, GgufMetadataValue]> {
  const s = SYNTH_SHAPES[shapeName];
  const vocab = loadLlamaVocab();
  if (vocab.tokens.length !== s.nVocab) {
    throw new InvalidArgumentError(`the Llama 2 vocabulary has ${vocab.tokens.length} tokens, shape ${shapeName} wants ${s.nVocab}`);
  }
  const meta: Array<[string, GgufMetadataValue]> = [
    ["general.architecture", gguf.string("llama")],
    ["general.name", gguf.string(`parley-synth-${shapeName}-${type}-seed${seed}`)],
    ["general.file_type", gguf.u32(TYPES[type].ftype)],
    ["llama.context_length", gguf.u32(s.nCtx)],
    ["llama.embedding_length", gguf.u32(s.nEmbd)],
    ["llama.block_count", gguf.u32(s.nLayer)],
    ["llama.feed_forward_length", gguf.u32(s.nFf)],
    ["llama.rope.dimension_count", gguf.u32(s.nEmbd / s.nHead)],
    ["llama.attention.head_count", gguf.u32(s.nHead)],
    ["llama.attention.head_count_kv", gguf.u32(s.nHeadKv)],
    ["llama.attention.layer_norm_rms_epsilon", gguf.f32(s.rmsEps)],
    ["llama.rope.freq_base", gguf.f32(s.ropeFreqBase)],
    ["tokenizer.ggml.model", gguf.string("llama")],
    ["tokenizer.ggml.tokens", gguf.array(GgufValueType.STRING, vocab.tokens)],
    ["tokenizer.ggml.scores", gguf.array(GgufValueType.FLOAT32, vocab.scores)],
    ["tokenizer.ggml.token_type", gguf.array(GgufValueType.INT32, vocab.tokenTypes)],
    ["tokenizer.ggml.bos_token_id", gguf.u32(vocab.bosId)],
    ["tokenizer.ggml.eos_token_id", gguf.u32(vocab.eosId)],
    ["tokenizer.ggml.unknown_token_id", gguf.u32(vocab.unkId)],
    ["tokenizer.ggml.padding_token_id", gguf.u32(vocab.eosId)],
    ["tokenizer.ggml.add_bos_token", gguf.bool(true)],
    ["tokenizer.ggml.add_eos_token", gguf.bool(false)],
    ["tokenizer.chat_template", gguf.string(TINYLLAMA_CHAT_TEMPLATE)],
  ];
  if (TYPES[type].quantized) meta.push(["general.quantization_version", gguf.u32(2)]);
  return meta;
}

/**
 * Writes a synthetic Llama model. Same options → byte-identical file. 2-D weights use the requested type (token
 * embedding and output included; q4_k_m mixes Q4_K and Q6_K as llama.cpp's Q4_K_M does); norm weights are F32. Weights: approximately Gaussian, projections with
 * std ~1/sqrt(fan_in), embeddings std 1, norms 1 ± 0.05, so activations stay O(1) and logits spread widely.
 */
export async function writeSyntheticModel(options: SynthOptions): Promise<void> {
  const { shape, type, seed, out } = options;
  const plans = checkedPlan(shape, type);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new InvalidArgumentError(`seed must be a non-negative integer, got ${seed}`);

  const tensors: GgufWriterTensor[] = plans.map((p) => ({
    name: p.name,
    dims: p.dims,
    type: p.type,
    data: () => {
      const n = p.dims.reduce((a, b) => a * b, 1);
      const values = new Float32Array(n);
      fillNormal(values, new Sfc32(seed, p.name), p.mean, p.std);
      const bytes = quantize(p.type, values);
      if (bytes.length !== tensorByteSize(p.type, p.dims)) throw new Error(`internal: size mismatch for ${p.name}`);
      return bytes;
    },
  }));
  await writeGguf(out, { metadata: synthMetadata(shape, type, seed), tensors, onProgress: options.onProgress });
}
