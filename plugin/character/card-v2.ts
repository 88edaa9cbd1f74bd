// Character Card V2 (https://github.com/malfoyslastname/character-card-spec-v2) ↔ Parley character: the
// field mapping both ways. Other card shapes (V1, V3, lenient V2) are brought to this one by
// card-shapes.ts first, and V3 export is this file's V2 card with the V3 spec (card-v3.ts).
//
// Mapping, card → Parley (texts are copied as written: `{{char}}`, `{{user}}`, `<BOT>` and `<USER>` stay
// macros, resolved when the prompt is built, so the player's real name can stand in for `{{user}}`):
//   name, description, scenario → the same;  first_mes → greeting;  system_prompt → systemPrompt;
//   post_history_instructions → postHistoryInstructions;  alternate_greetings → alternateGreetings;
//   personality ("gruff, kind, loud") → personality traits;
//   mes_example (<START> blocks of `{{user}}:` / `{{char}}:` lines) → examples;
//   character_book entries → knowledge: keys → keywords, content → text, constant → always,
//     insertion_order (else priority, in cards without one) → priority, written back as insertion_order. An entry with `enabled: false` (or no content) is not
//     knowledge — the prompt must not use what its author switched off — and is kept whole, in its place,
//     in the kept book, so it comes back on export. case_sensitive, selective, secondary_keys, position…
//     have no Parley field and are kept per entry the same way;
//   data.extensions → extensions (unknown ones such as depth_prompt or fav untouched, both ways);
//   data.extensions.parley → the Parley fields a card has no place for (role, speakingStyle, goals,
//     secrets, relationships, mood, fallbackLines, id) — export writes it when they differ from the defaults.
//
// What has no Parley field is kept in `extensions.chara_card`, so card → character → card is exact:
//   - data fields with no Parley home, verbatim: creator_notes, tags, creator, character_version, V3's
//     assets, nickname, group_only_greetings, source…, and any unknown data field;
//   - character_book: the book's own fields and, per entry, the entry fields with no Parley home;
//   - _parley: import bookkeeping — `originals` (personality or mes_example text that the trait list or
//     the example pairs do not write back exactly; alternate_greetings with blank items, which Parley
//     drops) and `outer` (top-level card fields besides spec and data).

import { DocumentReader, isJsonObject, joinPath, PluginValidationError, type JsonObject } from "../errors.js";
import type { Character, ExampleExchange, LoreEntry } from "../types.js";
import { CHARACTER_SCHEMA } from "../types.js";
import { DEFAULT_MOOD, parseCharacter } from "./validate.js";

export const CARD_V2_SPEC = "chara_card_v2";
export const CARD_V2_VERSION = "2.0";
/** Extension key (in the Parley character) under which a card's fields with no Parley home are kept. */
export const CARD_EXTENSION = "chara_card";
/** Extension key (in the card) for Parley's own fields. */
export const PARLEY_CARD_EXTENSION = "parley";
/** Defaults for fields a card has no place for. */
export const CARD_DEFAULTS = { role: "character", speakingStyle: { description: "", maxWords: 60 }, mood: DEFAULT_MOOD } as const;
/** The card fields a V1 card has at its top level, and V2 writers repeat there for V1 readers. */
export const V1_FIELDS = ["name", "description", "personality", "scenario", "first_mes", "mes_example"] as const;

export interface CharacterBookEntry {
  keys: string[];
  content: string;
  extensions: Record<string, unknown>;
  enabled: boolean;
  insertion_order: number;
  case_sensitive?: boolean;
  name?: string;
  priority?: number;
  id?: number;
  comment?: string;
  selective?: boolean;
  secondary_keys?: string[];
  constant?: boolean;
  position?: "before_char" | "after_char";
  [field: string]: unknown;
}

export interface CharacterBook {
  name?: string;
  description?: string;
  scan_depth?: number;
  token_budget?: number;
  recursive_scanning?: boolean;
  extensions: Record<string, unknown>;
  entries: CharacterBookEntry[];
  [field: string]: unknown;
}

export interface CardV2Data {
  name: string;
  description: string;
  personality: string;
  scenario: string;
  first_mes: string;
  mes_example: string;
  creator_notes: string;
  system_prompt: string;
  post_history_instructions: string;
  alternate_greetings: string[];
  character_book?: CharacterBook;
  tags: string[];
  creator: string;
  character_version: string;
  extensions: Record<string, unknown>;
  [field: string]: unknown;
}

export interface CardV2 {
  spec: typeof CARD_V2_SPEC;
  spec_version: typeof CARD_V2_VERSION;
  data: CardV2Data;
  [field: string]: unknown;
}

