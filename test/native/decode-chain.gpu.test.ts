// The GPU-resident loop (native Session::decodeChain, generate()'s `gpuLoop`) on the real Vulkan driver
// (lavapipe in CI), greedy and sampled: a chain equals one-token evaluations fed back from the host (for
// sampling: the host sampler over the GPU's top candidates, same seed), generate() with the loop equals
// the one-token path token for token and leaves the same cache, far fewer queue submissions, typed errors
// for bad arguments, and a clean validation layer.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AbortError,
  ContextOverflowError,
  DisposedError,
  InvalidArgumentError,
  Runtime,
  type ChatMessage,
  type GenerateChunk,
  type GenerateOptions,
  type Model,
  type Session,
  Sampler,
  type SamplingOptions,
} from "../../runtime/index.js";
import { gpuLoopSubmissions, sampleTopCandidates } from "../../runtime/session.js";
import { syntheticModel } from "../fixtures/models.js";
import { customModel } from "../fixtures/custom-models.js";

let runtime: Runtime;
let model: Model;

beforeAll(async () => {
  runtime = await Runtime.create({ validation: true });
  model = await runtime.loadModel(await syntheticModel("tiny", "q8_0"));
});

afterAll(() => {
  model?.dispose();
  runtime?.dispose();
});

interface Run {
  chunks: { text: string; tokens: number[]; finishReason?: string }[];
  tokens: number[];
  finishReason?: string;
  cachedTokens: number;
  generatedTokens: number;
  submits: number;
  history: number[];
}

async function run(session: Session, input: string | number[] | ChatMessage[], options: GenerateOptions): Promise<Run> {
  const before = session.submits;
  const chunks: GenerateChunk[] = [];
  for await (const c of session.generate(input, options)) chunks.push(c);
  const last = chunks.at(-1)!;
  return {
    chunks: chunks.map((c) => ({ text: c.text, tokens: c.tokens, ...(c.finishReason ? { finishReason: c.finishReason } : {}) })),
    tokens: chunks.flatMap((c) => c.tokens),
    finishReason: last.finishReason,
    cachedTokens: last.timings!.cachedTokens,
    generatedTokens: last.timings!.generatedTokens,
    submits: session.submits - before,
    history: [...session.tokens],
  };
}

/** The same generations on two sessions, with and without the GPU loop: everything but the submissions must match. */
async function compare(inputs: (string | number[] | ChatMessage[])[], options: GenerateOptions, contextSize = 256): Promise<{ loop: Run[]; step: Run[] }> {
  const a = model.createSession({ contextSize });
  const b = model.createSession({ contextSize });
  const loop: Run[] = [];
  const step: Run[] = [];
  for (const input of inputs) {
    const x = await run(a, input, { ...options, gpuLoop: true });
    const y = await run(b, input, { ...options, gpuLoop: false });
    expect(x.chunks).toEqual(y.chunks);
    expect(x.cachedTokens).toBe(y.cachedTokens);
    expect(x.generatedTokens).toBe(y.generatedTokens);
    expect(x.history).toEqual(y.history);
    loop.push(x);
    step.push(y);
  }
  a.dispose();
  b.dispose();
  return { loop, step };
}

describe.each(["cpu", "gpu"] as const)("decodeChain (%s kernels)", (kernels) => {
  it("returns the tokens of n one-token evaluations fed back from the host, and fills the cache the same way", async () => {
    const prompt = model.tokenize("The blacksmith looked up from the anvil and said");
    const chained = model.createSession({ contextSize: 96, kernels });
    const stepwise = model.createSession({ contextSize: 96, kernels });
    let t = (await chained.evaluate(prompt, { logits: "none" })).argmax;
    expect((await stepwise.evaluate(prompt, { logits: "none" })).argmax).toBe(t);
    // Chains of several sizes back to back: each starts where the previous one left the cache.
    for (const n of [1, 5, 16, 3]) {
      const before = chained.submits;
      const tokens = await chained.decodeChain(t, n);
      expect(chained.submits - before).toBe(1);
      expect(tokens).toHaveLength(n);
      const expected: number[] = [];
      let u = t;
      for (let i = 0; i < n; i++) {
        u = (await stepwise.evaluate([u], { logits: "none" })).argmax;
        expected.push(u);
      }
      expect(tokens).toEqual(expected);
      // Like the one-token path: the chain's last token is not in the cache yet.
      expect(chained.tokens).toEqual(stepwise.tokens);
      t = tokens.at(-1)!;
    }
    // Same keys and values at every position: the next step's logits are identical.
    const a = await chained.evaluate([t], { logits: "last" });
    const b = await stepwise.evaluate([t], { logits: "last" });
    expect(a.argmax).toBe(b.argmax);
    expect(Array.from(a.logits!)).toEqual(Array.from(b.logits!));
    chained.dispose();
    stepwise.dispose();
    expect(runtime.validationMessages()).toEqual([]);
  });
});

