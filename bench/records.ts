// Machine-readable performance history: one summarized record per `npm run bench` run, kept in a JSON array file
// (docs/perf-records.json) that `npm run bench -- --record FILE` appends to and bench/chart.ts draws.

import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, dirname } from "node:path";
import { FileAccessError, InvalidArgumentError } from "../runtime/errors.js";
import { describeDecodeTuning, describePrefillTuning } from "../runtime/tuning/settings.js";
import { writeFileAtomic } from "../runtime/atomic-file.js";
import type { BenchReport } from "./report.js";

/** One figure on both sides, in ms (4 significant digits from recordFromReport): Parley's and the peer's (null where the peer was not measured). */
export interface FigurePair {
  parley: number;
  peer: number | null;
}

export interface PrefillPair extends FigurePair {
  /** Prompt tokens prefilled on an empty cache. */
  tokens: number;
}

export interface PerfRecord {
  /** When the run happened: an ISO 8601 date or date-time ("2026-11-27" or "2026-11-27T10:12:00.000Z"). */
  date: string;
  /** Free text naming the machine, e.g. "NVIDIA H200" or "2-core AMD EPYC, Mesa lavapipe 22.3.6 (LLVM 15)". */
  machine: string;
  /** Parley's Vulkan device name. */
  device: string;
  /** Parley's Vulkan driver (name and version). */
  driver: string;
  /** The peer, e.g. "llama.cpp Vulkan" or "llama.cpp CPU, 2 threads"; null when the run skipped it. */
  peer: string | null;
  /** The model. A shape (tiny, small, tinyllama) means a synthetic model of that shape and type (`parley synth`). */
  model: { shape?: string; type?: string; file?: string; parameterCount?: number };
  /** How the figures were taken, where known. */
  settings?: { decodeSteps?: number; decodeAfterTokens?: number; repeat?: number };
  figures: {
    /** Median decode ms/token, one step per submission. */
    decodeMsPerToken: FigurePair;
    /** Parley's greedy decode through its GPU-resident loop, ms/token; `peer` is the peer's ordinary decode
     * (the comparison the bench's ratio makes: the peer has no such loop). Absent where not measured. */
    decodeLoopMsPerToken?: FigurePair;
    /** Prefill of each measured length, ms (median). */
    prefill: PrefillPair[];
    /** From spawning a fresh process to its first generated token, ms. */
    firstTokenMs: FigurePair;
    /** The same with every shader cache off (a first launch; the bench's COLD_CACHES_ENV). Absent where not measured. */
    firstTokenColdMs?: FigurePair;
  };
  notes?: string[];
}

/** `peer` in a record: the backend and, on the CPU, the thread count. */
function peerLabel(peer: NonNullable<BenchReport["peer"]>): string {
  if (peer.backend === "vulkan") return "llama.cpp Vulkan";
  return `llama.cpp CPU, ${peer.threads} thread${peer.threads === 1 ? "" : "s"}`;
}

/** `driver` in a record from Parley's device: "NVIDIA 580.159.04 (Vulkan 1.4.312)". */
function driverLabel(device: BenchReport["parley"]["device"]): string {
  const name = device.driverName.trim();
  const info = device.driverInfo.trim();
  const driver = !info || info.toLowerCase().startsWith(name.toLowerCase()) ? info || name || "unknown" : name ? `${name} ${info}` : info;
  return device.apiVersion ? `${driver} (Vulkan ${device.apiVersion})` : driver;
}

/** A default `machine` for a run's record: the GPU's name, or for a CPU Vulkan driver the driver on the host CPU. */
export function defaultMachine(report: BenchReport): string {
  const d = report.parley.device;
  if (d.type !== "cpu") return d.name;
  return `${report.machine.cpus}-core ${report.machine.cpuModel}, ${d.name}`;
}

/** Times rounded to 4 significant digits: more would be noise in a summary. */
const round = (ms: number) => Number(ms.toPrecision(4));
const roundPeer = (ms: number | undefined) => (ms === undefined ? null : round(ms));

