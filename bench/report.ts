// Benchmark results: the shapes both sides report, the peer/parley ratios, the JSON object and the table; and the
// small protocol both sides use to time the first token in a fresh child process.

import type { DecodeTuning, PrefillTuning } from "../runtime/tuning/settings.js";
import type { ChainPlan, PipelineBuildStats } from "../runtime/native.js";
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

/** Prompt tokens of each side's warm-up prefill (pipelines, buffers, caches) before anything is timed. */
export const WARMUP_TOKENS = 16;

export const RATIO_CONVENTION = "peer/parley for times and memory, parley/peer for throughput: > 1 means Parley is faster (or uses less memory)";

export interface PrefillFigure {
  tokens: number;
  /** Median over the repeats. */
  ms: number;
  tokensPerSecond: number;
  runsMs: number[];
  /** Parley: the session's micro-batch for this prefill (llama.cpp: its batch, `peer.batchSize`). */
  ubatch?: number;
}

export interface DecodeFigure {
  tokens: number;
  /** Tokens in the KV cache before the first timed step. */
  contextTokens: number;
  medianMsPerToken: number;
  tokensPerSecond: number;
  meanMsPerToken: number;
  minMsPerToken: number;
  maxMsPerToken: number;
}

export interface FirstTokenFigure {
  /** From spawn() in the parent to the first token in the fresh child process (parent's clock vs child's, both epoch ms). */
  ms: number;
  /** The same, on the child's own clock: from its process time origin to the first token. */
  sinceChildOriginMs: number;
  promptTokens: number;
  /** Child-side phases (ms from the child's time origin at which each phase finished). */
  phases: Record<string, number>;
  /** Parley only: whether the child's runtime started from an accepted pipeline cache file (Runtime.pipelineCache.hit);
   * absent for the peer. The parent measures in-process first, so this is normally true unless the cache is disabled. */
  pipelineCacheWarm?: boolean;
  /** Parley only: the child's pipeline builds (Runtime.pipelineBuilds) — how much of the start went to compiling shaders. */
  pipelineBuilds?: PipelineBuildStats;
}

/** Figures both sides report. */
export interface SideFigures {
  /** Creating the runtime / llama.cpp backend (not part of loadMs). */
  initMs: number;
  /** Loading the model file onto the device (weights + tokenizer). */
  loadMs: number;
  firstToken: FirstTokenFigure;
  /**
   * The same in a process that starts with every compiled-shader cache off (COLD_CACHES_ENV): a player's very
   * first launch, when Vulkan pipelines are compiled from scratch. Absent from records made before it existed.
   */
  firstTokenCold?: FirstTokenFigure;
  prefill: PrefillFigure[];
  decode: DecodeFigure;
  deviceBytes: number;
}

export interface ParleyFigures extends SideFigures {
  device: { name: string; type: string; driverName: string; driverInfo: string; apiVersion: string };
  ubatch: number;
  contextSize: number;
  deviceMemory: { weightsBytes: number; sessionBytes: number };
  /** One decode step's recorded work; `chain`: per token of the GPU loop (greedy, sampled). */
  plan: { dispatches: number; barriers: number; weightBytes: number; chain?: ChainPlan };
  /** The kernel settings the figures were measured with (a stored tuning, or the device's defaults; decode
   * null: kernels without the matrix-vector decode). */
  tuning?: { decode: DecodeTuning | null; prefill: PrefillTuning };
  /** Greedy decode in GPU-resident chains (what generate() runs): per-token times. */
  decodeLoop: DecodeFigure;
  /** Decode sampled on the GPU in chains (the dialogue system's settings: temperature 0.7, top-k 40, top-p 0.95, min-p 0.05). */
  decodeSampledLoop?: DecodeFigure;
  /** --matvec-rows: median decode ms/token per rows-per-subgroup setting of the matrix-vector kernels. */
  matvecRowsSweep?: Array<{ rows: number; stage: boolean; wide?: boolean; decodeMsPerToken: number; loopMsPerToken: number; error?: string }>;
}

export interface PeerFigures extends SideFigures {
  name: string;
  version: string;
  backend: "cpu" | "vulkan";
  gpuDevices: string[];
  threads: number;
  /** Thread counts tried on the CPU backend: median decode ms/token of a short run each. */
  threadTrials: Array<{ threads: number; medianMsPerToken: number }>;
  batchSize: number;
  contextSize: number;
  useMmap: boolean;
  deviceMemorySource: string;
}

