// SentencePiece (BPE-by-score) tokenizer for Llama vocabularies, behaving like llama.cpp's SPM tokenizer
// (`llama_vocab::tokenize` with `llm_tokenizer_spm`) so that Parley and llama.cpp feed a model the same ids.
//
// encode(text) in four steps:
//  1. Special-token partition. The text is cut into raw-text fragments and special-token fragments. Special
//     tokens are tried longest text first (ties: lower id first); each one splits every raw fragment at all
//     of its non-overlapping occurrences, left to right. Control and unknown tokens (`<s>`, `</s>`, `<unk>`)
//     take part only when parseSpecial is on; user-defined tokens always do (as in llama.cpp).
//  2. Space prefix. With add_space_prefix, a raw fragment that is first or follows a special token gets a
//     space put in front of it. Then every space becomes `▁` (U+2581).
//  3. Merging. Each raw fragment is split into Unicode code points; every adjacent pair whose concatenation
//     is a vocabulary token is a candidate bigram, scored by that token's score. A max-heap repeatedly takes
//     the best bigram (highest score, ties: leftmost), merges it if both sides are still what they were, and
//     adds the new neighbour bigrams. O(n log n) in the fragment length.
//  4. Output. Each final symbol that is a vocabulary token is emitted as that token; any other symbol (a code
//     point missing from the vocabulary) is emitted as its UTF-8 bytes, `<0xXX>` tokens.

import { InvalidArgumentError } from "../errors.js";
import { TokenType, type Vocabulary } from "./vocab.js";

export interface EncodeOptions {
  /** Start with the BOS token. Default: the vocabulary's add_bos_token. */
  addBos?: boolean;
  /**
   * Turn the texts of control and unknown tokens (`<s>`, `</s>`, `<unk>`) into their ids. Default false:
   * text typed by a player that looks like a control token stays plain text.
   */
  parseSpecial?: boolean;
}

/** One piece of a text to encode with its own special-token setting (see LlamaTokenizer.encodeParts). */
export interface TextPart {
  text: string;
  parseSpecial: boolean;
}

export interface DecodeOptions {
  /** Leave out control and unknown tokens (BOS, EOS, `<unk>`). Default true. */
  skipSpecial?: boolean;
  /**
   * Remove the space that add_space_prefix put before the first word: one leading space of the first
   * token's piece, where a leading BOS that produces no text (skipSpecial) is passed over, so that
   * [BOS, ▁Hello] and [▁Hello] both decode to "Hello". (llama.cpp's detokenize strips only at the very first
   * token, so it gives " Hello" for [BOS, ▁Hello]; otherwise the two agree.) `true` (default for decode):
   * apply the rule; `"after-bos"`: apply it only when the ids start with BOS (a sequence decoded from its
   * beginning, not a continuation); `false`: never. Nothing is stripped when add_space_prefix is off.
   */
  stripLeadingSpace?: boolean | "after-bos";
}

type Fragment = string | number; // raw text, or a special token id

/**
 * Binary max-heap of candidate bigrams in parallel arrays (no per-bigram objects): higher score first, then
 * lower left index (llama.cpp's llm_bigram_spm order). Reused across fragments.
 */
class BigramHeap {
  private score = new Float64Array(256);
  private left = new Int32Array(256);
  private right = new Int32Array(256);
  private span = new Int32Array(256);
  size = 0;
  // The last popped entry.
  topLeft = 0;
  topRight = 0;
  topSpan = 0;

  clear(): void {
    this.size = 0;
  }

  private grow(): void {
    const n = this.score.length * 2;
    const score = new Float64Array(n);
    score.set(this.score);
    const left = new Int32Array(n);
    left.set(this.left);
    const right = new Int32Array(n);
    right.set(this.right);
    const span = new Int32Array(n);
    span.set(this.span);
    this.score = score;
    this.left = left;
    this.right = right;
    this.span = span;
  }

