// Tokens of the condition/effect language. Columns are 1-based; every error is an ExpressionError.

import { ExpressionError } from "../../errors.js";

export type TokenKind =
  | "number"
  | "string"
  | "name"
  | "true"
  | "false"
  | "+"
  | "-"
  | "*"
  | "/"
  | "%"
  | "<"
  | "<="
  | ">"
  | ">="
  | "=="
  | "!="
  | "!"
  | "&&"
  | "||"
  | "("
  | ")"
  | ","
  | "="
  | "+="
  | "-="
  | "eof";

export interface Token {
  kind: TokenKind;
  /** The source text (`and` for a `&&` token written as a word). */
  text: string;
  /** Decoded value of number and string literals. */
  value?: number | string;
  column: number;
  length: number;
}

/** Words with a meaning of their own; they cannot name variables. */
export const KEYWORDS: ReadonlySet<string> = new Set(["true", "false", "and", "or", "not"]);

const WORD_TOKENS: Record<string, TokenKind> = { true: "true", false: "false", and: "&&", or: "||", not: "!" };

// Longest first, so `<=` wins over `<`.
const OPERATORS: readonly TokenKind[] = ["<=", ">=", "==", "!=", "&&", "||", "+=", "-=", "+", "-", "*", "/", "%", "<", ">", "!", "(", ")", ",", "="];

const ESCAPES: Record<string, string> = { n: "\n", t: "\t", r: "\r", "\\": "\\", '"': '"', "'": "'" };

/** Source texts longer than this are refused (keeps parsing and evaluation shallow and fast). */
export const MAX_SOURCE_LENGTH = 2000;

export function tokenize(source: string): Token[] {
  if (source.length > MAX_SOURCE_LENGTH) {
    throw new ExpressionError(`expression is longer than ${MAX_SOURCE_LENGTH} characters`, source, MAX_SOURCE_LENGTH + 1);
  }
  const tokens: Token[] = [];
  let i = 0;
  const fail = (reason: string, at: number, length = 1): never => {
    throw new ExpressionError(reason, source, at + 1, length);
  };
  while (i < source.length) {
    const c = source[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const start = i;
    if (/[0-9]/.test(c) || (c === "." && /[0-9]/.test(source[i + 1] ?? ""))) {
      const m = /^(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)/.exec(source.slice(i))!;
      i += m[0].length;
      if (/[A-Za-z_.]/.test(source[i] ?? "")) fail(`malformed number "${source.slice(start, i + 1)}"`, start, i + 1 - start);
      tokens.push({ kind: "number", text: m[0], value: Number(m[0]), column: start + 1, length: m[0].length });
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(source.slice(i))!;
      const word = m[0];
      i += word.length;
      if (word.endsWith(".") || word.includes("..")) fail(`malformed name "${word}" (dots separate parts, like player.gold)`, start, word.length);
      const kind = Object.hasOwn(WORD_TOKENS, word) ? WORD_TOKENS[word] : "name";
      tokens.push({ kind, text: word, column: start + 1, length: word.length });
      continue;
    }
    if (c === '"' || c === "'") {
      let value = "";
      i++;
      for (;;) {
        if (i >= source.length) fail("unterminated string", start, source.length - start);
        const d = source[i];
        if (d === c) break;
        if (d === "\\") {
          const e = source[i + 1];
          if (e === undefined || !Object.hasOwn(ESCAPES, e)) fail(`unknown escape "\\${e ?? ""}" (use \\n \\t \\\\ \\" \\')`, i, 2);
          value += ESCAPES[e];
          i += 2;
        } else {
          value += d;
          i++;
        }
      }
      i++;
      tokens.push({ kind: "string", text: source.slice(start, i), value, column: start + 1, length: i - start });
      continue;
    }
    const op = OPERATORS.find((o) => source.startsWith(o, i));
    if (op) {
      i += op.length;
      tokens.push({ kind: op, text: op, column: start + 1, length: op.length });
      continue;
    }
    if (c === "&" || c === "|") fail(`unexpected "${c}" (did you mean "${c}${c}"?)`, start);
    fail(`unexpected character "${c}"`, start);
  }
  tokens.push({ kind: "eof", text: "", column: source.length + 1, length: 1 });
  return tokens;
}