export interface Ratios {
  initMs: number;
  loadMs: number;
  firstTokenMs: number;
  firstTokenColdMs?: number;
  prefill: Array<{ tokens: number; ms: number; tokensPerSecond: number }>;
  decodeMsPerToken: number;
  decodeTokensPerSecond: number;
  /** The peer's one-token decode against Parley's GPU-resident greedy loop. */
  decodeLoopMsPerToken: number;
  deviceBytes: number;
}

export interface BenchReport {
  bench: "parley-vs-llama.cpp";
  ratio_convention: string;
  date: string;
  machine: { node: string; platform: string; arch: string; cpus: number; cpuModel: string; memoryBytes: number };
  model: {
    path: string;
    synthesized: boolean;
    shape: string | undefined;
    type: string | undefined;
    seed: number | undefined;
    fileBytes: number;
    parameterCount: number;
    tensorTypes: Record<string, number>;
  };
  settings: { prefill: number[]; decode: number; repeat: number; seed: number; firstTokenPromptTokens: number };
  notes: string[];
  parley: ParleyFigures;
  peer: PeerFigures | null;
  ratios: Ratios | null;
}

/** peer/parley (> 1: Parley takes less). */
function timeRatio(peer: number, parley: number): number {
  return peer / parley;
}

export function computeRatios(parley: ParleyFigures, peer: PeerFigures): Ratios {
  return {
    initMs: timeRatio(peer.initMs, parley.initMs),
    loadMs: timeRatio(peer.loadMs, parley.loadMs),
    firstTokenMs: timeRatio(peer.firstToken.ms, parley.firstToken.ms),
    ...(parley.firstTokenCold && peer.firstTokenCold ? { firstTokenColdMs: timeRatio(peer.firstTokenCold.ms, parley.firstTokenCold.ms) } : {}),
    prefill: parley.prefill.map((p) => {
      const q = peer.prefill.find((x) => x.tokens === p.tokens);
      if (!q) throw new Error(`the peer has no prefill figure for ${p.tokens} tokens`);
      return { tokens: p.tokens, ms: timeRatio(q.ms, p.ms), tokensPerSecond: p.tokensPerSecond / q.tokensPerSecond };
    }),
    decodeMsPerToken: timeRatio(peer.decode.medianMsPerToken, parley.decode.medianMsPerToken),
    decodeTokensPerSecond: parley.decode.tokensPerSecond / peer.decode.tokensPerSecond,
    decodeLoopMsPerToken: timeRatio(peer.decode.medianMsPerToken, parley.decodeLoop.medianMsPerToken),
    deviceBytes: timeRatio(peer.deviceBytes, parley.deviceBytes),
  };
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function decodeFigure(stepsMs: readonly number[], contextTokens: number): DecodeFigure {
  const med = median(stepsMs);
  return {
    tokens: stepsMs.length,
    contextTokens,
    medianMsPerToken: med,
    tokensPerSecond: 1000 / med,
    meanMsPerToken: stepsMs.reduce((a, b) => a + b, 0) / stepsMs.length,
    minMsPerToken: Math.min(...stepsMs),
    maxMsPerToken: Math.max(...stepsMs),
  };
}

export function prefillFigure(tokens: number, runsMs: number[]): PrefillFigure {
  const ms = median(runsMs);
  return { tokens, ms, tokensPerSecond: (tokens * 1000) / ms, runsMs };
}

// ---------------------------------------------------------------------------------------------------------------
// Table

function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return "-";
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
}

function fmtRate(r: number): string {
  if (!Number.isFinite(r)) return "-";
  return r >= 100 ? `${r.toFixed(0)} tok/s` : r >= 10 ? `${r.toFixed(1)} tok/s` : `${r.toFixed(2)} tok/s`;
}

function fmtBytes(n: number): string {
  if (!Number.isFinite(n)) return "-";
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  return `${(n / 2 ** 10).toFixed(1)} KiB`;
}

function fmtRatio(r: number | undefined): string {
  if (r === undefined || !Number.isFinite(r)) return "-";
  return `${r >= 100 ? r.toFixed(0) : r >= 1 ? r.toFixed(2) : r.toPrecision(2)}x`;
}

function renderRows(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join("  ");
  const out = [line(rows[0]), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)];
  return out.join("\n");
}

