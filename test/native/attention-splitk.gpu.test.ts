// Split-K ("flash-decoding") GPU decode attention (native/shaders/attention_decode.comp) on the real Vulkan
// driver (lavapipe in CI). PARLEY_ATTN_CHUNK=16 shrinks the key chunks so tiny models cross many of them: a
// prefill spanning three chunks, then one-token decode steps with kernels "gpu" through every position up to
// the end of the context (positions ≡ 15 and ≡ 0 mod 16 included), each step against the float64 reference
// and against kernels "cpu"; greedy generation (host loop and GPU-resident loop) across chunk boundaries;
// unchanged decode plan; other GQA packings (PARLEY_ATTN_HEADS); typed errors for bad overrides; a clean
// validation layer. Besides the synthetic shapes tiny (head size 32, 2 query heads per KV head) and small
// (4 per KV head), hand-made shapes cover head size 256, head size 96 (3 heads per KV head) and 16 query
// heads per KV head (two packs of 8).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvalidArgumentError, Runtime, type Model } from "../../runtime/index.js";
import { LlamaReference } from "../reference/llama-reference.js";
import { syntheticModel } from "../fixtures/models.js";
import { seededTokens } from "../fixtures/tokens.js";
import { customModel } from "../fixtures/custom-models.js";

const CHUNK = 16;
const CONTEXT = 5 * CHUNK;
const PROMPT = 3 * CHUNK - 1; // prefill positions 0..46 (three chunks), decode 47 (≡ 15), 48 (≡ 0), … 79

let runtime: Runtime;
const saved = { chunk: process.env.PARLEY_ATTN_CHUNK, heads: process.env.PARLEY_ATTN_HEADS };

beforeAll(async () => {
  process.env.PARLEY_ATTN_CHUNK = String(CHUNK);
  delete process.env.PARLEY_ATTN_HEADS;
  runtime = await Runtime.create({ validation: true });
});

