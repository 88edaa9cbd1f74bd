// Pure edit operations on a dialogue graph's JSON, as the editor changes it: add, connect, disconnect,
// delete, copy and paste nodes, rename a node, set a field, the start node and the variables. Each returns
// a new graph object and leaves its input untouched (the undo history keeps the old ones), sharing every
// node it did not change.
//
// The JSON may be invalid while the writer works (an exit not connected yet, a condition half typed): the
// operations work on any graph whose root and `nodes` are objects, and the plugin's checkDialogueGraph
// says what is wrong (plugin/dialogue/validate.ts). No validation here.
//
// Exits are named by the handle their edge leaves from on the canvas: "next", "target" (jump), "fallback"
// (intent), "otherwise" (branch), and "option-N", "intent-N", "branch-N" for the Nth choice option,
// intent or branch.

import type { DialogueNodeType, VariableType } from "../../../plugin/types.js";

export type JsonObject = { [key: string]: unknown };
export type NodeJson = JsonObject;
export interface GraphJson extends JsonObject {
  nodes: Record<string, NodeJson>;
}
/** Keys and indexes from a node (or the graph) down to a field: ["options", 0, "next"]. */
export type FieldPath = readonly (string | number)[];

/** A graph's JSON when it can be edited: an object with a `nodes` object (every node an object). */
export function editableGraph(value: unknown): GraphJson | undefined {
  if (!isObject(value) || !isObject(value.nodes)) return undefined;
  if (!Object.values(value.nodes).every(isObject)) return undefined;
  return value as GraphJson;
}

// ------------------------------------------------------------------------------------------ new nodes

/** The fields a new node of each type starts with: what the schema requires, with placeholder text. */
export function newNode(type: DialogueNodeType): NodeJson {
  switch (type) {
    case "line":
      return { type, text: "New line.", next: null };
    case "choice":
      return { type, options: [{ text: "Option 1", next: "" }] };
    case "llm_line":
      return { type, instruction: "Greet the player in character.", fallback: "Hello.", next: null };
    case "player_input":
      return { type, prompt: "", reply: false, next: null };
    case "intent":
      return { type, intents: [{ id: "intent_1", description: "what the player means", examples: [], next: "" }], fallback: "" };
    case "branch":
      return { type, branches: [{ condition: "true", next: "" }], otherwise: "" };
    case "set":
      return { type, effects: [""], next: null };
    case "jump":
      return { type, target: "" };
    case "end":
      return { type };
  }
}

/** `base_1`, `base_2`…: the first that is not a node of the graph (nor in `taken`). */
export function freshNodeId(graph: GraphJson, base: string, taken: ReadonlySet<string> = new Set()): string {
  const stem = base.replace(/[^A-Za-z0-9_-]/g, "_") || "node";
  for (let n = 1; ; n++) {
    const id = `${stem}_${n}`;
    if (!Object.hasOwn(graph.nodes, id) && !taken.has(id)) return id;
  }
}

export function addNode(graph: GraphJson, id: string, node: NodeJson): GraphJson {
  if (Object.hasOwn(graph.nodes, id)) throw new Error(`the graph already has a node "${id}"`);
  return { ...graph, nodes: { ...graph.nodes, [id]: node } };
}

// ------------------------------------------------------------------------------------------ exits

export interface ExitSlot {
  handle: string;
  /** Where the target is stored in the node. */
  path: FieldPath;
  /** The node it leads to ("" or null: none). */
  target: string | null;
  /** `next` may be null (the conversation ends); every other exit must name a node. */
  optional: boolean;
}

/** Every exit of a node, in the order the canvas draws them. */
export function exitSlots(node: NodeJson): ExitSlot[] {
  const slot = (handle: string, path: FieldPath, optional = false): ExitSlot => ({ handle, path, target: asTarget(getIn(node, path)), optional });
  const list = (key: string, prefix: string) => asArray(node[key]).map((_, i) => slot(`${prefix}-${i}`, [key, i, "next"]));
  switch (node.type) {
    case "line":
    case "llm_line":
    case "player_input":
    case "set":
      return [slot("next", ["next"], true)];
    case "jump":
      return [slot("target", ["target"])];
    case "choice":
      return list("options", "option");
    case "intent":
      return [...list("intents", "intent"), slot("fallback", ["fallback"])];
    case "branch":
      return [...list("branches", "branch"), slot("otherwise", ["otherwise"])];
    default:
      return [];
  }
}

