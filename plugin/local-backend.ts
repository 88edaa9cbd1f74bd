// DialogueBackend implementations: LocalBackend runs Parley's Vulkan runtime (one Session — one KV cache — per
// cacheKey, least recently used evicted); FallbackBackend has no model (the runner uses authored lines).

import { basename } from "node:path";
import { AbortError, InvalidArgumentError, ParleyError } from "../runtime/index.js";
import type { ChatMessage, FinishReason, GenerateChunk, GenerateTimings, Model, Session } from "../runtime/index.js";
import type { LineTiming } from "./events.js";
import type { ChooseRequest, ChooseResult, DialogueBackend, GenerateRequest } from "./backend.js";

export interface LocalBackendOptions {
  /** Tokens per session's KV cache (prompt + reply). Default 2048, capped by the model's training context. */
  contextSize?: number;
  /** Sessions (KV caches) kept at once; the least recently used is disposed beyond it. Default 4. */
  maxSessions?: number;
  /** Prefill batch size passed to sessions. Default: the runtime's. */
  ubatch?: number;
  /** Device name for `description` (e.g. runtime.device.name); a Model does not know its device. */
  device?: string;
}

/** Timings of the last finished generate() call. */
export interface LastGeneration {
  cacheKey: string;
  timings: GenerateTimings;
  finishReason: FinishReason;
}

export class LocalBackend implements DialogueBackend {
  readonly model: Model;
  readonly description: string;
  readonly canGenerate = true;
  readonly contextSize: number;
  readonly maxSessions: number;
  /** Timings of the last generate() that ran to its end (for KV-cache reuse checks and on-screen notes). */
  lastGeneration: LastGeneration | undefined;
  readonly #ubatch: number | undefined;
  readonly #sessions = new Map<string, Session>(); // insertion order = recency (oldest first)
  readonly #inUse = new Map<string, number>();
  readonly #creating = new Map<string, Promise<Session>>(); // sessions being built on a worker thread, by cacheKey
  #disposed = false;
  #spare: Session | undefined; // made by prepare(), taken by the first conversation
  #preparing: Promise<void> | undefined;

  constructor(model: Model, options: LocalBackendOptions = {}) {
    const contextSize = options.contextSize ?? 2048;
    if (!Number.isInteger(contextSize) || contextSize < 16)
      throw new InvalidArgumentError(`LocalBackend: contextSize must be an integer ≥ 16, got ${contextSize}`);
    const maxSessions = options.maxSessions ?? 4;
    if (!Number.isInteger(maxSessions) || maxSessions < 1)
      throw new InvalidArgumentError(`LocalBackend: maxSessions must be a positive integer, got ${maxSessions}`);
    this.model = model;
    this.contextSize = Math.min(contextSize, model.info.contextLength);
    this.maxSessions = maxSessions;
    this.#ubatch = options.ubatch;
    this.description = describe(model, options.device);
  }

