// Semantics of the expression language: the function whitelist, static type checking against declared
// variable types, and evaluation. Values are only ever read through the context (`get`), so names like
// `constructor` or `process` are ordinary, undeclared variables: there is no path to JavaScript globals.

import { ExpressionError, nearest } from "../../errors.js";
import type { Value, VariableType } from "../../types.js";
import type { EffectStatement, Expr } from "./parser.js";

/** What a condition reads: variable values, their declared types, and the runner's seeded PRNG. */
export interface ConditionContext {
  get(name: string): Value;
  /** Declared type of every variable expressions may use; anything else is an unknown variable. */
  readonly types: Readonly<Record<string, VariableType>>;
  /** Uniform in [0, 1), from the runner's seeded generator (so runs replay exactly). */
  random(): number;
}

/** What the runner gives expressions; effects also store values (conditions never call `set`). */
export interface EvaluationContext extends ConditionContext {
  set(name: string, value: Value): void;
}

interface Builtin {
  /** Parameter types; `variadic` repeats the last one (at least `params.length` arguments). */
  params: readonly VariableType[];
  variadic?: boolean;
  returns: VariableType;
  call(args: Value[], ctx: ConditionContext): Value;
}

const num = (v: Value) => v as number;
const str = (v: Value) => v as string;

const BUILTINS: Readonly<Record<string, Builtin>> = {
  min: { params: ["number"], variadic: true, returns: "number", call: (a) => Math.min(...a.map(num)) },
  max: { params: ["number"], variadic: true, returns: "number", call: (a) => Math.max(...a.map(num)) },
  abs: { params: ["number"], returns: "number", call: ([x]) => Math.abs(num(x)) },
  floor: { params: ["number"], returns: "number", call: ([x]) => Math.floor(num(x)) },
  ceil: { params: ["number"], returns: "number", call: ([x]) => Math.ceil(num(x)) },
  round: { params: ["number"], returns: "number", call: ([x]) => Math.round(num(x)) },
  len: { params: ["string"], returns: "number", call: ([s]) => [...str(s)].length },
  contains: { params: ["string", "string"], returns: "bool", call: ([s, sub]) => str(s).includes(str(sub)) },
  lower: { params: ["string"], returns: "string", call: ([s]) => str(s).toLowerCase() },
  upper: { params: ["string"], returns: "string", call: ([s]) => str(s).toUpperCase() },
  random: { params: [], returns: "number", call: (_, ctx) => ctx.random() },
};

export const FUNCTION_NAMES: readonly string[] = Object.keys(BUILTINS);

export function typeOfValue(value: Value): VariableType {
  return typeof value === "boolean" ? "bool" : typeof value === "number" ? "number" : "string";
}

const article = (t: VariableType) => (t === "number" ? "a number" : t === "bool" ? "a bool" : "a string");

// ---------------------------------------------------------------------------------------------------
// Static checking

export class Checker {
  constructor(
    private readonly source: string,
    private readonly types: Readonly<Record<string, VariableType>>,
  ) {}

  private fail(reason: string, column: number, length: number): never {
    throw new ExpressionError(reason, this.source, column, length);
  }

  variable(name: string, column: number, length: number): VariableType {
    if (Object.hasOwn(this.types, name)) return this.types[name];
    const near = nearest(name, Object.keys(this.types));
    this.fail(`unknown variable "${name}"${near ? ` (did you mean "${near}"?)` : ""}`, column, length);
  }

  type(e: Expr): VariableType {
    switch (e.kind) {
      case "literal":
        return typeOfValue(e.value);
      case "variable":
        return this.variable(e.name, e.column, e.length);
      case "unary": {
        const t = this.type(e.operand);
        const want: VariableType = e.op === "!" ? "bool" : "number";
        if (t !== want) this.fail(`"${e.op === "!" ? "not" : "-"}" needs ${article(want)}, got ${article(t)}`, e.column, e.length);
        return want;
      }
      case "binary":
        return this.binary(e);
      case "call":
        return this.call(e);
    }
  }

