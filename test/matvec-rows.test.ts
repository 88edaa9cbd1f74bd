// The decode matrix-vector kernels' rows-per-subgroup setting (a specialization constant, PARLEY_MATVEC_ROWS)
// only changes how work is split, never the result: every setting's decode steps must match the 1-row
// kernels' logits (up to float32 summation order) for plain and K-quant weights, including row counts that
// do not divide evenly; a bad setting is a typed error when the session is created.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { InvalidArgumentError, Runtime } from "../runtime/index.js";
import type { SynthShapeName, SynthType } from "../runtime/synth/synth.js";
import { syntheticModel } from "./fixtures/models.js";

let runtime: Runtime;
const saved = process.env.PARLEY_MATVEC_ROWS;

beforeAll(async () => {
  runtime = await Runtime.create({ validation: true });
});
afterEach(() => {
  if (saved === undefined) delete process.env.PARLEY_MATVEC_ROWS;
  else process.env.PARLEY_MATVEC_ROWS = saved;
});
afterAll(() => runtime?.dispose());

const TOKENS = [1, 15043, 29892, 920, 526, 366, 29973, 306];

async function decodeLogits(path: string, rows: number): Promise<Float32Array[]> {
  process.env.PARLEY_MATVEC_ROWS = String(rows);
  const model = await runtime.loadModel(path);
  const session = model.createSession({ contextSize: 32, kernels: "gpu" });
  try {
    const out: Float32Array[] = [];
    for (const t of TOKENS) out.push((await session.evaluate([t], { logits: "last" })).logits!);
    return out;
  } finally {
    session.dispose();
    model.dispose();
  }
}

describe("matrix-vector rows per subgroup", () => {
  const cases: Array<[SynthShapeName, SynthType]> = [["tiny", "q4_0"], ["tiny", "f16"], ["small", "q4_k_m"], ["small", "q5_k"]];
  it.each(cases)("%s %s: rows 2, 3 and 4 give the 1-row logits", async (shape, type) => {
    const path = await syntheticModel(shape, type);
    const base = await decodeLogits(path, 1);
    for (const rows of [2, 3, 4]) {
      const got = await decodeLogits(path, rows);
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
      expect(maxRel, `rows ${rows}`).toBeLessThan(1e-5);
    }
    expect(runtime.validationMessages()).toEqual([]);
  }, 120_000);

  it("rejects settings outside 1..8 with a typed error", async () => {
    const model = await runtime.loadModel(await syntheticModel("tiny", "q4_0"));
    try {
      for (const bad of ["0", "9", "x", "2x"]) {
        process.env.PARLEY_MATVEC_ROWS = bad;
        expect(() => model.createSession({ contextSize: 16, kernels: "gpu" })).toThrow(InvalidArgumentError);
      }
    } finally {
      model.dispose();
    }
  });
});
