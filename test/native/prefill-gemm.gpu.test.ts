// The prefill kernels against the float64 reference and against the older 16-token kernel, on lavapipe with
// the GPU kernel set: the tiled GEMM (native/shaders/matmul_tiled.comp: 64-row × 64-token tiles through shared
// memory) and the matrix-vector kernels over token tiles (matvec.comp with TOKENS > 1, CPU drivers' default),
// a step of 100 tokens in one 128-token micro-batch (a full and a partial token tile), row counts that are
// and are not multiples of 64 (a hand-made model with 288-wide rows and 96 KV rows), plain and K-quant
// weights, all-logits and last-logits steps. PARLEY_PREFILL selects the kernel; bad values are typed errors.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvalidArgumentError, Runtime } from "../../runtime/index.js";
import { LlamaReference } from "../reference/llama-reference.js";
import { customModel } from "../fixtures/custom-models.js";
import { syntheticModel } from "../fixtures/models.js";
import { maxRelError } from "../fixtures/logit-errors.js";
import { seededTokens } from "../fixtures/tokens.js";
import { restoreEnvAfterEach } from "../fixtures/env.js";

let runtime: Runtime;
beforeAll(async () => {
  runtime = await Runtime.create({ validation: true });
});
restoreEnvAfterEach("PARLEY_PREFILL", "PARLEY_SHORT_PREFILL");
afterAll(() => runtime?.dispose());

const CASES: Array<[string, () => Promise<string>]> = [
  ["tiny q4_0", () => syntheticModel("tiny", "q4_0")],
  ["small q4_k_m", () => syntheticModel("small", "q4_k_m")],
  ["288-wide rows, 96 KV rows (f16)", () => customModel("hd96g3")],
];

describe("prefill kernels: tiled GEMM and matrix-vector token tiles", () => {
  it.each(CASES)(
    "%s: matches the float64 reference and the 16-token kernel",
    async (_name, path) => {
      const file = await path();
      const model = await runtime.loadModel(file);
      const V = model.info.vocabularySize;
      const tokens = seededTokens(100, 11, V);
      const run = async (kernel: "gemm" | "tiled16" | "matvec", logits: "all" | "last") => {
        process.env.PARLEY_PREFILL = kernel;
        const s = model.createSession({ contextSize: 128, ubatch: 128, kernels: "gpu" });
        try {
          return (await s.evaluate(tokens, { logits })).logits!;
        } finally {
          s.dispose();
        }
      };
      try {
        const gemm = await run("gemm", "all");
        const reference = (await LlamaReference.load(file)).forward(tokens);
        const refErr = maxRelError(gemm, reference, tokens.length, V);
        const old = await run("tiled16", "all");
        const vsOld = maxRelError(gemm, old, tokens.length, V);
        const last = await run("gemm", "last");
        const mv = await run("matvec", "all");
        const mvRef = maxRelError(mv, reference, tokens.length, V);
        const mvLast = await run("matvec", "last");
        console.log(
          `${_name}: gemm vs f64 reference ${refErr.toExponential(2)}, vs 16-token kernel ${vsOld.toExponential(2)}; ` +
            `matvec tiles vs reference ${mvRef.toExponential(2)}`,
        );
        expect(mvRef).toBeLessThan(1e-2);
        expect(maxRelError(mv, old, tokens.length, V)).toBeLessThan(2e-3);
        expect(maxRelError(mvLast, mv.subarray((tokens.length - 1) * V), 1, V)).toBeLessThan(1e-6);
        expect(refErr).toBeLessThan(1e-2);
        // Same products, another summation order: float32 rounding, carried through the layers (a wrong tile,
        // row or token is O(1)).
        expect(vsOld).toBeLessThan(2e-3);
        expect(maxRelError(last, gemm.subarray((tokens.length - 1) * V), 1, V)).toBeLessThan(1e-6);
        expect(runtime.validationMessages()).toEqual([]);
      } finally {
        model.dispose();
      }
    },
    180_000,
  );

  it.each(CASES)(
    "%s: short steps (≤ 16 tokens) take the token-tile recording and match the long-step kernels",
    async (_name, path) => {
      const file = await path();
      const model = await runtime.loadModel(file);
      const V = model.info.vocabularySize;
      try {
        const reference = (await LlamaReference.load(file)).forward(seededTokens(33, 5, V));
        for (const n of [10, 16, 17]) {
          const tokens = seededTokens(33, 5, V).slice(0, n);
          const run = async (short: boolean) => {
            process.env.PARLEY_SHORT_PREFILL = short ? "1" : "0";
            const s = model.createSession({ contextSize: 64, ubatch: 64, kernels: "gpu" });
            try {
              return (await s.evaluate(tokens, { logits: "all" })).logits!;
            } finally {
              s.dispose();
            }
          };
          const short = await run(true);
          const gemm = await run(false);
          expect(maxRelError(short, reference, n, V), `${n} tokens vs reference`).toBeLessThan(1e-2);
          const vsGemm = maxRelError(short, gemm, n, V);
          expect(vsGemm, `${n} tokens vs the GEMM`).toBeLessThan(2e-3);
          // Which recording ran shows in the rounding: up to 16 tokens the token tiles sum in another order than
          // the GEMM (not bit-identical); at 17 both runs take the GEMM (identical).
          if (n <= 16) expect(vsGemm, `${n} tokens took the token-tile recording`).toBeGreaterThan(0);
          else expect(vsGemm, `${n} tokens took the GEMM recording`).toBe(0);
        }
        expect(runtime.validationMessages()).toEqual([]);
      } finally {
        model.dispose();
      }
    },
    180_000,
  );

  it("rejects an unknown PARLEY_PREFILL with a typed error", async () => {
    const model = await runtime.loadModel(await syntheticModel("tiny", "q4_0"));
    try {
      process.env.PARLEY_PREFILL = "fast";
      expect(() => model.createSession({ contextSize: 16, kernels: "gpu" })).toThrow(InvalidArgumentError);
    } finally {
      model.dispose();
    }
  });
});
