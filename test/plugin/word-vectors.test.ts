// Word vectors (plugin/dialogue/word-vectors.ts): the compact file format round-trips from any buffer, bad
// files are typed errors, and the bundled English vectors put words of like meaning near each other.
import { describe, expect, it } from "vitest";
import { WordVectors, WordVectorsFormatError, englishWordVectors } from "../../plugin/index.js";

const dot = (a: Float32Array, b: Float32Array): number => a.reduce((s, x, k) => s + x * b[k], 0);

describe("the word-vector file", () => {
  const words = ["the", "sword", "blade", "stew"];
  const vectors = new Float32Array([0.1, 0.2, 0.3, /* sword */ 1, 2, -0.5, /* blade */ 0.9, 2.1, -0.4, /* stew */ -2, 0.1, 3]);

  it("round-trips words, their frequency ranks and their directions, also from a Buffer inside a larger one", () => {
    const bytes = WordVectors.encode(words, vectors, 3);
    // Node hands files over as Buffers that may sit at an offset in a shared pool.
    const pooled = Buffer.concat([Buffer.from("padding-"), Buffer.from(bytes)]).subarray(8);
    for (const source of [bytes, pooled]) {
      const wv = WordVectors.decode(source);
      expect(wv.size).toBe(4);
      expect(wv.dimensions).toBe(3);
      expect(words.map((w) => wv.rank(w))).toEqual([0, 1, 2, 3]);
      expect(wv.rank("axe")).toBeUndefined();
      expect(wv.unit("axe")).toBeNull();
      for (let i = 0; i < words.length; i++) {
        const v = wv.unit(words[i])!;
        const ref = vectors.subarray(i * 3, i * 3 + 3);
        const refNorm = Math.sqrt(dot(ref, ref));
        expect(Math.sqrt(dot(v, v))).toBeCloseTo(1, 6);
        expect(dot(v, ref) / refNorm).toBeGreaterThan(0.999); // int8 keeps the direction
      }
      expect(dot(wv.unit("sword")!, wv.unit("blade")!)).toBeGreaterThan(dot(wv.unit("sword")!, wv.unit("stew")!));
    }
  });

  it("rejects files that are not word vectors, cut short, or inconsistent, with a typed error", () => {
    const bytes = WordVectors.encode(words, vectors, 3);
    expect(() => WordVectors.decode(new TextEncoder().encode("GGUF and more bytes"))).toThrow(WordVectorsFormatError);
    expect(() => WordVectors.decode(bytes.subarray(0, bytes.length - 1))).toThrow(/need \d+ bytes/);
    expect(() => WordVectors.decode(new Uint8Array(3))).toThrow(WordVectorsFormatError);
    const wrongCount = bytes.slice();
    new DataView(wrongCount.buffer).setUint32(4, 3, true); // says 3 words, carries 4 words' text
    expect(() => WordVectors.decode(wrongCount)).toThrow(WordVectorsFormatError);
    expect(() => WordVectors.encode(["a", "b\nc"], new Float32Array(6), 3)).toThrow(/line break/);
    expect(() => WordVectors.encode(["a"], new Float32Array(2), 3)).toThrow(WordVectorsFormatError);
  });
});

describe("the bundled English word vectors", () => {
  const wv = englishWordVectors();
  const sim = (a: string, b: string): number => dot(wv.unit(a)!, wv.unit(b)!);

  it("hold common English words in frequency order", () => {
    expect(wv.size).toBeGreaterThanOrEqual(20_000);
    expect(wv.rank("the")).toBe(0);
    expect(wv.rank("sword")!).toBeLessThan(wv.rank("scabbard") ?? Infinity);
    for (const w of ["room", "bed", "gossip", "rumours", "weapon", "hungry", "job", "merchant"]) expect(wv.unit(w), w).not.toBeNull();
  });

  it("place words of like meaning nearer than unrelated ones", () => {
    for (const [word, near, far] of [
      ["sword", "blade", "soup"],
      ["gossip", "rumours", "iron"],
      ["bed", "sleep", "axe"],
      ["job", "work", "ale"],
      ["hungry", "food", "mine"],
    ])
      expect(sim(word, near), `${word} ~ ${near} vs ${far}`).toBeGreaterThan(sim(word, far) + 0.2);
  });

  it("is read once and shared", () => {
    expect(englishWordVectors()).toBe(wv);
  });
});
