// Llama hyperparameters from GGUF metadata, and validation of a Llama model's tensors against them.

import { GgufFormatError, ModelShapeError, UnsupportedArchitectureError, UnsupportedTensorTypeError } from "./errors.js";
import type { GgufFile, GgufTensorInfo } from "./gguf/reader.js";
import { GgufValueType, SUPPORTED_TENSOR_TYPES, ggmlTypeInfo, ggmlTypeName, isSupportedTensorType, llamaFileTypeName } from "./gguf/types.js";

export interface LlamaConfig {
  readonly architecture: "llama";
  readonly nLayer: number;
  readonly nEmbd: number;
  readonly nHead: number;
  readonly nHeadKv: number;
  readonly nFf: number;
  readonly nVocab: number;
  readonly nCtxTrain: number;
  readonly ropeDim: number;
  readonly ropeFreqBase: number;
  readonly rmsEps: number;
  /** nEmbd / nHead. */
  readonly headDim: number;
  /** True when output.weight is absent and token_embd.weight doubles as the output projection. */
  readonly tiedOutput: boolean;
  /** general.file_type (llama_ftype), or undefined when the file does not say. */
  readonly fileType: number | undefined;
}

export interface LlamaLayerTensors {
  readonly attnNorm: GgufTensorInfo;
  readonly attnQ: GgufTensorInfo;
  readonly attnK: GgufTensorInfo;
  readonly attnV: GgufTensorInfo;
  readonly attnOutput: GgufTensorInfo;
  readonly ffnNorm: GgufTensorInfo;
  readonly ffnGate: GgufTensorInfo;
  readonly ffnUp: GgufTensorInfo;
  readonly ffnDown: GgufTensorInfo;
}

export interface LlamaTensors {
  readonly tokenEmbd: GgufTensorInfo;
  readonly outputNorm: GgufTensorInfo;
  /** output.weight, or token_embd.weight when the output is tied. */
  readonly output: GgufTensorInfo;
  readonly layers: readonly LlamaLayerTensors[];
}

const SUPPORTED_NAMES = SUPPORTED_TENSOR_TYPES.map(ggmlTypeName).join(", ");

function checkArchitecture(file: GgufFile): void {
  const arch = file.has("general.architecture") ? file.getString("general.architecture") : undefined;
  if (arch === undefined) {
    throw new UnsupportedArchitectureError(`${file.path} has no general.architecture; Parley runs Llama-architecture models ("llama")`);
  }
  if (arch !== "llama") {
    throw new UnsupportedArchitectureError(`architecture "${arch}" is not supported (${file.path}); Parley runs Llama-architecture models ("llama")`);
  }
}

function positive(file: GgufFile, key: string, v: number): number {
  if (!Number.isInteger(v) || v <= 0) throw new GgufFormatError(`${file.path}: ${key} must be a positive integer, got ${v}`);
  return v;
}

