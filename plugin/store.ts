// Dialogue state for the game and its UI: a zustand vanilla store fed with the runner's events.
//
//   const dialogue = createDialogueStore();
//   runner.on("event", dialogue.getState().apply);          // however the runner delivers its events
//   dialogue.subscribe((s) => hud.render(s.bubble, s.choices));
//   for (const e of dialogue.getState().takeGameEvents()) game.handle(e);
//
// All state changes go through `reduceDialogue`, a pure function (event in, new state out) that is also
// usable without a store (replays, tests, a game's own state container). A game with its own zustand
// store can mix the dialogue in with `createDialogueSlice` (zustand's slices pattern).

import { createStore, type StoreApi } from "zustand/vanilla";
import { tokensPerSecond, type DialogueEvent, type EndReason, type LineSource, type OfferedChoice } from "./events.js";
import type { Value } from "./types.js";

export type DialogueStatus = "idle" | "speaking" | "waiting_choice" | "waiting_input" | "ended";

export interface ActiveConversation {
  id: string;
  graphId: string;
  characterId: string;
  /** The NPC's display name. */
  npcName: string;
}

/** The NPC line being shown (streamed, or complete). */
export interface CurrentLine {
  nodeId: string;
  speaker: string;
  source: LineSource;
  /** line_complete arrived: `bubble` holds the final text. */
  complete: boolean;
}

export interface TranscriptLine {
  nodeId: string;
  /** A character id, or "player". */
  speaker: string;
  text: string;
  source: LineSource | "player";
  tags: string[];
}

export interface ChosenIntent {
  nodeId: string;
  /** null: no intent was confident enough; the node's fallback was taken. */
  intent: string | null;
  confidence: number;
  probabilities: Record<string, number>;
  logProbs: Record<string, number>;
}

/** A game event waiting for the game to take it (`takeGameEvents`). */
export interface QueuedGameEvent {
  conversationId: string;
  nodeId: string;
  name: string;
  args: Record<string, Value>;
}

export interface DialogueStats {
  /** Time to first token of the last generated line, in milliseconds. */
  firstTokenMs: number | null;
  /** Decode speed of the last generated line. */
  tokensPerSecond: number | null;
  /** Lines completed since the store was created or reset, by source. */
  lines: Record<LineSource, number>;
}

// The state, by slice.

export interface ConversationSlice {
  conversation: ActiveConversation | null;
  status: DialogueStatus;
  /** Why the last conversation ended; null while one runs or before any. */
  endReason: EndReason | null;
  /** The error's message when it ended with reason "error". */
  error: string | null;
}

export interface LineSlice {
  /** The NPC line's text so far: grows with each chunk, the final text once complete. */
  bubble: string;
  line: CurrentLine | null;
  /** Every completed line of the conversation, the player's included. */
  transcript: TranscriptLine[];
}

export interface PlayerTurnSlice {
  /** Offered while status is "waiting_choice", else empty. */
  choices: OfferedChoice[];
  /** The input box hint while status is "waiting_input", else null. */
  inputPrompt: string | null;
}

export interface VariablesSlice {
  /** Mirror of the conversation's variables. */
  variables: Record<string, Value>;
  lastIntent: ChosenIntent | null;
}

export interface GameEventsSlice {
  /** Game events not taken yet, oldest first; kept across conversations until taken. */
  gameEvents: QueuedGameEvent[];
}

export interface StatsSlice {
  /** Kept across conversations. */
  stats: DialogueStats;
}

export type DialogueData = ConversationSlice & LineSlice & PlayerTurnSlice & VariablesSlice & GameEventsSlice & StatsSlice;

export interface DialogueActions {
  /** Folds one runner event into the state. */
  apply(event: DialogueEvent): void;
  /** Back to the initial state (idle, nothing queued, stats cleared). */
  reset(): void;
  /** Removes and returns the queued game events, oldest first. */
  takeGameEvents(): QueuedGameEvent[];
}

export type DialogueState = DialogueData & DialogueActions;
export type DialogueStore = StoreApi<DialogueState>;

export function initialDialogueData(): DialogueData {
  return {
    ...conversationStartData(),
    conversation: null,
    status: "idle",
    variables: {},
    gameEvents: [],
    stats: { firstTokenMs: null, tokensPerSecond: null, lines: { authored: 0, generated: 0, fallback: 0 } },
  };
}

/** The fields each conversation starts with, other than who it is with, its status and its variables; game events and stats carry over. */
function conversationStartData(): Omit<DialogueData, "conversation" | "status" | "variables" | "gameEvents" | "stats"> {
  return {
    endReason: null,
    error: null,
    bubble: "",
    line: null,
    transcript: [],
    choices: [],
    inputPrompt: null,
    lastIntent: null,
  };
}

