// The trained demo model (samples/demo-model/parley-demo.gguf, built by samples/demo-model/build.sh): its file,
// that its corpus is tokenized exactly as the runtime prompts, that it answers a village prompt in Parley, and that
// Parley and llama.cpp agree on it (held-out perplexity within 1%, teacher-forced top-1 agreement ≥ 97%).
// Skipped when the GGUF is absent.

import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readGguf } from "../../runtime/gguf/reader.js";
import { TINYLLAMA_CHAT_TEMPLATE } from "../../runtime/synth/chat-template.js";
import { Runtime, type Model } from "../../runtime/index.js";
import { buildPrompt } from "../../plugin/prompt/prompt-builder.js";
import { loadCharacters } from "../../samples/demo-model/corpus.js";
import { heldoutSlice, llamaCppNll, parleyNll } from "../../samples/demo-model/eval.js";
import { runTypeConformance, THRESHOLDS, type ConformanceContext } from "../conformance/conformance.js";
import { openLlamaCppPeer } from "../peer/llama-cpp-peer.js";
import { REPO_ROOT } from "../fixtures/repo-root.js";
import { llamaCppKey } from "../fixtures/oracle-cache.js";

const MODEL = path.join(REPO_ROOT, "samples/demo-model/parley-demo.gguf");
const present = fs.existsSync(MODEL);

describe.skipIf(!present)("demo model", () => {
  let runtime: Runtime;
  let model: Model;

  beforeAll(async () => {
    runtime = await Runtime.create();
    model = await runtime.loadModel(MODEL);
  });
  afterAll(() => {
    model?.dispose();
    runtime?.dispose();
  });

  it("is a small Llama GGUF with the Llama 2 vocabulary and TinyLlama's chat template", async () => {
    expect(fs.statSync(MODEL).size).toBeLessThanOrEqual(20e6);
    const file = await readGguf(MODEL);
    const get = (k: string): unknown => {
      const v = file.metadata.get(k) as unknown;
      return v && typeof v === "object" && "value" in (v as object) ? (v as { value: unknown }).value : v;
    };
    expect(get("general.architecture")).toBe("llama");
    expect(get("tokenizer.chat_template")).toBe(TINYLLAMA_CHAT_TEMPLATE);
    expect(model.info.vocabularySize).toBe(32000);
    expect(model.info.parameterCount).toBeGreaterThan(1e6);
    expect(model.info.parameterCount).toBeLessThan(10e6);
    expect(model.info.contextLength).toBeGreaterThanOrEqual(1024);
  });

  it("reports load progress up to 100% and no further (its LM head is the embedding, uploaded twice)", async () => {
    const fractions: number[] = [];
    const again = await runtime.loadModel(MODEL, { onProgress: ({ fraction }) => fractions.push(fraction) });
    again.dispose();
    expect(fractions.length).toBeGreaterThan(1);
    expect(Math.max(...fractions)).toBeLessThanOrEqual(1);
    expect(fractions.at(-1)).toBe(1);
    for (let i = 1; i < fractions.length; i++) expect(fractions[i]).toBeGreaterThanOrEqual(fractions[i - 1]);
  });

  it("its corpus is tokenized exactly as the runtime tokenizes the prompt", () => {
    for (const s of heldoutSlice(6)) {
      expect(model.tokenizeChat(s.messages!)).toEqual(s.prompt);
      expect(s.reply.at(-1)).toBe(2);
    }
  });

  it("answers the blacksmith in a village prompt", async () => {
    const character = loadCharacters().blacksmith;
    const backend = {
      contextSize: 2048,
      countTokens: (t: string) => model.tokenize(t).length,
      countChatTokens: (m: Parameters<Model["tokenizeChat"]>[0]) => model.tokenizeChat(m).length,
    };
    const prompt = buildPrompt({
      character,
      graphInstruction: "Answer the player in character.",
      playerText: "How much for a sword?",
      backend,
      replyTokens: 96,
    });
    const session = model.createSession({ contextSize: 2048 });
    let text = "";
    let finish: string | undefined;
    for await (const chunk of session.generate(prompt.messages, { temperature: 0, maxTokens: 96 })) {
      text += chunk.text;
      finish = chunk.finishReason ?? finish;
    }
    session.dispose();
    expect(text.trim().length).toBeGreaterThan(0);
    expect(finish).toBe("eos");
  });

  it("passes the runtime's conformance checks against llama.cpp and the float64 reference (F16 thresholds)", async () => {
    const peer = await openLlamaCppPeer({ threads: 2 });
    const ctx: ConformanceContext = {
      runtime,
      peer,
      peerKey: llamaCppKey(false, 2),
      modelPath: async () => MODEL,
      dispose: () => peer.dispose(),
    };
    try {
      // The suite's teacher-forced tokens are random ids over the vocabulary: a hard input for any model.
      const r = await runTypeConformance("f16", ctx, { shape: "tiny", positions: 256 });
      expect(r.top1_agreement).toBeGreaterThanOrEqual(THRESHOLDS.top1Agreement.f16);
      expect(r.ref_max_rel_logit_err!).toBeLessThanOrEqual(THRESHOLDS.refRelLogitErr.f16);
    } finally {
      await peer.dispose();
    }
  }, 600_000);

  it("Parley and llama.cpp agree on held-out perplexity (within 1%) and top-1 (≥ 97%)", async () => {
    const samples = heldoutSlice(12);
    const p = await parleyNll(model, samples);
    const l = await llamaCppNll(MODEL, samples);
    expect(p.tokens).toBe(l.tokens);
    const pp = Math.exp(p.nll / p.tokens);
    const pl = Math.exp(l.nll / l.tokens);
    expect(Math.abs(pp - pl) / pl).toBeLessThan(0.01);
    const agree = p.argmax.filter((a, i) => a === l.argmax[i]).length / p.argmax.length;
    expect(agree).toBeGreaterThanOrEqual(0.97);
  }, 300_000);
});
