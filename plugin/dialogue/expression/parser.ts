// Recursive-descent parser: conditions are expressions, effects are `name = expr`, `name += expr` or
// `name -= expr`. Precedence, loosest first: || / or, && / and, == !=, < <= > >=, + -, * / %, unary ! not -.

import { ExpressionError } from "../../errors.js";
import type { Value } from "../../types.js";
import { tokenize, type Token, type TokenKind } from "./lexer.js";

export type UnaryOperator = "!" | "-";
export type BinaryOperator = "||" | "&&" | "==" | "!=" | "<" | "<=" | ">" | ">=" | "+" | "-" | "*" | "/" | "%";
export type AssignOperator = "=" | "+=" | "-=";

/** Where a node sits in the source: 1-based column and length of the whole node. */
interface Span {
  column: number;
  length: number;
}

export type Expr =
  | (Span & { kind: "literal"; value: Value })
  | (Span & { kind: "variable"; name: string })
  | (Span & { kind: "unary"; op: UnaryOperator; operand: Expr })
  | (Span & { kind: "binary"; op: BinaryOperator; left: Expr; right: Expr; opColumn: number; opLength: number })
  | (Span & { kind: "call"; name: string; args: Expr[]; nameLength: number });

export interface EffectStatement {
  target: string;
  targetColumn: number;
  op: AssignOperator;
  opColumn: number;
  value: Expr;
}

/** Parentheses, unary operators and calls nested deeper than this are refused. */
export const MAX_NESTING = 64;

const LEVELS: readonly (readonly BinaryOperator[])[] = [["||"], ["&&"], ["==", "!="], ["<", "<=", ">", ">="], ["+", "-"], ["*", "/", "%"]];

class Parser {
  private readonly tokens: Token[];
  private index = 0;
  private depth = 0;

  constructor(readonly source: string) {
    this.tokens = tokenize(source);
  }

  private get current(): Token {
    return this.tokens[this.index];
  }

  private next(): Token {
    const token = this.tokens[this.index];
    if (token.kind !== "eof") this.index++;
    return token;
  }

  fail(reason: string, column: number, length = 1): never {
    throw new ExpressionError(reason, this.source, column, length);
  }

  private unexpected(expected: string): never {
    const t = this.current;
    if (t.kind === "eof") this.fail(`unexpected end of expression: expected ${expected}`, t.column);
    if (t.kind === "=") this.fail("use == to compare (= assigns, and only at the start of an effect)", t.column);
    if (t.kind === "+=" || t.kind === "-=") this.fail(`"${t.text}" can only follow the variable at the start of an effect`, t.column, t.length);
    this.fail(`expected ${expected}, found "${t.text}"`, t.column, t.length);
  }

  private expect(kind: TokenKind, expected: string): Token {
    if (this.current.kind !== kind) this.unexpected(expected);
    return this.next();
  }

  expectEnd(): void {
    if (this.current.kind !== "eof") this.unexpected("an operator or the end of the expression");
  }

  expression(level = 0): Expr {
    if (level === LEVELS.length) return this.unary();
    const ops = LEVELS[level];
    let left = this.expression(level + 1);
    while ((ops as readonly string[]).includes(this.current.kind)) {
      const op = this.next();
      const right = this.expression(level + 1);
      left = {
        kind: "binary",
        op: op.kind as BinaryOperator,
        left,
        right,
        opColumn: op.column,
        opLength: op.length,
        column: left.column,
        length: right.column + right.length - left.column,
      };
    }
    return left;
  }

  private nest<T>(at: Token, parse: () => T): T {
    if (++this.depth > MAX_NESTING) this.fail(`nested more than ${MAX_NESTING} levels deep`, at.column, at.length);
    try {
      return parse();
    } finally {
      this.depth--;
    }
  }

  private unary(): Expr {
    const t = this.current;
    if (t.kind === "!" || t.kind === "-") {
      this.next();
      const operand = this.nest(t, () => this.unary());
      return { kind: "unary", op: t.kind, operand, column: t.column, length: operand.column + operand.length - t.column };
    }
    return this.primary();
  }

  private primary(): Expr {
    const t = this.current;
    switch (t.kind) {
      case "number":
      case "string":
        this.next();
        return { kind: "literal", value: t.value!, column: t.column, length: t.length };
      case "true":
      case "false":
        this.next();
        return { kind: "literal", value: t.kind === "true", column: t.column, length: t.length };
      case "(": {
        this.next();
        const inner = this.nest(t, () => this.expression());
        const close = this.expect(")", `")" to close the "(" at column ${t.column}`);
        // The span grows to cover the parentheses; the node is otherwise the inner one.
        return { ...inner, column: t.column, length: close.column + 1 - t.column };
      }
      case "name": {
        this.next();
        if (this.current.kind !== "(") return { kind: "variable", name: t.text, column: t.column, length: t.length };
        this.next();
        const args: Expr[] = [];
        this.nest(t, () => {
          if (this.current.kind === ")") return;
          for (;;) {
            args.push(this.expression());
            if (this.current.kind !== ",") return;
            this.next();
          }
        });
        const close = this.expect(")", `"," or ")" in the call to ${t.text}()`);
        return { kind: "call", name: t.text, args, nameLength: t.length, column: t.column, length: close.column + 1 - t.column };
      }
      default:
        return this.unexpected('a value, a variable or "("');
    }
  }

  effect(): EffectStatement {
    const target = this.current;
    if (target.kind !== "name") {
      this.fail("an effect starts with the variable it sets, like `gold = gold - 10` or `met = true`", target.column, target.length);
    }
    this.next();
    const op = this.current;
    if (op.kind !== "=" && op.kind !== "+=" && op.kind !== "-=") {
      if (op.kind === "==") this.fail(`"==" compares; to set ${target.text} use "="`, op.column, op.length);
      this.unexpected(`"=", "+=" or "-=" after ${target.text}`);
    }
    this.next();
    const value = this.expression();
    this.expectEnd();
    return { target: target.text, targetColumn: target.column, op: op.kind, opColumn: op.column, value };
  }
}

/** Parses a condition (any expression; the checker requires it to be a bool). */
export function parseExpression(source: string): Expr {
  const parser = new Parser(source);
  if (source.trim() === "") parser.fail("empty expression", 1);
  const expr = parser.expression();
  parser.expectEnd();
  return expr;
}

/** Parses an effect: `name = expr`, `name += expr`, `name -= expr`. */
export function parseEffect(source: string): EffectStatement {
  const parser = new Parser(source);
  if (source.trim() === "") parser.fail("empty effect", 1);
  return parser.effect();
}
