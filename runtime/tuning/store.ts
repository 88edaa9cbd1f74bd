// The tuning store: one JSON file of measured kernel tunings (measure.ts), one entry per
// device + driver + kernels + model shape, so a game measures once per player's machine and the next launch
// applies the result at load time. Written atomically (a temporary file renamed over it); a missing, corrupt or
// foreign file reads as empty, and problems with the folder never fail a load: they are reported instead.

import { createHash } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { writeFileAtomic } from "../atomic-file.js";
import { FileAccessError } from "../errors.js";
import { parleyCacheDir } from "../cache-dir.js";
import { validateDecodeTuning, validatePrefillTuning, type KernelTuning } from "./settings.js";
import type { LlamaConfig } from "../model-config.js";
import type { DeviceInfo } from "../native.js";

const FORMAT = "parley-kernel-tuning";
const VERSION = 1;
export const TUNING_FILE = "kernel-tuning.json";

/** What the store keeps for one device and model. */
export interface StoredTuning {
  tuning: KernelTuning;
  /** ms per token of the chosen settings and of the defaults, per phase, as measured. */
  decode: { msPerToken: number | null; defaultMsPerToken: number | null };
  prefill: { msPerToken: number | null; defaultMsPerToken: number | null };
  /** ISO date of the measurement. */
  measuredAt: string;
  /** Readable copies of what the key hashes. */
  device: string;
  driver: string;
  kernels: string;
  model: string;
}

/** The default store folder for `env`: $PARLEY_CACHE_DIR/tuning (etc., see runtime/cache-dir.ts), or null when
 * PARLEY_TUNING_CACHE=0 disables it or no home folder is known. */
export function defaultTuningStoreDir(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.PARLEY_TUNING_CACHE === "0") return null;
  const base = parleyCacheDir(env);
  return base === null ? null : join(base, "tuning");
}

/** What a kernel tuning depends on, as one key: the GPU and driver, the compiled kernels, and the model's
 * shapes and weight formats. Anything else changing (a driver update, a new Parley build) measures again. */
export function tuningKey(device: DeviceInfo, kernelsVersion: string, config: LlamaConfig, tensorTypes: Record<string, number>): string {
  const identity = {
    device: [device.vendorId, device.deviceId, device.name, device.driverName, device.driverInfo, device.apiVersion],
    kernels: kernelsVersion,
    model: [config.nLayer, config.nEmbd, config.nHead, config.nHeadKv, config.nFf, config.nVocab],
    types: Object.entries(tensorTypes).sort(([a], [b]) => a.localeCompare(b)),
  };
  return createHash("sha256").update(JSON.stringify(identity)).digest("hex").slice(0, 24);
}

export class TuningStore {
  /** The store's file; null: no store (nothing is read or written). */
  readonly path: string | null;

  constructor(folder: string | null) {
    this.path = folder === null ? null : join(folder, TUNING_FILE);
  }

  /** The stored tuning for `key`, or null (none, no store, or an unreadable/invalid entry). */
  read(key: string): StoredTuning | null {
    const entry = this.#entries()[key];
    if (typeof entry !== "object" || entry === null) return null;
    try {
      const e = entry as StoredTuning;
      const tuning = { decode: validateDecodeTuning(e.tuning?.decode), prefill: validatePrefillTuning(e.tuning?.prefill) };
      const ms = (v: unknown) => (typeof v === "number" ? v : null);
      const times = (p: Partial<StoredTuning["decode"]> | undefined) => ({ msPerToken: ms(p?.msPerToken), defaultMsPerToken: ms(p?.defaultMsPerToken) });
      return { ...e, tuning, decode: times(e.decode), prefill: times(e.prefill) };
    } catch {
      return null; // an invalid entry (hand-edited, or from another Parley): measured again by the next tune()
    }
  }

  /** Stores `entry` under `key` (other entries kept). Returns null, or why it could not. */
  write(key: string, entry: StoredTuning): string | null {
    if (this.path === null) return null;
    const entries = { ...this.#entries(), [key]: entry };
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      writeFileAtomic(this.path, JSON.stringify({ format: FORMAT, version: VERSION, entries }, null, 2) + "\n");
      return null;
    } catch (error) {
      return error instanceof FileAccessError ? error.message : `cannot write ${this.path}: ${(error as Error).message}`;
    }
  }

  #entries(): Record<string, unknown> {
    if (this.path === null) return {};
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch {
      return {}; // missing or unreadable: nothing stored (a write reports an unusable folder)
    }
    // A corrupt or foreign file reads as empty and is rewritten whole by the next write(): it loses nothing
    // that could still be read.
    let data: { format?: unknown; version?: unknown; entries?: unknown } | null;
    try {
      data = JSON.parse(text);
    } catch {
      return {};
    }
    const ours = data?.format === FORMAT && data.version === VERSION && typeof data.entries === "object" && data.entries !== null;
    return ours ? (data!.entries as Record<string, unknown>) : {};
  }
}