/** One bench run, summarized (validated: throws InvalidArgumentError where the report lacks a figure). */
export function recordFromReport(report: BenchReport, machine: string = defaultMachine(report)): PerfRecord {
  const p = report.parley;
  const q = report.peer;
  const m = report.model;
  const model: PerfRecord["model"] = {};
  if (m.shape !== undefined) model.shape = m.shape;
  if (m.type !== undefined) model.type = m.type;
  model.file = basename(m.path);
  model.parameterCount = m.parameterCount;
  const record: PerfRecord = {
    date: report.date,
    machine,
    device: p.device.name,
    driver: driverLabel(p.device),
    peer: q ? peerLabel(q) : null,
    model,
    settings: { decodeSteps: report.settings.decode, decodeAfterTokens: p.decode.contextTokens, repeat: report.settings.repeat },
    figures: {
      decodeMsPerToken: { parley: round(p.decode.medianMsPerToken), peer: roundPeer(q?.decode.medianMsPerToken) },
      decodeLoopMsPerToken: { parley: round(p.decodeLoop.medianMsPerToken), peer: roundPeer(q?.decode.medianMsPerToken) },
      prefill: p.prefill.map((f) => ({ tokens: f.tokens, parley: round(f.ms), peer: roundPeer(q?.prefill.find((g) => g.tokens === f.tokens)?.ms) })),
      firstTokenMs: { parley: round(p.firstToken.ms), peer: roundPeer(q?.firstToken.ms) },
      ...(p.firstTokenCold ? { firstTokenColdMs: { parley: round(p.firstTokenCold.ms), peer: roundPeer(q?.firstTokenCold?.ms) } } : {}),
    },
  };
  const notes = [...report.notes];
  // Which kernel settings produced the figures (a stored tuning or the device's defaults).
  if (p.tuning) {
    const decode = p.tuning.decode ? describeDecodeTuning(p.tuning.decode) : "one lane per row";
    notes.push(`Parley's kernels: decode ${decode}; prefill ${describePrefillTuning(p.tuning.prefill)}`);
  }
  if (notes.length) record.notes = notes;
  validateRecord(record);
  return record;
}

// ---------------------------------------------------------------------------------------------------------------
// Validation

