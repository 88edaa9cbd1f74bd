// Typed errors of the dialogue plugin, and the small document reader the validators share (it collects
// every problem with its JSON path, so an author sees all of them at once, not one per load).

// Bundled into the editor page: the errors module alone (runtime/index.js loads Node modules).
import { ParleyError } from "../runtime/errors.js";

/** One problem in a document: `path` is a JSON path like `nodes.greet.next` or `knowledge[2].text`. */
export interface ValidationIssue {
  path: string;
  message: string;
}

/** A character, card or dialogue document is malformed; `issues` lists every problem found. */
export class PluginValidationError extends ParleyError {
  readonly issues: readonly ValidationIssue[];
  constructor(subject: string, issues: readonly ValidationIssue[]) {
    super("INVALID_ARGUMENT", formatIssues(subject, issues));
    this.issues = issues;
  }
}

export function formatIssues(subject: string, issues: readonly ValidationIssue[]): string {
  const head = `${subject}: ${issues.length} problem${issues.length === 1 ? "" : "s"}`;
  return [head, ...issues.map((i) => `  - ${i.path || "(document)"}: ${i.message}`)].join("\n");
}

/**
 * A condition or effect that does not parse or type-check, or fails while running (division by zero).
 * `column` is 1-based into `source`; `length` is how many characters the problem spans (for underlining).
 */
export class ExpressionError extends ParleyError {
  readonly source: string;
  readonly column: number;
  readonly length: number;
  /** The message without the position and source text. */
  readonly reason: string;
  constructor(reason: string, source: string, column: number, length = 1, options?: { cause?: unknown }) {
    super("INVALID_ARGUMENT", `${reason} at column ${column} of \`${source}\``, options);
    this.source = source;
    this.column = column;
    this.length = Math.max(1, length);
    this.reason = reason;
  }
}

// ---------------------------------------------------------------------------------------------------
// Document reading with path-named issues

export type JsonObject = Record<string, unknown>;

/** `a` + `b` → `a.b`; `a` + 2 → `a[2]`; keys that are not plain identifiers are quoted: `variables["x y"]`. */
export function joinPath(base: string, key: string | number): string {
  if (typeof key === "number") return `${base}[${key}]`;
  if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)) return `${base}[${JSON.stringify(key)}]`;
  return base ? `${base}.${key}` : key;
}

