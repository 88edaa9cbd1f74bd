// The model a playtest runs, loaded with its dialogue backend. `parley dialogue test` names it by a reference (a
// catalogue id, a file name in the models folder, or a path: `--model`, or what a transcript recorded), else
// the runtime's own resolution (runtime/models/resolve.ts: PARLEY_MODEL, the models folder, then the bundled
// demo model); the editor resolves the project's model its own way (editor/host/project-model.ts) and loads it
// here. A playtest never runs the random-weight stand-in: it would only speak noise, so "no model" is an error
// that says how to get one.

import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { loadCatalogue, modelsFolder, ParleyError, resolveModel, resolveModelRef, Runtime, type Model, type ResolvedModel } from "../../runtime/index.js";
import { LocalBackend } from "../local-backend.js";

/** The catalogue model a writer is pointed to when none is installed. */
export const SUGGESTED_MODEL = "tinyllama-1.1b-chat-v1.0-q4_0";

/** What a "no model" message ends with. */
export const HOW_TO_GET_ONE = `get one with \`parley model get ${SUGGESTED_MODEL}\` (or the editor's Models panel), or set PARLEY_MODEL to a GGUF file`;

/** No model to run: the message says how to get one. */
export class NoModelInstalledError extends ParleyError {
  constructor(message: string) {
    super("FILE_ACCESS", message);
    this.name = "NoModelInstalledError";
  }
}

/**
 * The demo model shipped with Parley (samples/demo-model/parley-demo.gguf), from the sources or from the
 * compiled package (dist/ sits one folder deeper); undefined when neither has it.
 */
export function bundledDemoModel(): string | undefined {
  for (const relative of ["../../samples/demo-model/parley-demo.gguf", "../../../samples/demo-model/parley-demo.gguf"]) {
    const path = fileURLToPath(new URL(relative, import.meta.url));
    if (existsSync(path)) return path;
  }
  return undefined;
}

export interface PlaytestModelOptions {
  /** A catalogue id, a file name in the models folder or a path; default: the runtime's resolution. */
  model?: string | null;
  /** Environment for PARLEY_MODEL, PARLEY_MODELS, PARLEY_CATALOGUE. Default process.env. */
  env?: NodeJS.ProcessEnv;
}

/** Which model file a playtest runs; throws NoModelInstalledError when there is none worth running. */
export async function resolvePlaytestModel(options: PlaytestModelOptions = {}): Promise<ResolvedModel> {
  const env = options.env ?? process.env;
  const folder = modelsFolder(env);
  const how = HOW_TO_GET_ONE;
  if (options.model) {
    const catalogue = await loadCatalogue({ folder, env });
    const { path, entry } = resolveModelRef(options.model, { folder, catalogue, exists: existsSync });
    if (!existsSync(path)) {
      const get = entry ? `get it with \`parley model get ${entry.id}\` (or the editor's Models panel)` : "put the file there";
      throw new NoModelInstalledError(`the model "${options.model}" is not installed (no file at ${path}): ${get}, or name another one`);
    }
    return { path, source: "explicit", note: `model: ${path} (${options.model})`, synthetic: false, folder };
  }
  const demo = bundledDemoModel();
  let resolved: ResolvedModel;
  try {
    resolved = await resolveModel({ env, demoModel: demo ?? null, demoLabel: demo ? "Parley's demo model (small: short in-character lines)" : undefined });
  } catch (error) {
    if (error instanceof ParleyError) throw new NoModelInstalledError(`${error.message}; ${how}`);
    throw error;
  }
  if (resolved.synthetic) throw new NoModelInstalledError(`no model is installed in ${folder}: ${how}`);
  return resolved;
}

/** A loaded model and its dialogue backend; dispose() frees both and the Vulkan runtime. */
export interface PlaytestModel {
  resolved: ResolvedModel;
  runtime: Runtime;
  model: Model;
  backend: LocalBackend;
  /** "parley-demo.gguf on llvmpipe": for the page and reports. */
  description: string;
  dispose(): void;
}

/** Loads `resolved` (when a caller resolved the model its own way), else the model resolvePlaytestModel picks. */
export async function loadPlaytestModel(
  options: PlaytestModelOptions & { resolved?: ResolvedModel; contextSize: number; device?: string },
): Promise<PlaytestModel> {
  const resolved = options.resolved ?? (await resolvePlaytestModel(options));
  if (resolved.synthetic) throw new NoModelInstalledError(`no model is installed in ${resolved.folder}: ${HOW_TO_GET_ONE}`);
  const runtime = await Runtime.create({ device: options.device });
  try {
    const model = await runtime.loadModel(resolved.path);
    const backend = new LocalBackend(model, { contextSize: options.contextSize, device: runtime.device.name });
    return {
      resolved,
      runtime,
      model,
      backend,
      description: backend.description,
      dispose() {
        backend.dispose();
        model.dispose();
        runtime.dispose();
      },
    };
  } catch (error) {
    runtime.dispose();
    throw error;
  }
}