describe("the advance's embedding of the next token", () => {
  // The GPU loop's advance kernels (decode_advance_*, topk_sample_*) are built per format of the embedding table:
  // a K-quant table (Q4_K_M's token_embd is Q4_K) and a float one must give the one-token path's replies.
  it.each([
    ["small", "q4_k_m"],
    ["tiny", "f16"],
  ] as const)("%s %s: greedy and sampled loops equal the one-token path", async (shape, type) => {
    const m = await runtime.loadModel(await syntheticModel(shape, type));
    try {
      for (const options of [{ temperature: 0 }, { temperature: 0.9, topK: 20, seed: 3, repeatPenalty: 1.2, presencePenalty: -5, repeatLastN: 16 }]) {
        const replies: number[][] = [];
        for (const gpuLoop of [true, false]) {
          const s = m.createSession({ contextSize: 64, kernels: "gpu" });
          replies.push((await run(s, [1, 15043, 29892], { ...options, maxTokens: 20, gpuLoop })).tokens);
          s.dispose();
        }
        expect(replies[0]).toHaveLength(20);
        expect(replies[0]).toEqual(replies[1]);
      }
    } finally {
      m.dispose();
    }
    expect(runtime.validationMessages()).toEqual([]);
  });
});

describe("generate() with the GPU loop", () => {
  it("streams the same chunks as one token per submission, with a third of the submissions or fewer", async () => {
    const { loop, step } = await compare(["Tell me about the village.", "The guard said"], { temperature: 0, maxTokens: 40 });
    for (let i = 0; i < loop.length; i++) {
      expect(loop[i].finishReason).toBe("length");
      expect(loop[i].tokens).toHaveLength(40);
      // Tokens arrive one per chunk, as before.
      expect(loop[i].chunks.slice(0, -1).every((c) => c.tokens.length === 1)).toBe(true);
      // One prompt submission, then chains of 1, 2, 4, 8, 16, 8 tokens, against one per token.
      expect(step[i].submits).toBe(40);
      expect(loop[i].submits).toBe(1 + gpuLoopSubmissions(40));
      expect(loop[i].submits).toBeLessThanOrEqual(step[i].submits / 3);
      console.log(`40 greedy tokens: ${loop[i].submits} submissions with the GPU loop, ${step[i].submits} without`);
    }
    expect(runtime.validationMessages()).toEqual([]);
  });

  it("stops at maxTokens with the same cache, and the next generation reuses the same prefix", async () => {
    const prompt = model.tokenize("Once upon a time");
    for (const maxTokens of [1, 2, 4, 7, 9, 23]) {
      const { loop } = await compare([prompt, [...prompt, 500, 600]], { temperature: 0, maxTokens });
      expect(loop[0].tokens).toHaveLength(maxTokens);
      // The last generated token is never evaluated: the cache holds the prompt and the others.
      expect(loop[0].history).toEqual([...prompt, ...loop[0].tokens.slice(0, -1)]);
      expect(loop[1].cachedTokens).toBe(prompt.length);
    }
    // A follow-up that continues the reply reuses all of it.
    const { loop } = await compare([prompt], { temperature: 0, maxTokens: 12 });
    const follow = [...prompt, ...loop[0].tokens, 700];
    const again = await compare([prompt, follow], { temperature: 0, maxTokens: 12 });
    expect(again.loop[1].cachedTokens).toBe(prompt.length + 11);
  });

  it("stops at a stop string inside a chain exactly where the one-token path stops", async () => {
    const greedy = await compare(["The guard said"], { temperature: 0, maxTokens: 24 });
    const text = greedy.loop[0].chunks
      .map((c) => c.text)
      .join("")
      .trim();
    let stopsInside = 0;
    for (const at of [2, 13, 30]) {
      const stop = text.slice(at, at + 3);
      if (stop.length < 3) continue;
      const { loop } = await compare(["The guard said", "The guard said, and then"], { temperature: 0, maxTokens: 24, stop: [stop] });
      console.log(`stop ${JSON.stringify(stop)}: after ${loop[0].tokens.length} tokens`);
      expect(loop[0].finishReason).toBe("stop");
      expect(loop[0].chunks.map((c) => c.text).join("")).not.toContain(stop);
      if (loop[0].tokens.length > 2) stopsInside++;
    }
    expect(stopsInside).toBeGreaterThan(0);
  });

  it("chat prompts: the same replies and prefix reuse over a conversation", async () => {
    const persona: ChatMessage[] = [{ role: "system", content: "You are Brom, the village blacksmith." }];
    const first: ChatMessage[] = [...persona, { role: "user", content: "Hello!" }];
    const second: ChatMessage[] = [...first, { role: "assistant", content: "Well met." }, { role: "user", content: "Any swords?" }];
    const { loop } = await compare([first, second, first], { temperature: 0, maxTokens: 10, stop: ["\n\n"] });
    expect(loop[1].cachedTokens).toBeGreaterThanOrEqual(model.tokenizeChat(persona, { addGenerationPrompt: false }).length);
  });

  it("stops at the end of the context like the one-token path", async () => {
    const prompt = model.tokenize("The innkeeper wiped the counter and");
    for (const room of [1, 2, 5, 12]) {
      const { loop } = await compare([prompt], { temperature: 0, maxTokens: 100 }, prompt.length + room);
      expect(loop[0].finishReason).toBe("context");
      // The token generated when the cache is full is returned but never evaluated.
      expect(loop[0].tokens).toHaveLength(room + 1);
      expect(loop[0].history).toHaveLength(prompt.length + room);
    }
  });

  it("abort and an early break leave the same cache as the one-token path", async () => {
    const prompt = model.tokenize("Tell me a story");
    const histories: number[][] = [];
    for (const gpuLoop of [true, false]) {
      const s = model.createSession({ contextSize: 128 });
      const controller = new AbortController();
      let n = 0;
      await expect(async () => {
        for await (const c of s.generate(prompt, { temperature: 0, maxTokens: 50, signal: controller.signal, gpuLoop })) {
          n += c.tokens.length;
          if (n >= 6) controller.abort();
        }
      }).rejects.toBeInstanceOf(AbortError);
      expect(n).toBe(6);
      histories.push([...s.tokens]);
      let m = 0;
      for await (const c of s.generate(prompt, { temperature: 0, maxTokens: 50, gpuLoop })) {
        m += c.tokens.length;
        if (m >= 5) break;
      }
      histories.push([...s.tokens]);
      s.dispose();
    }
    expect(histories[0]).toEqual(histories[2]);
    expect(histories[1]).toEqual(histories[3]);
    expect(histories[0].length).toBe(prompt.length + 6);
  });

  it("other samplers ignore the option and keep one submission per token", async () => {
    const s = model.createSession({ contextSize: 128 });
    // Penalties over the whole history (repeatLastN -1) are past the GPU's 256-token window; top-k 0 or 64
    // (of 64 candidates) takes the host sampler's unsorted path.
    for (const options of [
      { temperature: 0, repeatPenalty: 1.3, repeatLastN: -1 },
      { temperature: 0.8, seed: 3, repeatPenalty: 1.1, repeatLastN: -1 },
      { temperature: 0.8, seed: 3, topK: 0 },
      { temperature: 0.8, seed: 3, topK: 64 },
    ]) {
      const r = await run(s, "The guard said", { ...options, maxTokens: 8, gpuLoop: true });
      expect(r.tokens.length).toBeGreaterThan(0);
      // The prompt, then one per token fed back (all but the last; an EOS is not fed back either).
      expect(r.submits).toBe(r.tokens.length + (r.finishReason === "eos" ? 1 : 0));
    }
    s.dispose();
  });
});

