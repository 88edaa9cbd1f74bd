// A float64 reference forward pass of a Llama-architecture GGUF model, written to be read top to bottom
// (in the spirit of llama2.c's run.c). It is the oracle the Vulkan runtime is tested against, so it favours
// obviousness over speed: plain loops, one token at a time, a KV cache so each position costs one step.
//
// Semantics follow llama.cpp's graph for `llama` models (src/llama-model.cpp, llm_build_llama):
//
//   x = token_embd[token]
//   for each layer:
//     h  = rmsnorm(x) * attn_norm
//     q, k, v = Wq·h, Wk·h, Wv·h
//     q, k = rope(q, pos), rope(k, pos)          "normal" mode 0: rotate adjacent pairs (x[2i], x[2i+1])
//     a  = softmax(q·kᵀ / sqrt(headDim), causal) · v   per query head h, with KV head floor(h / (nHead/nHeadKv))
//     x  = x + Wo·a
//     h  = rmsnorm(x) * ffn_norm
//     x  = x + Wdown·( silu(Wgate·h) * (Wup·h) )
//   logits = Woutput · (rmsnorm(x) * output_norm)     (token_embd when output.weight is absent)
//
// ggml weight layout: a 2-D weight has ne0 = in-features (contiguous) and ne1 = out-features, so row r of
// the stored data is out-feature r: y[r] = Σ_c W[r·nIn + c] · x[c].
//
// Storage: weights are dequantized from F32/F16/BF16/Q8_0/Q4_0. Every one of those formats decodes to values
// that a float32 represents exactly (F16/BF16 are subsets of f32; Q8_0 = f16 scale × int8 needs ≤ 18
// significant bits; Q4_0 = f16 scale × 4-bit int), so holding them as Float32Array is lossless; big models
// use that to halve memory. All arithmetic is float64.

import { readGguf, readTensorData, type GgufTensorInfo } from "../../runtime/gguf/reader.js";
import { dequantize } from "../../runtime/gguf/quant.js";
import { validateLlamaModel, type LlamaConfig } from "../../runtime/model-config.js";

export type Weights = Float64Array | Float32Array;

// ---------------------------------------------------------------------------------------------------------------
// The pieces, on plain arrays (exported for unit tests).

/** out = x / sqrt(mean(x²) + eps) * weight. */
export function rmsNorm(x: Float64Array, weight: ArrayLike<number>, eps: number, out: Float64Array = new Float64Array(x.length)): Float64Array {
  const n = x.length;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += x[i] * x[i];
  const scale = 1 / Math.sqrt(ss / n + eps);
  for (let i = 0; i < n; i++) out[i] = x[i] * scale * weight[i];
  return out;
}

/** out[r] = Σ_c W[r·nIn + c] · x[c] for r < nOut (ggml layout: ne0 = nIn, ne1 = nOut). */
export function matVec(W: Weights, x: Float64Array, nIn: number, nOut: number, out: Float64Array = new Float64Array(nOut)): Float64Array {
  for (let r = 0; r < nOut; r++) {
    const base = r * nIn;
    let s = 0;
    for (let c = 0; c < nIn; c++) s += W[base + c] * x[c];
    out[r] = s;
  }
  return out;
}

/**
 * RoPE, llama.cpp "normal" mode (0), in place on `nHeads` consecutive heads of size headDim:
 * for each pair (2i, 2i+1) with 2i < ropeDim, rotate by θ = pos · base^(-2i/ropeDim). Dimensions at and
 * beyond ropeDim are left as they are.
 */
export function ropeNormal(vec: Float64Array, nHeads: number, headDim: number, ropeDim: number, pos: number, base: number): void {
  for (let h = 0; h < nHeads; h++) {
    const o = h * headDim;
    for (let i = 0; i < ropeDim; i += 2) {
      const theta = pos * Math.pow(base, -i / ropeDim);
      const c = Math.cos(theta);
      const s = Math.sin(theta);
      const x0 = vec[o + i];
      const x1 = vec[o + i + 1];
      vec[o + i] = x0 * c - x1 * s;
      vec[o + i + 1] = x0 * s + x1 * c;
    }
  }
}

