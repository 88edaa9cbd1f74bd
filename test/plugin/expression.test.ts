// The condition/effect language: precedence, types checked before running, errors with columns, no way
// out to JavaScript globals, seeded random().
import { describe, expect, it } from "vitest";
import { ExpressionError } from "../../plugin/errors.js";
import {
  compileCondition,
  compileEffect,
  compileExpression,
  isVariableName,
  type EvaluationContext,
  type VariableTypes,
} from "../../plugin/dialogue/expression/index.js";
import type { Value } from "../../plugin/types.js";

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TYPES: VariableTypes = {
  gold: "number",
  price: "number",
  met_smith: "bool",
  name: "string",
  "player.gold": "number",
  "player.name": "string",
  "quest.done": "bool",
};

function context(values: Record<string, Value> = {}, seed = 1): EvaluationContext & { values: Map<string, Value> } {
  const store = new Map<string, Value>(
    Object.entries({ gold: 25, price: 10, met_smith: false, name: "Brom", "player.gold": 7, "player.name": "Ada", "quest.done": true, ...values }),
  );
  const rng = mulberry32(seed);
  return {
    values: store,
    types: TYPES,
    get: (n) => store.get(n)!,
    set: (n, v) => void store.set(n, v),
    random: rng,
  };
}

const run = (src: string, values: Record<string, Value> = {}) => compileExpression(src, TYPES).evaluate(context(values));
const test = (src: string, values: Record<string, Value> = {}) => compileCondition(src, TYPES).evaluate(context(values));

/** The ExpressionError `body` throws. */
function error(body: () => unknown): ExpressionError {
  try {
    body();
  } catch (e) {
    expect(e).toBeInstanceOf(ExpressionError);
    return e as ExpressionError;
  }
  throw new Error("expected an ExpressionError");
}

describe("literals and operators", () => {
  it("reads numbers, strings with either quote and escapes, booleans", () => {
    expect(run("42")).toBe(42);
    expect(run("3.5")).toBe(3.5);
    expect(run(".5")).toBe(0.5);
    expect(run(`"a \\"b\\" c"`)).toBe('a "b" c');
    expect(run(`'it\\'s'`)).toBe("it's");
    expect(run(`"line\\nbreak"`)).toBe("line\nbreak");
    expect(run("true")).toBe(true);
    expect(run("false")).toBe(false);
  });

  it("follows precedence: unary, * / %, + -, comparisons, equality, and, or", () => {
    expect(run("1 + 2 * 3")).toBe(7);
    expect(run("(1 + 2) * 3")).toBe(9);
    expect(run("10 - 4 - 3")).toBe(3); // left-associative
    expect(run("20 / 2 / 5")).toBe(2);
    expect(run("7 % 4 * 2")).toBe(6);
    expect(run("-2 * 3")).toBe(-6);
    expect(run("- -2")).toBe(2);
    expect(run("1 + 2 < 4")).toBe(true);
    expect(run("1 < 2 == true")).toBe(true);
    expect(run("true || false && false")).toBe(true); // && binds tighter
    expect(run("(true || false) && false")).toBe(false);
    expect(run("!false && false")).toBe(false); // ! binds tighter than &&
    expect(run("not (1 > 2) and 2 >= 2 or false")).toBe(true);
    expect(run("gold >= price && !met_smith")).toBe(true);
  });

  it("+ joins strings (with numbers too), comparisons work on strings", () => {
    expect(run(`"Hello, " + player.name`)).toBe("Hello, Ada");
    expect(run(`"gold: " + gold`)).toBe("gold: 25");
    expect(run(`gold + " gold"`)).toBe("25 gold");
    expect(run(`"abc" < "abd"`)).toBe(true);
    expect(run(`name == "Brom"`)).toBe(true);
    expect(run(`name != 'Brom'`)).toBe(false);
  });

  it("short-circuits && and || (the right side is not evaluated)", () => {
    expect(test("false && 1 / 0 > 1")).toBe(false);
    expect(test("true || 1 / 0 > 1")).toBe(true);
  });

  it("reads dotted names as namespaced variables", () => {
    expect(run("player.gold + 1")).toBe(8);
    expect(test("quest.done")).toBe(true);
  });

  it("calls the whitelisted functions", () => {
    expect(run("min(3, 1, 2)")).toBe(1);
    expect(run("max(gold, price)")).toBe(25);
    expect(run("abs(-3)")).toBe(3);
    expect(run("floor(2.7) + ceil(2.1) + round(2.5)")).toBe(2 + 3 + 3);
    expect(run(`len("héllo")`)).toBe(5);
    expect(run(`contains(lower("The SWORD"), "sword")`)).toBe(true);
    expect(run(`upper(name)`)).toBe("BROM");
  });
});

