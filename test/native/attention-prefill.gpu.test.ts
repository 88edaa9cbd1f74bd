// Prompt-step attention (native/shaders/attention_prefill.comp: 64 query rows per workgroup, key chunks staged
// once in shared memory, a running softmax) on the real Vulkan driver (lavapipe in CI), against the float64
// reference and against the older one-workgroup-per-head-and-token kernel (PARLEY_PREFILL_ATTENTION=0). Each
// model takes a 45-token prompt in two steps (29 tokens, then 16 after them: the second step's rows start at
// position 29 and see the first step's cached keys) with a 32-token micro-batch, so steps span several row
// tiles and key chunks, partial ones included. Shapes: tiny (head size 32, 2 query heads per KV head), small
// (64, 4 per KV head), and the hand-made head size 256 (16-key chunks), head size 96 with 3 heads per KV head
// (row tiles that split a token's heads) and 16 heads per KV head.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Runtime } from "../../runtime/index.js";
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
restoreEnvAfterEach("PARLEY_PREFILL_ATTENTION");
afterAll(() => runtime?.dispose());

const CASES: Array<[string, () => Promise<string>]> = [
  ["tiny q4_0", () => syntheticModel("tiny", "q4_0")],
  ["small q8_0", () => syntheticModel("small", "q8_0")],
  ["head size 256", () => customModel("hd256")],
  ["head size 96, 3 heads per KV head", () => customModel("hd96g3")],
  ["16 heads per KV head", () => customModel("g16")],
];

describe("prompt-step attention", () => {
  it.each(CASES)(
    "%s: matches the float64 reference and the older kernel, across steps, row tiles and key chunks",
    async (_name, path) => {
      const file = await path();
      const model = await runtime.loadModel(file);
      const V = model.info.vocabularySize;
      const tokens = seededTokens(45, 3, V);
      const run = async (flash: boolean) => {
        process.env.PARLEY_PREFILL_ATTENTION = flash ? "1" : "0";
        const s = model.createSession({ contextSize: 64, ubatch: 32 });
        try {
          const first = (await s.evaluate(tokens.slice(0, 29), { logits: "all" })).logits!;
          const second = (await s.evaluate(tokens.slice(29), { logits: "all" })).logits!;
          const all = new Float32Array(45 * V);
          all.set(first);
          all.set(second, 29 * V);
          return all;
        } finally {
          s.dispose();
        }
      };
      try {
        const flash = await run(true);
        const old = await run(false);
        const reference = (await LlamaReference.load(file)).forward(tokens);
        const refErr = maxRelError(flash, reference, 45, V);
        const vsOld = maxRelError(flash, old, 45, V);
        console.log(`${_name}: prompt attention vs float64 reference ${refErr.toExponential(2)}, vs the older kernel ${vsOld.toExponential(2)}`);
        expect(refErr).toBeLessThan(1e-2);
        // The same softmax summed in another order (running, per chunk): float32 rounding only; a wrong key,
        // head or position is O(1). Not bit-identical, so the new kernel really ran.
        expect(vsOld).toBeLessThan(2e-3);
        expect(vsOld).toBeGreaterThan(0);
        expect(runtime.validationMessages()).toEqual([]);
      } finally {
        model.dispose();
      }
    },
    180_000,
  );
});
