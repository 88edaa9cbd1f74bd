// The persistent Vulkan pipeline cache on the real driver (lavapipe in CI), validation layer on: the file is
// written at dispose and accepted by the next runtime; mismatching, truncated or garbage files are ignored and
// replaced; `pipelineCache: false` and PARLEY_PIPELINE_CACHE=0 write nothing; an unwritable folder does not
// fail the runtime; the default folder follows PARLEY_CACHE_DIR / XDG_CACHE_HOME / ~/.cache.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultPipelineCacheDir, InvalidArgumentError, Runtime, type Model, type RuntimeOptions } from "../../runtime/index.js";
import { syntheticModel } from "../fixtures/models.js";

const roots: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "parley-pipeline-cache-"));
  roots.push(d);
  return d;
}

afterAll(() => {
  for (const d of roots) rmSync(d, { recursive: true, force: true });
});

let modelPath: string;
beforeAll(async () => {
  modelPath = await syntheticModel("tiny", "q8_0");
});

async function withEnv<T>(vars: Record<string, string | undefined>, body: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(vars)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    return await body();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** A runtime with validation on; `use` loads the tiny model and evaluates, so every decode kernel is built. */
async function runRuntime(options: RuntimeOptions, use = false): Promise<{ created: Runtime["pipelineCache"]; final: Runtime["pipelineCache"] }> {
  const runtime = await Runtime.create({ validation: true, ...options });
  try {
    const created = runtime.pipelineCache;
    if (use) {
      const model = await runtime.loadModel(modelPath);
      const session = model.createSession({ contextSize: 16, ubatch: 8 });
      await session.evaluate([1, 450, 4996], { logits: "none" });
    }
    runtime.savePipelineCache();
    expect(runtime.validationMessages()).toEqual([]);
    runtime.dispose();
    return { created, final: runtime.pipelineCache };
  } finally {
    runtime.dispose();
  }
}

function noTempFiles(dir: string): void {
  expect(readdirSync(dir).filter((f) => f.includes(".tmp-"))).toEqual([]);
}

describe("pipeline cache file", () => {
  let dir: string;
  let file: string;
  let valid: Buffer;

  it("is written at dispose after the kernels were built, named after the device and driver", async () => {
    dir = join(tempDir(), "nested", "pipelines"); // created when missing
    const { created, final } = await runRuntime({ pipelineCache: dir }, true);
    expect(created.hit).toBe(false);
    expect(created.loadedBytes).toBe(0);
    expect(created.error).toBeNull();
    file = created.path!;
    expect(dirname(file)).toBe(dir);
    const device = Runtime.listDevices()[0];
    expect(basename(file)).toMatch(/^[0-9a-f]{4,8}-[0-9a-f]{4,8}-[0-9a-f]{32}\.vkpipelinecache$/);
    const [vendor, deviceId] = basename(file).split("-");
    if (Runtime.listDevices().length === 1) {
      expect(parseInt(vendor, 16)).toBe(device.vendorId);
      expect(parseInt(deviceId, 16)).toBe(device.deviceId);
    }
    expect(existsSync(file)).toBe(true);
    valid = readFileSync(file);
    expect(valid.length).toBeGreaterThanOrEqual(32);
    expect(final.savedBytes).toBe(valid.length);
    expect(final.error).toBeNull();
    // VkPipelineCacheHeaderVersionOne, little-endian: headerSize, headerVersion = 1.
    expect(valid.readUInt32LE(0)).toBeGreaterThanOrEqual(32);
    expect(valid.readUInt32LE(4)).toBe(1);
    noTempFiles(dir);
  });

  it("is accepted by the next runtime, and not rewritten when nothing changed", async () => {
    const before = statSync(file).mtimeMs;
    const runtime = await Runtime.create({ validation: true, pipelineCache: dir });
    try {
      expect(runtime.pipelineCache).toMatchObject({ path: file, hit: true, loadedBytes: valid.length, savedBytes: 0, error: null });
      expect(runtime.savePipelineCache()).toBe(false); // the driver's data is what the file holds
      expect(runtime.validationMessages()).toEqual([]);
    } finally {
      runtime.dispose();
    }
    expect(runtime.pipelineCache.savedBytes).toBe(0);
    expect(statSync(file).mtimeMs).toBe(before);
    // Using it: the kernels come out of the cache and generation works as before.
    const { created } = await runRuntime({ pipelineCache: dir }, true);
    expect(created.hit).toBe(true);
    noTempFiles(dir);
  });

  // A runtime whose cache folder does not exist yet, with the model loaded; disposed after `body`, leaving no temporary files.
  async function withFreshCache(options: RuntimeOptions, body: (runtime: Runtime, model: Model, path: string) => Promise<void>) {
    const fresh = join(tempDir(), "pipelines");
    const runtime = await Runtime.create({ ...options, pipelineCache: fresh });
    try {
      await body(runtime, await runtime.loadModel(modelPath), runtime.pipelineCache.path!);
    } finally {
      runtime.dispose();
    }
    noTempFiles(fresh);
  }

  it("is written as soon as a session has built new pipelines, not only at dispose (a game killed later keeps them)", async () => {
    await withFreshCache({ validation: true }, async (runtime, model, path) => {
      expect(existsSync(path)).toBe(false);
      model.createSession({ contextSize: 16 });
      expect(existsSync(path)).toBe(true);
      const saved = runtime.pipelineCache.savedBytes;
      expect(saved).toBe(readFileSync(path).length);
      const mtime = statSync(path).mtimeMs;
      // The same kernels again: nothing new to build, nothing rewritten.
      model.createSession({ contextSize: 16 });
      expect(statSync(path).mtimeMs).toBe(mtime);
      expect(runtime.validationMessages()).toEqual([]);
    });
  });

  it("is written once by a kernel tuning, at its end, not after each of its sessions", async () => {
    await withFreshCache({ tuningStore: false }, async (runtime, model, path) => {
      const writesDuring: number[] = [];
      const report = await model.tune({ force: true, repeat: 1, onProgress: () => writesDuring.push(runtime.pipelineCache.writes) });
      expect(report.source).toBe("measured");
      expect(writesDuring.length).toBeGreaterThan(3);
      // Sessions with new pipelines were built (the defaults' probe, then every setting), yet nothing was written...
      expect(writesDuring.every((w) => w === 0)).toBe(true);
      expect(runtime.pipelineBuilds.pipelines).toBeGreaterThan(10);
      // ... until the end, once.
      expect(runtime.pipelineCache.writes).toBe(1);
      expect(runtime.pipelineCache.savedBytes).toBe(readFileSync(path).length);
    });
  }, 120_000);

  const flip = (offset: number) => (b: Buffer) => {
    const c = Buffer.from(b);
    c[offset] ^= 0xff;
    return c;
  };
  const mutations: Array<[string, (b: Buffer) => Buffer]> = [
    ["garbage", () => Buffer.from("this is not a Vulkan pipeline cache, just some bytes on disk\n".repeat(4))],
    ["an empty file", () => Buffer.alloc(0)],
    ["a truncated header", (b) => b.subarray(0, 20)],
    ["a headerSize below 32", (b) => Buffer.concat([Buffer.from([16, 0, 0, 0]), b.subarray(4)])],
    ["a headerSize beyond the file", (b) => Buffer.concat([Buffer.from([0, 0, 1, 0]), b.subarray(4)])],
    ["another header version", (b) => Buffer.concat([b.subarray(0, 4), Buffer.from([2, 0, 0, 0]), b.subarray(8)])],
    ["another vendorID", flip(8)],
    ["another deviceID", flip(12)],
    ["another pipelineCacheUUID", flip(16)],
    ["another pipelineCacheUUID (last byte)", flip(31)],
  ];

  it.each(mutations)("ignores %s and replaces it with a valid file", async (_, mutate) => {
    writeFileSync(file, mutate(valid));
    const { created, final } = await runRuntime({ pipelineCache: dir });
    expect(created).toMatchObject({ path: file, hit: false, loadedBytes: 0, error: null });
    expect(final.savedBytes).toBeGreaterThanOrEqual(32);
    const again = await runRuntime({ pipelineCache: dir });
    expect(again.created.hit).toBe(true);
    expect(again.created.loadedBytes).toBe(statSync(file).size);
    noTempFiles(dir);
  });

  it("survives two runtimes sharing the folder", async () => {
    const a = await Runtime.create({ pipelineCache: dir });
    const b = await Runtime.create({ pipelineCache: dir });
    b.dispose();
    a.dispose();
    const { created } = await runRuntime({ pipelineCache: dir });
    expect(created.hit).toBe(true);
    noTempFiles(dir);
  });
});

describe("pipeline cache location", () => {
  it("pipelineCache: false writes nothing, even where PARLEY_CACHE_DIR points", async () => {
    const root = tempDir();
    await withEnv({ PARLEY_CACHE_DIR: root, PARLEY_PIPELINE_CACHE: undefined }, async () => {
      const { created, final } = await runRuntime({ pipelineCache: false }, true);
      expect(created).toEqual({ path: null, loadedBytes: 0, savedBytes: 0, writes: 0, hit: false, error: null });
      expect(final.savedBytes).toBe(0);
    });
    expect(readdirSync(root)).toEqual([]);
  });

  it("PARLEY_PIPELINE_CACHE=0 disables it, even with a folder given", async () => {
    const root = tempDir();
    await withEnv({ PARLEY_PIPELINE_CACHE: "0" }, async () => {
      const { created } = await runRuntime({ pipelineCache: root });
      expect(created.path).toBeNull();
    });
    expect(readdirSync(root)).toEqual([]);
  });

  it("defaults to $PARLEY_CACHE_DIR/pipelines when set", async () => {
    const root = tempDir();
    await withEnv({ PARLEY_CACHE_DIR: root, PARLEY_PIPELINE_CACHE: undefined }, async () => {
      const { created, final } = await runRuntime({});
      expect(dirname(created.path!)).toBe(join(root, "pipelines"));
      expect(final.savedBytes).toBeGreaterThan(0);
    });
    expect(readdirSync(join(root, "pipelines")).length).toBe(1);
  });

  it("resolves the default folder from the environment", () => {
    expect(defaultPipelineCacheDir({ PARLEY_CACHE_DIR: "/games/npc", XDG_CACHE_HOME: "/xdg" })).toBe("/games/npc/pipelines");
    expect(defaultPipelineCacheDir({ XDG_CACHE_HOME: "/xdg" })).toBe("/xdg/parley/pipelines");
    expect(defaultPipelineCacheDir({ PARLEY_CACHE_DIR: "", XDG_CACHE_HOME: "relative/is/ignored" })).toBe(join(homedir(), ".cache", "parley", "pipelines"));
    expect(defaultPipelineCacheDir({})).toBe(join(homedir(), ".cache", "parley", "pipelines"));
    expect(defaultPipelineCacheDir({ PARLEY_PIPELINE_CACHE: "0", PARLEY_CACHE_DIR: "/x" })).toBeNull();
  });

  it("an unwritable folder (under a regular file) does not fail the runtime; the error is in the stats", async () => {
    const blocker = join(tempDir(), "a-file");
    writeFileSync(blocker, "not a folder");
    const { created, final } = await runRuntime({ pipelineCache: join(blocker, "pipelines") }, true);
    expect(created.hit).toBe(false);
    expect(created.error).toMatch(/a-file/);
    expect(final.savedBytes).toBe(0);
    expect(final.error).toEqual(expect.any(String));
    expect(readFileSync(blocker, "utf8")).toBe("not a folder");
  });

  it("rejects an empty or non-string folder", async () => {
    await expect(Runtime.create({ pipelineCache: "" })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(Runtime.create({ pipelineCache: true as unknown as string })).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});
