// What a kernel tuning is: the decode and prefill kernels' settings, their validation (SessionOptions.tuning,
// the tuning store) and their one-line descriptions. Imports nothing of the model or the session, so the
// session, the model, the measuring (measure.ts) and the store (store.ts) can all depend on it.

import { InvalidArgumentError } from "../errors.js";

/** Settings of the decode matrix-vector kernels. */
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

export const PREFILL_KERNELS = ["gemm", "tiled16", "matvec", "lane", "coopmat"] as const;

/** The prefill matrix-product kernel. */
export interface PrefillTuning {
  /** "gemm": 64 × 64 shared-memory tiles; "tiled16": 16-token tiles, several threads per row; "matvec": the
   * matrix-vector kernels over 8-token tiles; "lane": one SIMD lane per row (CPU drivers' narrow models);
   * "coopmat": the GEMM's tiles through cooperative matrices, fp16 inputs and fp32 sums (devices whose
   * `cooperativeMatrixPrefill` is true). */
  kernel: (typeof PREFILL_KERNELS)[number];
  /** With "gemm": Q4_0 and Q8_0 products through the integer dot product (x rounded to bytes per 32). */
  integerDot: boolean;
}

/** Both settings (SessionOptions.tuning, Model.tune). */
export interface KernelTuning {
  decode: DecodeTuning;
  prefill: PrefillTuning;
}

export const TUNING_ROWS = [1, 2, 4, 8] as const;

function checkFlags(o: Record<string, unknown>, keys: readonly string[], what: string): void {
  for (const key of keys) {
    if (typeof o[key] !== "boolean") throw new InvalidArgumentError(`${what}.${key} must be true or false, got ${JSON.stringify(o[key])}`);
  }
}

/** Throws InvalidArgumentError unless `t` is a complete DecodeTuning. */
export function validateDecodeTuning(t: unknown, what = "tuning.decode"): DecodeTuning {
  if (typeof t !== "object" || t === null) throw new InvalidArgumentError(`${what} must be an object, got ${JSON.stringify(t)}`);
  const o = t as Record<string, unknown>;
  if (!TUNING_ROWS.includes(o.rowsPerSubgroup as 1)) {
    throw new InvalidArgumentError(`${what}.rowsPerSubgroup must be 1, 2, 4 or 8, got ${JSON.stringify(o.rowsPerSubgroup)}`);
  }
  checkFlags(o, ["stageInput", "wideLoads", "integerDot"], what);
  return {
    rowsPerSubgroup: o.rowsPerSubgroup as number,
    stageInput: o.stageInput as boolean,
    wideLoads: o.wideLoads as boolean,
    integerDot: o.integerDot as boolean,
  };
}

/** Throws InvalidArgumentError unless `t` is a complete PrefillTuning. */
export function validatePrefillTuning(t: unknown, what = "tuning.prefill"): PrefillTuning {
  if (typeof t !== "object" || t === null) throw new InvalidArgumentError(`${what} must be an object, got ${JSON.stringify(t)}`);
  const o = t as Record<string, unknown>;
  if (!PREFILL_KERNELS.includes(o.kernel as "gemm")) {
    throw new InvalidArgumentError(`${what}.kernel must be one of ${PREFILL_KERNELS.join(", ")}, got ${JSON.stringify(o.kernel)}`);
  }
  checkFlags(o, ["integerDot"], what);
  return { kernel: o.kernel as PrefillTuning["kernel"], integerDot: o.integerDot as boolean };
}

/** Whether two settings objects (flat: numbers, booleans, strings) hold the same values. */
export function sameSettings<T extends object>(a: T, b: T): boolean {
  const keys = Object.keys(a) as (keyof T)[];
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

/** "rows 4, staged, 16-byte loads, int8 dot" */
export function describeDecodeTuning(t: DecodeTuning): string {
  return [
    `rows ${t.rowsPerSubgroup}`,
    t.stageInput ? "staged" : "unstaged",
    ...(t.wideLoads ? ["16-byte loads"] : []),
    ...(t.integerDot ? ["int8 dot"] : []),
  ].join(", ");
}

/** "gemm, int8 dot" */
export function describePrefillTuning(t: PrefillTuning): string {
  return t.integerDot ? `${t.kernel}, int8 dot` : t.kernel;
}

/** "decode rows 2, staged; prefill gemm" */
export function describeTuning(t: KernelTuning): string {
  return `decode ${describeDecodeTuning(t.decode)}; prefill ${describePrefillTuning(t.prefill)}`;
}

/** The environment variables that override every tuning (native/src/kernel_choice.cpp): tuning is moot under them. */
export const TUNING_ENV_OVERRIDES = [
  "PARLEY_MATVEC_ROWS",
  "PARLEY_MATVEC_STAGE",
  "PARLEY_MATVEC_WIDE",
  "PARLEY_MATVEC_DOT8",
  "PARLEY_PREFILL",
  "PARLEY_PREFILL_DOT8",
] as const;
