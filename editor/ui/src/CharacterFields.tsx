/// <reference lib="dom" />
// The character form's building blocks: a text field bound to a path of the character's JSON (with the
// validator's problems at that path under it and its token count beside its label), a checkbox, and a
// list of entries with add and remove. Every change goes to the character store at once, so validation
// and token counts follow the typing; keystrokes in one field are one undo step until it loses focus.

import type { ReactNode } from "react";
import { joinPath } from "../../../plugin/errors.js";
import { checkCharacter, issuesAt } from "./character-check.js";
import { getAt, useCharacters, type FieldPath } from "./character-store.js";
import { DraftInput, Field, FieldProblems, type Problemish } from "./fields.js";
import { tokenLabel, useFieldTokens } from "./CharacterTokens.js";

/** "knowledge[0].text" for ["knowledge", 0, "text"]: the validator's path form. */
export function pathText(path: FieldPath): string {
  return path.reduce<string>((at, step) => joinPath(at, step), "");
}

/** The validator's problems at `path` (and inside it with `inside`), as errors. */
export function useProblems(path: FieldPath, inside = false): Problemish[] {
  const check = useCharacters((s) => (s.json && s.open ? checkCharacter(s.json, s.open.id) : null));
  return issuesAt(check?.issues ?? [], pathText(path), { inside }).map((i) => ({ ...i, severity: "error" as const }));
}

interface TextFieldProps {
  label: string;
  path: FieldPath;
  multiline?: boolean;
  rows?: number;
  placeholder?: string;
  /** Text → value and back, for lists written one per line or numbers (fields.tsx's formats). */
  parse?: (text: string) => unknown;
  format?: (value: unknown) => string;
  /** Show the field's token count (texts that reach the prompt). */
  counted?: boolean;
  hint?: string;
}

export function TextField({ label, path, counted = true, hint, ...input }: TextFieldProps) {
  const value = useCharacters((s) => getAt(s.json, path));
  const setField = useCharacters((s) => s.setField);
  const endBurst = useCharacters((s) => s.endBurst);
  const problems = useProblems(path);
  const tokens = useFieldTokens(pathText(path));
  const hints = [hint, counted ? tokenLabel(tokens) : undefined].filter(Boolean).join(" · ");
  return (
    <Field label={label} problems={problems} hint={hints || undefined}>
      {(id) => (
        <DraftInput
          id={id}
          aria-label={label}
          value={value}
          onChange={(v) => setField(path, v, true)}
          onBlur={endBurst}
          invalid={problems.length > 0}
          {...input}
        />
      )}
    </Field>
  );
}

export function CheckField({ label, path }: { label: string; path: FieldPath }) {
  const value = useCharacters((s) => getAt(s.json, path));
  const setField = useCharacters((s) => s.setField);
  const problems = useProblems(path);
  return (
    <div className="field">
      <label className="checkbox">
        <input type="checkbox" checked={value === true} onChange={(e) => setField(path, e.target.checked)} /> {label}
      </label>
      <FieldProblems problems={problems} />
    </div>
  );
}

interface ListSectionProps {
  title: string;
  /** The list's field: "knowledge", "secrets"… */
  field: string;
  /** What "Add" puts at the end (the validator then says what must be filled in). */
  newItem: () => unknown;
  addLabel: string;
  /** What one entry is called in its remove button: "lore entry 2". */
  itemName: string;
  hint?: string;
  children: (index: number) => ReactNode;
}

/** A list field's entries, each with a remove button, and an add button. */
export function ListSection({ title, field, newItem, addLabel, itemName, hint, children }: ListSectionProps) {
  const items = useCharacters((s) => getAt(s.json, [field]));
  const change = useCharacters((s) => s.change);
  const problems = useProblems([field]);
  const tokens = useFieldTokens(field);
  const list = Array.isArray(items) ? items : [];
  return (
    <section className="character-list" aria-label={title} data-field={field}>
      <div className="list-head">
        <h3>
          {title} <span className="count">{list.length}</span>
          {tokens !== null && list.length > 0 && <span className="hint"> · {tokenLabel(tokens)}</span>}
        </h3>
        <button type="button" className="small" onClick={() => change((json) => ({ ...json, [field]: [...list, newItem()] }))}>
          {addLabel}
        </button>
      </div>
      {hint && <p className="muted list-hint">{hint}</p>}
      <FieldProblems problems={problems} />
      {list.map((_, index) => (
        <div className="character-entry" key={index} data-index={index}>
          <button
            type="button"
            className="small remove"
            aria-label={`Remove ${itemName} ${index + 1}`}
            title={`Remove ${itemName} ${index + 1}`}
            onClick={() => change((json) => ({ ...json, [field]: list.filter((__, i) => i !== index) }))}
          >
            ×
          </button>
          {children(index)}
        </div>
      ))}
    </section>
  );
}
