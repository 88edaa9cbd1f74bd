// The `parley` command's flags: each command declares its flags in one table (kind, range, default, help) that
// drives parsing, validation and its --help text; and the checks that turn a user's path problem into a
// FileAccessError before any work starts. Used by runtime/cli.ts, by commands loaded from elsewhere
// (plugin/playtest/dialogue-cli.ts) and by the repository's scripts (bench/bench.ts).

import { statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { FileAccessError, InvalidArgumentError } from "./errors.js";

// ---------------------------------------------------------------------------------------------------------------
// Flag tables

type FlagKind =
  | "boolean"
  | "string"
  /** One of `choices`. */
  | "choice"
  | "integer"
  | "number"
  /** Comma-separated integers, each in the flag's range. */
  | "integers"
  /** Comma-separated 0s and 1s. */
  | "switches"
  /** An existing regular file, read by the command. */
  | "file"
  /** A file the command writes: its folder must exist. */
  | "outfile";

export interface FlagSpec {
  readonly kind: FlagKind;
  /** One line for --help. */
  readonly help: string;
  /** The value's placeholder in --help (FILE, N); a choice flag without one shows its choices. */
  readonly arg?: string;
  readonly choices?: readonly string[];
  /** Applied when the flag is absent, and shown in --help. */
  readonly default?: string | number;
  /** Shown in --help where the default is worked out at run time (by the command or the library). */
  readonly defaultText?: string;
  readonly required?: boolean;
  /** Inclusive bounds of a numeric flag (of each entry of an "integers" flag). */
  readonly min?: number;
  readonly max?: number;
  /** `min` itself is out of range (top-p 0 would keep no token). */
  readonly minExclusive?: boolean;
}

export type FlagTable = Readonly<Record<string, FlagSpec>>;

type KindValue<S extends FlagSpec> = S extends { kind: "boolean" }
  ? boolean
  : S extends { kind: "integer" | "number" }
    ? number
    : S extends { kind: "integers" }
      ? number[]
      : S extends { kind: "switches" }
        ? boolean[]
        : S extends { kind: "choice"; choices: readonly (infer C)[] }
          ? C
          : string;

/** The parsed values of a flag table: booleans, flags with a default and required flags are always present. */
export type FlagValues<T extends FlagTable> = {
  -readonly [K in keyof T]: T[K] extends { kind: "boolean" } | { default: string | number } | { required: true }
    ? KindValue<T[K]>
    : KindValue<T[K]> | undefined;
};

export interface ParsedFlags<T extends FlagTable> {
  values: FlagValues<T>;
  positionals: string[];
  /** The flags the command line set (not defaulted). */
  given: ReadonlySet<string>;
}

const NUMERIC: ReadonlySet<FlagKind> = new Set(["integer", "number", "integers"]);
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const NEGATIVE_NUMBER = /^-(\d|\.\d)/;

/** True where argv asks for help: `--help` or `-h` before any `--`. */
export function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf("--");
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === "--help" || a === "-h");
}

/**
 * parseArgs reads `--max-tokens -5` as a flag without its value followed by an option `-5`. Joining them into
 * `--max-tokens=-5` gives the value to the flag, whose range check then names it. For numeric flags any
 * dash-led value that is not one of the command's options is joined (so `--seed -x` says "not a number"); for
 * other value flags only negative numbers are, so a forgotten value (`--model --json`) still reads as one.
 */
function joinDashValues(argv: readonly string[], table: FlagTable): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") {
      out.push(...argv.slice(i));
      break;
    }
    const spec = a.startsWith("--") && !a.includes("=") && Object.hasOwn(table, a.slice(2)) ? table[a.slice(2)] : undefined;
    const next = argv[i + 1];
    if (spec && spec.kind !== "boolean" && next !== undefined && next.startsWith("-") && next !== "--") {
      const isOption = next.startsWith("--") ? Object.hasOwn(table, next.slice(2).split("=")[0]) : next === "-h";
      if (NEGATIVE_NUMBER.test(next) || (NUMERIC.has(spec.kind) && !isOption)) {
        out.push(`${a}=${next}`);
        i++;
        continue;
      }
    }
    out.push(a);
  }
  return out;
}

