// Kernel tuning (runtime/tuning/: settings, measure, store): Model.tune() times the decode and prefill
// kernels' settings on the real device (lavapipe here), keeps the fastest, applies them to new sessions and
// stores them; a later load on the same device, driver, kernels and model applies them without measuring.
// The choice rules and the search order are checked on given timings (which setting wins is the logic under
// test; the timings on this machine are noise, never asserted).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AbortError, InvalidArgumentError, Runtime, TuningFailedError, type DecodeTuning, type KernelTuning, type PrefillTuning } from "../../runtime/index.js";
import {
  argmaxOf,
  chooseTuning,
  logitAgreement,
  logitError,
  searchDecodeTuning,
  searchPrefillTuning,
  TUNING_LOGIT_TOLERANCE,
  TUNING_MARGIN,
  type TuningCandidate,
} from "../../runtime/tuning/measure.js";
import { describeDecodeTuning } from "../../runtime/tuning/settings.js";
import { defaultTuningStoreDir, TUNING_FILE } from "../../runtime/tuning/store.js";
import { syntheticModel } from "../fixtures/models.js";
import { REPO_ROOT } from "../fixtures/repo-root.js";

const tuning = (rowsPerSubgroup: number, stageInput = false, wideLoads = false, integerDot = false): DecodeTuning => ({
  rowsPerSubgroup,
  stageInput,
  wideLoads,
  integerDot,
});
const FAST = { steps: 2, prefillTokens: 8, repeat: 1 };

describe("choosing a tuning", () => {
  const defaults = tuning(1);
  it("keeps the fastest setting that worked", () => {
    const c: TuningCandidate<DecodeTuning>[] = [
      { tuning: defaults, msPerToken: 3 },
      { tuning: tuning(2), msPerToken: 2 },
      { tuning: tuning(4, true), msPerToken: null, error: "pipeline failed" },
      { tuning: tuning(4), msPerToken: 2.5 },
    ];
    expect(chooseTuning(c, defaults).tuning).toEqual(tuning(2));
  });
  it("keeps the defaults unless a setting beats them by more than the margin", () => {
    const within = [
      { tuning: defaults, msPerToken: 1 + TUNING_MARGIN / 2 },
      { tuning: tuning(2), msPerToken: 1 },
    ];
    expect(chooseTuning(within, defaults).tuning).toEqual(defaults);
    const beyond = [
      { tuning: defaults, msPerToken: 1 + TUNING_MARGIN * 2 },
      { tuning: tuning(2), msPerToken: 1 },
    ];
    expect(chooseTuning(beyond, defaults).tuning).toEqual(tuning(2));
  });
  it("fails with a typed error naming each failure when nothing worked", () => {
    const c = [{ tuning: defaults, msPerToken: null, error: "device lost" }];
    expect(() => chooseTuning(c, defaults, describeDecodeTuning)).toThrow(TuningFailedError);
    expect(() => chooseTuning(c, defaults, describeDecodeTuning)).toThrow(/rows 1, unstaged: device lost/);
  });
});

describe("the decode search", () => {
  // Timings a device might give: staging and 2 rows help, wide loads help on top, the integer dot more.
  const cost = (t: DecodeTuning) => 10 - (t.stageInput ? 2 : 0) - (t.rowsPerSubgroup === 2 ? 1 : 0) - (t.wideLoads ? 0.5 : 0) - (t.integerDot ? 3 : 0);
  const measureWith = (timed: DecodeTuning[]) => async (t: DecodeTuning) => {
    timed.push(t);
    return { tuning: t, msPerToken: cost(t) };
  };

  it("times rows × staging, then 16-byte loads on the best so far, and nothing twice", async () => {
    const timed: DecodeTuning[] = [];
    const result = await searchDecodeTuning(tuning(4, true), { integerDot: false }, measureWith(timed));
    expect(timed).toHaveLength(9); // defaults (one of the grid's eight) + 7 more + wide on the best
    expect(new Set(timed.map((t) => JSON.stringify(t))).size).toBe(9);
    expect(timed.at(-1)).toEqual(tuning(2, true, true));
    expect(chooseTuning(result, tuning(4, true)).tuning).toEqual(tuning(2, true, true));
    expect(timed.some((t) => t.integerDot)).toBe(false);
  });

  it("adds the integer dot product with 1, 2 and 4 rows where the device and weights have it", async () => {
    const timed: DecodeTuning[] = [];
    const result = await searchDecodeTuning(tuning(1), { integerDot: true }, measureWith(timed));
    expect(timed.filter((t) => t.integerDot).map((t) => t.rowsPerSubgroup)).toEqual([1, 2, 4]);
    expect(chooseTuning(result, tuning(1)).tuning).toEqual(tuning(2, true, false, true));
  });
});

