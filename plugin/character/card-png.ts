// Character cards inside PNG images, as SillyTavern and the card sites store them: the card's JSON,
// base64-encoded, in a tEXt chunk with the keyword `chara` (Card V2) or `ccv3` (Card V3), anywhere before
// IEND. The chunk walking, CRCs and tEXt layout are png-chunks-extract / png-chunks-encode /
// png-chunk-text's (the libraries SillyTavern itself uses for this); this file only knows which chunks are
// cards and how their text is encoded.

import extractChunks from "png-chunks-extract";
import encodeChunks from "png-chunks-encode";
import { decode as decodeText, encode as encodeText } from "png-chunk-text";
import { CardFileError } from "./card-errors.js";

/** The tEXt keyword of Card V2 (and V1) data. */
export const CHARA_KEYWORD = "chara";
/** The tEXt keyword of Card V3 data; preferred over `chara` when a file has both. */
export const CCV3_KEYWORD = "ccv3";

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export interface PngChunk {
  name: string;
  data: Uint8Array;
}

/** A card's JSON text found in a PNG, and which chunk held it. */
export interface PngCardText {
  keyword: typeof CHARA_KEYWORD | typeof CCV3_KEYWORD;
  /** The decoded JSON text (UTF-8). */
  json: string;
}

export function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= PNG_SIGNATURE.length && PNG_SIGNATURE.every((b, i) => bytes[i] === b);
}

/** The PNG's chunks in file order; CardFileError CORRUPT_PNG when they cannot be walked. */
export function readPngChunks(bytes: Uint8Array): PngChunk[] {
  checkChunkLengths(bytes);
  try {
    return extractChunks(bytes);
  } catch (error) {
    throw new CardFileError("CORRUPT_PNG", `the PNG is damaged: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

/**
 * Refuses a chunk whose declared length runs past the end of the file before the library allocates a
 * buffer of that length: a hostile 4 GB length in a small file must not cost 4 GB of memory.
 */
function checkChunkLengths(bytes: Uint8Array): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = PNG_SIGNATURE.length; at + 8 <= bytes.length;) {
    const length = view.getUint32(at);
    const end = at + 12 + length; // length, type, data, CRC
    if (end > bytes.length)
      throw new CardFileError("CORRUPT_PNG", `the PNG is damaged: a chunk at byte ${at} claims ${length} bytes, past the end of the file`);
    if (bytes[at + 4] === 0x49 && bytes[at + 5] === 0x45 && bytes[at + 6] === 0x4e && bytes[at + 7] === 0x44) return; // IEND
    at = end;
  }
}

/**
 * The card texts of a PNG, `ccv3` first, then `chara` (keywords compared case-insensitively, as some tools
 * capitalise them). Each is decoded from base64; a chunk that is not base64 is reported as BAD_BASE64 only
 * when no other card chunk decodes. Throws NO_CARD_CHUNK when the image carries no card at all.
 */
export function cardTextsFromPng(bytes: Uint8Array): PngCardText[] {
  const found = new Map<string, string>();
  for (const chunk of readPngChunks(bytes)) {
    if (chunk.name !== "tEXt") continue;
    let keyword: string;
    let text: string;
    try {
      ({ keyword, text } = decodeText(chunk.data));
    } catch {
      continue; // a malformed tEXt chunk of some other tool is not this file's card
    }
    const key = keyword.toLowerCase();
    // The first chunk of a keyword wins, as in SillyTavern's reader.
    if ((key === CHARA_KEYWORD || key === CCV3_KEYWORD) && !found.has(key)) found.set(key, text);
  }
  if (found.size === 0) {
    throw new CardFileError(
      "NO_CARD_CHUNK",
      `this PNG has no character card in it (no "${CHARA_KEYWORD}" or "${CCV3_KEYWORD}" text chunk): it is a plain image`,
    );
  }
  const texts: PngCardText[] = [];
  let firstError: CardFileError | undefined;
  for (const keyword of [CCV3_KEYWORD, CHARA_KEYWORD] as const) {
    const text = found.get(keyword);
    if (text === undefined) continue;
    try {
      texts.push({ keyword, json: decodeBase64Utf8(text, keyword) });
    } catch (error) {
      if (!(error instanceof CardFileError)) throw error;
      firstError ??= error;
    }
  }
  if (texts.length === 0) throw firstError!;
  return texts;
}

/** A card to write into a PNG: the chunk's keyword and the card's JSON text. */
export interface PngCardChunk {
  keyword: typeof CHARA_KEYWORD | typeof CCV3_KEYWORD;
  json: string;
}

/**
 * `image` with each card in its own tEXt chunk (base64 of the JSON's UTF-8), in the order given, just
 * before IEND where SillyTavern puts them. Card chunks the image already had (`chara`, `ccv3`) are
 * removed, so the result carries exactly these cards.
 */
export function pngWithCards(image: Uint8Array, cards: readonly PngCardChunk[]): Uint8Array {
  if (!isPng(image)) throw new CardFileError("NOT_A_CARD_FILE", "the portrait is not a PNG image");
  const chunks = readPngChunks(image).filter((chunk) => !isCardChunk(chunk));
  const texts = cards.map((card) => encodeText(card.keyword, Buffer.from(card.json, "utf8").toString("base64")));
  chunks.splice(chunks.length - 1, 0, ...texts);
  return encodeChunks(chunks);
}

function isCardChunk(chunk: PngChunk): boolean {
  if (chunk.name !== "tEXt") return false;
  try {
    const key = decodeText(chunk.data).keyword.toLowerCase();
    return key === CHARA_KEYWORD || key === CCV3_KEYWORD;
  } catch {
    return false;
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const BASE64_URL = /^[A-Za-z0-9_-]*={0,2}$/;

/** Strict base64 (standard or URL alphabet, whitespace ignored) → UTF-8 text. */
function decodeBase64Utf8(text: string, keyword: string): string {
  const compact = text.replace(/\s+/g, "");
  const urlSafe = !BASE64.test(compact) && BASE64_URL.test(compact);
  if ((!BASE64.test(compact) && !urlSafe) || compact.replace(/=+$/, "").length % 4 === 1) {
    throw new CardFileError("BAD_BASE64", `the PNG's "${keyword}" chunk is not base64 text, so it holds no readable card`);
  }
  const bytes = Buffer.from(compact, urlSafe ? "base64url" : "base64");
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (error) {
    throw new CardFileError("BAD_JSON", `the PNG's "${keyword}" chunk does not decode to UTF-8 text`, { cause: error });
  }
}
