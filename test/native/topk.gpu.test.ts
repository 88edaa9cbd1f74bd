// The GPU's top-64 selection (native/shaders/topk.comp): each of the kernel's workgroups selects the top 64 of
// its slice of the logits row and the last to finish selects among their candidates. Whatever the number of
// slices (PARLEY_TOPK_GROUPS; GPUs take 32 for Llama's vocabulary, CPU drivers 1), the candidates must be
// exactly the 64 largest logits with ties at the 64th resolved to the lowest token ids, as the host sampler
// ranks them — checked against the full logits row of the same step, on a model whose logits all come in
// groups of 5 equal values (so the 64th place cuts through ties) and on a plain one, on the real driver
// (lavapipe in CI) with the validation layer; and a GPU sampling loop must then draw the host's tokens.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Runtime, type GenerateOptions, type Model } from "../../runtime/index.js";
import { customModel } from "../fixtures/custom-models.js";
import { restoreEnvAfterEach } from "../fixtures/env.js";
import { syntheticModel } from "../fixtures/models.js";
import { seededTokens } from "../fixtures/tokens.js";

let runtime: Runtime;
beforeAll(async () => {
  runtime = await Runtime.create({ validation: true });
});
afterAll(() => runtime?.dispose());
restoreEnvAfterEach("PARLEY_TOPK_GROUPS");

/** The host's top 64 of a row: larger logits first, ties to the lower id; as "id:logit" strings, sorted. */
function hostTop64(row: Float32Array): string[] {
  const ids = Array.from(row.keys())
    .sort((a, b) => row[b] - row[a] || a - b)
    .slice(0, 64);
  return ids.map((i) => `${i}:${row[i]}`).sort();
}

async function checkTopK(model: Model, groups: number, steps: number): Promise<number> {
  process.env.PARLEY_TOPK_GROUPS = String(groups);
  const withTop = model.createSession({ contextSize: 64, kernels: "gpu" });
  const withRow = model.createSession({ contextSize: 64, kernels: "gpu" });
  let tiesAtBoundary = 0;
  try {
    for (const t of seededTokens(steps, 17)) {
      const top = await withTop.evaluate([t], { logits: "top" });
      const row = (await withRow.evaluate([t], { logits: "last" })).logits!;
      const got = Array.from(top.topIds!, (id, j) => `${id}:${top.topLogits![j]}`).sort();
      expect(got, `${groups} slices`).toEqual(hostTop64(row));
      const sorted = Array.from(row).sort((a, b) => b - a);
      if (sorted[63] === sorted[64]) tiesAtBoundary++;
    }
  } finally {
    withTop.dispose();
    withRow.dispose();
  }
  return tiesAtBoundary;
}

describe("top-64 candidates on the GPU", () => {
  it.each([1, 3, 32, 64])(
    "%i slice(s): the 64 largest logits, ties to the lowest ids (tied and plain models)",
    async (groups) => {
      const tied = await runtime.loadModel(await customModel("ties"));
      const plain = await runtime.loadModel(await syntheticModel("tiny", "q4_0"));
      try {
        // The tied model's rows must really put ties at the boundary, or the tie rule would go untested.
        expect(await checkTopK(tied, groups, 6)).toBeGreaterThan(0);
        await checkTopK(plain, groups, 4);
      } finally {
        tied.dispose();
        plain.dispose();
      }
      expect(runtime.validationMessages()).toEqual([]);
    },
    120_000,
  );

  it("a GPU sampling loop over 32 slices draws the host sampler's tokens", async () => {
    process.env.PARLEY_TOPK_GROUPS = "32";
    const model = await runtime.loadModel(await customModel("ties"));
    try {
      const replies: number[][] = [];
      for (const gpuLoop of [true, false]) {
        const s = model.createSession({ contextSize: 64, kernels: "gpu" });
        const tokens: number[] = [];
        for await (const c of s.generate([1, 15043, 29892], { temperature: 1.2, topK: 13, topP: 1, minP: 0, seed: 2, maxTokens: 24, gpuLoop }))
          tokens.push(...c.tokens);
        s.dispose();
        replies.push(tokens);
      }
      expect(replies[0].length).toBeGreaterThan(0);
      expect(replies[0]).toEqual(replies[1]);
    } finally {
      model.dispose();
    }
    expect(runtime.validationMessages()).toEqual([]);
  }, 120_000);

  it("a GPU sampling loop over 32 slices applies the repetition penalties as the host does (each slice penalizes its own logits)", async () => {
    process.env.PARLEY_TOPK_GROUPS = "32";
    const model = await runtime.loadModel(await syntheticModel("tiny", "q8_0"));
    try {
      const reply = async (options: GenerateOptions, gpuLoop: boolean) => {
        const s = model.createSession({ contextSize: 96, kernels: "gpu" });
        const tokens: number[] = [];
        for await (const c of s.generate([1, 15043, 29892, 3186], { ...options, maxTokens: 40, gpuLoop })) tokens.push(...c.tokens);
        s.dispose();
        return tokens;
      };
      // A bonus for the last 16 tokens (negative presence penalty) makes this model repeat itself, so every
      // term counts: the bonus, the repeat penalty's division and the per-occurrence frequency penalty.
      const penalties = { repeatPenalty: 1.3, frequencyPenalty: 2, presencePenalty: -40, repeatLastN: 16 };
      const samplings: GenerateOptions[] = [{ temperature: 0 }, { temperature: 0.9, topK: 20, topP: 0.95, minP: 0, seed: 5 }];
      for (const sampling of samplings) {
        const onGpu = await reply({ ...sampling, ...penalties }, true);
        expect(onGpu.length).toBeGreaterThan(20);
        expect(onGpu).toEqual(await reply({ ...sampling, ...penalties }, false));
        // The penalties really act: without them the reply differs.
        expect(onGpu).not.toEqual(await reply(sampling, true));
      }
    } finally {
      model.dispose();
    }
    expect(runtime.validationMessages()).toEqual([]);
  }, 120_000);
});
