// Turns an authored instruction into a generated NPC line: builds the prompt (persona prefix, lore,
// world, memory, the conversation so far, fitted to the context), streams the model's reply through
// the guardrails (length, stop strings, secrets, banned topics) and falls back to the authored line.
// Also classifies the player's words into authored intents by constrained decoding.

import { AbortError } from "../../runtime/index.js";
import type { SamplingOptions } from "../../runtime/index.js";
import type { LineTiming } from "../events.js";
import type { DialogueBackend } from "../backend.js";
import { guardedReply, stopStrings } from "../guardrails/guardrails.js";
import type { NpcMemory } from "../memory/memory.js";
import { DEFAULT_PLAYER_NAME, resolveCharacterMacros } from "../prompt/macros.js";
import { buildPrompt } from "../prompt/prompt-builder.js";
import type { Character, Intent, Value } from "../types.js";

/** The instruction that asks the model for an intent id (the demo model's corpus trains on exactly this). */
export function intentInstruction(intents: readonly Pick<Intent, "id" | "description">[]): string {
  const list = intents.map((i) => `- ${i.id}: ${i.description}`).join("\n");
  return `Decide what the player means by their last words. Answer with exactly one of these ids:\n${list}`;
}

/**
 * How a line is sampled apart from its temperature (LineGeneratorOptions) and seed (one per attempt): the
 * runtime's chain keeping the 40 likeliest tokens, then the nucleus of 0.95, then those at least 0.05 as
 * likely as the likeliest. Top-k under 64 lets the GPU loop draw the tokens on the device.
 */
export const LINE_SAMPLING = { topK: 40, topP: 0.95, minP: 0.05 } as const satisfies SamplingOptions;

export interface ConversationTurn {
  speaker: "player" | "npc";
  text: string;
}

export interface LineGeneratorOptions {
  character: Character;
  backend: DialogueBackend;
  world?: () => Record<string, Value> | string;
  memory?: NpcMemory;
  banned: string[];
  /** Ids a line must not consist of (the graph's intent ids). */
  identifiers?: readonly string[];
  temperature: number;
  /** The backend's KV cache key for this NPC (the persona prefix is reused across lines). */
  cacheKey: string;
  /** The player's name for `{{user}}` in the character's texts, read at each line; undefined: not known. */
  playerName?: () => string | undefined;
}

export interface LineRequest {
  instruction: string;
  maxWords: number;
  fallback: string;
  /** This conversation so far; a final player turn is what the line answers. */
  turns: readonly ConversationTurn[];
  seed: number;
  signal: AbortSignal;
}

export interface GeneratedLine {
  text: string;
  source: "generated" | "fallback";
  /** The timing of the attempt that produced a generated line, when the backend measures it. */
  timing?: LineTiming;
}

export class LineGenerator {
  readonly memory: NpcMemory | undefined;
  #o: LineGeneratorOptions;

  constructor(options: LineGeneratorOptions) {
    this.#o = options;
    this.memory = options.memory;
  }

  /** Never throws but for an abort: any failure (the prompt does not fit, the model errs) gives the fallback. */
  async generate(request: LineRequest, sink: { onChunk: (text: string) => void; onReset: () => void }): Promise<GeneratedLine> {
    try {
      return await this.#generate(request, sink);
    } catch (e) {
      if (request.signal.aborted || e instanceof AbortError) throw e;
      this.lastError = e;
      return { text: request.fallback, source: "fallback" };
    }
  }

  /** The last failure that turned a generated line into its fallback (for logs and the editor). */
  lastError: unknown;

  async #generate(request: LineRequest, sink: { onChunk: (text: string) => void; onReset: () => void }): Promise<GeneratedLine> {
    const { character, backend } = this.#o;
    const turns = [...request.turns];
    const playerText = turns.at(-1)?.speaker === "player" ? turns.pop()!.text : undefined;
    // Tokens reserved for the reply: words run ~1.3 tokens in English; keep headroom for the guardrails' cut.
    const replyTokens = Math.min(512, Math.ceil(request.maxWords * 2) + 16);
    const userName = this.#o.playerName?.()?.trim() || undefined;
    const prompt = buildPrompt({
      userName,
      character,
      graphInstruction: request.instruction,
      world: this.#o.world?.(),
      memory: this.memory,
      recentTurns: turns,
      playerText,
      backend,
      replyTokens,
      maxWords: request.maxWords,
    });
    // A named player is one more label the model could start the player's line with.
    const stop = stopStrings(userName ? { playerNames: ["Player", userName] } : {});
    let timing: LineTiming | undefined;
    const result = await guardedReply(
      (attempt) =>
        backend.generate({
          onTimings: (t) => (timing = t),
          cacheKey: this.#o.cacheKey,
          messages: prompt.messages,
          parts: prompt.parts,
          sampling: { ...LINE_SAMPLING, temperature: this.#o.temperature, seed: (request.seed + attempt * 7919) >>> 0, maxTokens: replyTokens, stop },
          signal: request.signal,
        }),
      {
        // The secrets and leak patterns as the prompt states them, macros resolved.
        character: resolveCharacterMacros(character, userName || DEFAULT_PLAYER_NAME),
        maxWords: request.maxWords,
        banned: this.#o.banned,
        identifiers: this.#o.identifiers,
        fallback: () => request.fallback,
        stop,
        signal: request.signal,
        onEvent: (e) => (e.type === "text" ? sink.onChunk(e.text) : sink.onReset()),
      },
    );
    return result.source === "generated" ? { text: result.text, source: "generated", timing } : { text: result.text, source: "fallback" };
  }

  /** The model's judgement of which authored intent the player's words express: it may only answer with an intent id. */
  async classify(
    playerText: string,
    intents: readonly Intent[],
    turns: readonly ConversationTurn[],
    signal: AbortSignal,
  ): Promise<{ index: number; logProbs: number[] }> {
    if (signal.aborted) throw new AbortError();
    const prompt = buildPrompt({
      character: this.#o.character,
      userName: this.#o.playerName?.()?.trim() || undefined,
      graphInstruction: intentInstruction(intents),
      memory: this.memory,
      recentTurns: turns.at(-1)?.speaker === "player" ? turns.slice(0, -1) : turns,
      playerText,
      backend: this.#o.backend,
      replyTokens: 16,
    });
    const r = await this.#o.backend.choose({ cacheKey: this.#o.cacheKey, messages: prompt.messages, options: intents.map((i) => i.id), signal });
    return { index: r.index, logProbs: r.logProbs };
  }
}
