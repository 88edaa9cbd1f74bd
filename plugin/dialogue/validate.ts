// Loads `parley.dialogue/1` graphs: every node type with its defaults, every reference resolved, every
// condition and effect compiled and type-checked against the declared variables. Problems are collected
// with their JSON paths (`nodes.greet.next`) and thrown together; `checkDialogueGraph` also returns
// warnings (unreachable nodes, placeholders naming no variable) that do not stop a graph from loading.

import { CHARACTER_ID_PATTERN, MAX_WORDS_LIMIT } from "../character/validate.js";
import { DocumentReader, ExpressionError, joinPath, PluginValidationError, type JsonObject, type ValidationIssue } from "../errors.js";
import {
  DIALOGUE_SCHEMA,
  type Branch,
  type ChoiceOption,
  type DialogueGraph,
  type DialogueNode,
  type DialogueNodeType,
  type GameEvent,
  type Intent,
  type Value,
  type VariableDeclaration,
  type VariableType,
} from "../types.js";
import { compileCondition, compileEffect, isVariableName } from "./expression/index.js";
import { MACRO_SOURCE } from "../prompt/macros.js";

export const NODE_TYPES: readonly DialogueNodeType[] = ["line", "choice", "llm_line", "player_input", "intent", "branch", "set", "jump", "end"];
export const VARIABLE_TYPES: readonly VariableType[] = ["bool", "number", "string"];
export const NODE_ID_PATTERN = /^[A-Za-z0-9_-]+$/;
/** Placeholders the runner fills itself, besides variables. */
export const BUILTIN_PLACEHOLDERS: readonly string[] = ["player_text", "npc_name", "npc_greeting"];

const DEFAULT_VALUES: Record<VariableType, Value> = { bool: false, number: 0, string: "" };

/** Fields of each node type, in the order they are written (after `type`, before `tags` and `events`). */
const NODE_FIELDS: Record<DialogueNodeType, readonly string[]> = {
  line: ["text", "next"],
  choice: ["options"],
  llm_line: ["instruction", "maxWords", "fallback", "next"],
  player_input: ["prompt", "reply", "instruction", "store", "next"],
  intent: ["intents", "fallback", "minConfidence"],
  branch: ["branches", "otherwise"],
  set: ["effects", "next"],
  jump: ["target"],
  end: [],
};

export interface DialogueCheckOptions {
  /** Ids of the characters the game has; the graph's `character` must be one of them. */
  characters?: readonly string[];
}

export interface DialogueCheckResult {
  graph: DialogueGraph;
  /** Problems that do not stop the graph from running: unreachable nodes, unknown `{placeholders}`. */
  warnings: ValidationIssue[];
}

/** Validates a parsed `parley.dialogue/1` document; throws PluginValidationError listing every problem. */
export function parseDialogueGraph(json: unknown, options: DialogueCheckOptions = {}): DialogueGraph {
  return checkDialogueGraph(json, options).graph;
}

/** Stable JSON for a graph: fields in schema order, defaults written out, 2-space indent, final newline. */
export function serializeDialogueGraph(graph: DialogueGraph): string {
  return JSON.stringify(parseDialogueGraph(graph), null, 2) + "\n";
}

