/// <reference lib="dom" />
// The id box of the project browser's "New graph" and "New character" forms: what is typed is trimmed, and
// the box is marked invalid while the id breaks its pattern or is taken.

/** What is wrong with a new id, or "" (an empty box is not wrong yet). */
export function newIdProblem(id: string, pattern: RegExp, taken: readonly string[], kind: string): string {
  return id === "" ? "" : !pattern.test(id) ? "lowercase letters, digits, _ and -" : taken.includes(id) ? `there is already a ${kind} "${id}"` : "";
}

export default function NewIdInput({ kind, value, problem, onChange }: { kind: string; value: string; problem: string; onChange: (id: string) => void }) {
  return (
    <input
      type="text"
      value={value}
      placeholder={`new ${kind} id`}
      aria-label={`New ${kind} id`}
      className={problem ? "invalid" : undefined}
      onChange={(e) => onChange(e.target.value.trim())}
    />
  );
}
