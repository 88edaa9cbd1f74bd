// The conversation protocol between a game's page (an Electron renderer or a browser tab) and the host process
// that runs the model. Six requests and one event stream, the same in both transports:
//
//   info()            → HostInfo                 which NPCs there are, which model runs, on which device
//   start(npc)        → null                     starts a conversation with that NPC (cancels the running one)
//   choose(index)     → null                     picks an offered choice (`choices_offered` event)
//   submit(text)      → null                     answers an input request (`input_requested` event)
//   cancel()          → null                     ends the running conversation
//   bark(npc)         → BarkResult               an ambient line (the player walked past)
//   events            → HostEvent, one at a time (dialogue events, barks, generation speed)
//
// Every request is checked here, on the host side, before anything runs: the page is untrusted (a compromised
// renderer, or another site trying the loopback port), so its messages are parsed, never trusted. This module
// has no Node imports: the page-side client bundles it too.

import type { DialogueEvent } from "../events.js";

/** An NPC the host can talk as: its character's id and name, and the dialogue graph it runs. */
export interface NpcInfo {
  /** The character's id (what start() and bark() take). */
  id: string;
  name: string;
  /** The character's role ("blacksmith"), as written in its file. */
  role: string;
  /** The id of the graph a conversation with this NPC runs. */
  graph: string;
}

export interface HostInfo {
  /** One line for the screen: which model is running and on which device (or why none is). */
  modelNote: string;
  /** The Vulkan device's name, or "none". */
  device: string;
  /** False when no model is loaded: NPCs speak their authored lines only. */
  canGenerate: boolean;
  npcs: NpcInfo[];
}

export type HostEvent =
  /** A conversation event from the dialogue runner, for the running conversation with `npc`. */
  | { type: "dialogue"; npc: string; event: DialogueEvent }
  /** An ambient bark: text streams in (done false), then completes; text "" with done true withdraws it. */
  | { type: "bark"; npc: string; text: string; done: boolean }
  /** Generation speed after each generated line. */
  | { type: "stats"; tokensPerSecond: number | null; firstTokenMs: number | null };

/** What bark() did: "started", or why not (rate limits are not errors). */
export type BarkResult = "started" | "busy" | "cooldown" | "conversation";

/** The protocol as a page uses it (parley-npc/host/client gives one for either transport). */
export interface ParleyClient {
  info(): Promise<HostInfo>;
  /** Subscribes to host events; returns the unsubscribe function. */
  subscribe(listener: (event: HostEvent) => void): () => void;
  start(npc: string): Promise<void>;
  choose(index: number): Promise<void>;
  submit(text: string): Promise<void>;
  cancel(): Promise<void>;
  bark(npc: string): Promise<BarkResult>;
}

/**
 * The longest line the player may say, in UTF-16 code units (what an input's `maxlength` counts). Pages,
 * terminal chats and the host all hold to this one number.
 */
export const MAX_INPUT_CHARS = 500;

/** Longest NPC id accepted on the wire (character ids are short slugs). */
export const MAX_NPC_ID_CHARS = 64;

/** A request, parsed: the method and its checked parameters. */
export type HostRequest =
  | { method: "info" }
  | { method: "start"; npc: string }
  | { method: "choose"; index: number }
  | { method: "submit"; text: string }
  | { method: "cancel" }
  | { method: "bark"; npc: string };

export type HostMethod = HostRequest["method"];

/** Each method's parameters, in order (IPC passes them positionally, HTTP as a JSON object's fields). */
export const HOST_METHODS: Readonly<Record<HostMethod, readonly string[]>> = {
  info: [],
  start: ["npc"],
  choose: ["index"],
  submit: ["text"],
  cancel: [],
  bark: ["npc"],
};

/** Stable codes of refused requests (HTTP answers them with 400, IPC with the same code). */
export type ProtocolErrorCode = "UNKNOWN_METHOD" | "INVALID_ARGUMENT" | "EMPTY_INPUT" | "INPUT_TOO_LONG";

/** A request the protocol refuses: `code` is stable, `message` says what was wrong and what is allowed. */
export class ProtocolError extends Error {
  readonly code: ProtocolErrorCode;
  constructor(code: ProtocolErrorCode, message: string) {
    super(message);
    this.name = "ProtocolError";
    this.code = code;
  }
}

const NPC_ID = /^[a-z0-9_-]+$/;

export function isHostMethod(value: unknown): value is HostMethod {
  return typeof value === "string" && Object.hasOwn(HOST_METHODS, value);
}