describe.each(["cpu", "gpu"] as const)("sampleChain (%s kernels)", (kernels) => {
  it("draws the tokens the host sampler draws from the GPU's top candidates, continuing its random stream", async () => {
    const prompt = model.tokenize("The blacksmith looked up from the anvil and said");
    const options: SamplingOptions = { temperature: 0.9, topK: 40, topP: 0.95, minP: 0.05, seed: 11 };
    const chained = model.createSession({ contextSize: 96, kernels });
    const stepwise = model.createSession({ contextSize: 96, kernels });
    const gpu = new Sampler(options);
    const host = new Sampler(options);
    let t = sampleTopCandidates(gpu, await chained.evaluate(prompt, { logits: "top" }));
    expect(sampleTopCandidates(host, await stepwise.evaluate(prompt, { logits: "top" }))).toBe(t);
    let greedyAgreement = 0,
      total = 0;
    for (const n of [1, 6, 16]) {
      const before = chained.submits;
      const tokens = await chained.sampleChain(t, n, gpu);
      expect(chained.submits - before).toBe(1);
      const expected: number[] = [];
      let u = t;
      for (let i = 0; i < n; i++) {
        const step = await stepwise.evaluate([u], { logits: "top" });
        u = sampleTopCandidates(host, step);
        if (u === step.argmax) greedyAgreement++;
        total++;
        expected.push(u);
      }
      expect(tokens).toEqual(expected);
      expect(chained.tokens).toEqual(stepwise.tokens);
      // The GPU handed its generator state back: both samplers are at the same point of the stream.
      expect(Array.from(gpu.rngState)).toEqual(Array.from(host.rngState));
      t = tokens.at(-1)!;
    }
    // It really sampled: not every token was the greedy one.
    expect(greedyAgreement).toBeLessThan(total);
    chained.dispose();
    stepwise.dispose();
    expect(runtime.validationMessages()).toEqual([]);
  });
});