  private binary(e: Extract<Expr, { kind: "binary" }>): VariableType {
    const l = this.type(e.left);
    const r = this.type(e.right);
    const mismatch = (need: string): never =>
      this.fail(`"${e.op}" ${need}; here the left side is ${article(l)} and the right side ${article(r)}`, e.opColumn, e.opLength);
    switch (e.op) {
      case "&&":
      case "||":
        if (l !== "bool" || r !== "bool") mismatch("needs bools on both sides");
        return "bool";
      case "==":
      case "!=":
        if (l !== r) mismatch("compares values of the same type");
        return "bool";
      case "<":
      case "<=":
      case ">":
      case ">=":
        if (l !== r || l === "bool") mismatch("compares two numbers or two strings");
        return "bool";
      case "+":
        if (l === "string" || r === "string") {
          if (l === "bool" || r === "bool") mismatch("joins strings with strings or numbers, not bools");
          return "string";
        }
        if (l !== "number" || r !== "number") mismatch("adds numbers or joins strings");
        return "number";
      default:
        if (l !== "number" || r !== "number") mismatch("needs numbers on both sides");
        return "number";
    }
  }

  private call(e: Extract<Expr, { kind: "call" }>): VariableType {
    if (!Object.hasOwn(BUILTINS, e.name)) {
      const near = nearest(e.name, FUNCTION_NAMES);
      this.fail(`unknown function "${e.name}"${near ? ` (did you mean "${near}"?)` : ""}; available: ${FUNCTION_NAMES.join(", ")}`, e.column, e.nameLength);
    }
    const f = BUILTINS[e.name];
    const n = f.params.length;
    if (f.variadic ? e.args.length < n : e.args.length !== n) {
      const want = f.variadic ? `at least ${n}` : String(n);
      this.fail(`${e.name}() takes ${want} argument${n === 1 && !f.variadic ? "" : "s"}, got ${e.args.length}`, e.column, e.length);
    }
    e.args.forEach((arg, i) => {
      const want = f.params[Math.min(i, n - 1)];
      const got = this.type(arg);
      if (got !== want) this.fail(`argument ${i + 1} of ${e.name}() must be ${article(want)}, got ${article(got)}`, arg.column, arg.length);
    });
    return f.returns;
  }

  effect(s: EffectStatement): void {
    const target = this.variable(s.target, s.targetColumn, s.target.length);
    const value = this.type(s.value);
    const at = [s.value.column, s.value.length] as const;
    switch (s.op) {
      case "=":
        if (value !== target) this.fail(`cannot assign ${article(value)} to ${s.target} (${article(target)} variable)`, ...at);
        return;
      case "+=":
        if (target === "number" && value !== "number") this.fail(`cannot add ${article(value)} to ${s.target} (a number variable)`, ...at);
        if (target === "string" && value === "bool") this.fail(`cannot append a bool to ${s.target} (a string variable)`, ...at);
        if (target === "bool") this.fail(`"+=" needs a number or string variable; ${s.target} is a bool`, s.opColumn, 2);
        return;
      case "-=":
        if (target !== "number") this.fail(`"-=" needs a number variable; ${s.target} is ${article(target)}`, s.opColumn, 2);
        if (value !== "number") this.fail(`cannot subtract ${article(value)} from ${s.target}`, ...at);
        return;
    }
  }
}

/** Names of the variables an expression reads, in order of first use. */
export function variablesOf(e: Expr, into: Set<string> = new Set()): Set<string> {
  switch (e.kind) {
    case "variable":
      into.add(e.name);
      break;
    case "unary":
      variablesOf(e.operand, into);
      break;
    case "binary":
      variablesOf(e.left, into);
      variablesOf(e.right, into);
      break;
    case "call":
      for (const arg of e.args) variablesOf(arg, into);
      break;
  }
  return into;
}

