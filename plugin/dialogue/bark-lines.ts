// Generated ambient barks for plugin/three's Barks: a short in-character line through the same prompt
// builder and guardrails as dialogue lines. A failed or unsafe bark yields nothing, and Barks then shows
// one of the character's authored fallback lines.

import type { DialogueBackend } from "../backend.js";
import type { Character, Value } from "../types.js";
import { LineGenerator } from "./line-generator.js";

export interface BarkLineOptions {
  /** Word limit of a bark. Default 12. */
  maxWords?: number;
  /** Default 0.9: barks should vary. */
  temperature?: number;
  world?: () => Record<string, Value> | string;
  instruction?: string;
  /** The player's name for `{{user}}` in the character's texts, when the game knows it. */
  playerName?: () => string | undefined;
}

const DEFAULT_INSTRUCTION =
  "The player walks past without stopping. Say one short line to them, in character: a greeting, a grumble or a remark about your work.";

export function barkLines(backend: DialogueBackend, options: BarkLineOptions = {}): (character: Character, signal: AbortSignal) => AsyncIterable<string> {
  let counter = 0;
  return async function* bark(character, signal) {
    const lines = new LineGenerator({
      character,
      backend,
      world: options.world,
      banned: [],
      temperature: options.temperature ?? 0.9,
      cacheKey: `npc:${character.id}`,
      playerName: options.playerName,
    });
    const result = await lines.generate(
      {
        instruction: options.instruction ?? DEFAULT_INSTRUCTION,
        maxWords: options.maxWords ?? 12,
        fallback: "",
        turns: [],
        seed: (Date.now() + ++counter) >>> 0,
        signal,
      },
      { onChunk: () => undefined, onReset: () => undefined },
    );
    if (result.source === "generated" && result.text.trim() !== "") yield result.text;
  };
}
