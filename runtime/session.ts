// Session: one conversation's KV cache on the device. evaluate() feeds tokens; generate() streams a reply.
//
// The session remembers which tokens its KV cache holds. A new prompt that starts with the same tokens
// (a persona prefix, the conversation so far) only evaluates what is new.

import type { ChatMessage } from "./chat-template.js";
import { ContextOverflowError, DisposedError, InvalidArgumentError, ParleyError } from "./errors.js";
import type { Model } from "./model.js";
import {
  EvalMode,
  GPU_MAX_PENALTY_WINDOW,
  GPU_TOP_K,
  nativeAsync,
  nativeChainSampling,
  native,
  type ChainPlan,
  type DeviceInfo,
  type NativeModel,
  type NativeSession,
  type NativeTuning,
} from "./native.js";
import { hasPenalties, Sampler, type SamplingOptions } from "./sampler.js";
import { StopStringMatcher } from "./stop-strings.js";
import { StreamingDetokenizer } from "./tokenizer/detokenizer.js";
import { validateDecodeTuning, validatePrefillTuning, type DecodeTuning, type KernelTuning, type PrefillTuning } from "./tuning/settings.js";

export interface SessionOptions {
  /** Tokens the KV cache holds (prompt + reply). Default: min(model context, 2048). */
  contextSize?: number;
  /**
   * Tokens one prompt step evaluates (the micro-batch). Default: on GPUs 512 (llama.cpp's default), or the
   * context size when it is smaller (but at least 64); on CPU Vulkan drivers 64 (see defaultUbatch).
   */
  ubatch?: number;
  /**
   * Kernel set: "gpu" (decode: fused matrix-vector kernels, a subgroup per row with the RMSNorm and SwiGLU
   * fused in; prefill: a shared-memory tiled GEMM), "cpu" (one SIMD lane per row for both), or "auto"
   * (default: by device type — GPUs take "gpu"; CPU Vulkan drivers such as lavapipe take the fused decode
   * and a prefill through the matrix-vector kernels over token tiles, tuned for them). All compute the same
   * logits up to float rounding.
   */
  kernels?: "auto" | "gpu" | "cpu";
  /**
   * Kernel settings (see KernelTuning): `decode` for the decode matrix-vector kernels, `prefill` for the
   * prompt's matrix products. Default: the model's tuning (measured by Model.tune() or stored for this
   * device), else the device's built-in defaults; "default" asks for the built-in ones, and a part left out
   * takes the model's. `decode` has no effect with kernels "cpu", `prefill` only applies with kernels "auto".
   * The PARLEY_MATVEC_* / PARLEY_PREFILL* environment variables override it (for experiments).
   */
  tuning?: Partial<KernelTuning> | "default";
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
  /**
   * Generate on the GPU in chains, several tokens per queue submission (1, 2, 4, 8, then 16 at a time),
   * each step's token fed back on the device with no host round trip per token: greedy decoding feeds the
   * argmax back; sampling with top-k 1..63 draws on the GPU from its 64 most likely tokens, with the same
   * chain and random stream as the host sampler (so a seed gives the same reply; the GPU works in float32
   * where the host uses float64, which can only matter when a draw lands within rounding of a boundary
   * between two candidates); penalties over a window of at most 256 tokens are applied on the GPU too.
   * Tokens still stream one by one, and the finish reason and the tokens left in the cache are the same as
   * with one submission per token. Default true; false forces one submission per token (for comparison).
   * Other samplers (penalties over the whole history or more than 256 tokens, top-k 0 or ≥ 64) always go
   * one token at a time.
   */
  gpuLoop?: boolean;
}

/** Sizes of generate()'s GPU-resident chains: the first tokens stream quickly, later ones in bigger batches. */
export const GPU_LOOP_FIRST_CHAIN = 1;
export const GPU_LOOP_MAX_CHAIN = 16;
/** Device time a piece of a cancellable prompt should take (see #evaluatePrompt), and its size bounds in tokens. */
export const PROMPT_PIECE_MS = 250;
// The floor is the starting size: below it an evaluation's fixed cost dominates, so a smaller piece takes
// nearly as long (on a loaded CPU driver every piece then ran over the target and the size sank to 8 tokens,
// making a prompt several times slower than with 32-token pieces).
export const PROMPT_PIECE_MIN = 32;
export const PROMPT_PIECE_MAX = 512;