/**
 * Checks one request. `params` is the JSON object of named parameters (HTTP) or the array of positional ones
 * (IPC). Unknown methods, missing, extra or ill-typed parameters are ProtocolErrors naming the problem.
 */
export function parseHostRequest(method: unknown, params: unknown): HostRequest {
  if (!isHostMethod(method)) {
    const shown = typeof method === "string" ? JSON.stringify(method.slice(0, 40)) : typeof method;
    throw new ProtocolError("UNKNOWN_METHOD", `unknown request ${shown}; the protocol has ${Object.keys(HOST_METHODS).join(", ")}`);
  }
  const names = HOST_METHODS[method];
  const named = namedParams(method, names, params);
  switch (method) {
    case "info":
    case "cancel":
      return { method };
    case "start":
    case "bark":
      return { method, npc: npcId(method, named.npc) };
    case "choose":
      return { method, index: choiceIndex(named.index) };
    case "submit":
      return { method, text: playerText(named.text) };
  }
}

function namedParams(method: HostMethod, names: readonly string[], params: unknown): Record<string, unknown> {
  const expected = names.length === 0 ? "no parameters" : names.join(", ");
  if (params === undefined || params === null) params = names.length === 0 ? {} : params;
  if (Array.isArray(params)) {
    if (params.length > names.length) throw new ProtocolError("INVALID_ARGUMENT", `${method} takes ${expected}; got ${params.length} arguments`);
    const out: Record<string, unknown> = {};
    names.forEach((name, i) => (out[name] = params[i]));
    return out;
  }
  if (typeof params !== "object" || params === null)
    throw new ProtocolError("INVALID_ARGUMENT", `${method} takes ${expected}; got ${params === null ? "null" : typeof params}`);
  const extra = Object.keys(params).filter((key) => !names.includes(key));
  if (extra.length > 0)
    throw new ProtocolError(
      "INVALID_ARGUMENT",
      `${method} takes ${expected}; unexpected ${extra
        .slice(0, 3)
        .map((k) => JSON.stringify(k.slice(0, 40)))
        .join(", ")}`,
    );
  return params as Record<string, unknown>;
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === "number" || typeof value === "boolean" || value === null) return String(value);
  return Array.isArray(value) ? "an array" : typeof value;
}

function npcId(method: HostMethod, value: unknown): string {
  if (typeof value !== "string" || value.length === 0 || value.length > MAX_NPC_ID_CHARS || !NPC_ID.test(value)) {
    throw new ProtocolError("INVALID_ARGUMENT", `${method}: "npc" must be a character id (lowercase letters, digits, _ and -), got ${describe(value)}`);
  }
  return value;
}

function choiceIndex(value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new ProtocolError("INVALID_ARGUMENT", `choose: "index" must be a non-negative integer, got ${describe(value)}`);
  }
  return value;
}

function playerText(value: unknown): string {
  if (typeof value !== "string") throw new ProtocolError("INVALID_ARGUMENT", `submit: "text" must be a string, got ${describe(value)}`);
  if (value.length > MAX_INPUT_CHARS) throw new ProtocolError("INPUT_TOO_LONG", `submit: the text is ${value.length} characters; at most ${MAX_INPUT_CHARS}`);
  // A blank line says nothing; answering it would make the NPC reply to silence.
  if (value.trim() === "") throw new ProtocolError("EMPTY_INPUT", "submit: the text is empty; type something to say before sending");
  return value;
}

/**
 * How a request's outcome travels where exceptions cannot (Electron IPC through the context bridge keeps only
 * an error's message): the value, or the error's stable code and message.
 */
export type HostReply = { ok: true; value: unknown } | { ok: false; error: { code: string; message: string } };

/**
 * What the Electron preload exposes to the page as `window.parley` (parley-npc/host/preload): the protocol's
 * functions, each answering with a HostReply, and the event subscription. Pages use it through
 * parley-npc/host/client, which turns refused replies into HostRequestErrors.
 */
export interface ParleyBridge {
  info(): Promise<HostReply>;
  start(npc: string): Promise<HostReply>;
  choose(index: number): Promise<HostReply>;
  submit(text: string): Promise<HostReply>;
  cancel(): Promise<HostReply>;
  bark(npc: string): Promise<HostReply>;
  subscribe(listener: (event: HostEvent) => void): () => void;
}

/** What a transport (the HTTP host, the Electron main-process helper) needs of the host process's side. */
export interface HostService {
  /** Runs a checked request; resolves with its answer (null when it has none). */
  handle(request: HostRequest): Promise<unknown>;
  subscribe(listener: (event: HostEvent) => void): () => void;
  dispose(): Promise<void>;
}
