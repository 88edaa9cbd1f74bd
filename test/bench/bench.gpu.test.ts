// Smoke test of `npm run bench` on the tiny synthetic shape with tiny counts: the JSON carries every figure for
// Parley and for llama.cpp, all finite and positive, and the ratios follow the stated convention. No timing
// thresholds: the figures depend on the machine.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { formatTable, RATIO_CONVENTION, type BenchReport, type SideFigures } from "../../bench/report.js";
import { REPO_ROOT } from "../fixtures/repo-root.js";

const root = REPO_ROOT;

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", tsx, join(root, "bench/bench.ts"), ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

function expectPositive(value: unknown, what: string): void {
  expect(typeof value, what).toBe("number");
  expect(Number.isFinite(value as number), `${what} = ${String(value)} is finite`).toBe(true);
  expect(value as number, what).toBeGreaterThan(0);
}

function expectSideFigures(side: SideFigures, name: string, prefill: number[], decode: number): void {
  expectPositive(side.initMs, `${name}.initMs`);
  expectPositive(side.loadMs, `${name}.loadMs`);
  expectPositive(side.deviceBytes, `${name}.deviceBytes`);
  expectPositive(side.firstToken.ms, `${name}.firstToken.ms`);
  expectPositive(side.firstToken.sinceChildOriginMs, `${name}.firstToken.sinceChildOriginMs`);
  expect(side.firstToken.promptTokens).toBe(16);
  // The same in a process with every shader cache off (a first launch): its own figure, same prompt.
  expectPositive(side.firstTokenCold?.ms, `${name}.firstTokenCold.ms`);
  expect(side.firstTokenCold?.promptTokens).toBe(16);
  expect(side.prefill.map((p) => p.tokens)).toEqual(prefill);
  for (const p of side.prefill) {
    expectPositive(p.ms, `${name}.prefill[${p.tokens}].ms`);
    expectPositive(p.tokensPerSecond, `${name}.prefill[${p.tokens}].tokensPerSecond`);
    expect(p.tokensPerSecond).toBeCloseTo((p.tokens * 1000) / p.ms, 6);
  }
  expect(side.decode.tokens).toBe(decode);
  expectPositive(side.decode.medianMsPerToken, `${name}.decode.medianMsPerToken`);
  expectPositive(side.decode.tokensPerSecond, `${name}.decode.tokensPerSecond`);
  expect(side.decode.minMsPerToken).toBeLessThanOrEqual(side.decode.medianMsPerToken);
  expect(side.decode.medianMsPerToken).toBeLessThanOrEqual(side.decode.maxMsPerToken);
}

