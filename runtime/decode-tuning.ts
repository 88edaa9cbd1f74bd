// Decode tuning: picks the decode matrix-vector kernels' settings for this GPU and model by timing them.
//
// Decode is a chain of matrix-vector products whose best shape differs per GPU (rows per subgroup, staging
// the input in shared memory, 16-byte loads, the integer dot product) and per weight format. Players own
// every kind of GPU, so instead of one default per vendor Parley times a handful of settings on the device
// itself — a few greedy decode steps each, through the GPU-resident loop that generate() uses — keeps the
// fastest, and stores it (runtime/tuning-store.ts) so the next launch applies it without measuring. A game
// calls Model.tuneDecode() once, behind a loading screen, like a shader warm-up.

import { InvalidArgumentError, TuningFailedError } from "./errors.js";
import type { Session } from "./session.js";

/** Settings of the decode matrix-vector kernels (SessionOptions.decodeTuning, Model.tuneDecode). */
export interface DecodeTuning {
  /** Rows of each weight matrix one subgroup computes together: 1, 2, 4 or 8. */
  rowsPerSubgroup: number;
  /** Stage the product's input (the normalized x, or silu(gate)·up) in shared memory once per workgroup. */
  stageInput: boolean;
  /** Each lane loads 16 bytes of weights at a time instead of 4. */
  wideLoads: boolean;
  /** Q4_0 and Q8_0 products through the 4×8-bit integer dot product (devices that have it; the input is
   * rounded to bytes per 32 values, as llama.cpp's quantized products round it). */
  integerDot: boolean;
}

export const TUNING_ROWS = [1, 2, 4, 8] as const;

/** Throws InvalidArgumentError unless `t` is a complete DecodeTuning. */
export function validateDecodeTuning(t: unknown, what = "decodeTuning"): DecodeTuning {
  if (typeof t !== "object" || t === null) throw new InvalidArgumentError(`${what} must be an object, got ${JSON.stringify(t)}`);
  const o = t as Record<string, unknown>;
  if (!TUNING_ROWS.includes(o.rowsPerSubgroup as 1)) {
    throw new InvalidArgumentError(`${what}.rowsPerSubgroup must be 1, 2, 4 or 8, got ${JSON.stringify(o.rowsPerSubgroup)}`);
  }
  for (const key of ["stageInput", "wideLoads", "integerDot"] as const) {
    if (typeof o[key] !== "boolean") throw new InvalidArgumentError(`${what}.${key} must be true or false, got ${JSON.stringify(o[key])}`);
  }
  return { rowsPerSubgroup: o.rowsPerSubgroup as number, stageInput: o.stageInput as boolean, wideLoads: o.wideLoads as boolean, integerDot: o.integerDot as boolean };
}

export function sameTuning(a: DecodeTuning, b: DecodeTuning): boolean {
  return a.rowsPerSubgroup === b.rowsPerSubgroup && a.stageInput === b.stageInput && a.wideLoads === b.wideLoads && a.integerDot === b.integerDot;
}

/** "rows 4, staged, 16-byte loads, int8 dot" */
export function describeTuning(t: DecodeTuning): string {
  return [`rows ${t.rowsPerSubgroup}`, t.stageInput ? "staged" : "unstaged", ...(t.wideLoads ? ["16-byte loads"] : []), ...(t.integerDot ? ["int8 dot"] : [])].join(", ");
}

/** One measured setting. */
export interface TuningCandidate {
  tuning: DecodeTuning;
  /** Median milliseconds per decode step; null when the setting failed. */
  msPerToken: number | null;
  /** Why the setting failed (a driver that rejected a kernel, say). */
  error?: string;
}

export interface DecodeTuningReport {
  /** The setting sessions of this model now use. */
  tuning: DecodeTuning;
  /** "measured": timed just now; "stored": read from the tuning store (nothing was timed). */
  source: "measured" | "stored";
  /** The device's built-in defaults, which the tuning is compared against. */
  defaults: DecodeTuning;
  /** ms/token of the chosen setting and of the defaults (when measured or stored). */
  msPerToken: number | null;
  defaultMsPerToken: number | null;
  /** Every setting timed, in the order timed (empty when stored). */
  candidates: TuningCandidate[];
  /** Where the result is stored (null: no tuning store), and why storing it failed (null: it did not). */
  storePath: string | null;
  storeError: string | null;
}

