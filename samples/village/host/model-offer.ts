// The "when online, offer to download TinyLlama" step of `npm start`'s model resolution: when the village
// would run the demo model (or the random-weight stand-in), and the catalogue's host answers, ask the
// player whether to download the real model (with progress), and use it when they say yes. Offline, in
// CI (PARLEY_OFFLINE=1) or without a terminal to ask on, it only says how to get the model later.

import { downloadModel, getEntry, loadCatalogue, modelsFolder, type CatalogueEntry } from "../../../runtime/models/index.js";

export const DEFAULT_OFFER = "tinyllama-1.1b-chat-v1.0-q4_0";

export interface OfferOptions {
  env?: NodeJS.ProcessEnv;
  /** A terminal to ask on; false: never ask. */
  interactive: boolean;
  /** Asks a yes/no question. */
  ask: (question: string) => Promise<boolean>;
  log: (line: string) => void;
  /** Download progress, 0..1. */
  onProgress?: (fraction: number, entry: CatalogueEntry) => void;
  entryId?: string;
  /** How long the online check may take. Default 1500 ms. */
  timeoutMs?: number;
}

/** The downloaded model's path, or null when nothing was downloaded. */
export async function offerModelDownload(options: OfferOptions): Promise<string | null> {
  const env = options.env ?? process.env;
  if (env.PARLEY_OFFLINE === "1") return null;
  const folder = modelsFolder(env);
  const entry = getEntry(await loadCatalogue({ folder, env }), options.entryId ?? DEFAULT_OFFER);
  const command = `npx parley model get ${entry.id}`;
  if (!(await reachable(entry.url, options.timeoutMs ?? 1500))) return null;
  if (!options.interactive) {
    options.log(`a real model is available: ${command} (then npm start picks it up)`);
    return null;
  }
  const size = entry.sizeBytes ? ` (${(entry.sizeBytes / 1e6).toFixed(0)} MB)` : "";
  if (!(await options.ask(`Download ${entry.name}${size} into ${folder}? [y/N] `))) {
    options.log(`later: ${command}`);
    return null;
  }
  const result = await downloadModel(entry, {
    folder,
    onProgress: (p) => options.onProgress?.(p.totalBytes ? p.receivedBytes / p.totalBytes : 0, entry),
  });
  return result.path;
}

async function reachable(url: string, timeoutMs: number): Promise<boolean> {
  try {
    await fetch(url, { method: "HEAD", redirect: "manual", signal: AbortSignal.timeout(timeoutMs) });
    return true;
  } catch {
    return false;
  }
}
