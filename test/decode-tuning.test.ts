// Decode tuning (runtime/decode-tuning.ts, runtime/tuning-store.ts): Model.tuneDecode() times the decode
// kernels' settings on the real device (lavapipe here), keeps the fastest, applies it to new sessions and
// stores it; a later load on the same device, driver, kernels and model applies it without measuring. The
// choice rules and the search order are checked on given timings (which setting wins is the logic under test;
// the timings on this machine are noise, never asserted).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvalidArgumentError, Runtime, TuningFailedError, type DecodeTuning } from "../runtime/index.js";
import { chooseTuning, searchTuning, TUNING_MARGIN, type TuningCandidate } from "../runtime/decode-tuning.js";
import { TUNING_FILE } from "../runtime/tuning-store.js";
import { syntheticModel } from "./fixtures/models.js";

const tuning = (rowsPerSubgroup: number, stageInput = false, wideLoads = false, integerDot = false): DecodeTuning => ({
  rowsPerSubgroup, stageInput, wideLoads, integerDot,
});
const FAST = { steps: 2, repeat: 1 };

describe("choosing a tuning", () => {
  const defaults = tuning(1);
  it("keeps the fastest setting that worked", () => {
    const c: TuningCandidate[] = [
      { tuning: defaults, msPerToken: 3 },
      { tuning: tuning(2), msPerToken: 2 },
      { tuning: tuning(4, true), msPerToken: null, error: "pipeline failed" },
      { tuning: tuning(4), msPerToken: 2.5 },
    ];
    expect(chooseTuning(c, defaults).tuning).toEqual(tuning(2));
  });
  it("keeps the defaults unless a setting beats them by more than the margin", () => {
    const within = [{ tuning: defaults, msPerToken: 1 + TUNING_MARGIN / 2 }, { tuning: tuning(2), msPerToken: 1 }];
    expect(chooseTuning(within, defaults).tuning).toEqual(defaults);
    const beyond = [{ tuning: defaults, msPerToken: 1 + TUNING_MARGIN * 2 }, { tuning: tuning(2), msPerToken: 1 }];
    expect(chooseTuning(beyond, defaults).tuning).toEqual(tuning(2));
  });
  it("fails with a typed error naming each failure when nothing worked", () => {
    const c = [{ tuning: defaults, msPerToken: null, error: "device lost" }];
    expect(() => chooseTuning(c, defaults)).toThrow(TuningFailedError);
    expect(() => chooseTuning(c, defaults)).toThrow(/rows 1, unstaged: device lost/);
  });
});

describe("the search", () => {
  // Timings a device might give: staging and 2 rows help, wide loads help on top, the integer dot more.
  const cost = (t: DecodeTuning) => 10 - (t.stageInput ? 2 : 0) - (t.rowsPerSubgroup === 2 ? 1 : 0) - (t.wideLoads ? 0.5 : 0) - (t.integerDot ? 3 : 0);
  const measureWith = (timed: DecodeTuning[]) => async (t: DecodeTuning) => {
    timed.push(t);
    return { tuning: t, msPerToken: cost(t) };
  };

  it("times rows × staging, then 16-byte loads on the best so far, and nothing twice", async () => {
    const timed: DecodeTuning[] = [];
    const result = await searchTuning(tuning(4, true), { integerDot: false }, measureWith(timed));
    expect(timed).toHaveLength(7); // defaults (one of the grid's six) + 5 more + wide on the best
    expect(new Set(timed.map((t) => JSON.stringify(t))).size).toBe(7);
    expect(timed.at(-1)).toEqual(tuning(2, true, true));
    expect(chooseTuning(result, tuning(4, true)).tuning).toEqual(tuning(2, true, true));
    expect(timed.some((t) => t.integerDot)).toBe(false);
  });

  it("adds the integer dot product with 1, 2 and 4 rows where the device and weights have it", async () => {
    const timed: DecodeTuning[] = [];
    const result = await searchTuning(tuning(1), { integerDot: true }, measureWith(timed));
    expect(timed.filter((t) => t.integerDot).map((t) => t.rowsPerSubgroup)).toEqual([1, 2, 4]);
    expect(chooseTuning(result, tuning(1)).tuning).toEqual(tuning(2, true, false, true));
  });
});