describe("npm run bench", () => {
  let report: BenchReport;

  beforeAll(async () => {
    const r = await runCli(["--shape", "tiny", "--type", "q4_0", "--prefill", "16,32", "--decode", "8", "--repeat", "1", "--json", "--quiet"]);
    expect(r.code, r.stderr).toBe(0);
    report = JSON.parse(r.stdout) as BenchReport;
  }, 120_000);

  it("reports the model, settings and machine", () => {
    expect(report.bench).toBe("parley-vs-llama.cpp");
    expect(report.ratio_convention).toBe(RATIO_CONVENTION);
    expect(report.model).toMatchObject({ synthesized: true, shape: "tiny", type: "q4_0", seed: 1 });
    expectPositive(report.model.fileBytes, "model.fileBytes");
    expectPositive(report.model.parameterCount, "model.parameterCount");
    expect(report.settings).toMatchObject({ prefill: [16, 32], decode: 8, repeat: 1 });
    expect(report.machine.node).toBe(process.version);
    expect(Number.isNaN(Date.parse(report.date))).toBe(false);
  });

  it("has every figure for Parley, finite and positive", () => {
    const p = report.parley;
    expectSideFigures(p, "parley", [16, 32], 8);
    expect(p.device.name.length).toBeGreaterThan(0);
    expect(p.deviceBytes).toBe(p.deviceMemory.weightsBytes + p.deviceMemory.sessionBytes);
    expectPositive(p.plan.dispatches, "parley.plan.dispatches");
    expectPositive(p.plan.barriers, "parley.plan.barriers");
    expectPositive(p.plan.weightBytes, "parley.plan.weightBytes");
    // The GPU loop's per-token work: the step without its embedding, plus the advance that embeds the next token.
    expect(p.plan.chain?.greedy.dispatches).toBe(p.plan.dispatches);
    expect(p.plan.chain?.sampled.barriers).toBe(p.plan.barriers + 1);
    // The cold child ran with Parley's pipeline cache off, so it cannot have started from a cache file.
    expect(p.firstTokenCold?.pipelineCacheWarm).toBe(false);
    // Each fresh child builds its session's pipelines (a process's runtime starts with none) before its prompt step.
    for (const f of [p.firstToken, p.firstTokenCold!]) {
      expect(f.pipelineBuilds?.pipelines).toBeGreaterThan(5);
      expect(f.pipelineBuilds?.maxThreads).toBeGreaterThanOrEqual(1);
      expect(f.phases.modelLoaded).toBeLessThan(f.phases.sessionCreated);
      expect(f.phases.sessionCreated).toBeLessThan(f.phases.firstToken);
    }
  });

  it("has every figure for llama.cpp, finite and positive", () => {
    const q = report.peer;
    expect(q).not.toBeNull();
    expectSideFigures(q!, "peer", [16, 32], 8);
    expect(["cpu", "vulkan"]).toContain(q!.backend);
    expectPositive(q!.threads, "peer.threads");
    expect(q!.deviceMemorySource.length).toBeGreaterThan(0);
    if (q!.backend === "cpu") {
      expect(q!.threadTrials.length).toBeGreaterThanOrEqual(1);
      const best = Math.min(...q!.threadTrials.map((t) => t.medianMsPerToken));
      expect(q!.threadTrials.find((t) => t.threads === q!.threads)?.medianMsPerToken).toBe(best);
    }
  });

  it("ratios are peer/parley for times and memory, parley/peer for throughput", () => {
    const { parley: p, peer: q, ratios: x } = report;
    expect(x).not.toBeNull();
    const close = (a: number, b: number) => expect(a).toBeCloseTo(b, 9);
    close(x!.initMs, q!.initMs / p.initMs);
    close(x!.loadMs, q!.loadMs / p.loadMs);
    close(x!.firstTokenMs, q!.firstToken.ms / p.firstToken.ms);
    close(x!.firstTokenColdMs!, q!.firstTokenCold!.ms / p.firstTokenCold!.ms);
    close(x!.decodeMsPerToken, q!.decode.medianMsPerToken / p.decode.medianMsPerToken);
    close(x!.decodeTokensPerSecond, p.decode.tokensPerSecond / q!.decode.tokensPerSecond);
    close(x!.deviceBytes, q!.deviceBytes / p.deviceBytes);
    expect(x!.prefill.map((r) => r.tokens)).toEqual([16, 32]);
    for (const r of x!.prefill) {
      const a = p.prefill.find((f) => f.tokens === r.tokens)!;
      const b = q!.prefill.find((f) => f.tokens === r.tokens)!;
      close(r.ms, b.ms / a.ms);
      close(r.tokensPerSecond, a.tokensPerSecond / b.tokensPerSecond);
      // Same token count on both sides: the time ratio and the throughput ratio agree.
      expect(r.ms).toBeCloseTo(r.tokensPerSecond, 9);
    }
  });

  it("prints a table with both sides", () => {
    const table = formatTable(report);
    for (const row of [
      "prefill 16 tokens",
      "prefill 32 tokens",
      "decode 8 tokens",
      "load model",
      "first token after process start",
      "with every shader cache off",
      "device memory",
    ]) {
      expect(table).toContain(row);
    }
    expect(table).toContain("llama.cpp");
    expect(table).toContain("ratio");
  });
});