export interface CardImportOptions {
  /** The character's id; default: `extensions.parley.id`, else made from the name ("Brom Ironhand" → "brom-ironhand"). */
  id?: string;
}

/** Data fields with a Parley field of their own; every other data field is kept verbatim. */
const MAPPED_DATA_FIELDS = [
  "name",
  "description",
  "personality",
  "scenario",
  "first_mes",
  "mes_example",
  "system_prompt",
  "post_history_instructions",
  "alternate_greetings",
  "character_book",
  "extensions",
];
/** Texts whose Parley form (traits, example pairs) may not write back as the same text. */
const REFORMED_FIELDS = ["personality", "mes_example"] as const;
type ReformedField = (typeof REFORMED_FIELDS)[number];
/** String data fields mapped as they are. */
const PLAIN_TEXT_FIELDS = ["description", "scenario", "system_prompt", "post_history_instructions"] as const;
/** Kept data fields every V2 card has, with the value written when a character has none. */
const KEPT_DEFAULTS: Record<string, unknown> = { creator_notes: "", tags: [], creator: "", character_version: "" };
const PARLEY_FIELDS = ["id", "role", "speakingStyle", "goals", "secrets", "relationships", "mood", "fallbackLines"] as const;

// ---------------------------------------------------------------------------------------------------
// Text conversions

function splitTraits(text: string): string[] {
  return text
    .split(",")
    .map((t) => t.trim())
    .filter((t) => t !== "");
}

const START = /^\s*<START>\s*$/i;
const USER_PREFIX = /^\s*(?:\{\{user\}\}|<USER>)\s*:[ \t]?/i;
const CHAR_PREFIX = /^\s*(?:\{\{char\}\}|<BOT>)\s*:[ \t]?/i;

/** `<START>` blocks of `{{user}}: …` / `{{char}}: …` lines (continuation lines join the message before). */
export function parseExamples(text: string, name: string): ExampleExchange[] {
  const examples: ExampleExchange[] = [];
  let speaker: "user" | "char" | null = null;
  let buffer = "";
  let player: string | null = null;
  const flush = () => {
    const message = buffer.trim();
    if (speaker === "user") player = message;
    else if (speaker === "char" && message !== "") {
      examples.push({ player: player ?? "", npc: message });
      player = null;
    }
    speaker = null;
    buffer = "";
  };
  const namePrefix = new RegExp(`^\\s*${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\s*:[ \\t]?`);
  for (const line of text.split(/\r?\n/)) {
    if (START.test(line)) {
      flush();
      player = null;
      continue;
    }
    const user = USER_PREFIX.exec(line);
    const char = user ? null : (CHAR_PREFIX.exec(line) ?? namePrefix.exec(line));
    if (user || char) {
      flush();
      speaker = user ? "user" : "char";
      buffer = line.slice((user ?? char)![0].length);
    } else if (speaker) buffer += "\n" + line;
  }
  flush();
  return examples;
}

export function formatExamples(examples: readonly ExampleExchange[]): string {
  return examples.map((e) => `<START>\n${e.player ? `{{user}}: ${e.player}\n` : ""}{{char}}: ${e.npc}`).join("\n");
}

/** What a reformed card text becomes in Parley. */
function importReformed(field: ReformedField, text: string, name: string): string[] | ExampleExchange[] {
  return field === "personality" ? splitTraits(text) : parseExamples(text, name);
}

/** What a Parley value is written as in a card when no original text applies. */
function exportReformed(field: ReformedField, value: unknown): string {
  return field === "personality" ? (value as string[]).join(", ") : formatExamples(value as ExampleExchange[]);
}

/** "Brom Ironhand" → "brom-ironhand"; an id Parley accepts. */
export function idFromName(name: string): string {
  const id = name
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, "-")
    .replace(/^-+|-+$/g, "");
  return id || "character";
}

const clone = <T>(value: T): T => (value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T));
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const usableKeys = (keys: readonly string[]) => keys.filter((k) => k.trim() !== "");

function omit(obj: JsonObject, keys: readonly string[]): JsonObject {
  return Object.fromEntries(Object.entries(obj).filter(([k]) => !keys.includes(k)));
}

// ---------------------------------------------------------------------------------------------------
// Import

/**
 * Reads a Character Card V2 (parsed JSON) as a Parley character. Throws PluginValidationError naming the
 * card's fields ("data.character_book.entries[3].keys") when it cannot make one.
 */