/** Points the exit `handle` of `source` at `target`; null clears it (null for `next`, "" for the others). */
export function connect(graph: GraphJson, source: string, handle: string, target: string | null): GraphJson {
  const node = graph.nodes[source];
  if (!node) throw new Error(`no node "${source}"`);
  const slot = exitSlots(node).find((s) => s.handle === handle);
  if (!slot) throw new Error(`node "${source}" has no exit "${handle}"`);
  return setNode(graph, source, setIn(node, slot.path, target ?? (slot.optional ? null : "")));
}

/** Removes nodes, and clears every exit of the others that led to them. */
export function deleteNodes(graph: GraphJson, ids: Iterable<string>): GraphJson {
  const gone = new Set(ids);
  const nodes: Record<string, NodeJson> = {};
  for (const [id, node] of Object.entries(graph.nodes)) {
    if (gone.has(id)) continue;
    let kept = node;
    for (const slot of exitSlots(node)) if (slot.target !== null && gone.has(slot.target)) kept = setIn(kept, slot.path, slot.optional ? null : "");
    nodes[id] = kept;
  }
  return { ...graph, nodes };
}

/** Gives a node another id, and every exit (and the start) that named it the new one. */
export function renameNode(graph: GraphJson, from: string, to: string): GraphJson {
  if (from === to) return graph;
  if (!Object.hasOwn(graph.nodes, from)) throw new Error(`no node "${from}"`);
  if (Object.hasOwn(graph.nodes, to)) throw new Error(`the graph already has a node "${to}"`);
  const nodes: Record<string, NodeJson> = {};
  for (const [id, node] of Object.entries(graph.nodes)) nodes[id === from ? to : id] = retarget(node, (t) => (t === from ? to : t));
  return { ...graph, nodes, ...(graph.start === from ? { start: to } : {}) };
}

// ------------------------------------------------------------------------------------------ copy and paste

/** Copied nodes, in graph order. */
export type Clip = Record<string, NodeJson>;

export function copyNodes(graph: GraphJson, ids: Iterable<string>): Clip {
  const wanted = new Set(ids);
  return Object.fromEntries(Object.entries(graph.nodes).filter(([id]) => wanted.has(id)));
}

/**
 * Adds copies of the clip's nodes with fresh ids (from their types). Exits between copied nodes lead to
 * the copies; exits to other nodes are kept as they were. Returns the graph and each old id's new id.
 */
export function pasteNodes(graph: GraphJson, clip: Clip): { graph: GraphJson; ids: Map<string, string> } {
  const ids = new Map<string, string>();
  const taken = new Set<string>();
  for (const [id, node] of Object.entries(clip)) {
    const fresh = freshNodeId(graph, typeof node.type === "string" ? node.type : "node", taken);
    taken.add(fresh);
    ids.set(id, fresh);
  }
  const nodes = { ...graph.nodes };
  for (const [id, node] of Object.entries(clip)) nodes[ids.get(id)!] = retarget(structuredClone(node), (t) => ids.get(t) ?? t);
  return { graph: { ...graph, nodes }, ids };
}

// ------------------------------------------------------------------------------------------ fields

/** Sets a field of a node: `path` from the node (["options", 0, "condition"]); undefined removes it. */
export function setNodeField(graph: GraphJson, nodeId: string, path: FieldPath, value: unknown): GraphJson {
  const node = graph.nodes[nodeId];
  if (!node) throw new Error(`no node "${nodeId}"`);
  return setNode(graph, nodeId, setIn(node, path, value));
}

/** Appends an item to a list field of a node (options, intents, branches, effects, events). */
export function addListItem(graph: GraphJson, nodeId: string, key: string, item: unknown): GraphJson {
  const node = graph.nodes[nodeId];
  return setNodeField(graph, nodeId, [key], [...asArray(node?.[key]), item]);
}

