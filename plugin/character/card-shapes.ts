// The shapes character cards come in, brought to the one shape card-v2.ts maps: a Card V2 object. Cards in
// the wild are looser than the spec, and a writer's card should import rather than be refused over a
// missing version string:
//   - V2 (`spec: "chara_card_v2"`) with or without `spec_version` (many tools omit it);
//   - V3 (`spec: "chara_card_v3"`): its data is V2's plus fields V2 lacks (assets, nickname,
//     group_only_greetings, source, creation dates…), which card-v2.ts keeps verbatim as unknown data fields;
//   - an object with `data` but no `spec`: read as V2;
//   - V1 (flat: `name`, `description`, `first_mes`… at the top, no `data`; some tools add a V2 or V3 `spec`
//     to such a card all the same): wrapped as V2 data;
//   - a book in the legacy place (`data.extensions.character_book`, where early exporters wrote it) is read
//     as the card's `character_book` when the card has none, so its entries become knowledge.

import { isJsonObject, type JsonObject } from "../errors.js";
import { CARD_V2_SPEC, CARD_V2_VERSION } from "./card-v2.js";

export const CARD_V3_SPEC = "chara_card_v3";

export type CardSpec = "v1" | "v2" | "v3";

/** Fields a V1 card has at its top level (the V2 spec's data fields minus those V2 added). */
const V1_FIELDS = ["name", "description", "personality", "scenario", "first_mes", "mes_example"];

/**
 * A parsed card as a Card V2 object (a new object; `json` is not changed), and which shape it was. Anything
 * that is not recognisably a card is returned as it is with spec "v2", so card-v2.ts reports its problems
 * with their paths.
 */
export function cardAsV2(json: unknown): { card: unknown; spec: CardSpec } {
  if (!isJsonObject(json)) return { card: json, spec: "v2" };
  const spec = json.spec;
  const known = spec === undefined || spec === CARD_V2_SPEC || spec === CARD_V3_SPEC;
  if (known && !isJsonObject(json.data) && V1_FIELDS.some((f) => Object.hasOwn(json, f))) {
    const data: JsonObject = {};
    const outer: JsonObject = {};
    for (const [key, value] of Object.entries(json)) (V1_FIELDS.includes(key) ? data : outer)[key] = value;
    // Flat fields V1 tools add (avatar, chat, create_date, talkativeness…) stay outside the data, where
    // card-v2.ts keeps unknown top-level fields for export.
    return { card: asV2({ ...outer, data }), spec: "v1" };
  }
  if (spec === CARD_V3_SPEC) return { card: asV2(json), spec: "v3" };
  if (spec === CARD_V2_SPEC || (spec === undefined && isJsonObject(json.data))) return { card: asV2(json), spec: "v2" };
  return { card: json, spec: "v2" };
}

function asV2(card: JsonObject): JsonObject {
  const out: JsonObject = { ...card, spec: CARD_V2_SPEC, spec_version: CARD_V2_VERSION };
  if (!isJsonObject(card.data)) return out;
  const data: JsonObject = { ...card.data };
  const extensions = data.extensions;
  if (!Object.hasOwn(data, "character_book") && isJsonObject(extensions) && isJsonObject(extensions.character_book)) {
    const { character_book: book, ...rest } = extensions;
    data.character_book = book;
    data.extensions = rest;
  }
  out.data = data;
  return out;
}