export function characterFromCardV2(card: unknown, options: CardImportOptions = {}): Character {
  const r = new DocumentReader();
  const outer = r.object(card, "");
  if (!outer) throw new PluginValidationError("invalid Character Card V2", r.issues);
  if (outer.spec !== CARD_V2_SPEC || outer.spec_version !== CARD_V2_VERSION) {
    const found = outer.spec === undefined ? "no spec field" : `spec ${JSON.stringify(outer.spec)} version ${JSON.stringify(outer.spec_version)}`;
    r.add(
      outer.spec === CARD_V2_SPEC ? "spec_version" : "spec",
      `unsupported card: ${found} (this reads spec "${CARD_V2_SPEC}", spec_version "${CARD_V2_VERSION}")`,
    );
    r.throwIfAny("invalid Character Card V2");
  }
  const data = Object.hasOwn(outer, "data") ? r.object(outer.data, "data") : (r.add("data", "required"), undefined);
  if (!data) throw new PluginValidationError("invalid Character Card V2", r.issues);

  // Shape checks, with the card's own paths. Absent fields read as empty: many cards in the wild omit some.
  const name = r.string(data, "name", "data", { nonEmpty: true });
  const text = (f: string) => r.string(data, f, "data", { default: "" });
  const plain = Object.fromEntries(PLAIN_TEXT_FIELDS.map((f) => [f, text(f)])) as Record<(typeof PLAIN_TEXT_FIELDS)[number], string>;
  const reformed = Object.fromEntries(REFORMED_FIELDS.map((f) => [f, text(f)])) as Record<ReformedField, string>;
  const greeting = text("first_mes");
  if (typeof (data.first_mes ?? "") === "string" && greeting.trim() === "")
    r.add("data.first_mes", "a Parley character needs a greeting, and this card's first_mes is empty");
  const cardGreetings = r.stringArray(data, "alternate_greetings", "data");
  const alternateGreetings = cardGreetings.filter((g) => g.trim() !== ""); // a blank one is no greeting
  for (const f of ["creator_notes", "creator", "character_version"]) text(f);
  r.stringArray(data, "tags", "data");
  const cardExtensions = r.record(data, "extensions", "data");
  if (Object.hasOwn(cardExtensions, CARD_EXTENSION)) r.add(joinPath("data.extensions", CARD_EXTENSION), "reserved: Parley keeps the card's own fields there");
  const book = Object.hasOwn(data, "character_book") ? r.object(data.character_book, "data.character_book") : undefined;
  if (book && Object.hasOwn(book, "extensions")) r.record(book, "extensions", "data.character_book");
  const entries = book ? r.array(book, "entries", "data.character_book").map((e, i) => readEntry(r, e, joinPath("data.character_book.entries", i))) : [];
  const parley = Object.hasOwn(cardExtensions, PARLEY_CARD_EXTENSION) ? r.object(cardExtensions.parley, "data.extensions.parley") : undefined;
  if (parley) r.knownFields(parley, "data.extensions.parley", PARLEY_FIELDS);
  r.throwIfAny(`invalid Character Card V2${name ? ` "${name}"` : ""}`);

  // What the card keeps that Parley has no field for (empty standard fields are left out: export
  // writes them anyway, and a Parley character made from a card stays uncluttered).
  const kept: JsonObject = omit(clone(data), MAPPED_DATA_FIELDS);
  for (const [f, empty] of Object.entries(KEPT_DEFAULTS)) if (same(kept[f], empty)) delete kept[f];
  const originals: JsonObject = {};
  for (const f of REFORMED_FIELDS) {
    if (exportReformed(f, importReformed(f, reformed[f], name)) !== reformed[f]) originals[f] = reformed[f];
  }
  if (alternateGreetings.length !== cardGreetings.length) originals.alternate_greetings = cardGreetings;
  const knowledge: LoreEntry[] = [];
  if (book) {
    const keptEntries = entries.map(({ raw, entry }) => {
      if (!entry.enabled || entry.content.trim() === "") return clone(raw);
      const keywords = usableKeys(entry.keys);
      knowledge.push({ keywords, text: entry.content, always: entry.constant === true, priority: entry.priority });
      // Keys stay only when blank ones were dropped; `constant` stays so export knows whether the card
      // wrote one. The fields V2 requires are filled in as export writes them, so that a character that
      // went out as a card and came back is the same character.
      const rest = omit(clone(raw), keywords.length === entry.keys.length ? ["keys", "content"] : ["content"]);
      return { ...rest, extensions: rest.extensions ?? {}, enabled: true, insertion_order: entry.priority };
    });
    const bookRest = omit(clone(book), ["entries"]);
    bookRest.extensions ??= {};
    if (!(knowledge.length > 0 && isPlain(bookRest) && keptEntries.every(isPlainEntry))) kept.character_book = { ...bookRest, entries: keptEntries };
  }
  const bookkeeping: JsonObject = {};
  if (Object.keys(originals).length > 0) bookkeeping.originals = originals;
  const unknownOuter = omit(clone(outer), ["spec", "spec_version", "data"]);
  if (Object.keys(unknownOuter).length > 0) bookkeeping.outer = unknownOuter;
  if (Object.keys(bookkeeping).length > 0) kept._parley = bookkeeping;

  const p = parley ?? {};
  const character = {
    schema: CHARACTER_SCHEMA,
    id: options.id ?? (typeof p.id === "string" ? p.id : idFromName(name)),
    name,
    role: p.role ?? CARD_DEFAULTS.role,
    description: plain.description,
    personality: importReformed("personality", reformed.personality, name),
    speakingStyle: p.speakingStyle ?? clone(CARD_DEFAULTS.speakingStyle),
    scenario: plain.scenario,
    systemPrompt: plain.system_prompt,
    postHistoryInstructions: plain.post_history_instructions,
    knowledge,
    goals: p.goals ?? [],
    secrets: p.secrets ?? [],
    relationships: p.relationships ?? [],
    greeting,
    alternateGreetings,
    examples: importReformed("mes_example", reformed.mes_example, name),
    mood: p.mood ?? CARD_DEFAULTS.mood,
    fallbackLines: p.fallbackLines ?? [],
    extensions: { ...omit(clone(cardExtensions), [PARLEY_CARD_EXTENSION]), ...(Object.keys(kept).length > 0 ? { [CARD_EXTENSION]: kept } : {}) },
  };
  try {
    return parseCharacter(character);
  } catch (e) {
    if (e instanceof PluginValidationError) {
      throw new PluginValidationError(`Character Card V2 "${name}" does not make a valid Parley character`, e.issues);
    }
    throw e;
  }
}

