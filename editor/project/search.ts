// Finding text across a project: every field a writer types (a node's text, an instruction, a choice's
// label, a condition or effect, a variable's name, a node's id, every character field) is searched, and
// each field that matches is one hit, named by its JSON path the way validation issues name them
// (`nodes.greet.options[1].text`). Fields that only point at other nodes (`next`, a jump's `target`,
// `otherwise`, an intent node's `fallback`) and fixed words (`schema`, `type`) are not searched: a node's
// id is found once, at the node, rather than at every exit that leads to it.
//
// A hit needs every word of the query in the same field, case-insensitively, in any order. Pure and
// without Node's modules: the host searches the files as saved, the page searches the open graph as edited.

export type SearchableKind = "character" | "dialogue";

export interface SearchHit {
  /** The file: `dialogue/guard.json`. */
  path: string;
  kind: SearchableKind;
  /** The character's or graph's id. */
  id: string;
  /** The dialogue node the field belongs to. */
  node?: string;
  /** The field's JSON path: `nodes.halt.text`, `variables.gold`, `knowledge[0].keywords[1]`. */
  field: string;
  /** The field as a writer reads it: "option 2 › text", "variable", "node id". */
  label: string;
  /** The field's text, cut around the first match when it is long. */
  text: string;
  /** Where the query's words are in `text`: [start, end) pairs, in order, not overlapping. */
  ranges: [number, number][];
}

export interface SearchResult {
  query: string;
  hits: SearchHit[];
  /** Every hit found; more than `hits.length` when the limit cut the list. */
  total: number;
}

export interface SearchableDocument {
  path: string;
  kind: string;
  id: string;
  /** The parsed document (for a file with problems: its JSON as far as it parses, or undefined). */
  value: unknown;
}

export const DEFAULT_SEARCH_LIMIT = 200;
/** A long field is shown as this many characters around its first match. */
const SNIPPET_LENGTH = 120;
const SNIPPET_BEFORE = 40;

/** The query's words, lowercased; none for a blank query. */
export function searchTerms(query: string): string[] {
  return query.toLowerCase().split(/\s+/).filter(Boolean);
}

/** Searches characters and dialogue graphs (other documents are skipped), in the given order. */
export function searchDocuments(documents: Iterable<SearchableDocument>, query: string, limit = DEFAULT_SEARCH_LIMIT): SearchResult {
  const hits: SearchHit[] = [];
  let total = 0;
  for (const doc of documents) {
    const found = searchDocument(doc, query);
    total += found.length;
    for (const hit of found) if (hits.length < limit) hits.push(hit);
  }
  return { query, hits, total };
}

/** The hits in one document (none for a kind that is not searched, or a blank query). */
export function searchDocument(doc: SearchableDocument, query: string): SearchHit[] {
  const terms = searchTerms(query);
  if (terms.length === 0 || (doc.kind !== "character" && doc.kind !== "dialogue")) return [];
  const kind: SearchableKind = doc.kind;
  const hits: SearchHit[] = [];
  const visit = (text: string, path: Segment[], node: string | undefined, labelOverride?: string): void => {
    const ranges = matchRanges(text, terms);
    if (!ranges) return;
    const nodePath = node === undefined ? path : path.slice(2);
    hits.push({
      path: doc.path,
      kind,
      id: doc.id,
      ...(node !== undefined ? { node } : {}),
      field: jsonPath(path),
      label: labelOverride ?? fieldLabel(nodePath),
      ...snippet(text, ranges),
    });
  };
  const root = asObject(doc.value);
  if (!root) return hits;
  if (kind === "character") {
    walk(
      root,
      [],
      (text, path) => visit(text, path, undefined),
      (key, path) => path.length === 1 && key === "schema",
    );
    return hits;
  }
  const variables = asObject(root.variables);
  if (variables) {
    for (const [name, declaration] of Object.entries(variables)) {
      visit(name, ["variables", name], undefined, "variable");
      const initial = asObject(declaration)?.default;
      if (typeof initial === "string") visit(initial, ["variables", name, "default"], undefined, "variable default");
    }
  }
  const nodes = asObject(root.nodes);
  if (nodes) {
    for (const [id, value] of Object.entries(nodes)) {
      visit(id, ["nodes", id], id, "node id");
      const node = asObject(value);
      if (!node) continue;
      const isIntent = node.type === "intent";
      walk(
        node,
        ["nodes", id],
        (text, path) => visit(text, path, id),
        (key, path) => {
          if (key === "next") return true;
          if (path.length !== 3) return false; // deeper: an option's, branch's or intent's own fields
          return key === "type" || key === "target" || key === "otherwise" || (isIntent && key === "fallback");
        },
      );
    }
  }
  return hits;
}

