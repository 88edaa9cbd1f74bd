// What a dialogue graph file looks like on the canvas: one box per node (its id, type, a short summary and
// its exits), the edges between them, and the validation problems attached to the node they are about.
//
// A graph with problems is still drawn: the host only parses a valid graph (`value`), so a broken one is
// read here from its JSON text, tolerantly, field by field. The exits follow the plugin's `successors`
// (plugin/dialogue/validate.ts), with the labels an author needs: which choice, which intent, which branch.
// Every box's size follows from its content (fixed header, row and line heights, the summary clamped to
// the lines counted here), so the auto-layout knows the real sizes before anything is drawn.

import type { DialogueNodeType } from "../../../plugin/types.js";
import type { DocumentView, ValidationIssue } from "./api.js";

export const NODE_WIDTH = 264;
export const HEADER_HEIGHT = 32;
export const SUMMARY_LINE_HEIGHT = 17;
export const SUMMARY_MAX_LINES = 3;
export const SUMMARY_PADDING_Y = 7;
export const ROW_HEIGHT = 24;
export const ROWS_PADDING_Y = 4;
/** About how many summary characters fit on one line of a box (12.5px system-ui in 240px). */
const SUMMARY_CHARS_PER_LINE = 36;
const EDGE_LABEL_CHARS = 26;

export const NODE_TYPE_INFO: Record<DialogueNodeType, { label: string; color: string }> = {
  line: { label: "line", color: "#3b82f6" },
  llm_line: { label: "generated line", color: "#8b5cf6" },
  player_input: { label: "player input", color: "#0d9488" },
  choice: { label: "choice", color: "#ea580c" },
  intent: { label: "intent", color: "#db2777" },
  branch: { label: "branch", color: "#ca8a04" },
  set: { label: "set", color: "#64748b" },
  jump: { label: "jump", color: "#64748b" },
  end: { label: "end", color: "#334155" },
};
const UNKNOWN_TYPE = { label: "unknown type", color: "#dc2626" };

export function nodeTypeInfo(type: string): { label: string; color: string } {
  return Object.hasOwn(NODE_TYPE_INFO, type) ? NODE_TYPE_INFO[type as DialogueNodeType] : UNKNOWN_TYPE;
}

/** Where a node leads: one source handle of its box. */
export interface Exit {
  /** The handle's id, unique in its node, naming the field it sets (graph-edit.ts's exitSlots): "next",
   *  "target", "option-0", "intent-0", "fallback", "branch-0", "otherwise". */
  handle: string;
  /** The node it leads to ("" when the file names none). */
  target: string;
  /** Whether `target` is a node of this graph (an edge is drawn only then). */
  resolved: boolean;
  /** A `next` that is null: the conversation ends there (not a problem; the handle is free to connect). */
  open: boolean;
  /** The row's text in the box (choice text, intent id, condition); "" for a node's single exit. */
  text: string;
  /** More about the row, shown on hover (a choice's condition, an intent's description). */
  detail: string;
  /** The edge's label; "" for none. */
  label: string;
}

export interface Problem {
  /** JSON path in the graph file: `nodes.greet.next`; "" for the whole document. */
  path: string;
  message: string;
  severity: "error" | "warning";
}

export type NodeView = {
  id: string;
  type: string;
  summary: string;
  /** Lines the summary takes in the box (0 without one). */
  summaryLines: number;
  /** "header": one exit beside the title (line, set, jump…); "rows": one row per exit (choice, intent, branch). */
  exitStyle: "header" | "rows";
  exits: Exit[];
  isStart: boolean;
  problems: Problem[];
  width: number;
  height: number;
};

export interface EdgeView {
  id: string;
  source: string;
  sourceHandle: string;
  target: string;
  label: string;
}

export interface GraphModel {
  id: string;
  start: string;
  character: string;
  nodes: NodeView[];
  edges: EdgeView[];
  /** Problems that are not about one node (start, character, variables), and about nodes that do not exist. */
  graphProblems: Problem[];
  /** Why the file cannot be drawn at all (not JSON, no nodes object); the nodes are empty then. */
  unreadable?: string;
}

/** The canvas model of a graph document (valid or not), with the problems the host found. */
export function graphModel(doc: DocumentView): GraphModel {
  const json = doc.value ?? parseJson(doc.text);
  if (!asObject(json) || !asObject(asObject(json)?.nodes)) {
    const problems = (doc.problem?.issues ?? []).map((issue) => problem(issue, "error"));
    const where = doc.problem?.line !== undefined ? ` (line ${doc.problem.line}, column ${doc.problem.column})` : "";
    const reason = doc.problem ? `${doc.problem.message}${where}` : 'the file has no "nodes" object';
    return { id: doc.id, start: "", character: "", nodes: [], edges: [], graphProblems: problems, unreadable: reason };
  }
  return graphModelOf(doc.id, json, doc.problem?.issues ?? [], doc.warnings);
}

/** The canvas model of a graph's JSON (an object with a `nodes` object), with its errors and warnings. */
export function graphModelOf(fileId: string, json: unknown, errors: readonly ValidationIssue[], warnings: readonly ValidationIssue[]): GraphModel {
  const problems: Problem[] = [...errors.map((issue) => problem(issue, "error")), ...warnings.map((issue) => problem(issue, "warning"))];
  const root = asObject(json) ?? {};
  const rawNodes = asObject(root.nodes) ?? {};
  const start = asString(root.start);
  const ids = Object.keys(rawNodes);
  const byNode = new Map<string, Problem[]>();
  const graphProblems: Problem[] = [];
  for (const p of problems) {
    const nodeId = nodeOfPath(p.path);
    if (nodeId !== undefined && Object.hasOwn(rawNodes, nodeId)) byNode.set(nodeId, [...(byNode.get(nodeId) ?? []), p]);
    else graphProblems.push(p);
  }

  const nodes = ids.map((id) => nodeView(id, rawNodes[id], ids, id === start, byNode.get(id) ?? []));
  const edges: EdgeView[] = nodes.flatMap((node) =>
    node.exits
      .filter((exit) => exit.resolved)
      .map((exit) => ({ id: `${node.id}/${exit.handle}`, source: node.id, sourceHandle: exit.handle, target: exit.target, label: exit.label })),
  );
  return { id: asString(root.id) || fileId, start, character: asString(root.character), nodes, edges, graphProblems };
}