describe("the prefill search", () => {
  it("times every kernel once, the defaults first, and the integer dot GEMM and cooperative matrices only where they apply", async () => {
    const timed: PrefillTuning[] = [];
    const cost: Record<string, number> = { gemm: 3, tiled16: 4, matvec: 2, lane: 5, coopmat: 0.5 };
    const measure = async (t: PrefillTuning) => {
      timed.push(t);
      return { tuning: t, msPerToken: t.integerDot ? 1 : cost[t.kernel] };
    };
    const without = await searchPrefillTuning({ kernel: "matvec", integerDot: false }, { integerDot: false, cooperativeMatrix: false }, measure);
    expect(timed.map((t) => t.kernel)).toEqual(["matvec", "gemm", "tiled16", "lane"]);
    expect(chooseTuning(without, { kernel: "matvec", integerDot: false }).tuning).toEqual({ kernel: "matvec", integerDot: false });
    timed.length = 0;
    const withDot = await searchPrefillTuning({ kernel: "gemm", integerDot: false }, { integerDot: true, cooperativeMatrix: false }, measure);
    expect(timed).toHaveLength(5);
    expect(chooseTuning(withDot, { kernel: "gemm", integerDot: false }).tuning).toEqual({ kernel: "gemm", integerDot: true });
    timed.length = 0;
    const withCoopmat = await searchPrefillTuning({ kernel: "gemm", integerDot: false }, { integerDot: true, cooperativeMatrix: true }, measure);
    expect(timed.map((t) => t.kernel)).toEqual(["gemm", "tiled16", "matvec", "lane", "coopmat", "gemm"]);
    expect(chooseTuning(withCoopmat, { kernel: "gemm", integerDot: false }).tuning).toEqual({ kernel: "coopmat", integerDot: false });
  });
});

