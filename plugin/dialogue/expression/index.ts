// The condition/effect language of dialogue graphs: parsed and checked, never eval'd.
//
//   compileCondition("player.gold >= 10 && !met_smith").evaluate(ctx)   → boolean
//   compileEffect("player.gold -= price").apply(ctx)                     → sets player.gold
//
// Variables are declared with types (bool, number, string); names may have dots for namespaced game state.
// Operators: ! not - (unary), * / %, + - (+ also joins strings), < <= > >=, == !=, && and, || or.
// Functions: min max abs floor ceil round len contains lower upper random (the context's seeded PRNG).
// Every failure (syntax, type, unknown name, division by zero) is an ExpressionError with a column.

import { ExpressionError } from "../../errors.js";
import type { Value, VariableType } from "../../types.js";
import { Checker, Evaluator, type ConditionContext, type EvaluationContext, variablesOf } from "./evaluate.js";
import { KEYWORDS } from "./lexer.js";
import { parseEffect, parseExpression, type AssignOperator, type EffectStatement, type Expr } from "./parser.js";

export type { ConditionContext, EvaluationContext } from "./evaluate.js";
export { FUNCTION_NAMES } from "./evaluate.js";
export { KEYWORDS, tokenize, type Token, type TokenKind } from "./lexer.js";
export { parseEffect, parseExpression, type AssignOperator, type BinaryOperator, type EffectStatement, type Expr, type UnaryOperator } from "./parser.js";

export type VariableTypes = Readonly<Record<string, VariableType>>;

// Each compile function takes the declared variable types as an optional second argument: given, the
// source is type-checked at once; in any case it is checked against `ctx.types` before it first runs.

/** An expression of any type: `gold * 2`, `"Hello " + player.name`. */
export interface CompiledExpression {
  readonly source: string;
  readonly ast: Expr;
  /** Variables it reads, in order of first use. */
  readonly variables: readonly string[];
  /** Type-checks against declared variables; returns the expression's type. */
  check(types: VariableTypes): VariableType;
  evaluate(ctx: ConditionContext): Value;
}

export interface CompiledCondition {
  readonly source: string;
  readonly ast: Expr;
  readonly variables: readonly string[];
  /** Type-checks against declared variables (the condition must be a bool). */
  check(types: VariableTypes): void;
  evaluate(ctx: ConditionContext): boolean;
}

export interface CompiledEffect {
  readonly source: string;
  readonly statement: EffectStatement;
  /** The variable it sets. */
  readonly target: string;
  readonly op: AssignOperator;
  /** Variables it reads (the target too for += and -=). */
  readonly variables: readonly string[];
  check(types: VariableTypes): void;
  /** Computes and stores the new value (through `ctx.set`), and returns it. */
  apply(ctx: EvaluationContext): Value;
}

/** A variable name the language can refer to: `gold`, `player.gold`, `quest_2.stage` (not a keyword). */
export function isVariableName(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$/.test(name) && !KEYWORDS.has(name);
}

/** Runs `body`, turning anything but an ExpressionError (a stack overflow, a bug) into one. */
function contained<T>(source: string, body: () => T): T {
  try {
    return body();
  } catch (error) {
    if (error instanceof ExpressionError) throw error;
    throw new ExpressionError(`internal error: ${error instanceof Error ? error.message : String(error)}`, source, 1, source.length, { cause: error });
  }
}

/** Remembers which types objects an expression already passed checking against. */
function checkCache<T>(check: (types: VariableTypes) => T): (types: VariableTypes) => T {
  const passed = new WeakMap<object, T>();
  return (types) => {
    if (passed.has(types)) return passed.get(types)!;
    const result = check(types);
    passed.set(types, result);
    return result;
  };
}

export function compileExpression(source: string, types?: VariableTypes): CompiledExpression {
  return contained(source, () => {
    const ast = parseExpression(source);
    const check = checkCache((types) => contained(source, () => new Checker(source, types).type(ast)));
    if (types) check(types);
    return {
      source,
      ast,
      variables: [...variablesOf(ast)],
      check,
      evaluate: (ctx) =>
        contained(source, () => {
          check(ctx.types);
          return new Evaluator(source, ctx).value(ast);
        }),
    };
  });
}

export function compileCondition(source: string, types?: VariableTypes): CompiledCondition {
  return contained(source, () => {
    const expression = compileExpression(source);
    const check = checkCache((types) => {
      const type = expression.check(types);
      if (type !== "bool") {
        throw new ExpressionError(`a condition must be true or false, but this is ${type === "number" ? "a number" : "a string"}`, source, 1, source.length);
      }
    });
    if (types) check(types);
    return {
      source,
      ast: expression.ast,
      variables: expression.variables,
      check,
      evaluate: (ctx) => {
        check(ctx.types);
        return expression.evaluate(ctx) as boolean;
      },
    };
  });
}

export function compileEffect(source: string, types?: VariableTypes): CompiledEffect {
  return contained(source, () => {
    const statement = parseEffect(source);
    const check = checkCache((types) => contained(source, () => new Checker(source, types).effect(statement)));
    if (types) check(types);
    const reads = variablesOf(statement.value, new Set(statement.op === "=" ? [] : [statement.target]));
    return {
      source,
      statement,
      target: statement.target,
      op: statement.op,
      variables: [...reads],
      check,
      apply: (ctx) =>
        contained(source, () => {
          check(ctx.types);
          const evaluator = new Evaluator(source, ctx);
          const value = evaluator.effect(statement);
          evaluator.guard(`setting ${statement.target}`, statement.targetColumn, statement.target.length, () => ctx.set(statement.target, value));
          return value;
        }),
    };
  });
}
