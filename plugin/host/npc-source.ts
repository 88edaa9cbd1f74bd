// Where a host's NPCs come from: each NPC is a character and the dialogue graph a conversation with it runs.
// `NpcList` holds NPCs a game passes in code; `ProjectNpcs` (project-npcs.ts) reads them from a project folder
// in the editor's format.

import { InvalidArgumentError } from "../../runtime/index.js";
import { parseCharacter } from "../character/validate.js";
import { parseDialogueGraph } from "../dialogue/validate.js";
import type { Character, DialogueGraph } from "../types.js";

export interface NpcData {
  character: Character;
  graph: DialogueGraph;
}

/** What the host asks of its NPCs' source. */
export interface NpcSource {
  /** The NPC ids (character ids), in a stable order. */
  ids(): string[];
  /** The NPC's character and graph as they are now; undefined for an unknown id. */
  get(id: string): NpcData | undefined;
  /** Takes changed files before a conversation starts (a no-op for sources that never change). */
  refresh(): Promise<void>;
  close(): void;
}

/** A character and its graph as a game passes them: parsed objects or their JSON values. */
export interface NpcDefinition {
  character: Character | unknown;
  graph: DialogueGraph | unknown;
}

/** NPCs given in code: validated once, never changing. */
export class NpcList implements NpcSource {
  readonly #npcs = new Map<string, NpcData>();

  /** Validates every character and graph; a problem is a PluginValidationError / InvalidArgumentError naming the NPC. */
  constructor(definitions: readonly NpcDefinition[]) {
    if (!Array.isArray(definitions) || definitions.length === 0) throw new InvalidArgumentError("npcs must be a non-empty array of {character, graph}");
    definitions.forEach((definition, i) => {
      if (typeof definition !== "object" || definition === null) throw new InvalidArgumentError(`npcs[${i}] must be {character, graph}`);
      const character = parseCharacter(definition.character);
      const graph = parseDialogueGraph(definition.graph);
      if (graph.character !== character.id) {
        throw new InvalidArgumentError(`npcs[${i}]: graph "${graph.id}" is for character "${graph.character}", not "${character.id}"`);
      }
      if (this.#npcs.has(character.id)) throw new InvalidArgumentError(`npcs[${i}]: a second NPC with the id "${character.id}"`);
      this.#npcs.set(character.id, { character, graph });
    });
  }

  ids(): string[] {
    return [...this.#npcs.keys()];
  }

  get(id: string): NpcData | undefined {
    return this.#npcs.get(id);
  }

  refresh(): Promise<void> {
    return Promise.resolve();
  }

  close(): void {}
}
