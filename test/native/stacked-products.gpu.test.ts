// Stacked products (native/src/model_weights.cpp): q, k and v of one weight type are one matrix read by one
// dispatch, as are gate and up, each weight's rows written to its own activation (native/shaders/output_rows.glsl).
// On the real Vulkan driver (lavapipe in CI) with the validation layer: models whose weights all stack (Q4_0), a
// Q4_K_M model (its mixture gives some layers' attn_v Q6_K: those stack q+k and keep v alone) and a hand-made
// model with F32 weights among F16 ones ([q] [k v] [gate] [up] in one layer, [q] [k] [v] [gate up] in the other)
// match the float64 reference through every product kernel (decode, GEMM prefill, matrix-vector token tiles,
// 16-token tiles, the cpu set); the decode plan has the dispatches those stacks give; and the model's weightBytes
// stays the sum of its matrices' tensor bytes.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Runtime } from "../../runtime/index.js";
import { readGguf } from "../../runtime/gguf/reader.js";
import { SYNTH_SHAPES, useMoreBits } from "../../runtime/synth/synth.js";
import { LlamaReference } from "../reference/llama-reference.js";
import { customModel } from "../fixtures/custom-models.js";
import { syntheticModel } from "../fixtures/models.js";
import { maxRelError } from "../fixtures/logit-errors.js";
import { seededTokens } from "../fixtures/tokens.js";

let runtime: Runtime;
const savedPrefill = process.env.PARLEY_PREFILL;
beforeAll(async () => {
  delete process.env.PARLEY_PREFILL;
  runtime = await Runtime.create({ validation: true });
});
afterAll(() => {
  runtime?.dispose();
  if (savedPrefill === undefined) delete process.env.PARLEY_PREFILL;
  else process.env.PARLEY_PREFILL = savedPrefill;
});

const small = SYNTH_SHAPES.small;
// Decode dispatches per layer: one per q/k/v product, attention, o, one per gate/up product, down; plus the
// embedding and the LM head (which finds the greedy token itself).
const CASES: { name: string; path: () => Promise<string>; dispatches: number }[] = [
  { name: "tiny q4_0 (every layer stacks q+k+v and gate+up)", path: () => syntheticModel("tiny", "q4_0"), dispatches: 5 * SYNTH_SHAPES.tiny.nLayer + 2 },
  {
    name: "small q4_k_m (attn_v Q6_K in some layers: q+k stacked, v alone)",
    path: () => syntheticModel("small", "q4_k_m"),
    dispatches: 5 * small.nLayer + 2 + Array.from({ length: small.nLayer }, (_, l) => l).filter((l) => useMoreBits(l, small.nLayer)).length,
  },
  { name: "hand-made F16 with F32 weights ([q] [k v] [gate] [up]; [q] [k] [v] [gate up])", path: () => customModel("mixed"), dispatches: 7 + 7 + 2 },
];

describe.each(CASES)("stacked products, $name", ({ name, path, dispatches }) => {
  const tokens = seededTokens(30, 21);
  const PROMPT = 24;
  let file: string;
  let reference: Float64Array[];

  beforeAll(async () => {
    file = await path();
    reference = (await LlamaReference.load(file)).forward(tokens);
  });

  it("records the dispatches its stacks give and reports the matrices' tensor bytes as weightBytes", async () => {
    const model = await runtime.loadModel(file);
    const L = model.info.config.nLayer;
    const s = model.createSession({ contextSize: 64, kernels: "gpu" });
    const plan = s.plan();
    s.dispose();
    expect(plan.dispatches).toBe(dispatches);
    expect(plan.dispatches).toBeGreaterThanOrEqual(5 * L + 2);
    expect(plan.dispatches).toBeLessThanOrEqual(7 * L + 2);
    expect(plan.barriers).toBe(5 * L + 1);
    // weightBytes: every 2-D weight but the (gathered) embedding, which counts again as a tied LM head.
    const gguf = await readGguf(file);
    const tied = !gguf.tensors.some((t) => t.name === "output.weight");
    const sum = gguf.tensors.filter((t) => t.dims.length === 2 && (t.name !== "token_embd.weight" || tied)).reduce((n, t) => n + t.byteSize, 0);
    expect(plan.weightBytes).toBe(sum);
    expect(model.weightBytes).toBe(sum);
    model.dispose();
    expect(runtime.validationMessages()).toEqual([]);
  });

  it("matches the float64 reference through every product kernel", async () => {
    const model = await runtime.loadModel(file);
    const V = model.info.vocabularySize;
    const errors: Record<string, number> = {};
    try {
      // Micro-batches of 25 and 13 tokens: the activation regions that share a buffer (q, k, v; gate, up) then
      // start at offsets padded to 256 bytes (the hand-made model's 288 and 96 rows).
      for (const [kernels, ubatch] of [
        ["gpu", 25],
        ["cpu", 13],
      ] as const) {
        // A prefill (gpu: the tiled GEMM), then one-token decode steps (gpu: the matrix-vector kernels).
        const s = model.createSession({ contextSize: 64, ubatch, kernels });
        errors[`${kernels} prefill`] = maxRelError(
          (await s.evaluate(tokens.slice(0, PROMPT), { logits: "all" })).logits!,
          reference.slice(0, PROMPT),
          PROMPT,
          V,
        );
        let decode = 0;
        for (let pos = PROMPT; pos < tokens.length; pos++) {
          const row = (await s.evaluate([tokens[pos]], { logits: "last" })).logits!;
          decode = Math.max(decode, maxRelError(row, [reference[pos]], 1, V));
        }
        errors[`${kernels} decode`] = decode;
        s.dispose();
      }
      // gpu steps of at most 16 tokens: the matrix-vector kernels over token tiles.
      const short = model.createSession({ contextSize: 64, ubatch: 25, kernels: "gpu" });
      errors["gpu short prefill"] = maxRelError((await short.evaluate(tokens.slice(0, 10), { logits: "all" })).logits!, reference.slice(0, 10), 10, V);
      short.dispose();
      // The older 16-token tiles.
      process.env.PARLEY_PREFILL = "tiled16";
      try {
        const tiled = model.createSession({ contextSize: 64, ubatch: 25, kernels: "gpu" });
        errors["gpu 16-token prefill"] = maxRelError(
          (await tiled.evaluate(tokens.slice(0, PROMPT), { logits: "all" })).logits!,
          reference.slice(0, PROMPT),
          PROMPT,
          V,
        );
        tiled.dispose();
      } finally {
        delete process.env.PARLEY_PREFILL;
      }
    } finally {
      model.dispose();
    }
    console.log(`${name}: max relative error vs float64 ${JSON.stringify(errors, (_k, v) => (typeof v === "number" ? Number(v.toExponential(2)) : v))}`);
    // A row written to the wrong activation or token would be O(1).
    for (const [what, err] of Object.entries(errors)) expect(err, what).toBeLessThan(1e-2);
    expect(runtime.validationMessages()).toEqual([]);
  });
});
