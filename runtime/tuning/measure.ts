// Kernel tuning: picks the decode and prefill kernels' settings for this GPU and model by timing them.
//
// Decode is a chain of matrix-vector products whose best shape differs per GPU (rows per subgroup, staging
// the input in shared memory, 16-byte loads, the integer dot product) and per weight format; prefill is a
// choice between matrix-product kernels (the tiled GEMM, with or without the integer dot product, 16-token
// tiles, matrix-vector token tiles, one lane per row). Players own every kind of GPU, so instead of one
// default per vendor Parley times the candidates on the device itself — greedy decode chains through the
// GPU-resident loop that generate() uses, and prompt steps of a session's micro-batch — keeps the fastest,
// and stores the result (store.ts) so the next launch applies it without measuring. A game calls Model.tune()
// once, behind a loading screen, like a shader warm-up. The settings themselves are in settings.ts.

import { DisposedError, InvalidArgumentError, TuningFailedError } from "../errors.js";
import type { Model } from "../model.js";
import type { DeviceInfo } from "../native.js";
import { AbortError, type Session, type SessionOptions } from "../session.js";
import {
  describeDecodeTuning,
  describePrefillTuning,
  PREFILL_KERNELS,
  sameSettings,
  type DecodeTuning,
  type KernelTuning,
  type PrefillTuning,
} from "./settings.js";

/** One measured setting. */
export interface TuningCandidate<T> {
  tuning: T;
  /** Median milliseconds per token (decode: per step; prefill: per prompt token); null when it failed. */
  msPerToken: number | null;
  /** How far its logits were from the defaults' on the same tokens (max |difference| / max |default logit|;
   * 0 for the defaults themselves). Absent where the setting failed before that check. */
  logitError?: number;
  /** Why the setting failed (a driver that rejected a kernel, or computed logits unlike the defaults'). */
  error?: string;
}

/** One phase (decode or prefill) of a tuning: what it chose, how fast, and what it timed. */
export interface PhaseReport<T> {
  tuning: T;
  /** The device's built-in setting, which the choice is compared against. */
  defaults: T;
  msPerToken: number | null;
  defaultMsPerToken: number | null;
  /** Every setting timed, in the order timed (empty when the result was stored). */
  candidates: TuningCandidate<T>[];
}

export interface TuningReport {
  /** The settings sessions of this model now use. */
  tuning: KernelTuning;
  /** "measured": timed just now; "stored": read from the tuning store (nothing was timed). */
  source: "measured" | "stored";
  decode: PhaseReport<DecodeTuning>;
  prefill: PhaseReport<PrefillTuning>;
  /** Where the result is stored (null: no tuning store), and why storing it failed (null: it did not). */
  storePath: string | null;
  storeError: string | null;
}

export interface TuneOptions {
  /** Measure even when a tuning is stored for this device, driver, kernels and model. Default false. */
  force?: boolean;
  /** Decode steps per timed chain (1..64). Default 16 on GPUs, 2 on CPU Vulkan drivers (whose steps are slow). */
  steps?: number;
  /** Prompt tokens per timed prefill step (1..512; also the sessions' micro-batch). Default 64 on GPUs
   * (the default micro-batch), 8 on CPU Vulkan drivers. */
  prefillTokens?: number;
  /** Timed chains or prompt steps per setting; the median counts. Default 3. */
  repeat?: number;
  /** Called before each setting is timed. */
  onProgress?: (progress: { phase: "decode" | "prefill"; index: number; setting: DecodeTuning | PrefillTuning }) => void;
  /** Stops the tuning before the next setting (a player skipping the loading screen): tune() then throws an
   * AbortError, and nothing is applied or stored. */
  signal?: AbortSignal;
}

/** A setting wins only when it beats the defaults by more than this fraction (a guard against noise). */
export const TUNING_MARGIN = 0.02;

/**
 * The largest logit error (relative to the defaults' largest logit) a setting may show and still be kept.
 * Settings only change how the work is split and rounded: summation order, fp16 inputs, activations rounded
 * to bytes (up to ~5e-2 on the synthetic models; llama.cpp's own quantized products are as far from exact).
 * A kernel that a driver miscompiles, or one that is wrong on a GPU no test ran it on, is off by O(1).
 */
export const TUNING_LOGIT_TOLERANCE = 0.1;

/** max |got − want| / max |want|; Infinity where either holds a NaN or infinity, or the lengths differ. */
export function logitError(got: Float32Array, want: Float32Array): number {
  if (got.length !== want.length) return Infinity;
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (!Number.isFinite(d)) return Infinity;
    diff = Math.max(diff, d);
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return scale > 0 ? diff / scale : diff === 0 ? 0 : Infinity;
}

/** The index of the largest logit, the lowest on ties, NaNs never (what the GPU's greedy argmax returns). */
export function argmaxOf(logits: Float32Array): number {
  let best = 0;
  let value = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    if (logits[i] > value) {
      value = logits[i];
      best = i;
    }
  }
  return best;
}

