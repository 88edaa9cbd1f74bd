// Which model a project's playtest runs: the project's `defaultModel` (parley.project.json) turned into a
// file, then the runtime's default resolution (runtime/models/resolve.ts) with it as the explicit model;
// without one, the same order `npm start` uses (PARLEY_MODEL, the models folder, Parley's demo model).
//
// `defaultModel` may name a catalogue id ("tinyllama-1.1b-chat-v1.0-q4_0": its file in the models folder),
// a bare GGUF file name (in the models folder), or a path: relative paths are relative to the project
// folder, so a project that keeps its model beside its files stays portable.

import { basename, isAbsolute, join, resolve } from "node:path";
import { findEntry, resolveModel, type CatalogueEntry, type ResolvedModel } from "../../runtime/models/index.js";
import { modelsFolder } from "../../runtime/models/store.js";
import { DEMO_MODEL_LABEL, DEMO_MODEL_PATH } from "../../samples/village/host/model-resolution.js";

/** Where a project's `defaultModel` points, before anything is checked on disk. */
export interface ProjectModelTarget {
  /** Absolute path of the GGUF file it names. */
  path: string;
  /** The catalogue entry it names (by id or by file name), if any: it can be downloaded. */
  entry: CatalogueEntry | undefined;
}

/** The file `defaultModel` names (see the header); `projectRoot` anchors relative paths. */
export function projectModelTarget(defaultModel: string, projectRoot: string, folder: string, catalogue: readonly CatalogueEntry[]): ProjectModelTarget {
  const byId = catalogue.find((e) => e.id.toLowerCase() === defaultModel.toLowerCase());
  if (byId) return { path: join(folder, byId.file), entry: byId };
  const looksLikePath = isAbsolute(defaultModel) || defaultModel.includes("/") || defaultModel.includes("\\");
  if (!looksLikePath) return { path: join(folder, defaultModel), entry: findEntry(catalogue, defaultModel) };
  const path = resolve(projectRoot, defaultModel);
  return { path, entry: catalogue.find((e) => e.file === basename(path)) };
}

/**
 * The model a playtest of the project runs. Throws FileAccessError when `defaultModel` names a file that is
 * not there (for a catalogue model: not downloaded yet), rather than silently playing another model.
 */
export async function resolveProjectModel(
  manifest: { defaultModel: string | null },
  projectRoot: string,
  options: { env?: NodeJS.ProcessEnv; catalogue?: readonly CatalogueEntry[] } = {},
): Promise<ResolvedModel> {
  const env = options.env ?? process.env;
  const base = { env, demoModel: DEMO_MODEL_PATH, demoLabel: DEMO_MODEL_LABEL };
  if (manifest.defaultModel === null) return resolveModel(base);
  const { path } = projectModelTarget(manifest.defaultModel, projectRoot, modelsFolder(env), options.catalogue ?? []);
  const resolved = await resolveModel({ ...base, model: path });
  return { ...resolved, note: `model: ${resolved.path} (the project's default model "${manifest.defaultModel}")` };
}