afterAll(() => {
  runtime?.dispose();
  for (const [name, value] of [
    ["PARLEY_ATTN_CHUNK", saved.chunk],
    ["PARLEY_ATTN_HEADS", saved.heads],
  ] as const) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

/** Runs `fn` (which creates sessions: the native side reads the variable then) with `name` set to `value`
 *  (undefined: unset), then restores the file's setting: PARLEY_ATTN_CHUNK=16, PARLEY_ATTN_HEADS unset. */
function withEnv<T>(name: "PARLEY_ATTN_CHUNK" | "PARLEY_ATTN_HEADS", value: string | undefined, fn: () => T): T {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
  try {
    return fn();
  } finally {
    process.env.PARLEY_ATTN_CHUNK = String(CHUNK);
    delete process.env.PARLEY_ATTN_HEADS;
  }
}

/** max |a - b| / max |b| over one row. */
function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let maxDiff = 0;
  let maxRef = 0;
  for (let j = 0; j < b.length; j++) {
    maxDiff = Math.max(maxDiff, Math.abs(a[j] - b[j]));
    maxRef = Math.max(maxRef, Math.abs(b[j]));
  }
  return maxDiff / maxRef;
}

// ---------------------------------------------------------------------------------------------------------------
// ---------------------------------------------------------------------------------------------------------------

// `generate`: also the greedy-generation comparison (three generations each; a subset keeps the file fast).
const CASES: { name: string; path: () => Promise<string>; tolerance: number; generate: boolean }[] = [
  { name: "tiny f32 (head size 32, 2 heads per KV head)", path: () => syntheticModel("tiny", "f32"), tolerance: 1e-3, generate: true },
  { name: "small f16 (4 heads per KV head)", path: () => syntheticModel("small", "f16"), tolerance: 1e-2, generate: false },
  { name: "head size 256", path: () => customModel("hd256"), tolerance: 1e-2, generate: false },
  { name: "head size 96, 3 heads per KV head", path: () => customModel("hd96g3"), tolerance: 1e-2, generate: true },
  { name: "16 heads per KV head", path: () => customModel("g16"), tolerance: 1e-2, generate: true },
];

describe.each(CASES)("split-K decode attention, $name", ({ path, tolerance, generate: withGeneration }) => {
  let model: Model;
  let reference: Float64Array[];
  const tokens = seededTokens(CONTEXT, 11);

  beforeAll(async () => {
    const file = await path();
    model = await runtime.loadModel(file);
    reference = (await LlamaReference.load(file)).forward(tokens);
  });
  afterAll(() => model?.dispose());

  it(`decodes every position past a ${PROMPT}-token prefill as the float64 reference and the cpu kernels do`, async () => {
    const gpu = model.createSession({ contextSize: CONTEXT, kernels: "gpu" });
    const cpu = model.createSession({ contextSize: CONTEXT, kernels: "cpu" });
    const prompt = tokens.slice(0, PROMPT);
    // The prefill (tiled kernels) fills chunks 0..2 of the cache; its last row is checked too.
    const a = (await gpu.evaluate(prompt, { logits: "last" })).logits!;
    const b = (await cpu.evaluate(prompt, { logits: "last" })).logits!;
    expect(relError(a, reference[PROMPT - 1])).toBeLessThanOrEqual(tolerance);
    expect(relError(a, b)).toBeLessThan(2e-4);
    let worstRef = 0;
    let worstCpu = 0;
    for (let pos = PROMPT; pos < CONTEXT; pos++) {
      const g = (await gpu.evaluate([tokens[pos]], { logits: "last" })).logits!;
      const c = (await cpu.evaluate([tokens[pos]], { logits: "last" })).logits!;
      const vsRef = relError(g, reference[pos]);
      const vsCpu = relError(g, c);
      if (vsRef > tolerance || vsCpu >= 2e-4) throw new Error(`position ${pos}: ${vsRef} vs reference, ${vsCpu} vs cpu kernels`);
      worstRef = Math.max(worstRef, vsRef);
      worstCpu = Math.max(worstCpu, vsCpu);
    }
    console.log(`split-K decode, chunk ${CHUNK}: max relative error ${worstRef.toExponential(2)} vs float64, ${worstCpu.toExponential(2)} vs cpu kernels`);
    expect(gpu.tokens.length).toBe(CONTEXT);
    gpu.dispose();
    cpu.dispose();
    expect(runtime.validationMessages()).toEqual([]);
  });

  it.runIf(withGeneration)("generates greedily across chunk boundaries as the cpu kernels do, with and without the GPU loop", async () => {
    const prompt = tokens.slice(0, 13);
    const generate = async (kernels: "gpu" | "cpu", gpuLoop: boolean) => {
      const s = model.createSession({ contextSize: CONTEXT, kernels });
      const out: number[] = [];
      // Two turns: the second starts mid-chunk from the first's cache.
      for (const input of [prompt, tokens.slice(40, 45)]) {
        for await (const c of s.generate(input, { temperature: 0, maxTokens: 30, gpuLoop })) out.push(...c.tokens);
      }
      const history = [...s.tokens];
      s.dispose();
      return { out, history };
    };
    const cpu = await generate("cpu", false);
    const loop = await generate("gpu", true);
    const step = await generate("gpu", false);
    expect(loop).toEqual(cpu);
    expect(step).toEqual(cpu);
    // The turns cross several of the 16-key chunks (unless the model picks end-of-sequence early).
    expect(cpu.history.length).toBeGreaterThan(2 * CHUNK);
    expect(runtime.validationMessages()).toEqual([]);
  });
});

describe("PARLEY_ATTN_CHUNK and PARLEY_ATTN_HEADS", () => {
  let model: Model;
  beforeAll(async () => {
    model = await runtime.loadModel(await syntheticModel("tiny", "q8_0"));
  });
  afterAll(() => model?.dispose());

  it("leaves the decode plan unchanged: 5 dispatches and 5 barriers per layer, whatever the chunk", () => {
    const L = model.info.config.nLayer;
    const plans = [undefined, "1", "16", "256"].map((chunk) =>
      withEnv("PARLEY_ATTN_CHUNK", chunk, () => {
        const s = model.createSession({ contextSize: 256, kernels: "gpu" });
        const { dispatches, barriers } = s.plan();
        s.dispose();
        return { dispatches, barriers };
      }),
    );
    for (const p of plans) expect(p).toEqual(plans[0]);
    // q+k+v (stacked, one type) | attention | o | gate+up | down, plus the embedding and the LM head (with
    // the argmax folded in).
    expect(plans[0].dispatches).toBe(5 * L + 2);
    expect(plans[0].barriers).toBe(5 * L + 1);
  });

  it("chunks of one key decode as the default chunk does", async () => {
    const tokens = seededTokens(40, 5);
    const run = (chunk: string | undefined) => withEnv("PARLEY_ATTN_CHUNK", chunk, () => model.createSession({ contextSize: 48, kernels: "gpu" }));
    const one = run("1");
    const def = run(undefined);
    await one.evaluate(tokens.slice(0, 20), { logits: "none" });
    await def.evaluate(tokens.slice(0, 20), { logits: "none" });
    for (let pos = 20; pos < 40; pos++) {
      const a = (await one.evaluate([tokens[pos]], { logits: "last" })).logits!;
      const b = (await def.evaluate([tokens[pos]], { logits: "last" })).logits!;
      expect(relError(a, b)).toBeLessThan(2e-4);
    }
    one.dispose();
    def.dispose();
    expect(runtime.validationMessages()).toEqual([]);
  });

  it("packs of 1, 2 and 4 query heads per workgroup decode as the default pack does", async () => {
    // small: 4 query heads per KV head, so packs of 1 and 2 put several workgroups on one KV head.
    const small = await runtime.loadModel(await syntheticModel("small", "q8_0"));
    const tokens = seededTokens(40, 9);
    const sessions = [undefined, "1", "2", "4"].map((heads) =>
      withEnv("PARLEY_ATTN_HEADS", heads, () => small.createSession({ contextSize: 48, kernels: "gpu" })),
    );
    for (const s of sessions) await s.evaluate(tokens.slice(0, 20), { logits: "none" });
    for (let pos = 20; pos < 40; pos++) {
      const rows = [];
      for (const s of sessions) rows.push((await s.evaluate([tokens[pos]], { logits: "last" })).logits!);
      for (const row of rows.slice(1)) expect(relError(row, rows[0])).toBeLessThan(2e-4);
    }
    for (const s of sessions) s.dispose();
    small.dispose();
    expect(runtime.validationMessages()).toEqual([]);
  });

  it.each([
    ["PARLEY_ATTN_CHUNK", "0"],
    ["PARLEY_ATTN_CHUNK", "257"],
    ["PARLEY_ATTN_CHUNK", "abc"],
    ["PARLEY_ATTN_CHUNK", "16x"],
    ["PARLEY_ATTN_CHUNK", ""],
    ["PARLEY_ATTN_CHUNK", "-3"],
    ["PARLEY_ATTN_HEADS", "0"],
    ["PARLEY_ATTN_HEADS", "9"],
    ["PARLEY_ATTN_HEADS", "4"], // tiny has 2 query heads per KV head
  ] as const)("rejects %s=%j with a typed error", (name, value) => {
    withEnv(name, value, () => {
      expect(() => model.createSession({ contextSize: 64, kernels: "gpu" })).toThrow(InvalidArgumentError);
      expect(() => model.createSession({ contextSize: 64, kernels: "gpu" })).toThrow(new RegExp(name));
    });
  });
});