export function formatTable(r: BenchReport): string {
  const p = r.parley;
  const q = r.peer;
  const x = r.ratios;
  const rows: string[][] = [q ? ["", "Parley", "llama.cpp", "ratio"] : ["", "Parley"]];
  const add = (label: string, a: string, b: string, ratio: string) => rows.push(q ? [label, a, b, ratio] : [label, a]);
  for (const f of p.prefill) {
    const g = q?.prefill.find((y) => y.tokens === f.tokens);
    const rr = x?.prefill.find((y) => y.tokens === f.tokens);
    add(`prefill ${f.tokens} tokens`, fmtMs(f.ms), g ? fmtMs(g.ms) : "-", fmtRatio(rr?.ms));
    add(`  throughput`, fmtRate(f.tokensPerSecond), g ? fmtRate(g.tokensPerSecond) : "-", fmtRatio(rr?.tokensPerSecond));
  }
  add(
    `decode ${p.decode.tokens} tokens (median/token)`,
    fmtMs(p.decode.medianMsPerToken),
    q ? fmtMs(q.decode.medianMsPerToken) : "",
    fmtRatio(x?.decodeMsPerToken),
  );
  add(`  throughput`, fmtRate(p.decode.tokensPerSecond), q ? fmtRate(q.decode.tokensPerSecond) : "", fmtRatio(x?.decodeTokensPerSecond));
  add(
    `decode, greedy GPU loop (median/token)`,
    fmtMs(p.decodeLoop.medianMsPerToken),
    q ? fmtMs(q.decode.medianMsPerToken) : "",
    fmtRatio(x?.decodeLoopMsPerToken),
  );
  if (p.decodeSampledLoop) {
    const ratio = q ? fmtRatio(timeRatio(q.decode.medianMsPerToken, p.decodeSampledLoop.medianMsPerToken)) : "";
    add(`decode, sampled GPU loop (median/token)`, fmtMs(p.decodeSampledLoop.medianMsPerToken), q ? fmtMs(q.decode.medianMsPerToken) : "", ratio);
  }
  for (const t of p.matvecRowsSweep ?? []) {
    const figures = t.error ? `failed: ${t.error.slice(0, 60)}` : `${fmtMs(t.decodeMsPerToken)} / ${fmtMs(t.loopMsPerToken)}`;
    add(`  matvec rows ${t.rows}${t.stage ? ", staged x" : ""}${t.wide ? ", 16-byte loads" : ""}: decode / GPU loop`, figures, "", "");
  }
  add("load model", fmtMs(p.loadMs), q ? fmtMs(q.loadMs) : "", fmtRatio(x?.loadMs));
  add("init runtime/backend", fmtMs(p.initMs), q ? fmtMs(q.initMs) : "", fmtRatio(x?.initMs));
  add(
    `first token after process start (${r.settings.firstTokenPromptTokens}-token prompt)`,
    fmtMs(p.firstToken.ms),
    q ? fmtMs(q.firstToken.ms) : "",
    fmtRatio(x?.firstTokenMs),
  );
  if (p.firstTokenCold) {
    add(
      "  with every shader cache off (first launch)",
      fmtMs(p.firstTokenCold.ms),
      q?.firstTokenCold ? fmtMs(q.firstTokenCold.ms) : "",
      fmtRatio(x?.firstTokenColdMs),
    );
  }
  add("device memory", fmtBytes(p.deviceBytes), q ? fmtBytes(q.deviceBytes) : "", fmtRatio(x?.deviceBytes));

  const m = r.model;
  const head = [
    `model:   ${m.path}${m.synthesized ? ` (synthetic ${m.shape} ${m.type}, seed ${m.seed})` : ""}, ${(m.parameterCount / 1e6).toFixed(1)}M parameters, ${fmtBytes(m.fileBytes)}`,
    `parley:  ${p.device.name} (${p.device.type}; ${p.device.driverName} ${p.device.driverInfo}; Vulkan ${p.device.apiVersion}), ubatch ${p.ubatch}, ` +
      `decode step: ${p.plan.dispatches} dispatches, ${p.plan.barriers} barriers` +
      (p.plan.chain
        ? `; per token of the GPU loop: ${p.plan.chain.greedy.dispatches}/${p.plan.chain.greedy.barriers} greedy, ${p.plan.chain.sampled.dispatches}/${p.plan.chain.sampled.barriers} sampled`
        : ""),
    q
      ? `peer:    ${q.name} ${q.version}, ${q.backend} backend${q.backend === "cpu" ? `, ${q.threads} thread${q.threads === 1 ? "" : "s"} (${q.threadTrials.length ? `tried ${q.threadTrials.map((t) => `${t.threads}: ${fmtMs(t.medianMsPerToken)}/token`).join(", ")}` : "--peer-threads"})` : ` (${q.gpuDevices.join(", ")})`}, batch ${q.batchSize}`
      : "peer:    skipped (--skip-peer)",
    `machine: node ${r.machine.node}, ${r.machine.platform}/${r.machine.arch}, ${r.machine.cpus} CPUs (${r.machine.cpuModel}), ${r.date}`,
  ];
  const tail = [
    "",
    ...(q ? ["ratio: peer/parley for times and memory, parley/peer for throughput (> 1: Parley is faster / smaller)."] : []),
    `decode timed after a ${p.decode.contextTokens}-token prompt; prefill times are medians of ${r.settings.repeat} run(s) on an empty cache.`,
    ...(p.firstToken.pipelineCacheWarm === undefined
      ? []
      : [
          `Parley's first-token process found its Vulkan pipeline cache ${p.firstToken.pipelineCacheWarm ? "warm (a file from an earlier run was accepted)" : "cold (no usable file, or the cache is disabled)"}.`,
        ]),
    ...(q ? [`peer device memory: ${q.deviceMemorySource}.`] : []),
    ...r.notes.map((n) => `note: ${n}`),
  ];
  return [...head, "", renderRows(rows), ...tail].join("\n");
}

