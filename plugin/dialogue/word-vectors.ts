// Word vectors: what a word means, as a point in a space where "blade" lies near "sword" and "gossip" near
// "rumour". Intent routing uses them so a player's words that no authored example uses still count when they
// mean the same. Stored compactly: the words in frequency order (the most common first, so a word's rank
// tells how little it says), one int8 vector per word. Only directions are compared (cosine), so each vector
// is stored scaled until its largest component is ±127 and its length is not kept.
//
// File layout (little-endian):
//   "PWV1" | u32 word count | u32 dimensions | u32 byte length of the words
//   | words, UTF-8, separated by "\n" | i8 × dimensions per word

import { ParleyError } from "../../runtime/index.js";

const MAGIC = "PWV1";
const HEADER_BYTES = 16;

/** A word-vector file that cannot be read: wrong magic, truncated, or inconsistent sizes. */
export class WordVectorsFormatError extends ParleyError {
  constructor(message: string) {
    super("INVALID_ARGUMENT", `word vectors: ${message}`);
  }
}

export class WordVectors {
  readonly dimensions: number;
  readonly #index: Map<string, number>;
  readonly #values: Int8Array;
  /** Unit-length vectors already expanded, by word index. */
  readonly #units = new Map<number, Float32Array>();

  private constructor(words: readonly string[], dimensions: number, values: Int8Array) {
    this.dimensions = dimensions;
    this.#index = new Map(words.map((w, i) => [w, i]));
    this.#values = values;
  }

  /** How many words have a vector. */
  get size(): number {
    return this.#index.size;
  }

  /** The word's frequency rank (0 = the most common word), or undefined when it has no vector. */
  rank(word: string): number | undefined {
    return this.#index.get(word);
  }

  /** The word's vector scaled to unit length, or null when the word has none. */
  unit(word: string): Float32Array | null {
    const i = this.#index.get(word);
    if (i === undefined) return null;
    let v = this.#units.get(i);
    if (!v) {
      const d = this.dimensions;
      v = new Float32Array(d);
      let norm = 0;
      for (let k = 0; k < d; k++) {
        v[k] = this.#values[i * d + k];
        norm += v[k] * v[k];
      }
      norm = Math.sqrt(norm) || 1;
      for (let k = 0; k < d; k++) v[k] /= norm;
      this.#units.set(i, v);
    }
    return v;
  }

  /** Reads the file layout described above. */
  static decode(bytes: Uint8Array): WordVectors {
    if (bytes.byteLength < HEADER_BYTES || new TextDecoder().decode(bytes.subarray(0, 4)) !== MAGIC)
      throw new WordVectorsFormatError(`not a Parley word-vector file (it should start with "${MAGIC}")`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const count = view.getUint32(4, true);
    const dimensions = view.getUint32(8, true);
    const wordBytes = view.getUint32(12, true);
    const wordsEnd = HEADER_BYTES + wordBytes;
    const valuesStart = wordsEnd;
    const end = valuesStart + count * dimensions;
    if (dimensions === 0 || end !== bytes.byteLength)
      throw new WordVectorsFormatError(`${count} words of ${dimensions} dimensions need ${end} bytes, the file has ${bytes.byteLength}`);
    const words = count === 0 ? [] : new TextDecoder().decode(bytes.subarray(HEADER_BYTES, wordsEnd)).split("\n");
    if (words.length !== count) throw new WordVectorsFormatError(`the header says ${count} words, the word list has ${words.length}`);
    // A copy, not a view: a Node Buffer's .buffer may be a shared pool, and its slice() does not copy.
    const values = new Int8Array(count * dimensions);
    values.set(new Int8Array(bytes.buffer, bytes.byteOffset + valuesStart, count * dimensions));
    return new WordVectors(words, dimensions, values);
  }

  /** Writes `vectors` (one row of `dimensions` numbers per word, most common word first) in the file layout. */
  static encode(words: readonly string[], vectors: Float32Array, dimensions: number): Uint8Array {
    if (vectors.length !== words.length * dimensions)
      throw new WordVectorsFormatError(`${words.length} words need ${words.length * dimensions} numbers, got ${vectors.length}`);
    const bad = words.find((w) => w === "" || w.includes("\n"));
    if (bad !== undefined) throw new WordVectorsFormatError(`a word may not be empty or contain a line break: ${JSON.stringify(bad)}`);
    const text = new TextEncoder().encode(words.join("\n"));
    const valuesStart = HEADER_BYTES + text.byteLength;
    const bytes = new Uint8Array(valuesStart + words.length * dimensions);
    const view = new DataView(bytes.buffer);
    bytes.set(new TextEncoder().encode(MAGIC), 0);
    view.setUint32(4, words.length, true);
    view.setUint32(8, dimensions, true);
    view.setUint32(12, text.byteLength, true);
    bytes.set(text, HEADER_BYTES);
    for (let i = 0; i < words.length; i++) {
      let max = 0;
      for (let k = 0; k < dimensions; k++) max = Math.max(max, Math.abs(vectors[i * dimensions + k]));
      const scale = max / 127 || 1;
      for (let k = 0; k < dimensions; k++) view.setInt8(valuesStart + i * dimensions + k, Math.round(vectors[i * dimensions + k] / scale));
    }
    return bytes;
  }
}
