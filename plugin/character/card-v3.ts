// Character Card V3 export (https://github.com/kwaroran/character-card-spec-v3). A V3 card's data is a V2
// card's plus fields V2 lacks; card-v2.ts keeps those (assets, nickname, group_only_greetings, source…)
// verbatim from an imported card, so a V3 card is the V2 card under the V3 spec, with the fields V3
// requires filled in where the character never had them.

import type { Character } from "../types.js";
import { CARD_V3_SPEC } from "./card-shapes.js";
import { characterToCardV2, type CardV2Data, type CharacterBookEntry } from "./card-v2.js";

export const CARD_V3_VERSION = "3.0";

export interface CardV3 {
  spec: typeof CARD_V3_SPEC;
  spec_version: typeof CARD_V3_VERSION;
  data: CardV2Data & { group_only_greetings: string[] };
  [field: string]: unknown;
}

/** Writes a Parley character as a Character Card V3. */
export function characterToCardV3(character: Character): CardV3 {
  const { spec: _spec, spec_version: _version, data, ...outer } = characterToCardV2(character);
  const groupOnly = Array.isArray(data.group_only_greetings) ? (data.group_only_greetings as string[]) : [];
  const book = data.character_book;
  const v3Data: CardV3["data"] = { ...data, group_only_greetings: groupOnly };
  if (book) {
    // V3 entries say whether their keys are regular expressions; Parley's keywords are plain words.
    const entries: CharacterBookEntry[] = book.entries.map((e) => (typeof e.use_regex === "boolean" ? e : { ...e, use_regex: false }));
    v3Data.character_book = { ...book, entries };
  }
  return { spec: CARD_V3_SPEC, spec_version: CARD_V3_VERSION, data: v3Data, ...outer };
}