describe("Model.tuneDecode on the device", () => {
  let store: string;
  let path: string;
  beforeAll(async () => {
    store = mkdtempSync(join(tmpdir(), "parley-tuning-"));
    path = await syntheticModel("tiny", "q4_0");
  });
  afterAll(() => rmSync(store, { recursive: true, force: true }));

  it("times the settings, keeps the best, applies it to new sessions and stores it", async () => {
    const runtime = await Runtime.create({ tuningStore: store, validation: true });
    try {
      const model = await runtime.loadModel(path);
      expect(model.decodeTuning).toBeNull();
      const before = model.createSession({ contextSize: 8 });
      const progress: DecodeTuning[] = [];
      const report = await model.tuneDecode({ ...FAST, onProgress: (p) => progress.push(p.tuning) });
      expect(report.source).toBe("measured");
      expect(report.candidates.length).toBeGreaterThanOrEqual(7);
      expect(progress).toEqual(report.candidates.map((c) => c.tuning));
      expect(report.candidates[0].tuning).toEqual(report.defaults);
      for (const c of report.candidates) {
        if (c.msPerToken === null) expect(c.error).toBeTruthy();
        else expect(c.msPerToken).toBeGreaterThan(0);
      }
      expect(report.tuning).toEqual(chooseTuning(report.candidates, report.defaults).tuning);
      expect(model.decodeTuning).toEqual(report.tuning);
      expect(model.createSession({ contextSize: 8 }).decodeTuning).toEqual(report.tuning);
      expect(before.decodeTuning).toEqual(report.defaults); // sessions made before keep theirs
      expect(model.createSession({ contextSize: 8, decodeTuning: "default" }).decodeTuning).toEqual(report.defaults);
      expect(model.createSession({ contextSize: 8, kernels: "cpu" }).decodeTuning).toBeNull();

      expect(report.storeError).toBeNull();
      expect(report.storePath).toBe(join(store, TUNING_FILE));
      const file = JSON.parse(readFileSync(report.storePath!, "utf8"));
      expect(Object.values(file.entries)).toEqual([expect.objectContaining({ tuning: report.tuning, device: runtime.device.name })]);
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
      const [entry] = Object.values(stored.entries) as Array<{ tuning: DecodeTuning }>;
      expect(model.decodeTuning).toEqual(entry.tuning);
      let timed = 0;
      const again = await model.tuneDecode({ ...FAST, onProgress: () => timed++ });
      expect(again).toMatchObject({ source: "stored", tuning: entry.tuning, candidates: [] });
      expect(timed).toBe(0);
      const forced = await model.tuneDecode({ ...FAST, force: true, onProgress: () => timed++ });
      expect(forced.source).toBe("measured");
      expect(timed).toBe(forced.candidates.length);
      // Another model (other weight formats): not this tuning's; stored beside it.
      const other = await next.loadModel(await syntheticModel("tiny", "q8_0"));
      expect(other.decodeTuning).toBeNull();
      await other.tuneDecode(FAST);
      expect(Object.keys(JSON.parse(readFileSync(join(store, TUNING_FILE), "utf8")).entries)).toHaveLength(2);
    } finally {
      next.dispose();
    }
  });

  it("a setting only changes how the work is split: a tuned session decodes the same logits", async () => {
    const runtime = await Runtime.create({ tuningStore: false });
    try {
      const model = await runtime.loadModel(path);
      const tokens = [1, 15043, 29892, 920];
      const logits = async (decodeTuning: DecodeTuning | "default") => {
        const s = model.createSession({ contextSize: 8, decodeTuning });
        const out = [];
        for (const t of tokens) out.push((await s.evaluate([t], { logits: "last" })).logits!);
        s.dispose();
        return out;
      };
      const reference = await logits("default");
      for (const t of [tuning(1), tuning(2, true, true), tuning(8, false)]) {
        const got = await logits(t);
        for (let i = 0; i < tokens.length; i++) {
          const scale = Math.max(...reference[i].map(Math.abs));
          const worst = Math.max(...got[i].map((v, j) => Math.abs(v - reference[i][j])));
          expect(worst / scale).toBeLessThan(1e-3);
        }
      }
    } finally {
      runtime.dispose();
    }
  });

  it("rejects bad settings and tuning under the environment's overrides with typed errors", async () => {
    const runtime = await Runtime.create({ tuningStore: false });
    try {
      const model = await runtime.loadModel(path);
      expect(() => model.createSession({ decodeTuning: tuning(3) })).toThrow(InvalidArgumentError);
      expect(() => model.createSession({ decodeTuning: { rowsPerSubgroup: 2 } as DecodeTuning })).toThrow(/stageInput must be true or false/);
      await expect(model.tuneDecode({ steps: 0 })).rejects.toThrow(InvalidArgumentError);
      process.env.PARLEY_MATVEC_ROWS = "2";
      try {
        await expect(model.tuneDecode(FAST)).rejects.toThrow(/PARLEY_MATVEC_ROWS/);
      } finally {
        delete process.env.PARLEY_MATVEC_ROWS;
      }
      const report = await model.tuneDecode(FAST);
      expect(report.storePath).toBeNull();
      expect(model.decodeTuning).toEqual(report.tuning);
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
      expect(model.decodeTuning).toBeNull();
      const report = await model.tuneDecode(FAST);
      expect(report.storeError).toBeNull();
      expect(JSON.parse(readFileSync(join(dir, TUNING_FILE), "utf8")).format).toBe("parley-decode-tuning");
      runtime.dispose();

      const blocked = join(dir, "a-file");
      writeFileSync(blocked, "");
      runtime = await Runtime.create({ tuningStore: join(blocked, "tuning") });
      model = await runtime.loadModel(path);
      const unstored = await model.tuneDecode(FAST);
      expect(unstored.storeError).toMatch(/cannot write/);
      expect(model.decodeTuning).toEqual(unstored.tuning);
      runtime.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("parley tune", () => {
  it("measures and stores, then reports the stored tuning", async () => {
    const root = fileURLToPath(new URL("..", import.meta.url));
    const cache = mkdtempSync(join(tmpdir(), "parley-tune-cli-"));
    const model = await syntheticModel("tiny", "q4_0");
    const run = (...args: string[]) => {
      const r = spawnSync(process.execPath, [`${root}dist/runtime/cli.js`, "tune", "--model", model, "--steps", "2", "--repeat", "1", ...args], {
        cwd: root, encoding: "utf8", timeout: 240_000, env: { ...process.env, PARLEY_CACHE_DIR: cache },
      });
      expect(r.status, r.stderr).toBe(0);
      return r.stdout;
    };
    try {
      const first = JSON.parse(run("--json"));
      expect(first.source).toBe("measured");
      expect(first.storePath).toBe(join(cache, "tuning", TUNING_FILE));
      const text = run();
      expect(text).toMatch(/^stored: rows \d/m);
      expect(text).toMatch(/--force measures again/);
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });
});
