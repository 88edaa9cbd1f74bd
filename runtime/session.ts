// Session: one conversation's KV cache on the device. evaluate() feeds tokens; generate() streams a reply.
//
// The session remembers which tokens its KV cache holds. A new prompt that starts with the same tokens
// (a persona prefix, the conversation so far) only evaluates what is new.

import type { ChatMessage } from "./chat-template.js";
import { ContextOverflowError, DisposedError, InvalidArgumentError, ParleyError } from "./errors.js";
import type { Model } from "./model.js";
import { EvalMode, nativeAsync, native, type NativeModel, type NativeSession } from "./native.js";
import { Sampler, type SamplingOptions } from "./sampler.js";
import { StopStringMatcher } from "./stop-strings.js";
import { StreamingDetokenizer } from "./tokenizer/detokenizer.js";

export interface SessionOptions {
  /** Tokens the KV cache holds (prompt + reply). Default: min(model context, 2048). */
  contextSize?: number;
  /** Tokens evaluated per GPU step during prefill. Default 64. */
  ubatch?: number;
}

export interface GenerateOptions extends SamplingOptions {
  /** Stop after this many generated tokens. Default 256. */
  maxTokens?: number;
  /** Stop when the text contains one of these (the stop string is not returned). */
  stop?: string[];
  /** Cancels generation; the iterator then throws an AbortError. */
  signal?: AbortSignal;
  /** Plain-text prompts only: parse `<s>`/`</s>` in the prompt as control tokens. Default false. */
  parseSpecial?: boolean;
  /** Plain-text prompts only: start with BOS. Default: the model's add_bos_token. */
  addBos?: boolean;
}

export type FinishReason = "eos" | "stop" | "length" | "context";

export interface GenerateTimings {
  promptTokens: number;
  /** Prompt tokens found in the KV cache already (not evaluated again). */
  cachedTokens: number;
  promptMs: number;
  generatedTokens: number;
  generateMs: number;
  /** From the call to the first generated token. */
  firstTokenMs: number;
}

export interface GenerateChunk {
  /** Text completed by this chunk (may be empty while a multi-byte character or possible stop string is pending). */
  text: string;
  /** Token ids generated in this chunk. */
  tokens: number[];
  /** Set on the last chunk. */
  finishReason?: FinishReason;
  timings?: GenerateTimings;
}

export class AbortError extends ParleyError {
  constructor() {
    super("ABORTED", "generation was aborted");
    this.name = "AbortError";
  }
}

export class Session {
  readonly model: Model;
  readonly contextSize: number;
  #native: NativeSession | undefined;
  #history: number[] = []; // tokens whose keys/values are in the cache, by position
  #busy: Promise<unknown> = Promise.resolve();
  readonly #onDispose: () => void;

  private constructor(model: Model, nativeSession: NativeSession, contextSize: number, onDispose: () => void) {
    this.model = model;
    this.#native = nativeSession;
    this.contextSize = contextSize;
    this.#onDispose = onDispose;
  }

  /** @internal Use Model.createSession. */
  static create(model: Model, nativeModel: NativeModel, options: SessionOptions & { contextSize: number }, onDispose: () => void): Session {
    const ubatch = options.ubatch ?? 64;
    if (!Number.isInteger(ubatch) || ubatch < 1 || ubatch > 4096) throw new InvalidArgumentError(`ubatch must be an integer in 1..4096, got ${ubatch}`);
    const s = native(() => nativeModel.createSession(options.contextSize, ubatch));
    return new Session(model, s, options.contextSize, onDispose);
  }

  /** Tokens currently held in the KV cache. */
  get tokens(): readonly number[] {
    return this.#history;
  }