export function removeListItem(graph: GraphJson, nodeId: string, key: string, index: number): GraphJson {
  const node = graph.nodes[nodeId];
  return setNodeField(
    graph,
    nodeId,
    [key],
    asArray(node?.[key]).filter((_, i) => i !== index),
  );
}

export function setStart(graph: GraphJson, nodeId: string): GraphJson {
  return graph.start === nodeId ? graph : { ...graph, start: nodeId };
}

// ------------------------------------------------------------------------------------------ variables

export interface VariableJson {
  type: unknown;
  default?: unknown;
}

export const DEFAULT_VALUE: Record<VariableType, boolean | number | string> = { bool: false, number: 0, string: "" };

export function variablesOf(graph: GraphJson): Record<string, VariableJson> {
  return isObject(graph.variables) ? (graph.variables as Record<string, VariableJson>) : {};
}

/** A new variable `name` (`var_1`… when not given), a number starting at 0 by default. */
export function addVariable(graph: GraphJson, name?: string, type: VariableType = "number"): { graph: GraphJson; name: string } {
  const variables = variablesOf(graph);
  let chosen = name;
  for (let n = 1; chosen === undefined || Object.hasOwn(variables, chosen); n++) chosen = `var_${n}`;
  return { graph: { ...graph, variables: { ...variables, [chosen]: { type, default: DEFAULT_VALUE[type] } } }, name: chosen };
}

/** Renames a variable in place (keeping the order); refuses a name another variable has. */
export function renameVariable(graph: GraphJson, from: string, to: string): GraphJson {
  if (from === to) return graph;
  const variables = variablesOf(graph);
  if (Object.hasOwn(variables, to)) throw new Error(`there is already a variable "${to}"`);
  return { ...graph, variables: Object.fromEntries(Object.entries(variables).map(([name, v]) => [name === from ? to : name, v])) };
}

/** Changes a variable's type (its default becomes that type's zero) or its default. */
export function setVariable(graph: GraphJson, name: string, change: { type?: VariableType; default?: unknown }): GraphJson {
  const variables = variablesOf(graph);
  const old = variables[name];
  if (!old) throw new Error(`no variable "${name}"`);
  const updated: VariableJson =
    change.type !== undefined && change.type !== old.type
      ? { type: change.type, default: DEFAULT_VALUE[change.type] }
      : { ...old, ...("default" in change ? { default: change.default } : {}) };
  return { ...graph, variables: { ...variables, [name]: updated } };
}

export function removeVariable(graph: GraphJson, name: string): GraphJson {
  const variables = { ...variablesOf(graph) };
  delete variables[name];
  return { ...graph, variables };
}

// ------------------------------------------------------------------------------------------ helpers

export function getIn(value: unknown, path: FieldPath): unknown {
  let at = value;
  for (const key of path) {
    if (typeof key === "number" ? !Array.isArray(at) : !isObject(at)) return undefined;
    at = (at as Record<string | number, unknown>)[key];
  }
  return at;
}

/** A copy of `value` with the field at `path` set (undefined removes an object's key); missing levels are created. */
export function setIn<T>(value: T, path: FieldPath, field: unknown): T {
  if (path.length === 0) return field as T;
  const [key, ...rest] = path;
  if (typeof key === "number") {
    const list = Array.isArray(value) ? [...(value as unknown[])] : [];
    list[key] = setIn(list[key], rest, field);
    return list as T;
  }
  const object: JsonObject = isObject(value) ? { ...value } : {};
  const inner = setIn(object[key], rest, field);
  if (inner === undefined) delete object[key];
  else object[key] = inner;
  return object as T;
}

function setNode(graph: GraphJson, id: string, node: NodeJson): GraphJson {
  return graph.nodes[id] === node ? graph : { ...graph, nodes: { ...graph.nodes, [id]: node } };
}

/** The node with every exit's target mapped by `map` (unchanged nodes are returned as they are). */
function retarget(node: NodeJson, map: (target: string) => string): NodeJson {
  let out = node;
  for (const slot of exitSlots(node)) {
    if (typeof slot.target !== "string" || slot.target === "") continue;
    const to = map(slot.target);
    if (to !== slot.target) out = setIn(out, slot.path, to);
  }
  return out;
}

function asTarget(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
