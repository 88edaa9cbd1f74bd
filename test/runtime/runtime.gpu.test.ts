// The runtime on the real Vulkan driver (lavapipe in CI): logits against the float64 reference for
// every tensor type, GPU argmax, generation (greedy, seeded, stop strings, abort), prefix reuse, the
// event loop staying free, validation-layer cleanliness, and the decode plan's proxies.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Runtime, AbortError, type ChatMessage, type Model } from "../../runtime/index.js";
import { LlamaReference } from "../reference/llama-reference.js";
import { syntheticModel } from "../fixtures/models.js";
import { customModel } from "../fixtures/custom-models.js";
import type { SynthType } from "../../runtime/synth/synth.js";
import { seededTokens } from "../fixtures/tokens.js";

let runtime: Runtime;

beforeAll(async () => {
  runtime = await Runtime.create({ validation: true });
});

afterAll(() => {
  runtime?.dispose();
});

function argmaxOf(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

describe("devices", () => {
  it("lists at least one Vulkan device with its capabilities", () => {
    const devices = Runtime.listDevices();
    expect(devices.length).toBeGreaterThan(0);
    for (const d of devices) {
      expect(d.name.length).toBeGreaterThan(0);
      expect(["discrete", "integrated", "virtual", "cpu", "other"]).toContain(d.type);
      expect(d.subgroupSize).toBeGreaterThan(0);
      expect(d.memoryHeaps.length).toBeGreaterThan(0);
      expect(typeof d.fp16).toBe("boolean");
      expect(typeof d.integerDotProduct).toBe("boolean");
      // The integer dot product kernels need the extension and subgroup shuffles on subgroups of at least 8.
      if (d.integerDotKernels) expect([d.integerDotProduct, d.subgroupSize >= 8]).toEqual([true, true]);
      else expect(d.integerDotKernels).toBe(false);
      expect(typeof d.cooperativeMatrix).toBe("boolean");
      // The cooperative-matrix prefill needs the extension, fp16 and subgroups of 32 (and more: vk_context.cpp).
      if (d.cooperativeMatrixPrefill) expect([d.cooperativeMatrix, d.fp16, d.subgroupSize]).toEqual([true, true, 32]);
      else expect(d.cooperativeMatrixPrefill).toBe(false);
    }
    expect(runtime.device.name).toBe(devices[runtime.device.index].name);
  });
});

// Relative error as the issue defines it: per row, max |parley - ref| / max |ref|; the max over rows.
// K-quants run on the `small` shape: their 256-element super-blocks need rows wider than tiny's 128.
const TOLERANCE = { f32: 1e-3, f16: 1e-2, bf16: 1e-2, q8_0: 1e-2, q4_0: 1e-2, q4_k_m: 1e-2, q5_k: 1e-2, q6_k: 1e-2 } as Record<SynthType, number>;
const K_QUANTS: readonly SynthType[] = ["q4_k_m", "q5_k", "q6_k"];

describe.each(Object.keys(TOLERANCE) as SynthType[])("forward pass, %s weights", (type) => {
  it("matches the float64 reference over 96 teacher-forced positions", async () => {
    const path = await syntheticModel(K_QUANTS.includes(type) ? "small" : "tiny", type);
    const model = await runtime.loadModel(path);
    const session = model.createSession({ contextSize: 128, ubatch: 32 });
    const tokens = seededTokens(96, 7);
    const { logits } = await session.evaluate(tokens, { logits: "all" });
    const reference = (await LlamaReference.load(path)).forward(tokens);
    const V = model.info.vocabularySize;
    expect(logits!.length).toBe(tokens.length * V);
    let maxRel = 0;
    let agree = 0;
    for (let i = 0; i < tokens.length; i++) {
      const row = logits!.subarray(i * V, (i + 1) * V);
      const ref = reference[i];
      let maxDiff = 0;
      let maxRef = 0;
      for (let j = 0; j < V; j++) {
        maxDiff = Math.max(maxDiff, Math.abs(row[j] - ref[j]));
        maxRef = Math.max(maxRef, Math.abs(ref[j]));
      }
      maxRel = Math.max(maxRel, maxDiff / maxRef);
      if (argmaxOf(row) === argmaxOf(ref)) agree++;
    }
    console.log(`${type}: max relative logit error vs float64 reference ${maxRel.toExponential(2)}, top-1 ${agree}/${tokens.length}`);
    expect(maxRel).toBeLessThanOrEqual(TOLERANCE[type]);
    expect(agree / tokens.length).toBeGreaterThanOrEqual(0.97);
    // Both kernel sets: a prefill and then decode steps, one token each, against the same reference.
    for (const kernels of ["cpu", "gpu"] as const) {
      const other = model.createSession({ contextSize: 128, ubatch: 32, kernels });
      const batch = (await other.evaluate(tokens, { logits: "all" })).logits!;
      let batchRel = 0;
      for (let i = 0; i < tokens.length; i++) {
        let maxDiff = 0;
        let maxRef = 0;
        for (let j = 0; j < V; j++) {
          maxDiff = Math.max(maxDiff, Math.abs(batch[i * V + j] - reference[i][j]));
          maxRef = Math.max(maxRef, Math.abs(reference[i][j]));
        }
        batchRel = Math.max(batchRel, maxDiff / maxRef);
      }
      expect(batchRel).toBeLessThanOrEqual(TOLERANCE[type]);
      other.dispose();
      const stepwise = model.createSession({ contextSize: 32, kernels });
      let stepRel = 0;
      for (let i = 0; i < 12; i++) {
        const { logits: row } = await stepwise.evaluate([tokens[i]], { logits: "last" });
        let maxDiff = 0;
        let maxRef = 0;
        for (let j = 0; j < V; j++) {
          maxDiff = Math.max(maxDiff, Math.abs(row![j] - reference[i][j]));
          maxRef = Math.max(maxRef, Math.abs(reference[i][j]));
        }
        stepRel = Math.max(stepRel, maxDiff / maxRef);
      }
      console.log(`${type}: ${kernels} kernels: prefill ${batchRel.toExponential(2)}, decode ${stepRel.toExponential(2)} max relative error`);
      expect(stepRel).toBeLessThanOrEqual(TOLERANCE[type]);
      stepwise.dispose();
    }
    expect(runtime.validationMessages()).toEqual([]);
    model.dispose();
  });
});

describe("sessions and generation", () => {
  let model: Model;
  beforeAll(async () => {
    model = await runtime.loadModel(await syntheticModel("tiny", "q8_0"));
  });
  afterAll(() => model?.dispose());

  it("reports load progress up to all bytes", async () => {
    const seen: { loadedBytes: number; totalBytes: number; fraction: number }[] = [];
    const m = await runtime.loadModel(await syntheticModel("tiny", "q4_0"), { onProgress: (p) => seen.push(p) });
    expect(seen.length).toBeGreaterThan(0);
    for (let i = 1; i < seen.length; i++) expect(seen[i].loadedBytes).toBeGreaterThanOrEqual(seen[i - 1].loadedBytes);
    const last = seen.at(-1)!;
    expect(last.loadedBytes).toBe(last.totalBytes);
    expect(last.fraction).toBe(1);
    expect(last.totalBytes).toBeGreaterThan(4_000_000);
    m.dispose();
  });

  it("reports model info", () => {
    expect(model.info.architecture).toBe("llama");
    expect(model.info.vocabularySize).toBe(32000);
    expect(model.info.contextLength).toBe(2048);
    expect(model.info.tensorTypes.Q8_0).toBeGreaterThan(0);
    expect(model.info.parameterCount).toBeGreaterThan(4_000_000);
    expect(model.info.chatTemplate).toContain("<|assistant|>");
    expect(model.info.deviceBytes).toBeGreaterThan(0);
  });

  it("computes the greedy token on the GPU: the argmax of the logits it returns", async () => {
    const session = model.createSession({ contextSize: 64 });
    const prompt = model.tokenize("The blacksmith looked up from the anvil and said");
    const withLogits = await session.evaluate(prompt, { logits: "last" });
    expect(withLogits.logits!.length).toBe(32000);
    expect(withLogits.argmax).toBe(argmaxOf(withLogits.logits!));
    session.reset();
    const argmaxOnly = await session.evaluate(prompt, { logits: "none" });
    expect(argmaxOnly.logits).toBeUndefined();
    expect(argmaxOnly.argmax).toBe(withLogits.argmax);
    session.dispose();
  });

  it("decode's LM head product finds the greedy token itself: every row split, staged or not, int8 or not, ties to the lowest id", async () => {
    // The fused argmax (matvec.comp's ARGMAX) reduces each workgroup's rows, then the last workgroup reduces
    // the candidates; the row split decides how many workgroups there are. The "ties" model's logits come in
    // groups of 5 equal values, some of which straddle two workgroups.
    const q4 = await runtime.loadModel(await syntheticModel("tiny", "q4_0"));
    const tied = await runtime.loadModel(await customModel("ties"));
    try {
      for (const m of [q4, tied]) {
        const settings = [1, 2, 4, 8].flatMap((rows) =>
          [false, true].map((stage) => ({ rowsPerSubgroup: rows, stageInput: stage, wideLoads: false, integerDot: false })),
        );
        if (runtime.device.integerDotKernels && m === q4) settings.push({ rowsPerSubgroup: 2, stageInput: true, wideLoads: false, integerDot: true });
        // CPU drivers keep the argmax dispatch with kernels "auto" (the fused one's barriers cost them more).
        const auto = m.createSession({ contextSize: 32 });
        expect(auto.plan().dispatches).toBe(5 * m.info.config.nLayer + (runtime.device.type === "cpu" ? 3 : 2));
        auto.dispose();
        for (const decode of settings) {
          const s = m.createSession({ contextSize: 32, kernels: "gpu", tuning: { decode } });
          expect(s.plan().dispatches).toBe(5 * m.info.config.nLayer + 2); // no argmax dispatch of its own
          let token = 1;
          for (let step = 0; step < 6; step++) {
            const r = await s.evaluate([token], { logits: "last" });
            expect(r.argmax, `${JSON.stringify(decode)}, step ${step}`).toBe(argmaxOf(r.logits!));
            token = r.argmax === 0 ? 100 + step : r.argmax;
          }
          s.dispose();
        }
      }
    } finally {
      q4.dispose();
      tied.dispose();
    }
  });

  it("selects the top 64 candidates on the GPU; sampling them equals sampling all logits", async () => {
    const prompt = model.tokenize("The innkeeper wiped the counter and");
    const full = model.createSession({ contextSize: 64 });
    const top = model.createSession({ contextSize: 64 });
    const a = await full.evaluate(prompt, { logits: "last" });
    const b = await top.evaluate(prompt, { logits: "top" });
    expect(b.logits).toBeUndefined();
    expect(b.topIds!.length).toBe(64);
    const expected = Array.from(a.logits!.keys())
      .sort((x, y) => a.logits![y] - a.logits![x] || x - y)
      .slice(0, 64);
    expect([...b.topIds!].sort((x, y) => x - y)).toEqual([...expected].sort((x, y) => x - y));
    for (let i = 0; i < 64; i++) expect(b.topLogits![i]).toBe(a.logits![b.topIds![i]]);
    // Same seed, same draws: the sampler over the candidates picks what it picks over the vocabulary.
    const opts = { temperature: 1.3, topK: 40, topP: 0.9, minP: 0.02, seed: 9 };
    const { Sampler } = await import("../../runtime/sampler.js");
    const overAll = new Sampler(opts);
    const overTop = new Sampler(opts);
    const order = Array.from(b.topIds!.keys()).sort((x, y) => b.topIds![x] - b.topIds![y]);
    const candidates = Float32Array.from(order, (i) => b.topLogits![i]);
    for (let draw = 0; draw < 50; draw++) {
      expect(b.topIds![order[overTop.sample(candidates, [])]]).toBe(overAll.sample(a.logits!, []));
    }
    full.dispose();
    top.dispose();
  });

  it("breaks ties in the top 64 toward the lowest token ids, as sorting the full logits does", async () => {
    // Tokens share LM head rows in groups of 5, so every logit occurs 5 times and the 64th candidate sits
    // inside a group of equal logits: only that group's lowest ids belong to the top 64.
    const tied = await runtime.loadModel(await customModel("ties"));
    const s = tied.createSession({ contextSize: 32 });
    try {
      for (const prompt of [
        [1, 15043, 29892],
        [1, 450, 1781, 3186],
      ]) {
        s.reset();
        const a = (await s.evaluate(prompt, { logits: "last" })).logits!;
        s.reset();
        const b = await s.evaluate(prompt, { logits: "top" });
        const expected = Array.from(a.keys())
          .sort((x, y) => a[y] - a[x] || x - y)
          .slice(0, 64);
        // The boundary falls inside a tied group (the 65th logit equals the 64th).
        const next = Array.from(a.keys()).sort((x, y) => a[y] - a[x] || x - y)[64];
        expect(a[next]).toBe(a[expected[63]]);
        expect([...b.topIds!].sort((x, y) => x - y)).toEqual([...expected].sort((x, y) => x - y));
      }
    } finally {
      s.dispose();
      tied.dispose();
    }
    expect(runtime.validationMessages()).toEqual([]);
  });

  it.each(["cpu", "gpu"] as const)("decodes one token at a time (%s kernels) as a batched prefill computes it", async (kernels) => {
    const tokens = seededTokens(20, 3);
    const batched = model.createSession({ contextSize: 64, ubatch: 8 });
    const all = (await batched.evaluate(tokens, { logits: "all" })).logits!;
    const stepwise = model.createSession({ contextSize: 64, kernels });
    let worst = 0;
    for (let i = 0; i < tokens.length; i++) {
      const { logits } = await stepwise.evaluate([tokens[i]], { logits: "last" });
      const row = all.subarray(i * 32000, (i + 1) * 32000);
      let maxDiff = 0;
      let maxAbs = 0;
      for (let j = 0; j < 32000; j++) {
        maxDiff = Math.max(maxDiff, Math.abs(row[j] - logits![j]));
        maxAbs = Math.max(maxAbs, Math.abs(row[j]));
      }
      worst = Math.max(worst, maxDiff / maxAbs);
      expect(argmaxOf(logits!)).toBe(argmaxOf(row));
    }
    // Different kernels sum in different orders (and the fused one normalizes in-kernel): float32 noise only.
    expect(worst).toBeLessThan(2e-4);
    batched.dispose();
    stepwise.dispose();
  });

  it("greedy generation follows the teacher-forced argmax chain and streams text", async () => {
    const session = model.createSession({ contextSize: 128 });
    const chunks = [];
    for await (const chunk of session.generate("Hello there, traveller.", { temperature: 0, maxTokens: 12 })) chunks.push(chunk);
    const tokens = chunks.flatMap((c) => c.tokens);
    const last = chunks.at(-1)!;
    expect(["length", "eos"]).toContain(last.finishReason);
    expect(last.timings!.promptTokens).toBe(model.tokenize("Hello there, traveller.").length);
    expect(chunks.map((c) => c.text).join("")).toBe(model.tokenizer.decode(tokens, { stripLeadingSpace: false }));
    // Re-derive the chain with a fresh session.
    const check = model.createSession({ contextSize: 128 });
    let step = await check.evaluate(model.tokenize("Hello there, traveller."), { logits: "last" });
    for (const t of tokens) {
      expect(t).toBe(argmaxOf(step.logits!));
      step = await check.evaluate([t], { logits: "last" });
    }
    session.dispose();
    check.dispose();
  });

  it("same seed, same tokens; another seed, other tokens", async () => {
    const run = async (seed: number) => {
      const s = model.createSession({ contextSize: 128 });
      const out: number[] = [];
      for await (const c of s.generate("Tell me about the village.", { temperature: 1.5, topK: 0, topP: 1, minP: 0, seed, maxTokens: 16 }))
        out.push(...c.tokens);
      s.dispose();
      return out;
    };
    const a = await run(42);
    const b = await run(42);
    const c = await run(43);
    expect(a).toEqual(b);
    expect(a.length).toBeGreaterThan(0);
    expect(c).not.toEqual(a);
  });

  it("stops at a stop string without returning it", async () => {
    const s = model.createSession({ contextSize: 128 });
    let text = "";
    for await (const c of s.generate("The guard said", { temperature: 0, maxTokens: 24 })) text += c.text;
    // Use a piece of the greedy continuation as the stop string.
    const stop = text.trim().slice(2, 5);
    expect(stop.length).toBe(3);
    let stopped = "";
    let reason;
    for await (const c of s.generate("The guard said", { temperature: 0, maxTokens: 24, stop: [stop] })) {
      stopped += c.text;
      reason = c.finishReason ?? reason;
    }
    expect(reason).toBe("stop");
    expect(stopped).not.toContain(stop);
    expect(text.startsWith(stopped)).toBe(true);
    s.dispose();
  });

  it("reuses the cached prefix of a new prompt and gives the same result", async () => {
    const s = model.createSession({ contextSize: 256 });
    const persona: ChatMessage[] = [{ role: "system", content: "You are Brom, the village blacksmith." }];
    const first: ChatMessage[] = [...persona, { role: "user", content: "Hello!" }];
    const collect = async (messages: ChatMessage[], session = s) => {
      const out = { tokens: [] as number[], cached: -1 };
      for await (const c of session.generate(messages, { temperature: 0, maxTokens: 6 })) {
        out.tokens.push(...c.tokens);
        if (c.timings) out.cached = c.timings.cachedTokens;
      }
      return out;
    };
    const a = await collect(first);
    expect(a.cached).toBe(0);
    const second: ChatMessage[] = [...first, { role: "assistant", content: "Well met." }, { role: "user", content: "Any swords?" }];
    const b = await collect(second);
    const personaTokens = model.tokenizeChat(persona, { addGenerationPrompt: false }).length;
    expect(b.cached).toBeGreaterThanOrEqual(personaTokens);
    const fresh = model.createSession({ contextSize: 256 });
    const c = await collect(second, fresh);
    expect(b.tokens).toEqual(c.tokens);
    s.dispose();
    fresh.dispose();
  });

  it("choose() scores each allowed continuation exactly and returns the most likely", async () => {
    const s = model.createSession({ contextSize: 256 });
    const messages: ChatMessage[] = [
      { role: "system", content: "Classify the player's request." },
      { role: "user", content: "I want to buy a sword." },
    ];
    const options = ["buy_weapon", "ask_rumors", "goodbye", "buy"];
    const r = await s.choose(messages, options);
    expect(r.logProbs).toHaveLength(4);
    expect(r.index).toBe(r.logProbs.indexOf(Math.max(...r.logProbs)));
    // Every option ends with the end of the assistant's turn, so "buy" and "buy_weapon" differ.
    for (const t of r.optionTokens) expect(t.at(-1)).toBe(model.tokenizer.eosId);
    // Independent check: score each option with a fresh session over prompt + option, teacher-forced.
    const prompt = model.tokenizeChat(messages);
    for (let k = 0; k < options.length; k++) {
      const fresh = model.createSession({ contextSize: 256 });
      const seq = [...prompt, ...r.optionTokens[k]];
      const { logits } = await fresh.evaluate(seq, { logits: "all" });
      let lp = 0;
      for (let i = prompt.length; i < seq.length; i++) {
        const row = logits!.subarray((i - 1) * 32000, i * 32000);
        const max = Math.max(...row);
        let z = 0;
        for (const v of row) z += Math.exp(v - max);
        lp += row[seq[i]] - max - Math.log(z);
      }
      expect(Math.abs(lp - r.logProbs[k])).toBeLessThan(1e-3 * Math.max(1, Math.abs(lp)));
      fresh.dispose();
    }
    // With token options, the greedy next token always wins against any other single token.
    const greedy = (await model.createSession({ contextSize: 256 }).evaluate(prompt, { logits: "none" })).argmax;
    const other = greedy === 100 ? 101 : 100;
    const t = await s.choose(prompt, [[other], [greedy]]);
    expect(t.index).toBe(1);
    s.dispose();
  });

  it("a caller may stop reading a generation early; the session stays consistent", async () => {
    const s = model.createSession({ contextSize: 128 });
    const first: number[] = [];
    for await (const c of s.generate("Tell me a story", { temperature: 0, maxTokens: 20 })) {
      first.push(...c.tokens);
      if (first.length >= 3) break;
    }
    // The cache now holds the prompt and the tokens fed back; a new generation works and matches a fresh session.
    const again: number[] = [];
    for await (const c of s.generate("Tell me a story", { temperature: 0, maxTokens: 5 })) again.push(...c.tokens);
    const fresh = model.createSession({ contextSize: 128 });
    const expected: number[] = [];
    for await (const c of fresh.generate("Tell me a story", { temperature: 0, maxTokens: 5 })) expected.push(...c.tokens);
    expect(again).toEqual(expected);
    expect(first).toEqual(expected.slice(0, 3));
    s.dispose();
    fresh.dispose();
  });

  it("cancels with an AbortSignal", async () => {
    const s = model.createSession({ contextSize: 128 });
    const controller = new AbortController();
    let n = 0;
    await expect(async () => {
      for await (const c of s.generate("Once upon a time", { temperature: 0, maxTokens: 50, signal: controller.signal })) {
        n += c.tokens.length;
        if (n >= 2) controller.abort();
      }
    }).rejects.toBeInstanceOf(AbortError);
    expect(n).toBe(2);
    // The session stays usable.
    const { argmax } = await s.evaluate([100], { logits: "none" });
    expect(argmax).toBeGreaterThanOrEqual(0);
    s.dispose();
  });

  it("keeps the event loop free while the GPU works", async () => {
    const s = model.createSession({ contextSize: 256 });
    let ticks = 0;
    let maxGap = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
      ticks++;
    }, 5);
    const t0 = performance.now();
    // A long prefill is one native call: the timer must keep firing during it.
    await s.evaluate(seededTokens(192, 11), { logits: "none" });
    for await (const _ of s.generate([1, 2000, 3000], { temperature: 0, maxTokens: 8 })) void _;
    const elapsed = performance.now() - t0;
    clearInterval(timer);
    console.log(`event loop: ${ticks} ticks in ${elapsed.toFixed(0)} ms, longest gap ${maxGap.toFixed(1)} ms`);
    // A blocked loop would show one gap as long as the whole prefill.
    expect(ticks).toBeGreaterThan(elapsed / 5 / 4);
    expect(maxGap).toBeLessThan(Math.max(250, elapsed / 4));
    s.dispose();
  });

  it("records the decode step once, with a bounded number of dispatches and barriers", () => {
    const L = model.info.config.nLayer;
    // q, k and v (one type here) are one stacked product, as are gate and up.
    // Tiled (CPU drivers), per layer: norm, q+k+v, rope+kv, attention, o (+residual), norm, gate+up,
    // silu·mul, down (+residual) = 9 dispatches, 9 barriers; plus embedding, final norm, LM head, argmax.
    const tiled = model.createSession({ contextSize: 64, kernels: "cpu" }).plan();
    expect(tiled.dispatches).toBeLessThanOrEqual(9 * L + 4);
    expect(tiled.barriers).toBeLessThanOrEqual(9 * L + 3);
    // Fused (GPUs): the RMSNorms and SwiGLU ride inside the matrix-vector products, RoPE and the KV store
    // inside attention: q+k+v | attention | o | gate+up | down = 5 dispatches, 5 barriers per layer; plus the
    // embedding and the LM head, which finds the greedy token itself.
    const fused = model.createSession({ contextSize: 64, kernels: "gpu" }).plan();
    expect(fused.dispatches).toBeLessThanOrEqual(5 * L + 2);
    expect(fused.barriers).toBeLessThanOrEqual(5 * L + 1);
    expect(fused.weightBytes).toBeGreaterThan(0);
    // The GPU loop, per token: the step without its embedding, then the advance, which embeds the next token
    // (greedy: the argmax; sampled: penalties, top 64 and the draw in the same dispatch).
    for (const path of [fused.chain.greedy, fused.chain.sampled]) expect(path).toEqual({ dispatches: 5 * L + 2, barriers: 5 * L + 2 });
    expect(tiled.chain.greedy.dispatches).toBe(tiled.dispatches);
  });
});
