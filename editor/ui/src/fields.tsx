/// <reference lib="dom" />
// The inspector's form fields. A field shows a value of the graph's JSON and sends each change to the
// store at once (validation follows as the writer types); the keystrokes of one field join one undo
// step until it loses focus. A field whose text is not the value itself (a list written one item per
// line, a number) keeps what is typed as a draft, and shows the store's value again only when that value
// changes to something the draft does not mean (an undo).

import { useEffect, useId, useState, type ReactNode } from "react";
import type { ValidationIssue } from "../../../plugin/errors.js";
import { useEditor } from "./store.js";

interface DraftProps {
  value: unknown;
  onChange(value: unknown): void;
  /** Text → value (default: the text). */
  parse?: (text: string) => unknown;
  /** Value → text (default: strings as they are, null and undefined as ""). */
  format?: (value: unknown) => string;
  multiline?: boolean;
  rows?: number;
  placeholder?: string;
  invalid?: boolean;
  "aria-label"?: string;
  id?: string;
  className?: string;
  /** Ends the field's typing burst when it loses focus; default: the graph store's (the character form passes its own). */
  onBlur?: () => void;
}

export function DraftInput({ value, onChange, parse = (t) => t, format = formatText, multiline, rows = 2, ...rest }: DraftProps) {
  const [draft, setDraft] = useState(() => format(value));
  const graphEndBurst = useEditor((s) => s.endBurst);
  useEffect(() => {
    // parse and format are fixed per field: only a new value matters here.
    setDraft((current) => (sameJson(parse(current), value) ? current : format(value)));
  }, [value]);
  const change = (text: string) => {
    setDraft(text);
    onChange(parse(text));
  };
  const { invalid, className, onBlur, ...attributes } = rest;
  const common = {
    ...attributes,
    value: draft,
    onBlur: onBlur ?? graphEndBurst,
    className: `${className ?? ""} ${invalid ? "invalid" : ""}`.trim() || undefined,
    spellCheck: multiline,
  };
  return multiline ? (
    <textarea {...common} rows={rows} onChange={(e) => change(e.target.value)} />
  ) : (
    <input type="text" {...common} onChange={(e) => change(e.target.value)} />
  );
}

/** A labelled field with the problems found at its JSON path under it. */
export function Field({
  label,
  problems = [],
  children,
  hint,
}: {
  label: string;
  problems?: readonly Problemish[];
  children: (id: string) => ReactNode;
  hint?: string;
}) {
  const id = useId();
  return (
    <div className={`field ${problems.some((p) => p.severity === "error") ? "has-error" : ""}`}>
      <label htmlFor={id}>
        {label}
        {hint && <span className="hint"> {hint}</span>}
      </label>
      {children(id)}
      <FieldProblems problems={problems} />
    </div>
  );
}

export type Problemish = ValidationIssue & { severity: "error" | "warning" };

export function FieldProblems({ problems }: { problems: readonly Problemish[] }) {
  if (problems.length === 0) return null;
  return (
    <ul className="field-problems">
      {problems.map((p, i) => (
        <li key={i} className={p.severity} data-path={p.path}>
          {p.message}
        </li>
      ))}
    </ul>
  );
}

/** A choice of node for an exit; "" (or null where `optional`) is none. A target that is not a node is kept and marked. */
export function TargetSelect({
  id,
  value,
  nodeIds,
  optional,
  onChange,
  label,
}: {
  id?: string;
  value: unknown;
  nodeIds: readonly string[];
  optional: boolean;
  onChange(target: string | null): void;
  label?: string;
}) {
  const current = typeof value === "string" ? value : "";
  const missing = current !== "" && !nodeIds.includes(current);
  return (
    <select
      id={id}
      aria-label={label}
      value={current}
      className={missing || (!optional && current === "") ? "invalid" : undefined}
      onChange={(e) => onChange(e.target.value === "" ? (optional ? null : "") : e.target.value)}
    >
      <option value="">{optional ? "(end of the conversation)" : "(not connected)"}</option>
      {missing && <option value={current}>{current} (no such node)</option>}
      {nodeIds.map((node) => (
        <option key={node} value={node}>
          {node}
        </option>
      ))}
    </select>
  );
}

// ------------------------------------------------------------------------------------------ formats

export function formatText(value: unknown): string {
  return value === null || value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value);
}

/** "" → null; a number → the number; anything else stays text (the validator says what is wrong). */
export function parseOptionalNumber(text: string): unknown {
  const trimmed = text.trim();
  if (trimmed === "") return null;
  const n = Number(trimmed);
  return Number.isFinite(n) ? n : text;
}

/** One item per line, empty lines dropped. */
export const lines = {
  parse: (text: string): string[] => text.split("\n").filter((line) => line.trim() !== ""),
  format: (value: unknown): string => (Array.isArray(value) ? value.map(formatText).join("\n") : formatText(value)),
};

/** Comma-separated words (tags). */
export const commaList = {
  parse: (text: string): string[] =>
    text
      .split(",")
      .map((t) => t.trim())
      .filter((t) => t !== ""),
  format: (value: unknown): string => (Array.isArray(value) ? value.map(formatText).join(", ") : formatText(value)),
};

/** A JSON object written as JSON; text that is not JSON is kept as text (and reported by the validator). */
export const jsonObject = {
  parse: (text: string): unknown => {
    if (text.trim() === "") return {};
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  },
  format: (value: unknown): string => (typeof value === "string" ? value : value === undefined ? "" : JSON.stringify(value)),
};

function sameJson(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}
