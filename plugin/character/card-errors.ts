// Why a file could not be read as a character card. Each reason has its own code so a host can answer
// with the right status (a file too large is 413, everything else is the file's fault: 400) and a page can
// tell the writer what to do about it.

import { ParleyError } from "../../runtime/errors.js";

export type CardFileProblem =
  /** Larger than the size limit: refused before it is parsed. */
  | "TOO_LARGE"
  /** Neither a PNG (by its signature) nor JSON text. */
  | "NOT_A_CARD_FILE"
  /** A PNG whose chunks cannot be walked (truncated, bad CRC, no IHDR first). */
  | "CORRUPT_PNG"
  /** A valid PNG without a `chara` or `ccv3` text chunk: an image, not a card. */
  | "NO_CARD_CHUNK"
  /** The card chunk's text is not base64. */
  | "BAD_BASE64"
  /** The card's text is not UTF-8 JSON, or not a JSON object. */
  | "BAD_JSON";

export class CardFileError extends ParleyError {
  readonly problem: CardFileProblem;
  constructor(problem: CardFileProblem, message: string, options?: { cause?: unknown }) {
    super("INVALID_ARGUMENT", message, options);
    this.problem = problem;
  }
}