function fail(where: string, what: string): never {
  throw new InvalidArgumentError(`${where}: ${what}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function checkKeys(v: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(v)) if (!allowed.includes(k)) fail(where, `unknown field "${k}" (expected ${allowed.join(", ")})`);
}

function checkString(v: unknown, where: string, { nonEmpty = true } = {}): void {
  if (typeof v !== "string") fail(where, `must be a string, got ${JSON.stringify(v)}`);
  if (nonEmpty && v.trim() === "") fail(where, "must not be empty");
}

function checkMs(v: unknown, where: string): void {
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) fail(where, `must be a positive number of ms, got ${JSON.stringify(v)}`);
}

function checkPositiveInt(v: unknown, where: string): void {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1) fail(where, `must be a positive integer, got ${JSON.stringify(v)}`);
}

function checkPair(v: unknown, where: string, extra: readonly string[] = []): void {
  if (!isObject(v)) fail(where, "must be an object { parley, peer }");
  checkKeys(v, ["parley", "peer", ...extra], where);
  checkMs(v.parley, `${where}.parley`);
  if (v.peer !== null) checkMs(v.peer, `${where}.peer`);
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$/;

/** Throws InvalidArgumentError naming the first field of `v` that is not a valid PerfRecord. */
export function validateRecord(v: unknown, where = "record"): asserts v is PerfRecord {
  if (!isObject(v)) fail(where, "must be an object");
  checkKeys(v, ["date", "machine", "device", "driver", "peer", "model", "settings", "figures", "notes"], where);
  checkString(v.date, `${where}.date`);
  if (!ISO_DATE.test(v.date as string) || Number.isNaN(Date.parse(v.date as string)))
    fail(`${where}.date`, `must be an ISO 8601 date, got ${JSON.stringify(v.date)}`);
  checkString(v.machine, `${where}.machine`);
  checkString(v.device, `${where}.device`);
  checkString(v.driver, `${where}.driver`);
  if (v.peer !== null) checkString(v.peer, `${where}.peer`);

  const model = v.model;
  if (!isObject(model)) fail(`${where}.model`, "must be an object { shape?, type?, file?, parameterCount? }");
  checkKeys(model, ["shape", "type", "file", "parameterCount"], `${where}.model`);
  for (const k of ["shape", "type", "file"] as const) if (model[k] !== undefined) checkString(model[k], `${where}.model.${k}`);
  if (model.parameterCount !== undefined) checkPositiveInt(model.parameterCount, `${where}.model.parameterCount`);

  if (v.settings !== undefined) {
    const s = v.settings;
    if (!isObject(s)) fail(`${where}.settings`, "must be an object { decodeSteps?, decodeAfterTokens?, repeat? }");
    checkKeys(s, ["decodeSteps", "decodeAfterTokens", "repeat"], `${where}.settings`);
    for (const k of ["decodeSteps", "decodeAfterTokens", "repeat"] as const) if (s[k] !== undefined) checkPositiveInt(s[k], `${where}.settings.${k}`);
  }

  const f = v.figures;
  if (!isObject(f)) fail(`${where}.figures`, "must be an object { decodeMsPerToken, decodeLoopMsPerToken?, prefill, firstTokenMs, firstTokenColdMs? }");
  checkKeys(f, ["decodeMsPerToken", "decodeLoopMsPerToken", "prefill", "firstTokenMs", "firstTokenColdMs"], `${where}.figures`);
  checkPair(f.decodeMsPerToken, `${where}.figures.decodeMsPerToken`);
  if (f.decodeLoopMsPerToken !== undefined) checkPair(f.decodeLoopMsPerToken, `${where}.figures.decodeLoopMsPerToken`);
  if (!Array.isArray(f.prefill)) fail(`${where}.figures.prefill`, "must be an array of { tokens, parley, peer }");
  const seen = new Set<number>();
  f.prefill.forEach((x: unknown, i: number) => {
    const w = `${where}.figures.prefill[${i}]`;
    checkPair(x, w, ["tokens"]);
    const tokens = (x as PrefillPair).tokens;
    checkPositiveInt(tokens, `${w}.tokens`);
    if (seen.has(tokens)) fail(w, `a second figure for ${tokens} tokens`);
    seen.add(tokens);
  });
  checkPair(f.firstTokenMs, `${where}.figures.firstTokenMs`);
  if (f.firstTokenColdMs !== undefined) checkPair(f.firstTokenColdMs, `${where}.figures.firstTokenColdMs`);

  if (v.notes !== undefined) {
    if (!Array.isArray(v.notes)) fail(`${where}.notes`, "must be an array of strings");
    v.notes.forEach((n: unknown, i: number) => checkString(n, `${where}.notes[${i}]`));
  }
}

/** Throws InvalidArgumentError unless `v` is an array of valid records. */
export function validateRecords(v: unknown, where = "records"): asserts v is PerfRecord[] {
  if (!Array.isArray(v)) fail(where, `must be a JSON array of records, got ${v === null ? "null" : typeof v}`);
  v.forEach((r, i) => validateRecord(r, `${where}[${i}]`));
}

// ---------------------------------------------------------------------------------------------------------------
// The records file

/** The records in `file` (validated). A missing file throws FileAccessError; a malformed one InvalidArgumentError. */
export function readRecords(file: string): PerfRecord[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new FileAccessError(file, code === "ENOENT" ? "no such file" : code === "EISDIR" ? "it is a folder" : ((e as Error).message ?? String(e)), {
      cause: e,
    });
  }
  return parseRecords(text, file);
}

function parseRecords(text: string, file: string): PerfRecord[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new InvalidArgumentError(`${file} is not a valid performance records file: not JSON (${(e as Error).message}); fix or move it (it was not changed)`);
  }
  try {
    validateRecords(data, file);
  } catch (e) {
    if (e instanceof InvalidArgumentError)
      throw new InvalidArgumentError(`${file} is not a valid performance records file: ${e.message}; fix or move it (it was not changed)`);
    throw e;
  }
  return data;
}

/** Throws (FileAccessError, InvalidArgumentError) unless `file` is a valid records file, or missing in an existing
 * folder (appendRecord will create it). */
export function checkRecordsFile(file: string): void {
  if (existsSync(file)) {
    readRecords(file);
    return;
  }
  const dir = dirname(file);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new FileAccessError(file, `its folder ${dir} does not exist`);
}

/** Validates `record` and appends it to the JSON array in `file` (a missing file starts a new array), atomically.
 * A malformed file throws InvalidArgumentError and is left as it is. Returns the number of records now in the file. */
export function appendRecord(file: string, record: PerfRecord): number {
  validateRecord(record);
  const records = existsSync(file) ? readRecords(file) : [];
  records.push(record);
  writeFileAtomic(file, `${JSON.stringify(records, null, 2)}\n`);
  return records.length;
}
