// The tokenizer vocabulary of a Llama (SentencePiece) GGUF: token texts, scores and types, the special
// token ids and the two flags that change how text is tokenized (add_bos_token, add_space_prefix).

import { GgufFormatError, UnsupportedArchitectureError } from "../errors.js";

/** tokenizer.ggml.token_type values (llama.cpp's llama_token_type). */
export const TokenType = {
  Undefined: 0,
  Normal: 1,
  Unknown: 2,
  Control: 3,
  UserDefined: 4,
  Unused: 5,
  Byte: 6,
} as const;
export type TokenType = (typeof TokenType)[keyof typeof TokenType];

export interface Vocabulary {
  /** Token texts, indexed by id (SentencePiece form: spaces are `▁`, bytes are `<0xXX>`). */
  tokens: string[];
  /** Merge priority of each token: higher merges first. */
  scores: Float32Array | number[];
  /** TokenType of each token. */
  types: Int32Array | number[];
  bosId: number;
  eosId: number;
  unkId: number;
  /** Whether encode() starts with BOS by default (tokenizer.ggml.add_bos_token). */
  addBos: boolean;
  /** Whether a space is put before the first raw-text fragment (tokenizer.ggml.add_space_prefix). */
  addSpacePrefix: boolean;
  /** End-of-turn token (tokenizer.ggml.eot_token_id), when the model has one distinct from EOS. */
  eotId?: number;
}

/** The part of a GGUF metadata map this module reads (a Map<string, unknown> fits). */
export interface MetadataSource {
  get(key: string): unknown;
}

type NumericArray = ArrayLike<number | bigint>;

/**
 * Readers wrap values differently: runtime/gguf's GgufFile.get() gives arrays as `{ itemType, items }`, its
 * metadata map gives entries as `{ type, value }`. Accept those as well as plain values.
 */
function unwrap(value: unknown): unknown {
  for (let depth = 0; depth < 3; depth++) {
    if (value === null || typeof value !== "object" || Array.isArray(value) || ArrayBuffer.isView(value)) break;
    if ("value" in value) value = (value as { value: unknown }).value;
    else if ("items" in value) value = (value as { items: unknown }).items;
    else break;
  }
  return value;
}

function toNumber(key: string, value: unknown): number {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "bigint") return Number(value);
  throw new GgufFormatError(`GGUF metadata ${key} should be a number, found ${describe(value)}`);
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  return `a ${typeof value}`;
}

function isNumericArray(value: unknown): value is NumericArray {
  if (Array.isArray(value)) return value.every((v) => typeof v === "number" || typeof v === "bigint");
  return ArrayBuffer.isView(value) && !(value instanceof DataView);
}

function optionalId(meta: MetadataSource, key: string, fallback: number, nTokens: number): number {
  const raw = unwrap(meta.get(key));
  if (raw === undefined || raw === null) return fallback;
  const id = toNumber(key, raw);
  if (!Number.isInteger(id) || id < 0 || id >= nTokens) {
    throw new GgufFormatError(`GGUF metadata ${key} = ${id} is not a token id (vocabulary has ${nTokens} tokens)`);
  }
  return id;
}

function optionalBool(meta: MetadataSource, key: string, fallback: boolean): boolean {
  const raw = unwrap(meta.get(key));
  if (raw === undefined || raw === null) return fallback;
  if (typeof raw === "boolean") return raw;
  if (typeof raw === "number" || typeof raw === "bigint") return Number(raw) !== 0;
  throw new GgufFormatError(`GGUF metadata ${key} should be a boolean, found ${describe(raw)}`);
}

/**
 * Builds the Vocabulary from GGUF metadata (`tokenizer.ggml.*`). Defaults follow llama.cpp for SPM
 * vocabularies: BOS 1, EOS 2, UNK 0, add_bos_token true, add_space_prefix true, scores 0, types normal.
 */
export function vocabularyFromGguf(metadata: MetadataSource): Vocabulary {
  const model = unwrap(metadata.get("tokenizer.ggml.model"));
  if (model !== undefined && model !== null && model !== "llama") {
    throw new UnsupportedArchitectureError(`tokenizer model '${String(model)}' is not supported: Parley implements the SentencePiece ('llama') tokenizer only`);
  }

  const rawTokens = unwrap(metadata.get("tokenizer.ggml.tokens"));
  if (!Array.isArray(rawTokens) || rawTokens.length === 0 || !rawTokens.every((t) => typeof t === "string")) {
    throw new GgufFormatError(`GGUF metadata tokenizer.ggml.tokens should be a non-empty array of strings, found ${describe(rawTokens)}`);
  }
  const tokens = rawTokens as string[];
  const n = tokens.length;

  let scores: Float32Array | number[];
  const rawScores = unwrap(metadata.get("tokenizer.ggml.scores"));
  if (rawScores === undefined || rawScores === null) {
    scores = new Float32Array(n);
  } else if (isNumericArray(rawScores) && rawScores.length === n) {
    scores = rawScores instanceof Float32Array ? rawScores : Float32Array.from(rawScores, Number);
  } else {
    throw new GgufFormatError(`GGUF metadata tokenizer.ggml.scores should be ${n} numbers (one per token), found ${describe(rawScores)}`);
  }

  let types: Int32Array | number[];
  const rawTypes = unwrap(metadata.get("tokenizer.ggml.token_type"));
  if (rawTypes === undefined || rawTypes === null) {
    types = new Int32Array(n).fill(TokenType.Normal);
  } else if (isNumericArray(rawTypes) && rawTypes.length === n) {
    types = rawTypes instanceof Int32Array ? rawTypes : Int32Array.from(rawTypes, Number);
  } else {
    throw new GgufFormatError(`GGUF metadata tokenizer.ggml.token_type should be ${n} integers (one per token), found ${describe(rawTypes)}`);
  }

  const eotRaw = unwrap(metadata.get("tokenizer.ggml.eot_token_id"));
  const vocab: Vocabulary = {
    tokens,
    scores,
    types,
    bosId: optionalId(metadata, "tokenizer.ggml.bos_token_id", 1, n),
    eosId: optionalId(metadata, "tokenizer.ggml.eos_token_id", 2, n),
    unkId: optionalId(metadata, "tokenizer.ggml.unknown_token_id", 0, n),
    addBos: optionalBool(metadata, "tokenizer.ggml.add_bos_token", true),
    addSpacePrefix: optionalBool(metadata, "tokenizer.ggml.add_space_prefix", true),
  };
  if (eotRaw !== undefined && eotRaw !== null) {
    vocab.eotId = optionalId(metadata, "tokenizer.ggml.eot_token_id", -1, n);
  }
  return vocab;
}
