// Character Card V2 (https://github.com/malfoyslastname/character-card-spec-v2) import and export, so
// characters made in SillyTavern, chub.ai and friends become Parley NPCs and go back out again.
//
// Mapping, card → Parley:
//   name → name;  description → description;  personality ("gruff, kind, loud") → personality traits;
//   first_mes → greeting;  mes_example (<START> blocks of `{{user}}:` / `{{char}}:` lines) → examples;
//   character_book entries → knowledge (keys → keywords, content → text, constant → always,
//   insertion_order → priority; disabled entries are not used, only kept for export);
//   data.extensions → extensions (unknown ones such as depth_prompt or fav untouched, both ways);
//   data.extensions.parley → the Parley fields a card has no place for (role, speakingStyle, goals,
//   secrets, relationships, mood, fallbackLines, id) — export writes it when they differ from the defaults.
// `{{char}}` (and the legacy `<BOT>`) becomes the character's name and `{{user}}` (`<USER>`) "the player"
// (or `options.user`), since Parley's prompts speak of the player directly.
//
// Everything else is kept in `extensions.chara_card_v2`, so card → character → card is exact:
//   - data fields with no Parley home, verbatim: scenario, system_prompt, post_history_instructions,
//     creator_notes, alternate_greetings, tags, creator, character_version, and any unknown data field;
//   - character_book: the book's own fields and, per entry, the entry fields with no Parley home;
//   - _parley: import bookkeeping — `originals` (a mapped text whose import cannot be undone exactly: it
//     wrote the name literally, or its examples did not follow the one-pair-per-<START> form), `user`
//     (the import's `user` option when not the default) and `outer` (unknown top-level card fields).
// On export a mapped field comes from its original text while the Parley value still equals what that text
// imports as; once edited in Parley, it is written from the Parley value with the name turned back into
// `{{char}}` and the player into `{{user}}`.

import { DocumentReader, isJsonObject, joinPath, PluginValidationError, type JsonObject } from "../errors.js";
import type { Character, ExampleExchange, LoreEntry } from "../types.js";
import { CHARACTER_SCHEMA } from "../types.js";
import { DEFAULT_MOOD, parseCharacter } from "./validate.js";

export const CARD_V2_SPEC = "chara_card_v2";
export const CARD_V2_VERSION = "2.0";
/** Extension key under which a card's fields with no Parley home are kept. */
export const CARD_V2_EXTENSION = "chara_card_v2";
/** Extension key (in the card) for Parley's own fields. */
export const PARLEY_CARD_EXTENSION = "parley";
/** What `{{user}}` becomes by default. */
export const DEFAULT_USER = "the player";
/** Defaults for fields a card has no place for. */
export const CARD_DEFAULTS = { role: "character", speakingStyle: { description: "", maxWords: 60 }, mood: DEFAULT_MOOD } as const;

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
  /** What `{{user}}` becomes. Default "the player". */
  user?: string;
}

export interface CardExportOptions {
  /** The text turned back into `{{user}}`. Default: the import's `user`, else "the player". */
  user?: string;
}

/** Data fields Parley maps to its own; every other data field is kept verbatim. */
const MAPPED_DATA_FIELDS = ["name", "description", "personality", "first_mes", "mes_example", "character_book", "extensions"];
/** Text fields whose original may be kept in `_parley.originals`. */
const TEXT_FIELDS = ["description", "personality", "first_mes", "mes_example"] as const;
type TextField = (typeof TEXT_FIELDS)[number];
/** Data fields every V2 card has, with the value written when a character has none. */
const UNMAPPED_DEFAULTS: Record<string, unknown> = {
  scenario: "",
  creator_notes: "",
  system_prompt: "",
  post_history_instructions: "",
  alternate_greetings: [],
  tags: [],
  creator: "",
  character_version: "",
};
/** Entry fields Parley maps (`keys`, `content`, `constant`, `insertion_order`) or implies (`enabled`). */
const MAPPED_ENTRY_FIELDS = ["keys", "content", "constant", "insertion_order", "enabled"];
const PARLEY_FIELDS = ["id", "role", "speakingStyle", "goals", "secrets", "relationships", "mood", "fallbackLines"] as const;

// ---------------------------------------------------------------------------------------------------
// Text conversions