  push(score: number, left: number, right: number, span: number): void {
    if (this.size === this.score.length) this.grow();
    const sc = this.score;
    const le = this.left;
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!(score > sc[p] || (score === sc[p] && left < le[p]))) break;
      this.move(p, i);
      i = p;
    }
    this.set(i, score, left, right, span);
  }

  /** Removes the best entry into topLeft/topRight/topSpan. */
  pop(): void {
    const sc = this.score;
    const le = this.left;
    this.topLeft = le[0];
    this.topRight = this.right[0];
    this.topSpan = this.span[0];
    const n = --this.size;
    if (n === 0) return;
    const score = sc[n];
    const left = le[n];
    const right = this.right[n];
    const span = this.span[n];
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && (sc[r] > sc[l] || (sc[r] === sc[l] && le[r] < le[l])) ? r : l;
      if (!(sc[c] > score || (sc[c] === score && le[c] < left))) break;
      this.move(c, i);
      i = c;
    }
    this.set(i, score, left, right, span);
  }

  /** Copies entry `from` to slot `to`. */
  private move(from: number, to: number): void {
    this.score[to] = this.score[from];
    this.left[to] = this.left[from];
    this.right[to] = this.right[from];
    this.span[to] = this.span[from];
  }

  private set(i: number, score: number, left: number, right: number, span: number): void {
    this.score[i] = score;
    this.left[i] = left;
    this.right[i] = right;
    this.span[i] = span;
  }
}

const LONE_SURROGATE_SOURCE = "[\\uD800-\\uDBFF](?![\\uDC00-\\uDFFF])|(?<![\\uD800-\\uDBFF])[\\uDC00-\\uDFFF]";
const HAS_LONE_SURROGATE = new RegExp(LONE_SURROGATE_SOURCE);
const LONE_SURROGATES = new RegExp(LONE_SURROGATE_SOURCE, "g");
const EMPTY = new Uint8Array(0);
const utf8 = new TextEncoder();

export class LlamaTokenizer {
  readonly vocab: Vocabulary;
  private readonly scores: Float32Array;
  private readonly types: Int32Array;
  private readonly idByText = new Map<string, number>();
  private readonly byteIds = new Int32Array(256);
  /** Control, unknown and user-defined tokens, longest text first. */
  private readonly specials: { id: number; text: string; alwaysParsed: boolean }[];
  private readonly pieceCache: (Uint8Array | undefined)[];
  /** Longest vocabulary text in UTF-16 units: longer candidate bigrams cannot be tokens. */
  private readonly maxTokenLength: number;
  private readonly heap = new BigramHeap();

  constructor(vocab: Vocabulary) {
    const n = vocab.tokens.length;
    if (n === 0) throw new InvalidArgumentError("the vocabulary has no tokens");
    if (vocab.scores.length !== n || vocab.types.length !== n) {
      throw new InvalidArgumentError(`the vocabulary has ${n} tokens but ${vocab.scores.length} scores and ${vocab.types.length} types`);
    }
    this.vocab = vocab;
    // llama.cpp keeps scores as 32-bit floats; compare them at that precision so ties come out the same.
    this.scores = vocab.scores instanceof Float32Array ? vocab.scores : Float32Array.from(vocab.scores);
    this.types = vocab.types instanceof Int32Array ? vocab.types : Int32Array.from(vocab.types);
    this.pieceCache = new Array(n);

    let maxTokenLength = 0;
    for (let i = 0; i < n; i++) {
      // As llama.cpp: an empty token text is renamed, and a repeated text maps to its last id.
      const text = vocab.tokens[i] === "" ? `[EMPTY_${i}]` : vocab.tokens[i];
      this.idByText.set(text, i);
      if (text.length > maxTokenLength) maxTokenLength = text.length;
    }
    this.maxTokenLength = maxTokenLength;
    for (let b = 0; b < 256; b++) {
      const hex = b.toString(16).toUpperCase().padStart(2, "0");
      const id = this.idByText.get(`<0x${hex}>`) ?? (b < 0x80 ? this.idByText.get(String.fromCharCode(b)) : undefined);
      this.byteIds[b] = id ?? vocab.unkId;
    }

    const specials: { id: number; text: string; alwaysParsed: boolean; bytes: number }[] = [];
    for (let i = 0; i < n; i++) {
      const t = this.types[i];
      if (t === TokenType.Control || t === TokenType.Unknown || t === TokenType.UserDefined) {
        const text = vocab.tokens[i];
        if (text === "") continue;
        specials.push({ id: i, text, alwaysParsed: t === TokenType.UserDefined, bytes: utf8.encode(text).length });
      }
    }
    specials.sort((a, b) => b.bytes - a.bytes || a.id - b.id);
    this.specials = specials.map(({ id, text, alwaysParsed }) => ({ id, text, alwaysParsed }));
  }

