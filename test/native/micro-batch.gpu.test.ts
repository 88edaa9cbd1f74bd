// The prompt step's length (the micro-batch, `ubatch`) and the logits rows, which are sized apart from it:
// a 512-token step on a GPU must not hold 512 rows of 32,000 logits on the device and again on the host.
// Steps that want every token's logits are cut to Session::kLogitRows (64) tokens, and must give what
// shorter steps give; the default micro-batch follows the device (defaultUbatch).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Runtime, defaultUbatch, type Model } from "../../runtime/index.js";
import { maxRelError } from "../fixtures/logit-errors.js";
import { syntheticModel } from "../fixtures/models.js";
import { seededTokens } from "../fixtures/tokens.js";

let runtime: Runtime;
let model: Model;

beforeAll(async () => {
  runtime = await Runtime.create({ validation: true });
  model = await runtime.loadModel(await syntheticModel("tiny", "q4_0"));
});
afterAll(() => {
  model?.dispose();
  runtime?.dispose();
});

describe("micro-batch and logits rows", () => {
  it.each(["auto", "gpu"] as const)(
    "%s kernels: every token's logits of a 150-token prompt in a 256-token micro-batch session (all-logits steps cut to 64) match 8-token steps",
    async (kernels) => {
      const V = model.info.vocabularySize;
      const tokens = seededTokens(150, 5, V);
      const long = model.createSession({ contextSize: 256, ubatch: 256, kernels });
      const short = model.createSession({ contextSize: 256, ubatch: 8, kernels });
      try {
        const all = (await long.evaluate(tokens, { logits: "all" })).logits!;
        expect(all.length).toBe(150 * V);
        const ref = (await short.evaluate(tokens, { logits: "all" })).logits!;
        // Other step splits run other kernels over other tiles: float32 rounding only (a lost row is O(1)).
        expect(maxRelError(all, ref, 150, V)).toBeLessThan(2e-3);
        // The same prompt as one 150-token step that keeps only the last row.
        const fresh = model.createSession({ contextSize: 256, ubatch: 256, kernels });
        const last = (await fresh.evaluate(tokens, { logits: "last" })).logits!;
        fresh.dispose();
        expect(maxRelError(last, ref.subarray(149 * V), 1, V)).toBeLessThan(2e-3);
      } finally {
        long.dispose();
        short.dispose();
      }
      expect(runtime.validationMessages()).toEqual([]);
    },
    120_000,
  );

  it("a longer micro-batch adds activations per token, not logits rows", () => {
    const c = model.info.config;
    const bytes = (ubatch: number) => {
      const s = model.createSession({ contextSize: 512, ubatch, kernels: "gpu" });
      const b = s.deviceBytes;
      s.dispose();
      return b;
    };
    // Per token of micro-batch: x, its normalized copy, the attention output (nEmbd each), q, k, v, gate, up.
    const perToken = 4 * (4 * c.nEmbd + 2 * c.nHeadKv * c.headDim + 2 * c.nFf);
    expect(bytes(512) - bytes(64)).toBe(448 * perToken);
    // Below 64 tokens the logits rows shrink with it: one row per token.
    expect(bytes(64) - bytes(32)).toBe(32 * (perToken + 4 * c.nVocab));
  });

  it("defaults to 512-token steps on GPUs (within the context, at least 64) and 64 on CPU drivers", () => {
    expect(defaultUbatch({ type: "discrete" }, 2048)).toBe(512);
    expect(defaultUbatch({ type: "integrated" }, 300)).toBe(300);
    expect(defaultUbatch({ type: "discrete" }, 16)).toBe(64);
    expect(defaultUbatch({ type: "cpu" }, 2048)).toBe(64);
    // This machine's device decides a session's default: the same memory as asking for it.
    const expected = defaultUbatch(model.device, 1024);
    const a = model.createSession({ contextSize: 1024 });
    const b = model.createSession({ contextSize: 1024, ubatch: expected });
    expect(a.deviceBytes).toBe(b.deviceBytes);
    a.dispose();
    b.dispose();
  });
});