/**
 * Submissions generate()'s GPU loop makes for the tokens after the first (which comes from the
 * prompt's evaluation) of a `maxTokens`-token reply that is not cut short: chains of 1, 2, 4, 8, 16, 16, …
 */
export function gpuLoopSubmissions(maxTokens: number): number {
  let left = Math.max(0, maxTokens - 1);
  let size = GPU_LOOP_FIRST_CHAIN;
  let submissions = 0;
  while (left > 0) {
    left -= Math.min(size, left);
    size = Math.min(size * 2, GPU_LOOP_MAX_CHAIN);
    submissions++;
  }
  return submissions;
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

export interface ChooseOptions {
  signal?: AbortSignal;
}

export interface ChoiceResult {
  /** Index of the most likely option. */
  index: number;
  /** Natural-log probability of each option's tokens (with the end of turn, for chat input). */
  logProbs: number[];
  /** Each option's tokens as scored. */
  optionTokens: number[][];
}

export type LogitsMode = "last" | "all" | "top" | "none";

export interface EvaluateResult {
  logits?: Float32Array;
  argmax: number;
  topIds?: Int32Array;
  topLogits?: Float32Array;
}

/**
 * @internal (exported for tests) Samples from the GPU's top candidates. With top-k ≤ 64 and no penalties
 * the sampler's chain (top-k, top-p, min-p, temperature) only ever sees these candidates, so the result
 * equals sampling the full vocabulary. Candidates are put in id order so ties resolve to the lowest id, as
 * over the full logits.
 */
export function sampleTopCandidates(sampler: Sampler, step: EvaluateResult): number {
  const ids = step.topIds!;
  const order = Array.from(ids.keys()).sort((a, b) => ids[a] - ids[b]);
  const logits = Float32Array.from(order, (i) => step.topLogits![i]);
  return ids[order[sampler.sample(logits, [])]];
}

export class AbortError extends ParleyError {
  constructor() {
    super("ABORTED", "generation was aborted");
    this.name = "AbortError";
  }
}

/**
 * The prompt step's default length on `device` for a `contextSize`-token session. GPUs: 512, so that an
 * NPC's persona prompt is one step (each step is ~200 dependent dispatches, and a longer step gives the
 * matrix products more tiles to spread over the GPU), capped at the context (no grid longer than the cache
 * can hold) but not below 64. CPU Vulkan drivers: 64 — there every workgroup of a step's grid costs, used or
 * not, so a short prompt would pay for 512 tokens. Activation memory grows with it (README: ~78 KiB per
 * token of micro-batch for TinyLlama; logits are sized apart, Session::kLogitRows in native/src/session.h).
 */
export function defaultUbatch(device: Pick<DeviceInfo, "type">, contextSize: number): number {
  return device.type === "cpu" ? 64 : Math.min(512, Math.max(64, contextSize));
}

export class Session {
  readonly model: Model;
  readonly contextSize: number;
  #native: NativeSession | undefined;
  #history: number[] = []; // tokens whose keys/values are in the cache, by position
  /** Tokens per piece of a cancellable prompt, adapted to this device and model (#evaluatePrompt). */
  #pieceTokens = PROMPT_PIECE_MIN;
  #busy: Promise<unknown> = Promise.resolve();
  #inflight: Promise<unknown> | undefined; // generate()'s look-ahead evaluation, if one is running
  readonly #onDispose: () => void;

  private constructor(model: Model, nativeSession: NativeSession, contextSize: number, onDispose: () => void) {
    this.model = model;
    this.#native = nativeSession;
    this.contextSize = contextSize;
    this.#onDispose = onDispose;
  }

  /** @internal Use Model.createSession. */
  static create(model: Model, nativeModel: NativeModel, options: SessionOptions & { contextSize: number }, onDispose: () => void): Session {
    const args = Session.#nativeArgs(model, options);
    const s = native(() => nativeModel.createSession(...args));
    return new Session(model, s, options.contextSize, onDispose);
  }

  /** @internal Use Model.createSessionAsync. */
  static async createAsync(model: Model, nativeModel: NativeModel, options: SessionOptions & { contextSize: number }, onDispose: () => void): Promise<Session> {
    const args = Session.#nativeArgs(model, options);
    const s = await nativeAsync(() => nativeModel.createSessionAsync(...args));
    return new Session(model, s, options.contextSize, onDispose);
  }

  /** The native createSession arguments for `options`, checked (typed errors). */
  static #nativeArgs(model: Model, options: SessionOptions & { contextSize: number }): [number, number, number, Partial<NativeTuning>] {
    const ubatch = options.ubatch ?? defaultUbatch(model.device, options.contextSize);
    if (!Number.isInteger(ubatch) || ubatch < 1 || ubatch > 4096) throw new InvalidArgumentError(`ubatch must be an integer in 1..4096, got ${ubatch}`);
    const kernels = { auto: 0, gpu: 1, cpu: 2 }[options.kernels ?? "auto"];
    if (kernels === undefined) throw new InvalidArgumentError(`kernels must be "auto", "gpu" or "cpu", got ${String(options.kernels)}`);
    const t = options.tuning;
    if (t !== undefined && t !== "default" && (typeof t !== "object" || t === null)) {
      throw new InvalidArgumentError(`tuning must be an object or "default", got ${JSON.stringify(t)}`);
    }
    const decode = t === "default" ? undefined : t?.decode !== undefined ? validateDecodeTuning(t.decode) : model.tuning?.decode;
    const prefill = t === "default" ? undefined : t?.prefill !== undefined ? validatePrefillTuning(t.prefill) : model.tuning?.prefill;
    const tuning = { ...decode, ...(prefill ? { prefillKernel: prefill.kernel, prefillIntegerDot: prefill.integerDot } : {}) };
    return [options.contextSize, ubatch, kernels, tuning];
  }

  /** The kernel settings this session runs with (after its options, the model's tuning and the environment);
   * `decode` is null when its kernels do not use the matrix-vector decode (kernels "cpu"). */
  get tuning(): { decode: DecodeTuning | null; prefill: PrefillTuning } {
    const t = native(() => this.#live().tuning);
    const decode = { rowsPerSubgroup: t.rowsPerSubgroup, stageInput: t.stageInput, wideLoads: t.wideLoads, integerDot: t.integerDot };
    return { decode: t.matvecDecode ? decode : null, prefill: { kernel: t.prefillKernel, integerDot: t.prefillIntegerDot } };
  }

  /** Tokens currently held in the KV cache. */
  get tokens(): readonly number[] {
    return this.#history;
  }

  /**
   * Queue submissions this session has made: each one is a host round trip (submit, fence wait). A
   * deterministic proxy for per-token overhead: generate() with the greedy GPU loop needs far fewer.
   */
  get submits(): number {
    return this.#live().submits;
  }

  /**
   * @internal Greedy decoding on the GPU: appends `first` and its n-1 greedy continuations to the cache
   * in one queue submission and returns the n greedy tokens (the last of them is not in the cache), as
   * n calls of evaluate([token], { logits: "none" }) feeding each argmax back would. n in 1..64.
   */
  async decodeChain(first: number, n: number): Promise<number[]> {
    return this.#exclusive(async () => {
      const tokens = await this.#chain(first, n);
      this.#history.push(first, ...tokens.slice(0, -1));
      return tokens;
    });
  }

  /**
   * @internal Sampling on the GPU: as decodeChain, but each of the n tokens is drawn by `sampler` (top-k
   * 1..63, top-p, min-p, temperature; penalties over at most 256 tokens, greedy only with penalties) from
   * the GPU's top 64 candidates, continuing the sampler's random stream — as n evaluations sampled on the
   * host would.
   */
  async sampleChain(first: number, n: number, sampler: Sampler): Promise<number[]> {
    return this.#exclusive(async () => {
      const tokens = await this.#chain(first, n, sampler);
      this.#history.push(first, ...tokens.slice(0, -1));
      return tokens;
    });
  }

  // One native chain at the cache's end; leaves #history to the caller. With a sampler the chain samples on
  // the GPU, continuing the sampler's random stream, and leaves its generator where the chain's draws did.
  async #chain(first: number, n: number, sampler?: Sampler): Promise<number[]> {
    const s = this.#live();
    const pos = this.#history.length;
    // The addon checks n, the token and the context (typed errors), like eval.
    if (!sampler) return Array.from(await nativeAsync(() => s.decodeChain(first, pos, n)));
    const r = await nativeAsync(() => s.sampleChain(first, pos, n, nativeChainSampling(sampler.options, sampler.rngState, this.#history)));
    sampler.rngState = r.rng;
    return Array.from(r.tokens);
  }

  /** Dispatches and barriers recorded for one decode step (deterministic speed proxies), per token of the GPU
   * loop generate() runs (`chain`: the step and the advance that picks and embeds the next token, greedy or
   * sampled), and the distinct pipelines all of this session's recordings use (each one a shader compile on a
   * first launch). */
  plan(): { dispatches: number; barriers: number; pipelines: number; chain: ChainPlan; weightBytes: number } {
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
   * (`logits: "last"`, default), of every token (`"all"`: rows of vocabulary size, concatenated), the 64
   * most likely next tokens selected on the GPU (`"top"`: `topIds`/`topLogits`, unordered), or only the
   * greedy next token (`"none"`). `argmax` is always the greedy next token.
   */
  async evaluate(tokens: readonly number[], options: { logits?: LogitsMode } = {}): Promise<EvaluateResult> {
    return this.#exclusive(() => this.#evaluate(tokens, options.logits ?? "last"));
  }

  async #evaluate(tokens: readonly number[], logits: LogitsMode): Promise<EvaluateResult> {
    const s = this.#live();
    if (tokens.length === 0) throw new InvalidArgumentError("evaluate needs at least one token");
    if (this.#history.length + tokens.length > this.contextSize) {
      throw new ContextOverflowError(`${this.#history.length} cached + ${tokens.length} new tokens exceed the session's context of ${this.contextSize} tokens`);
    }
    const mode = { all: EvalMode.allLogits, last: EvalMode.lastLogits, top: EvalMode.topK, none: EvalMode.argmax }[logits];
    const r = await nativeAsync(() => s.eval(Int32Array.from(tokens), this.#history.length, mode));
    this.#history.push(...tokens);
    return { logits: r.logits, argmax: r.argmax, topIds: r.topIds, topLogits: r.topLogits };
  }

  /**
   * Makes the cache hold `prompt`, evaluating only what it does not hold yet (prefix reuse): the cached tokens
   * that match the prompt from its start stay, the rest of the cache is forgotten, and the prompt's remaining
   * tokens are evaluated. The prompt's last token is evaluated even when cached: its logits are needed.
   * Returns that evaluation and how many prompt tokens were reused.
   */
  async #evaluateAfterCachedPrefix(
    prompt: readonly number[],
    logits: LogitsMode,
    signal: AbortSignal | undefined,
  ): Promise<{ step: EvaluateResult; cached: number }> {
    const reusable = Math.min(prompt.length - 1, this.#history.length);
    let cached = 0;
    while (cached < reusable && this.#history[cached] === prompt[cached]) cached++;
    this.#history.length = cached; // the evaluation overwrites the keys and values beyond it
    const step = await this.#evaluatePrompt(prompt.slice(cached), logits, signal);
    return { step, cached };
  }

  /**
   * Evaluates a prompt that a signal may cancel: in pieces, checking the signal between them, so a cancel
   * waits for one piece at most instead of the whole prompt (a 600-token persona prompt takes over a second
   * on a CPU driver). Pieces are sized from the last one's measured time to take at most PROMPT_PIECE_MS:
   * large on a GPU (few submissions), small on a slow device (a prompt's cost per token grows with its
   * position, so a fixed size would not hold). Each evaluation also has a fixed cost (~0.1 s on lavapipe), so
   * sizing by a per-token rate would keep pieces too small to be efficient (8-token pieces made a 192-token
   * prompt 3-4× slower than one evaluation): the size doubles while a piece takes under half the target and
   * halves when one runs over. Without a signal it is one evaluation.
   */
  async #evaluatePrompt(tokens: readonly number[], logits: LogitsMode, signal: AbortSignal | undefined): Promise<EvaluateResult> {
    if (!signal) return this.#evaluate(tokens, logits);
    for (let at = 0; ;) {
      if (signal.aborted) throw new AbortError();
      const piece = tokens.slice(at, at + this.#pieceTokens);
      at += piece.length;
      if (at >= tokens.length) return this.#evaluate(piece, logits);
      const t0 = performance.now();
      await this.#evaluate(piece, "none");
      const ms = performance.now() - t0;
      if (ms < PROMPT_PIECE_MS / 2 && piece.length === this.#pieceTokens) this.#pieceTokens = Math.min(PROMPT_PIECE_MAX, this.#pieceTokens * 2);
      else if (ms > PROMPT_PIECE_MS) this.#pieceTokens = Math.max(PROMPT_PIECE_MIN, this.#pieceTokens >> 1);
    }
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
      // A caller that stops reading early (break) leaves the next token's evaluation in flight: wait
      // for it, so the next operation finds the session idle and its token list matches the cache.
      await this.#inflight?.catch(() => undefined);
      this.#inflight = undefined;
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
    // The sampling fields of `options`, checked and with defaults: every sampling path below reads these.
    const sampler = new Sampler(options);
    const settings = sampler.options;
    // Read back as little as the sampler needs: the greedy token, the GPU's top 64 candidates (when
    // the sampler keeps at most 64 and no penalty looks at other tokens), or all logits.
    const penalties = hasPenalties(settings);
    const gpuArgmax = sampler.isGreedy && !penalties;
    const gpuTopK = !sampler.isGreedy && !penalties && settings.topK > 0 && settings.topK <= GPU_TOP_K;
    const logitsMode: LogitsMode = gpuArgmax ? "none" : gpuTopK ? "top" : "last";
    if (options.gpuLoop !== undefined && typeof options.gpuLoop !== "boolean")
      throw new InvalidArgumentError(`gpuLoop must be a boolean, got ${String(options.gpuLoop)}`);
    const vocab = this.model.info.vocabularySize;
    // The GPU draws from its top 64 candidates exactly as sampleTopCandidates does when top-k keeps fewer
    // than all of them (top-k 64 would take the sampler's unsorted path, whose draw order differs).
    // Penalties run on the GPU too when their window is at most GPU_MAX_PENALTY_WINDOW tokens (greedy decoding
    // with penalties then takes the sampling loop at temperature 0).
    const gpuPenalties = penalties && settings.repeatLastN >= 1 && settings.repeatLastN <= GPU_MAX_PENALTY_WINDOW;
    const gpuSample = sampler.isGreedy ? gpuPenalties : settings.topK > 0 && settings.topK < Math.min(GPU_TOP_K, vocab) && (!penalties || gpuPenalties);
    const gpuLoop = (gpuArgmax || gpuSample) && (options.gpuLoop ?? true);
    const detok = new StreamingDetokenizer(this.model.tokenizer);
    const stops = new StopStringMatcher(options.stop ?? []);
    const abort = () => {
      if (options.signal?.aborted) throw new AbortError();
    };
    abort();

    const { step: promptStep, cached } = await this.#evaluateAfterCachedPrefix(prompt, logitsMode, options.signal);
    let step: EvaluateResult & { next?: number } = promptStep;
    const promptMs = performance.now() - t0;
    const tGen = performance.now();
    let firstTokenMs = 0;
    const generated: number[] = [];
    const recent = [...prompt];
    let finishReason: FinishReason = "length";

    // Feeds the generated token back. With the GPU loop a chain evaluates `token` and the tokens after it
    // (greedy or sampled on the GPU) in one submission; `ahead` keeps the ones not handed out yet.
    // #history only grows as the one-token path would grow it (one token per feed), so a stop, EOS or
    // limit leaves it exactly as that path does; the chain's KV beyond it is ignored and overwritten later.
    let ahead: number[] = [];
    let expected = -1; // the token the next entry of `ahead` follows
    let chainSize = GPU_LOOP_FIRST_CHAIN;
    const feed = async (token: number): Promise<EvaluateResult & { next?: number }> => {
      if (!gpuLoop || !Number.isInteger(token) || token < 0 || token >= vocab) return this.#evaluate([token], logitsMode);
      if (ahead.length === 0 || token !== expected) {
        const n = Math.min(chainSize, maxTokens - generated.length, this.contextSize - this.#history.length, GPU_LOOP_MAX_CHAIN);
        chainSize = Math.min(chainSize * 2, GPU_LOOP_MAX_CHAIN);
        ahead = await this.#chain(token, Math.max(1, n), gpuSample ? sampler : undefined);
      }
      this.#history.push(token);
      expected = ahead.shift()!;
      return { argmax: expected, next: expected };
    };

    while (generated.length < maxTokens) {
      abort();
      // `next`: the GPU loop already chose it (greedy or sampled on the device).
      const token = step.next ?? (gpuArgmax ? step.argmax : gpuTopK ? sampleTopCandidates(sampler, step) : sampler.sample(step.logits!, recent));
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
      const next = feed(token);
      this.#inflight = next;
      yield { text: emit, tokens: [token] };
      step = await next;
      this.#inflight = undefined;
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

  /**
   * Constrained decoding over a closed set: the model may only continue `input` with one of `options`
   * (intent ids, choice texts). Every option is scored exactly — the sum of its tokens' log-probabilities
   * after the prompt (for chat input the option is the assistant's whole turn, end of turn included, so
   * an option that is a prefix of another is still told apart) — and the most likely one is returned.
   * The prompt is evaluated once; options share its cached prefix.
   */
  async choose(
    input: string | readonly number[] | readonly ChatMessage[],
    options: readonly (string | readonly number[])[],
    choose: ChooseOptions = {},
  ): Promise<ChoiceResult> {
    if (options.length === 0) throw new InvalidArgumentError("choose needs at least one option");
    const release = await this.#acquire();
    try {
      const prompt = this.#promptTokens(input, {});
      const optionTokens = options.map((o) => this.#continuationTokens(input, prompt, o));
      for (const [i, t] of optionTokens.entries()) {
        if (t.length === 0) throw new InvalidArgumentError(`option ${i} is empty`);
      }
      const longest = Math.max(...optionTokens.map((t) => t.length));
      if (prompt.length + longest > this.contextSize) {
        throw new ContextOverflowError(`the prompt (${prompt.length} tokens) and the longest option (${longest}) exceed the context of ${this.contextSize}`);
      }
      const afterPrompt = (await this.#evaluateAfterCachedPrefix(prompt, "last", choose.signal)).step.logits!;
      const V = this.model.info.vocabularySize;
      const logProbs: number[] = [];
      for (const tokens of optionTokens) {
        if (choose.signal?.aborted) throw new AbortError();
        this.#history.length = prompt.length;
        // Row i of `rows` predicts tokens[i + 1]; the prompt's last row predicts tokens[0].
        const rows = tokens.length > 1 ? (await this.#evaluate(tokens.slice(0, -1), "all")).logits! : new Float32Array(0);
        let sum = logSoftmaxAt(afterPrompt, 0, V, tokens[0]);
        for (let i = 1; i < tokens.length; i++) sum += logSoftmaxAt(rows, (i - 1) * V, V, tokens[i]);
        logProbs.push(sum);
      }
      this.#history.length = prompt.length;
      let index = 0;
      for (let i = 1; i < logProbs.length; i++) if (logProbs[i] > logProbs[index]) index = i;
      return { index, logProbs, optionTokens };
    } finally {
      release();
    }
  }

  /** The tokens an option adds after the prompt, as the tokenizer would split prompt + option together. */
  #continuationTokens(input: string | readonly number[] | readonly ChatMessage[], prompt: readonly number[], option: string | readonly number[]): number[] {
    if (typeof option !== "string") return [...option];
    const tokenizer = this.model.tokenizer;
    let full: number[];
    if (typeof input === "string") {
      full = this.model.tokenize(input + option, { parseSpecial: false });
    } else if (input.length > 0 && typeof input[0] === "object") {
      full = this.model.tokenizeChat([...(input as readonly ChatMessage[]), { role: "assistant", content: option }], { addGenerationPrompt: false });
    } else {
      return this.model.tokenize(option, { addBos: false });
    }
    const isPrefix = full.length > prompt.length && prompt.every((t, i) => full[i] === t);
    if (!isPrefix) return this.model.tokenize(option, { addBos: false });
    const rest = full.slice(prompt.length);
    const eos = rest.indexOf(tokenizer.eosId);
    return eos >= 0 ? rest.slice(0, eos + 1) : rest;
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

/** log(softmax(row)[token]) for the row of `size` logits starting at `offset`. */
function logSoftmaxAt(logits: Float32Array, offset: number, size: number, token: number): number {
  let max = -Infinity;
  for (let i = 0; i < size; i++) if (logits[offset + i] > max) max = logits[offset + i];
  let sum = 0;
  for (let i = 0; i < size; i++) sum += Math.exp(logits[offset + i] - max);
  return logits[offset + token] - max - Math.log(sum);
}
