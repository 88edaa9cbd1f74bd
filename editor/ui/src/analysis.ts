// What the open graph's JSON is worth as the writer edits it: the plugin's own checkDialogueGraph (the one
// validator, the same the host and the game run) gives its errors and warnings, and the canvas model is
// built from the JSON with those problems on their nodes. Computed once per JSON object (the store
// replaces the object on every edit), so every panel that asks gets the same answer.

import { checkDialogueGraph } from "../../../plugin/dialogue/validate.js";
import { PluginValidationError, type ValidationIssue } from "../../../plugin/errors.js";
import type { DialogueGraph } from "../../../plugin/types.js";
import { graphModelOf, type GraphModel } from "./graph-model.js";
import type { GraphJson } from "./graph-edit.js";

export interface GraphAnalysis {
  model: GraphModel;
  errors: ValidationIssue[];
  warnings: ValidationIssue[];
  /** The parsed graph when it has no errors: what a save writes (serializeDialogueGraph). */
  graph?: DialogueGraph;
}

let last: { json: GraphJson; key: string; analysis: GraphAnalysis } | undefined;

/** Validates `json` (the graph file `dialogue/FILEID.json`) against the project's characters. */
export function analyzeGraph(fileId: string, json: GraphJson, characters: readonly string[]): GraphAnalysis {
  const key = `${fileId}\n${characters.join("\n")}`;
  if (last && last.json === json && last.key === key) return last.analysis;
  let errors: ValidationIssue[] = [];
  let warnings: ValidationIssue[] = [];
  let graph: DialogueGraph | undefined;
  try {
    ({ graph, warnings } = checkDialogueGraph(json, { characters }));
  } catch (error) {
    if (!(error instanceof PluginValidationError)) throw error;
    errors = [...error.issues];
  }
  // The host's one rule beyond the plugin's: the file name is the graph's id.
  if (json.id !== fileId && !errors.some((e) => e.path === "id")) {
    errors.push({ path: "id", message: `${JSON.stringify(json.id)} does not match the file name dialogue/${fileId}.json` });
    graph = undefined;
  }
  const analysis: GraphAnalysis = { model: graphModelOf(fileId, json, errors, warnings), errors, warnings, ...(graph ? { graph } : {}) };
  last = { json, key, analysis };
  return analysis;
}
