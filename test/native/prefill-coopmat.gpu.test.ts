// The cooperative-matrix prefill (native/shaders/matmul_coopmat.comp; PARLEY_PREFILL=coopmat or a tuning with
// prefill kernel "coopmat"): the GEMM's 64 × 64 tiles as 16 × 16 × 16 products of fp16 inputs with fp32 sums.
// lavapipe has no cooperative matrices, so these tests run the kernel's emulated build (PARLEY_COOPMAT_EMULATE=1:
// the same tiling, fp16 staging and epilogue, with the three cooperative-matrix operations done by plain
// arithmetic under the extension's load/store rules) — the real operations run only on a GPU that has them,
// where bench/gpu/steps.sh checks them against this emulation. What is asserted here: conformance to
// the float64 reference and to llama.cpp, full and partial tiles (100 tokens of a 128-token micro-batch), rows
// that are not multiples of 64 and K that is not a multiple of 64 (a 288-wide model), last-logits steps, fp16
// rounding really happening, a clean validation layer, and typed errors where the device lacks the real kernel.
// Weights reach the tiles through weights.glsl's dequant_block, which every format's float GEMM shares and
// test/native/prefill-gemm.gpu.test.ts covers; the emulation is too slow on lavapipe for the 256-wide K-quant models
// (minutes each).
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
restoreEnvAfterEach("PARLEY_PREFILL", "PARLEY_COOPMAT_EMULATE");
afterAll(async () => ctx?.dispose(), 300_000);

const CASES: Array<[string, () => Promise<string>]> = [
  ["tiny q4_0", () => syntheticModel("tiny", "q4_0")],
  ["288-wide Q4_0 (ragged row tiles)", () => customModel("q4rows")],
];

async function prefillLogits(path: string, kernel: "coopmat" | "gemm", logits: "all" | "last" = "all") {
  process.env.PARLEY_PREFILL = kernel;
  process.env.PARLEY_COOPMAT_EMULATE = "1";
  const model = await ctx.runtime.loadModel(path);
  try {
    const session = model.createSession({ contextSize: 128, ubatch: 128, kernels: "gpu" });
    expect(session.tuning.prefill.kernel).toBe(kernel);
    const tokens = seededTokens(100, 7, model.info.vocabularySize);
    return { logits: (await session.evaluate(tokens, { logits })).logits!, V: model.info.vocabularySize, tokens };
  } finally {
    model.dispose();
  }
}

describe("cooperative-matrix prefill (emulated on lavapipe)", () => {
  it.each(CASES)(
    "%s: matches the float64 reference and the float GEMM to fp16 rounding",
    async (name, path) => {
      const file = await path();
      const coopmat = await prefillLogits(file, "coopmat");
      const gemm = await prefillLogits(file, "gemm");
      const reference = (await LlamaReference.load(file)).forward(coopmat.tokens);
      const refErr = maxRelError(coopmat.logits, reference, 100, coopmat.V);
      const vsGemm = maxRelError(coopmat.logits, gemm.logits, 100, coopmat.V);
      const gemmErr = maxRelError(gemm.logits, reference, 100, coopmat.V);
      console.log(
        `${name}: coopmat vs float64 reference ${refErr.toExponential(2)} (float GEMM ${gemmErr.toExponential(2)}), vs float GEMM ${vsGemm.toExponential(2)}`,
      );
      // fp16 inputs carry 11 significant bits: more error than the float GEMM, far less than a wrong tile (O(1)).
      expect(refErr).toBeLessThan(2e-2);
      // The kernel really ran and rounded its inputs to fp16 (the float GEMM sums the same products in float32).
      expect(vsGemm).toBeGreaterThan(1e-5);
      expect(vsGemm).toBeLessThan(2e-2);
      const last = await prefillLogits(file, "coopmat", "last");
      expect(maxRelError(last.logits, coopmat.logits.subarray(99 * coopmat.V), 1, coopmat.V)).toBeLessThan(1e-6);
      expect(ctx.runtime.validationMessages()).toEqual([]);
    },
    300_000,
  );

  it("q4_0: conforms to the float64 reference and llama.cpp at least as well as llama.cpp's own products", async () => {
    process.env.PARLEY_PREFILL = "coopmat";
    process.env.PARLEY_COOPMAT_EMULATE = "1";
    const r = await runTypeConformance("q4_0", ctx, { shape: "tiny", seed: 1, positions: 256, kernels: "gpu" });
    expectLlamaLevelConformance(r, "q4_0 coopmat prefill (emulated)");
    expect(ctx.runtime.validationMessages()).toEqual([]);
  }, 300_000);

  it("without cooperative matrices (and without emulation) asking for it is a typed error", async () => {
    if (ctx.runtime.device.cooperativeMatrixPrefill) return; // a GPU that has them runs the real kernel instead
    const model = await ctx.runtime.loadModel(await syntheticModel("tiny", "q4_0"));
    try {
      process.env.PARLEY_PREFILL = "coopmat";
      expect(() => model.createSession({ contextSize: 16, kernels: "gpu" })).toThrow(/cooperative-matrix prefill/);
      delete process.env.PARLEY_PREFILL;
      const tuning = { prefill: { kernel: "coopmat" as const, integerDot: false } };
      expect(() => model.createSession({ contextSize: 16, tuning })).toThrow(InvalidArgumentError);
      process.env.PARLEY_COOPMAT_EMULATE = "yes";
      expect(() => model.createSession({ contextSize: 16, kernels: "gpu" })).toThrow(InvalidArgumentError);
    } finally {
      model.dispose();
    }
  });
});
