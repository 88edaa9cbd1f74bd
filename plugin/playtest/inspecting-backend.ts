// A DialogueBackend that passes every call through to the real one and reports, for each generation, the exact
// messages the model was given and what each part of them costs in tokens, counted with the model's own
// tokenizer. The editor's playtest shows this beside each generated line ("why did the model say that").

import type { ChatMessage } from "../../runtime/index.js";
import type { ChooseRequest, ChooseResult, DialogueBackend, GenerateRequest } from "../backend.js";
import type { PromptParts } from "../prompt/prompt-builder.js";

export type PromptPartName =
  "persona" | "scenario" | "systemPrompt" | "mood" | "lore" | "world" | "memory" | "history" | "player" | "postHistory" | "instruction";

export interface PromptPartReport {
  part: PromptPartName;
  /** The part's text as it is in the prompt (turns one per line). */
  text: string;
  /** Its tokens under the model's tokenizer (without chat-template markers). */
  tokens: number;
}

export interface PromptReport {
  /** The messages exactly as sent. */
  messages: ChatMessage[];
  /** Each part that is not empty, in prompt order. */
  parts: PromptPartReport[];
  /** Tokens of the rendered chat (template markers and generation prompt included). */
  totalTokens: number;
  /** The sampling seed of this attempt. */
  seed: number | undefined;
  /** Tokens the reply may take. */
  maxTokens: number;
}

const ORDER: PromptPartName[] = ["persona", "scenario", "systemPrompt", "mood", "lore", "world", "memory", "history", "player", "postHistory", "instruction"];

/** Each non-empty part with its token count. */
export function reportParts(parts: PromptParts, countTokens: (text: string) => number): PromptPartReport[] {
  return ORDER.flatMap((part) => {
    const value = parts[part];
    const text = Array.isArray(value) ? value.join("\n") : value;
    if (text === "") return [];
    // Turn lists are counted turn by turn: each turn is its own message in the prompt.
    const tokens = Array.isArray(value) ? value.reduce((n, turn) => n + countTokens(turn), 0) : countTokens(text);
    return [{ part, text, tokens }];
  });
}

export class InspectingBackend implements DialogueBackend {
  readonly #inner: DialogueBackend;
  readonly #onPrompt: (report: PromptReport) => void;

  constructor(inner: DialogueBackend, onPrompt: (report: PromptReport) => void) {
    this.#inner = inner;
    this.#onPrompt = onPrompt;
  }

  get description(): string {
    return this.#inner.description;
  }

  get canGenerate(): boolean {
    return this.#inner.canGenerate;
  }

  get contextSize(): number {
    return this.#inner.contextSize;
  }

  countTokens(text: string): number {
    return this.#inner.countTokens(text);
  }

  countChatTokens(messages: ChatMessage[]): number {
    return this.#inner.countChatTokens(messages);
  }

  generate(request: GenerateRequest): AsyncIterable<string> {
    this.#onPrompt({
      messages: request.messages.map((m) => ({ ...m })),
      parts: request.parts ? reportParts(request.parts, (text) => this.#inner.countTokens(text)) : [],
      totalTokens: this.#inner.countChatTokens(request.messages),
      seed: request.sampling.seed,
      maxTokens: request.sampling.maxTokens,
    });
    return this.#inner.generate(request);
  }

  choose(request: ChooseRequest): Promise<ChooseResult> {
    return this.#inner.choose(request);
  }
}
