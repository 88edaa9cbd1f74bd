// The real Llama 2 vocabulary (from llama-tokenizer-js, which ships Llama 2's 32,000 pieces and 61,249 BPE
// merges) in the form GGUF stores it: pieces by id, SentencePiece scores, and llama.cpp token types.

import llamaTokenizer from "llama-tokenizer-js";
import { LlamaTokenizer } from "../tokenizer/tokenizer.js";
import type { Vocabulary } from "../tokenizer/vocab.js";

/** llama.cpp's llama_token_type values as stored in tokenizer.ggml.token_type. */
export const TokenType = {
  UNDEFINED: 0,
  NORMAL: 1,
  UNKNOWN: 2,
  CONTROL: 3,
  USER_DEFINED: 4,
  UNUSED: 5,
  BYTE: 6,
} as const;

export interface LlamaVocab {
  /** Pieces by id ("▁" marks a space, "<0x0A>" a byte). */
  readonly tokens: string[];
  readonly scores: Float32Array;
  readonly tokenTypes: Int32Array;
  readonly bosId: number;
  readonly eosId: number;
  readonly unkId: number;
}

/** Llama 2's tokenizer data as HF's tokenizer.json holds it. */
export interface Llama2TokenizerData {
  /** The 32,000 pieces by id. */
  readonly pieces: readonly string[];
  /** The BPE merges as "left right" strings, highest priority first. */
  readonly merges: readonly string[];
}

const LLAMA2_VOCAB_SIZE = 32000;
const UNK_ID = 0;
const BOS_ID = 1;
const EOS_ID = 2;
const FIRST_BYTE_ID = 3; // <0x00>..<0xFF> at 3..258

let cachedData: Llama2TokenizerData | undefined;

/** Llama 2's pieces and merges, read from llama-tokenizer-js (merges sorted by its priority). */
export function llama2TokenizerData(): Llama2TokenizerData {
  if (cachedData) return cachedData;
  const pieces = llamaTokenizer.vocabById;
  if (pieces.length !== LLAMA2_VOCAB_SIZE) {
    throw new Error(`llama-tokenizer-js: expected ${LLAMA2_VOCAB_SIZE} pieces, got ${pieces.length}`);
  }
  if (pieces[UNK_ID] !== "<unk>" || pieces[BOS_ID] !== "<s>" || pieces[EOS_ID] !== "</s>") {
    throw new Error("llama-tokenizer-js: unexpected special pieces at ids 0-2");
  }
  // merges maps "left right" to a priority (smaller merges first); only the order matters.
  const merges = [...llamaTokenizer.merges.entries()].sort((a, b) => a[1] - b[1]).map(([m]) => m);
  cachedData = Object.freeze({ pieces: Object.freeze([...pieces]), merges: Object.freeze(merges) });
  return cachedData;
}

let cached: LlamaVocab | undefined;

/**
 * The 32,000-piece Llama 2 vocabulary. A merged piece scores minus the rank (0-based position in the merge
 * list) of the first merge producing it; single characters (no merge produces them) score below every merged
 * piece; control, unknown and byte tokens score 0. With these scores llama.cpp's SentencePiece tokenizer picks
 * the same merges as the HF BPE tokenizer.
 */
export function loadLlamaVocab(): LlamaVocab {
  if (cached) return cached;
  const { pieces, merges } = llama2TokenizerData();
  const n = pieces.length;
  const tokens = [...pieces];

  const rank = new Map<string, number>();
  for (let r = 0; r < merges.length; r++) {
    const m = merges[r];
    const sp = m.indexOf(" ");
    const piece = m.slice(0, sp) + m.slice(sp + 1);
    if (!rank.has(piece)) rank.set(piece, r);
  }

  const scores = new Float32Array(n);
  const tokenTypes = new Int32Array(n);
  for (let id = 0; id < n; id++) {
    const piece = tokens[id];
    if (id === UNK_ID) {
      tokenTypes[id] = TokenType.UNKNOWN;
    } else if (id === BOS_ID || id === EOS_ID) {
      tokenTypes[id] = TokenType.CONTROL;
    } else if (id >= FIRST_BYTE_ID && id < FIRST_BYTE_ID + 256) {
      const want = `<0x${(id - FIRST_BYTE_ID).toString(16).toUpperCase().padStart(2, "0")}>`;
      if (piece !== want) throw new Error(`llama-tokenizer-js: id ${id} is ${JSON.stringify(piece)}, expected ${want}`);
      tokenTypes[id] = TokenType.BYTE;
    } else {
      tokenTypes[id] = TokenType.NORMAL;
      const r = rank.get(piece);
      // Unmerged pieces (single characters) below every merged one, in id order.
      scores[id] = r !== undefined ? 0 - r : -(merges.length + id); // 0 - r: no -0
    }
  }
  cached = Object.freeze({ tokens, scores, tokenTypes, bosId: BOS_ID, eosId: EOS_ID, unkId: UNK_ID });
  return cached;
}

/** The Llama 2 vocabulary as a GGUF written by runtime/synth (and the demo model) configures its tokenizer. */
export function llama2Vocabulary(): Vocabulary {
  const v = loadLlamaVocab();
  return { tokens: v.tokens, scores: v.scores, types: v.tokenTypes, bosId: v.bosId, eosId: v.eosId, unkId: v.unkId, addBos: true, addSpacePrefix: true };
}

let sharedTokenizer: LlamaTokenizer | undefined;

/** The Llama 2 tokenizer over llama2Vocabulary(), built once (about 60 ms) on first use. */
export function llama2Tokenizer(): LlamaTokenizer {
  sharedTokenizer ??= new LlamaTokenizer(llama2Vocabulary());
  return sharedTokenizer;
}
