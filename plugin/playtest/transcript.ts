// A playtest transcript (`playtests/NAME.transcript.json` in a project): how a conversation was started
// (graph, character, seed, start node, variables), the player's inputs in order, and what happened node by
// node (the nodes visited, the lines spoken, the player's words, the intents chosen, the variables set) so a
// later replay with the same seed can be compared step by step. Saved playtests are a game's regression tests
// (`parley dialogue test PROJECT`).
//
// Read with the plugin's DocumentReader: a malformed file is one PluginValidationError naming every problem
// with its JSON path. Written with a fixed key order and 2-space indent, so a re-recorded run diffs line by line.

import { DocumentReader, PluginValidationError, type JsonObject } from "../errors.js";
import type { LineSource } from "../events.js";
import type { TranscriptInput } from "../dialogue/runner.js";
import { NpcMemory, type MemoryDocument } from "../memory/memory.js";
import type { Value } from "../types.js";

export const TRANSCRIPT_SCHEMA = "parley.transcript/1";
/** The project folder transcripts live in. */
export const TRANSCRIPT_FOLDER = "playtests";
export const TRANSCRIPT_SUFFIX = ".transcript.json";
/** A transcript's name: what goes before the suffix. */
export const TRANSCRIPT_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** An NPC line as it was spoken at a node. */
export interface StepLine {
  text: string;
  source: LineSource;
}

/** What happened at one node the conversation entered. */
export interface PlaytestStep {
  node: string;
  /** NPC lines spoken here (final texts). */
  lines: StepLine[];
  /** The options a choice node offered (their texts); absent at other nodes. */
  choices?: string[];
  /** The player's words here (a choice's text or free text); null when the player said nothing here. */
  player: string | null;
  /** The intent an intent node chose (null: none was confident enough); absent at other nodes. */
  intent?: string | null;
  /** Variables this node changed, with their new values. */
  variables: Record<string, Value>;
  /** Game events this node fired, by name. */
  events: string[];
}

/** How a run stopped: its end node, an error, or "stopped" (ended by the tester, or its inputs ran out). */
export interface RunEnd {
  reason: "end" | "error" | "stopped";
  node: string | null;
  error?: string;
}

/** A run as compared: its steps, the variables at its end and how it ended. */
export interface RunRecord {
  steps: PlaytestStep[];
  variables: Record<string, Value>;
  end: RunEnd;
}

export interface PlaytestTranscript {
  schema: typeof TRANSCRIPT_SCHEMA;
  name: string;
  graph: string;
  character: string;
  seed: number;
  /**
   * Where the run started, the variables set by hand (over the graph's defaults) and what the NPC remembered
   * from earlier conversations (null: nothing, a fresh memory).
   */
  start: { node: string; variables: Record<string, Value>; memory: MemoryDocument | null };
  /** The model's context size the run had. */
  contextSize: number;
  /** The model file it was recorded with (its name only: informational, a replay names its own model). */
  model: string;
  inputs: TranscriptInput[];
  expected: RunRecord;
}

const FIELDS = ["schema", "name", "graph", "character", "seed", "start", "contextSize", "model", "inputs", "expected"] as const;

/** A transcript's file path in its project, for a valid name. */
export function transcriptPath(name: string): string {
  if (!TRANSCRIPT_NAME_PATTERN.test(name)) {
    throw new PluginValidationError("transcript name", [
      { path: "name", message: `${JSON.stringify(name)} is not allowed: use 1-64 letters, digits, _ and -` },
    ]);
  }
  return `${TRANSCRIPT_FOLDER}/${name}${TRANSCRIPT_SUFFIX}`;
}

/** Validates parsed JSON as a transcript; throws PluginValidationError listing every problem with its path. */
export function parseTranscript(json: unknown): PlaytestTranscript {
  const r = new DocumentReader();
  const doc = r.object(json, "");
  if (!doc) throw new PluginValidationError("invalid transcript", r.issues);
  if (doc.schema !== TRANSCRIPT_SCHEMA) {
    r.add("schema", `must be "${TRANSCRIPT_SCHEMA}", got ${JSON.stringify(doc.schema ?? null)}`);
    r.throwIfAny("invalid transcript");
  }
  r.knownFields(doc, "", FIELDS);
  const start = r.object(doc.start, "start") ?? {};
  const expected = r.object(doc.expected, "expected") ?? {};
  const transcript: PlaytestTranscript = {
    schema: TRANSCRIPT_SCHEMA,
    name: r.string(doc, "name", "", { pattern: TRANSCRIPT_NAME_PATTERN, patternHint: "1-64 letters, digits, _ and -" }),
    graph: r.string(doc, "graph", "", { nonEmpty: true }),
    character: r.string(doc, "character", "", { nonEmpty: true }),
    seed: r.number(doc, "seed", "", { integer: true, min: 0, max: 2 ** 32 - 1 }),
    start: {
      node: r.string(start, "node", "start", { nonEmpty: true }),
      variables: values(r, start, "variables", "start"),
      memory: memory(r, start.memory, "start.memory"),
    },
    contextSize: r.number(doc, "contextSize", "", { integer: true, min: 16 }),
    model: r.string(doc, "model", ""),
    inputs: r.array(doc, "inputs", "").map((item, i) => input(r, item, `inputs[${i}]`)),
    expected: {
      steps: r.array(expected, "steps", "expected").map((item, i) => step(r, item, `expected.steps[${i}]`)),
      variables: values(r, expected, "variables", "expected"),
      end: end(r, expected.end, "expected.end"),
    },
  };
  r.throwIfAny("invalid transcript");
  return transcript;
}

