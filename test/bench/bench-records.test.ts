// Performance records (bench/records.ts) and their chart (bench/chart.ts): a record from a bench
// report, the atomic append to a records file (and refusing a malformed one untouched), and the SVG: well formed,
// text escaped, bars on the right side of the 1× line, the decode target only on decode bars. No device needed.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DECODE_TARGET_RATIO, escapeXml, renderChart } from "../../bench/chart.js";
import { FileAccessError, InvalidArgumentError } from "../../runtime/errors.js";
import { appendRecord, checkRecordsFile, readRecords, recordFromReport, validateRecord, type PerfRecord } from "../../bench/records.js";
import { RATIO_CONVENTION, computeRatios, decodeFigure, prefillFigure, type BenchReport, type ParleyFigures, type PeerFigures } from "../../bench/report.js";
import { REPO_ROOT } from "../fixtures/repo-root.js";

const root = REPO_ROOT;

function firstToken(ms: number) {
  return { ms, sinceChildOriginMs: ms - 40, promptTokens: 16, phases: { imported: 90, loaded: ms - 120, firstToken: ms - 40 } };
}

/** A bench report as `npm run bench -- --json` prints it (an H200 run against llama.cpp Vulkan), built by hand. */
function sampleReport(options: { peer?: "vulkan" | "cpu" | null } = {}): BenchReport {
  const parley: ParleyFigures = {
    initMs: 61.2,
    loadMs: 402.5,
    firstToken: { ...firstToken(845.3), pipelineCacheWarm: true },
    prefill: [prefillFigure(128, [80.1, 79.7, 79.9]), prefillFigure(512, [336.7, 337.2, 336.1])],
    decode: decodeFigure([3.3, 3.31, 3.32, 3.29, 3.31], 16),
    deviceBytes: 771_000_000,
    device: { name: "NVIDIA H200", type: "discrete", driverName: "NVIDIA", driverInfo: "580.159.04", apiVersion: "1.4.312" },
    ubatch: 64,
    contextSize: 2048,
    deviceMemory: { weightsBytes: 640_000_000, sessionBytes: 131_000_000 },
    plan: { dispatches: 179, barriers: 112, weightBytes: 637_000_000 },
    decodeLoop: decodeFigure([2.9, 2.91, 2.92, 2.89, 2.9], 16),
  };
  const kind = options.peer === undefined ? "vulkan" : options.peer;
  const peer: PeerFigures | null =
    kind === null
      ? null
      : {
          initMs: 350,
          loadMs: 210,
          firstToken: firstToken(4219),
          prefill: [prefillFigure(128, [22.5, 22.6, 22.4]), prefillFigure(512, [69.1, 69.0, 69.3])],
          decode: decodeFigure([2.42, 2.41, 2.43, 2.42, 2.44], 16),
          deviceBytes: 900_000_000,
          name: "llama.cpp (node-llama-cpp)",
          version: "3.22.1",
          backend: kind,
          gpuDevices: kind === "vulkan" ? ["NVIDIA H200"] : [],
          threads: kind === "vulkan" ? 16 : 2,
          threadTrials:
            kind === "vulkan"
              ? []
              : [
                  { threads: 1, medianMsPerToken: 30 },
                  { threads: 2, medianMsPerToken: 22.5 },
                ],
          batchSize: 512,
          contextSize: 2048,
          useMmap: true,
          deviceMemorySource: "llama.cpp's own estimate",
        };
  return {
    bench: "parley-vs-llama.cpp",
    ratio_convention: RATIO_CONVENTION,
    date: "2026-11-28T09:30:12.345Z",
    machine: { node: "v20.19.0", platform: "linux", arch: "x64", cpus: 16, cpuModel: "Intel(R) Xeon(R) Platinum 8480C", memoryBytes: 128 * 2 ** 30 },
    model: {
      path: "/tmp/parley-bench/tinyllama-q4_0-seed1.gguf",
      synthesized: true,
      shape: "tinyllama",
      type: "q4_0",
      seed: 1,
      fileBytes: 637_000_000,
      parameterCount: 1_100_048_384,
      tensorTypes: { q4_0: 155, f32: 45, q6_k: 1 },
    },
    settings: { prefill: [128, 512], decode: 5, repeat: 3, seed: 1, firstTokenPromptTokens: 16 },
    notes: ["first-token times run each side's TypeScript entry in a fresh `node --import tsx` process, timed from spawn() to the token"],
    parley,
    peer,
    ratios: peer ? computeRatios(parley, peer) : null,
  };
}

