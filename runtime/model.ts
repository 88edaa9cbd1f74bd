// Model: a Llama GGUF on the device, with its tokenizer and chat template. Creates sessions.

import { renderChatSegments, type ChatMessage } from "./chat-template.js";
import { InvalidArgumentError, DisposedError } from "./errors.js";
import { readGguf, type GgufFile } from "./gguf/reader.js";
import { describeModel, validateLlamaModel, type LlamaConfig } from "./model-config.js";
import { loadAddon, nativeAsync, type DeviceInfo, type NativeContext, type NativeModel } from "./native.js";
import { Session, type SessionOptions } from "./session.js";
import { tokenizeChat } from "./tokenizer/chat-tokens.js";
import { LlamaTokenizer, type EncodeOptions } from "./tokenizer/tokenizer.js";
import { vocabularyFromGguf } from "./tokenizer/vocab.js";
import { measureTuning, tuneRuns, type TuneOptions, type TuningReport } from "./tuning/measure.js";
import { TUNING_ENV_OVERRIDES, type KernelTuning } from "./tuning/settings.js";
import { tuningKey, type StoredTuning, type TuningStore } from "./tuning/store.js";

export interface LoadModelOptions {
  /** Called as weights reach the device: bytes done of bytes total. */
  onProgress?: (progress: { loadedBytes: number; totalBytes: number; fraction: number }) => void;
}

export interface ModelInfo {
  path: string;
  architecture: string;
  name: string | undefined;
  parameterCount: number;
  /** Tensor count per type, e.g. { Q4_0: 155, F32: 45 }. */
  tensorTypes: Record<string, number>;
  contextLength: number;
  vocabularySize: number;
  /** The GGUF's tokenizer.chat_template, or undefined (TinyLlama-Chat's format is used then). */
  chatTemplate: string | undefined;
  config: LlamaConfig;
  /** Bytes of device memory the weights occupy. */
  deviceBytes: number;
}

export class Model {
  readonly info: ModelInfo;
  readonly tokenizer: LlamaTokenizer;
  #native: NativeModel | undefined;
  readonly #sessions = new Set<Session>();
  readonly #onDispose: () => void;
  readonly #context: NativeContext;
  readonly #tuningStore: TuningStore;
  readonly #tuningKey: string;
  #tuning: KernelTuning | null = null;

  private constructor(
    info: ModelInfo,
    tokenizer: LlamaTokenizer,
    nativeModel: NativeModel,
    context: NativeContext,
    tuningStore: TuningStore,
    onDispose: () => void,
  ) {
    this.info = info;
    this.tokenizer = tokenizer;
    this.#native = nativeModel;
    this.#context = context;
    this.#tuningStore = tuningStore;
    this.#onDispose = onDispose;
    this.#tuningKey = tuningKey(context.device, loadAddon().kernelsVersion, info.config, info.tensorTypes);
    this.#tuning = this.#readStored()?.tuning ?? null;
  }

  /** The Vulkan device this model's weights live on (its sessions run there too). */
  get device(): DeviceInfo {
    return this.#context.device;
  }

  /** @internal Use Runtime.loadModel. */
  static async load(context: NativeContext, tuningStore: TuningStore, path: string, options: LoadModelOptions, onDispose: () => void): Promise<Model> {
    const file: GgufFile = await readGguf(path);
    const { config } = validateLlamaModel(file);
    const tokenizer = new LlamaTokenizer(vocabularyFromGguf(file));
    const description = describeModel(file);
    const tensors = file.tensors.map((t) => ({ name: t.name, type: t.type, dims: [...t.dims], offset: t.offset, nbytes: t.byteSize }));
    const hparams = {
      nLayer: config.nLayer,
      nEmbd: config.nEmbd,
      nHead: config.nHead,
      nHeadKv: config.nHeadKv,
      nFf: config.nFf,
      nVocab: config.nVocab,
      ropeDim: config.ropeDim,
      headDim: config.headDim,
      ropeFreqBase: config.ropeFreqBase,
      rmsEps: config.rmsEps,
    };
    const onProgress = options.onProgress
      ? (done: number, total: number) => options.onProgress!({ loadedBytes: done, totalBytes: total, fraction: total ? done / total : 1 })
      : undefined;
    const nativeModel = await nativeAsync(() => context.loadModel(path, { hparams, tensors }, onProgress));
    const info: ModelInfo = {
      path,
      architecture: description.architecture,
      name: description.name,
      parameterCount: description.parameterCount,
      tensorTypes: { ...description.tensorTypes },
      contextLength: config.nCtxTrain,
      vocabularySize: config.nVocab,
      chatTemplate: file.has("tokenizer.chat_template") ? file.getString("tokenizer.chat_template") : undefined,
      config,
      deviceBytes: nativeModel.deviceBytes,
    };
    return new Model(info, tokenizer, nativeModel, context, tuningStore, onDispose);
  }