/** Stable text: fields in a fixed order, 2-space indent, final newline. */
export function serializeTranscript(transcript: PlaytestTranscript): string {
  // Parsing first rebuilds the object in field order and refuses to write a malformed one.
  return JSON.stringify(parseTranscript(transcript), null, 2) + "\n";
}

function isValue(value: unknown): value is Value {
  return typeof value === "boolean" || typeof value === "string" || (typeof value === "number" && Number.isFinite(value));
}

function values(r: DocumentReader, obj: JsonObject, key: string, path: string): Record<string, Value> {
  const at = path ? `${path}.${key}` : key;
  const raw = obj[key] === undefined ? {} : r.object(obj[key], at);
  const out: Record<string, Value> = {};
  for (const [name, value] of Object.entries(raw ?? {})) {
    if (isValue(value)) out[name] = value;
    else r.add(`${at}[${JSON.stringify(name)}]`, "must be a number, a string or true/false");
  }
  return out;
}

function memory(r: DocumentReader, value: unknown, path: string): MemoryDocument | null {
  if (value === undefined || value === null) return null;
  try {
    return NpcMemory.fromJSON(value).toJSON();
  } catch (error) {
    r.add(path, error instanceof Error ? error.message : String(error));
    return null;
  }
}

function input(r: DocumentReader, item: unknown, path: string): TranscriptInput {
  const obj = r.object(item, path);
  if (obj?.type === "choice") return { type: "choice", index: r.number(obj, "index", path, { integer: true, min: 0 }) };
  if (obj?.type === "input") return { type: "input", text: r.string(obj, "text", path) };
  if (obj) r.add(`${path}.type`, `must be "choice" or "input", got ${JSON.stringify(obj.type ?? null)}`);
  return { type: "input", text: "" };
}

function step(r: DocumentReader, item: unknown, path: string): PlaytestStep {
  const obj = r.object(item, path) ?? {};
  r.knownFields(obj, path, ["node", "lines", "choices", "player", "intent", "variables", "events"]);
  const result: PlaytestStep = {
    node: r.string(obj, "node", path, { nonEmpty: true }),
    lines: r.array(obj, "lines", path, { optional: true }).map((line, i) => {
      const at = `${path}.lines[${i}]`;
      const l = r.object(line, at) ?? {};
      const source = r.string(l, "source", at);
      if (source !== "authored" && source !== "generated" && source !== "fallback") r.add(`${at}.source`, `must be "authored", "generated" or "fallback"`);
      return { text: r.string(l, "text", at), source: source as LineSource };
    }),
    player: r.nullableString(obj, "player", path),
    variables: values(r, obj, "variables", path),
    events: r.stringArray(obj, "events", path),
  };
  if (Object.hasOwn(obj, "intent")) result.intent = r.nullableString(obj, "intent", path);
  const choices = Object.hasOwn(obj, "choices") ? r.stringArray(obj, "choices", path) : undefined;
  // Key order of the written file.
  return {
    node: result.node,
    lines: result.lines,
    ...(choices !== undefined ? { choices } : {}),
    player: result.player,
    ...(result.intent !== undefined ? { intent: result.intent } : {}),
    variables: result.variables,
    events: result.events,
  };
}

function end(r: DocumentReader, item: unknown, path: string): RunEnd {
  const obj = r.object(item, path) ?? {};
  const reason = r.string(obj, "reason", path);
  if (reason !== "end" && reason !== "error" && reason !== "stopped") r.add(`${path}.reason`, `must be "end", "error" or "stopped"`);
  const error = obj.error === undefined ? undefined : r.string(obj, "error", path);
  return { reason: reason as RunEnd["reason"], node: r.nullableString(obj, "node", path), ...(error !== undefined ? { error } : {}) };
}
