import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dequantizeToFloat64 } from "../../runtime/gguf/quant.js";
import { readGguf, readTensorData } from "../../runtime/gguf/reader.js";
import { GgmlType, GgufValueType } from "../../runtime/gguf/types.js";
import { describeModel, validateLlamaModel } from "../../runtime/model-config.js";
import { TINYLLAMA_CHAT_TEMPLATE } from "../../runtime/synth/chat-template.js";
import { SYNTH_SHAPES, writeSyntheticModel, type SynthType } from "../../runtime/synth/synth.js";
import { TokenType, llama2TokenizerData, loadLlamaVocab } from "../../runtime/synth/vocab.js";
import { llama2HfTokenizer } from "../fixtures/llama2-hf-tokenizer.js";

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "parley-synth-"));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const sha = (p: string): string => crypto.createHash("sha256").update(fs.readFileSync(p)).digest("hex");

async function synth(type: SynthType, seed: number, name = `tiny-${type}-${seed}.gguf`): Promise<string> {
  const out = path.join(dir, name);
  if (!fs.existsSync(out)) await writeSyntheticModel({ shape: "tiny", type, seed, out });
  return out;
}

describe("vocabulary", () => {
  const vocab = loadLlamaVocab();
  const { merges } = llama2TokenizerData();

  it("has 32000 pieces with specials, bytes and normal tokens typed for llama.cpp", () => {
    expect(vocab.tokens.length).toBe(32000);
    expect(vocab.scores.length).toBe(32000);
    expect(vocab.tokenTypes.length).toBe(32000);
    expect(vocab.tokens.slice(0, 4)).toEqual(["<unk>", "<s>", "</s>", "<0x00>"]);
    expect(vocab.tokenTypes[0]).toBe(TokenType.UNKNOWN);
    expect(vocab.tokenTypes[1]).toBe(TokenType.CONTROL);
    expect(vocab.tokenTypes[2]).toBe(TokenType.CONTROL);
    for (let id = 3; id <= 258; id++) {
      expect(vocab.tokenTypes[id]).toBe(TokenType.BYTE);
      expect(vocab.tokens[id]).toBe(`<0x${(id - 3).toString(16).toUpperCase().padStart(2, "0")}>`);
    }
    for (let id = 259; id < 32000; id++) if (vocab.tokenTypes[id] !== TokenType.NORMAL) throw new Error(`id ${id}`);
    for (let id = 0; id <= 258; id++) expect(vocab.scores[id]).toBe(0);
    expect([vocab.bosId, vocab.eosId, vocab.unkId]).toEqual([1, 2, 0]);
  });

  it("is Llama 2's vocabulary (not Mistral's)", () => {
    expect(merges.length).toBe(61249);
    expect(vocab.tokens.indexOf("▁Hello")).toBe(15043);
    expect(vocab.tokens.indexOf("▁")).toBe(29871);
    expect(vocab.tokens[29871]).toBe("▁");
    expect(new Set(vocab.tokens).size).toBe(32000);
  });

  it("scores are minus the rank of the merge producing each piece; single characters score lowest", () => {
    const rank = new Map<string, number>();
    merges.forEach((m, r) => {
      const piece = m.replace(" ", "");
      if (!rank.has(piece)) rank.set(piece, r);
    });
    let minMerged = 0;
    let maxSingle = -Infinity;
    for (let id = 259; id < 32000; id++) {
      const r = rank.get(vocab.tokens[id]);
      if (r !== undefined) {
        if (vocab.scores[id] !== -r) throw new Error(`score of ${id} is ${vocab.scores[id]}, expected ${-r}`);
        minMerged = Math.min(minMerged, vocab.scores[id]);
      } else {
        expect([...vocab.tokens[id]].length).toBe(1);
        maxSingle = Math.max(maxSingle, vocab.scores[id]);
      }
    }
    expect(maxSingle).toBeLessThan(minMerged);
    // ids are not merge order: ▁▁ (259) comes from the last merge and ▁▁▁▁ (268) from a late one, below ▁t
    // (260, the first merge) and er (261, the second).
    const id = (piece: string): number => vocab.tokens.indexOf(piece);
    expect(vocab.tokens[259]).toBe("▁▁");
    expect(vocab.tokens[260]).toBe("▁t");
    expect(vocab.tokens[261]).toBe("er");
    expect(id("▁▁▁▁")).toBe(268);
    expect(merges[0]).toBe("▁ t");
    expect(vocab.scores[260]).toBe(0);
    expect(vocab.scores[261]).toBe(-1);
    expect(vocab.scores[259]).toBe(-rank.get("▁▁")!);
    expect(vocab.scores[259]).toBe(-(merges.length - 1)); // the last merge: "▁ ▁"
    expect(merges[merges.length - 1]).toBe("▁ ▁");
    expect(vocab.scores[259]).toBeLessThan(vocab.scores[262]);
    expect(vocab.scores[id("▁▁▁▁")]).toBe(-rank.get("▁▁▁▁")!);
    expect(vocab.scores[id("▁▁▁▁")]).toBeLessThan(vocab.scores[262]);
    expect(vocab.scores[id("▁▁▁▁")]).toBeLessThan(vocab.scores[id("▁▁▁▁") + 1]);
  });
});

