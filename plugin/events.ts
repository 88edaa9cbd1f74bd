// The events a running conversation emits (dialogue/runner.ts), in the order they happen. The dialogue
// store (store.ts) folds them into state the game and its UI read; a game may also listen to them directly.
//
// A conversation is always: `started`, then any mix of the others, then exactly one `ended`.
// An NPC line is `line_started`, zero or more `text_chunk`s (generated lines stream; authored and fallback
// lines arrive as one chunk), possibly `line_reset` (the guardrails threw the partial text away and the
// line starts over, usually as a fallback), then `line_complete` with the final text.
// A player's pick among `choices_offered` and a player's free text after `input_requested` both come back
// as `player_line`.

import type { Value } from "./types.js";

/** Where an NPC line's text came from. */
export type LineSource = "authored" | "generated" | "fallback";

/** Generation timings of a generated line, measured by the runner. */
/** The model's own timings of a generated line (present only when the backend measures them). */
export interface LineTiming {
  /** Milliseconds from the request to the first token. */
  firstTokenMs: number;
  /** Milliseconds from the request to the last token. */
  totalMs: number;
  /** Tokens generated. */
  tokens: number;
}

export interface OfferedChoice {
  /** Index into the choice node's `options` (the runner offers only those whose condition holds). */
  index: number;
  text: string;
  tags: string[];
}

export interface StartedEvent {
  type: "started";
  conversationId: string;
  graphId: string;
  characterId: string;
  /** The character's display name (`Character.name`). */
  npcName: string;
  /** Every variable of the graph with its value at the start. */
  variables: Record<string, Value>;
}

export interface LineStartedEvent {
  type: "line_started";
  nodeId: string;
  speaker: string;
  source: LineSource;
}

export interface TextChunkEvent {
  type: "text_chunk";
  nodeId: string;
  text: string;
}

/** The guardrails discarded the partial generated line: whatever was shown of it must go. */
export interface LineResetEvent {
  type: "line_reset";
  nodeId: string;
}

export interface LineCompleteEvent {
  type: "line_complete";
  nodeId: string;
  speaker: string;
  /** The final text: authoritative over the chunks streamed before. */
  text: string;
  source: LineSource;
  tags: string[];
  /** Present for generated lines. */
  timing?: LineTiming;
}

export interface ChoicesOfferedEvent {
  type: "choices_offered";
  nodeId: string;
  choices: OfferedChoice[];
}

export interface InputRequestedEvent {
  type: "input_requested";
  nodeId: string;
  /** Hint for the input box. */
  prompt: string;
}

/** What the player said: the text of the picked choice, or their free text. */
export interface PlayerLineEvent {
  type: "player_line";
  nodeId: string;
  text: string;
}

/** How the player's words were routed at an intent node (also when no intent was confident enough). */
export interface IntentChosenEvent {
  type: "intent_chosen";
  nodeId: string;
  /** The chosen intent's id; null when none reached the node's confidence and its fallback was taken. */
  intent: string | null;
  /** The most likely intent's id (the chosen one, or the one that fell short). */
  best: string;
  /** The best intent's combined probability (0–1). */
  confidence: number;
  /** Which judges decided: the authored examples alone, the model alone, or both combined. */
  source: "examples" | "model" | "combined";
  /** Combined probability of each intent id. */
  probabilities: Record<string, number>;
  /** Best similarity of the player's words to each intent's examples (0–1). */
  similarities: Record<string, number>;
  /** The model's log-probability of each intent id; empty when the model was not asked. */
  logProbs: Record<string, number>;
}

export interface VariableChangedEvent {
  type: "variable_changed";
  name: string;
  value: Value;
  previous: Value;
}

/** A node's game event (`give_item`, `open_shop`): the game handles it. */
export interface GameEventEvent {
  type: "game_event";
  nodeId: string;
  name: string;
  args: Record<string, Value>;
}

export type EndReason = "end" | "cancelled" | "error";

export interface EndedEvent {
  type: "ended";
  /** The node the conversation stopped at; null when it ended before reaching one. */
  nodeId: string | null;
  reason: EndReason;
  /** The error's message, with reason "error". */
  error?: string;
}

export type DialogueEvent =
  | StartedEvent
  | LineStartedEvent
  | TextChunkEvent
  | LineResetEvent
  | LineCompleteEvent
  | ChoicesOfferedEvent
  | InputRequestedEvent
  | PlayerLineEvent
  | IntentChosenEvent
  | VariableChangedEvent
  | GameEventEvent
  | EndedEvent;

export type DialogueEventType = DialogueEvent["type"];

/** The event of one type: `EventOf<"text_chunk">`. */
export type EventOf<T extends DialogueEventType> = Extract<DialogueEvent, { type: T }>;

export type LineEvent = LineStartedEvent | TextChunkEvent | LineResetEvent | LineCompleteEvent;

/** The events that make up one NPC line. */
export function isLineEvent(event: DialogueEvent): event is LineEvent {
  return event.type === "line_started" || event.type === "text_chunk" || event.type === "line_reset" || event.type === "line_complete";
}

/** The events after which the conversation waits for the player. */
export function isPlayerTurnEvent(event: DialogueEvent): event is ChoicesOfferedEvent | InputRequestedEvent {
  return event.type === "choices_offered" || event.type === "input_requested";
}

export function isEndEvent(event: DialogueEvent): event is EndedEvent {
  return event.type === "ended";
}

/** Narrows to one event type: `events.filter(isEvent("game_event"))`. */
export function isEvent<T extends DialogueEventType>(type: T): (event: DialogueEvent) => event is EventOf<T> {
  return (event): event is EventOf<T> => event.type === type;
}

/** The node an event belongs to, or null for conversation-wide events (started, variable_changed). */
export function eventNodeId(event: DialogueEvent): string | null {
  return "nodeId" in event ? event.nodeId : null;
}

/**
 * Decode speed of a generated line in tokens per second: the tokens after the first over the time after
 * the first token. Null when it cannot be measured (a single token, or no time passed).
 */
export function tokensPerSecond(timing: LineTiming): number | null {
  const decodeMs = timing.totalMs - timing.firstTokenMs;
  if (timing.tokens < 2 || decodeMs <= 0) return null;
  return ((timing.tokens - 1) * 1000) / decodeMs;
}
