// Why a file could not be read as a character card. Each reason has its own code so a host can answer
// with the right status (a file too large is 413, everything else is the file's fault: 400) and a page can
// tell the writer what to do about it.

import { ParleyError } from "../../runtime/index.js";
import type { ValidationIssue } from "../errors.js";

export type CardFileProblem =
  /** Larger than the size limit (the file, or what a zip entry declares it inflates to): refused unread. */
  | "TOO_LARGE"
  /** Neither a PNG, a CHARX zip (by their signatures) nor JSON text. */
  | "NOT_A_CARD_FILE"
  /** A PNG whose chunks cannot be walked (truncated, bad CRC, no IHDR first). */
  | "CORRUPT_PNG"
  /** A valid PNG without a `chara` or `ccv3` text chunk: an image, not a card. */
  | "NO_CARD_CHUNK"
  /** The card chunk's text is not base64. */
  | "BAD_BASE64"
  /** The card's text is not UTF-8 JSON, not a JSON object, or nested deeper than any card. */
  | "BAD_JSON"
  /** A CHARX file whose zip structure cannot be read (truncated, damaged, an unknown compression). */
  | "CORRUPT_ZIP"
  /** A readable zip with no `card.json` at its root. */
  | "NO_CARD_JSON"
  /** A card object whose fields cannot make a character (no name, wrong types): `issues` names each field. */
  | "INVALID_CARD";

export class CardFileError extends ParleyError {
  readonly problem: CardFileProblem;
  /** For INVALID_CARD: every problem, with its path in the card ("data.character_book.entries[3].keys"). */
  readonly issues: readonly ValidationIssue[];
  constructor(problem: CardFileProblem, message: string, options?: { cause?: unknown; issues?: readonly ValidationIssue[] }) {
    super("INVALID_ARGUMENT", message, options);
    this.problem = problem;
    this.issues = options?.issues ?? [];
  }
}
