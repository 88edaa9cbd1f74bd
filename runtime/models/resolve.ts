// Default model resolution, shared by `npm start`, the editor and games: an explicit file (`--model`), then
// PARLEY_MODEL, then the first GGUF in the models folder (PARLEY_MODELS, else models/ in Parley's cache folder; names
// containing "chat" first), then the caller's bundled demo model, and when even that is missing, a synthetic
// TinyLlama-shaped `tiny` model (random weights) written once into the folder. The result says where the
// model came from (`source`) and carries the one line to show on screen (`note`). The "when online, offer a
// download" step between the folder and the demo model is offerModelDownload (offer.ts), driven by the caller.

import { mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { FileAccessError } from "../errors.js";
import { modelsFolder } from "./store.js";

/** Where a resolved model came from, in resolution order. */
export type ModelSource = "explicit" | "env" | "folder" | "demo" | "synthetic";

export interface ResolvedModel {
  /** Absolute path of the GGUF file to load. */
  path: string;
  /** Which step of the resolution order found it. */
  source: ModelSource;
  /** One line for the screen: which model is running and where it came from. */
  note: string;
  /** True for the random-weight stand-in (it speaks noise). */
  synthetic: boolean;
  /** The models folder that was searched (absolute). */
  folder: string;
}

export interface ResolveModelOptions {
  /** An explicit file (`--model FILE`): wins over everything else; must exist. */
  model?: string;
  /** Environment for PARLEY_MODEL and PARLEY_MODELS. Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** The game's bundled fallback model, used when the folder has none; null or undefined: none. */
  demoModel?: string | null;
  /** How the note names the demo model. Default: `demo model <path>`. */
  demoLabel?: string;
}

/** The synthetic stand-in's file name inside the models folder (never picked as a "found" model). */
export const SYNTHETIC_MODEL_NAME = "synthetic-tiny-q4_0.gguf";

const REAL_MODEL_HINT = "pass --model FILE, set PARLEY_MODEL, or put a TinyLlama-1.1B-Chat GGUF (e.g. tinyllama-1.1b-chat-v1.0.Q4_0.gguf) into";

/**
 * Picks the model to run. A missing or non-file explicit model (or PARLEY_MODEL) is a FileAccessError;
 * otherwise this always finds one, writing the synthetic stand-in when nothing else is there.
 */
export async function resolveModel(options: ResolveModelOptions = {}): Promise<ResolvedModel> {
  const env = options.env ?? process.env;
  const folder = modelsFolder(env);
  if (options.model !== undefined && options.model !== "") {
    const path = checkFile(options.model, "--model");
    return { path, source: "explicit", note: `model: ${path} (--model)`, synthetic: false, folder };
  }
  if (env.PARLEY_MODEL) {
    const path = checkFile(env.PARLEY_MODEL, "PARLEY_MODEL");
    return { path, source: "env", note: `model: ${path} (PARLEY_MODEL)`, synthetic: false, folder };
  }
  const found = findInFolder(folder);
  if (found) return { path: found, source: "folder", note: `model: ${found} (from ${folder})`, synthetic: false, folder };

  if (options.demoModel != null && isFile(options.demoModel)) {
    const path = resolve(options.demoModel);
    const label = options.demoLabel ?? `demo model ${path}`;
    return { path, source: "demo", note: `model: ${label} — for real conversations, ${REAL_MODEL_HINT} ${folder}`, synthetic: false, folder };
  }

  const path = join(folder, SYNTHETIC_MODEL_NAME);
  if (!isFile(path)) {
    mkdirSync(folder, { recursive: true });
    // Written under a temporary name and renamed, so an interrupted write never leaves a broken model.
    const partial = `${path}.${process.pid}.partial`;
    try {
      const { writeSyntheticModel } = await import("../synth/synth.js");
      await writeSyntheticModel({ shape: "tiny", type: "q4_0", seed: 1, out: partial });
      renameSync(partial, path);
    } catch (error) {
      rmSync(partial, { force: true });
      throw error;
    }
  }
  return {
    path,
    source: "synthetic",
    note: `model: synthetic tiny Q4_0 with random weights (it speaks noise) — ${REAL_MODEL_HINT} ${folder}`,
    synthetic: true,
    folder,
  };
}

function checkFile(file: string, source: string): string {
  const path = resolve(file);
  let stat;
  try {
    stat = statSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new FileAccessError(path, `${code === "ENOENT" ? "no such file" : `not readable (${code ?? String(error)})`} (given by ${source})`, { cause: error });
  }
  if (!stat.isFile()) throw new FileAccessError(path, `not a file (given by ${source})`);
  return path;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The first `*.gguf` in `folder` (sorted by name, names containing "chat" first), not the synthetic one. */
function findInFolder(folder: string): string | undefined {
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch {
    return undefined;
  }
  const candidates = names
    .filter((n) => n.toLowerCase().endsWith(".gguf") && n !== SYNTHETIC_MODEL_NAME && isFile(join(folder, n)))
    .sort((a, b) => {
      const ca = a.toLowerCase().includes("chat") ? 0 : 1;
      const cb = b.toLowerCase().includes("chat") ? 0 : 1;
      return ca - cb || (a < b ? -1 : a > b ? 1 : 0);
    });
  return candidates.length > 0 ? join(folder, candidates[0]) : undefined;
}
