// Model loading through the double-buffered staging upload (native/src/buffer.cpp's Uploader), on the real driver
// (lavapipe in CI) with the validation layer on: with a 64 KiB staging half (PARLEY_UPLOAD_STAGING_KIB) a load
// switches halves hundreds of times, each half's copies in flight while the other is filled, and the weights on
// the device must come out exactly as with the default 32 MiB halves (where these small models fit in one). The
// quantized blocks are repacked on several threads (PARLEY_LOAD_THREADS): the result must not depend on how many.
import { afterEach, describe, expect, it } from "vitest";
import { InvalidArgumentError, Runtime } from "../../runtime/index.js";
import { syntheticModel } from "../fixtures/models.js";
import { restoreEnvAfterEach } from "../fixtures/env.js";

restoreEnvAfterEach("PARLEY_UPLOAD_STAGING_KIB", "PARLEY_LOAD_THREADS");

const runtimes: Runtime[] = [];
afterEach(() => {
  for (const r of runtimes.splice(0)) r.dispose();
});

const PROMPT = [1, 450, 4996, 17354, 1701, 29916, 435, 2090];

/** Every token's logits of PROMPT after loading `path` with the current environment. */
async function logitsAfterLoad(path: string): Promise<Float32Array> {
  const runtime = await Runtime.create({ validation: true, pipelineCache: false });
  runtimes.push(runtime);
  const model = await runtime.loadModel(path);
  const session = model.createSession({ contextSize: 16, kernels: "cpu" });
  const { logits } = await session.evaluate(PROMPT, { logits: "all" });
  expect(runtime.validationMessages()).toEqual([]);
  return logits!;
}

describe("double-buffered weight upload", () => {
  // Q4_0 goes through the repacking path (quants and scales split per chunk of rows), F16 through plain copies.
  for (const type of ["q4_0", "f16"] as const) {
    it(`loads tiny ${type} through 64 KiB staging halves exactly as through the default ones`, async () => {
      const path = await syntheticModel("tiny", type);
      delete process.env.PARLEY_UPLOAD_STAGING_KIB;
      const reference = await logitsAfterLoad(path);
      process.env.PARLEY_UPLOAD_STAGING_KIB = "64";
      const small = await logitsAfterLoad(path);
      expect(small.length).toBe(reference.length);
      expect(
        Buffer.from(small.buffer, small.byteOffset, small.byteLength).equals(Buffer.from(reference.buffer, reference.byteOffset, reference.byteLength)),
      ).toBe(true);
    });
  }

  it("repacks the blocks on 4 threads exactly as on one (small Q4_0: its 32,000-row embedding splits 4 ways)", async () => {
    const path = await syntheticModel("small", "q4_0");
    process.env.PARLEY_LOAD_THREADS = "1";
    const one = await logitsAfterLoad(path);
    process.env.PARLEY_LOAD_THREADS = "4";
    const four = await logitsAfterLoad(path);
    expect(Buffer.from(four.buffer, four.byteOffset, four.byteLength).equals(Buffer.from(one.buffer, one.byteOffset, one.byteLength))).toBe(true);
  });

  it("rejects a bad PARLEY_UPLOAD_STAGING_KIB or PARLEY_LOAD_THREADS with a typed error", async () => {
    const path = await syntheticModel("tiny", "q4_0");
    const runtime = await Runtime.create({ pipelineCache: false });
    runtimes.push(runtime);
    for (const bad of ["0", "63", "big"]) {
      process.env.PARLEY_UPLOAD_STAGING_KIB = bad;
      await expect(runtime.loadModel(path)).rejects.toThrow(InvalidArgumentError);
    }
    delete process.env.PARLEY_UPLOAD_STAGING_KIB;
    for (const bad of ["0", "65", "many"]) {
      process.env.PARLEY_LOAD_THREADS = bad;
      await expect(runtime.loadModel(path)).rejects.toThrow(/PARLEY_LOAD_THREADS must be an integer in 1\.\.64/);
    }
    expect(runtime.deviceMemoryInUse).toBe(0);
  });
});
