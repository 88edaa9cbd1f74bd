// Loads `parley.character/1` documents: checks every field (collecting all problems, each named by its
// JSON path), fills the optional fields' defaults, and refuses unknown fields (typos) everywhere except
// inside `extensions`, which belongs to other tools.

import { DocumentReader, joinPath, PluginValidationError, type JsonObject } from "../errors.js";
import { CHARACTER_SCHEMA, type Character, type ExampleExchange, type LoreEntry, type Relationship, type Secret, type SpeakingStyle } from "../types.js";

export const CHARACTER_ID_PATTERN = /^[a-z0-9_-]+$/;
export const MAX_WORDS_LIMIT = 200;
export const DEFAULT_MOOD = "neutral";

/** Top-level fields in the order they are written. */
const CHARACTER_FIELDS = [
  "schema",
  "id",
  "name",
  "role",
  "description",
  "scenario",
  "personality",
  "speakingStyle",
  "knowledge",
  "goals",
  "secrets",
  "relationships",
  "greeting",
  "alternateGreetings",
  "examples",
  "systemPrompt",
  "postHistoryInstructions",
  "mood",
  "fallbackLines",
  "extensions",
] as const satisfies readonly (keyof Character)[];

/** Validates a parsed JSON document and returns the character with every default filled in. */
export function parseCharacter(json: unknown): Character {
  const r = new DocumentReader();
  const doc = r.object(json, "");
  if (!doc) throw new PluginValidationError("invalid character", r.issues);
  const subject = typeof doc.id === "string" ? `invalid character "${doc.id}"` : "invalid character";
  r.checkSchema(doc, CHARACTER_SCHEMA, "character", subject);
  r.knownFields(doc, "", CHARACTER_FIELDS);

  const character: Character = {
    schema: CHARACTER_SCHEMA,
    id: r.string(doc, "id", "", { pattern: CHARACTER_ID_PATTERN, patternHint: 'lowercase letters, digits, _ and - (like "old_tom")' }),
    name: r.string(doc, "name", "", { nonEmpty: true }),
    role: r.string(doc, "role", "", { nonEmpty: true }),
    description: r.string(doc, "description", ""),
    scenario: r.string(doc, "scenario", "", { default: "" }),
    personality: r.stringArray(doc, "personality", "", { nonEmptyItems: true }),
    speakingStyle: speakingStyle(r, doc),
    knowledge: list(r, doc, "knowledge", loreEntry),
    goals: r.stringArray(doc, "goals", "", { nonEmptyItems: true }),
    secrets: list(r, doc, "secrets", secret),
    relationships: list(r, doc, "relationships", relationship),
    greeting: r.string(doc, "greeting", "", { nonEmpty: true }),
    alternateGreetings: r.stringArray(doc, "alternateGreetings", "", { nonEmptyItems: true }),
    examples: list(r, doc, "examples", example),
    systemPrompt: r.string(doc, "systemPrompt", "", { default: "" }),
    postHistoryInstructions: r.string(doc, "postHistoryInstructions", "", { default: "" }),
    mood: r.string(doc, "mood", "", { default: DEFAULT_MOOD, nonEmpty: true }),
    fallbackLines: r.stringArray(doc, "fallbackLines", "", { nonEmptyItems: true }),
    extensions: r.json(r.record(doc, "extensions", ""), "extensions") as Record<string, unknown>,
  };
  r.throwIfAny(subject);
  return character;
}

/** Stable JSON for a character: fields in schema order, defaults written out, 2-space indent, final newline. */
export function serializeCharacter(character: Character): string {
  // Validating first means the editor can never write a file the game would refuse to load.
  return JSON.stringify(parseCharacter(character), null, 2) + "\n";
}

function list<T>(r: DocumentReader, doc: JsonObject, key: string, item: (r: DocumentReader, value: JsonObject, path: string) => T): T[] {
  const out: T[] = [];
  r.array(doc, key, "", { optional: true }).forEach((value, i) => {
    const path = joinPath(key, i);
    const obj = r.object(value, path);
    if (obj) out.push(item(r, obj, path));
  });
  return out;
}

function speakingStyle(r: DocumentReader, doc: JsonObject): SpeakingStyle {
  if (!Object.hasOwn(doc, "speakingStyle")) r.add("speakingStyle", `required, like { "description": "short sentences", "maxWords": 40 }`);
  const obj = Object.hasOwn(doc, "speakingStyle") ? r.object(doc.speakingStyle, "speakingStyle") : undefined;
  if (!obj) return { description: "", maxWords: 1 };
  r.knownFields(obj, "speakingStyle", ["description", "maxWords"]);
  return {
    description: r.string(obj, "description", "speakingStyle", { default: "" }),
    maxWords: r.number(obj, "maxWords", "speakingStyle", { integer: true, min: 1, max: MAX_WORDS_LIMIT }),
  };
}

function loreEntry(r: DocumentReader, obj: JsonObject, path: string): LoreEntry {
  r.knownFields(obj, path, ["keywords", "text", "always", "priority"]);
  return {
    keywords: r.stringArray(obj, "keywords", path, { nonEmptyItems: true }),
    text: r.string(obj, "text", path, { nonEmpty: true }),
    always: r.boolean(obj, "always", path, { default: false }),
    priority: r.number(obj, "priority", path, { default: 0 }),
  };
}

function secret(r: DocumentReader, obj: JsonObject, path: string): Secret {
  r.knownFields(obj, path, ["text", "leakPatterns"]);
  return {
    text: r.string(obj, "text", path, { nonEmpty: true }),
    leakPatterns: r.stringArray(obj, "leakPatterns", path, { nonEmptyItems: true }),
  };
}

function relationship(r: DocumentReader, obj: JsonObject, path: string): Relationship {
  r.knownFields(obj, path, ["target", "attitude", "description"]);
  return {
    target: r.string(obj, "target", path, { pattern: CHARACTER_ID_PATTERN, patternHint: '"player" or a character id' }),
    attitude: r.string(obj, "attitude", path, { nonEmpty: true }),
    description: r.string(obj, "description", path, { default: "" }),
  };
}

function example(r: DocumentReader, obj: JsonObject, path: string): ExampleExchange {
  r.knownFields(obj, path, ["player", "npc"]);
  return {
    // An empty player line is an NPC speaking unprompted.
    player: r.string(obj, "player", path),
    npc: r.string(obj, "npc", path, { nonEmpty: true }),
  };
}