function record(overrides: Partial<PerfRecord> = {}, figures: Partial<PerfRecord["figures"]> = {}): PerfRecord {
  const base = recordFromReport(sampleReport(), "NVIDIA H200");
  return { ...base, ...overrides, figures: { ...base.figures, ...figures } };
}

describe("recordFromReport", () => {
  it("summarizes a run against llama.cpp Vulkan", () => {
    const r = recordFromReport(sampleReport(), "NVIDIA H200 (lab)");
    expect(r).toEqual({
      date: "2026-11-28T09:30:12.345Z",
      machine: "NVIDIA H200 (lab)",
      device: "NVIDIA H200",
      driver: "NVIDIA 580.159.04 (Vulkan 1.4.312)",
      peer: "llama.cpp Vulkan",
      model: { shape: "tinyllama", type: "q4_0", file: "tinyllama-q4_0-seed1.gguf", parameterCount: 1_100_048_384 },
      settings: { decodeSteps: 5, decodeAfterTokens: 16, repeat: 3 },
      figures: {
        decodeMsPerToken: { parley: 3.31, peer: 2.42 },
        decodeLoopMsPerToken: { parley: 2.9, peer: 2.42 },
        prefill: [
          { tokens: 128, parley: 79.9, peer: 22.5 },
          { tokens: 512, parley: 336.7, peer: 69.1 },
        ],
        firstTokenMs: { parley: 845.3, peer: 4219 },
      },
      notes: sampleReport().notes,
    });
    expect(() => validateRecord(r)).not.toThrow();
    // JSON round trip keeps it valid.
    expect(() => validateRecord(JSON.parse(JSON.stringify(r)))).not.toThrow();
  });

  it("keeps the first-launch first token where the report has it, for both sides, and validates it", () => {
    const report = sampleReport();
    report.parley.firstTokenCold = { ...firstToken(2950), pipelineCacheWarm: false };
    report.peer!.firstTokenCold = firstToken(7400);
    const r = recordFromReport(report);
    expect(r.figures.firstTokenColdMs).toEqual({ parley: 2950, peer: 7400 });
    expect(() => validateRecord(JSON.parse(JSON.stringify(r)))).not.toThrow();
    expect(recordFromReport(sampleReport()).figures.firstTokenColdMs).toBeUndefined();
    expect(() => validateRecord(record({}, { firstTokenColdMs: { parley: -1, peer: 1 } }))).toThrow(/firstTokenColdMs\.parley/);
  });

  it("notes the kernel settings the figures were measured with", () => {
    const report = sampleReport();
    report.parley.tuning = {
      decode: { rowsPerSubgroup: 2, stageInput: true, wideLoads: false, integerDot: true },
      prefill: { kernel: "gemm", integerDot: true },
    };
    expect(recordFromReport(report).notes).toContain("Parley's kernels: decode rows 2, staged, int8 dot; prefill gemm, int8 dot");
    report.parley.tuning = { decode: null, prefill: { kernel: "lane", integerDot: false } };
    expect(recordFromReport(report).notes).toContain("Parley's kernels: decode one lane per row; prefill lane");
  });

  it("names a CPU peer with its threads, defaults the machine to the device, and keeps null peers without one", () => {
    const cpu = recordFromReport(sampleReport({ peer: "cpu" }));
    expect(cpu.peer).toBe("llama.cpp CPU, 2 threads");
    expect(cpu.machine).toBe("NVIDIA H200");

    const alone = recordFromReport(sampleReport({ peer: null }));
    expect(alone.peer).toBeNull();
    expect(alone.figures.decodeMsPerToken).toEqual({ parley: 3.31, peer: null });
    expect(alone.figures.prefill.map((p) => p.peer)).toEqual([null, null]);
    expect(alone.figures.firstTokenMs.peer).toBeNull();

    const lavapipe = sampleReport({ peer: "cpu" });
    lavapipe.parley.device = {
      name: "llvmpipe (LLVM 15.0.6, 256 bits)",
      type: "cpu",
      driverName: "llvmpipe",
      driverInfo: "Mesa 22.3.6 (LLVM 15.0.6)",
      apiVersion: "1.3.230",
    };
    lavapipe.machine.cpus = 2;
    lavapipe.machine.cpuModel = "AMD EPYC 7B13";
    const r = recordFromReport(lavapipe);
    expect(r.machine).toBe("2-core AMD EPYC 7B13, llvmpipe (LLVM 15.0.6, 256 bits)");
    expect(r.driver).toBe("llvmpipe Mesa 22.3.6 (LLVM 15.0.6) (Vulkan 1.3.230)");
  });

  it("rejects records with missing or non-positive figures", () => {
    const bad = sampleReport();
    bad.parley.decode.medianMsPerToken = Number.NaN;
    expect(() => recordFromReport(bad)).toThrow(InvalidArgumentError);
    expect(() => validateRecord({ ...record(), date: "yesterday" })).toThrow(/record\.date/);
    expect(() => validateRecord(record({}, { firstTokenMs: { parley: 0, peer: 1 } }))).toThrow(/firstTokenMs\.parley/);
    expect(() =>
      validateRecord(
        record(
          {},
          {
            prefill: [
              { tokens: 8, parley: 1, peer: null },
              { tokens: 8, parley: 2, peer: null },
            ],
          },
        ),
      ),
    ).toThrow(/second figure for 8 tokens/);
    expect(() => validateRecord({ ...record(), extra: 1 })).toThrow(/unknown field "extra"/);
  });
});

