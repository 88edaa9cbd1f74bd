// The dialogue store over a realistic conversation with the smith: authored greeting, a choice, free text
// with an intent, a generated reply the guardrails reset once, variables, game events, and the end.

import { describe, expect, it } from "vitest";
import type { DialogueEvent } from "../../plugin/events.js";
import { isLineEvent, isEvent, eventNodeId, tokensPerSecond } from "../../plugin/events.js";
import { createDialogueStore, initialDialogueData, isConversationActive, reduceDialogue, type DialogueData, type DialogueState } from "../../plugin/store.js";

const conversation: DialogueEvent[] = [
  {
    type: "started",
    conversationId: "c1",
    graphId: "smith_intro",
    characterId: "smith",
    npcName: "Brenna the Smith",
    variables: { gold: 30, met_smith: false, wish: "" },
  },
  { type: "line_started", nodeId: "greet", speaker: "smith", source: "authored" },
  { type: "text_chunk", nodeId: "greet", text: "Well met, lad." },
  { type: "line_complete", nodeId: "greet", speaker: "smith", text: "Well met, lad.", source: "authored", tags: ["wave"] },
  { type: "variable_changed", name: "met_smith", value: true, previous: false },
  {
    type: "choices_offered",
    nodeId: "ask",
    choices: [
      { index: 0, text: "I need a sword.", tags: [] },
      { index: 2, text: "Goodbye.", tags: ["leave"] },
    ],
  },
  { type: "player_line", nodeId: "ask", text: "I need a sword." },
  { type: "input_requested", nodeId: "what", prompt: "What kind of blade?" },
  { type: "player_line", nodeId: "what", text: "Something light, for a beginner" },
  {
    type: "intent_chosen",
    nodeId: "classify",
    intent: "buy_weapon",
    best: "buy_weapon",
    confidence: 0.9,
    source: "combined",
    probabilities: { buy_weapon: 0.9, leave: 0.1 },
    similarities: { buy_weapon: 0.7, leave: 0.1 },
    logProbs: { buy_weapon: -0.1, leave: -2.4 },
  },
  { type: "line_started", nodeId: "reply", speaker: "smith", source: "generated" },
  { type: "text_chunk", nodeId: "reply", text: "Light, eh? The old" },
  { type: "text_chunk", nodeId: "reply", text: " king's" },
  { type: "line_reset", nodeId: "reply" },
  { type: "text_chunk", nodeId: "reply", text: "A short sword" },
  { type: "text_chunk", nodeId: "reply", text: " suits you." },
  {
    type: "line_complete",
    nodeId: "reply",
    speaker: "smith",
    text: "A short sword suits you.",
    source: "generated",
    tags: [],
    timing: { firstTokenMs: 180, totalMs: 680, tokens: 11 },
  },
  { type: "variable_changed", name: "gold", value: 20, previous: 30 },
  { type: "game_event", nodeId: "sell", name: "give_item", args: { item: "short_sword" } },
  { type: "game_event", nodeId: "sell", name: "play_sound", args: { sound: "coins", volume: 0.5 } },
  { type: "line_started", nodeId: "bye", speaker: "smith", source: "fallback" },
  { type: "text_chunk", nodeId: "bye", text: "Off you go." },
  { type: "line_complete", nodeId: "bye", speaker: "smith", text: "Off you go.", source: "fallback", tags: [] },
  { type: "ended", nodeId: "end", reason: "end" },
];

/** The state after each event. */
function replay(events: DialogueEvent[], from: DialogueData = initialDialogueData()): DialogueData[] {
  const states: DialogueData[] = [];
  let state = from;
  for (const event of events) states.push((state = reduceDialogue(state, event)));
  return states;
}

