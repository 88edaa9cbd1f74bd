// Where each node sits on the canvas. Kept out of the graph file (`dialogue/NAME.layout.json` beside
// `dialogue/NAME.json`) so that dragging nodes never touches what the game loads, and written one node per
// line, sorted, with rounded numbers, so moving one node is a one-line diff that merges cleanly.

import { NODE_ID_PATTERN } from "../../plugin/dialogue/validate.js";
import { DocumentReader, joinPath, PluginValidationError } from "../../plugin/errors.js";

export const LAYOUT_SCHEMA = "parley.layout/1";
export const LAYOUT_SUFFIX = ".layout.json";

export interface NodePosition {
  x: number;
  y: number;
}

export interface GraphLayout {
  schema: typeof LAYOUT_SCHEMA;
  /** Node id → position. Nodes without one are placed by the editor. */
  nodes: Record<string, NodePosition>;
}

export function emptyLayout(): GraphLayout {
  return { schema: LAYOUT_SCHEMA, nodes: {} };
}

/** The project-relative layout file of a graph. */
export function layoutPathFor(graphId: string): string {
  return `dialogue/${graphId}${LAYOUT_SUFFIX}`;
}

/** Validates parsed JSON; throws PluginValidationError listing every problem with its path. */
export function parseGraphLayout(json: unknown): GraphLayout {
  const r = new DocumentReader();
  const doc = r.object(json, "");
  if (!doc) throw new PluginValidationError("invalid layout", r.issues);
  r.checkSchema(doc, LAYOUT_SCHEMA, "layout", "invalid layout");
  r.knownFields(doc, "", ["schema", "nodes"]);
  const nodes: Record<string, NodePosition> = {};
  for (const [nodeId, value] of Object.entries(r.record(doc, "nodes", ""))) {
    const path = joinPath("nodes", nodeId);
    if (!NODE_ID_PATTERN.test(nodeId)) r.add(path, "node ids use letters, digits, _ and - only");
    const position = r.object(value, path);
    if (!position) continue;
    r.knownFields(position, path, ["x", "y"]);
    nodes[nodeId] = { x: r.number(position, "x", path), y: r.number(position, "y", path) };
  }
  r.throwIfAny("invalid layout");
  return { schema: LAYOUT_SCHEMA, nodes };
}

/** Rounds to 0.1: sub-pixel jitter from dragging must not show up as a change. */
export function roundCoordinate(value: number): number {
  const rounded = Math.round(value * 10) / 10;
  return Object.is(rounded, -0) ? 0 : rounded;
}

/** Stable text: node ids sorted (by code unit, so every machine agrees), one node per line, numbers rounded. */
export function serializeGraphLayout(layout: GraphLayout): string {
  const checked = parseGraphLayout(layout);
  const ids = Object.keys(checked.nodes).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const head = `{\n  "schema": ${JSON.stringify(LAYOUT_SCHEMA)},\n  "nodes": `;
  if (ids.length === 0) return `${head}{}\n}\n`;
  const lines = ids.map((id) => {
    const { x, y } = checked.nodes[id];
    return `    ${JSON.stringify(id)}: { "x": ${roundCoordinate(x)}, "y": ${roundCoordinate(y)} }`;
  });
  return `${head}{\n${lines.join(",\n")}\n  }\n}\n`;
}
