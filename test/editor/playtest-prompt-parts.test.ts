// The prompt builder's parts, which the Playtest panel's inspector counts: each part is the text that is in the
// messages — the persona prefix, mood, triggered lore, memory (summary and remembered turns), this
// conversation's turns, the player's line and the instruction — and turns dropped for the budget leave their part.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseCharacter } from "../../plugin/character/validate.js";
import { FallbackBackend } from "../../plugin/local-backend.js";
import { buildPrompt } from "../../plugin/prompt/prompt-builder.js";
import { reportParts } from "../../plugin/playtest/inspecting-backend.js";

const brom = parseCharacter(JSON.parse(readFileSync(new URL("../../samples/village/characters/blacksmith.json", import.meta.url), "utf8")));

describe("prompt parts", () => {
  const input = {
    character: brom,
    graphInstruction: "Answer the player.",
    memory: { summary: "The player bought a sword last week.", turns: [{ speaker: "player" as const, text: "Thanks for the blade." }] },
    recentTurns: [
      { speaker: "npc" as const, text: "What'll it be?" },
      { speaker: "player" as const, text: "Just browsing." },
    ],
    playerText: "Is the ore shipment late?",
    replyTokens: 64,
  };

  it("names each part as it stands in the messages", () => {
    const prompt = buildPrompt({ ...input, backend: new FallbackBackend({ contextSize: 2048 }) });
    const { parts, messages } = prompt;
    expect(parts.persona).toBe(prompt.personaPrefix);
    expect(parts.mood).toBe("Current mood: busy.");
    expect(parts.lore).toMatch(/^Relevant knowledge:\n- The iron shipment from the Karsk mine/);
    expect(parts.memory).toEqual(["What you remember from before: The player bought a sword last week.", "Thanks for the blade."]);
    expect(parts.history).toEqual(["What'll it be?", "Just browsing."]);
    expect(parts.player).toBe("Is the ore shipment late?");
    expect(parts.instruction).toBe(messages.at(-1)!.content);
    expect(messages[0].content).toBe([parts.persona + parts.mood, parts.lore, parts.memory[0]].join("\n"));
    expect(messages.slice(1, -1).map((m) => m.content)).toEqual([...parts.memory.slice(1), ...parts.history, parts.player]);

    const counted = reportParts(parts, (text) => text.length);
    expect(counted.map((p) => p.part)).toEqual(["persona", "mood", "lore", "memory", "history", "player", "instruction"]);
    expect(counted.find((p) => p.part === "history")!.tokens).toBe("What'll it be?".length + "Just browsing.".length);
  });

  it("leaves out what the budget dropped", () => {
    // Words that bring in no lore, and a context just too small for everything: the oldest turns (the remembered one first) go.
    const plain = { ...input, playerText: "Are you busy today?" };
    const full = buildPrompt({ ...plain, backend: new FallbackBackend({ contextSize: 2048 }) });
    const tight = buildPrompt({ ...plain, backend: new FallbackBackend({ contextSize: full.tokenCount + 64 - 2 }) });
    expect(tight.dropped.turns).toBeGreaterThan(0);
    expect(tight.parts.memory).not.toContain("Thanks for the blade.");
    expect(tight.messages.slice(1, -1).map((m) => m.content)).toEqual([...tight.parts.memory.slice(1), ...tight.parts.history, tight.parts.player]);
  });
});