describe("generate() sampling with the GPU loop", () => {
  it("gives the host sampler's reply for the same seed, with the greedy loop's submissions", async () => {
    const replies = new Set<string>();
    const hot = new Set<string>(); // temperature 1.5: far from the greedy reply
    for (const seed of [1, 2, 3]) {
      for (const options of [
        { temperature: 0.7, topK: 40, topP: 0.95, minP: 0.05 }, // the dialogue system's line settings
        { temperature: 1.5, topK: 63, topP: 1, minP: 0 },
        { temperature: 0.3, topK: 5, topP: 0.5, minP: 0.2 },
      ]) {
        const { loop, step } = await compare(["The guard said"], { ...options, seed, maxTokens: 32 });
        if (loop[0].finishReason === "length") expect(loop[0].submits).toBe(1 + gpuLoopSubmissions(32));
        expect(loop[0].submits).toBeLessThanOrEqual(step[0].submits / 3);
        replies.add(JSON.stringify(loop[0].tokens));
        if (options.temperature > 1) hot.add(JSON.stringify(loop[0].tokens));
      }
    }
    // Seeds and settings change the reply: the loop samples rather than repeating one sequence.
    expect(replies.size).toBeGreaterThanOrEqual(8);
    const greedy = await compare(["The guard said"], { temperature: 0, maxTokens: 32 });
    expect(hot.has(JSON.stringify(greedy.loop[0].tokens))).toBe(false);
    expect(runtime.validationMessages()).toEqual([]);
  });

  it("applies repetition penalties on the GPU (windows up to 256 tokens), greedy or sampled, as the host does", async () => {
    let changed = 0;
    for (const options of [
      { temperature: 0, repeatPenalty: 1.3 },
      { temperature: 0, repeatPenalty: 0.5 }, // < 1 favours repeats: changes this model's reply
      { temperature: 0, presencePenalty: -40, repeatLastN: 8 }, // a bonus for the last 8 tokens
      { temperature: 0.8, seed: 3, repeatPenalty: 1.1, frequencyPenalty: 0.2, presencePenalty: 0.3 },
      { temperature: 0.8, seed: 5, presencePenalty: -40, frequencyPenalty: 2, repeatLastN: 256 },
    ]) {
      const { loop, step } = await compare(["The guard said"], { ...options, maxTokens: 32 });
      if (loop[0].finishReason === "length") expect(loop[0].submits).toBe(1 + gpuLoopSubmissions(32));
      expect(loop[0].submits).toBeLessThanOrEqual(step[0].submits / 3);
      const plain = await compare(["The guard said"], { ...options, repeatPenalty: 1, frequencyPenalty: 0, presencePenalty: 0, maxTokens: 32 });
      if (JSON.stringify(plain.loop[0].tokens) !== JSON.stringify(loop[0].tokens)) changed++;
    }
    // The penalties really act (a loop that ignored them would part from the host path above).
    expect(changed).toBeGreaterThanOrEqual(2);
    expect(runtime.validationMessages()).toEqual([]);
  });

  it("ranks tied candidates by token id, as the host sampler does", async () => {
    // Every logit of this model occurs 5 times (tokens share LM head rows in groups of 5): top-k 7 and 13
    // cut through a group of ties, and the draw walks tied candidates in id order.
    const tied = await runtime.loadModel(await customModel("ties"));
    try {
      for (const [seed, topK] of [
        [1, 7],
        [2, 13],
        [3, 40],
      ]) {
        const replies: number[][] = [];
        for (const gpuLoop of [true, false]) {
          const s = tied.createSession({ contextSize: 64 });
          const tokens: number[] = [];
          for await (const c of s.generate([1, 15043, 29892], { temperature: 1.2, topK, topP: 1, minP: 0, seed, maxTokens: 24, gpuLoop }))
            tokens.push(...c.tokens);
          s.dispose();
          replies.push(tokens);
        }
        expect(replies[0]).toEqual(replies[1]);
      }
    } finally {
      tied.dispose();
    }
    expect(runtime.validationMessages()).toEqual([]);
  });

  it("stop strings, limits and chat prompts behave as on the one-token path", async () => {
    const sampling = { temperature: 0.8, topK: 20, seed: 5 };
    const first = await compare(["The guard said"], { ...sampling, maxTokens: 24 });
    const text = first.loop[0].chunks
      .map((c) => c.text)
      .join("")
      .trim();
    const stop = text.slice(10, 13);
    if (stop.length === 3) {
      const { loop } = await compare(["The guard said"], { ...sampling, maxTokens: 24, stop: [stop] });
      expect(loop[0].finishReason).toBe("stop");
    }
    for (const maxTokens of [1, 3, 9]) await compare(["Once upon a time"], { ...sampling, maxTokens });
    const chat: ChatMessage[] = [
      { role: "system", content: "You are Maren, the innkeeper." },
      { role: "user", content: "A room, please." },
    ];
    await compare([chat, chat], { ...sampling, maxTokens: 10 });
    const prompt = model.tokenize("The innkeeper wiped the counter and");
    const { loop } = await compare([prompt], { ...sampling, maxTokens: 100 }, prompt.length + 7);
    expect(loop[0].finishReason).toBe("context");
  });
});