describe("checking each setting's logits against the defaults'", () => {
  it("finds the argmax the GPU must return: the largest logit, the lowest index on ties", () => {
    expect(argmaxOf(Float32Array.from([1, 3, 2, 3]))).toBe(1);
    expect(argmaxOf(Float32Array.from([NaN, -1, -2]))).toBe(1); // as on the GPU: a NaN never wins
    expect(argmaxOf(Float32Array.from([-5, -1, -2]))).toBe(1);
  });

  it("measures the error relative to the defaults' largest logit", () => {
    const want = Float32Array.from([1, -4, 2]);
    expect(logitError(want, want)).toBe(0);
    expect(logitError(Float32Array.from([1.2, -4, 2]), want)).toBeCloseTo(0.05, 6);
    expect(logitError(Float32Array.from([1, NaN, 2]), want)).toBe(Infinity);
    expect(logitError(Float32Array.from([1, -4]), want)).toBe(Infinity);
    expect(logitError(Float32Array.from([0, 1]), new Float32Array(2))).toBe(Infinity);
  });

  it("keeps settings within the tolerance of the first logits and rejects the rest with a TuningFailedError", () => {
    const agree = logitAgreement();
    const reference = Float32Array.from({ length: 100 }, (_, i) => Math.sin(i) * 10);
    expect(agree(reference)).toBe(0);
    const rounded = reference.map((v, i) => v + (i % 2 ? 0.05 : -0.05));
    expect(agree(rounded)).toBeCloseTo(0.005, 3);
    const wrongRows = reference.map((v, i) => (i < 50 ? v : -v));
    expect(() => agree(wrongRows)).toThrow(TuningFailedError);
    expect(() => agree(reference.map(() => NaN))).toThrow(/differ from the default kernels'/);
    expect(agree(reference.map((v) => v * (1 + TUNING_LOGIT_TOLERANCE / 2)))).toBeLessThanOrEqual(TUNING_LOGIT_TOLERANCE);
  });
});

describe("Model.tune on the device", () => {
  let store: string;
  let path: string;
  beforeAll(async () => {
    store = mkdtempSync(join(tmpdir(), "parley-tuning-"));
    path = await syntheticModel("tiny", "q4_0");
  });
  afterAll(() => rmSync(store, { recursive: true, force: true }));

  it("times both phases' settings, keeps the best, applies them to new sessions and stores them", async () => {
    const runtime = await Runtime.create({ tuningStore: store, validation: true });
    try {
      const model = await runtime.loadModel(path);
      expect(model.tuning).toBeNull();
      const before = model.createSession({ contextSize: 8 });
      const progress: Array<[string, unknown]> = [];
      const report = await model.tune({ ...FAST, onProgress: (p) => progress.push([p.phase, p.setting]) });
      expect(report.source).toBe("measured");
      expect(report.decode.candidates.length).toBeGreaterThanOrEqual(9);
      // lavapipe's integer dot product is emulated but present: the prefill search has all 5 settings.
      expect(report.prefill.candidates.map((c) => c.tuning)).toEqual(
        expect.arrayContaining([
          { kernel: "gemm", integerDot: false },
          { kernel: "gemm", integerDot: true },
          { kernel: "lane", integerDot: false },
        ]),
      );
      expect(progress).toEqual([...report.decode.candidates.map((c) => ["decode", c.tuning]), ...report.prefill.candidates.map((c) => ["prefill", c.tuning])]);
      for (const phase of [report.decode, report.prefill] as const) {
        expect(phase.candidates[0].tuning).toEqual(phase.defaults);
        expect(phase.candidates[0].logitError).toBe(0);
        for (const c of phase.candidates) {
          if (c.msPerToken === null) expect(c.error).toBeTruthy();
          else expect(c.msPerToken).toBeGreaterThan(0);
          // Every kernel on lavapipe computes the same logits within rounding (the check ran for each).
          if (c.msPerToken !== null) expect(c.logitError).toBeLessThan(TUNING_LOGIT_TOLERANCE);
        }
        expect(phase.tuning).toEqual(chooseTuning<object>(phase.candidates, phase.defaults).tuning);
      }
      const tuned: KernelTuning = { decode: report.decode.tuning, prefill: report.prefill.tuning };
      const defaults: KernelTuning = { decode: report.decode.defaults, prefill: report.prefill.defaults };
      expect(report.tuning).toEqual(tuned);
      expect(model.tuning).toEqual(tuned);
      expect(model.createSession({ contextSize: 8 }).tuning).toEqual(tuned);
      expect(before.tuning).toEqual(defaults); // sessions made before keep theirs
      expect(model.createSession({ contextSize: 8, tuning: "default" }).tuning).toEqual(defaults);
      // A part given by the session, the other from the model.
      const pinned = model.createSession({ contextSize: 8, tuning: { decode: tuning(8) } }).tuning;
      expect(pinned).toEqual({ decode: tuning(8), prefill: tuned.prefill });
      // Explicit kernel sets: "cpu" has no matrix-vector decode; neither takes the prefill tuning.
      const cpuSet = model.createSession({ contextSize: 8, kernels: "cpu", tuning: { prefill: { kernel: "gemm", integerDot: true } } }).tuning;
      expect(cpuSet).toEqual({ decode: null, prefill: { kernel: "lane", integerDot: false } });

      expect(report.storeError).toBeNull();
      expect(report.storePath).toBe(join(store, TUNING_FILE));
      const file = JSON.parse(readFileSync(report.storePath!, "utf8"));
      expect(Object.values(file.entries)).toEqual([expect.objectContaining({ tuning: tuned, device: runtime.device.name })]);
      expect(readdirSync(store)).toEqual([TUNING_FILE]); // no temporary file left behind
      expect(runtime.validationMessages()).toEqual([]);
    } finally {
      runtime.dispose();
    }

    // The next process on this device: applied at load, nothing timed unless forced.
    const next = await Runtime.create({ tuningStore: store });
    try {
      const model = await next.loadModel(path);
      const stored = JSON.parse(readFileSync(join(store, TUNING_FILE), "utf8"));
      const [entry] = Object.values(stored.entries) as Array<{ tuning: KernelTuning }>;
      expect(model.tuning).toEqual(entry.tuning);
      let timed = 0;
      const again = await model.tune({ ...FAST, onProgress: () => timed++ });
      expect(again).toMatchObject({ source: "stored", tuning: entry.tuning, decode: { candidates: [] }, prefill: { candidates: [] } });
      expect(timed).toBe(0);
      await expect(model.tune({ repeat: 0 })).rejects.toThrow(InvalidArgumentError); // bad input fails with a stored result too
      const forced = await model.tune({ ...FAST, force: true, onProgress: () => timed++ });
      expect(forced.source).toBe("measured");
      expect(timed).toBe(forced.decode.candidates.length + forced.prefill.candidates.length);
      // Another model (other weight formats): not this tuning's; stored beside it.
      const other = await next.loadModel(await syntheticModel("tiny", "q8_0"));
      expect(other.tuning).toBeNull();
      await other.tune(FAST);
      expect(Object.keys(JSON.parse(readFileSync(join(store, TUNING_FILE), "utf8")).entries)).toHaveLength(2);
    } finally {
      next.dispose();
    }
  });

  it("a setting only changes how the work is split: tuned sessions compute the same logits", async () => {
    const runtime = await Runtime.create({ tuningStore: false });
    try {
      const model = await runtime.loadModel(path);
      const tokens = [1, 15043, 29892, 920, 526, 366, 29973, 306];
      // The prompt's first 5 tokens in one step (prefill kernels), then one at a time (decode kernels).
      const logits = async (t: Partial<KernelTuning> | "default") => {
        const s = model.createSession({ contextSize: 16, tuning: t });
        const out = [(await s.evaluate(tokens.slice(0, 5), { logits: "last" })).logits!];
        for (const tok of tokens.slice(5)) out.push((await s.evaluate([tok], { logits: "last" })).logits!);
        s.dispose();
        return out;
      };
      const reference = await logits("default");
      const settings: Partial<KernelTuning>[] = [
        { decode: tuning(1), prefill: { kernel: "gemm", integerDot: false } },
        { decode: tuning(2, true, true), prefill: { kernel: "tiled16", integerDot: false } },
        { decode: tuning(8, false), prefill: { kernel: "lane", integerDot: false } },
        { prefill: { kernel: "matvec", integerDot: false } },
      ];
      for (const t of settings) {
        const got = await logits(t);
        for (let i = 0; i < got.length; i++) {
          const scale = Math.max(...reference[i].map(Math.abs));
          const worst = Math.max(...got[i].map((v, j) => Math.abs(v - reference[i][j])));
          expect(worst / scale, JSON.stringify(t)).toBeLessThan(1e-3);
        }
      }
      // The integer dot GEMM rounds x to bytes: close, not float-close (test/native/prefill-dot8.gpu.test.ts bounds it).
      const dot8 = await logits({ prefill: { kernel: "gemm", integerDot: true } });
      const scale = Math.max(...reference[0].map(Math.abs));
      const moved = Math.max(...dot8[0].map((v, j) => Math.abs(v - reference[0][j]))) / scale;
      expect(moved).toBeGreaterThan(1e-5);
      expect(moved).toBeLessThan(5e-2);
    } finally {
      runtime.dispose();
    }
  });

  it("rejects bad settings and tuning under the environment's overrides with typed errors", async () => {
    const runtime = await Runtime.create({ tuningStore: false });
    try {
      const model = await runtime.loadModel(path);
      expect(() => model.createSession({ tuning: { decode: tuning(3) } })).toThrow(InvalidArgumentError);
      expect(() => model.createSession({ tuning: { decode: { rowsPerSubgroup: 2 } as DecodeTuning } })).toThrow(/stageInput must be true or false/);
      expect(() => model.createSession({ tuning: { prefill: { kernel: "fast" } as unknown as PrefillTuning } })).toThrow(/kernel must be one of gemm/);
      expect(() => model.createSession({ tuning: "fastest" as "default" })).toThrow(InvalidArgumentError);
      await expect(model.tune({ steps: 0 })).rejects.toThrow(InvalidArgumentError);
      await expect(model.tune({ prefillTokens: 600 })).rejects.toThrow(/prefillTokens/);
      for (const name of ["PARLEY_MATVEC_ROWS", "PARLEY_PREFILL"]) {
        process.env[name] = name === "PARLEY_PREFILL" ? "gemm" : "2";
        try {
          await expect(model.tune(FAST)).rejects.toThrow(new RegExp(name));
        } finally {
          delete process.env[name];
        }
      }
      // Aborting (a skipped loading screen) stops before the next setting; nothing is applied.
      const controller = new AbortController();
      let started = 0;
      const aborted = model.tune({ ...FAST, signal: controller.signal, onProgress: () => ++started === 3 && controller.abort() });
      await expect(aborted).rejects.toBeInstanceOf(AbortError);
      expect(started).toBe(3);
      expect(model.tuning).toBeNull();
      const report = await model.tune(FAST);
      expect(report.storePath).toBeNull();
      expect(model.tuning).toEqual(report.tuning);
    } finally {
      runtime.dispose();
    }
  });

  it("a corrupt store reads as empty and is replaced; an unwritable one is reported, never thrown", async () => {
    const dir = mkdtempSync(join(tmpdir(), "parley-tuning-bad-"));
    try {
      writeFileSync(join(dir, TUNING_FILE), "{ not json");
      let runtime = await Runtime.create({ tuningStore: dir });
      let model = await runtime.loadModel(path);
      expect(model.tuning).toBeNull();
      const report = await model.tune(FAST);
      expect(report.storeError).toBeNull();
      expect(JSON.parse(readFileSync(join(dir, TUNING_FILE), "utf8")).format).toBe("parley-kernel-tuning");
      runtime.dispose();

      // A store copied from a GPU with cooperative matrices: ignored at load where they are missing (every
      // session would fail otherwise), applied where they are present.
      const file = JSON.parse(readFileSync(join(dir, TUNING_FILE), "utf8"));
      for (const entry of Object.values(file.entries) as Array<{ tuning: KernelTuning }>) entry.tuning.prefill = { kernel: "coopmat", integerDot: false };
      writeFileSync(join(dir, TUNING_FILE), JSON.stringify(file));
      runtime = await Runtime.create({ tuningStore: dir });
      model = await runtime.loadModel(path);
      expect(model.tuning?.prefill.kernel ?? null).toBe(runtime.device.cooperativeMatrixPrefill ? "coopmat" : null);
      model.createSession({ contextSize: 8 }).dispose();
      runtime.dispose();

      const blocked = join(dir, "a-file");
      writeFileSync(blocked, "");
      runtime = await Runtime.create({ tuningStore: join(blocked, "tuning") });
      model = await runtime.loadModel(path);
      const unstored = await model.tune(FAST);
      expect(unstored.storeError).toMatch(/cannot write/);
      expect(model.tuning).toEqual(unstored.tuning);
      runtime.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the default tuning store", () => {
  it("lives under Parley's cache folder; PARLEY_TUNING_CACHE=0 turns it off", () => {
    expect(defaultTuningStoreDir({ PARLEY_CACHE_DIR: "/games/cache" })).toBe("/games/cache/tuning");
    expect(defaultTuningStoreDir({ XDG_CACHE_HOME: "/xdg" })).toBe("/xdg/parley/tuning");
    expect(defaultTuningStoreDir({ PARLEY_CACHE_DIR: "/games/cache", PARLEY_TUNING_CACHE: "0" })).toBeNull();
  });
});

describe("parley tune", () => {
  it("measures and stores, then reports the stored tuning", async () => {
    const root = REPO_ROOT;
    const cache = mkdtempSync(join(tmpdir(), "parley-tune-cli-"));
    const model = await syntheticModel("tiny", "q4_0");
    // The default store under PARLEY_CACHE_DIR (vitest.config.ts turns the default off for the suites).
    const env: NodeJS.ProcessEnv = { ...process.env, PARLEY_CACHE_DIR: cache };
    delete env.PARLEY_TUNING_CACHE;
    const run = (...args: string[]) => {
      const r = spawnSync(
        process.execPath,
        [`${root}dist/runtime/cli.js`, "tune", "--model", model, "--steps", "2", "--prefill-tokens", "8", "--repeat", "1", ...args],
        {
          cwd: root,
          encoding: "utf8",
          timeout: 240_000,
          env,
        },
      );
      expect(r.status, r.stderr).toBe(0);
      return r.stdout;
    };
    try {
      const first = JSON.parse(run("--json"));
      expect(first.source).toBe("measured");
      expect(first.storePath).toBe(join(cache, "tuning", TUNING_FILE));
      const text = run();
      expect(text).toMatch(/^stored: decode rows \d.*; prefill (gemm|tiled16|matvec|lane)/m);
      expect(text).toMatch(/--force measures again/);
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });
});