describe("reduceDialogue", () => {
  const states = replay(conversation);
  const at = (i: number) => states[i];
  const last = states[states.length - 1];

  it("starts the conversation with its variables", () => {
    expect(at(0).conversation).toEqual({ id: "c1", graphId: "smith_intro", characterId: "smith", npcName: "Brenna the Smith" });
    expect(at(0).status).toBe("speaking");
    expect(at(0).variables).toEqual({ gold: 30, met_smith: false, wish: "" });
    expect(isConversationActive(at(0))).toBe(true);
  });

  it("streams the bubble, throws it away on line_reset, and takes the final text on line_complete", () => {
    expect(at(10).bubble).toBe(""); // line_started clears the previous line
    expect(at(10).line).toEqual({ nodeId: "reply", speaker: "smith", source: "generated", complete: false });
    expect(at(11).bubble).toBe("Light, eh? The old");
    expect(at(12).bubble).toBe("Light, eh? The old king's");
    expect(at(13).bubble).toBe("");
    expect(at(15).bubble).toBe("A short sword suits you.");
    expect(at(16).bubble).toBe("A short sword suits you.");
    expect(at(16).line?.complete).toBe(true);
  });

  it("offers choices, then asks for input, and clears both once the player has spoken", () => {
    expect(at(5).status).toBe("waiting_choice");
    expect(at(5).choices.map((c) => c.index)).toEqual([0, 2]);
    expect(at(6).status).toBe("speaking");
    expect(at(6).choices).toEqual([]);
    expect(at(7).status).toBe("waiting_input");
    expect(at(7).inputPrompt).toBe("What kind of blade?");
    expect(at(8).inputPrompt).toBeNull();
    expect(at(9).lastIntent).toEqual({
      nodeId: "classify",
      intent: "buy_weapon",
      confidence: 0.9,
      probabilities: { buy_weapon: 0.9, leave: 0.1 },
      logProbs: { buy_weapon: -0.1, leave: -2.4 },
    });
  });

  it("keeps a transcript of both sides", () => {
    expect(last.transcript.map((l) => [l.speaker, l.source, l.text])).toEqual([
      ["smith", "authored", "Well met, lad."],
      ["player", "player", "I need a sword."],
      ["player", "player", "Something light, for a beginner"],
      ["smith", "generated", "A short sword suits you."],
      ["smith", "fallback", "Off you go."],
    ]);
    expect(last.transcript[0].tags).toEqual(["wave"]);
  });

  it("mirrors variables and queues game events in order", () => {
    expect(last.variables).toEqual({ gold: 20, met_smith: true, wish: "" });
    expect(last.gameEvents).toEqual([
      { conversationId: "c1", nodeId: "sell", name: "give_item", args: { item: "short_sword" } },
      { conversationId: "c1", nodeId: "sell", name: "play_sound", args: { sound: "coins", volume: 0.5 } },
    ]);
  });

  it("records the last generated line's timings and counts lines by source", () => {
    expect(last.stats.firstTokenMs).toBe(180);
    expect(last.stats.tokensPerSecond).toBeCloseTo(20); // 10 tokens after the first in 500 ms
    expect(last.stats.lines).toEqual({ authored: 1, generated: 1, fallback: 1 });
  });

  it("ends keeping the complete last line for the UI to fade", () => {
    expect(last.status).toBe("ended");
    expect(last.endReason).toBe("end");
    expect(last.error).toBeNull();
    expect(last.bubble).toBe("Off you go.");
    expect(isConversationActive(last)).toBe(false);
  });

  it("drops a line cut off mid-stream when the conversation is cancelled or fails", () => {
    const cut = replay([
      conversation[0],
      { type: "line_started", nodeId: "greet", speaker: "smith", source: "generated" },
      { type: "text_chunk", nodeId: "greet", text: "Well, I nev" },
      { type: "ended", nodeId: "greet", reason: "error", error: "device lost" },
    ]).pop()!;
    expect(cut.bubble).toBe("");
    expect(cut.line).toBeNull();
    expect(cut.endReason).toBe("error");
    expect(cut.error).toBe("device lost");
  });

  it("ignores events outside a conversation and chunks for another line, returning the same state", () => {
    const idle = initialDialogueData();
    expect(reduceDialogue(idle, { type: "text_chunk", nodeId: "x", text: "hi" })).toBe(idle);
    expect(reduceDialogue(last, { type: "game_event", nodeId: "x", name: "late", args: {} })).toBe(last);
    const streaming = at(11);
    expect(reduceDialogue(streaming, { type: "text_chunk", nodeId: "greet", text: "stale" })).toBe(streaming);
    expect(reduceDialogue(at(16), { type: "text_chunk", nodeId: "reply", text: "after complete" })).toBe(at(16));
  });

  it("starts a new conversation afresh but keeps untaken game events and stats", () => {
    const next = reduceDialogue(last, { ...(conversation[0] as Extract<DialogueEvent, { type: "started" }>), conversationId: "c2" });
    expect(next.conversation?.id).toBe("c2");
    expect(next.transcript).toEqual([]);
    expect(next.bubble).toBe("");
    expect(next.endReason).toBeNull();
    expect(next.gameEvents).toHaveLength(2);
    expect(next.stats.firstTokenMs).toBe(180);
  });
});

describe("createDialogueStore", () => {
  it("applies events, notifies subscribers only on change, and hands over game events once", () => {
    const store = createDialogueStore();
    const bubbles: string[] = [];
    store.subscribe((s, prev) => {
      if (s.bubble !== prev.bubble) bubbles.push(s.bubble);
    });
    let notifications = 0;
    store.subscribe(() => notifications++);

    const { apply } = store.getState(); // usable as a bare callback
    store.getState().apply({ type: "text_chunk", nodeId: "none", text: "ignored" });
    expect(notifications).toBe(0);
    conversation.forEach(apply);

    expect(bubbles).toEqual([
      "Well met, lad.",
      "",
      "Light, eh? The old",
      "Light, eh? The old king's",
      "",
      "A short sword",
      "A short sword suits you.",
      "",
      "Off you go.",
    ]);
    const taken = store.getState().takeGameEvents();
    expect(taken.map((e) => e.name)).toEqual(["give_item", "play_sound"]);
    expect(store.getState().takeGameEvents()).toEqual([]);
    expect(store.getState().status).toBe("ended");

    store.getState().reset();
    const state: DialogueState = store.getState();
    expect(state.status).toBe("idle");
    expect(state.conversation).toBeNull();
    expect(state.stats.lines).toEqual({ authored: 0, generated: 0, fallback: 0 });
    expect(typeof state.apply).toBe("function");
  });
});

describe("event helpers", () => {
  it("classify and narrow events", () => {
    expect(conversation.filter(isLineEvent)).toHaveLength(13);
    const gameEvents = conversation.filter(isEvent("game_event"));
    expect(gameEvents.map((e) => e.args)).toEqual([{ item: "short_sword" }, { sound: "coins", volume: 0.5 }]);
    expect(eventNodeId(conversation[0])).toBeNull();
    expect(eventNodeId(conversation[1])).toBe("greet");
    expect(tokensPerSecond({ firstTokenMs: 100, totalMs: 100, tokens: 1 })).toBeNull();
  });
});
