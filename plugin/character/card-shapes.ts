// The shapes character cards come in, brought to the one shape card-v2.ts maps: a Card V2 object. Cards in
// the wild are looser than the spec, and a writer's card should import rather than be refused over a
// missing version string:
//   - V2 (`spec: "chara_card_v2"`) with or without `spec_version` (many tools omit it);
//   - V3 (`spec: "chara_card_v3"`, any spec_version): its data is V2's plus fields V2 lacks (assets,
//     nickname, group_only_greetings, source, creation dates…), which card-v2.ts keeps verbatim, less
//     the values V3 export writes by default;
//   - an object with `data` but no `spec`: read as V2;
//   - V1 (flat: `name`, `description`, `first_mes`… at the top, no `data`; some tools add a V2 or V3 `spec`
//     to such a card all the same): wrapped as V2 data;
//   - a book in the legacy place (`data.extensions.character_book`, where early exporters wrote it) is read
//     as the card's `character_book` when the card has none, so its entries become knowledge.

import { isJsonObject, type JsonObject } from "../errors.js";
import { CARD_V2_SPEC, CARD_V2_VERSION, V1_FIELDS as V1_FIELD_NAMES } from "./card-v2.js";

export const CARD_V3_SPEC = "chara_card_v3";

export type CardSpec = "v1" | "v2" | "v3";

const V1_FIELDS: readonly string[] = V1_FIELD_NAMES;

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
  if (spec === CARD_V3_SPEC) return { card: withoutV3Defaults(asV2(json)), spec: "v3" };
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

/**
 * A V3 card's data without the values V3 requires and V3 export writes back anyway (an empty
 * group_only_greetings, `use_regex: false` on book entries): kept, they would make every character that
 * went out and back as V3 differ from the one it was.
 */
function withoutV3Defaults(card: JsonObject): JsonObject {
  if (!isJsonObject(card.data)) return card;
  const data: JsonObject = { ...card.data };
  if (Array.isArray(data.group_only_greetings) && data.group_only_greetings.length === 0) delete data.group_only_greetings;
  const book = data.character_book;
  if (isJsonObject(book) && Array.isArray(book.entries)) {
    const entries = book.entries.map((entry: unknown) => {
      if (!isJsonObject(entry) || entry.use_regex !== false) return entry;
      const { use_regex: _plain, ...rest } = entry;
      return rest;
    });
    data.character_book = { ...book, entries };
  }
  return { ...card, data };
}
