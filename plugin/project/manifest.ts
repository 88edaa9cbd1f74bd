// `parley.project.json`: the few settings that belong to a project as a whole (its name, which model the
// editor previews lines with, the context size). Read with the plugin's DocumentReader, so problems come
// back with JSON paths exactly like a character's or a graph's.

import { DocumentReader, PluginValidationError } from "../errors.js";

export const PROJECT_SCHEMA = "parley.project/1";
export const PROJECT_MANIFEST_FILE = "parley.project.json";
export const DEFAULT_CONTEXT_SIZE = 2048;
export const MIN_CONTEXT_SIZE = 256;
export const MAX_CONTEXT_SIZE = 32768;

export interface ProjectManifest {
  schema: typeof PROJECT_SCHEMA;
  /** Shown in the editor's title bar and project list. */
  name: string;
  /** A model id or a path to a GGUF file; resolved when the editor loads a model. null: none chosen yet. */
  defaultModel: string | null;
  /** Tokens of context the editor's preview sessions get. */
  contextSize: number;
}

/** Fields in the order they are written. */
const MANIFEST_FIELDS = ["schema", "name", "defaultModel", "contextSize"] as const satisfies readonly (keyof ProjectManifest)[];

/** Validates parsed JSON; throws PluginValidationError listing every problem with its path. */
export function parseProjectManifest(json: unknown): ProjectManifest {
  const r = new DocumentReader();
  const doc = r.object(json, "");
  if (!doc) throw new PluginValidationError("invalid project manifest", r.issues);
  r.checkSchema(doc, PROJECT_SCHEMA, "project", "invalid project manifest");
  r.knownFields(doc, "", MANIFEST_FIELDS);
  const manifest: ProjectManifest = {
    schema: PROJECT_SCHEMA,
    name: r.string(doc, "name", "", { nonEmpty: true }),
    defaultModel: r.nullableString(doc, "defaultModel", "", { nonEmpty: true }),
    contextSize: r.number(doc, "contextSize", "", { default: DEFAULT_CONTEXT_SIZE, integer: true, min: MIN_CONTEXT_SIZE, max: MAX_CONTEXT_SIZE }),
  };
  r.throwIfAny("invalid project manifest");
  return manifest;
}

/** Stable text: fields in a fixed order, defaults written out, 2-space indent, final newline. */
export function serializeProjectManifest(manifest: ProjectManifest): string {
  // Validating (and so rebuilding the object) first fixes the key order and refuses to write a bad file.
  return JSON.stringify(parseProjectManifest(manifest), null, 2) + "\n";
}

/** What a folder without a manifest is treated as. */
export function defaultProjectManifest(name: string): ProjectManifest {
  return { schema: PROJECT_SCHEMA, name: name.trim() === "" ? "Untitled project" : name, defaultModel: null, contextSize: DEFAULT_CONTEXT_SIZE };
}