/** `{{char}}`/`<BOT>` → name and `{{user}}`/`<USER>` → user. */
class Macros {
  constructor(
    readonly name: string,
    readonly user: string,
  ) {}

  expand(text: string): string {
    return text.replace(/\{\{char\}\}|<BOT>/gi, () => this.name).replace(/\{\{user\}\}|<USER>/gi, () => this.user);
  }

  /** The name back to `{{char}}` and the user to `{{user}}`, as whole words. */
  collapse(text: string): string {
    let out = text.replace(wholeWord(this.name), "{{char}}");
    if (this.user.trim() !== "") out = out.replace(wholeWord(this.user), "{{user}}");
    return out;
  }

  /** What a mapped card text becomes in Parley. */
  importText(field: TextField, text: string): unknown {
    switch (field) {
      case "personality":
        return splitTraits(this.expand(text));
      case "mes_example":
        return parseExamples(text, this.name).map((e) => ({ player: this.expand(e.player), npc: this.expand(e.npc) }));
      default:
        return this.expand(text);
    }
  }

  /** What a Parley value is written as in a card (when no original text applies). */
  exportText(field: TextField, value: unknown): string {
    switch (field) {
      case "personality":
        return this.collapse((value as string[]).join(", "));
      case "mes_example":
        return formatExamples((value as ExampleExchange[]).map((e) => ({ player: this.collapse(e.player), npc: this.collapse(e.npc) })));
      default:
        return this.collapse(value as string);
    }
  }
}

function wholeWord(text: string): RegExp {
  const escaped = text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`(?<![\\p{L}\\p{N}_])${escaped}(?![\\p{L}\\p{N}_])`, "gu");
}

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

function omit(obj: JsonObject, keys: readonly string[]): JsonObject {
  return Object.fromEntries(Object.entries(obj).filter(([k]) => !keys.includes(k)));
}

// ---------------------------------------------------------------------------------------------------
// Import