/** Reads the Llama hyperparameters (llama.* keys) with llama.cpp's defaults. */
export function readLlamaConfig(file: GgufFile): LlamaConfig {
  checkArchitecture(file);
  const nEmbd = positive(file, "llama.embedding_length", file.getInteger("llama.embedding_length"));
  const nLayer = positive(file, "llama.block_count", file.getInteger("llama.block_count"));
  const nHead = positive(file, "llama.attention.head_count", file.getInteger("llama.attention.head_count"));
  const nHeadKv = positive(file, "llama.attention.head_count_kv", file.getInteger("llama.attention.head_count_kv", nHead));
  const nFf = positive(file, "llama.feed_forward_length", file.getInteger("llama.feed_forward_length"));
  const nCtxTrain = positive(file, "llama.context_length", file.getInteger("llama.context_length"));
  if (nEmbd % nHead !== 0) {
    throw new ModelShapeError(`${file.path}: embedding length ${nEmbd} is not a multiple of the head count ${nHead}`);
  }
  if (nHead % nHeadKv !== 0) {
    throw new ModelShapeError(`${file.path}: head count ${nHead} is not a multiple of the KV head count ${nHeadKv}`);
  }
  const headDim = nEmbd / nHead;
  const ropeDim = positive(file, "llama.rope.dimension_count", file.getInteger("llama.rope.dimension_count", headDim));
  if (ropeDim > headDim || ropeDim % 2 !== 0) {
    throw new ModelShapeError(`${file.path}: rope dimension count ${ropeDim} must be even and at most the head size ${headDim}`);
  }
  const ropeFreqBase = file.getNumber("llama.rope.freq_base", 10000);
  const rmsEps = file.getNumber("llama.attention.layer_norm_rms_epsilon", 1e-5);
  let nVocab: number;
  if (file.has("llama.vocab_size")) nVocab = file.getInteger("llama.vocab_size");
  else if (file.has("tokenizer.ggml.tokens")) nVocab = file.getArray("tokenizer.ggml.tokens").items.length;
  else {
    const emb = file.tensor("token_embd.weight");
    if (!emb) throw new ModelShapeError(`${file.path} has no tensor token_embd.weight`);
    nVocab = emb.dims[1] ?? 1;
  }
  const fileType = file.has("general.file_type") ? file.getInteger("general.file_type") : undefined;
  return Object.freeze({
    architecture: "llama",
    nLayer,
    nEmbd,
    nHead,
    nHeadKv,
    nFf,
    nVocab,
    nCtxTrain,
    ropeDim,
    ropeFreqBase,
    rmsEps,
    headDim,
    tiedOutput: file.tensor("output.weight") === undefined,
    fileType,
  });
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  // ggml treats trailing 1-dimensions as absent.
  const trim = (d: readonly number[]): number[] => {
    const out = [...d];
    while (out.length > 1 && out[out.length - 1] === 1) out.pop();
    return out;
  };
  const x = trim(a);
  const y = trim(b);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/**
 * Checks that the file is a Llama model Parley can run: architecture, every tensor present with the shape the
 * hyperparameters imply, supported tensor types, vocabulary size. Returns the config and the tensors by role.
 */
export function validateLlamaModel(file: GgufFile): { config: LlamaConfig; tensors: LlamaTensors } {
  const config = readLlamaConfig(file);
  const { nEmbd, nVocab, nFf, nHeadKv, headDim, nLayer } = config;

  const take = (name: string, shape: number[]): GgufTensorInfo => {
    const t = file.tensor(name);
    if (!t) throw new ModelShapeError(`${file.path}: tensor ${name} is missing (expected shape [${shape.join(", ")}])`);
    if (!sameShape(t.dims, shape)) {
      throw new ModelShapeError(
        `${file.path}: tensor ${name} has shape [${t.dims.join(", ")}], expected [${shape.join(", ")}] from the model's hyperparameters`,
      );
    }
    if (!isSupportedTensorType(t.type)) {
      throw new UnsupportedTensorTypeError(`${file.path}: tensor ${name} is ${t.typeName}; ${t.typeName} is not supported yet (supported: ${SUPPORTED_NAMES})`);
    }
    // K-quant super-blocks (256 elements) may not straddle rows.
    const block = ggmlTypeInfo(t.type)?.blockSize ?? 1;
    if (t.dims.length === 2 && t.dims[0] % block !== 0) {
      throw new ModelShapeError(
        `${file.path}: tensor ${name} is ${t.typeName} with rows of ${t.dims[0]} elements, not a multiple of its ${block}-element block`,
      );
    }
    return t;
  };

  const tokenEmbd = take("token_embd.weight", [nEmbd, nVocab]);
  const outputNorm = take("output_norm.weight", [nEmbd]);
  const output = config.tiedOutput ? tokenEmbd : take("output.weight", [nEmbd, nVocab]);
  const layers: LlamaLayerTensors[] = [];
  const nEmbdKv = nHeadKv * headDim;
  for (let i = 0; i < nLayer; i++) {
    const p = `blk.${i}.`;
    layers.push({
      attnNorm: take(p + "attn_norm.weight", [nEmbd]),
      attnQ: take(p + "attn_q.weight", [nEmbd, nEmbd]),
      attnK: take(p + "attn_k.weight", [nEmbd, nEmbdKv]),
      attnV: take(p + "attn_v.weight", [nEmbd, nEmbdKv]),
      attnOutput: take(p + "attn_output.weight", [nEmbd, nEmbd]),
      ffnNorm: take(p + "ffn_norm.weight", [nEmbd]),
      ffnGate: take(p + "ffn_gate.weight", [nEmbd, nFf]),
      ffnUp: take(p + "ffn_up.weight", [nEmbd, nFf]),
      ffnDown: take(p + "ffn_down.weight", [nFf, nEmbd]),
    });
  }
  // A layer beyond block_count means the metadata and the tensors disagree.
  if (file.tensor(`blk.${nLayer}.attn_norm.weight`)) {
    throw new ModelShapeError(`${file.path}: has tensors for layer ${nLayer} but llama.block_count is ${nLayer}`);
  }

  if (file.has("tokenizer.ggml.tokens")) {
    const tokens = file.getArray("tokenizer.ggml.tokens", GgufValueType.STRING).items.length;
    if (tokens !== nVocab) {
      throw new ModelShapeError(
        `${file.path}: the vocabulary has ${tokens} tokens (tokenizer.ggml.tokens) but the model has ${nVocab} (token_embd.weight / llama.vocab_size)`,
      );
    }
    for (const key of ["tokenizer.ggml.scores", "tokenizer.ggml.token_type"]) {
      if (file.has(key) && file.getArray(key).items.length !== tokens) {
        throw new ModelShapeError(`${file.path}: ${key} has ${file.getArray(key).items.length} entries, expected ${tokens}`);
      }
    }
  }
  return { config, tensors: { tokenEmbd, outputNorm, output, layers } };
}

export interface ModelDescription {
  readonly architecture: string;
  readonly name: string | undefined;
  readonly parameterCount: number;
  /** Tensor count per type name, e.g. { Q4_0: 155, F32: 45 }. */
  readonly tensorTypes: Readonly<Record<string, number>>;
  readonly fileType: string | undefined;
  readonly contextLength: number | undefined;
  readonly vocabSize: number | undefined;
  readonly layers: number | undefined;
  readonly embeddingLength: number | undefined;
  readonly hasChatTemplate: boolean;
  readonly ggufVersion: number;
  readonly fileSize: number;
}

/** What `parley info` prints. Works for any architecture (it does not validate). */
export function describeModel(file: GgufFile): ModelDescription {
  const arch = file.has("general.architecture") ? file.getString("general.architecture") : "unknown";
  const num = (key: string): number | undefined => (file.has(key) ? file.getNumber(key) : undefined);
  const tensorTypes: Record<string, number> = {};
  let parameterCount = 0;
  for (const t of file.tensors) {
    tensorTypes[t.typeName] = (tensorTypes[t.typeName] ?? 0) + 1;
    parameterCount += t.nElements;
  }
  let vocabSize = num(`${arch}.vocab_size`);
  if (vocabSize === undefined && file.has("tokenizer.ggml.tokens")) {
    vocabSize = file.getArray("tokenizer.ggml.tokens").items.length;
  }
  const ft = num("general.file_type");
  return {
    architecture: arch,
    name: file.has("general.name") ? file.getString("general.name") : undefined,
    parameterCount,
    tensorTypes,
    fileType: ft === undefined ? undefined : llamaFileTypeName(ft),
    contextLength: num(`${arch}.context_length`),
    vocabSize,
    layers: num(`${arch}.block_count`),
    embeddingLength: num(`${arch}.embedding_length`),
    hasChatTemplate: file.has("tokenizer.chat_template"),
    ggufVersion: file.version,
    fileSize: file.fileSize,
  };
}

/** Human-readable lines for a ModelDescription. */
export function formatModelDescription(d: ModelDescription): string {
  const params =
    d.parameterCount >= 1e9
      ? `${(d.parameterCount / 1e9).toFixed(2)}B`
      : d.parameterCount >= 1e6
        ? `${(d.parameterCount / 1e6).toFixed(1)}M`
        : String(d.parameterCount);
  const types = Object.entries(d.tensorTypes)
    .sort((a, b) => b[1] - a[1])
    .map(([t, n]) => `${t} × ${n}`)
    .join(", ");
  const lines = [
    `architecture:   ${d.architecture}`,
    `name:           ${d.name ?? "(none)"}`,
    `parameters:     ${params} (${d.parameterCount})`,
    `tensor types:   ${types}`,
    `file type:      ${d.fileType ?? "(not stated)"}`,
    `context length: ${d.contextLength ?? "(unknown)"}`,
    `vocab size:     ${d.vocabSize ?? "(unknown)"}`,
    `layers:         ${d.layers ?? "(unknown)"}`,
    `embedding:      ${d.embeddingLength ?? "(unknown)"}`,
    `chat template:  ${d.hasChatTemplate ? "yes" : "no"}`,
    `GGUF version:   ${d.ggufVersion}, ${d.fileSize} bytes`,
  ];
  return lines.join("\n");
}