/** A conversation has started and not ended. */
export function isConversationActive(state: Pick<DialogueData, "status">): boolean {
  return state.status !== "idle" && state.status !== "ended";
}

/**
 * The state after `event`. Pure: returns a new object when something changed and `state` itself when
 * the event does not apply (no conversation running, or a chunk for a line that is not the current one),
 * so subscribers are not woken for nothing. Fields other than DialogueData's are carried over untouched.
 */
export function reduceDialogue<S extends DialogueData>(state: S, event: DialogueEvent): S {
  if (event.type === "started") {
    return {
      ...state,
      ...conversationStartData(),
      conversation: {
        id: event.conversationId,
        graphId: event.graphId,
        characterId: event.characterId,
        npcName: event.npcName,
      },
      status: "speaking",
      variables: { ...event.variables },
    };
  }
  const conversation = state.conversation;
  if (conversation === null || !isConversationActive(state)) return state;

  switch (event.type) {
    case "line_started":
      return {
        ...state,
        status: "speaking",
        bubble: "",
        line: { nodeId: event.nodeId, speaker: event.speaker, source: event.source, complete: false },
        choices: [],
        inputPrompt: null,
      };

    case "text_chunk":
      if (!isStreaming(state.line, event.nodeId) || event.text === "") return state;
      return { ...state, bubble: state.bubble + event.text };

    case "line_reset":
      if (!isStreaming(state.line, event.nodeId)) return state;
      return { ...state, bubble: "" };

    case "line_complete": {
      const stats = state.stats;
      const lines = { ...stats.lines, [event.source]: stats.lines[event.source] + 1 };
      const timing = event.source === "generated" ? event.timing : undefined;
      return {
        ...state,
        bubble: event.text,
        line: { nodeId: event.nodeId, speaker: event.speaker, source: event.source, complete: true },
        transcript: [...state.transcript, { nodeId: event.nodeId, speaker: event.speaker, text: event.text, source: event.source, tags: event.tags }],
        stats: timing ? { firstTokenMs: timing.firstTokenMs, tokensPerSecond: tokensPerSecond(timing), lines } : { ...stats, lines },
      };
    }

    case "choices_offered":
      return { ...state, status: "waiting_choice", choices: event.choices, inputPrompt: null };

    case "input_requested":
      return { ...state, status: "waiting_input", choices: [], inputPrompt: event.prompt };

    case "player_line":
      return {
        ...state,
        status: "speaking",
        choices: [],
        inputPrompt: null,
        transcript: [...state.transcript, { nodeId: event.nodeId, speaker: "player", text: event.text, source: "player", tags: [] }],
      };

    case "intent_chosen":
      return {
        ...state,
        lastIntent: { nodeId: event.nodeId, intent: event.intent, confidence: event.confidence, probabilities: event.probabilities, logProbs: event.logProbs },
      };

    case "variable_changed":
      return { ...state, variables: { ...state.variables, [event.name]: event.value } };

    case "game_event":
      return {
        ...state,
        gameEvents: [...state.gameEvents, { conversationId: conversation.id, nodeId: event.nodeId, name: event.name, args: event.args }],
      };

    case "ended": {
      // A line cut off mid-stream is not shown any further; a complete last line stays for the UI to fade.
      const cutOff = state.line !== null && !state.line.complete;
      return {
        ...state,
        status: "ended",
        endReason: event.reason,
        error: event.reason === "error" ? (event.error ?? "unknown error") : null,
        choices: [],
        inputPrompt: null,
        bubble: cutOff ? "" : state.bubble,
        line: cutOff ? null : state.line,
      };
    }
  }
}

function isStreaming(line: CurrentLine | null, nodeId: string): boolean {
  return line !== null && !line.complete && line.nodeId === nodeId;
}

/**
 * The dialogue slice for a game's own zustand store:
 * `createStore<Game & DialogueState>()((...a) => ({ ...createGameSlice(...a), ...createDialogueSlice(...a) }))`.
 */
export function createDialogueSlice<T extends DialogueState>(set: StoreApi<T>["setState"], get: StoreApi<T>["getState"]): DialogueState {
  return {
    ...initialDialogueData(),
    apply: (event) => set((state) => reduceDialogue(state, event)),
    reset: () => set((state) => ({ ...state, ...initialDialogueData() })),
    takeGameEvents: () => {
      const taken = get().gameEvents;
      if (taken.length > 0) set((state) => ({ ...state, gameEvents: [] }));
      return taken;
    },
  };
}

export function createDialogueStore(): DialogueStore {
  return createStore<DialogueState>()((set, get) => createDialogueSlice(set, get));
}
