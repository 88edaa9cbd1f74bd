// Which model the village runs: `--model FILE`, then PARLEY_MODEL, then the first GGUF in the models folder
// (PARLEY_MODELS or ~/.cache/parley/models; names containing "chat" first), then the bundled demo model
// (samples/demo-model/parley-demo.gguf, trained by the project on the village's dialogue), and when even
// that is missing, a synthetic TinyLlama-shaped `tiny` model (random weights) written once into the folder.
// This function is the one place to extend model resolution (downloads, a demo model).
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { FileAccessError } from "../../../runtime/errors.js";
import { writeSyntheticModel } from "../../../runtime/synth/synth.js";

export interface ResolvedModel {
  /** Absolute path of the GGUF file to load. */
  path: string;
  /** One line for the screen: which model is running and where it came from. */
  note: string;
  /** True for the random-weight stand-in (it speaks noise). */
  synthetic: boolean;
}

export interface ResolveModelOptions {
  /** `--model FILE`: wins over everything else; must exist. */
  model?: string;
  env?: NodeJS.ProcessEnv;
  /** The bundled demo model's path (default: samples/demo-model/parley-demo.gguf); null: none. */
  demoModel?: string | null;
}

/** The demo model shipped in the repository. */
export const DEMO_MODEL_PATH = fileURLToPath(new URL("../../demo-model/parley-demo.gguf", import.meta.url));

/** The synthetic stand-in's file name inside the models folder (never picked as a "found" model). */
export const SYNTHETIC_MODEL_NAME = "synthetic-tiny-q4_0.gguf";

const REAL_MODEL_HINT =
  "pass --model FILE, set PARLEY_MODEL, or put a TinyLlama-1.1B-Chat GGUF (e.g. tinyllama-1.1b-chat-v1.0.Q4_0.gguf) into";

/** The folder searched for models: PARLEY_MODELS, else ~/.cache/parley/models. */
export function modelsFolder(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.PARLEY_MODELS || join(homedir(), ".cache", "parley", "models"));
}

export async function resolveModel(options: ResolveModelOptions = {}): Promise<ResolvedModel> {
  const env = options.env ?? process.env;
  if (options.model !== undefined && options.model !== "") {
    const path = checkFile(options.model, "--model");
    return { path, note: `model: ${path} (--model)`, synthetic: false };
  }
  if (env.PARLEY_MODEL) {
    const path = checkFile(env.PARLEY_MODEL, "PARLEY_MODEL");
    return { path, note: `model: ${path} (PARLEY_MODEL)`, synthetic: false };
  }
  const folder = modelsFolder(env);
  const found = findInFolder(folder);
  if (found) return { path: found, note: `model: ${found} (from ${folder})`, synthetic: false };

  const demo = options.demoModel === undefined ? DEMO_MODEL_PATH : options.demoModel;
  if (demo !== null && isFile(demo)) {
    return {
      path: demo,
      note: `model: Parley's demo model (4.9M parameters, trained on the village's dialogue: short in-character lines) — for real conversations, ${REAL_MODEL_HINT} ${folder}`,
      synthetic: false,
    };
  }

  const path = join(folder, SYNTHETIC_MODEL_NAME);
  if (!isFile(path)) {
    mkdirSync(folder, { recursive: true });
    // Written under a temporary name and renamed, so an interrupted write never leaves a broken model.
    const partial = `${path}.${process.pid}.partial`;
    try {
      await writeSyntheticModel({ shape: "tiny", type: "q4_0", seed: 1, out: partial });
      renameSync(partial, path);
    } catch (error) {
      rmSync(partial, { force: true });
      throw error;
    }
  }
  return {
    path,
    note: `model: synthetic tiny Q4_0 with random weights (it speaks noise) — ${REAL_MODEL_HINT} ${folder}`,
    synthetic: true,
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
  if (!existsSync(folder)) return undefined;
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
