// GameSave: what a save slot keeps of the dialogue between conversations and between sessions — the graphs'
// variables and every NPC's memory — as one versioned JSON document (`parley.save/1`), written atomically.
//
//   const save = await GameSave.load("saves/slot-1.json");        // a missing file is a new game
//   const runner = new DialogueRunner({ graph, character, backend,
//     variables: save.variablesFor(graph), memory: save.memory(character.id) });
//   ... when it ends:  save.record(graph, runner.variables); await save.save("saves/slot-1.json");
//
// Scope: a variable whose name has a dot (`player.gold`, `world.day`) is game state shared by every graph —
// the gold Brom takes is gone at the inn too; any other name (`visits`, `met_smith`) belongs to its graph.
// A saved value whose type no longer matches the graph's declaration (the graph was edited) is left out,
// so the graph's default applies instead of an error mid-game.

import { InvalidArgumentError, writeFileAtomicDurable } from "../../runtime/index.js";
import { readJsonDocument } from "../json-document.js";
import { NpcMemory } from "../memory/memory.js";
import type { DialogueGraph, Value, VariableType } from "../types.js";

export const SAVE_SCHEMA = "parley.save/1";

export interface SaveDocument {
  schema: typeof SAVE_SCHEMA;
  /** ISO time of the last save. */
  savedAt: string;
  /** Variables with a dotted name, shared by every graph. */
  game: Record<string, Value>;
  /** Each graph's own variables, by graph id. */
  graphs: Record<string, Record<string, Value>>;
  /** Each character's memory document, by character id. */
  memories: Record<string, unknown>;
}

/** A save document is malformed: not JSON, another schema, or a field of the wrong type. */
export class SaveFormatError extends InvalidArgumentError {
  readonly path: string | undefined;
  constructor(message: string, path?: string) {
    super(path ? `save file ${path}: ${message}` : `save document: ${message}`);
    this.name = "SaveFormatError";
    this.path = path;
  }
}

/** Whether a variable is game state shared by every graph (a dotted name) rather than its graph's own. */
export function isSharedVariable(name: string): boolean {
  return name.includes(".");
}

function typeOf(value: Value): VariableType {
  return typeof value === "boolean" ? "bool" : typeof value === "number" ? "number" : "string";
}

function isValue(value: unknown): value is Value {
  return typeof value === "string" || typeof value === "boolean" || (typeof value === "number" && Number.isFinite(value));
}

export class GameSave {
  readonly #game = new Map<string, Value>();
  readonly #graphs = new Map<string, Map<string, Value>>();
  readonly #memories = new Map<string, NpcMemory>();

  /** Start values for a conversation on `graph`: every saved variable the graph declares with the same type. */
  variablesFor(graph: DialogueGraph): Record<string, Value> {
    const own = this.#graphs.get(graph.id);
    const out: Record<string, Value> = {};
    for (const [name, declared] of Object.entries(graph.variables)) {
      const value = isSharedVariable(name) ? this.#game.get(name) : own?.get(name);
      if (value !== undefined && typeOf(value) === declared.type) out[name] = value;
    }
    return out;
  }

  /** Keeps the variables a conversation on `graph` ended with (shared ones for every graph). */
  record(graph: DialogueGraph, variables: Readonly<Record<string, Value>>): void {
    let own = this.#graphs.get(graph.id);
    if (!own) this.#graphs.set(graph.id, (own = new Map()));
    for (const [name, value] of Object.entries(variables)) {
      if (!Object.hasOwn(graph.variables, name) || !isValue(value)) continue;
      if (isSharedVariable(name)) this.#game.set(name, value);
      else own.set(name, value);
    }
  }

  /** A shared (dotted) game variable, e.g. `player.gold`, or undefined when never recorded. */
  gameVariable(name: string): Value | undefined {
    return this.#game.get(name);
  }