describe("effects", () => {
  it("assigns, adds and subtracts through ctx.set", () => {
    const ctx = context();
    expect(compileEffect("gold = gold - price", TYPES).apply(ctx)).toBe(15);
    expect(ctx.values.get("gold")).toBe(15);
    compileEffect("gold += 5", TYPES).apply(ctx);
    compileEffect("player.gold -= 2", TYPES).apply(ctx);
    compileEffect("met_smith = true", TYPES).apply(ctx);
    compileEffect(`name += " the smith"`, TYPES).apply(ctx);
    expect(Object.fromEntries(ctx.values)).toMatchObject({ gold: 20, "player.gold": 5, met_smith: true, name: "Brom the smith" });
  });

  it("reports the target and what it reads", () => {
    const e = compileEffect("gold -= price * 2");
    expect(e.target).toBe("gold");
    expect(e.op).toBe("-=");
    expect(e.variables).toEqual(["gold", "price"]);
    expect(compileCondition("gold > price || met_smith").variables).toEqual(["gold", "price", "met_smith"]);
  });

  it("refuses effects that are not assignments", () => {
    expect(error(() => compileEffect("gold + 1")).reason).toMatch(/"=", "\+=" or "-=" after gold/);
    expect(error(() => compileEffect("5 = gold")).column).toBe(1);
    const eq = error(() => compileEffect("met_smith == true"));
    expect(eq.reason).toMatch(/to set met_smith use "="/);
    expect(eq.column).toBe(11);
  });
});

describe("static type checking", () => {
  const cases: [source: string, column: number, message: RegExp][] = [
    ["met_smith == 1", 11, /compares values of the same type.*bool.*number/],
    ["gold > true", 6, /two numbers or two strings/],
    ["gold && met_smith", 6, /needs bools on both sides/],
    ["!gold", 1, /"not" needs a bool, got a number/],
    ["-name == 1", 1, /"-" needs a number/],
    [`met_smith + "x" == "y"`, 11, /not bools/],
    ["golde > 1", 1, /unknown variable "golde" \(did you mean "gold"\?\)/],
    ["sqrt(gold) > 1", 1, /unknown function "sqrt"/],
    ["len(gold) > 1", 5, /argument 1 of len\(\) must be a string, got a number/],
    ["contains(name) ", 1, /contains\(\) takes 2 arguments, got 1/],
    ["random(6) > 1", 1, /random\(\) takes 0 arguments/],
    ["gold + 1", 1, /a condition must be true or false, but this is a number/],
  ];
  for (const [source, column, message] of cases) {
    it(`${source} → column ${column}`, () => {
      const e = error(() => compileCondition(source, TYPES));
      expect(e.reason).toMatch(message);
      expect(e.column).toBe(column);
      expect(e.source).toBe(source);
      expect(e.message).toContain(`at column ${column} of \`${source}\``);
      expect(e.code).toBe("INVALID_ARGUMENT");
    });
  }

  it("checks effects: assigning the wrong type, += on a bool, unknown target", () => {
    const wrong = error(() => compileEffect(`gold = "lots"`, TYPES));
    expect(wrong.reason).toBe("cannot assign a string to gold (a number variable)");
    expect(wrong.column).toBe(8);
    expect(wrong.length).toBe(6);
    expect(error(() => compileEffect("met_smith += 1", TYPES)).reason).toMatch(/"\+=" needs a number or string variable/);
    expect(error(() => compileEffect(`name -= 1`, TYPES)).reason).toMatch(/"-=" needs a number variable/);
    expect(error(() => compileEffect("gold += true", TYPES)).reason).toMatch(/cannot add a bool to gold/);
    const unknown = error(() => compileEffect("silver = 1", TYPES));
    expect(unknown.reason).toMatch(/unknown variable "silver"/);
    expect(unknown.column).toBe(1);
  });

  it("without types at compile time, checks against ctx.types before running", () => {
    const c = compileCondition("gold > price");
    expect(c.evaluate(context())).toBe(true);
    const bad = compileCondition("gold > name");
    expect(error(() => bad.evaluate(context())).reason).toMatch(/two numbers or two strings/);
  });
});

