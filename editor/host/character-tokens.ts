// Token counts for the character form: how many tokens each field of a character takes, and its whole
// persona prefix as the prompt builder writes it (buildPersonaPrefix: the part of every prompt that never
// changes during play), against the project's context size. Counted with Parley's own Llama tokenizer
// (runtime/tokenizer, llama.cpp's SentencePiece rules) over the bundled Llama 2 vocabulary, which is the
// vocabulary of TinyLlama and the other Llama 2 family models Parley runs, so the numbers are the ones
// the model will see, not a characters-per-token estimate.

import { parseCharacter } from "../../plugin/character/validate.js";
import { isJsonObject, joinPath, PluginValidationError } from "../../plugin/errors.js";
import { buildPersonaPrefix } from "../../plugin/prompt/prompt-builder.js";
import { llama2Tokenizer } from "../../runtime/synth/vocab.js";
import { LlamaTokenizer } from "../../runtime/tokenizer/tokenizer.js";

export const TOKENIZER_NAME = "Llama 2 (TinyLlama) tokenizer";

export interface CharacterTokenCounts {
  /** Which tokenizer counted. */
  tokenizer: string;
  /** Tokens of each text of the character, by its JSON path ("description", "knowledge[0].text"). */
  fields: Record<string, number>;
  /** The persona prefix's tokens, or null while the character has problems (the prompt builder needs a valid one). */
  persona: number | null;
  /** The project's context size: what the whole prompt (persona, lore, memory, turns, reply) must fit in. */
  contextSize: number;
}

/** Fields that never reach a prompt: ids and data kept for other tools. */
const NOT_PROMPTED = new Set(["schema", "id", "extensions"]);

export { llama2Tokenizer };

/**
 * Counts a character as the form holds it: any JSON (a character being typed may not be valid yet; its
 * texts are counted all the same), with the persona prefix once it is valid.
 */
export function countCharacterTokens(json: unknown, contextSize: number, tokenizer: LlamaTokenizer = llama2Tokenizer()): CharacterTokenCounts {
  const count = (text: string): number => (text === "" ? 0 : tokenizer.encode(text, { addBos: false }).length);
  const fields: Record<string, number> = {};
  const walk = (value: unknown, path: string): void => {
    if (typeof value === "string") fields[path] = count(value);
    else if (Array.isArray(value)) value.forEach((item, i) => walk(item, joinPath(path, i)));
    else if (isJsonObject(value)) for (const [key, item] of Object.entries(value)) walk(item, joinPath(path, key));
  };
  if (isJsonObject(json)) for (const [key, value] of Object.entries(json)) if (!NOT_PROMPTED.has(key)) walk(value, joinPath("", key));

  let persona: number | null = null;
  try {
    persona = count(buildPersonaPrefix(parseCharacter(json)));
  } catch (error) {
    if (!(error instanceof PluginValidationError)) throw error;
  }
  return { tokenizer: TOKENIZER_NAME, fields, persona, contextSize };
}