/** Like parseDialogueGraph, and also returns the warnings. */
export function checkDialogueGraph(json: unknown, options: DialogueCheckOptions = {}): DialogueCheckResult {
  const r = new DocumentReader();
  const doc = r.object(json, "");
  if (!doc) throw new PluginValidationError("invalid dialogue graph", r.issues);
  const subject = typeof doc.id === "string" ? `invalid dialogue graph "${doc.id}"` : "invalid dialogue graph";
  r.checkSchema(doc, DIALOGUE_SCHEMA, "dialogue", subject);
  r.knownFields(doc, "", ["schema", "id", "character", "start", "variables", "nodes"]);

  const id = r.string(doc, "id", "", { pattern: CHARACTER_ID_PATTERN, patternHint: "lowercase letters, digits, _ and -" });
  const character = r.string(doc, "character", "", { pattern: CHARACTER_ID_PATTERN, patternHint: "a character id" });
  if (options.characters && character && !options.characters.includes(character)) {
    r.add("character", `no character "${character}" (known: ${options.characters.join(", ") || "none"})`);
  }
  const start = r.string(doc, "start", "", { nonEmpty: true });
  const variables = readVariables(r, doc);
  const types: Record<string, VariableType> = Object.fromEntries(Object.entries(variables).map(([name, v]) => [name, v.type]));

  const rawNodes = r.record(doc, "nodes", "", { optional: false });
  const nodeIds = Object.keys(rawNodes);
  if (Object.hasOwn(doc, "nodes") && nodeIds.length === 0) r.add("nodes", "needs at least one node");
  if (start && nodeIds.length > 0 && !Object.hasOwn(rawNodes, start)) r.add("start", `no node "${start}"${nearNode(start, nodeIds)}`);

  const warnings: ValidationIssue[] = [];
  const ctx = new NodeContext(r, types, nodeIds, warnings);
  const nodes: Record<string, DialogueNode> = {};
  for (const nodeId of nodeIds) {
    const path = joinPath("nodes", nodeId);
    if (!NODE_ID_PATTERN.test(nodeId)) r.add(path, "node ids use letters, digits, _ and - only");
    const node = readNode(ctx, rawNodes[nodeId], path);
    if (node) nodes[nodeId] = node;
  }
  r.throwIfAny(subject);

  const graph: DialogueGraph = { schema: DIALOGUE_SCHEMA, id, character, start, variables, nodes };
  const reached = reachable(graph);
  for (const nodeId of nodeIds) {
    if (!reached.has(nodeId)) warnings.push({ path: joinPath("nodes", nodeId), message: `unreachable from the start node "${start}"` });
  }
  return { graph, warnings };
}

/** Every node the conversation can get to from `start`. */
export function reachable(graph: DialogueGraph): Set<string> {
  const seen = new Set<string>();
  const queue = [graph.start];
  while (queue.length > 0) {
    const id = queue.pop()!;
    if (seen.has(id) || !Object.hasOwn(graph.nodes, id)) continue;
    seen.add(id);
    queue.push(...successors(graph.nodes[id]));
  }
  return seen;
}

/** The nodes a node can lead to. */
export function successors(node: DialogueNode): string[] {
  switch (node.type) {
    case "line":
    case "llm_line":
    case "player_input":
    case "set":
      return node.next === null ? [] : [node.next];
    case "choice":
      return node.options.map((o) => o.next);
    case "intent":
      return [...node.intents.map((i) => i.next), node.fallback];
    case "branch":
      return [...node.branches.map((b) => b.next), node.otherwise];
    case "jump":
      return [node.target];
    case "end":
      return [];
  }
}

function readVariables(r: DocumentReader, doc: JsonObject): Record<string, VariableDeclaration> {
  const out: Record<string, VariableDeclaration> = {};
  for (const [name, value] of Object.entries(r.record(doc, "variables", ""))) {
    const path = joinPath("variables", name);
    if (!isVariableName(name)) {
      r.add(path, "not a usable variable name: letters, digits and _, parts separated by dots (player.gold), not a keyword (true, false, and, or, not)");
    }
    if (BUILTIN_PLACEHOLDERS.includes(name)) r.add(path, `"${name}" is reserved: {${name}} in a line is filled by the runner`);
    const decl = r.object(value, path);
    if (!decl) continue;
    r.knownFields(decl, path, ["type", "default"]);
    const type = r.string(decl, "type", path);
    if (!VARIABLE_TYPES.includes(type as VariableType)) {
      if (typeof decl.type === "string") r.add(joinPath(path, "type"), `must be one of ${VARIABLE_TYPES.join(", ")}, got ${JSON.stringify(type)}`);
      continue;
    }
    const t = type as VariableType;
    let initial = DEFAULT_VALUES[t];
    if (Object.hasOwn(decl, "default")) {
      const given = decl.default;
      const fits = t === "bool" ? typeof given === "boolean" : t === "number" ? typeof given === "number" && Number.isFinite(given) : typeof given === "string";
      if (fits) initial = given as Value;
      else r.add(joinPath(path, "default"), `must be a ${t} like the variable, got ${JSON.stringify(given)}`);
    }
    out[name] = { type: t, default: initial };
  }
  return out;
}

function nearNode(id: string, nodeIds: readonly string[]): string {
  const lower = id.toLowerCase();
  const near = nodeIds.find((n) => n.toLowerCase() === lower) ?? nodeIds.find((n) => n.startsWith(id) || id.startsWith(n));
  return near ? ` (did you mean "${near}"?)` : "";
}