  /** Dispatches and barriers recorded for one decode step (deterministic speed proxies). */
  plan(): { dispatches: number; barriers: number; weightBytes: number } {
    return { ...this.#live().plan(), weightBytes: this.model.weightBytes };
  }

  get deviceBytes(): number {
    return this.#live().deviceBytes;
  }

  /** Forgets the cached tokens. */
  reset(): void {
    this.#history = [];
  }

  /**
   * Appends tokens to the cache and evaluates them. Returns the logits of the last token
   * (`logits: "last"`, default), of every token (`"all"`: rows of vocabulary size, concatenated), or
   * only the greedy next token (`"none"`).
   */
  async evaluate(tokens: readonly number[], options: { logits?: "last" | "all" | "none" } = {}): Promise<{ logits?: Float32Array; argmax: number }> {
    return this.#exclusive(() => this.#evaluate(tokens, options.logits ?? "last"));
  }

  async #evaluate(tokens: readonly number[], logits: "last" | "all" | "none"): Promise<{ logits?: Float32Array; argmax: number }> {
    const s = this.#live();
    if (tokens.length === 0) throw new InvalidArgumentError("evaluate needs at least one token");
    if (this.#history.length + tokens.length > this.contextSize) {
      throw new ContextOverflowError(
        `${this.#history.length} cached + ${tokens.length} new tokens exceed the session's context of ${this.contextSize} tokens`,
      );
    }
    const mode = logits === "all" ? EvalMode.allLogits : logits === "last" ? EvalMode.lastLogits : EvalMode.argmax;
    const r = await nativeAsync(() => s.eval(Int32Array.from(tokens), this.#history.length, mode));
    this.#history.push(...tokens);
    return { logits: r.logits, argmax: r.argmax };
  }

  /**
   * Streams a reply. `input` is a plain prompt string, prompt token ids, or chat messages (rendered with
   * the model's chat template; message contents never become control tokens).
   */
  async *generate(input: string | readonly number[] | readonly ChatMessage[], options: GenerateOptions = {}): AsyncGenerator<GenerateChunk> {
    const release = await this.#acquire();
    try {
      yield* this.#generate(input, options);
    } finally {
      release();
    }
  }

  async *#generate(input: string | readonly number[] | readonly ChatMessage[], options: GenerateOptions): AsyncGenerator<GenerateChunk> {
    const t0 = performance.now();
    const maxTokens = options.maxTokens ?? 256;
    if (!Number.isInteger(maxTokens) || maxTokens < 0) throw new InvalidArgumentError(`maxTokens must be a non-negative integer, got ${maxTokens}`);
    const prompt = this.#promptTokens(input, options);
    if (prompt.length === 0) throw new InvalidArgumentError("the prompt is empty");
    if (prompt.length >= this.contextSize) {
      throw new ContextOverflowError(`the prompt has ${prompt.length} tokens; the session's context holds ${this.contextSize} (prompt + reply)`);
    }
    const sampler = new Sampler(options);
    const o = sampler.options;
    const gpuArgmax = sampler.isGreedy && o.repeatPenalty === 1 && o.frequencyPenalty === 0 && o.presencePenalty === 0;
    const logitsMode = gpuArgmax ? "none" : "last";
    const detok = new StreamingDetokenizer(this.model.tokenizer);
    const stops = new StopStringMatcher(options.stop ?? []);
    const abort = () => {
      if (options.signal?.aborted) throw new AbortError();
    };
    abort();

    // Reuse the cached prefix; always evaluate at least the last prompt token to get its logits.
    let cached = 0;
    while (cached < prompt.length - 1 && cached < this.#history.length && this.#history[cached] === prompt[cached]) cached++;
    this.#history.length = cached;
    let step = await this.#evaluate(prompt.slice(cached), logitsMode);
    const promptMs = performance.now() - t0;
    const tGen = performance.now();
    let firstTokenMs = 0;
    const generated: number[] = [];
    const recent = [...prompt];
    let finishReason: FinishReason = "length";

    while (generated.length < maxTokens) {
      abort();
      const token = gpuArgmax ? step.argmax : sampler.sample(step.logits!, recent);
      if (generated.length === 0) firstTokenMs = performance.now() - t0;
      if (this.model.tokenizer.isEog(token)) {
        finishReason = "eos";
        break;
      }
      generated.push(token);
      recent.push(token);
      const { emit, stopped } = stops.push(detok.push(token));
      if (stopped) {
        finishReason = "stop";
        if (emit) yield { text: emit, tokens: [token] };
        else yield { text: "", tokens: [token] };
        break;
      }
      if (generated.length >= maxTokens) {
        yield { text: emit, tokens: [token] };
        break;
      }
      if (this.#history.length >= this.contextSize) {
        finishReason = "context";
        yield { text: emit, tokens: [token] };
        break;
      }
      // Feed the token back while the caller handles this chunk.
      const next = this.#evaluate([token], logitsMode);
      yield { text: emit, tokens: [token] };
      step = await next;
    }
    const tail = finishReason === "stop" ? "" : stops.push(detok.flush()).emit + stops.flush();
    yield {
      text: tail,
      tokens: [],
      finishReason,
      timings: {
        promptTokens: prompt.length,
        cachedTokens: cached,
        promptMs,
        generatedTokens: generated.length,
        generateMs: performance.now() - tGen,
        firstTokenMs: generated.length > 0 || finishReason === "eos" ? firstTokenMs : 0,
      },
    };
  }

  #promptTokens(input: string | readonly number[] | readonly ChatMessage[], options: GenerateOptions): number[] {
    if (typeof input === "string") return this.model.tokenize(input, { addBos: options.addBos, parseSpecial: options.parseSpecial ?? false });
    if (input.length > 0 && typeof input[0] === "object") return this.model.tokenizeChat(input as readonly ChatMessage[]);
    const ids = [...(input as readonly number[])];
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.model.info.vocabularySize) throw new InvalidArgumentError(`token id ${id} is outside the vocabulary`);
    }
    return ids;
  }

  get disposed(): boolean {
    return this.#native === undefined;
  }

  /** Frees the KV cache. Waits for an evaluation in flight before releasing device memory. */
  dispose(): void {
    const s = this.#native;
    if (!s) return;
    this.#native = undefined;
    this.#onDispose();
    void this.#busy.finally(() => s.dispose());
  }

  #live(): NativeSession {
    if (!this.#native) throw new DisposedError("Session");
    return this.#native;
  }

  // One operation at a time per session: evaluate() and generate() queue behind each other.
  async #acquire(): Promise<() => void> {
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const previous = this.#busy;
    this.#busy = previous.then(() => mine);
    await previous;
    return release;
  }

  async #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.#acquire();
    try {
      return await fn();
    } finally {
      release();
    }
  }
}