/** Softmax over x[0..n) in place (max-subtracted). */
export function softmaxInPlace(x: Float64Array, n: number = x.length): void {
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (x[i] > max) max = x[i];
  let sum = 0;
  for (let i = 0; i < n; i++) {
    x[i] = Math.exp(x[i] - max);
    sum += x[i];
  }
  for (let i = 0; i < n; i++) x[i] /= sum;
}

/** The KV head a query head reads under grouped-query attention. */
export function kvHeadFor(queryHead: number, nHead: number, nHeadKv: number): number {
  return Math.floor(queryHead / (nHead / nHeadKv));
}

/**
 * Causal attention for the query at position `pos`: q holds nHead heads; kCache/vCache hold, for positions
 * 0..pos, nHeadKv heads each (row p at offset p·nHeadKv·headDim). Only positions ≤ pos are read: that is
 * the causal mask. Writes nHead·headDim values to out.
 */
export function attention(
  q: Float64Array,
  kCache: Float64Array,
  vCache: Float64Array,
  pos: number,
  nHead: number,
  nHeadKv: number,
  headDim: number,
  out: Float64Array = new Float64Array(nHead * headDim),
  scores: Float64Array = new Float64Array(pos + 1),
): Float64Array {
  const kvStride = nHeadKv * headDim;
  const scale = 1 / Math.sqrt(headDim);
  for (let h = 0; h < nHead; h++) {
    const qo = h * headDim;
    const kvo = kvHeadFor(h, nHead, nHeadKv) * headDim;
    for (let p = 0; p <= pos; p++) {
      const ko = p * kvStride + kvo;
      let s = 0;
      for (let d = 0; d < headDim; d++) s += q[qo + d] * kCache[ko + d];
      scores[p] = s * scale;
    }
    softmaxInPlace(scores, pos + 1);
    for (let d = 0; d < headDim; d++) out[qo + d] = 0;
    for (let p = 0; p <= pos; p++) {
      const vo = p * kvStride + kvo;
      const w = scores[p];
      for (let d = 0; d < headDim; d++) out[qo + d] += w * vCache[vo + d];
    }
  }
  return out;
}

export function silu(x: number): number {
  return x / (1 + Math.exp(-x));
}

// ---------------------------------------------------------------------------------------------------------------
// The model.

export interface ReferenceLayer {
  attnNorm: Weights;
  wq: Weights;
  wk: Weights;
  wv: Weights;
  wo: Weights;
  ffnNorm: Weights;
  wGate: Weights;
  wUp: Weights;
  wDown: Weights;
}

export interface ReferenceWeights {
  tokenEmbd: Weights;
  outputNorm: Weights;
  output: Weights;
  layers: ReferenceLayer[];
}

export interface LoadOptions {
  /** How dequantized weights are held (both are exact, see above). Default: "f64" up to 256M parameters, else "f32". */
  storage?: "f64" | "f32";
}

export class LlamaReference {
  constructor(
    readonly config: LlamaConfig,
    readonly weights: ReferenceWeights,
  ) {}