type Segment = string | number;

/** Calls `onText` for every string in `value` (depth first, in the file's order), skipping the keys `skip` names. */
function walk(value: unknown, path: Segment[], onText: (text: string, path: Segment[]) => void, skip: (key: string, path: Segment[]) => boolean): void {
  if (typeof value === "string") {
    onText(value, path);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => walk(item, [...path, i], onText, skip));
    return;
  }
  const object = asObject(value);
  if (!object) return;
  for (const [key, item] of Object.entries(object)) {
    const at = [...path, key];
    if (!skip(key, at)) walk(item, at, onText, skip);
  }
}

/** Where every term occurs in `text` (merged where they overlap), or null when one is missing. */
export function matchRanges(text: string, terms: readonly string[]): [number, number][] | null {
  const lower = text.toLowerCase();
  // Lowercasing changes the length of a few characters (İ); positions would be off, so none are given.
  const exact = lower.length === text.length;
  const ranges: [number, number][] = [];
  for (const term of terms) {
    let at = lower.indexOf(term);
    if (at < 0) return null;
    if (!exact) continue;
    for (; at >= 0; at = lower.indexOf(term, at + term.length)) ranges.push([at, at + term.length]);
  }
  ranges.sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const range of ranges) {
    const last = merged[merged.length - 1];
    if (last && range[0] <= last[1]) last[1] = Math.max(last[1], range[1]);
    else merged.push([range[0], range[1]]);
  }
  return merged;
}

/** A long text cut to a window around its first match (with ellipses), and the ranges within it. */
function snippet(text: string, ranges: [number, number][]): { text: string; ranges: [number, number][] } {
  if (text.length <= SNIPPET_LENGTH) return { text, ranges };
  const first = ranges[0]?.[0] ?? 0;
  const start = Math.max(0, Math.min(first - SNIPPET_BEFORE, text.length - SNIPPET_LENGTH));
  const end = Math.min(text.length, start + SNIPPET_LENGTH);
  const prefix = start > 0 ? "…" : "";
  const shift = prefix.length - start;
  const inside = ranges.filter(([a]) => a < end).map(([a, b]): [number, number] => [Math.max(a, start) + shift, Math.min(b, end) + shift]);
  return { text: `${prefix}${text.slice(start, end)}${end < text.length ? "…" : ""}`, ranges: inside };
}

/** `nodes.greet.options[1].text`; keys that are not identifiers are quoted: `nodes["1st"]`. */
export function jsonPath(path: readonly Segment[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(segment)) out += out === "" ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** A field path as a writer reads it: ["options", 1, "text"] → "option 2 › text", ["effects", 0] → "effect 1". */
export function fieldLabel(path: readonly Segment[]): string {
  const parts: string[] = [];
  for (const segment of path) {
    if (typeof segment === "number" && parts.length > 0) parts[parts.length - 1] = `${singular(parts[parts.length - 1])} ${segment + 1}`;
    else parts.push(String(segment));
  }
  return parts.join(" › ");
}

function singular(word: string): string {
  if (word.endsWith("ies")) return `${word.slice(0, -3)}y`;
  if (word.endsWith("ses")) return word.slice(0, -2);
  if (word.endsWith("s") && !word.endsWith("ss")) return word.slice(0, -1);
  return word;
}

function asObject(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}
