// The integer dot product prefill GEMM (PARLEY_PREFILL_DOT8=1; matmul_tiled_dot8_* kernels): Q4_0 and Q8_0
// products round each token's x to signed bytes per 32-element slice and dot 4 bytes per instruction. Opt-in
// until a GPU run times it; lavapipe exposes VK_KHR_shader_integer_dot_product (emulated), so these tests run
// it with the GPU kernel set: its prefill logits must conform like llama.cpp's own quantized products do
// (against the float64 reference and llama.cpp's CPU backend, which rounds activations the same way), it must
// really run (the logits move from the float GEMM's by the rounding), partial tiles (100 tokens of a 128-token
// micro-batch) and the logits-only step must agree, other weight types must be untouched, and the validation
// layer must stay clean.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../../runtime/index.js";
import { openConformanceContext, runTypeConformance, type ConformanceContext } from "../conformance/conformance.js";
import { customModel } from "../fixtures/custom-models.js";
import { expectLlamaLevelConformance } from "../fixtures/byte-activations.js";
import { syntheticModel } from "../fixtures/models.js";
import { LlamaReference } from "../reference/llama-reference.js";
import { maxRelError } from "../fixtures/logit-errors.js";
import { seededTokens } from "../fixtures/tokens.js";
import { restoreEnvAfterEach } from "../fixtures/env.js";

let ctx: ConformanceContext;

beforeAll(async () => {
  ctx = await openConformanceContext({ threads: 2, validation: true });
}, 300_000);
restoreEnvAfterEach("PARLEY_PREFILL_DOT8", "PARLEY_PREFILL");
afterAll(async () => ctx?.dispose(), 300_000);

async function prefillLogits(path: string, dot8: boolean, logits: "all" | "last" = "all"): Promise<Float32Array> {
  process.env.PARLEY_PREFILL = "gemm";
  process.env.PARLEY_PREFILL_DOT8 = dot8 ? "1" : "0";
  const model = await ctx.runtime.loadModel(path);
  try {
    const session = model.createSession({ contextSize: 128, ubatch: 128, kernels: "gpu" });
    const tokens = seededTokens(100, 7, model.info.vocabularySize);
    return (await session.evaluate(tokens, { logits })).logits!;
  } finally {
    model.dispose();
  }
}

describe("integer dot product prefill (PARLEY_PREFILL_DOT8=1)", () => {
  it.each(["q4_0", "q8_0"] as const)(
    "%s: conforms to the float64 reference and llama.cpp like llama.cpp's own 8-bit activations",
    async (type) => {
      process.env.PARLEY_PREFILL = "gemm";
      process.env.PARLEY_PREFILL_DOT8 = "1";
      const r = await runTypeConformance(type, ctx, { shape: "tiny", seed: 1, positions: 256, kernels: "gpu" });
      expectLlamaLevelConformance(r, `${type} dot8 prefill`);
      expect(ctx.runtime.validationMessages()).toEqual([]);
    },
    300_000,
  );

  it("really runs for Q4_0 and Q8_0, partial tiles and last-logits steps included, and leaves other types alone", async () => {
    for (const type of ["q4_0", "q8_0"] as const) {
      const path = await syntheticModel("small", type);
      const dot8 = await prefillLogits(path, true);
      const V = dot8.length / 100;
      const err = maxRelError(dot8, await prefillLogits(path, false), 100, V);
      console.log(`${type}: dot8 GEMM vs float GEMM, max relative error ${err.toExponential(2)}`);
      expect(err).toBeGreaterThan(1e-4);
      expect(err).toBeLessThan(5e-2);
      const last = await prefillLogits(path, true, "last");
      expect(maxRelError(last, dot8.subarray(99 * V), 1, V)).toBeLessThan(1e-6);
    }
    // Row counts that are not multiples of the 64-row tile (q+k+v 480 rows, o 288): the float64 reference.
    const ragged = await customModel("q4rows");
    const got = await prefillLogits(ragged, true);
    const reference = (await LlamaReference.load(ragged)).forward(seededTokens(100, 7, 32000));
    const refErr = maxRelError(got, reference, 100, 32000);
    console.log(`q4rows (288-wide Q4_0, ragged row tiles): dot8 GEMM vs float64 reference ${refErr.toExponential(2)}`);
    expect(refErr).toBeLessThan(5e-2);
    expect(maxRelError(got, await prefillLogits(ragged, false), 100, 32000)).toBeLessThan(5e-2);
    const kquant = await syntheticModel("small", "q4_k_m");
    expect(Array.from(await prefillLogits(kquant, true))).toEqual(Array.from(await prefillLogits(kquant, false)));
    expect(ctx.runtime.validationMessages()).toEqual([]);
  }, 300_000);

  it("a bad PARLEY_PREFILL_DOT8 is a typed error when the session is created", async () => {
    const model = await ctx.runtime.loadModel(await syntheticModel("tiny", "q4_0"));
    try {
      process.env.PARLEY_PREFILL_DOT8 = "on";
      expect(() => model.createSession({ contextSize: 16, kernels: "gpu" })).toThrow(InvalidArgumentError);
    } finally {
      model.dispose();
    }
  });
});
