// Folds the host's playtest events into what the Playtest panel shows: the conversation (NPC lines as they
// stream, the player's words, intents, game events), what the run waits for (choices, free text), the live
// variables, the nodes visited, each generated line's prompts and timing, and how the run ended. Pure: the
// store (playtest-store.ts) keeps the result.

import type { LineTiming, OfferedChoice } from "../../../plugin/events.js";
import type { PromptReport } from "../../../plugin/playtest/inspecting-backend.js";
import type { Value } from "../../../plugin/types.js";
import type { PlaytestHostEvent, RunInfo } from "./playtest-api.js";

export type ConversationItem =
  | {
      kind: "line";
      nodeId: string;
      speaker: string;
      text: string;
      source: "authored" | "generated" | "fallback";
      done: boolean;
      timing?: LineTiming;
      /** The prompts of its generation attempts (generated lines only). */
      prompts: PromptReport[];
    }
  | { kind: "player"; nodeId: string; text: string }
  | { kind: "intent"; nodeId: string; intent: string | null; best: string; confidence: number; source: string }
  | { kind: "event"; nodeId: string; name: string };

export interface RunView {
  run: RunInfo | null;
  items: ConversationItem[];
  choices: OfferedChoice[] | null;
  input: { nodeId: string; prompt: string } | null;
  variables: Record<string, Value>;
  /** Variables changed since the player last spoke, for highlighting. */
  changed: string[];
  nodes: string[];
  ended: { reason: string; nodeId: string | null; error?: string } | null;
}

export const emptyRun: RunView = { run: null, items: [], choices: null, input: null, variables: {}, changed: [], nodes: [], ended: null };

/** The view after one event of the current run (events of other runs are ignored). */
export function foldRunEvent(view: RunView, event: PlaytestHostEvent): RunView {
  if (event.type === "run") return { ...emptyRun, run: event.run, variables: {} };
  if (event.type === "snapshot") {
    let folded: RunView = event.run ? { ...emptyRun, run: event.run } : emptyRun;
    for (const e of event.events) folded = foldRunEvent(folded, e);
    return folded;
  }
  if (event.type === "model") return view;
  if (!view.run || event.runId !== view.run.runId) return view;
  switch (event.type) {
    case "node":
      return { ...view, nodes: [...view.nodes, event.nodeId] };
    case "prompt":
      return updateLastLine(view, event.nodeId, (line) => ({ ...line, prompts: [...line.prompts, event.prompt] }));
    case "dialogue": {
      const e = event.event;
      switch (e.type) {
        case "started":
          return { ...view, variables: { ...e.variables } };
        case "line_started":
          return {
            ...view,
            items: [...view.items, { kind: "line", nodeId: e.nodeId, speaker: e.speaker, text: "", source: e.source, done: false, prompts: [] }],
          };
        case "text_chunk":
          return updateLastLine(view, e.nodeId, (line) => ({ ...line, text: line.text + e.text }));
        case "line_reset":
          return updateLastLine(view, e.nodeId, (line) => ({ ...line, text: "" }));
        case "line_complete":
          return updateLastLine(view, e.nodeId, (line) => ({ ...line, text: e.text, source: e.source, done: true, ...(e.timing ? { timing: e.timing } : {}) }));
        case "choices_offered":
          return { ...view, choices: e.choices };
        case "input_requested":
          return { ...view, input: { nodeId: e.nodeId, prompt: e.prompt } };
        case "player_line":
          return { ...view, choices: null, input: null, changed: [], items: [...view.items, { kind: "player", nodeId: e.nodeId, text: e.text }] };
        case "intent_chosen":
          return {
            ...view,
            items: [...view.items, { kind: "intent", nodeId: e.nodeId, intent: e.intent, best: e.best, confidence: e.confidence, source: e.source }],
          };
        case "variable_changed":
          return { ...view, variables: { ...view.variables, [e.name]: e.value }, changed: [...view.changed, e.name] };
        case "game_event":
          return { ...view, items: [...view.items, { kind: "event", nodeId: e.nodeId, name: e.name }] };
        case "ended":
          return { ...view, choices: null, input: null, ended: { reason: e.reason, nodeId: e.nodeId, ...(e.error ? { error: e.error } : {}) } };
      }
    }
  }
  return view;
}

function updateLastLine(view: RunView, nodeId: string, update: (line: Extract<ConversationItem, { kind: "line" }>) => ConversationItem): RunView {
  for (let i = view.items.length - 1; i >= 0; i--) {
    const item = view.items[i];
    if (item.kind === "line" && item.nodeId === nodeId) {
      const items = [...view.items];
      items[i] = update(item);
      return { ...view, items };
    }
  }
  return view;
}

/** Time to first token and milliseconds per token after it, of a generated line's timing. */
export function lineSpeed(timing: LineTiming): { ttftMs: number; msPerToken: number | null } {
  const decodeMs = timing.totalMs - timing.firstTokenMs;
  return { ttftMs: timing.firstTokenMs, msPerToken: timing.tokens > 1 && decodeMs > 0 ? decodeMs / (timing.tokens - 1) : null };
}