/**
 * Checks each setting's logits against the first one handed in (the defaults, which every search times
 * first, unless they failed before computing any): returns their logitError, or throws TuningFailedError
 * above TUNING_LOGIT_TOLERANCE, so that a fast but wrong kernel is never chosen on a player's GPU.
 */
export function logitAgreement(): (logits: Float32Array) => number {
  let reference: Float32Array | undefined;
  return (logits) => {
    if (reference === undefined) {
      reference = logits;
      return 0;
    }
    const err = logitError(logits, reference);
    if (!(err <= TUNING_LOGIT_TOLERANCE)) {
      throw new TuningFailedError(`its logits differ from the default kernels' (error ${err.toExponential(2)}, more than ${TUNING_LOGIT_TOLERANCE})`);
    }
    return err;
  };
}

/**
 * The setting to keep: the fastest that worked, unless the defaults are within TUNING_MARGIN of it.
 * Throws TuningFailedError when no setting worked.
 */
export function chooseTuning<T extends object>(
  candidates: readonly TuningCandidate<T>[],
  defaults: T,
  describe: (t: T) => string = JSON.stringify,
): TuningCandidate<T> {
  const ok = candidates.filter((c) => c.msPerToken !== null && Number.isFinite(c.msPerToken));
  if (ok.length === 0) {
    const why = candidates.filter((c) => c.error).map((c) => `${describe(c.tuning)}: ${c.error}`);
    throw new TuningFailedError(`tuning: no setting worked (${why.join("; ") || "nothing was measured"})`);
  }
  const fastest = ok.reduce((a, b) => (b.msPerToken! < a.msPerToken! ? b : a));
  const byDefault = ok.find((c) => sameSettings(c.tuning, defaults));
  if (byDefault && byDefault.msPerToken! <= fastest.msPerToken! * (1 + TUNING_MARGIN)) return byDefault;
  return fastest;
}

/** Times each setting once (the defaults first), skipping repeats. */
function timer<T extends object>(measure: (t: T) => Promise<TuningCandidate<T>>) {
  const timed: TuningCandidate<T>[] = [];
  const time = async (t: T) => {
    if (!timed.some((c) => sameSettings(c.tuning, t))) timed.push(await measure(t));
  };
  return { timed, time };
}

/**
 * The decode search, in three rounds so that it times at most 12 settings rather than every combination: rows
 * per subgroup (1, 2, 4, 8) × staging; then 16-byte loads on the best so far; then, where the device has an integer dot
 * product and the model has Q4_0/Q8_0 products, that path with 1, 2 and 4 rows (it always stages).
 */
export async function searchDecodeTuning(
  defaults: DecodeTuning,
  options: { integerDot: boolean },
  measure: (t: DecodeTuning) => Promise<TuningCandidate<DecodeTuning>>,
): Promise<TuningCandidate<DecodeTuning>[]> {
  const { timed, time } = timer(measure);
  await time(defaults);
  for (const rowsPerSubgroup of [1, 2, 4, 8]) {
    for (const stageInput of [false, true]) await time({ rowsPerSubgroup, stageInput, wideLoads: false, integerDot: false });
  }
  await time({ ...chooseTuning(timed, defaults).tuning, wideLoads: true, integerDot: false });
  if (options.integerDot) {
    for (const rowsPerSubgroup of [1, 2, 4]) await time({ rowsPerSubgroup, stageInput: true, wideLoads: false, integerDot: true });
  }
  return timed;
}

/** The prefill search: every kernel the device can run, and the GEMM with the integer dot product where it applies. */
export async function searchPrefillTuning(
  defaults: PrefillTuning,
  options: { integerDot: boolean; cooperativeMatrix: boolean },
  measure: (t: PrefillTuning) => Promise<TuningCandidate<PrefillTuning>>,
): Promise<TuningCandidate<PrefillTuning>[]> {
  const { timed, time } = timer(measure);
  await time(defaults);
  for (const kernel of PREFILL_KERNELS) {
    if (kernel !== "coopmat" || options.cooperativeMatrix) await time({ kernel, integerDot: false });
  }
  if (options.integerDot) await time({ kernel: "gemm", integerDot: true });
  return timed;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
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
  return median(perStep);
}

/**
 * Times prompt evaluation in `session` (micro-batch and context ≥ tokens.length): one untimed step to warm
 * up, then `repeat` steps of all of `tokens` on an emptied cache; the median ms per prompt token.
 */
export async function timePrefillSteps(session: Session, tokens: readonly number[], repeat: number): Promise<number> {
  const perToken: number[] = [];
  for (let i = 0; i <= repeat; i++) {
    session.reset();
    const t0 = performance.now();
    await session.evaluate(tokens, { logits: "none" });
    if (i > 0) perToken.push((performance.now() - t0) / tokens.length);
  }
  return median(perToken);
}