  get vocabSize(): number {
    return this.vocab.tokens.length;
  }

  get bosId(): number {
    return this.vocab.bosId;
  }

  get eosId(): number {
    return this.vocab.eosId;
  }

  /** End of generation: EOS, or the end-of-turn token when the vocabulary names one. */
  isEog(id: number): boolean {
    return id === this.vocab.eosId || (this.vocab.eotId !== undefined && id === this.vocab.eotId);
  }

  /** Control or unknown token: produces no text when decoded with skipSpecial. */
  isControl(id: number): boolean {
    const t = this.types[id];
    return t === TokenType.Control || t === TokenType.Unknown;
  }

  /** The vocabulary text of a token as stored in the GGUF (`▁Hello`, `<0x0A>`, `</s>`). */
  tokenToPiece(id: number): string {
    this.checkId(id);
    return this.vocab.tokens[id];
  }

  /** The id of a vocabulary text, if it is one. */
  pieceToToken(piece: string): number | undefined {
    return this.idByText.get(piece);
  }

  /**
   * The bytes a token contributes to decoded text: `▁` as space, a byte token as its byte, control and
   * unknown tokens as their text when `special` (else nothing), unused tokens nothing (as llama.cpp).
   */
  tokenBytes(id: number, special = false): Uint8Array {
    this.checkId(id);
    const t = this.types[id];
    if (t === TokenType.Control || t === TokenType.Unknown) {
      return special ? utf8.encode(this.vocab.tokens[id]) : EMPTY;
    }
    let bytes = this.pieceCache[id];
    if (bytes === undefined) {
      const text = this.vocab.tokens[id];
      if (t === TokenType.Normal) bytes = utf8.encode(text.replaceAll("\u2581", " "));
      else if (t === TokenType.UserDefined) bytes = utf8.encode(text);
      else if (t === TokenType.Byte) {
        const value = Number.parseInt(text.slice(3, 5), 16);
        bytes = Number.isNaN(value) ? EMPTY : Uint8Array.of(value);
      } else bytes = EMPTY;
      this.pieceCache[id] = bytes;
    }
    return bytes;
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    return this.encodeParts([{ text, parseSpecial: options.parseSpecial ?? false }], { addBos: options.addBos });
  }

  /**
   * Encodes the concatenation of `parts` as llama.cpp would encode the whole string, except that special
   * tokens are recognised only inside parts with parseSpecial. Raw text that runs across part boundaries
   * is one fragment (merges cross the boundary; no extra space prefix), so for parts with no special-token
   * text in their non-special parts the result equals encode(parts.join(""), { parseSpecial: true }).
   * Used for chat prompts: template structure with special parsing, player content without.
   */
  encodeParts(parts: readonly TextPart[], options: { addBos?: boolean } = {}): number[] {
    const fragments: Fragment[] = [];
    for (const part of parts) {
      if (typeof part.text !== "string") throw new InvalidArgumentError("text to encode must be a string");
      if (part.text === "") continue;
      for (const f of this.partition(part.text, part.parseSpecial)) {
        const last = fragments.length - 1;
        if (typeof f === "string" && last >= 0 && typeof fragments[last] === "string") {
          fragments[last] = (fragments[last] as string) + f;
        } else {
          fragments.push(f);
        }
      }
    }

    const out: number[] = [];
    if (options.addBos ?? this.vocab.addBos) out.push(this.vocab.bosId);
    let prevSpecial = true;
    for (const f of fragments) {
      if (typeof f === "number") {
        out.push(f);
        prevSpecial = true;
        continue;
      }
      // JS strings may hold lone surrogates; llama.cpp gets them as U+FFFD through UTF-8 conversion.
      let raw = HAS_LONE_SURROGATE.test(f) ? f.replace(LONE_SURROGATES, "\uFFFD") : f;
      if (this.vocab.addSpacePrefix && prevSpecial) raw = " " + raw;
      this.mergeFragment(raw.replaceAll(" ", "\u2581"), out);
      prevSpecial = false;
    }
    return out;
  }

