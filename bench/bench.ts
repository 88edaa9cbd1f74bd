#!/usr/bin/env node
// `npm run bench`: Parley and llama.cpp (node-llama-cpp) on the same GGUF in one run: prefill, decode, load time,
// time to first token after process start, device memory. Prints a table, or one JSON object with --json.
// A development script (node-llama-cpp and tsx are development dependencies): the package's `parley bench
// --plan` counts the decode step's cost proxies instead, nothing timed.

import { existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { runCommandLine } from "../runtime/cli.js";
import { formatFlags, parseFlags, wantsHelp, type FlagTable, type ParsedFlags } from "../runtime/cli-flags.js";
import { InvalidArgumentError } from "../runtime/errors.js";
import { isMainModule } from "../runtime/main-module.js";
import { Runtime } from "../runtime/runtime.js";
import { SYNTH_SHAPES, SYNTH_TYPES, writeSyntheticModel, type SynthShapeName, type SynthType } from "../runtime/synth/synth.js";
import { LlamaSide, peerFirstToken, type PeerGpuChoice } from "./llama-side.js";
import { ParleySide, parleyFirstToken, type MeasureSettings } from "./parley-side.js";
import { appendRecord, checkRecordsFile, recordFromReport } from "./records.js";
import { COLD_CACHES_ENV, RATIO_CONVENTION, computeRatios, formatTable, type BenchReport, type FirstTokenFigure, type PeerFigures } from "./report.js";

export interface BenchOptions {
  /** Synthetic model shape (ignored with `model`). Default "tinyllama". */
  shape?: SynthShapeName;
  /** Synthetic model tensor type (ignored with `model`). Default "q4_0". */
  type?: SynthType;
  /** Prefill lengths. Default [128, 512] ([128] for a TinyLlama-sized model on a CPU Vulkan driver). */
  prefill?: number[];
  /** Timed decode steps. Default 128 (16 for a TinyLlama-sized model on a CPU Vulkan driver). */
  decode?: number;
  /** Seed of the synthetic weights and of the benchmark's token ids. Default 1. */
  seed?: number;
  /** An existing GGUF file instead of a synthetic one. */
  model?: string;
  /** Runs per prefill length (the median is reported). Default 3 (1 when the defaults were reduced). */
  repeat?: number;
  /** Parley's micro-batch for every session. Default: 64 for decode (a decode step does not depend on it), each prefill length over 64 as one step. */
  ubatch?: number;
  /** Parley's device (index or name substring). */
  device?: string;
  skipPeer?: boolean;
  /** The peer's backend. "auto" (default): Vulkan when a GPU exists, else the CPU. */
  peerGpu?: PeerGpuChoice;
  /** The peer's CPU threads; default: the fastest of a short trial. */
  peerThreads?: number;
  /** Tokens in the cache before the timed decode steps (default 16; ~700 is a village persona's prompt). */
  decodeAfter?: number;
  /** Rows per subgroup of the decode matrix-vector kernels to sweep (PARLEY_MATVEC_ROWS, 1..8). */
  matvecRows?: number[];
  /** With matvecRows: also (or only) the shared-memory staging of f(x) (PARLEY_MATVEC_STAGE). Default [false]. */
  matvecStage?: boolean[];
  /** With matvecRows: also (or only) 16-byte weight loads (PARLEY_MATVEC_WIDE). Default [false]. */
  matvecWide?: boolean[];
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

const FIRST_TOKEN_PROMPT = 16;
const SHAPES = Object.keys(SYNTH_SHAPES) as SynthShapeName[];
const TYPES: readonly SynthType[] = SYNTH_TYPES;

/** Deterministic token ids: BOS, then ids spread over the vocabulary (skipping the control tokens 0..2). */
export function benchTokens(n: number, seed: number, vocab: number): number[] {
  let s = (seed * 2654435761) >>> 0;
  const out = [1];
  while (out.length < n) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out.push(3 + (s % (vocab - 3)));
  }
  return out.slice(0, n);
}

/** The cached synthetic model for (shape, type, seed), written on first use. */
export async function syntheticBenchModel(shape: SynthShapeName, type: SynthType, seed: number, log: (line: string) => void): Promise<string> {
  const dir = join(tmpdir(), "parley-bench");
  const out = join(dir, `${shape}-${type}-seed${seed}.gguf`);
  if (existsSync(out)) return out;
  mkdirSync(dir, { recursive: true });
  const partial = `${out}.${process.pid}.partial`;
  log(`synthesizing ${out}`);
  const t0 = performance.now();
  try {
    await writeSyntheticModel({ shape, type, seed, out: partial });
    renameSync(partial, out);
  } finally {
    rmSync(partial, { force: true });
  }
  log(`synthesized in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return out;
}

function positiveInt(name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got ${v}`);
  return v;
}

export async function runBench(options: BenchOptions = {}): Promise<BenchReport> {
  const log = options.log ?? (() => {});
  const seed = options.seed ?? 1;
  if (!Number.isSafeInteger(seed) || seed < 0) throw new InvalidArgumentError(`seed must be a non-negative integer, got ${seed}`);
  const shape = options.shape ?? "tinyllama";
  const type = options.type ?? "q4_0";
  if (!options.model && !SHAPES.includes(shape)) throw new InvalidArgumentError(`unknown shape "${shape}" (${SHAPES.join(", ")})`);
  if (!options.model && !TYPES.includes(type)) throw new InvalidArgumentError(`unknown type "${type}" (${TYPES.join(", ")})`);
  options.prefill?.forEach((n) => positiveInt("a prefill length", n));
  if (options.prefill?.length === 0) throw new InvalidArgumentError("--prefill needs at least one length");
  if (options.decode !== undefined) positiveInt("decode", options.decode);
  if (options.repeat !== undefined) positiveInt("repeat", options.repeat);
  if (options.ubatch !== undefined) positiveInt("ubatch", options.ubatch);
  if (options.decodeAfter !== undefined) positiveInt("decodeAfter", options.decodeAfter);
  if (options.peerThreads !== undefined) positiveInt("peer threads", options.peerThreads);
  for (const r of options.matvecRows ?? []) {
    if (!Number.isInteger(r) || r < 1 || r > 8) throw new InvalidArgumentError(`matvec rows must be integers in 1..8, got ${r}`);
  }

  const path = options.model ?? (await syntheticBenchModel(shape, type, seed, log));
  const notes: string[] = [];

  // Parley, in this process.
  const parley = await ParleySide.create(options.device);
  let parleyFigures;
  let settings: MeasureSettings;
  let modelSummary: { parameterCount: number; tensorTypes: Record<string, number> };
  const device = parley.device;
  try {
    log(`parley: ${device.name} (${device.type}); loading ${path}`);
    await parley.load(path);
    const info = parley.model.info;
    const vocab = info.vocabularySize;
    modelSummary = { parameterCount: info.parameterCount, tensorTypes: { ...info.tensorTypes } };
    const big = options.model ? info.parameterCount >= 500e6 : shape === "tinyllama";
    const reduce = device.type === "cpu" && big;
    const prefill = options.prefill ?? (reduce ? [128] : [128, 512]);
    const decode = options.decode ?? (reduce ? 16 : 128);
    const repeat = options.repeat ?? (reduce ? 1 : 3);
    if (reduce && (options.prefill === undefined || options.decode === undefined)) {
      notes.push(
        `Parley's device is a CPU Vulkan driver (${device.name}) and the model is TinyLlama-sized: defaults reduced to ` +
          `prefill ${prefill.join(",")}, decode ${decode}, ${repeat} run(s) (pass --prefill/--decode/--repeat to override)`,
      );
      log(`note: ${notes[notes.length - 1]}`);
    }
    if (device.type === "cpu") notes.push(`Parley ran on a CPU Vulkan driver (${device.name}): its figures are not GPU figures`);
    settings = {
      prefill: [...new Set(prefill)],
      prefillTokens: benchTokens(Math.max(...prefill), seed, vocab),
      decode,
      decodePrompt: benchTokens(options.decodeAfter ?? FIRST_TOKEN_PROMPT, seed + 1, vocab),
      repeat,
      matvecRows: options.matvecRows ?? [],
      matvecStage: options.matvecStage ?? [false],
      matvecWide: options.matvecWide ?? [false],
      log,
    };
    // Like for like: llama.cpp evaluates each prefill as one batch (llama-side.ts), so by default Parley does
    // too — each length over 64 in a session whose micro-batch is that length; decode's session takes 64.
    parleyFigures = await parley.measure(settings, options.ubatch ?? 64, options.ubatch ?? "length");
  } finally {
    parley.dispose();
  }
  log("parley: first token in a fresh process");
  const firstTokenPrompt = settings.decodePrompt.slice(0, FIRST_TOKEN_PROMPT);
  const parleyFirst = await parleyFirstToken(path, firstTokenPrompt, options.device);
  const builds = (f: FirstTokenFigure) =>
    f.pipelineBuilds
      ? ` (${f.pipelineBuilds.pipelines} pipelines built in ${f.pipelineBuilds.wallMs.toFixed(0)} ms on up to ${f.pipelineBuilds.maxThreads} threads)`
      : "";
  log(`parley: first token after ${parleyFirst.ms.toFixed(0)} ms${builds(parleyFirst)}`);
  const parleyCold = await parleyFirstToken(path, firstTokenPrompt, options.device, true);
  log(`parley: first token after ${parleyCold.ms.toFixed(0)} ms with every shader cache off${builds(parleyCold)}`);
  const parleyResult = { ...parleyFigures, firstToken: parleyFirst, firstTokenCold: parleyCold };

  // llama.cpp, in this process.
  let peerResult: PeerFigures | null = null;
  if (!options.skipPeer) {
    const gpuPresent = Runtime.listDevices().some((d) => d.type === "discrete" || d.type === "integrated");
    const peer = await LlamaSide.open({ gpu: options.peerGpu ?? "auto", gpuPresent, log });
    notes.push(...peer.notes);
    let peerFigures;
    try {
      log(`peer: llama.cpp ${peer.backend} backend${peer.gpuDevices.length ? ` (${peer.gpuDevices.join(", ")})` : ""}; loading ${path}`);
      await peer.load(path);
      peerFigures = await peer.measure(settings, options.peerThreads);
    } finally {
      await peer.dispose();
    }
    log("peer: first token in a fresh process");
    const peerFirst = await peerFirstToken(path, firstTokenPrompt, peerFigures.backend, peerFigures.threads);
    log(`peer: first token after ${peerFirst.ms.toFixed(0)} ms`);
    const peerCold = await peerFirstToken(path, firstTokenPrompt, peerFigures.backend, peerFigures.threads, true);
    log(`peer: first token after ${peerCold.ms.toFixed(0)} ms with every shader cache off`);
    peerResult = { ...peerFigures, firstToken: peerFirst, firstTokenCold: peerCold };
  }

  notes.push("first-token times run each side's TypeScript entry in a fresh `node --import tsx` process, timed from spawn() to the token");
  notes.push(
    `"with every shader cache off": Parley's pipeline cache and the drivers' shader caches disabled (${Object.entries(COLD_CACHES_ENV)
      .map(([k, v]) => `${k}=${v}`)
      .join(" ")}), as on a first launch`,
  );
  if (peerResult?.useMmap) notes.push("llama.cpp memory-maps the model file (its default): its load time does not include reading the weights from disk");

  const cpuList = cpus();
  return {
    bench: "parley-vs-llama.cpp",
    ratio_convention: RATIO_CONVENTION,
    date: new Date().toISOString(),
    machine: {
      node: process.version,
      platform: process.platform,
      arch: process.arch,
      cpus: cpuList.length,
      cpuModel: cpuList[0]?.model?.trim() ?? "unknown",
      memoryBytes: totalmem(),
    },
    model: {
      path,
      synthesized: !options.model,
      shape: options.model ? undefined : shape,
      type: options.model ? undefined : type,
      seed: options.model ? undefined : seed,
      fileBytes: statSync(path).size,
      parameterCount: modelSummary.parameterCount,
      tensorTypes: modelSummary.tensorTypes,
    },
    settings: {
      prefill: settings.prefill,
      decode: settings.decode,
      repeat: settings.repeat,
      seed,
      firstTokenPromptTokens: firstTokenPrompt.length,
    },
    notes,
    parley: parleyResult,
    peer: peerResult,
    ratios: peerResult ? computeRatios(parleyResult, peerResult) : null,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The command line: one flag table drives parsing, validation and --help (runtime/cli-flags.ts), and errors are
// reported as the `parley` command reports them (one line, exit code 2).

const BENCH_FLAGS = {
  shape: { kind: "choice", choices: SHAPES, defaultText: "tinyllama", help: "synthetic model shape" },
  type: { kind: "choice", choices: SYNTH_TYPES, arg: "TYPE", defaultText: "q4_0", help: "synthetic tensor type" },
  model: { kind: "file", arg: "FILE", help: `an existing GGUF instead of a synthetic one (those are cached under ${join(tmpdir(), "parley-bench")})` },
  prefill: { kind: "integers", arg: "N,N", min: 1, defaultText: "128,512; 128 for a TinyLlama-sized model on a CPU Vulkan driver", help: "prefill lengths" },
  decode: { kind: "integer", arg: "N", min: 1, defaultText: "128; 16 for a TinyLlama-sized model on a CPU Vulkan driver", help: "timed greedy decode steps" },
  "decode-after": { kind: "integer", arg: "N", min: 1, defaultText: "16", help: "tokens in the cache before them (e.g. 700: an NPC persona's prompt)" },
  repeat: { kind: "integer", arg: "N", min: 1, defaultText: "3; 1 where the defaults above are reduced", help: "runs per prefill length (the median counts)" },
  seed: { kind: "integer", arg: "N", min: 0, defaultText: "1", help: "seed of the synthetic weights and of the token ids" },
  // The range a session's micro-batch takes (Model.createSession).
  ubatch: {
    kind: "integer",
    arg: "N",
    min: 1,
    max: 4096,
    defaultText: "64 for decode, each longer prefill as one step, as llama.cpp",
    help: "Parley's micro-batch",
  },
  device: {
    kind: "string",
    arg: "D",
    defaultText: "$PARLEY_DEVICE, else the best one",
    help: "Parley's Vulkan device: index or part of its name (parley devices)",
  },
  "peer-gpu": { kind: "choice", choices: ["auto", "vulkan", "cpu"], defaultText: "auto: Vulkan where a GPU exists", help: "llama.cpp's backend" },
  "peer-threads": { kind: "integer", arg: "N", min: 1, defaultText: "the fastest of 1, 2, ...", help: "llama.cpp's CPU threads" },
  "matvec-rows": { kind: "integers", arg: "1,2,4", min: 1, max: 8, help: "also time decode with each rows-per-subgroup setting (kernel tuning)" },
  "matvec-stage": { kind: "switches", arg: "0,1", defaultText: "0", help: "... without (0) and/or with (1) f(x) staged in shared memory" },
  "matvec-wide": { kind: "switches", arg: "0,1", defaultText: "0", help: "... with 4-byte (0) and/or 16-byte (1) weight loads per lane" },
  "skip-peer": { kind: "boolean", help: "Parley only" },
  json: { kind: "boolean", help: "print one JSON object instead of the table" },
  quiet: { kind: "boolean", help: "no progress lines on stderr" },
  record: {
    kind: "string",
    arg: "FILE",
    help: "also append the run's summary to the JSON array in FILE (created if missing; e.g. docs/perf-records.json, drawn by npm run bench:chart)",
  },
  machine: {
    kind: "string",
    arg: "TEXT",
    defaultText: "the GPU's name, or the host CPU and the driver for a CPU Vulkan driver",
    help: "the machine's name in the --record record",
  },
} as const satisfies FlagTable;

/** The command line that prints the usage, as messages name it. */
const HELP = "npm run bench -- --help";

export const BENCH_USAGE = `usage: npm run bench -- [options]   (npx tsx bench/bench.ts [options] is the same command)

Parley and llama.cpp (node-llama-cpp) side by side on one GGUF: prefill, decode, load time, first token, device memory.
The package's \`parley bench --plan --model FILE\` counts the decode step's cost proxies instead, nothing timed.

options:
${formatFlags(BENCH_FLAGS)}
`;

/** What the side-by-side bench runs with: its options and what to do with the report. */
export interface BenchCommandArgs {
  options: BenchOptions;
  json: boolean;
  /** --record FILE */
  record?: string;
  /** --machine TEXT */
  machine?: string;
}

function benchArgs({ values }: ParsedFlags<typeof BENCH_FLAGS>): BenchCommandArgs {
  if (values.record !== undefined && values.record.trim() === "") throw new InvalidArgumentError("--record needs a file name");
  if (values.machine !== undefined && values.record === undefined)
    throw new InvalidArgumentError("--machine names the machine in a --record record: pass --record FILE too");
  if (values.machine !== undefined && values.machine.trim() === "") throw new InvalidArgumentError("--machine must not be empty");
  const options: BenchOptions = {
    shape: values.shape,
    type: values.type,
    model: values.model,
    prefill: values.prefill,
    decode: values.decode,
    repeat: values.repeat,
    seed: values.seed,
    ubatch: values.ubatch,
    device: values.device,
    skipPeer: values["skip-peer"],
    peerGpu: values["peer-gpu"],
    peerThreads: values["peer-threads"],
    decodeAfter: values["decode-after"],
    matvecRows: values["matvec-rows"],
    matvecStage: values["matvec-stage"],
    matvecWide: values["matvec-wide"],
    log: values.quiet ? undefined : (line) => process.stderr.write(`[bench] ${line}\n`),
  };
  return { options, json: values.json, record: values.record, machine: values.machine?.trim() };
}

/** Runs the bench on parsed command-line arguments: the table or the JSON on stdout, and the --record record. */
export async function runBenchCommand({ options, json, record, machine }: BenchCommandArgs): Promise<void> {
  // A records file that cannot take the record fails now, not after the run.
  if (record !== undefined) checkRecordsFile(record);
  const report = await runBench(options);
  process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : `${formatTable(report)}\n`);
  if (record !== undefined) {
    const count = appendRecord(record, recordFromReport(report, machine));
    process.stderr.write(`[bench] appended this run's record to ${record} (${count} record${count === 1 ? "" : "s"})\n`);
  }
}

async function main(argv: string[]): Promise<void> {
  if (wantsHelp(argv)) {
    process.stdout.write(BENCH_USAGE);
    return;
  }
  await runBenchCommand(benchArgs(parseFlags("bench", BENCH_FLAGS, argv, { help: HELP })));
}

if (isMainModule(import.meta.url)) runCommandLine(() => main(process.argv.slice(2)));
