// Streaming detokenizer: UTF-8 assembled across byte tokens without splitting characters, control tokens
// silent, the leading-space rule, and chunks concatenating to decode().

import { describe, expect, it } from "vitest";
import { StreamingDetokenizer } from "../../runtime/tokenizer/detokenizer.js";
import { LlamaTokenizer } from "../../runtime/tokenizer/tokenizer.js";
import { llama2Vocabulary } from "../fixtures/llama2-vocab.js";
import { TOKENIZER_CORPUS } from "../fixtures/tokenizer-corpus.js";

const tokenizer = new LlamaTokenizer(llama2Vocabulary());
const byte = (b: number): number => tokenizer.pieceToToken(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`)!;
const piece = (p: string): number => tokenizer.pieceToToken(p)!;
const BOS = 1;
const EOS = 2;

function stream(ids: number[], options?: ConstructorParameters<typeof StreamingDetokenizer>[1]): string[] {
  const d = new StreamingDetokenizer(tokenizer, options);
  return [...ids.map((id) => d.push(id)), d.flush()];
}

describe("StreamingDetokenizer", () => {
  it("holds back a multi-byte character until its last byte token arrives", () => {
    // € = E2 82 AC
    expect(stream([byte(0xe2), byte(0x82), byte(0xac)])).toEqual(["", "", "€", ""]);
    // 🐉 = F0 9F 90 89, after a word
    expect(stream([piece("▁Hello"), byte(0xf0), byte(0x9f), byte(0x90), byte(0x89), piece("!")])).toEqual([" Hello", "", "", "", "🐉", "!", ""]);
  });

  it("never emits half a character for multi-codepoint emoji", () => {
    for (const text of ["👨‍👩‍👧‍👦 family", "🏳️‍🌈", "👍🏽 ok", "日本語 🇯🇵"]) {
      const ids = tokenizer.encode(text);
      const chunks = stream(ids);
      expect(chunks.join("")).toBe(text);
      for (const c of chunks) expect(c).not.toContain("\uFFFD");
    }
  });

  it("turns impossible byte sequences into U+FFFD as soon as they are impossible, and leftovers at flush", () => {
    // E2 then a space: E2 can never complete.
    expect(stream([byte(0xe2), piece("▁a")])).toEqual(["", "\uFFFD a", ""]);
    // A stray continuation byte.
    expect(stream([byte(0x82), piece("b")])).toEqual(["\uFFFD", "b", ""]);
    // Incomplete at the end of the stream.
    expect(stream([piece("x"), byte(0xe2), byte(0x82)])).toEqual(["x", "", "", "\uFFFD"]);
  });

  it("produces no text for control tokens, unless asked", () => {
    expect(stream([BOS, piece("▁Hi"), EOS])).toEqual(["", "Hi", "", ""]);
    expect(stream([BOS, piece("▁Hi"), EOS], { skipSpecial: false })).toEqual(["<s>", " Hi", "</s>", ""]);
  });

  it("removes the prefix space of the first piece after BOS, and by default only then", () => {
    expect(stream([BOS, piece("▁Hello"), piece("▁world")]).join("")).toBe("Hello world");
    // A continuation of generated text keeps its space: it is appended to earlier text.
    expect(stream([piece("▁Hello"), piece("▁world")]).join("")).toBe(" Hello world");
    expect(stream([piece("▁Hello")], { stripLeadingSpace: true }).join("")).toBe("Hello");
    expect(stream([BOS, piece("▁Hello")], { stripLeadingSpace: false }).join("")).toBe(" Hello");
    // Only one space, only once.
    expect(stream([BOS, piece("▁▁"), piece("▁x")]).join("")).toBe("  x");
  });

  it("can be reused after flush", () => {
    const d = new StreamingDetokenizer(tokenizer);
    expect(d.pushAll([BOS, piece("▁Hello"), byte(0xe2)])).toBe("Hello");
    expect(d.flush()).toBe("\uFFFD");
    expect(d.pushAll([BOS, piece("▁Hi")]) + d.flush()).toBe("Hi");
  });

  it("concatenates to decode() for the whole corpus, with every option", () => {
    const options = [
      {},
      { skipSpecial: false },
      { stripLeadingSpace: true as const },
      { stripLeadingSpace: false as const },
      { skipSpecial: false, stripLeadingSpace: true as const },
    ];
    for (const text of TOKENIZER_CORPUS) {
      for (const parseSpecial of [false, true]) {
        for (const addBos of [false, true]) {
          const ids = tokenizer.encode(text, { parseSpecial, addBos });
          for (const o of options) {
            const decodeOptions = { stripLeadingSpace: "after-bos" as const, ...o };
            expect(stream(ids, o).join("")).toBe(tokenizer.decode(ids, decodeOptions));
          }
        }
      }
    }
  });

  it("concatenates to decode() for random byte-token soup (valid and invalid UTF-8)", () => {
    let seed = 12345;
    const rand = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const interesting = [0x41, 0x20, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x90, 0x89, 0xff, 0x80, 0xed, 0xa0];
    for (let round = 0; round < 300; round++) {
      const ids: number[] = [];
      const n = 1 + Math.floor(rand() * 12);
      for (let i = 0; i < n; i++) {
        const r = rand();
        if (r < 0.7) ids.push(byte(interesting[Math.floor(rand() * interesting.length)]));
        else if (r < 0.85) ids.push(piece("▁a"));
        else if (r < 0.93) ids.push(BOS);
        else ids.push(EOS);
      }
      const chunks = stream(ids);
      expect(chunks.join("")).toBe(tokenizer.decode(ids, { stripLeadingSpace: "after-bos" }));
      // No chunk may end with a lone high surrogate (half of an astral character).
      for (const c of chunks) expect(/[\uD800-\uDBFF]$/.test(c)).toBe(false);
    }
  });
});
