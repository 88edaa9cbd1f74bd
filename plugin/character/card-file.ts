// Character card files, as writers bring them from other tools and take them back: JSON (`.json`), a PNG
// image with the card in a text chunk (card-png.ts), or a CHARX zip with a card.json (card-charx.ts).
// Reading tells them apart by signature, refuses files over a size limit before parsing anything, accepts
// the card shapes card-shapes.ts knows (V1, V2, V3), and maps the card with card-v2.ts. Writing produces a
// Card V2 or V3 as JSON, or a PNG portrait carrying the card as SillyTavern writes it.
//
//   const { character, source } = importCardFile(bytes);   // source: { format: "png", chunk: "ccv3", spec: "v3" }
//   const png = exportCardPng(character);                 // default portrait, `chara` (V2) and `ccv3` (V3) chunks

import type { Character } from "../types.js";
import { isJsonObject, PluginValidationError } from "../errors.js";
import { CardFileError } from "./card-errors.js";
import { cardJsonFromCharx, isZip, MAX_CARD_JSON_BYTES } from "./card-charx.js";
import { defaultPortraitPng } from "./card-portrait.js";
import { CCV3_KEYWORD, CHARA_KEYWORD, cardTextsFromPng, isPng, pngWithCards, type PngCardChunk, type PngCardText } from "./card-png.js";
import { cardAsV2, type CardSpec } from "./card-shapes.js";
import { characterFromCardV2, characterToCardV2, type CardImportOptions, type CardV2 } from "./card-v2.js";
import { characterToCardV3, type CardV3 } from "./card-v3.js";

/**
 * Largest card file read. Real PNG cards are avatars of a few megabytes at most, and CHARX files a card
 * with a few images; anything far larger is a mistake or hostile, and is refused before it is walked.
 */
export const MAX_CARD_FILE_BYTES = 20 * 1024 * 1024;

/**
 * Deepest nesting of objects and arrays a card may have. Real cards nest a handful of levels (an entry's
 * extensions inside a book inside the data); a hostile one nested thousands deep would overflow the stack
 * of every recursive walk after parsing (copying, validating, writing), so it is refused first.
 */
export const MAX_CARD_DEPTH = 100;

export interface CardFileSource {
  format: "png" | "json" | "charx";
  /** The PNG chunk the card came from. */
  chunk?: PngCardText["keyword"];
  /** The card's shape before it was read as V2. */
  spec: CardSpec;
}

export interface ReadCardOptions {
  /** Default MAX_CARD_FILE_BYTES. */
  maxBytes?: number;
}

/** Which card spec an export writes. */
export type CardExportSpec = "v2" | "v3";

