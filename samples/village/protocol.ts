// The contract between the village game (browser page or Electron renderer) and its host process (the
// Node process that runs the model). The game talks to a `GameHost`; HttpHost (browser mode) and the
// Electron preload bridge both implement it, so the game's UI code is the same in both shells.
//
// Browser mode, over HTTP on 127.0.0.1 (every request carries the per-run token; the host checks Origin):
//   GET  /                          the game page (index.html + bundled script); the token is in the URL: /?token=…
//   GET  /api/info?token=…          → HostInfo
//   GET  /api/events?token=…        → text/event-stream of HostEvent (one JSON object per `data:` line)
//   POST /api/start   {npc}         → {ok: true} | error     (starts a conversation with that NPC)
//   POST /api/choose  {index}       → {ok: true} | error
//   POST /api/submit  {text}        → {ok: true} | error
//   POST /api/cancel  {}            → {ok: true}
//   POST /api/bark    {npc}         → {ok: true} | error     (the player walked past: an ambient line)
// POST bodies are JSON; the token travels as the `x-parley-token` header. Errors: HTTP 4xx/5xx with
// {error: {code, message}}.

import type { DialogueEvent } from "../../plugin/events.js";

export type NpcId = "blacksmith" | "innkeeper" | "guard";

export interface NpcInfo {
  id: NpcId;
  name: string;
  role: string;
  /** Where the NPC stands in the village (x, z on the ground plane; y up). */
  position: [number, number, number];
  /** Facing, radians about +Y. */
  facing: number;
  /** A color for the placeholder figure. */
  color: string;
}

export interface HostInfo {
  /** On-screen note: which model is running and on which device. */
  modelNote: string;
  device: string;
  /** False when no model is loaded: NPCs speak authored fallback lines. */
  canGenerate: boolean;
  npcs: NpcInfo[];
}

export type HostEvent =
  /** A conversation event from the runner, for the active conversation with `npc`. */
  | { type: "dialogue"; npc: NpcId; event: DialogueEvent }
  /** An ambient bark: text streams in, then completes (or is withdrawn with text ""). */
  | { type: "bark"; npc: NpcId; text: string; done: boolean }
  /** Generation speed, after each generated line (for the overlay). */
  | { type: "stats"; tokensPerSecond: number | null; firstTokenMs: number | null };

export interface GameHost {
  info(): Promise<HostInfo>;
  /** Subscribes to host events; returns the unsubscribe function. */
  subscribe(listener: (event: HostEvent) => void): () => void;
  start(npc: NpcId): Promise<void>;
  choose(index: number): Promise<void>;
  submit(text: string): Promise<void>;
  cancel(): Promise<void>;
  bark(npc: NpcId): Promise<void>;
}

/**
 * The longest line the player may say, in UTF-16 code units (JavaScript string length, what an input's
 * `maxlength` counts). The page's text box, the terminal chat and the host all hold to this one number.
 */
export const MAX_INPUT_CHARS = 500;

/** The village's NPCs and where they stand (the host and the game both read this). */
export const VILLAGE_NPCS: readonly NpcInfo[] = [
  { id: "blacksmith", name: "Brom Ironhand", role: "blacksmith", position: [-8, 0, -4], facing: Math.PI / 4, color: "#8a4b2a" },
  { id: "innkeeper", name: "Maren Bell", role: "innkeeper", position: [6, 0, -6], facing: -Math.PI / 4, color: "#6a2f6b" },
  { id: "guard", name: "Captain Hale", role: "guard", position: [0, 0, 10], facing: Math.PI, color: "#2f4f7a" },
];
