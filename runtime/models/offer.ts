// The "when online, offer to download TinyLlama" step of default model resolution (resolve.ts): when
// nothing real is installed (the caller would run its demo model or the random-weight stand-in) and the
// catalogue's host answers, ask whether to download the real model, download it with progress, and return
// its path. Offline, with PARLEY_OFFLINE=1, or when there is no one to ask, it asks nothing and downloads
// nothing. The UI is the caller's: `ask`, `log` and `onProgress` can be a terminal or an Electron dialog.

import { ParleyError } from "../errors.js";
import { getEntry, loadCatalogue, type CatalogueEntry } from "./catalogue.js";
import { downloadModel, type DownloadProgress } from "./download.js";
import type { ResolvedModel } from "./resolve.js";
import { modelsFolder } from "./store.js";

/** The catalogue entry offered by default: TinyLlama-1.1B-Chat-v1.0 in Q4_0. */
export const DEFAULT_OFFER = "tinyllama-1.1b-chat-v1.0-q4_0";

export interface ModelOfferOptions {
  /** Environment for PARLEY_OFFLINE, PARLEY_MODELS and PARLEY_CATALOGUE. Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Whether `ask` can reach someone (a terminal, a window); false: never ask, only log how to get the model. Default true. */
  interactive?: boolean;
  /** Asks a yes/no question; resolves true for yes. */
  ask: (question: string) => Promise<boolean>;
  /** One line of information for the user. */
  log: (line: string) => void;
  /** Download progress: fraction 0..1, the entry, and the download's own progress record. */
  onProgress?: (fraction: number, entry: CatalogueEntry, progress: DownloadProgress) => void;
  /** Cancels the online check and the download (a cancelled download keeps its `.part` for the next try). */
  signal?: AbortSignal;
  /** Catalogue id to offer. Default DEFAULT_OFFER. */
  entryId?: string;
  /** How long the online check may take. Default 1500 ms. */
  timeoutMs?: number;
}

/** True when a resolved model is only a fallback (the demo model or the stand-in), so a download is worth offering. */
export function shouldOfferDownload(resolved: Pick<ResolvedModel, "source">): boolean {
  return resolved.source === "demo" || resolved.source === "synthetic";
}

/**
 * The downloaded model's path, or null when nothing was downloaded (offline, declined, not interactive).
 * Rejects with a ParleyError coded ABORTED when `signal` aborts, and with the download's errors
 * (ModelDownloadError, ChecksumMismatchError) when it fails.
 */
export async function offerModelDownload(options: ModelOfferOptions): Promise<string | null> {
  const env = options.env ?? process.env;
  const signal = options.signal;
  if (env.PARLEY_OFFLINE === "1") return null;
  throwIfAborted(signal);
  const folder = modelsFolder(env);
  const entry = getEntry(await loadCatalogue({ folder, env }), options.entryId ?? DEFAULT_OFFER);
  // The package's own name: outside a project that has it, `npx parley` would fetch an unrelated package.
  const command = `npx parley-npc model get ${entry.id}`;
  const online = await reachable(entry.url, options.timeoutMs ?? 1500, signal);
  throwIfAborted(signal);
  if (!online) return null;
  if (options.interactive === false) {
    options.log(`a real model is available: ${command} (it is then picked up from ${folder})`);
    return null;
  }
  const size = entry.sizeBytes ? ` (${(entry.sizeBytes / 1e6).toFixed(0)} MB)` : "";
  const yes = await options.ask(`Download ${entry.name}${size} into ${folder}? [y/N] `);
  throwIfAborted(signal);
  if (!yes) {
    options.log(`later: ${command}`);
    return null;
  }
  const result = await downloadModel(entry, {
    folder,
    signal,
    onProgress: (p) => options.onProgress?.(p.totalBytes ? p.receivedBytes / p.totalBytes : 0, entry, p),
  });
  return result.path;
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new ParleyError("ABORTED", "the model download offer was cancelled", { cause: signal.reason });
}

async function reachable(url: string, timeoutMs: number, signal: AbortSignal | undefined): Promise<boolean> {
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    await fetch(url, { method: "HEAD", redirect: "manual", signal: signal ? AbortSignal.any([timeout, signal]) : timeout });
    return true;
  } catch {
    return false;
  }
}