  /** Sets a shared game variable from the game's side (the player found gold). */
  setGameVariable(name: string, value: Value): void {
    if (!isSharedVariable(name)) throw new InvalidArgumentError(`"${name}" is not a shared game variable: shared names have a dot (player.gold)`);
    if (!isValue(value))
      throw new InvalidArgumentError(`game variable "${name}": expected a string, a finite number or a boolean, got ${JSON.stringify(value)}`);
    this.#game.set(name, value);
  }

  /** The character's memory in this save (an empty one the first time). The same object every call. */
  memory(characterId: string): NpcMemory {
    let memory = this.#memories.get(characterId);
    if (!memory) this.#memories.set(characterId, (memory = new NpcMemory(characterId)));
    return memory;
  }

  toJSON(): SaveDocument {
    const sorted = <T>(entries: Iterable<[string, T]>): Record<string, T> => Object.fromEntries([...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    return {
      schema: SAVE_SCHEMA,
      savedAt: new Date().toISOString(),
      game: sorted(this.#game),
      graphs: sorted([...this.#graphs].map(([id, vars]) => [id, sorted(vars)] as [string, Record<string, Value>])),
      memories: sorted([...this.#memories].map(([id, m]) => [id, m.toJSON()] as [string, unknown])),
    };
  }

  static fromJSON(json: unknown, path?: string): GameSave {
    const fail = (message: string): never => {
      throw new SaveFormatError(message, path);
    };
    const object = (value: unknown, where: string): Record<string, unknown> => {
      if (value === null || typeof value !== "object" || Array.isArray(value)) fail(`${where} must be an object`);
      return value as Record<string, unknown>;
    };
    const doc = object(json, "the document");
    if (doc.schema !== SAVE_SCHEMA) {
      const other = typeof doc.schema === "string" && doc.schema.startsWith("parley.save/");
      fail(
        other
          ? `schema ${doc.schema} is not supported by this version (expected ${SAVE_SCHEMA})`
          : `schema is ${JSON.stringify(doc.schema)}, not ${SAVE_SCHEMA}`,
      );
    }
    const save = new GameSave();
    for (const [name, value] of Object.entries(object(doc.game ?? {}, '"game"'))) {
      if (!isValue(value)) fail(`game["${name}"] must be a string, a finite number or a boolean`);
      save.#game.set(name, value as Value);
    }
    for (const [graphId, vars] of Object.entries(object(doc.graphs ?? {}, '"graphs"'))) {
      const own = new Map<string, Value>();
      for (const [name, value] of Object.entries(object(vars, `graphs["${graphId}"]`))) {
        if (!isValue(value)) fail(`graphs["${graphId}"]["${name}"] must be a string, a finite number or a boolean`);
        own.set(name, value as Value);
      }
      save.#graphs.set(graphId, own);
    }
    for (const [characterId, memory] of Object.entries(object(doc.memories ?? {}, '"memories"'))) {
      try {
        const m = NpcMemory.fromJSON(memory);
        if (m.characterId !== characterId) fail(`memories["${characterId}"] is the memory of "${m.characterId}"`);
        save.#memories.set(characterId, m);
      } catch (error) {
        if (error instanceof SaveFormatError) throw error;
        fail(`memories["${characterId}"]: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    return save;
  }

  /** Writes the save atomically (a temporary file flushed, then renamed over): a crash never leaves half a save. */
  async save(path: string): Promise<void> {
    await writeFileAtomicDurable(path, JSON.stringify(this.toJSON(), null, 2) + "\n", "save");
  }

  /** Reads a save; a file that does not exist yet is a new game (an empty save). */
  static async load(path: string): Promise<GameSave> {
    const missing = Symbol("missing");
    const json = await readJsonDocument(path, { what: "save", corrupt: (m) => new SaveFormatError(m, path), missing: () => missing });
    return json === missing ? new GameSave() : GameSave.fromJSON(json, path);
  }
}