/** Reads a Character Card V2 (parsed JSON) as a Parley character. */
export function characterFromCardV2(card: unknown, options: CardImportOptions = {}): Character {
  const r = new DocumentReader();
  const outer = r.object(card, "");
  if (!outer) throw new PluginValidationError("invalid Character Card V2", r.issues);
  if (outer.spec !== CARD_V2_SPEC || outer.spec_version !== CARD_V2_VERSION) {
    const found = outer.spec === undefined ? "no spec field" : `spec ${JSON.stringify(outer.spec)} version ${JSON.stringify(outer.spec_version)}`;
    r.add(outer.spec === CARD_V2_SPEC ? "spec_version" : "spec", `unsupported card: ${found} (Parley reads spec "${CARD_V2_SPEC}", spec_version "${CARD_V2_VERSION}")`);
    r.throwIfAny("invalid Character Card V2");
  }
  const data = Object.hasOwn(outer, "data") ? r.object(outer.data, "data") : (r.add("data", "required"), undefined);
  if (!data) throw new PluginValidationError("invalid Character Card V2", r.issues);

  // Shape checks, with the card's own paths. Absent fields read as empty: many cards in the wild omit some.
  const name = r.string(data, "name", "data", { nonEmpty: true });
  const texts = Object.fromEntries(TEXT_FIELDS.map((f) => [f, r.string(data, f, "data", { default: "" })])) as Record<TextField, string>;
  if (typeof (data.first_mes ?? "") === "string" && texts.first_mes.trim() === "") r.add("data.first_mes", "a Parley character needs a greeting, and this card's first_mes is empty");
  for (const f of ["scenario", "creator_notes", "system_prompt", "post_history_instructions", "creator", "character_version"]) r.string(data, f, "data", { default: "" });
  for (const f of ["alternate_greetings", "tags"]) r.stringArray(data, f, "data");
  const cardExtensions = r.record(data, "extensions", "data");
  if (Object.hasOwn(cardExtensions, CARD_V2_EXTENSION)) r.add(joinPath("data.extensions", CARD_V2_EXTENSION), "reserved: Parley keeps the card's own fields there");
  const book = Object.hasOwn(data, "character_book") ? r.object(data.character_book, "data.character_book") : undefined;
  const entries = book ? r.array(book, "entries", "data.character_book").map((e, i) => readEntry(r, e, joinPath("data.character_book.entries", i))) : [];
  const parley = Object.hasOwn(cardExtensions, PARLEY_CARD_EXTENSION) ? r.object(cardExtensions.parley, "data.extensions.parley") : undefined;
  if (parley) r.knownFields(parley, "data.extensions.parley", PARLEY_FIELDS);
  r.throwIfAny(`invalid Character Card V2${name ? ` "${name}"` : ""}`);

  const user = options.user ?? DEFAULT_USER;
  const macros = new Macros(name, user);

  // What the card keeps that Parley has no field for (empty standard fields are left out: export
  // writes them anyway, and a Parley character made from a card stays uncluttered).
  const kept: JsonObject = omit(clone(data), MAPPED_DATA_FIELDS);
  for (const [f, empty] of Object.entries(UNMAPPED_DEFAULTS)) if (same(kept[f], empty)) delete kept[f];
  const originals: JsonObject = {};
  for (const f of TEXT_FIELDS) {
    if (macros.exportText(f, macros.importText(f, texts[f])) !== texts[f]) originals[f] = texts[f];
  }
  const knowledge: LoreEntry[] = [];
  if (book) {
    const keptEntries = entries.map(({ raw, entry }) => {
      if (!entry.enabled) return clone(raw);
      knowledge.push({ keywords: [...entry.keys], text: macros.expand(entry.content), always: entry.constant === true, priority: entry.insertion_order });
      const rest = omit(clone(raw), MAPPED_ENTRY_FIELDS);
      if (raw.constant === false) rest.constant = false; // written back as is; an absent `constant` stays absent
      if (macros.collapse(macros.expand(entry.content)) !== entry.content) rest.content = entry.content;
      return rest;
    });
    const bookRest = omit(clone(book), ["entries"]);
    // A plain book (nothing but empty extensions) is rebuilt from the knowledge alone.
    const plain = (o: JsonObject) => same(o, { extensions: {} });
    if (!(knowledge.length > 0 && plain(bookRest) && keptEntries.every(plain))) kept.character_book = { ...bookRest, entries: keptEntries };
  }
  const bookkeeping: JsonObject = {};
  if (Object.keys(originals).length > 0) bookkeeping.originals = originals;
  if (options.user !== undefined && options.user !== DEFAULT_USER) bookkeeping.user = options.user;
  const unknownOuter = omit(clone(outer), ["spec", "spec_version", "data"]);
  if (Object.keys(unknownOuter).length > 0) bookkeeping.outer = unknownOuter;
  if (Object.keys(bookkeeping).length > 0) kept._parley = bookkeeping;

  const p = parley ?? {};
  const character = {
    schema: CHARACTER_SCHEMA,
    id: options.id ?? (typeof p.id === "string" ? p.id : idFromName(name)),
    name,
    role: p.role ?? CARD_DEFAULTS.role,
    description: macros.importText("description", texts.description),
    personality: macros.importText("personality", texts.personality),
    speakingStyle: p.speakingStyle ?? clone(CARD_DEFAULTS.speakingStyle),
    knowledge,
    goals: p.goals ?? [],
    secrets: p.secrets ?? [],
    relationships: p.relationships ?? [],
    greeting: macros.importText("first_mes", texts.first_mes),
    examples: macros.importText("mes_example", texts.mes_example),
    mood: p.mood ?? CARD_DEFAULTS.mood,
    fallbackLines: p.fallbackLines ?? [],
    extensions: { ...omit(clone(cardExtensions), [PARLEY_CARD_EXTENSION]), ...(Object.keys(kept).length > 0 ? { [CARD_V2_EXTENSION]: kept } : {}) },
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

interface ReadEntry {
  raw: JsonObject;
  entry: { keys: string[]; content: string; enabled: boolean; insertion_order: number; constant?: boolean };
}

function readEntry(r: DocumentReader, value: unknown, path: string): ReadEntry {
  const raw = r.object(value, path) ?? {};
  const constant = Object.hasOwn(raw, "constant") ? r.boolean(raw, "constant", path) : undefined;
  if (Object.hasOwn(raw, "extensions")) r.record(raw, "extensions", path);
  return {
    raw,
    entry: {
      keys: r.stringArray(raw, "keys", path),
      content: r.string(raw, "content", path),
      enabled: r.boolean(raw, "enabled", path, { default: true }),
      insertion_order: r.number(raw, "insertion_order", path, { default: 0 }),
      constant,
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Export

/** Writes a Parley character as a Character Card V2 (see the mapping at the top of this file). */
export function characterToCardV2(input: Character, options: CardExportOptions = {}): CardV2 {
  const c = parseCharacter(input);
  const kept: JsonObject = isJsonObject(c.extensions[CARD_V2_EXTENSION]) ? (c.extensions[CARD_V2_EXTENSION] as JsonObject) : {};
  const bookkeeping: JsonObject = isJsonObject(kept._parley) ? kept._parley : {};
  const originals: JsonObject = isJsonObject(bookkeeping.originals) ? bookkeeping.originals : {};
  const user = options.user ?? (typeof bookkeeping.user === "string" ? bookkeeping.user : DEFAULT_USER);
  const macros = new Macros(c.name, user);

  const current: Record<TextField, unknown> = { description: c.description, personality: c.personality, first_mes: c.greeting, mes_example: c.examples };
  const text = (f: TextField): string => {
    const original = originals[f];
    if (typeof original === "string" && same(macros.importText(f, original), current[f])) return original;
    return macros.exportText(f, current[f]);
  };

  const extensions: JsonObject = omit(clone(c.extensions), [CARD_V2_EXTENSION]);
  const parley = parleyFields(c);
  if (Object.keys(parley).length > 0) extensions[PARLEY_CARD_EXTENSION] = parley;

  const keptField = <T>(f: string): T => clone((Object.hasOwn(kept, f) ? kept[f] : UNMAPPED_DEFAULTS[f]) as T);
  const data: CardV2Data = {
    name: c.name,
    description: text("description"),
    personality: text("personality"),
    scenario: keptField("scenario"),
    first_mes: text("first_mes"),
    mes_example: text("mes_example"),
    creator_notes: keptField("creator_notes"),
    system_prompt: keptField("system_prompt"),
    post_history_instructions: keptField("post_history_instructions"),
    alternate_greetings: keptField("alternate_greetings"),
    tags: keptField("tags"),
    creator: keptField("creator"),
    character_version: keptField("character_version"),
    extensions,
  };
  // Data fields this spec version does not define, verbatim.
  for (const [f, value] of Object.entries(omit(kept, [...Object.keys(UNMAPPED_DEFAULTS), "character_book", "_parley"]))) data[f] = clone(value);
  const book = exportBook(c.knowledge, isJsonObject(kept.character_book) ? kept.character_book : undefined, macros);
  if (book) data.character_book = book;

  const outer = isJsonObject(bookkeeping.outer) ? clone(bookkeeping.outer) : {};
  return { spec: CARD_V2_SPEC, spec_version: CARD_V2_VERSION, data, ...omit(outer, ["spec", "spec_version", "data"]) };
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

function exportBook(knowledge: readonly LoreEntry[], kept: JsonObject | undefined, macros: Macros): CharacterBook | undefined {
  if (!kept && knowledge.length === 0) return undefined;
  const keptEntries = kept && Array.isArray(kept.entries) ? kept.entries.filter(isJsonObject) : [];
  const entries: CharacterBookEntry[] = [];
  let next = 0;
  for (const rest of keptEntries) {
    if (rest.enabled === false) entries.push(clone(rest) as CharacterBookEntry); // disabled: kept whole
    else if (next < knowledge.length) entries.push(exportEntry(knowledge[next++], rest, macros)); // else deleted in Parley
  }
  while (next < knowledge.length) entries.push(exportEntry(knowledge[next++], {}, macros));
  return { ...omit(clone(kept ?? {}), ["entries"]), extensions: clone(kept?.extensions as JsonObject | undefined) ?? {}, entries };
}

function exportEntry(lore: LoreEntry, rest: JsonObject, macros: Macros): CharacterBookEntry {
  const original = rest.content;
  const content = typeof original === "string" && macros.expand(original) === lore.text ? original : macros.collapse(lore.text);
  const entry: CharacterBookEntry = {
    keys: [...lore.keywords],
    content,
    extensions: {},
    enabled: true,
    insertion_order: lore.priority,
    ...omit(clone(rest), ["content", "constant"]),
  };
  if (lore.always) entry.constant = true;
  else if (Object.hasOwn(rest, "constant")) entry.constant = false;
  return entry;
}