  /** Text → token ids. Special-token parsing is off unless asked for: `</s>` in text stays text. */
  tokenize(text: string, options: EncodeOptions = {}): number[] {
    return this.tokenizer.encode(text, options);
  }

  detokenize(ids: ArrayLike<number>): string {
    return this.tokenizer.decode(ids);
  }

  /** Chat messages → prompt token ids with the model's chat template (message contents never become control tokens). */
  tokenizeChat(messages: readonly ChatMessage[], options: { addGenerationPrompt?: boolean } = {}): number[] {
    const segments = renderChatSegments(messages, {
      template: this.info.chatTemplate,
      bosToken: this.tokenizer.tokenToPiece(this.tokenizer.bosId),
      eosToken: this.tokenizer.tokenToPiece(this.tokenizer.eosId),
      addGenerationPrompt: options.addGenerationPrompt ?? true,
    });
    return tokenizeChat(this.tokenizer, segments);
  }

  /** Weight bytes a decode step reads (all matrices but the embedding table). */
  get weightBytes(): number {
    return this.#live().weightBytes;
  }

  /**
   * The kernel settings new sessions use (see SessionOptions.tuning): measured by tune(), or stored by an
   * earlier tune() on this device, driver and Parley build (read when the model was loaded); null: the
   * device's built-in defaults.
   */
  get tuning(): KernelTuning | null {
    return this.#tuning;
  }

  /**
   * Picks the decode and prefill kernels' settings for this GPU and model by timing them (≤ 12 decode settings,
   * a few greedy decode chains each, and each prefill kernel the device runs (plus the GEMM with the integer dot
   * product where it applies), a few prompt steps each, all in small sessions
   * of their own), keeps the fastest for the sessions created afterwards, and stores them
   * (RuntimeOptions.tuningStore) so later loads on the same device, driver and Parley build apply them
   * without measuring. When a tuning is stored already it is applied and returned at once (`source:
   * "stored"`) unless `force`. Call it once behind a loading screen; existing sessions keep their settings.
   */
  async tune(options: TuneOptions = {}): Promise<TuningReport> {
    this.#live();
    const overridden = TUNING_ENV_OVERRIDES.filter((name) => process.env[name] !== undefined);
    if (overridden.length) throw new InvalidArgumentError(`tune: ${overridden.join(", ")} override the settings it would time; unset them`);
    const device = this.#context.device;
    tuneRuns(options, device); // bad options fail even when a stored result would be returned
    // The ~17 sessions' new pipelines go into the pipeline cache file once, at the end, not after each session.
    this.#context.deferPipelineCacheSaves(true);
    try {
      return await this.#tune(options, device);
    } finally {
      this.#context.deferPipelineCacheSaves(false);
      if (!this.disposed) this.#context.savePipelineCache();
    }
  }

  async #tune(options: TuneOptions, device: DeviceInfo): Promise<TuningReport> {
    const probe = await this.createSessionAsync({ contextSize: 1, ubatch: 1, tuning: "default" });
    const builtIn = probe.tuning;
    probe.dispose();
    const defaults: KernelTuning = { decode: builtIn.decode!, prefill: builtIn.prefill };

