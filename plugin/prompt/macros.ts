// Character-card macros: `{{char}}` and `{{user}}` (any case, spaces allowed inside the braces) and the older
// `<BOT>`, `<CHAR>`, `<USER>` (any case), as SillyTavern-style tools write them in card texts. A character keeps
// them as written, so the same file works for every player; they are resolved only when a text is shown or
// prompted, with the NPC's name and the player's name as the game knows it at that moment.

import type { Character } from "../types.js";

/** What `{{user}}` becomes when the game has not given the player's name. */
export const DEFAULT_PLAYER_NAME = "the player";

export interface MacroNames {
  /** The NPC's name (`{{char}}`, `<BOT>`, `<CHAR>`). */
  char: string;
  /** The player's name (`{{user}}`, `<USER>`). */
  user: string;
}

/** The macros' pattern source, one group: "char"/"bot" or "user" (any case). Used alone or inside a larger pattern. */
export const MACRO_SOURCE = String.raw`\{\{\s*(char|user)\s*\}\}|<(bot|char|user)>`;
const MACRO = new RegExp(MACRO_SOURCE, "gi");

/** The name a macro match stands for; `groups` are the match's two macro groups. */
export function macroValue(groups: readonly (string | undefined)[], names: MacroNames): string {
  const which = (groups[0] ?? groups[1] ?? "").toLowerCase();
  return which === "user" ? names.user : names.char;
}

/** `text` with every macro replaced, in one pass (a name that itself looks like a macro is not expanded again). */
export function resolveMacros(text: string, names: MacroNames): string {
  if (!text.includes("{{") && !text.includes("<")) return text; // the common case: authored text without macros
  return text.replace(MACRO, (_whole, a: string | undefined, b: string | undefined) => macroValue([a, b], names));
}

/** Whether `text` holds a macro. */
export function hasMacros(text: string): boolean {
  return new RegExp(MACRO_SOURCE, "i").test(text);
}

/**
 * The character with the macros of every text the prompt or the guardrails read resolved (its name excepted:
 * `{{char}}` is the name). Returns the same object when there is nothing to resolve, so a character without
 * macros gives exactly the prompt it gave before.
 */
export function resolveCharacterMacros(character: Character, user: string): Character {
  // A character object built in code (not by parseCharacter) may predate the card fields: read as their defaults.
  character = withCardDefaults(character);
  const names: MacroNames = { char: character.name, user };
  const r = (text: string): string => resolveMacros(text, names);
  const rs = (texts: readonly string[]): string[] => texts.map(r);
  const resolved: Character = {
    ...character,
    role: r(character.role),
    description: r(character.description),
    scenario: r(character.scenario),
    personality: rs(character.personality),
    speakingStyle: { ...character.speakingStyle, description: r(character.speakingStyle.description) },
    knowledge: character.knowledge.map((k) => ({ ...k, keywords: rs(k.keywords), text: r(k.text) })),
    goals: rs(character.goals),
    secrets: character.secrets.map((s) => ({ text: r(s.text), leakPatterns: rs(s.leakPatterns) })),
    relationships: character.relationships.map((x) => ({ ...x, attitude: r(x.attitude), description: r(x.description) })),
    greeting: r(character.greeting),
    alternateGreetings: rs(character.alternateGreetings),
    examples: character.examples.map((e) => ({ player: r(e.player), npc: r(e.npc) })),
    systemPrompt: r(withoutOriginal(character.systemPrompt)),
    postHistoryInstructions: r(withoutOriginal(character.postHistoryInstructions)),
    mood: r(character.mood),
    fallbackLines: rs(character.fallbackLines),
  };
  return JSON.stringify(resolved) === JSON.stringify(character) ? character : resolved;
}

/**
 * The V2 spec's `{{original}}` in a card's system prompt or post-history instructions stands for the frontend's
 * own prompt there. Parley's own rules already come first, above the card's, so it stands for nothing here.
 */
function withoutOriginal(text: string): string {
  return text.includes("{{") ? text.replace(/\{\{\s*original\s*\}\}/gi, "") : text;
}

function withCardDefaults(c: Character): Character {
  const partial = c as Partial<Pick<Character, "scenario" | "systemPrompt" | "postHistoryInstructions" | "alternateGreetings">>;
  if (
    partial.scenario !== undefined &&
    partial.systemPrompt !== undefined &&
    partial.postHistoryInstructions !== undefined &&
    partial.alternateGreetings !== undefined
  )
    return c;
  return {
    ...c,
    scenario: partial.scenario ?? "",
    systemPrompt: partial.systemPrompt ?? "",
    postHistoryInstructions: partial.postHistoryInstructions ?? "",
    alternateGreetings: partial.alternateGreetings ?? [],
  };
}