// ---------------------------------------------------------------------------------------------------
// Evaluation (after checking, so operand types are known to fit)

export class Evaluator {
  constructor(
    private readonly source: string,
    private readonly ctx: ConditionContext,
  ) {}

  private fail(reason: string, column: number, length: number, cause?: unknown): never {
    throw new ExpressionError(reason, this.source, column, length, cause === undefined ? undefined : { cause });
  }

  /** Runs a context callback; anything it throws comes out as an ExpressionError. */
  guard<T>(what: string, column: number, length: number, run: () => T): T {
    try {
      return run();
    } catch (error) {
      if (error instanceof ExpressionError) throw error;
      this.fail(`${what} failed: ${error instanceof Error ? error.message : String(error)}`, column, length, error);
    }
  }

  read(name: string, column: number, length: number): Value {
    const value = this.guard(`reading ${name}`, column, length, () => this.ctx.get(name));
    const declared = this.ctx.types[name];
    if (typeof value !== "boolean" && typeof value !== "string" && (typeof value !== "number" || !Number.isFinite(value))) {
      this.fail(`${name} holds ${String(value)}, which is not a bool, number or string`, column, length);
    }
    if (typeOfValue(value) !== declared) this.fail(`${name} is declared ${article(declared)} but holds ${article(typeOfValue(value))}`, column, length);
    return value;
  }

  private finite(n: number, column: number, length: number): number {
    if (!Number.isFinite(n)) this.fail("the result is not a finite number", column, length);
    return n;
  }

  value(e: Expr): Value {
    switch (e.kind) {
      case "literal":
        return e.value;
      case "variable":
        return this.read(e.name, e.column, e.length);
      case "unary": {
        const v = this.value(e.operand);
        return e.op === "!" ? !v : -(v as number);
      }
      case "call": {
        const args = e.args.map((arg) => this.value(arg));
        const result = this.guard(`${e.name}()`, e.column, e.nameLength, () => BUILTINS[e.name].call(args, this.ctx));
        if (e.name === "random" && !(typeof result === "number" && result >= 0 && result < 1)) {
          this.fail(`the context's random() returned ${String(result)}; it must return a number in [0, 1)`, e.column, e.length);
        }
        return result;
      }
      case "binary":
        return this.binary(e);
    }
  }

  private binary(e: Extract<Expr, { kind: "binary" }>): Value {
    if (e.op === "&&") return (this.value(e.left) as boolean) && (this.value(e.right) as boolean);
    if (e.op === "||") return (this.value(e.left) as boolean) || (this.value(e.right) as boolean);
    const l = this.value(e.left);
    const r = this.value(e.right);
    switch (e.op) {
      case "==":
        return l === r;
      case "!=":
        return l !== r;
      case "<":
        return l < r;
      case "<=":
        return l <= r;
      case ">":
        return l > r;
      case ">=":
        return l >= r;
      case "+":
        if (typeof l === "string" || typeof r === "string") return String(l) + String(r);
        return this.finite((l as number) + (r as number), e.opColumn, e.opLength);
      case "-":
        return this.finite((l as number) - (r as number), e.opColumn, e.opLength);
      case "*":
        return this.finite((l as number) * (r as number), e.opColumn, e.opLength);
      case "/":
      case "%":
        if (r === 0) this.fail("division by zero", e.opColumn, e.opLength);
        return this.finite(e.op === "/" ? (l as number) / (r as number) : (l as number) % (r as number), e.opColumn, e.opLength);
    }
  }

  /** The new value of the effect's target. */
  effect(s: EffectStatement): Value {
    const value = this.value(s.value);
    if (s.op === "=") return value;
    const current = this.read(s.target, s.targetColumn, s.target.length);
    if (typeof current === "string") return current + String(value);
    const n = s.op === "+=" ? (current as number) + (value as number) : (current as number) - (value as number);
    return this.finite(n, s.opColumn, 2);
  }
}
