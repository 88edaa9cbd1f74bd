// The character form's token counts for the fields cards carry: each is counted like the other texts, and
// the scenario and the card's system prompt count in the persona prefix (they are in every prompt's prefix).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { countCharacterTokens, llama2Tokenizer } from "../../editor/host/character-tokens.js";

const guard = JSON.parse(readFileSync(new URL("../../samples/village/characters/guard.json", import.meta.url), "utf8")) as Record<string, unknown>;

describe("token counts of card fields", () => {
  it("counts scenario, system prompt, post-history instructions and each alternate greeting", () => {
    const card = {
      ...guard,
      scenario: "{{user}} reaches the north gate after curfew.",
      systemPrompt: "Write only {{char}}'s words.",
      postHistoryInstructions: "Stay brief.",
      alternateGreetings: ["Who goes there?", "Papers, {{user}}."],
    };
    const encode = (text: string) => llama2Tokenizer().encode(text, { addBos: false }).length;
    const counts = countCharacterTokens(card, 2048);
    expect(counts.fields.scenario).toBe(encode(card.scenario));
    expect(counts.fields.systemPrompt).toBe(encode(card.systemPrompt));
    expect(counts.fields.postHistoryInstructions).toBe(encode("Stay brief."));
    expect(counts.fields["alternateGreetings[0]"]).toBe(encode("Who goes there?"));
    expect(counts.fields["alternateGreetings[1]"]).toBe(encode("Papers, {{user}}."));

    const plain = countCharacterTokens(guard, 2048);
    expect(plain.fields.scenario).toBeUndefined(); // a file without the field has nothing to count
    expect(counts.persona! - plain.persona!).toBeGreaterThan(counts.fields.scenario + counts.fields.systemPrompt - 4);
  });
});
