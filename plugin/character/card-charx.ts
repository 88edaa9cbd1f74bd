// CHARX card files (Character Card V3's zip form): a zip archive with the card as `card.json` at its root
// and the card's assets (`embeded://…` URIs) beside it. Only card.json is read; the assets' list stays in
// the card's `assets` field, which card-v2.ts keeps.
//
// The zip work is fflate's (maintained, no dependencies, synchronous and streaming APIs, and already in the
// dependency tree). A zip is hostile input: its central directory may declare any sizes and any number of
// entries, and its deflate data may inflate far past what it declares. So the archive is read in two steps:
//   1. the central directory is walked (unzipSync with a filter that inflates nothing): entry count and
//      card.json's declared size are checked against limits before any data is inflated;
//   2. card.json alone is inflated with the streaming decoder, fed in small slices, counting what comes
//      out and stopping at the limit — memory and time stay bounded whatever the headers claim.

import { Unzip, UnzipInflate, UnzipPassThrough, unzipSync, type UnzipFile } from "fflate";
import { CardFileError } from "./card-errors.js";

/** The card's file inside a CHARX archive. */
export const CHARX_CARD_FILE = "card.json";
/** Most entries a CHARX may list: real ones hold a card and some images, not tens of thousands of files. */
export const MAX_CHARX_ENTRIES = 10_000;
/** Largest card.json read (declared or inflated); card JSON is text, a few hundred kilobytes at most. */
export const MAX_CARD_JSON_BYTES = 8 * 1024 * 1024;
/** Compressed bytes handed to the inflater at a time, which bounds what one step can inflate to. */
const FEED_BYTES = 16 * 1024;

const ZIP_SIGNATURE = [0x50, 0x4b, 0x03, 0x04];

/** A zip archive by its local file header signature (an empty zip has none, and holds no card anyway). */
export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= ZIP_SIGNATURE.length && ZIP_SIGNATURE.every((b, i) => bytes[i] === b);
}

/** card.json's text (UTF-8) from a CHARX archive; CardFileError CORRUPT_ZIP, NO_CARD_JSON, TOO_LARGE or BAD_JSON. */
export function cardJsonFromCharx(bytes: Uint8Array, maxJsonBytes = MAX_CARD_JSON_BYTES): string {
  checkDirectory(bytes, maxJsonBytes);
  const json = inflateCardJson(bytes, maxJsonBytes);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(json);
  } catch (error) {
    throw new CardFileError("BAD_JSON", `the CHARX's ${CHARX_CARD_FILE} is not UTF-8 text`, { cause: error });
  }
}

/** Step 1: the central directory's entries, with nothing inflated. */
function checkDirectory(bytes: Uint8Array, maxJsonBytes: number): void {
  let entries = 0;
  let card: { size: number; originalSize: number; compression: number } | undefined;
  try {
    unzipSync(bytes, {
      filter: (file) => {
        if (++entries > MAX_CHARX_ENTRIES)
          throw new CardFileError("CORRUPT_ZIP", `the CHARX lists more than ${MAX_CHARX_ENTRIES} files; a card archive holds a card and its images`);
        if (file.name === CHARX_CARD_FILE && !card) card = { size: file.size, originalSize: file.originalSize, compression: file.compression };
        return false;
      },
    });
  } catch (error) {
    if (error instanceof CardFileError) throw error;
    throw corrupt(error);
  }
  if (!card) throw new CardFileError("NO_CARD_JSON", `this zip has no ${CHARX_CARD_FILE} at its root, so it is not a CHARX character card`);
  if (card.compression !== 0 && card.compression !== 8) {
    throw new CardFileError(
      "CORRUPT_ZIP",
      `the CHARX's ${CHARX_CARD_FILE} uses compression method ${card.compression}; card files use deflate (8) or none (0)`,
    );
  }
  if (card.originalSize > maxJsonBytes) {
    throw new CardFileError(
      "TOO_LARGE",
      `the CHARX's ${CHARX_CARD_FILE} declares ${card.originalSize} bytes; a card's JSON is limited to ${maxJsonBytes} bytes`,
    );
  }
}

/** Step 2: card.json's bytes, inflated in bounded steps. */
function inflateCardJson(bytes: Uint8Array, maxJsonBytes: number): Uint8Array {
  const parts: Uint8Array[] = [];
  let total = 0;
  let found = false;
  let done = false;
  const unzip = new Unzip((file: UnzipFile) => {
    if (file.name !== CHARX_CARD_FILE || found) return;
    found = true;
    file.ondata = (error, chunk, final) => {
      if (error) throw error instanceof CardFileError ? error : corrupt(error);
      total += chunk.length;
      // Past the limit, whatever the headers said: a zip bomb. Stop before keeping any more of it.
      if (total > maxJsonBytes)
        throw new CardFileError("TOO_LARGE", `the CHARX's ${CHARX_CARD_FILE} inflates to more than ${maxJsonBytes} bytes; a card's JSON is limited to that`);
      parts.push(chunk);
      if (final) done = true;
    };
    file.start();
  });
  unzip.register(UnzipInflate);
  unzip.register(UnzipPassThrough);
  try {
    for (let at = 0; at < bytes.length && !done; at += FEED_BYTES) unzip.push(bytes.subarray(at, at + FEED_BYTES), at + FEED_BYTES >= bytes.length);
  } catch (error) {
    if (error instanceof CardFileError) throw error;
    throw corrupt(error);
  }
  if (!done) throw new CardFileError("CORRUPT_ZIP", `the CHARX's ${CHARX_CARD_FILE} cannot be read to its end: the archive is truncated or damaged`);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function corrupt(error: unknown): CardFileError {
  return new CardFileError("CORRUPT_ZIP", `the CHARX (zip) file is damaged: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}