describe("appendRecord", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "parley-records-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("creates the file, appends, and leaves no temporary files", () => {
    const file = join(dir, "perf-records.json");
    checkRecordsFile(file); // missing, in an existing folder: fine
    const a = record({ machine: "first" });
    const b = record({ machine: "second", peer: null }, { decodeMsPerToken: { parley: 1.5, peer: null } });
    expect(appendRecord(file, a)).toBe(1);
    expect(readdirSync(dir)).toEqual(["perf-records.json"]);
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual([a]);
    expect(appendRecord(file, b)).toBe(2);
    expect(readdirSync(dir)).toEqual(["perf-records.json"]);
    expect(readRecords(file)).toEqual([a, b]);
    expect(readFileSync(file, "utf8").endsWith("]\n")).toBe(true);
  });

  it("refuses a malformed file without touching it", () => {
    const cases: Array<[string, RegExp]> = [
      ["{ not json", /not JSON/],
      ['{"date": "2026-11-27"}', /must be a JSON array/],
      [`[${JSON.stringify({ ...record(), machine: 42 })}]`, /\[0\]\.machine: must be a string/],
    ];
    for (const [text, message] of cases) {
      const file = join(dir, "records.json");
      writeFileSync(file, text);
      const before = statSync(file).mtimeMs;
      let error: unknown;
      try {
        appendRecord(file, record());
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as InvalidArgumentError).code).toBe("INVALID_ARGUMENT");
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).toMatch(/it was not changed/);
      expect(readFileSync(file, "utf8")).toBe(text);
      expect(statSync(file).mtimeMs).toBe(before);
      expect(readdirSync(dir)).toEqual(["records.json"]);
      expect(() => checkRecordsFile(file)).toThrow(InvalidArgumentError);
    }
  });

  it("refuses an invalid record without touching the file", () => {
    const file = join(dir, "records.json");
    appendRecord(file, record());
    const text = readFileSync(file, "utf8");
    expect(() => appendRecord(file, record({}, { decodeMsPerToken: { parley: -1, peer: 2 } }))).toThrow(InvalidArgumentError);
    expect(readFileSync(file, "utf8")).toBe(text);
    expect(readdirSync(dir)).toEqual(["records.json"]);
  });

  it("reports a missing file or folder as a file access error", () => {
    expect(() => readRecords(join(dir, "none.json"))).toThrow(FileAccessError);
    expect(() => checkRecordsFile(join(dir, "no-folder", "records.json"))).toThrow(FileAccessError);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The chart

/** Checks that `svg` is well-formed XML as far as this generator can break it: balanced tags, quoted attributes,
 * no raw `<` or `&` in text or attribute values. Returns the element names in document order. */
function checkWellFormed(svg: string): string[] {
  const body = svg.replace(/^<\?xml [^?]*\?>\s*/, "");
  const names: string[] = [];
  const stack: string[] = [];
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g;
  let last = 0;
  const checkText = (t: string, where: string) => {
    expect(t, `raw < in ${where}`).not.toMatch(/</);
    expect(t, `raw & in ${where}`).not.toMatch(/&(?!(amp|lt|gt|quot|apos|#\d+);)/);
  };
  for (let m = tag.exec(body); m; m = tag.exec(body)) {
    checkText(body.slice(last, m.index), `text before ${m[0].slice(0, 40)}`);
    last = tag.lastIndex;
    const [, close, name, attrs, selfClose] = m;
    for (const a of attrs.matchAll(/"([^"]*)"/g)) checkText(a[1], `attribute of <${name}>`);
    if (close) {
      expect(stack.pop(), `</${name}> closes the open element`).toBe(name);
    } else {
      names.push(name);
      if (!selfClose) stack.push(name);
    }
  }
  checkText(body.slice(last), "the end");
  expect(body.slice(last).trim()).toBe("");
  expect(stack).toEqual([]);
  expect(names[0]).toBe("svg");
  return names;
}

function attr(element: string, name: string): number {
  const m = new RegExp(`\\s${name}="([^"]*)"`).exec(element);
  if (!m) throw new Error(`no ${name} in ${element}`);
  return Number(m[1]);
}

/** The `<g class="figure" data-figure=…>` groups of the chart, each with its markup. */
function figureGroups(svg: string): Array<{ figure: string; body: string }> {
  return [...svg.matchAll(/<g class="figure" data-figure="([^"]+)">([\s\S]*?)<\/g>/g)].map((m) => ({ figure: m[1], body: m[2] }));
}

describe("renderChart", () => {
  const seeded = readRecords(join(root, "docs/perf-records.json"));

  it("draws well-formed SVG with one bar per figure that has a peer figure", () => {
    const records = [...seeded, record({ peer: null }, { decodeMsPerToken: { parley: 3, peer: null }, decodeLoopMsPerToken: undefined })];
    const svg = renderChart(records);
    checkWellFormed(svg);
    expect(svg.startsWith("<?xml")).toBe(true);
    expect(svg).toMatch(/<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="\d+" height="\d+" viewBox="0 0 \d+ \d+"/);
    const withPeer = records
      .flatMap((r) => [
        r.figures.decodeMsPerToken,
        ...(r.figures.decodeLoopMsPerToken ? [r.figures.decodeLoopMsPerToken] : []),
        ...r.figures.prefill,
        r.figures.firstTokenMs,
        ...(r.figures.firstTokenColdMs ? [r.figures.firstTokenColdMs] : []),
      ])
      .filter((p) => p.peer !== null);
    const bars = svg.match(/<rect class="bar"/g) ?? [];
    expect(bars.length).toBe(withPeer.length);
    // Every figure has a group, and one 1× line per record.
    expect(figureGroups(svg).length).toBe(
      records.reduce((n, r) => n + 2 + r.figures.prefill.length + (r.figures.decodeLoopMsPerToken ? 1 : 0) + (r.figures.firstTokenColdMs ? 1 : 0), 0),
    );
    expect(svg.match(/<line class="one"/g)?.length).toBe(records.length);
    // Labels: ratios and absolute times.
    expect(svg).toContain(">0.73×<");
    expect(svg).toContain("Parley 3.31 ms · llama.cpp 2.42 ms");
    expect(svg).toContain("no llama.cpp figure");
    // Titles: machine, date, driver, model.
    expect(svg).toContain("NVIDIA H200 · 2026-11-27 · synthetic tinyllama Q4_0, 1.10B parameters");
    expect(svg).toContain("driver NVIDIA 580.159.04 (Vulkan 1.4.312)");
    expect(svg).toContain("2026-11-28 09:30 UTC");
  });

  it("escapes text", () => {
    const svg = renderChart([record({ machine: `rig <&> "quoted" 'x'`, notes: ["a < b & c"] })]);
    checkWellFormed(svg);
    expect(svg).toContain("rig &lt;&amp;&gt; &quot;quoted&quot; &apos;x&apos;");
    expect(svg).not.toContain("rig <&>");
    expect(svg).toContain("a &lt; b &amp; c");
    expect(escapeXml(`<a href="x">&</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;");
  });

  it("puts ratios above 1 right of the 1× line and below 1 left of it, on a log2 axis", () => {
    const r = record(
      {},
      {
        decodeMsPerToken: { parley: 1, peer: 2 }, // 2×
        decodeLoopMsPerToken: { parley: 2, peer: 1 }, // 0.5×
        prefill: [{ tokens: 128, parley: 1, peer: 4 }], // 4×
        firstTokenMs: { parley: 4, peer: 1 }, // 0.25×
      },
    );
    const svg = renderChart([r]);
    checkWellFormed(svg);
    const one = /<line class="one"[^>]*>/.exec(svg)![0];
    const centre = attr(one, "x1");
    expect(attr(one, "x2")).toBe(centre);
    const bar = (figure: string) => {
      const g = figureGroups(svg).find((x) => x.figure === figure)!;
      const rect = /<rect class="bar"[^>]*>/.exec(g.body)![0];
      return { x: attr(rect, "x"), right: attr(rect, "x") + attr(rect, "width"), ratio: attr(rect, "data-ratio"), body: g.body };
    };
    const twice = bar("decode");
    expect(twice.ratio).toBeCloseTo(2, 6);
    expect(twice.x).toBeCloseTo(centre, 0);
    expect(twice.right).toBeGreaterThan(centre + 5);
    expect(twice.body).toContain(">2.00×<");
    const half = bar("decode-loop");
    expect(half.ratio).toBeCloseTo(0.5, 6);
    expect(half.right).toBeCloseTo(centre, 0);
    expect(half.x).toBeLessThan(centre - 5);
    expect(half.body).toContain(">0.50×<");
    // log2: 2× and 0.5× are the same length; 4× and 0.25× twice that.
    const quadruple = bar("prefill");
    const quarter = bar("first-token");
    expect(twice.right - centre).toBeCloseTo(centre - half.x, 0);
    expect(quadruple.right - centre).toBeCloseTo(2 * (twice.right - centre), 0);
    expect(centre - quarter.x).toBeCloseTo(2 * (centre - half.x), 0);
  });

  it("draws the 3.8× decode target on the decode bars only, and only against llama.cpp Vulkan", () => {
    const svg = renderChart(seeded);
    checkWellFormed(svg);
    const groups = figureGroups(svg);
    const withTarget = groups.filter((g) => g.body.includes(`class="target"`));
    expect(withTarget.length).toBeGreaterThan(0);
    for (const g of withTarget) expect(g.figure).toMatch(/^decode/);
    // The seeded Vulkan-peer records: one decode bar each; the lavapipe (CPU peer) records get none.
    const vulkanDecodeRows = seeded.filter((r) => r.peer?.includes("Vulkan")).reduce((n, r) => n + 1 + (r.figures.decodeLoopMsPerToken ? 1 : 0), 0);
    expect(withTarget.length).toBe(vulkanDecodeRows);
    expect(svg.match(/<line class="target"/g)?.length).toBe(vulkanDecodeRows);

    // The target sits at log2(3.8) on the same scale as the bars.
    const both = renderChart([record({}, { decodeMsPerToken: { parley: 1, peer: 2 } })]);
    const centre = attr(/<line class="one"[^>]*>/.exec(both)![0], "x1");
    const decode = figureGroups(both).find((g) => g.figure === "decode")!.body;
    const rect = /<rect class="bar"[^>]*>/.exec(decode)![0];
    const unit = attr(rect, "width"); // one doubling
    const target = /<line class="target"[^>]*>/.exec(decode)![0];
    expect(attr(target, "x1") - centre).toBeCloseTo(Math.log2(DECODE_TARGET_RATIO) * unit, 0);
    expect(
      figureGroups(both)
        .filter((g) => g.body.includes(`class="target"`))
        .map((g) => g.figure),
    ).toEqual(["decode", "decode-loop"]);

    const cpuOnly = renderChart([record({ peer: "llama.cpp CPU, 2 threads" })]);
    expect(cpuOnly).not.toContain(`class="target"`);
  });

  it("rejects malformed records and draws an empty chart", () => {
    expect(() => renderChart([{ ...record(), figures: {} } as unknown as PerfRecord])).toThrow(InvalidArgumentError);
    const empty = renderChart([]);
    checkWellFormed(empty);
    expect(empty).toContain("no records");
    expect(empty).not.toContain(`class="bar"`);
  });

  it("docs/performance.svg is the chart of docs/perf-records.json (regenerate: npm run bench:chart)", () => {
    expect(readFileSync(join(root, "docs/performance.svg"), "utf8")).toBe(renderChart(seeded));
  });
});