/** A book rebuilt from the knowledge alone writes exactly this: nothing worth keeping. */
const isPlain = (o: JsonObject) => same(o, {}) || same(o, { extensions: {} });
function isPlainEntry(o: JsonObject): boolean {
  return Object.entries(o).every(
    ([k, v]) =>
      (k === "extensions" && same(v, {})) ||
      (k === "enabled" && v === true) ||
      (k === "insertion_order" && typeof v === "number") ||
      (k === "constant" && v === true),
  );
}

interface ReadEntry {
  raw: JsonObject;
  entry: { keys: string[]; content: string; enabled: boolean; priority: number; constant?: boolean };
}

function readEntry(r: DocumentReader, value: unknown, path: string): ReadEntry {
  const raw = r.object(value, path) ?? {};
  const constant = Object.hasOwn(raw, "constant") ? r.boolean(raw, "constant", path) : undefined;
  if (Object.hasOwn(raw, "extensions")) r.record(raw, "extensions", path);
  if (Object.hasOwn(raw, "case_sensitive")) r.boolean(raw, "case_sensitive", path);
  if (Object.hasOwn(raw, "secondary_keys")) r.stringArray(raw, "secondary_keys", path);
  const order = Object.hasOwn(raw, "insertion_order") ? r.number(raw, "insertion_order", path) : undefined;
  const priority = Object.hasOwn(raw, "priority") ? r.number(raw, "priority", path) : undefined;
  return {
    raw,
    entry: {
      keys: r.stringArray(raw, "keys", path),
      content: r.string(raw, "content", path),
      enabled: r.boolean(raw, "enabled", path, { default: true }),
      priority: order ?? priority ?? 0,
      constant,
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Export

/** Writes a Parley character as a Character Card V2 (see the mapping at the top of this file). */
export function characterToCardV2(input: Character): CardV2 {
  const c = parseCharacter(input);
  const kept: JsonObject = isJsonObject(c.extensions[CARD_EXTENSION]) ? (c.extensions[CARD_EXTENSION] as JsonObject) : {};
  const bookkeeping: JsonObject = isJsonObject(kept._parley) ? kept._parley : {};
  const originals: JsonObject = isJsonObject(bookkeeping.originals) ? bookkeeping.originals : {};

  const current: Record<ReformedField, unknown> = { personality: c.personality, mes_example: c.examples };
  const reformed = (f: ReformedField): string => {
    const original = originals[f];
    if (typeof original === "string" && same(importReformed(f, original, c.name), current[f])) return original;
    return exportReformed(f, current[f]);
  };

  const extensions: JsonObject = omit(clone(c.extensions), [CARD_EXTENSION]);
  const parley = parleyFields(c);
  if (Object.keys(parley).length > 0) extensions[PARLEY_CARD_EXTENSION] = parley;

  const keptField = <T>(f: string): T => clone((Object.hasOwn(kept, f) ? kept[f] : KEPT_DEFAULTS[f]) as T);
  const data: CardV2Data = {
    name: c.name,
    description: c.description,
    personality: reformed("personality"),
    scenario: c.scenario,
    first_mes: c.greeting,
    mes_example: reformed("mes_example"),
    creator_notes: keptField("creator_notes"),
    system_prompt: c.systemPrompt,
    post_history_instructions: c.postHistoryInstructions,
    alternate_greetings: alternateGreetings(c, originals.alternate_greetings),
    tags: keptField("tags"),
    creator: keptField("creator"),
    character_version: keptField("character_version"),
    extensions,
  };
  // Data fields this spec version does not define (V3's among them), verbatim.
  for (const [f, value] of Object.entries(omit(kept, [...Object.keys(KEPT_DEFAULTS), ...MAPPED_DATA_FIELDS, "_parley"]))) data[f] = clone(value);
  const book = exportBook(c.knowledge, isJsonObject(kept.character_book) ? kept.character_book : undefined);
  if (book) data.character_book = book;

  // Top-level copies of the V1 fields (written by tools for V1 readers) follow the data they copy.
  const outer = isJsonObject(bookkeeping.outer) ? omit(clone(bookkeeping.outer), ["spec", "spec_version", "data"]) : {};
  for (const f of V1_FIELDS) if (Object.hasOwn(outer, f)) outer[f] = data[f];
  return { spec: CARD_V2_SPEC, spec_version: CARD_V2_VERSION, data, ...outer };
}

/** The card's own list (with its blank items) while Parley's is still that list without them. */
function alternateGreetings(c: Character, original: unknown): string[] {
  const list = Array.isArray(original) && original.every((g) => typeof g === "string") ? (original as string[]) : undefined;
  return list &&
    same(
      list.filter((g) => g.trim() !== ""),
      c.alternateGreetings,
    )
    ? [...list]
    : [...c.alternateGreetings];
}

/** The Parley fields that differ from what a plain card imports as. */
function parleyFields(c: Character): JsonObject {
  const out: JsonObject = {};
  if (c.id !== idFromName(c.name)) out.id = c.id;
  if (c.role !== CARD_DEFAULTS.role) out.role = c.role;
  if (!same(c.speakingStyle, CARD_DEFAULTS.speakingStyle)) out.speakingStyle = clone(c.speakingStyle);
  if (c.goals.length > 0) out.goals = clone(c.goals);
  if (c.secrets.length > 0) out.secrets = clone(c.secrets);
  if (c.relationships.length > 0) out.relationships = clone(c.relationships);
  if (c.mood !== CARD_DEFAULTS.mood) out.mood = c.mood;
  if (c.fallbackLines.length > 0) out.fallbackLines = clone(c.fallbackLines);
  return out;
}

function exportBook(knowledge: readonly LoreEntry[], kept: JsonObject | undefined): CharacterBook | undefined {
  if (!kept && knowledge.length === 0) return undefined;
  const keptEntries = kept && Array.isArray(kept.entries) ? kept.entries.filter(isJsonObject) : [];
  const entries: CharacterBookEntry[] = [];
  let next = 0;
  for (const rest of keptEntries) {
    // A kept entry with its content is one that was not knowledge (switched off, or empty): written whole.
    if (Object.hasOwn(rest, "content")) entries.push(clone(rest) as CharacterBookEntry);
    else if (next < knowledge.length) entries.push(exportEntry(knowledge[next++], rest)); // else deleted in Parley
  }
  while (next < knowledge.length) entries.push(exportEntry(knowledge[next++], {}));
  return { ...omit(clone(kept ?? {}), ["entries"]), extensions: clone(kept?.extensions as JsonObject | undefined) ?? {}, entries };
}

function exportEntry(lore: LoreEntry, rest: JsonObject): CharacterBookEntry {
  const keptKeys = Array.isArray(rest.keys) && rest.keys.every((k) => typeof k === "string") ? (rest.keys as string[]) : undefined;
  const entry: CharacterBookEntry = {
    keys: keptKeys && same(usableKeys(keptKeys), lore.keywords) ? [...keptKeys] : [...lore.keywords],
    content: lore.text,
    extensions: {},
    ...omit(clone(rest), ["keys", "content", "constant", "enabled", "insertion_order"]),
    enabled: true,
    insertion_order: lore.priority,
  };
  if (lore.always) entry.constant = true;
  else if (Object.hasOwn(rest, "constant")) entry.constant = false;
  return entry;
}