describe("synthetic models", () => {
  it("defines the shapes", () => {
    expect(SYNTH_SHAPES.tinyllama).toMatchObject({ nEmbd: 2048, nLayer: 22, nHead: 32, nHeadKv: 4, nFf: 5632, nCtx: 2048, nVocab: 32000 });
    for (const s of Object.values(SYNTH_SHAPES)) {
      expect(s.nFf % 32).toBe(0);
      expect(s.nEmbd % 32).toBe(0);
      expect(s.nHead % s.nHeadKv).toBe(0);
      expect(s.nHeadKv).toBeLessThan(s.nHead); // GQA
    }
  });

  it("same seed gives identical bytes, a different seed different ones", async () => {
    const a = await synth("q4_0", 1);
    const b = await synth("q4_0", 1, "tiny-q4_0-1-again.gguf");
    const c = await synth("q4_0", 2);
    expect(sha(a)).toBe(sha(b));
    expect(sha(a)).not.toBe(sha(c));
  });

  it.each(["f32", "f16", "bf16", "q8_0", "q4_0"] as const)("tiny %s validates with the expected metadata", async (type) => {
    const file = await readGguf(await synth(type, 1));
    const { config, tensors } = validateLlamaModel(file);
    const s = SYNTH_SHAPES.tiny;
    expect(config).toMatchObject({
      nLayer: s.nLayer,
      nEmbd: s.nEmbd,
      nHead: s.nHead,
      nHeadKv: s.nHeadKv,
      nFf: s.nFf,
      nVocab: 32000,
      nCtxTrain: s.nCtx,
      ropeFreqBase: 10000,
      tiedOutput: false,
    });
    const want = { f32: GgmlType.F32, f16: GgmlType.F16, bf16: GgmlType.BF16, q8_0: GgmlType.Q8_0, q4_0: GgmlType.Q4_0 }[type];
    expect(tensors.tokenEmbd.type).toBe(want);
    expect(tensors.output.type).toBe(want);
    expect(tensors.layers[1].ffnDown.type).toBe(want);
    expect(tensors.layers[0].attnNorm.type).toBe(GgmlType.F32);
    expect(tensors.outputNorm.type).toBe(GgmlType.F32);
    expect(config.fileType).toBe({ f32: 0, f16: 1, bf16: 32, q8_0: 7, q4_0: 2 }[type]);
    expect(file.getString("tokenizer.ggml.model")).toBe("llama");
    expect(file.getString("tokenizer.chat_template")).toBe(TINYLLAMA_CHAT_TEMPLATE);
    expect(file.getNumber("tokenizer.ggml.bos_token_id")).toBe(1);
    expect(file.getNumber("tokenizer.ggml.eos_token_id")).toBe(2);
    expect(file.getNumber("tokenizer.ggml.unknown_token_id")).toBe(0);
    expect(file.getNumber("tokenizer.ggml.padding_token_id")).toBe(2);
    expect(file.getBool("tokenizer.ggml.add_bos_token")).toBe(true);
    expect(file.getBool("tokenizer.ggml.add_eos_token")).toBe(false);
    expect(file.getArray("tokenizer.ggml.scores", GgufValueType.FLOAT32).items.length).toBe(32000);
    expect(file.getArray("tokenizer.ggml.token_type", GgufValueType.INT32).items.length).toBe(32000);
    expect(describeModel(file).hasChatTemplate).toBe(true);
  });

  it("weights have the intended scales", async () => {
    const file = await readGguf(await synth("f32", 1));
    const stats = async (name: string): Promise<{ mean: number; std: number }> => {
      const t = file.tensor(name)!;
      const v = dequantizeToFloat64(t.type, await readTensorData(file, t), t.nElements);
      let m = 0;
      for (const x of v) m += x;
      m /= v.length;
      let s = 0;
      for (const x of v) s += (x - m) ** 2;
      return { mean: m, std: Math.sqrt(s / v.length) };
    };
    const e = await stats("token_embd.weight");
    expect(e.std).toBeCloseTo(1, 1);
    const q = await stats("blk.0.ffn_down.weight");
    expect(q.std).toBeCloseTo(1 / Math.sqrt(SYNTH_SHAPES.tiny.nFf), 2);
    expect(Math.abs(q.mean)).toBeLessThan(0.01);
    const n = await stats("blk.1.attn_norm.weight");
    expect(n.mean).toBeCloseTo(1, 1);
    expect(n.std).toBeLessThan(0.1);
  });
});

