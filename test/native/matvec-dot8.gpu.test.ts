// The integer dot product decode path (PARLEY_MATVEC_DOT8; matvec_dot8_* kernels): Q4_0 and Q8_0 products
// round f(x) to signed bytes per 32-element block and dot 4 bytes per instruction. It is opt-in until a GPU
// run times it; lavapipe exposes VK_KHR_shader_integer_dot_product (emulated), so these tests turn it on: its decode logits
// must conform like llama.cpp's own quantized dot products do (against the float64 reference and against
// llama.cpp's CPU backend, which rounds activations the same way), it must really run (the logits differ
// from the float kernels' by the rounding), other weight types must be untouched, and the validation layer
// must stay clean (the SPIR-V declares the DotProduct capabilities; the device enables the extension).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../../runtime/index.js";
import { openConformanceContext, runTypeConformance, type ConformanceContext } from "../conformance/conformance.js";
import { decodeLogitsWith } from "../fixtures/decode-logits.js";
import { expectLlamaLevelConformance } from "../fixtures/byte-activations.js";
import { syntheticModel } from "../fixtures/models.js";
import { restoreEnvAfterEach } from "../fixtures/env.js";

let ctx: ConformanceContext;

beforeAll(async () => {
  ctx = await openConformanceContext({ threads: 2, validation: true });
}, 300_000);
restoreEnvAfterEach("PARLEY_MATVEC_DOT8");
afterAll(async () => ctx?.dispose(), 300_000);

const TOKENS = [1, 15043, 29892, 920, 526, 366, 29973, 306, 626, 263, 1243];

function decodeLogits(path: string, dot8: boolean): Promise<Float32Array[]> {
  return decodeLogitsWith(ctx.runtime, path, TOKENS, { PARLEY_MATVEC_DOT8: dot8 ? "1" : "0" });
}

function relRms(a: Float32Array[], b: Float32Array[]): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    for (let j = 0; j < a[i].length; j++) {
      num += (a[i][j] - b[i][j]) ** 2;
      den += b[i][j] ** 2;
    }
  }
  return Math.sqrt(num / den);
}

describe("integer dot product decode (PARLEY_MATVEC_DOT8=1)", () => {
  it.each(["q4_0", "q8_0"] as const)(
    "%s: conforms to the float64 reference and llama.cpp like llama.cpp's own 8-bit activations",
    async (type) => {
      process.env.PARLEY_MATVEC_DOT8 = "1";
      const r = await runTypeConformance(type, ctx, { shape: "tiny", seed: 1, positions: 256, parleyPath: "decode" });
      expectLlamaLevelConformance(r, `${type} dot8 decode`);
      expect(ctx.runtime.validationMessages()).toEqual([]);
    },
    300_000,
  );

  it("really runs for Q4_0 and Q8_0 (logits move by the rounding) and leaves other weight types to the float kernels", async () => {
    for (const type of ["q4_0", "q8_0"] as const) {
      const path = await syntheticModel("small", type);
      const err = relRms(await decodeLogits(path, true), await decodeLogits(path, false));
      console.log(`${type}: dot8 vs float kernels, relative RMS ${err.toExponential(2)}`);
      expect(err).toBeGreaterThan(1e-4);
      expect(err).toBeLessThan(5e-2);
    }
    // Q4_K_M holds Q4_K and Q6_K matrices only: the setting must not change a bit.
    const kquant = await syntheticModel("small", "q4_k_m");
    const a = await decodeLogits(kquant, true);
    const b = await decodeLogits(kquant, false);
    expect(a.map((row) => Array.from(row))).toEqual(b.map((row) => Array.from(row)));
    expect(ctx.runtime.validationMessages()).toEqual([]);
  }, 300_000);

  it("a bad PARLEY_MATVEC_DOT8 is a typed error when the session is created", async () => {
    const model = await ctx.runtime.loadModel(await syntheticModel("tiny", "q4_0"));
    try {
      for (const bad of ["2", "yes", ""]) {
        process.env.PARLEY_MATVEC_DOT8 = bad;
        expect(() => model.createSession({ contextSize: 16 })).toThrow(InvalidArgumentError);
      }
    } finally {
      model.dispose();
    }
  });
});