describe("bad arguments", () => {
  it("give typed errors and leave the session usable", async () => {
    const s = model.createSession({ contextSize: 16 });
    const t = (await s.evaluate(model.tokenize("Hello"), { logits: "none" })).argmax;
    const used = s.tokens.length;
    for (const n of [0, 65, 1.5, Number.NaN, -1, 2 ** 40]) await expect(s.decodeChain(t, n)).rejects.toBeInstanceOf(InvalidArgumentError);
    for (const first of [-1, 32000, 2.5, 2 ** 31, Number.NaN]) await expect(s.decodeChain(first, 2)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(s.decodeChain("7" as unknown as number, 2)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(s.decodeChain(t, 16 - used + 1)).rejects.toBeInstanceOf(ContextOverflowError);
    expect(s.tokens).toHaveLength(used);
    // Exactly filling the context works.
    const tokens = await s.decodeChain(t, 16 - used);
    expect(tokens).toHaveLength(16 - used);
    expect(s.tokens).toHaveLength(16);
    await expect(s.decodeChain(tokens.at(-1)!, 1)).rejects.toBeInstanceOf(ContextOverflowError);
    await expect(run(s, "Hi", { temperature: 0, gpuLoop: "yes" as unknown as boolean })).rejects.toBeInstanceOf(InvalidArgumentError);
    s.reset();
    // Samplers the GPU loop cannot run: greedy without penalties, top-k 0 or ≥ 64, penalties over more than 256 tokens.
    for (const options of [{ temperature: 0 }, { topK: 0 }, { topK: 64 }, { repeatPenalty: 1.2, repeatLastN: -1 }, { repeatPenalty: 1.2, repeatLastN: 257 }]) {
      await expect(s.sampleChain(t, 1, new Sampler({ ...options, seed: 1 }))).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    expect(s.tokens).toHaveLength(0);
    expect((await s.decodeChain(t, 4)).length).toBe(4);
    expect((await s.sampleChain(t, 4, new Sampler({ seed: 1 }))).length).toBe(4);
    s.dispose();
    await expect(s.decodeChain(t, 1)).rejects.toBeInstanceOf(DisposedError);
    expect(() => s.submits).toThrow(DisposedError);
    expect(runtime.validationMessages()).toEqual([]);
  });
});
