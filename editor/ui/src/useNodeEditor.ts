// What an inspector panel needs to edit one node: the node's JSON, the other node ids (for exits), its
// problems by JSON path, and setters that send each change to the store (a field's keystrokes join one
// undo step; adding or removing a list item is a step of its own).

import { joinPath } from "../../../plugin/errors.js";
import { useAnalysis } from "./selectors.js";
import type { Problemish } from "./fields.js";
import * as edit from "./graph-edit.js";
import type { FieldPath, NodeJson } from "./graph-edit.js";
import { useEditor } from "./store.js";

export interface NodeEditor {
  id: string;
  node: NodeJson;
  nodeIds: string[];
  /** The node's problems whose JSON path is `path` (from the node). */
  problemsAt(path: FieldPath): Problemish[];
  /** Every problem of the node. */
  problems: Problemish[];
  /** Sets a field as the writer types (one undo step per burst of typing in that field). */
  type(path: FieldPath, value: unknown): void;
  /** Sets a field as one undo step (a select, a checkbox, a button). */
  set(path: FieldPath, value: unknown): void;
  addItem(key: string, item: unknown): void;
  removeItem(key: string, index: number): void;
}

export function useNodeEditor(id: string): NodeEditor | undefined {
  const node = useEditor((s) => s.json?.nodes[id]);
  const json = useEditor((s) => s.json);
  const analysis = useAnalysis();
  const change = useEditor((s) => s.edit);
  if (!node || !json || !analysis) return undefined;
  const problems: Problemish[] = analysis.model.nodes.find((n) => n.id === id)?.problems ?? [];
  const base = joinPath("nodes", id);
  const pathOf = (path: FieldPath) => path.reduce<string>((at, key) => joinPath(at, key), base);
  return {
    id,
    node,
    nodeIds: Object.keys(json.nodes),
    problems,
    problemsAt: (path) => problems.filter((p) => p.path === pathOf(path)),
    type: (path, value) => change((g) => edit.setNodeField(g, id, path, value), `${id}\u0000${path.join(".")}`),
    set: (path, value) => change((g) => edit.setNodeField(g, id, path, value)),
    addItem: (key, item) => change((g) => edit.addListItem(g, id, key, item)),
    removeItem: (key, index) => change((g) => edit.removeListItem(g, id, key, index)),
  };
}