export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  if (typeof value === "string") return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 37) + "..." : value)}`;
  if (typeof value === "number" || typeof value === "boolean") return `${typeof value} ${String(value)}`;
  return typeof value;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

interface StringOptions {
  default?: string;
  nonEmpty?: boolean;
  pattern?: RegExp;
  /** Said when `pattern` fails: "lowercase letters, digits, _ and -". */
  patternHint?: string;
}

interface NumberOptions {
  default?: number;
  integer?: boolean;
  min?: number;
  max?: number;
}

/**
 * Reads fields out of parsed JSON, recording an issue (with its path) for each problem and returning a
 * placeholder so reading can go on; `throwIfAny` then throws one PluginValidationError listing them all.
 * A field with a `default` is optional; without one it is required.
 */
export class DocumentReader {
  readonly issues: ValidationIssue[] = [];

  add(path: string, message: string): void {
    this.issues.push({ path, message });
  }

  throwIfAny(subject: string): void {
    if (this.issues.length > 0) throw new PluginValidationError(subject, this.issues);
  }

  /**
   * Checks a document's `schema` field against the one this Parley reads. Another schema throws at once (with
   * `subject`): another version has another shape, and listing its fields as unknown would only bury the real problem.
   */
  checkSchema(doc: JsonObject, expected: string, kind: string, subject: string): void {
    if (doc.schema === undefined) this.add("schema", `required: "${expected}"`);
    else if (doc.schema !== expected) {
      this.add("schema", `unsupported ${kind} schema ${JSON.stringify(doc.schema)} (this Parley reads ${expected})`);
      this.throwIfAny(subject);
    }
  }

  /** `value` as a JSON object, or undefined (with an issue) when it is not one. */
  object(value: unknown, path: string): JsonObject | undefined {
    if (isJsonObject(value)) return value;
    this.add(path, `must be an object, got ${describeValue(value)}`);
    return undefined;
  }

  /** Reports every field of `obj` not in `known`, suggesting the nearest known name for typos. */
  knownFields(obj: JsonObject, path: string, known: readonly string[]): void {
    for (const key of Object.keys(obj)) {
      if (known.includes(key)) continue;
      const near = nearest(key, known);
      this.add(joinPath(path, key), `unknown field${near ? ` (did you mean "${near}"?)` : ""}; allowed: ${known.join(", ")}`);
    }
  }

  /** The field's value, or undefined when absent; a required absent field is reported. */
  private take(obj: JsonObject, key: string, path: string, required: boolean): unknown {
    const value = Object.hasOwn(obj, key) ? obj[key] : undefined;
    if (value === undefined && required) this.add(joinPath(path, key), "required");
    return value;
  }

  string(obj: JsonObject, key: string, path: string, options: StringOptions = {}): string {
    const value = this.take(obj, key, path, options.default === undefined);
    if (value === undefined) return options.default ?? "";
    return this.checkString(value, joinPath(path, key), options);
  }

  /** Checks an already-extracted value (an array item, a record value) as a string. */
  checkString(value: unknown, path: string, options: StringOptions = {}): string {
    if (typeof value !== "string") {
      this.add(path, `must be a string, got ${describeValue(value)}`);
      return options.default ?? "";
    }
    if (options.nonEmpty && value.trim() === "") this.add(path, "must not be empty");
    else if (options.pattern && !options.pattern.test(value)) {
      this.add(path, `${JSON.stringify(value)} is not allowed: use ${options.patternHint ?? `a value matching ${options.pattern}`}`);
    }
    return value;
  }

  /** An optional string that may be null; absent means null. */
  nullableString(obj: JsonObject, key: string, path: string, options: Omit<StringOptions, "default"> = {}): string | null {
    const value = this.take(obj, key, path, false);
    if (value === undefined || value === null) return null;
    return this.checkString(value, joinPath(path, key), options);
  }

  boolean(obj: JsonObject, key: string, path: string, options: { default?: boolean } = {}): boolean {
    const value = this.take(obj, key, path, options.default === undefined);
    if (value === undefined) return options.default ?? false;
    if (typeof value !== "boolean") {
      this.add(joinPath(path, key), `must be true or false, got ${describeValue(value)}`);
      return options.default ?? false;
    }
    return value;
  }

  number(obj: JsonObject, key: string, path: string, options: NumberOptions = {}): number {
    const value = this.take(obj, key, path, options.default === undefined);
    if (value === undefined) return options.default ?? 0;
    return this.checkNumber(value, joinPath(path, key), options);
  }

  checkNumber(value: unknown, path: string, options: NumberOptions = {}): number {
    if (typeof value !== "number" || !Number.isFinite(value)) {
      this.add(path, `must be a number, got ${describeValue(value)}`);
      return options.default ?? 0;
    }
    if (options.integer && !Number.isInteger(value)) this.add(path, `must be a whole number, got ${value}`);
    else if (options.min !== undefined && value < options.min) this.add(path, `must be at least ${options.min}, got ${value}`);
    else if (options.max !== undefined && value > options.max) this.add(path, `must be at most ${options.max}, got ${value}`);
    return value;
  }

  /** An array field; absent gives `[]` when optional. `minItems` is checked. */
  array(obj: JsonObject, key: string, path: string, options: { optional?: boolean; minItems?: number } = {}): unknown[] {
    const value = this.take(obj, key, path, !options.optional);
    if (value === undefined) return [];
    const at = joinPath(path, key);
    if (!Array.isArray(value)) {
      this.add(at, `must be an array, got ${describeValue(value)}`);
      return [];
    }
    if (options.minItems !== undefined && value.length < options.minItems) {
      this.add(at, `needs at least ${options.minItems} item${options.minItems === 1 ? "" : "s"}`);
    }
    return value;
  }

  /** An optional array of strings (default `[]`). */
  stringArray(obj: JsonObject, key: string, path: string, options: { nonEmptyItems?: boolean } = {}): string[] {
    const at = joinPath(path, key);
    return this.array(obj, key, path, { optional: true }).map((item, i) => this.checkString(item, joinPath(at, i), { nonEmpty: options.nonEmptyItems }));
  }

  /** An optional object field (default `{}`), returned as is. */
  record(obj: JsonObject, key: string, path: string, options: { optional?: boolean } = { optional: true }): JsonObject {
    const value = this.take(obj, key, path, !options.optional);
    if (value === undefined) return {};
    return this.object(value, joinPath(path, key)) ?? {};
  }

  /** A deep copy of a JSON value, reporting anything JSON cannot hold (functions, undefined, NaN). */
  json(value: unknown, path: string): unknown {
    if (value === null || typeof value === "string" || typeof value === "boolean") return value;
    if (typeof value === "number") {
      if (!Number.isFinite(value)) this.add(path, `must be a finite number, got ${value}`);
      return value;
    }
    if (Array.isArray(value)) return value.map((item, i) => this.json(item, joinPath(path, i)));
    if (isJsonObject(value)) {
      const copy: JsonObject = {};
      for (const [k, v] of Object.entries(value)) copy[k] = this.json(v, joinPath(path, k));
      return copy;
    }
    this.add(path, `is not JSON data (${describeValue(value)})`);
    return null;
  }
}

/** The known name closest to `name` by edit distance, when close enough to be a likely typo. */
export function nearest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return bestDistance <= Math.max(1, Math.floor(name.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}