/** The node a problem's path is about: `nodes.greet.next` → greet, `nodes["1st"]` → 1st. */
export function nodeOfPath(path: string): string | undefined {
  const m = /^nodes(?:\.([A-Za-z_][A-Za-z0-9_-]*)|\[("(?:[^"\\]|\\.)*")\])/.exec(path);
  if (!m) return undefined;
  return m[1] ?? (JSON.parse(m[2]) as string);
}

/** Where a node's exit handle sits, from the top of its box (the auto-layout puts its port there too). */
export function exitY(node: NodeView, index: number): number {
  if (node.exitStyle === "header") return HEADER_HEIGHT / 2;
  return HEADER_HEIGHT + summaryBlockHeight(node.summaryLines) + ROWS_PADDING_Y + index * ROW_HEIGHT + ROW_HEIGHT / 2;
}

/** The target handle sits level with the title. */
export const ENTRY_Y = HEADER_HEIGHT / 2;

export function summaryBlockHeight(lines: number): number {
  return lines === 0 ? 0 : lines * SUMMARY_LINE_HEIGHT + 2 * SUMMARY_PADDING_Y;
}

function nodeView(id: string, raw: unknown, ids: readonly string[], isStart: boolean, problems: Problem[]): NodeView {
  const node = asObject(raw) ?? {};
  const type = asString(node.type);
  const exit = (handle: string, target: unknown, text = "", detail = "", label = ""): Exit => {
    const to = asString(target);
    return { handle, target: to, resolved: to !== "" && ids.includes(to), open: false, text, detail, label };
  };
  // `next` may be null (the conversation ends there): its handle is drawn, free to connect.
  const next = (): Exit[] => [node.next === null || node.next === undefined ? { ...exit("next", ""), open: true } : exit("next", node.next)];

  let summary = "";
  let exits: Exit[] = [];
  let exitStyle: NodeView["exitStyle"] = "header";
  switch (type) {
    case "line":
      summary = asString(node.text);
      exits = next();
      break;
    case "llm_line":
      summary = asString(node.instruction);
      exits = next();
      break;
    case "player_input": {
      const notes = [node.store ? `stored in ${asString(node.store)}` : "", node.reply === true ? "NPC replies" : ""].filter(Boolean);
      summary = [asString(node.prompt) || "(no prompt)", ...notes].join(" · ");
      exits = next();
      break;
    }
    case "set":
      summary = asArray(node.effects).map(asString).join("; ");
      exits = next();
      break;
    case "jump":
      summary = `jump to ${asString(node.target) || "?"}`;
      exits = [exit("target", node.target)];
      break;
    case "end":
      summary = "ends the conversation";
      break;
    case "choice":
      exitStyle = "rows";
      exits = asArray(node.options).map((value, i) => {
        const option = asObject(value) ?? {};
        const text = asString(option.text);
        const condition = asString(option.condition);
        return exit(`option-${i}`, option.next, text, condition ? `only when ${condition}` : "", shorten(text));
      });
      break;
    case "intent":
      exitStyle = "rows";
      exits = [
        ...asArray(node.intents).map((value, i) => {
          const intent = asObject(value) ?? {};
          const intentId = asString(intent.id);
          return exit(`intent-${i}`, intent.next, intentId, asString(intent.description), intentId);
        }),
        exit("fallback", node.fallback, "fallback", "when the player's words match no intent well enough", "fallback"),
      ];
      break;
    case "branch":
      exitStyle = "rows";
      exits = [
        ...asArray(node.branches).map((value, i) => {
          const branch = asObject(value) ?? {};
          const condition = asString(branch.condition);
          return exit(`branch-${i}`, branch.next, `if ${condition}`, "", shorten(condition));
        }),
        exit("otherwise", node.otherwise, "otherwise", "when no condition holds", "otherwise"),
      ];
      break;
    default:
      summary = type ? `"${type}" is not a node type` : "no node type";
  }

  // A single exit that leads nowhere gets a row of its own, so the box can say where it was meant to go.
  if (exitStyle === "header" && exits.some((e) => !e.resolved && !e.open)) {
    exitStyle = "rows";
    exits = exits.map((e) => ({ ...e, text: type === "jump" ? "target" : "next" }));
  }

  const summaryLines = summary === "" ? 0 : Math.min(SUMMARY_MAX_LINES, Math.ceil(summary.length / SUMMARY_CHARS_PER_LINE));
  const rows = exitStyle === "rows" ? exits.length : 0;
  const height = HEADER_HEIGHT + summaryBlockHeight(summaryLines) + (rows > 0 ? rows * ROW_HEIGHT + 2 * ROWS_PADDING_Y : 0);
  return { id, type, summary, summaryLines, exitStyle, exits, isStart, problems, width: NODE_WIDTH, height };
}

function problem(issue: ValidationIssue, severity: Problem["severity"]): Problem {
  return { path: issue.path, message: issue.message, severity };
}

function shorten(text: string): string {
  return text.length <= EDGE_LABEL_CHARS ? text : `${text.slice(0, EDGE_LABEL_CHARS - 1).trimEnd()}…`;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function asObject(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function asString(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