/** What reading a node needs besides the reader: declared types, node ids, the warning list. */
class NodeContext {
  constructor(
    readonly r: DocumentReader,
    readonly types: Record<string, VariableType>,
    readonly nodeIds: readonly string[],
    readonly warnings: ValidationIssue[],
  ) {}

  /** A required node reference. */
  ref(obj: JsonObject, key: string, path: string): string {
    const target = this.r.string(obj, key, path, { nonEmpty: true });
    this.exists(target, joinPath(path, key));
    return target;
  }

  /** An optional reference; null ends the conversation. */
  nextRef(obj: JsonObject, path: string): string | null {
    const target = this.r.nullableString(obj, "next", path, { nonEmpty: true });
    if (target !== null) this.exists(target, joinPath(path, "next"));
    return target;
  }

  private exists(target: string, path: string): void {
    if (target && !this.nodeIds.includes(target)) this.r.add(path, `no node "${target}"${nearNode(target, this.nodeIds)}`);
  }

  condition(source: string, path: string): void {
    try {
      compileCondition(source, this.types);
    } catch (e) {
      this.expressionIssue(e, path);
    }
  }

  effect(source: string, path: string): void {
    try {
      compileEffect(source, this.types);
    } catch (e) {
      this.expressionIssue(e, path);
    }
  }

  private expressionIssue(e: unknown, path: string): void {
    if (!(e instanceof ExpressionError)) throw e;
    this.r.add(path, e.message);
  }

  /** Warns about `{name}` placeholders that name neither a variable nor a runner placeholder. */
  placeholders(text: string, path: string): void {
    // Card macros (`{{user}}`) are the runner's too, not misspelt variables.
    for (const m of text.replace(new RegExp(MACRO_SOURCE, "gi"), "").matchAll(/\{([A-Za-z_][A-Za-z0-9_.]*)\}/g)) {
      const name = m[1];
      if (Object.hasOwn(this.types, name) || BUILTIN_PLACEHOLDERS.includes(name)) continue;
      this.warnings.push({ path, message: `{${name}} names no declared variable, so it is shown as written` });
    }
  }

  /** `{ name, args }` items of a node's `events`. */
  events(obj: JsonObject, path: string): GameEvent[] {
    const at = joinPath(path, "events");
    return this.r.array(obj, "events", path, { optional: true }).flatMap((value, i) => {
      const epath = joinPath(at, i);
      const e = this.r.object(value, epath);
      if (!e) return [];
      this.r.knownFields(e, epath, ["name", "args"]);
      const args: Record<string, Value> = {};
      for (const [k, v] of Object.entries(this.r.record(e, "args", epath))) {
        if (typeof v === "boolean" || typeof v === "string" || (typeof v === "number" && Number.isFinite(v))) args[k] = v;
        else
          this.r.add(
            joinPath(joinPath(epath, "args"), k),
            `event arguments are bools, numbers or strings, got ${v === null ? "null" : Array.isArray(v) ? "an array" : typeof v}`,
          );
      }
      return [{ name: this.r.string(e, "name", epath, { nonEmpty: true }), args }];
    });
  }

  /** Array items that must be objects with known fields. */
  items<T>(
    obj: JsonObject,
    key: string,
    path: string,
    fields: readonly string[],
    minItems: number,
    read: (item: JsonObject, path: string, index: number) => T,
  ): T[] {
    const at = joinPath(path, key);
    return this.r.array(obj, key, path, { minItems }).flatMap((value, i) => {
      const ipath = joinPath(at, i);
      const item = this.r.object(value, ipath);
      if (!item) return [];
      this.r.knownFields(item, ipath, fields);
      return [read(item, ipath, i)];
    });
  }
}

function readNode(ctx: NodeContext, value: unknown, path: string): DialogueNode | undefined {
  const { r } = ctx;
  const obj = r.object(value, path);
  if (!obj) return undefined;
  const type = obj.type as DialogueNodeType;
  if (!NODE_TYPES.includes(type)) {
    r.add(
      joinPath(path, "type"),
      obj.type === undefined
        ? `required: one of ${NODE_TYPES.join(", ")}`
        : `unknown node type ${JSON.stringify(obj.type)}; use one of ${NODE_TYPES.join(", ")}`,
    );
    return undefined;
  }
  r.knownFields(obj, path, ["type", ...NODE_FIELDS[type], "tags", "events"]);
  const body = readBody(ctx, type, obj, path);
  return { type, ...body, tags: r.stringArray(obj, "tags", path), events: ctx.events(obj, path) } as DialogueNode;
}

