// The interface the dialogue runner talks to. LocalBackend (local-backend.ts) implements it on Parley's
// Vulkan runtime; FallbackBackend serves authored lines only (no model loaded). Tests run the runner on a
// tiny synthetic model through LocalBackend, not on a mock.

import type { ChatMessage, SamplingOptions } from "../runtime/index.js";
import type { LineTiming } from "./events.js";
import type { PromptParts } from "./prompt/prompt-builder.js";

export interface GenerateRequest {
  /** One KV cache per key (an NPC's conversation): a prompt that starts like the last one reuses it. */
  cacheKey: string;
  messages: ChatMessage[];
  sampling: SamplingOptions & { maxTokens: number; stop?: string[] };
  signal?: AbortSignal;
  /**
   * Receives the timing of this generation as the model produced it (request → first token → last token,
   * tokens generated) once it has ended, also when the caller stopped reading early. Backends that cannot
   * measure it never call it: speeds shown to players come from here, never from a clock around a stream
   * that guardrails may hold back or throw away.
   */
  onTimings?: (timing: LineTiming) => void;
  /**
   * What `messages` are made of, part by part (persona, lore, memory, …), when a prompt builder made them:
   * for inspectors such as the editor's playtest, which show each part's token count. Backends need not read it.
   */
  parts?: PromptParts;
}

export interface ChooseRequest {
  cacheKey: string;
  /** The chat so far; the options continue the assistant turn that follows it. */
  messages: ChatMessage[];
  /** Allowed continuations (intent ids, choice texts); the model may produce nothing else. */
  options: string[];
  signal?: AbortSignal;
}

export interface ChooseResult {
  index: number;
  /** Log-probability of each option's tokens under the model (same order as options). */
  logProbs: number[];
}

export interface DialogueBackend {
  /** Which model is running, for on-screen notes: "tinyllama-1.1b-chat Q4_0 on NVIDIA H200". */
  readonly description: string;
  /** False for FallbackBackend: the runner uses authored fallbacks. */
  readonly canGenerate: boolean;
  /** Tokens the model's context holds (prompt + reply). */
  readonly contextSize: number;
  /** Tokens `text` takes under the model's tokenizer (used for prompt budgets). */
  countTokens(text: string): number;
  /** Tokens the chat takes once rendered with the model's chat template (generation prompt included). */
  countChatTokens(messages: ChatMessage[]): number;
  /** Streams the assistant's reply. Text chunks never split a character. */
  generate(request: GenerateRequest): AsyncIterable<string>;
  /** Constrained decoding: which option the model continues the assistant turn with. */
  choose(request: ChooseRequest): Promise<ChooseResult>;
}