describe("syntax errors name the column", () => {
  const cases: [source: string, column: number, message: RegExp][] = [
    ["gold >", 7, /unexpected end of expression/],
    ["(gold > 1", 10, /"\)" to close the "\(" at column 1/],
    ["gold > 1)", 9, /expected an operator or the end.*"\)"/],
    ["gold = 1", 6, /use == to compare/],
    ["gold > 1 & met_smith", 10, /did you mean "&&"/],
    ["gold > 1 | met_smith", 10, /did you mean "\|\|"/],
    ['name == "Brom', 9, /unterminated string/],
    ['name == "\\q"', 10, /unknown escape/],
    ["gold > 1 # comment", 10, /unexpected character "#"/],
    ["player. > 1", 1, /malformed name/],
    ["12abc > 1", 1, /malformed number/],
    ["max(1,) > 0", 7, /expected a value/],
    ["", 1, /empty expression/],
    ["gold += 1", 6, /can only follow the variable at the start of an effect/],
  ];
  for (const [source, column, message] of cases) {
    it(JSON.stringify(source), () => {
      const e = error(() => compileCondition(source, TYPES));
      expect(e.reason).toMatch(message);
      expect(e.column).toBe(column);
    });
  }

  it("refuses nesting too deep and sources too long, with ExpressionError (no stack overflow)", () => {
    expect(error(() => compileCondition("(".repeat(500) + "true" + ")".repeat(500))).reason).toMatch(/nested more than 64/);
    expect(error(() => compileCondition("!".repeat(300) + "true")).reason).toMatch(/nested more than 64/);
    expect(error(() => compileCondition("1 + ".repeat(1000) + "1 > 0")).reason).toMatch(/longer than 2000/);
    // A long flat chain within the limit is fine.
    expect(test("1 + ".repeat(450) + "1 > 0")).toBe(true);
  });
});

describe("run-time errors", () => {
  it("division and remainder by zero", () => {
    const e = error(() => run("gold / (price - 10)"));
    expect(e.reason).toBe("division by zero");
    expect(e.column).toBe(6);
    expect(error(() => run("gold % 0")).reason).toBe("division by zero");
  });

  it("a value of the wrong type in the context", () => {
    const e = error(() => run("gold + 1", { gold: "many" }));
    expect(e.reason).toBe("gold is declared a number but holds a string");
    expect(e.column).toBe(1);
  });

  it("anything the context throws comes out as an ExpressionError", () => {
    const ctx = {
      ...context(),
      get: () => {
        throw new TypeError("boom");
      },
    };
    const e = error(() => compileCondition("gold > 1").evaluate(ctx));
    expect(e.reason).toBe("reading gold failed: boom");
    expect(e.cause).toBeInstanceOf(TypeError);
    const setter = {
      ...context(),
      set: () => {
        throw new Error("read-only");
      },
    };
    expect(error(() => compileEffect("gold = 1").apply(setter)).reason).toBe("setting gold failed: read-only");
    const badRandom = { ...context(), random: () => 1 };
    expect(error(() => compileExpression("random()").evaluate(badRandom)).reason).toMatch(/must return a number in \[0, 1\)/);
  });

  it("non-finite results", () => {
    expect(error(() => run("gold * gold", { gold: 1e200 })).reason).toMatch(/not a finite number/);
  });
});

describe("no access to JavaScript", () => {
  for (const name of ["constructor", "__proto__", "process", "globalThis", "toString", "hasOwnProperty", "eval", "Function"]) {
    it(`${name} is just an unknown variable`, () => {
      const e = error(() => compileCondition(`${name} == 1`, TYPES));
      expect(e.reason).toMatch(new RegExp(`^unknown variable "${name}"`));
    });
  }

  it("member-like names are variable names, and calls are only the whitelist", () => {
    expect(error(() => compileCondition("constructor.constructor == 1", TYPES)).reason).toMatch(/unknown variable "constructor.constructor"/);
    expect(error(() => compileCondition(`eval("1") == 1`, TYPES)).reason).toMatch(/unknown function "eval"/);
    expect(error(() => compileCondition(`name.constructor("x") == 1`, TYPES)).reason).toMatch(/unknown function/);
    expect(error(() => compileCondition(`toString() == "x"`, TYPES)).reason).toMatch(/unknown function "toString"/);
    // Even a context whose types object inherits names does not make them variables.
    const inherited = Object.create({ constructor: "number" }) as VariableTypes;
    expect(error(() => compileCondition("constructor > 1", inherited)).reason).toMatch(/unknown variable/);
  });

  it("only declared names count as variables", () => {
    expect(isVariableName("player.gold")).toBe(true);
    expect(isVariableName("and")).toBe(false);
    expect(isVariableName("a..b")).toBe(false);
    expect(isVariableName("9lives")).toBe(false);
  });
});

describe("random()", () => {
  it("uses the context's seeded generator: same seed, same values", () => {
    const roll = compileExpression("floor(random() * 6) + 1", TYPES);
    const rolls = (seed: number) => {
      const ctx = context({}, seed);
      return Array.from({ length: 20 }, () => roll.evaluate(ctx));
    };
    expect(rolls(7)).toEqual(rolls(7));
    expect(rolls(7)).not.toEqual(rolls(8));
    for (const r of rolls(3)) expect(r).toSatisfy((n: unknown) => typeof n === "number" && n >= 1 && n <= 6 && Number.isInteger(n));
  });
});