    const stored = options.force ? null : this.#readStored();
    if (stored) {
      this.#tuning = stored.tuning;
      const phase = <T>(tuning: T, d: T, times: StoredTuning["decode"]) => ({ tuning, defaults: d, ...times, candidates: [] });
      return {
        tuning: stored.tuning,
        source: "stored",
        decode: phase(stored.tuning.decode, defaults.decode, stored.decode),
        prefill: phase(stored.tuning.prefill, defaults.prefill, stored.prefill),
        storePath: this.#tuningStore.path,
        storeError: null,
      };
    }

    const { decode, prefill } = await measureTuning(this, device, defaults, options);
    const tuning = { decode: decode.tuning, prefill: prefill.tuning };
    const entry: StoredTuning = {
      tuning,
      decode: { msPerToken: decode.msPerToken, defaultMsPerToken: decode.defaultMsPerToken },
      prefill: { msPerToken: prefill.msPerToken, defaultMsPerToken: prefill.defaultMsPerToken },
      measuredAt: new Date().toISOString(),
      device: device.name,
      driver: `${device.driverName} ${device.driverInfo}`,
      kernels: loadAddon().kernelsVersion,
      model: `${this.info.parameterCount} parameters, ${Object.keys(this.info.tensorTypes).sort().join("/")}`,
    };
    this.#live();
    this.#tuning = tuning;
    const storeError = this.#tuningStore.write(this.#tuningKey, entry);
    return { tuning, source: "measured", decode, prefill, storePath: this.#tuningStore.path, storeError };
  }

  createSession(options: SessionOptions = {}): Session {
    const session = Session.create(this, this.#live(), this.#withContextSize(options), () => this.#sessions.delete(session));
    this.#sessions.add(session);
    return session;
  }

  /**
   * createSession on a worker thread: the session's pipelines are built (on a first launch the driver compiles
   * each one) and its command buffers recorded without blocking the JS thread,
   * so a game's frames keep coming. Later sessions with the same options build nothing (pipelines are built once
   * per runtime), so a game can create its first session this way behind a loading screen.
   */
  async createSessionAsync(options: SessionOptions = {}): Promise<Session> {
    const session = await Session.createAsync(this, this.#live(), this.#withContextSize(options), () => this.#sessions.delete(session));
    if (this.disposed) {
      // Disposed while the session was being built: it belongs to nothing any more.
      session.dispose();
      throw new DisposedError("Model");
    }
    this.#sessions.add(session);
    return session;
  }

  get disposed(): boolean {
    return this.#native === undefined;
  }

  /** `options` with its context size filled in (default min(model context, 2048)) and checked. */
  #withContextSize(options: SessionOptions): SessionOptions & { contextSize: number } {
    const contextSize = options.contextSize ?? Math.min(this.info.contextLength, 2048);
    if (!Number.isInteger(contextSize) || contextSize < 1) throw new InvalidArgumentError(`contextSize must be a positive integer, got ${contextSize}`);
    return { ...options, contextSize };
  }

  /** Frees the weights; sessions of this model are disposed too. */
  dispose(): void {
    if (!this.#native) return;
    for (const s of [...this.#sessions]) s.dispose();
    this.#native.dispose();
    this.#native = undefined;
    this.#onDispose();
  }

  /** The stored tuning for this device and model, unless it needs what the device lacks (a hand-edited or
   * copied store must not make every session fail). */
  #readStored(): StoredTuning | null {
    const stored = this.#tuningStore.read(this.#tuningKey);
    if (stored === null) return null;
    const device = this.#context.device;
    const needsDot = stored.tuning.decode.integerDot || stored.tuning.prefill.integerDot;
    const needsCoopmat = stored.tuning.prefill.kernel === "coopmat";
    return (needsDot && !device.integerDotKernels) || (needsCoopmat && !device.cooperativeMatrixPrefill) ? null : stored;
  }

  #live(): NativeModel {
    if (!this.#native) throw new DisposedError("Model");
    return this.#native;
  }
}
