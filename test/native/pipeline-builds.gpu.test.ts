// Building a session's pipelines on several threads at once, on the real driver (lavapipe in CI) with the
// validation layer on (its thread-safety checks included): a dry run of the recordings lists the kernels, they
// are built together, and the recordings then find every one (a kernel the dry run missed is an internal
// error, so every other test in the suite checks that too). The builds are counted in runtime.pipelineBuilds.
// Pipeline caches are off so every build is a real one.
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { InvalidArgumentError, Runtime } from "../../runtime/index.js";
import { syntheticModel } from "../fixtures/models.js";
import { restoreEnvAfterEach } from "../fixtures/env.js";

restoreEnvAfterEach("PARLEY_PIPELINE_THREADS");

let modelPath: string;
beforeAll(async () => {
  modelPath = await syntheticModel("tiny", "q4_0");
});

const runtimes: Runtime[] = [];
afterEach(() => {
  for (const r of runtimes.splice(0)) r.dispose();
});

async function newRuntime(): Promise<Runtime> {
  const runtime = await Runtime.create({ validation: true, pipelineCache: false });
  runtimes.push(runtime);
  return runtime;
}

const PROMPT = [1, 450, 4996, 17354, 1701, 29916];

/** Every token's logits of PROMPT, then 4 greedy tokens from the GPU loop, in a fresh session. */
async function run(runtime: Runtime, kernels: "auto" | "gpu" | "cpu" = "auto"): Promise<{ logits: Float32Array; tokens: number[] }> {
  const model = await runtime.loadModel(modelPath);
  const session = model.createSession({ contextSize: 32, kernels });
  const { logits, argmax } = await session.evaluate(PROMPT, { logits: "all" });
  const tokens = await session.decodeChain(argmax, 4);
  return { logits: logits!, tokens };
}

describe("parallel pipeline builds", () => {
  it("builds a session's pipelines on several threads, cleanly under validation, with the same results as one thread", async () => {
    process.env.PARLEY_PIPELINE_THREADS = "1";
    const serialRuntime = await newRuntime();
    const serial = await run(serialRuntime, "gpu");
    const one = serialRuntime.pipelineBuilds;
    expect(one.maxThreads).toBe(1);
    expect(serialRuntime.validationMessages()).toEqual([]);

    process.env.PARLEY_PIPELINE_THREADS = "4";
    const runtime = await newRuntime();
    expect(runtime.pipelineBuilds).toEqual({ pipelines: 0, wallMs: 0, maxThreads: 0 });
    const parallel = await run(runtime, "gpu");
    const four = runtime.pipelineBuilds;
    // The GPU kernel set's decode, prefill, top-k and chain kernels: well over 4 of them.
    expect(four.pipelines).toBeGreaterThan(8);
    expect(four.pipelines).toBe(one.pipelines);
    expect(four.maxThreads).toBe(4);
    expect(four.wallMs).toBeGreaterThan(0);
    expect(runtime.validationMessages()).toEqual([]);
    // Same pipelines, same arithmetic: identical logits and tokens.
    expect(parallel.tokens).toEqual(serial.tokens);
    expect(Buffer.from(parallel.logits.buffer).equals(Buffer.from(serial.logits.buffer))).toBe(true);
  });

  it("builds each pipeline once per runtime: a second session builds nothing, another kernel set only what it lacks", async () => {
    process.env.PARLEY_PIPELINE_THREADS = "3";
    const runtime = await newRuntime();
    await run(runtime, "gpu");
    const first = runtime.pipelineBuilds.pipelines;
    await run(runtime, "gpu");
    expect(runtime.pipelineBuilds.pipelines).toBe(first);
    // The CPU kernel set shares some kernels with the GPU set (embedding, attention, top-k, ...) and adds its own.
    const fresh = await newRuntime();
    await run(fresh, "cpu");
    const cpuOnly = fresh.pipelineBuilds.pipelines;
    await run(runtime, "cpu");
    const added = runtime.pipelineBuilds.pipelines - first;
    expect(added).toBeGreaterThan(0);
    expect(added).toBeLessThan(cpuOnly);
    expect(runtime.validationMessages()).toEqual([]);
    // Still readable after dispose.
    const before = runtime.pipelineBuilds;
    runtime.dispose();
    expect(runtime.pipelineBuilds).toEqual(before);
  });

  it("createSessionAsync builds them on a worker thread: the event loop runs meanwhile, the session is the same", async () => {
    const runtime = await newRuntime();
    const model = await runtime.loadModel(modelPath);
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 0);
    const pending = model.createSessionAsync({ contextSize: 32, kernels: "gpu" });
    const session = await pending;
    clearInterval(ticker);
    expect(ticks).toBeGreaterThan(0);
    expect(runtime.pipelineBuilds.pipelines).toBeGreaterThan(8);
    const { logits: viaAsync } = await session.evaluate(PROMPT, { logits: "all" });
    const { logits: viaSync } = await model.createSession({ contextSize: 32, kernels: "gpu" }).evaluate(PROMPT, { logits: "all" });
    expect(Buffer.from(viaAsync!.buffer).equals(Buffer.from(viaSync!.buffer))).toBe(true);
    expect(runtime.validationMessages()).toEqual([]);
    // Typed errors, checked before any work or raised by the worker, and a model disposed while it builds.
    await expect(model.createSessionAsync({ contextSize: 0 })).rejects.toThrow(InvalidArgumentError);
    process.env.PARLEY_PIPELINE_THREADS = "0";
    await expect(model.createSessionAsync({ contextSize: 16 })).rejects.toThrow(/PARLEY_PIPELINE_THREADS/);
    await expect(model.createSessionAsync({ contextSize: 16 })).rejects.toThrow(InvalidArgumentError);
    delete process.env.PARLEY_PIPELINE_THREADS;
    const memory = runtime.deviceMemoryInUse;
    const orphan = model.createSessionAsync({ contextSize: 16, kernels: "cpu" });
    model.dispose();
    await expect(orphan).rejects.toMatchObject({ code: "DISPOSED" });
    await new Promise<void>((resolve) => setImmediate(resolve)); // sessions free their memory once their queued work settles
    expect(memory).toBeGreaterThan(0);
    expect(runtime.deviceMemoryInUse).toBe(0); // the weights, the sessions and the orphan are gone
  });

  it("rejects a bad PARLEY_PIPELINE_THREADS with a typed error", async () => {
    const runtime = await newRuntime();
    const model = await runtime.loadModel(modelPath);
    for (const bad of ["0", "65", "two"]) {
      process.env.PARLEY_PIPELINE_THREADS = bad;
      expect(() => model.createSession({ contextSize: 16 })).toThrow(InvalidArgumentError);
      expect(() => model.createSession({ contextSize: 16 })).toThrow(/PARLEY_PIPELINE_THREADS must be an integer in 1\.\.64/);
    }
    expect(runtime.pipelineBuilds.pipelines).toBe(0);
  });
});