describe("llama.cpp accepts the files", () => {
  const texts = [
    "Hello, world! How are you today?",
    "  leading spaces and\ttabs\nnewlines",
    "The quick brown fox jumps over the lazy dog.",
    "ünïcödé 日本語 🦙 emojis",
    "    indented code()  {}",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
  ];

  it.each(["q4_0", "f32"] as const)("node-llama-cpp loads, tokenizes like the HF tokenizer and evaluates a tiny %s", async (type) => {
    const modelPath = await synth(type, 3);
    const { getLlama, LlamaLogLevel, readGgufFileInfo } = await import("node-llama-cpp");
    // node-llama-cpp's own GGUF reader agrees with ours
    const info = await readGgufFileInfo(modelPath);
    const ours = await readGguf(modelPath);
    expect(info.metadata.general.architecture).toBe("llama");
    expect(info.tensorInfo?.length).toBe(ours.tensors.length);
    expect(info.tensorInfo?.map((t) => t.name)).toEqual(ours.tensors.map((t) => t.name));
    const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
    const model = await llama.loadModel({ modelPath });
    try {
      const hf = llama2HfTokenizer();
      for (const text of texts) {
        expect(model.tokenize(text, false), text).toEqual(hf.encode(text, { add_special_tokens: false }));
      }
      expect(model.tokenize("<s>Hi</s>", true)).toEqual(hf.encode("<s>Hi</s>", { add_special_tokens: false }));
      expect(model.tokens.bos).toBe(1);
      expect(model.tokens.eos).toBe(2);
      const context = await model.createContext({ threads: 2, contextSize: 128 });
      try {
        const sequence = context.getSequence();
        const generated: number[] = [];
        for await (const token of sequence.evaluate([model.tokens.bos!, ...model.tokenize("Hello world", false)])) {
          generated.push(token);
          if (generated.length >= 3) break;
        }
        expect(generated.length).toBe(3);
        for (const t of generated) expect(t >= 0 && t < 32000).toBe(true);
      } finally {
        await context.dispose();
      }
    } finally {
      await model.dispose();
    }
  });
});