  static async load(ggufPath: string, options: LoadOptions = {}): Promise<LlamaReference> {
    const file = await readGguf(ggufPath);
    const { config, tensors } = validateLlamaModel(file);
    const nParams = file.tensors.reduce((a, t) => a + t.nElements, 0);
    const storage = options.storage ?? (nParams <= 256 * 1024 * 1024 ? "f64" : "f32");
    const load = async (t: GgufTensorInfo): Promise<Weights> => {
      const raw = await readTensorData(file, t);
      const out = storage === "f64" ? new Float64Array(t.nElements) : new Float32Array(t.nElements);
      dequantize(t.type, raw, t.nElements, out);
      return out;
    };
    const tokenEmbd = await load(tensors.tokenEmbd);
    const weights: ReferenceWeights = {
      tokenEmbd,
      outputNorm: await load(tensors.outputNorm),
      output: config.tiedOutput ? tokenEmbd : await load(tensors.output),
      layers: [],
    };
    for (const l of tensors.layers) {
      weights.layers.push({
        attnNorm: await load(l.attnNorm),
        wq: await load(l.attnQ),
        wk: await load(l.attnK),
        wv: await load(l.attnV),
        wo: await load(l.attnOutput),
        ffnNorm: await load(l.ffnNorm),
        wGate: await load(l.ffnGate),
        wUp: await load(l.ffnUp),
        wDown: await load(l.ffnDown),
      });
    }
    return new LlamaReference(config, weights);
  }

  /** Logits for every position of a teacher-forced sequence: result[i] predicts token i+1. */
  forward(tokens: readonly number[]): Float64Array[] {
    const c = this.config;
    const w = this.weights;
    const { nEmbd, nHead, nHeadKv, headDim, nFf, nVocab, rmsEps } = c;
    const nKv = nHeadKv * headDim;
    const n = tokens.length;
    for (const t of tokens) {
      if (!Number.isInteger(t) || t < 0 || t >= nVocab) throw new RangeError(`token ${t} is outside the vocabulary (0..${nVocab - 1})`);
    }

    // KV cache: per layer, n rows of nHeadKv·headDim (keys stored after RoPE).
    const kCache = w.layers.map(() => new Float64Array(n * nKv));
    const vCache = w.layers.map(() => new Float64Array(n * nKv));

    // Scratch.
    const x = new Float64Array(nEmbd);
    const h = new Float64Array(nEmbd);
    const q = new Float64Array(nEmbd);
    const k = new Float64Array(nKv);
    const v = new Float64Array(nKv);
    const att = new Float64Array(nEmbd);
    const proj = new Float64Array(nEmbd);
    const gate = new Float64Array(nFf);
    const up = new Float64Array(nFf);
    const scores = new Float64Array(n);

    const result: Float64Array[] = [];
    for (let pos = 0; pos < n; pos++) {
      // Embedding lookup: row `token` of token_embd.
      const row = tokens[pos] * nEmbd;
      for (let i = 0; i < nEmbd; i++) x[i] = w.tokenEmbd[row + i];

      for (let l = 0; l < w.layers.length; l++) {
        const L = w.layers[l];

        // Attention block.
        rmsNorm(x, L.attnNorm, rmsEps, h);
        matVec(L.wq, h, nEmbd, nEmbd, q);
        matVec(L.wk, h, nEmbd, nKv, k);
        matVec(L.wv, h, nEmbd, nKv, v);
        ropeNormal(q, nHead, headDim, c.ropeDim, pos, c.ropeFreqBase);
        ropeNormal(k, nHeadKv, headDim, c.ropeDim, pos, c.ropeFreqBase);
        kCache[l].set(k, pos * nKv);
        vCache[l].set(v, pos * nKv);
        attention(q, kCache[l], vCache[l], pos, nHead, nHeadKv, headDim, att, scores);
        matVec(L.wo, att, nEmbd, nEmbd, proj);
        for (let i = 0; i < nEmbd; i++) x[i] += proj[i];

        // Feed-forward block (SwiGLU).
        rmsNorm(x, L.ffnNorm, rmsEps, h);
        matVec(L.wGate, h, nEmbd, nFf, gate);
        matVec(L.wUp, h, nEmbd, nFf, up);
        for (let i = 0; i < nFf; i++) gate[i] = silu(gate[i]) * up[i];
        matVec(L.wDown, gate, nFf, nEmbd, proj);
        for (let i = 0; i < nEmbd; i++) x[i] += proj[i];
      }

      rmsNorm(x, w.outputNorm, rmsEps, h);
      result.push(matVec(w.output, h, nEmbd, nVocab));
    }
    return result;
  }
}