/** A card file's JSON (not yet mapped to a character) and where it came from. Throws CardFileError. */
export function readCardFile(bytes: Uint8Array, options: ReadCardOptions = {}): { card: unknown; source: CardFileSource } {
  const maxBytes = options.maxBytes ?? MAX_CARD_FILE_BYTES;
  if (bytes.length > maxBytes) {
    throw new CardFileError("TOO_LARGE", `the card file is ${megabytes(bytes.length)}; card files are limited to ${megabytes(maxBytes)}`);
  }
  if (isPng(bytes)) {
    // ccv3 first: when both chunks are there the V3 card is the fuller one; a broken one gives way to the other.
    let firstError: CardFileError | undefined;
    for (const text of cardTextsFromPng(bytes)) {
      try {
        const shaped = cardAsV2(parseCardJson(text.json, `the PNG's "${text.keyword}" chunk`));
        return { card: shaped.card, source: { format: "png", chunk: text.keyword, spec: shaped.spec } };
      } catch (error) {
        if (!(error instanceof CardFileError)) throw error;
        firstError ??= error;
      }
    }
    throw firstError!;
  }
  if (isZip(bytes)) {
    const shaped = cardAsV2(parseCardJson(cardJsonFromCharx(bytes, Math.min(maxBytes, MAX_CARD_JSON_BYTES)), "the CHARX's card.json"));
    return { card: shaped.card, source: { format: "charx", spec: shaped.spec } };
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (error) {
    throw new CardFileError("NOT_A_CARD_FILE", "the file is neither a PNG image, a CHARX zip nor JSON text: character cards are .png, .charx or .json files", {
      cause: error,
    });
  }
  const trimmed = text.replace(/^\uFEFF/, "").trimStart();
  if (!trimmed.startsWith("{"))
    throw new CardFileError(
      "NOT_A_CARD_FILE",
      "the file is neither a PNG image, a CHARX zip nor a JSON object: character cards are .png, .charx or .json files",
    );
  const shaped = cardAsV2(parseCardJson(trimmed, "the file"));
  return { card: shaped.card, source: { format: "json", spec: shaped.spec } };
}

/**
 * A card file as a Parley character. Throws CardFileError: INVALID_CARD (with `issues`, each named by its
 * path in the card) when the card's fields do not make a character, another problem when the file holds
 * no readable card.
 */
export function importCardFile(bytes: Uint8Array, options: CardImportOptions & ReadCardOptions = {}): { character: Character; source: CardFileSource } {
  const { card, source } = readCardFile(bytes, options);
  try {
    return { character: characterFromCardV2(card, options.id === undefined ? {} : { id: options.id }), source };
  } catch (error) {
    if (!(error instanceof PluginValidationError)) throw error;
    throw new CardFileError("INVALID_CARD", error.message, { cause: error, issues: error.issues });
  }
}

/** The character as a card object of the given spec. */
export function characterToCard(character: Character, spec: CardExportSpec): CardV2 | CardV3 {
  return spec === "v3" ? characterToCardV3(character) : characterToCardV2(character);
}

/** The character as card JSON text (2-space indent, final newline); Card V2 unless `spec` says "v3". */
export function exportCardJson(character: Character, options: { spec?: CardExportSpec } = {}): string {
  return JSON.stringify(characterToCard(character, options.spec ?? "v2"), null, 2) + "\n";
}

/**
 * The character as a PNG card: `portrait` (default: a plain silhouette) with the Card V2 in a `chara`
 * chunk and, for spec "v3" (the default, as SillyTavern writes), the Card V3 in a `ccv3` chunk after it:
 * V2-only readers take `chara`, V3 readers prefer `ccv3`.
 */
export function exportCardPng(character: Character, options: { spec?: CardExportSpec; portrait?: Uint8Array } = {}): Uint8Array {
  const cards: PngCardChunk[] = [{ keyword: CHARA_KEYWORD, json: JSON.stringify(characterToCardV2(character)) }];
  if ((options.spec ?? "v3") === "v3") cards.push({ keyword: CCV3_KEYWORD, json: JSON.stringify(characterToCardV3(character)) });
  return pngWithCards(options.portrait ?? defaultPortraitPng(), cards);
}

/** A file name for the exported card: "brom.card.json", "brom.card.png". */
export function cardFileName(character: Pick<Character, "id">, format: "json" | "png"): string {
  return `${character.id}.card.${format}`;
}

function parseCardJson(text: string, where: string): unknown {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new CardFileError("BAD_JSON", `${where} is not valid JSON (${error instanceof Error ? error.message : String(error)})`, { cause: error });
  }
  if (!isJsonObject(json)) throw new CardFileError("BAD_JSON", `${where} holds JSON, but not a card object`);
  if (depthOver(json, MAX_CARD_DEPTH))
    throw new CardFileError("BAD_JSON", `${where} nests objects or arrays more than ${MAX_CARD_DEPTH} levels deep, which no card does`);
  return json;
}

/** Whether `value` nests deeper than `limit`, found without recursion (the point is not to overflow the stack). */
function depthOver(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (typeof item !== "object" || item === null) continue;
    if (depth > limit) return true;
    for (const child of Array.isArray(item) ? item : Object.values(item)) if (typeof child === "object" && child !== null) stack.push([child, depth + 1]);
  }
  return false;
}

function megabytes(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}