export interface TuneDecodeOptions {
  /** Measure even when a tuning is stored for this device, driver, kernels and model. Default false. */
  force?: boolean;
  /** Decode steps per timed chain (1..64). Default 16 on GPUs, 2 on CPU Vulkan drivers (whose steps are slow). */
  steps?: number;
  /** Timed chains per setting; the median counts. Default 3. */
  repeat?: number;
  /** Called before each setting is timed. */
  onProgress?: (progress: { index: number; tuning: DecodeTuning }) => void;
}

/** A setting wins only when it beats the defaults by more than this fraction (a guard against noise). */
export const TUNING_MARGIN = 0.02;

/**
 * The setting to keep: the fastest that worked, unless the defaults are within TUNING_MARGIN of it.
 * Throws when no setting worked.
 */
export function chooseTuning(candidates: readonly TuningCandidate[], defaults: DecodeTuning): TuningCandidate {
  const ok = candidates.filter((c) => c.msPerToken !== null && Number.isFinite(c.msPerToken));
  if (ok.length === 0) {
    const why = candidates.filter((c) => c.error).map((c) => `${describeTuning(c.tuning)}: ${c.error}`);
    throw new TuningFailedError(`decode tuning: no setting worked (${why.join("; ") || "nothing was measured"})`);
  }
  const fastest = ok.reduce((a, b) => (b.msPerToken! < a.msPerToken! ? b : a));
  const byDefault = ok.find((c) => sameTuning(c.tuning, defaults));
  if (byDefault && byDefault.msPerToken! <= fastest.msPerToken! * (1 + TUNING_MARGIN)) return byDefault;
  return fastest;
}

/**
 * The search, in three rounds so that it times ~10 settings rather than every combination: rows per
 * subgroup × staging; then 16-byte loads on the best so far; then, where the device has an integer dot
 * product and the model has Q4_0/Q8_0 products, that path with 1, 2 and 4 rows (it always stages).
 * `measure` times one setting (null: it failed).
 */
export async function searchTuning(
  defaults: DecodeTuning,
  options: { integerDot: boolean },
  measure: (t: DecodeTuning) => Promise<TuningCandidate>,
): Promise<TuningCandidate[]> {
  const timed: TuningCandidate[] = [];
  const time = async (t: DecodeTuning) => {
    const known = timed.find((c) => sameTuning(c.tuning, t));
    if (known) return known;
    const c = await measure(t);
    timed.push(c);
    return c;
  };
  const best = () => chooseTuning(timed, defaults).tuning;
  await time(defaults);
  for (const rowsPerSubgroup of [1, 2, 4]) {
    for (const stageInput of [false, true]) await time({ rowsPerSubgroup, stageInput, wideLoads: false, integerDot: false });
  }
  await time({ ...best(), wideLoads: true, integerDot: false });
  if (options.integerDot) {
    for (const rowsPerSubgroup of [1, 2, 4]) await time({ rowsPerSubgroup, stageInput: true, wideLoads: false, integerDot: true });
  }
  return timed;
}

/**
 * Times greedy decoding in `session` (fresh, context ≥ 2 + steps × (repeat + 1)) through the GPU-resident
 * loop: one untimed chain to warm up, then `repeat` chains of `steps` steps; the median ms per step.
 */
export async function timeDecodeSteps(session: Session, firstToken: number, steps: number, repeat: number): Promise<number> {
  let token = (await session.evaluate([firstToken], { logits: "none" })).argmax;
  token = (await session.decodeChain(token, steps)).at(-1)!;
  const perStep: number[] = [];
  for (let i = 0; i < repeat; i++) {
    const t0 = performance.now();
    token = (await session.decodeChain(token, steps)).at(-1)!;
    perStep.push((performance.now() - t0) / steps);
  }
  perStep.sort((a, b) => a - b);
  return perStep[Math.floor(perStep.length / 2)];
}

/** The environment variables that override every tuning (native/src/session.cpp): tuning is moot under them. */
export const TUNING_ENV_OVERRIDES = ["PARLEY_MATVEC_ROWS", "PARLEY_MATVEC_STAGE", "PARLEY_MATVEC_WIDE", "PARLEY_MATVEC_DOT8"] as const;
