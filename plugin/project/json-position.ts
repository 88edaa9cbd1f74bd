// Turning a JSON syntax error into a line and column an author can jump to. JSON.parse says only that the
// text is not JSON (V8's messages name a position for some errors, not all); jsonc-parser — the scanner
// VS Code uses for JSON, run here in strict mode (no comments, no trailing commas) — names the offset and
// kind of the first error for every case.

import { parse as parseLenient, printParseErrorCode, type ParseError } from "jsonc-parser";
import { PluginValidationError } from "../errors.js";

export interface TextPosition {
  /** 0-based offset into the text, in UTF-16 code units (what JavaScript strings and editors index by). */
  offset: number;
  /** 1-based. */
  line: number;
  /** 1-based, in UTF-16 code units. */
  column: number;
}

/** Text that is not JSON: `line`/`column` point at the first character that cannot be valid. */
export class JsonSyntaxError extends PluginValidationError {
  readonly reason: string;
  readonly offset: number;
  readonly line: number;
  readonly column: number;
  constructor(subject: string, reason: string, position: TextPosition, options?: { cause?: unknown }) {
    super(subject, [{ path: "", message: `not valid JSON at line ${position.line}, column ${position.column}: ${reason}` }]);
    if (options?.cause !== undefined) this.cause = options.cause;
    this.reason = reason;
    this.offset = position.offset;
    this.line = position.line;
    this.column = position.column;
  }
}

/** JSON.parse, with a syntax error reported as a JsonSyntaxError carrying its line and column. */
export function parseJsonText(text: string, subject = "invalid JSON"): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    const found = firstJsonError(text);
    const position = positionAt(text, found?.offset ?? text.length);
    const reason = found ? describe(found) : error.message;
    throw new JsonSyntaxError(subject, reason, position, { cause: error });
  }
}

/** Where `text` first fails to be strict JSON; undefined when it is valid. */
export function jsonErrorPosition(text: string): TextPosition | undefined {
  const found = firstJsonError(text);
  if (found) return positionAt(text, found.offset);
  try {
    JSON.parse(text);
    return undefined;
  } catch {
    return positionAt(text, text.length); // a case the scanner allows and JSON.parse does not
  }
}

function firstJsonError(text: string): ParseError | undefined {
  const errors: ParseError[] = [];
  parseLenient(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  return errors.sort((a, b) => a.offset - b.offset)[0];
}

/** "CommaExpected" → "comma expected". */
function describe(error: ParseError): string {
  return printParseErrorCode(error.error)
    .replace(/([a-z])([A-Z])/g, "$1 $2")
    .toLowerCase();
}

/** The 1-based line and column of `offset`; `\r\n`, `\n` and a lone `\r` each end a line. */
export function positionAt(text: string, offset: number): TextPosition {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0a || (c === 0x0d && text.charCodeAt(i + 1) !== 0x0a)) {
      line++;
      lineStart = i + 1;
    }
  }
  return { offset, line, column: offset - lineStart + 1 };
}