function rangeText(spec: FlagSpec, plural = false): string {
  const what = spec.kind === "number" ? (plural ? "numbers" : "a number") : plural ? "integers" : "an integer";
  const { min, max } = spec;
  if (min !== undefined && max !== undefined) {
    return spec.minExclusive ? `${what} > ${min} and ≤ ${max}` : `${what} from ${min} to ${max}`;
  }
  if (min !== undefined) return `${what} ${spec.minExclusive ? ">" : "≥"} ${min}`;
  if (max !== undefined) return `${what} ≤ ${max}`;
  return what;
}

/** `text` as the number `spec` allows, else an InvalidArgumentError naming the flag, the value and the range. */
function numberValue(flag: string, spec: FlagSpec, text: string, list?: string): number {
  const integer = spec.kind !== "number";
  const fail = (why?: string) =>
    new InvalidArgumentError(
      list === undefined
        ? `--${flag} must be ${rangeText(spec)}, got "${text}"${why ? ` (${why})` : ""}`
        : `--${flag} takes comma-separated ${rangeText(spec, true)}, got "${text}"${list === text ? "" : ` in "${list}"`}${why ? ` (${why})` : ""}`,
    );
  const t = text.trim();
  // Number() alone would take "", "0x10" and "Infinity"; a flag's value is a plain decimal.
  if (!DECIMAL.test(t)) throw fail("not a number");
  const v = Number(t);
  if (!Number.isFinite(v)) throw fail("too large");
  if (integer && !Number.isInteger(v)) throw fail("not an integer");
  if (integer && !Number.isSafeInteger(v)) throw fail("too large");
  const { min, max } = spec;
  if ((min !== undefined && (v < min || (spec.minExclusive && v === min))) || (max !== undefined && v > max)) throw fail();
  return v;
}

function flagValue(flag: string, spec: FlagSpec, raw: string): unknown {
  switch (spec.kind) {
    case "integer":
    case "number":
      return numberValue(flag, spec, raw);
    case "integers": {
      const items = raw.split(",");
      if (raw.trim() === "") throw new InvalidArgumentError(`--${flag} needs at least one value (${rangeText(spec, true)}, comma-separated)`);
      return items.map((s) => numberValue(flag, spec, s, raw));
    }
    case "switches":
      return raw.split(",").map((s) => {
        if (s.trim() !== "0" && s.trim() !== "1")
          throw new InvalidArgumentError(`--${flag} takes 0 and/or 1 (comma-separated), got "${s}"${s === raw ? "" : ` in "${raw}"`}`);
        return s.trim() === "1";
      });
    case "choice":
      if (!spec.choices!.includes(raw)) throw new InvalidArgumentError(`--${flag} must be one of ${spec.choices!.join(", ")}, got "${raw}"`);
      return raw;
    case "file":
      checkInputFile(raw);
      return raw;
    case "outfile":
      checkOutputFile(raw);
      return raw;
    default:
      return raw;
  }
}

/** `help`: the command line that prints the command's usage (default `parley COMMAND --help`). */
export function parseArgsError(command: string | undefined, e: unknown, help = command ? `parley ${command} --help` : undefined): unknown {
  const code = (e as { code?: string })?.code;
  if (!(e instanceof TypeError) || !code?.startsWith("ERR_PARSE_ARGS")) return e;
  const quoted = /'([^']+)'/.exec(e.message)?.[1];
  const hint = help ? `${help} lists its options` : "parley --help lists the commands";
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") return new InvalidArgumentError(`unknown option ${quoted} (${hint})`);
  if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") return new InvalidArgumentError(`unexpected argument "${quoted}" (${hint})`);
  // "argument missing" at the end of the line; "ambiguous" where the next word is an option (`--model --json`).
  const flag = /^Option '(--[^' ]+)/.exec(e.message)?.[1];
  if (flag && /argument missing|argument is ambiguous/.test(e.message)) return new InvalidArgumentError(`${flag} needs a value (${hint})`);
  return new InvalidArgumentError(`${e.message.split("\n")[0]} (${hint})`);
}

/**
 * Parses `argv` against `table` (`command` names the command in messages, `options.help` the command line that
 * prints its usage: default `parley COMMAND --help`): values converted and range-checked, defaults applied,
 * required flags present. Every problem is an InvalidArgumentError or a FileAccessError.
 */