// ---------------------------------------------------------------------------------------------------------------
// First token in a fresh process. The parent notes the wall-clock time (epoch ms, high resolution) just before
// spawn(); the child prints the wall-clock time of its first token on a marked stdout line.

const CHILD_MARKER = "@@parley-bench-child@@ ";

/** Child side: report the first token and the phases (ms since this process's time origin). */
export function emitChildResult(result: {
  token: number;
  phases: Record<string, number>;
  pipelineCacheWarm?: boolean;
  pipelineBuilds?: PipelineBuildStats;
}): void {
  const tokenEpochMs = performance.timeOrigin + (result.phases.firstToken ?? performance.now());
  process.stdout.write(`${CHILD_MARKER}${JSON.stringify({ ...result, tokenEpochMs })}\n`);
}

/** Node arguments that let a child run `script` (TypeScript sources run through tsx's loader). */
function nodeArgsFor(script: string): string[] {
  if (!script.endsWith(".ts")) return [];
  const tsx = createRequire(import.meta.url).resolve("tsx");
  return ["--import", pathToFileURL(tsx).href];
}

/**
 * What a first-token child gets for a cold start: Parley's pipeline cache off, and the drivers' own caches of
 * compiled shaders — Mesa's (lavapipe, RADV, ANV) and NVIDIA's (its driver-wide switch; that it reaches
 * Vulkan pipelines is not verified yet) — so pipelines are compiled as on a player's first launch. Both sides
 * get it.
 */
export const COLD_CACHES_ENV: Readonly<Record<string, string>> = {
  PARLEY_PIPELINE_CACHE: "0",
  MESA_SHADER_CACHE_DISABLE: "true",
  __GL_SHADER_DISK_CACHE: "0",
};

/** Parent side: run the child script once and time its first token from spawn(); `env` adds to the child's environment. */
export function spawnFirstTokenChild(
  scriptUrl: string,
  args: string[],
  promptTokens: number,
  env: Readonly<Record<string, string>> = {},
): Promise<FirstTokenFigure> {
  const script = fileURLToPath(scriptUrl);
  const argv = [...nodeArgsFor(script), script, ...args];
  return new Promise((resolvePromise, reject) => {
    const spawnEpochMs = performance.timeOrigin + performance.now();
    const child = spawn(process.execPath, argv, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    child.on("error", reject);
    child.on("close", (code) => {
      const line = out.split("\n").find((l) => l.startsWith(CHILD_MARKER));
      if (code !== 0 || !line) {
        reject(new Error(`first-token child ${script} exited with ${code}${line ? "" : " without a result"}:\n${err.slice(-4000)}`));
        return;
      }
      const r = JSON.parse(line.slice(CHILD_MARKER.length)) as {
        token: number;
        phases: Record<string, number>;
        tokenEpochMs: number;
        pipelineCacheWarm?: boolean;
        pipelineBuilds?: PipelineBuildStats;
      };
      resolvePromise({
        ms: r.tokenEpochMs - spawnEpochMs,
        sinceChildOriginMs: r.phases.firstToken,
        promptTokens,
        phases: r.phases,
        ...(r.pipelineCacheWarm === undefined ? {} : { pipelineCacheWarm: r.pipelineCacheWarm }),
        ...(r.pipelineBuilds === undefined ? {} : { pipelineBuilds: r.pipelineBuilds }),
      });
    });
  });
}
