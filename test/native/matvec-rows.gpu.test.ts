// The decode matrix-vector kernels' tuning settings (specialization constants): rows per subgroup
// (PARLEY_MATVEC_ROWS), staging f(x) in shared memory (PARLEY_MATVEC_STAGE), 16-byte weight loads
// (PARLEY_MATVEC_WIDE) and where SwiGLU is computed (PARLEY_SWIGLU_PAIRS) only change how work is split
// and where x is read from, never the result: every setting's decode steps must match the default kernels'
// logits (up to float32 rounding and the f16 roundings of the KV cache it can flip) for plain and K-quant weights, including row counts that do not divide
// evenly, the fused RMSNorm and SwiGLU inputs, and rows too long to stage (a hand-made model's 6400-wide down
// projection falls back to reading x per row); a bad setting is a typed error when the session is created.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvalidArgumentError, Runtime } from "../../runtime/index.js";
import { customModel } from "../fixtures/custom-models.js";
import { decodeLogitsWith } from "../fixtures/decode-logits.js";
import { syntheticModel } from "../fixtures/models.js";
import { restoreEnvAfterEach } from "../fixtures/env.js";

let runtime: Runtime;

beforeAll(async () => {
  runtime = await Runtime.create({ validation: true });
});
restoreEnvAfterEach("PARLEY_MATVEC_ROWS", "PARLEY_MATVEC_STAGE", "PARLEY_MATVEC_WIDE", "PARLEY_SWIGLU_PAIRS");
afterAll(() => runtime?.dispose());

const TOKENS = [1, 15043, 29892, 920, 526, 366, 29973, 306];

function decodeLogits(path: string, rows: number, stage = false, wide = false, swigluPairs = true): Promise<Float32Array[]> {
  return decodeLogitsWith(runtime, path, TOKENS, {
    PARLEY_MATVEC_ROWS: String(rows),
    PARLEY_MATVEC_STAGE: stage ? "1" : "0",
    PARLEY_MATVEC_WIDE: wide ? "1" : "0",
    PARLEY_SWIGLU_PAIRS: swigluPairs ? "1" : "0",
  });
}

describe("matrix-vector rows per subgroup", () => {
  const cases: Array<[string, () => Promise<string>]> = [
    ["tiny q4_0", () => syntheticModel("tiny", "q4_0")],
    ["tiny f16", () => syntheticModel("tiny", "f16")],
    ["tiny q8_0", () => syntheticModel("tiny", "q8_0")],
    ["tiny f32", () => syntheticModel("tiny", "f32")],
    ["small q4_k_m", () => syntheticModel("small", "q4_k_m")],
    ["small q5_k", () => syntheticModel("small", "q5_k")],
    ["6400-wide FFN f16", () => customModel("wideffn")],
  ];
  it.each(cases)(
    "%s: rows 2, 3 and 4, staged or not, 16-byte loads or not, SwiGLU in either product, give the default kernels' logits",
    async (_name, model) => {
      const path = await model();
      const base = await decodeLogits(path, 1);
      // The last two: SwiGLU computed by the down product as it reads gate and up (PARLEY_SWIGLU_PAIRS=0) instead
      // of by the gate/up product (the default wherever gate and up are one stacked matrix).
      const settings = [
        [2, false, false, true],
        [3, false, false, true],
        [4, false, false, true],
        [1, true, false, true],
        [3, true, false, true],
        [1, false, true, true],
        [3, false, true, true],
        [2, true, true, true],
        [4, true, true, true],
        [1, false, false, false],
        [3, true, false, false],
      ] as const;
      for (const [rows, stage, wide, pairs] of settings) {
        const got = await decodeLogits(path, rows, stage, wide, pairs);
        let maxRel = 0;
        for (let i = 0; i < base.length; i++) {
          let diff = 0;
          let ref = 0;
          for (let j = 0; j < base[i].length; j++) {
            diff = Math.max(diff, Math.abs(got[i][j] - base[i][j]));
            ref = Math.max(ref, Math.abs(base[i][j]));
          }
          maxRel = Math.max(maxRel, diff / ref);
        }
        // Same products, summed in another order: float32 rounding only (a wrong row or a dropped tail is O(1)).
        // Rows keep each lane's words and their order. 16-byte loads hand each lane other words, and staging sums
        // the RMSNorm's x² in another order (threads' strided elements, not the lanes' words): a last-bit change
        // that flips an occasional f16 rounding of a K/V cache entry, as large as the difference between the GPU
        // and CPU kernel sets (measured ≤ 2.3e-4 on these models, from the first position on).
        // SwiGLU in the down product: the same values, computed in another kernel (its exp may round differently).
        expect(maxRel, `rows ${rows}${stage ? ", staged" : ""}${wide ? ", wide" : ""}${pairs ? "" : ", SwiGLU in down"}`).toBeLessThan(
          wide || stage || !pairs ? 5e-4 : 1e-5,
        );
      }
      expect(runtime.validationMessages()).toEqual([]);
    },
    120_000,
  );

  it("rejects settings outside 1..8 with a typed error", async () => {
    const model = await runtime.loadModel(await syntheticModel("tiny", "q4_0"));
    try {
      for (const bad of ["0", "9", "x", "2x"]) {
        process.env.PARLEY_MATVEC_ROWS = bad;
        expect(() => model.createSession({ contextSize: 16, kernels: "gpu" })).toThrow(InvalidArgumentError);
      }
      process.env.PARLEY_MATVEC_ROWS = "1";
      process.env.PARLEY_MATVEC_STAGE = "yes";
      expect(() => model.createSession({ contextSize: 16, kernels: "gpu" })).toThrow(InvalidArgumentError);
      process.env.PARLEY_MATVEC_STAGE = "0";
      process.env.PARLEY_MATVEC_WIDE = "4";
      expect(() => model.createSession({ contextSize: 16, kernels: "gpu" })).toThrow(InvalidArgumentError);
    } finally {
      model.dispose();
    }
  });
});