  /** Splits text into raw-text strings and special token ids (llama.cpp's tokenizer_st_partition). */
  private partition(text: string, parseSpecial: boolean): Fragment[] {
    let fragments: Fragment[] = [text];
    for (const special of this.specials) {
      if (!parseSpecial && !special.alwaysParsed) continue;
      let next: Fragment[] | undefined;
      for (let i = 0; i < fragments.length; i++) {
        const f = fragments[i];
        if (typeof f !== "string") {
          next?.push(f);
          continue;
        }
        let at = f.indexOf(special.text);
        if (at < 0) {
          next?.push(f);
          continue;
        }
        next ??= fragments.slice(0, i);
        let from = 0;
        while (at >= 0) {
          if (at > from) next.push(f.slice(from, at));
          next.push(special.id);
          from = at + special.text.length;
          at = f.indexOf(special.text, from);
        }
        if (from < f.length) next.push(f.slice(from));
      }
      if (next) fragments = next;
    }
    return fragments;
  }

  /** SentencePiece merging of one escaped raw fragment; appends ids to `out`. */
  private mergeFragment(text: string, out: number[]): void {
    const n = text.length;
    const start = new Int32Array(n);
    const end = new Int32Array(n);
    let m = 0;
    for (let i = 0; i < n;) {
      const c = text.charCodeAt(i);
      const w = c >= 0xd800 && c <= 0xdbff && i + 1 < n ? 2 : 1;
      start[m] = i;
      end[m] = i + w;
      m++;
      i += w;
    }
    const prev = new Int32Array(m);
    const next = new Int32Array(m);
    const len = new Int32Array(m);
    for (let i = 0; i < m; i++) {
      prev[i] = i - 1;
      next[i] = i + 1 < m ? i + 1 : -1;
      len[i] = end[i] - start[i];
    }

    const heap = this.heap;
    heap.clear();
    const idByText = this.idByText;
    const scores = this.scores;
    const maxLength = this.maxTokenLength;
    const tryAdd = (left: number, right: number): void => {
      if (left < 0 || right < 0 || end[right] - start[left] > maxLength) return;
      const id = idByText.get(text.slice(start[left], end[right]));
      if (id === undefined) return;
      heap.push(scores[id], left, right, end[right] - start[left]);
    };

    for (let i = 1; i < m; i++) tryAdd(i - 1, i);
    while (heap.size > 0) {
      heap.pop();
      const left = heap.topLeft;
      const right = heap.topRight;
      const size = heap.topSpan;
      if (len[left] === 0 || len[right] === 0 || len[left] + len[right] !== size) continue; // stale
      len[left] += len[right];
      len[right] = 0;
      end[left] = end[right];
      next[left] = next[right];
      if (next[right] >= 0) prev[next[right]] = left;
      tryAdd(prev[left], left);
      tryAdd(left, next[left]);
    }

    for (let i = 0; i !== -1 && m > 0; i = next[i]) {
      const piece = text.slice(start[i], end[i]);
      const id = idByText.get(piece);
      if (id !== undefined) {
        out.push(id);
      } else {
        for (const b of utf8.encode(piece)) out.push(this.byteIds[b]);
      }
    }
  }

  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    const skipSpecial = options.skipSpecial ?? true;
    const strip = options.stripLeadingSpace ?? true;
    const chunks: Uint8Array[] = [];
    let total = 0;
    let stripAt = -1; // index of the token whose leading space goes
    if (this.vocab.addSpacePrefix && ids.length > 0) {
      const startsWithBos = ids[0] === this.vocab.bosId;
      if (strip === true || (strip === "after-bos" && startsWithBos)) {
        stripAt = startsWithBos && this.tokenBytes(ids[0], !skipSpecial).length === 0 ? 1 : 0;
      }
    }
    for (let i = 0; i < ids.length; i++) {
      let bytes = this.tokenBytes(ids[i], !skipSpecial);
      if (i === stripAt && bytes[0] === 0x20) bytes = bytes.subarray(1);
      if (bytes.length === 0) continue;
      chunks.push(bytes);
      total += bytes.length;
    }
    const all = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) {
      all.set(c, at);
      at += c.length;
    }
    return new TextDecoder("utf-8", { ignoreBOM: true }).decode(all);
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocab.tokens.length) {
      throw new InvalidArgumentError(`token id ${id} is outside the vocabulary (0..${this.vocab.tokens.length - 1})`);
    }
  }
}