/** The type-specific fields of a node, in schema order. */
function readBody(ctx: NodeContext, type: DialogueNodeType, obj: JsonObject, path: string): Record<string, unknown> {
  const { r } = ctx;
  const text = (key: string, options: { required?: boolean } = {}) => {
    const value = r.string(obj, key, path, options.required ? { nonEmpty: true } : { default: "" });
    ctx.placeholders(value, joinPath(path, key));
    return value;
  };
  switch (type) {
    case "line":
      return { text: text("text", { required: true }), next: ctx.nextRef(obj, path) };
    case "choice":
      return {
        options: ctx.items(obj, "options", path, ["text", "next", "condition", "tags"], 1, (o, p): ChoiceOption => {
          const optionText = r.string(o, "text", p, { nonEmpty: true });
          ctx.placeholders(optionText, joinPath(p, "text"));
          const condition = r.nullableString(o, "condition", p, { nonEmpty: true });
          if (condition) ctx.condition(condition, joinPath(p, "condition"));
          return { text: optionText, next: ctx.ref(o, "next", p), condition, tags: r.stringArray(o, "tags", p) };
        }),
      };
    case "llm_line": {
      const instruction = text("instruction", { required: true });
      const maxWords =
        obj.maxWords === undefined || obj.maxWords === null ? null : r.number(obj, "maxWords", path, { integer: true, min: 1, max: MAX_WORDS_LIMIT });
      return { instruction, maxWords, fallback: text("fallback", { required: true }), next: ctx.nextRef(obj, path) };
    }
    case "player_input": {
      const prompt = r.string(obj, "prompt", path, { default: "" });
      const reply = r.boolean(obj, "reply", path, { default: false });
      const instruction = text("instruction");
      if (!reply && instruction !== "") ctx.warnings.push({ path: joinPath(path, "instruction"), message: "only used when `reply` is true" });
      const store = r.nullableString(obj, "store", path, { nonEmpty: true });
      if (store) {
        const declared = ctx.types[store];
        if (!Object.hasOwn(ctx.types, store)) r.add(joinPath(path, "store"), `no variable "${store}": declare it in "variables" with type string`);
        else if (declared !== "string") r.add(joinPath(path, "store"), `"${store}" is a ${declared} variable; the player's text needs a string variable`);
      }
      return { prompt, reply, instruction, store, next: ctx.nextRef(obj, path) };
    }
    case "intent": {
      const seen = new Map<string, number>();
      const intents = ctx.items(obj, "intents", path, ["id", "description", "examples", "next"], 1, (o, p, index): Intent => {
        const id = r.string(o, "id", p, { nonEmpty: true });
        if (seen.has(id)) r.add(joinPath(p, "id"), `duplicate intent id "${id}" (also intents[${seen.get(id)}])`);
        else seen.set(id, index);
        const examples = r.stringArray(o, "examples", p, { nonEmptyItems: true });
        return { id, description: r.string(o, "description", p, { nonEmpty: true }), examples, next: ctx.ref(o, "next", p) };
      });
      const minConfidence = obj.minConfidence === undefined || obj.minConfidence === null ? null : r.number(obj, "minConfidence", path, { min: 0, max: 1 });
      return { intents, fallback: ctx.ref(obj, "fallback", path), minConfidence };
    }
    case "branch":
      return {
        branches: ctx.items(obj, "branches", path, ["condition", "next"], 1, (o, p): Branch => {
          const condition = r.string(o, "condition", p, { nonEmpty: true });
          if (condition) ctx.condition(condition, joinPath(p, "condition"));
          return { condition, next: ctx.ref(o, "next", p) };
        }),
        otherwise: ctx.ref(obj, "otherwise", path),
      };
    case "set": {
      const at = joinPath(path, "effects");
      const effects = r.array(obj, "effects", path, { minItems: 1 }).map((value, i) => {
        const source = r.checkString(value, joinPath(at, i), { nonEmpty: true });
        if (source.trim() !== "") ctx.effect(source, joinPath(at, i));
        return source;
      });
      return { effects, next: ctx.nextRef(obj, path) };
    }
    case "jump":
      return { target: ctx.ref(obj, "target", path) };
    case "end":
      return {};
  }
}