export function parseFlags<T extends FlagTable>(
  command: string,
  table: T,
  argv: readonly string[],
  options: { positionals?: boolean; help?: string } = {},
): ParsedFlags<T> {
  const help = options.help ?? `parley ${command} --help`;
  const parseOptions: Record<string, { type: "boolean" | "string"; short?: string }> = { help: { type: "boolean", short: "h" } };
  for (const [name, spec] of Object.entries(table)) parseOptions[name] = { type: spec.kind === "boolean" ? "boolean" : "string" };
  let parsed;
  try {
    parsed = parseArgs({ args: joinDashValues(argv, table), options: parseOptions, allowPositionals: options.positionals ?? false, strict: true });
  } catch (e) {
    throw parseArgsError(command, e, help);
  }
  const values: Record<string, unknown> = {};
  const given = new Set<string>();
  // Files last: a mistyped number is reported before a path is looked at.
  const isFile = (spec: FlagSpec) => spec.kind === "file" || spec.kind === "outfile";
  const entries = Object.entries(table);
  for (const [name, spec] of [...entries.filter(([, s]) => !isFile(s)), ...entries.filter(([, s]) => isFile(s))]) {
    const raw = parsed.values[name];
    if (raw === undefined) {
      if (spec.required) throw new InvalidArgumentError(`${command} needs --${name} ${spec.arg ?? "VALUE"} (${help})`);
      values[name] = spec.kind === "boolean" ? false : spec.default;
      continue;
    }
    given.add(name);
    values[name] = typeof raw === "boolean" ? raw : flagValue(name, spec, raw);
  }
  return { values: values as FlagValues<T>, positionals: parsed.positionals, given };
}

/** The options part of a command's --help: one line per flag with its range and default. */
export function formatFlags(table: FlagTable): string {
  const rows = Object.entries(table).map(([name, spec]) => {
    const arg = spec.kind === "boolean" ? "" : ` ${spec.arg ?? spec.choices?.join("|") ?? "VALUE"}`;
    const notes: string[] = [];
    if (spec.kind === "choice" && spec.arg) notes.push(`one of ${spec.choices!.join(", ")}`);
    if (NUMERIC.has(spec.kind)) notes.push(spec.kind === "integers" ? `comma-separated ${rangeText(spec, true)}` : rangeText(spec));
    if (spec.required) notes.push("required");
    else if (spec.default !== undefined) notes.push(`default: ${spec.default}`);
    else if (spec.defaultText !== undefined) notes.push(`default: ${spec.defaultText}`);
    return [`--${name}${arg}`, notes.length ? `${spec.help} (${notes.join("; ")})` : spec.help];
  });
  rows.push(["-h, --help", "print this help"]);
  const width = Math.max(...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`).join("\n");
}

// ---------------------------------------------------------------------------------------------------------------
// File checks: a user's path problem is a FileAccessError before any work starts.

export function fsReason(e: unknown): string {
  switch ((e as NodeJS.ErrnoException)?.code) {
    case "ENOENT":
      return "no such file";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EISDIR":
      return "it is a folder";
    case "ENOTDIR":
      return "a part of the path is not a folder";
    case "EROFS":
      return "read-only file system";
    case "ENOSPC":
      return "no space left on the device";
    default:
      return (e as Error)?.message ?? String(e);
  }
}

export function isErrnoError(e: unknown): e is NodeJS.ErrnoException {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).code === "string" && typeof (e as NodeJS.ErrnoException).syscall === "string";
}

export function checkInputFile(path: string): void {
  let stat;
  try {
    stat = statSync(path);
  } catch (e) {
    throw new FileAccessError(path, fsReason(e), { cause: e });
  }
  if (stat.isDirectory()) throw new FileAccessError(path, "it is a folder");
  if (!stat.isFile()) throw new FileAccessError(path, "not a regular file");
}

function checkOutputFile(path: string): void {
  const dir = dirname(resolve(path));
  let folder;
  try {
    folder = statSync(dir);
  } catch (e) {
    throw new FileAccessError(path, (e as NodeJS.ErrnoException).code === "ENOENT" ? `its folder ${dir} does not exist` : fsReason(e), { cause: e });
  }
  if (!folder.isDirectory()) throw new FileAccessError(path, `${dir} is not a folder`);
  let existing;
  try {
    existing = statSync(path);
  } catch {
    return; // a new file
  }
  if (existing.isDirectory()) throw new FileAccessError(path, "it is a folder");
}