/** The run lengths of a tuning on `device` (defaults filled in); bad values are InvalidArgumentErrors. */
export function tuneRuns(options: TuneOptions, device: DeviceInfo): { steps: number; prefillTokens: number; repeat: number } {
  const cpu = device.type === "cpu";
  const runs = { steps: options.steps ?? (cpu ? 2 : 16), prefillTokens: options.prefillTokens ?? (cpu ? 8 : 64), repeat: options.repeat ?? 3 };
  const limits = { steps: 64, prefillTokens: 512, repeat: 100 };
  for (const [name, v] of Object.entries(runs) as Array<[keyof typeof runs, number]>) {
    if (!Number.isInteger(v) || v < 1 || v > limits[name]) throw new InvalidArgumentError(`tune: ${name} must be an integer in 1..${limits[name]}, got ${v}`);
  }
  return runs;
}

/**
 * Times both phases' candidates for `model` on `device` (Model.tune's measuring half: it applies and stores
 * the result). Each setting runs in a small session of its own; one that fails (a driver rejecting a kernel)
 * is recorded and skipped. Decode runs with the built-in prefill and the other way round.
 */
export async function measureTuning(
  model: Model,
  device: DeviceInfo,
  defaults: KernelTuning,
  options: TuneOptions,
): Promise<{ decode: PhaseReport<DecodeTuning>; prefill: PhaseReport<PrefillTuning> }> {
  const { steps, prefillTokens, repeat } = tuneRuns(options, device);
  const types = model.info.tensorTypes;
  const integerDot = device.integerDotKernels && ("Q4_0" in types || "Q8_0" in types);

  // Each setting: a session of its own; first the logits after the check tokens, against the defaults' (the
  // first setting of each phase), then the timed runs on the emptied cache.
  const timeWith = async <T>(
    phase: "decode" | "prefill",
    index: number,
    setting: T,
    sessionOptions: SessionOptions,
    check: { tokens: number[]; agree: (logits: Float32Array) => number },
    run: (s: Session) => Promise<number>,
  ): Promise<TuningCandidate<T>> => {
    if (options.signal?.aborted) throw new AbortError();
    options.onProgress?.({ phase, index, setting: setting as DecodeTuning | PrefillTuning });
    let session: Session | undefined;
    let logitErr: number | undefined;
    try {
      session = await model.createSessionAsync(sessionOptions); // its new pipelines are built off the JS thread
      const step = await session.evaluate(check.tokens, { logits: "last" });
      // The greedy token the GPU found must be the logits' own argmax (the LM head's fused argmax on GPUs).
      if (step.argmax !== argmaxOf(step.logits!)) {
        throw new TuningFailedError(`its greedy token ${step.argmax} is not the argmax of its logits (${argmaxOf(step.logits!)})`);
      }
      logitErr = check.agree(step.logits!);
      session.reset();
      return { tuning: setting, msPerToken: await run(session), logitError: logitErr };
    } catch (error) {
      if (error instanceof DisposedError) throw error; // the model went away: stop, not a setting's failure
      if (options.signal?.aborted) throw new AbortError();
      return { tuning: setting, msPerToken: null, ...(logitErr !== undefined ? { logitError: logitErr } : {}), error: (error as Error).message };
    } finally {
      session?.dispose();
    }
  };
  const phaseReport = <T extends object>(candidates: TuningCandidate<T>[], d: T, describe: (t: T) => string): PhaseReport<T> => {
    const chosen = chooseTuning(candidates, d, describe);
    const byDefault = candidates.find((c) => sameSettings(c.tuning, d));
    return { tuning: chosen.tuning, defaults: d, msPerToken: chosen.msPerToken, defaultMsPerToken: byDefault?.msPerToken ?? null, candidates };
  };

  let index = 0;
  // The decode check runs 8 one-token steps (bos and 7 prompt tokens), so attention sees several keys.
  const DECODE_CHECK_TOKENS = 8;
  const decodeContext = Math.max(2 + steps * (repeat + 1), DECODE_CHECK_TOKENS);
  const bos = model.tokenizer.bosId;
  // A prompt of ordinary tokens (not special ones), the same for every kernel.
  const prompt = Array.from({ length: prefillTokens }, (_, i) => 1000 + ((i * 7919) % 20000));
  const decodeCheck = { tokens: [bos, ...prompt.slice(0, DECODE_CHECK_TOKENS - 1)], agree: logitAgreement() };
  const decode = await searchDecodeTuning(defaults.decode, { integerDot }, (t) =>
    timeWith("decode", index++, t, { contextSize: decodeContext, ubatch: 1, tuning: { decode: t, prefill: defaults.prefill } }, decodeCheck, (s) =>
      timeDecodeSteps(s, bos, steps, repeat),
    ),
  );
  index = 0;
  const prefillCheck = { tokens: prompt, agree: logitAgreement() };
  const prefill = await searchPrefillTuning(defaults.prefill, { integerDot, cooperativeMatrix: device.cooperativeMatrixPrefill }, (t) =>
    timeWith("prefill", index++, t, { contextSize: prefillTokens, ubatch: prefillTokens, tuning: { decode: defaults.decode, prefill: t } }, prefillCheck, (s) =>
      timePrefillSteps(s, prompt, repeat),
    ),
  );
  return { decode: phaseReport(decode, defaults.decode, describeDecodeTuning), prefill: phaseReport(prefill, defaults.prefill, describePrefillTuning) };
}