  /**
   * Creates the first conversation's session now, on a worker thread, so the first line an NPC speaks does not
   * create it on the game's thread: a session's creation builds the model's GPU pipelines, and on a player's first
   * launch (no pipeline cache yet) the driver compiles each one — a frozen frame if it happened mid-game (how long
   * on a GPU is not measured yet; llama.cpp's first request on an H200 takes seconds, mostly such compiling). Call
   * it behind the loading screen, after `model.tune()`; calling it again does nothing, unless the last call failed.
   */
  prepare(): Promise<void> {
    if (this.#disposed) return Promise.reject(disposedError());
    this.#preparing ??= (async () => {
      if (this.#sessions.size > 0 || this.#creating.size > 0) return; // a conversation already builds the pipelines
      const session = await this.model.createSessionAsync(this.#sessionOptions());
      if (this.#disposed) session.dispose();
      else this.#spare = session;
    })().catch((error: unknown) => {
      this.#preparing = undefined; // a later call tries again
      throw error;
    });
    return this.#preparing;
  }

  /** Timings of the last finished generation. */
  get lastTimings(): GenerateTimings | undefined {
    return this.lastGeneration?.timings;
  }

  /** Conversations' sessions (KV caches) alive; prepare()'s session counts once a conversation takes it. */
  get sessionCount(): number {
    return this.#sessions.size;
  }

  countTokens(text: string): number {
    return this.model.tokenize(text, { addBos: false }).length;
  }

  countChatTokens(messages: ChatMessage[]): number {
    return this.model.tokenizeChat(messages).length;
  }

  async *generate(request: GenerateRequest): AsyncGenerator<string> {
    const { maxTokens } = request.sampling;
    if (!Number.isInteger(maxTokens) || maxTokens < 1)
      throw new InvalidArgumentError(`generate: sampling.maxTokens must be a positive integer, got ${maxTokens}`);
    if (request.signal?.aborted) throw new AbortError();
    // Our own signal: a consumer that stops early (break / return()) must not leave the session with a
    // token evaluation in flight, so we abort and let the session's loop finish on its own terms.
    // Forwarded from before the session is acquired: a cancel while it is built must not be missed.
    const controller = new AbortController();
    const forward = (): void => controller.abort();
    request.signal?.addEventListener("abort", forward, { once: true });
    let session: Session;
    try {
      session = await this.#acquire(request.cacheKey);
    } catch (error) {
      request.signal?.removeEventListener("abort", forward);
      throw error;
    }
    if (controller.signal.aborted) {
      request.signal?.removeEventListener("abort", forward);
      this.#release(request.cacheKey);
      throw new AbortError();
    }
    // The request's sampling settings go to the session as they are (it checks them and fills in defaults).
    const it = session.generate(request.messages, { ...request.sampling, signal: controller.signal })[Symbol.asyncIterator]();
    let finished = false;
    const clock = new GenerationClock();
    try {
      for (;;) {
        const r = await it.next();
        if (r.done) {
          finished = true;
          break;
        }
        const chunk = r.value;
        clock.seen(chunk);
        if (chunk.timings) this.lastGeneration = { cacheKey: request.cacheKey, timings: chunk.timings, finishReason: chunk.finishReason ?? "length" };
        if (chunk.text) yield chunk.text;
      }
    } catch (error) {
      finished = true; // the session's generator has ended (typed error, AbortError on abort)
      throw error;
    } finally {
      request.signal?.removeEventListener("abort", forward);
      if (!finished) {
        controller.abort();
        try {
          // Resumes the session's loop: it awaits its in-flight evaluation, then sees the abort and ends.
          for (let r = await it.next(); !r.done; r = await it.next()) clock.seen(r.value);
        } catch {
          /* AbortError expected */
        }
      }
      this.#release(request.cacheKey);
      const timing = clock.timing();
      if (timing) request.onTimings?.(timing);
    }
  }

  async choose(request: ChooseRequest): Promise<ChooseResult> {
    if (request.options.length === 0) throw new InvalidArgumentError("choose needs at least one option");
    const session = await this.#acquire(request.cacheKey);
    try {
      const r = await session.choose(request.messages, request.options, { signal: request.signal });
      return { index: r.index, logProbs: r.logProbs };
    } finally {
      this.#release(request.cacheKey);
    }
  }

  /** Disposes one conversation's KV cache. */
  forget(cacheKey: string): void {
    const s = this.#sessions.get(cacheKey);
    if (!s) return;
    this.#sessions.delete(cacheKey);
    s.dispose();
  }

  dispose(): void {
    this.#disposed = true;
    for (const s of this.#sessions.values()) s.dispose();
    this.#sessions.clear();
    this.#spare?.dispose();
    this.#spare = undefined;
  }

  /**
   * The conversation's session, claimed (counted in use, so never evicted) until #release. A new conversation's
   * session is built on a worker thread (createSessionAsync): its KV cache allocation and command recording
   * would otherwise stall the game's thread for a few milliseconds (~5 ms for a 2048-token TinyLlama session on
   * lavapipe). Requests for a key whose session is still being built wait for that one.
   */
  async #acquire(cacheKey: string): Promise<Session> {
    if (this.#disposed) throw disposedError();
    if (typeof cacheKey !== "string" || cacheKey === "") throw new InvalidArgumentError("cacheKey must be a non-empty string");
    this.#inUse.set(cacheKey, (this.#inUse.get(cacheKey) ?? 0) + 1);
    try {
      // prepare() still building the first session: take that one rather than build a second beside it.
      if (this.#preparing && !this.#spare && this.#sessions.size === 0) await this.#preparing.catch(() => undefined);
      for (;;) {
        if (this.#disposed) throw disposedError();
        const pending = this.#creating.get(cacheKey);
        if (pending) {
          await pending.catch(() => undefined); // its own request reports a failure; look again either way
          continue;
        }
        const existing = this.#sessions.get(cacheKey);
        this.#sessions.delete(cacheKey); // re-inserted below as the most recent
        if (existing && !existing.disposed) {
          this.#sessions.set(cacheKey, existing);
          return existing;
        }
        return await this.#create(cacheKey);
      }
    } catch (error) {
      this.#release(cacheKey);
      throw error;
    }
  }

  async #create(cacheKey: string): Promise<Session> {
    // Evict least recently used sessions that are idle; sessions still being built count as alive.
    for (const [key, s] of this.#sessions) {
      if (this.#sessions.size + this.#creating.size < this.maxSessions) break;
      if ((this.#inUse.get(key) ?? 0) > 0) continue;
      this.#sessions.delete(key);
      s.dispose();
    }
    const spare = this.#spare && !this.#spare.disposed ? this.#spare : undefined;
    this.#spare = undefined;
    const creation = spare ? Promise.resolve(spare) : this.model.createSessionAsync(this.#sessionOptions());
    this.#creating.set(cacheKey, creation);
    let session: Session;
    try {
      session = await creation;
    } finally {
      this.#creating.delete(cacheKey);
    }
    if (this.#disposed) {
      session.dispose();
      throw disposedError();
    }
    this.#sessions.set(cacheKey, session);
    return session;
  }

  #sessionOptions(): { contextSize: number; ubatch: number | undefined } {
    return { contextSize: this.contextSize, ubatch: this.#ubatch };
  }

  #release(cacheKey: string): void {
    const n = (this.#inUse.get(cacheKey) ?? 1) - 1;
    if (n <= 0) this.#inUse.delete(cacheKey);
    else this.#inUse.set(cacheKey, n);
  }
}

/**
 * The timing of one generation as the session produced it: the session's own timings when it ran to its end;
 * when the caller stopped it early (the guardrails had enough words), the arrival of its token chunks.
 */
class GenerationClock {
  readonly #t0 = performance.now();
  #tokens = 0;
  #first = -1;
  #last = -1;
  #own: LineTiming | undefined;

  seen(chunk: GenerateChunk): void {
    if (chunk.tokens.length > 0) {
      const now = performance.now() - this.#t0;
      if (this.#first < 0) this.#first = now;
      this.#last = now;
      this.#tokens += chunk.tokens.length;
    }
    const t = chunk.timings;
    if (t) this.#own = { firstTokenMs: t.firstTokenMs, totalMs: t.promptMs + t.generateMs, tokens: t.generatedTokens };
  }

  timing(): LineTiming | undefined {
    if (this.#own) return this.#own.tokens > 0 ? this.#own : undefined;
    return this.#tokens > 0 ? { firstTokenMs: this.#first, totalMs: this.#last, tokens: this.#tokens } : undefined;
  }
}

const disposedError = (): ParleyError => new ParleyError("DISPOSED", "LocalBackend was disposed and cannot be used any more");

function describe(model: Model, device: string | undefined): string {
  const info = model.info;
  const name = info.name ?? basename(info.path).replace(/\.gguf$/i, "");
  // The main weight type: the most frequent tensor type other than F32 (norms are F32 in every file).
  const types = Object.entries(info.tensorTypes).sort((a, b) => b[1] - a[1]);
  const main = types.find(([t]) => t !== "F32")?.[0] ?? types[0]?.[0];
  return `${name}${main ? ` ${main}` : ""}${device ? ` on ${device}` : ""}`;
}

/** No model loaded: generate throws NoModelError; choose picks the first option. */
export class NoModelError extends ParleyError {
  constructor() {
    super("INVALID_ARGUMENT", "no language model is loaded (FallbackBackend); use the authored fallback line");
    this.name = "NoModelError";
  }
}

export class FallbackBackend implements DialogueBackend {
  readonly description = "no model (authored lines only)";
  readonly canGenerate = false;
  readonly contextSize: number;

  constructor(options: { contextSize?: number } = {}) {
    this.contextSize = options.contextSize ?? 2048;
  }

  /** An estimate (about four characters a token): there is no tokenizer. */
  countTokens(text: string): number {
    return Math.ceil(text.length / 4);
  }

  countChatTokens(messages: ChatMessage[]): number {
    return messages.reduce((n, m) => n + 4 + this.countTokens(m.content), 4);
  }

  generate(_request: GenerateRequest): AsyncIterable<string> {
    throw new NoModelError();
  }

  async choose(request: ChooseRequest): Promise<ChooseResult> {
    if (request.options.length === 0) throw new InvalidArgumentError("choose needs at least one option");
    return { index: 0, logProbs: request.options.map(() => 0) };
  }
}
