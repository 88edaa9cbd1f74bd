// Character card files, as writers bring them from other tools and take them back: JSON (`.json`) or a
// PNG image with the card in a text chunk (card-png.ts). Reading tells the two apart by the PNG signature,
// refuses files over a size limit before parsing anything, accepts the card shapes card-shapes.ts knows,
// and maps the card with card-v2.ts. Writing produces a Card V2 as JSON, or inside a PNG portrait.
//
//   const { character, source } = importCardFile(bytes);   // source: { format: "png", chunk: "ccv3", spec: "v3" }
//   const png = exportCardPng(character);                 // default portrait with a `chara` chunk

import type { Character } from "../types.js";
import { isJsonObject } from "../errors.js";
import { CardFileError } from "./card-errors.js";
import { defaultPortraitPng } from "./card-portrait.js";
import { cardTextsFromPng, isPng, pngWithCard, type PngCardText } from "./card-png.js";
import { cardAsV2, type CardSpec } from "./card-shapes.js";
import { characterFromCardV2, characterToCardV2, type CardExportOptions, type CardImportOptions, type CardV2 } from "./card-v2.js";

/**
 * Largest card file read. Real PNG cards are avatars of a few megabytes at most; anything far larger is
 * a mistake or hostile, and is refused before its chunks are walked or its JSON parsed.
 */
export const MAX_CARD_FILE_BYTES = 20 * 1024 * 1024;

export interface CardFileSource {
  format: "png" | "json";
  /** The PNG chunk the card came from. */
  chunk?: PngCardText["keyword"];
  /** The card's shape before it was read as V2. */
  spec: CardSpec;
}

export interface ReadCardOptions {
  /** Default MAX_CARD_FILE_BYTES. */
  maxBytes?: number;
}

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
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (error) {
    throw new CardFileError("NOT_A_CARD_FILE", "the file is neither a PNG image nor JSON text: character cards are .png or .json files", { cause: error });
  }
  const trimmed = text.replace(/^\uFEFF/, "").trimStart();
  if (!trimmed.startsWith("{")) throw new CardFileError("NOT_A_CARD_FILE", "the file is neither a PNG image nor a JSON object: character cards are .png or .json files");
  const card = parseCardJson(trimmed, "the file");
  const shaped = cardAsV2(card);
  return { card: shaped.card, source: { format: "json", spec: shaped.spec } };
}

/**
 * A card file as a Parley character (validated: PluginValidationError names the card's fields that do
 * not make one). Throws CardFileError when the file holds no readable card.
 */
export function importCardFile(bytes: Uint8Array, options: CardImportOptions & ReadCardOptions = {}): { character: Character; source: CardFileSource } {
  const { card, source } = readCardFile(bytes, options);
  return { character: characterFromCardV2(card, options), source };
}

/** The character as Card V2 JSON text (2-space indent, final newline). */
export function exportCardJson(character: Character, options: CardExportOptions = {}): string {
  return JSON.stringify(characterToCardV2(character, options), null, 2) + "\n";
}

/** The character as a Card V2 PNG: `portrait` (default: a plain silhouette) with the card in a `chara` chunk. */
export function exportCardPng(character: Character, options: CardExportOptions & { portrait?: Uint8Array } = {}): Uint8Array {
  const card: CardV2 = characterToCardV2(character, options);
  return pngWithCard(options.portrait ?? defaultPortraitPng(), JSON.stringify(card));
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
  return json;
}

function megabytes(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}
