// Model: a Llama GGUF on the device, with its tokenizer and chat template. Creates sessions.

import { renderChatSegments, type ChatMessage } from "./chat-template.js";
import {
  chooseTuning,
  sameTuning,
  searchTuning,
  timeDecodeSteps,
  TUNING_ENV_OVERRIDES,
  type DecodeTuning,
  type DecodeTuningReport,
  type TuneDecodeOptions,
  type TuningCandidate,
} from "./decode-tuning.js";
import { DisposedError, InvalidArgumentError } from "./errors.js";
import { readGguf, type GgufFile } from "./gguf/reader.js";
import { describeModel, validateLlamaModel, type LlamaConfig } from "./model-config.js";
import { loadAddon, nativeAsync, type NativeContext, type NativeModel } from "./native.js";
import { Session, type SessionOptions } from "./session.js";
import { tokenizeChat } from "./tokenizer/chat-tokens.js";
import { LlamaTokenizer, type EncodeOptions } from "./tokenizer/tokenizer.js";
import { vocabularyFromGguf } from "./tokenizer/vocab.js";
import { tuningKey, type StoredTuning, type TuningStore } from "./tuning-store.js";

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
  #decodeTuning: DecodeTuning | null = null;

  private constructor(info: ModelInfo, tokenizer: LlamaTokenizer, nativeModel: NativeModel, context: NativeContext, tuningStore: TuningStore, onDispose: () => void) {
    this.info = info;
    this.tokenizer = tokenizer;
    this.#native = nativeModel;
    this.#context = context;
    this.#tuningStore = tuningStore;
    this.#onDispose = onDispose;
    this.#tuningKey = tuningKey(context.device, loadAddon().kernelsVersion, info.config, info.tensorTypes);
    this.#decodeTuning = tuningStore.read(this.#tuningKey)?.tuning ?? null;
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
   * The decode kernel settings new sessions use (see SessionOptions.decodeTuning): one measured by
   * tuneDecode(), or stored by an earlier tuneDecode() on this device, driver and Parley build (read when the
   * model was loaded); null: the device's built-in defaults.
   */
  get decodeTuning(): DecodeTuning | null {
    return this.#decodeTuning;
  }

  /**
   * Picks the decode kernels' settings for this GPU and model by timing ~10 of them (a few greedy decode
   * steps each, in sessions of their own) and keeps the fastest for the sessions created afterwards; stores
   * it (RuntimeOptions.tuningStore) so later loads on the same device, driver and Parley build apply it
   * without measuring. When a tuning is stored already it is applied and returned at once (`source:
   * "stored"`) unless `force`. Costs ~10 small sessions (each compiling its kernel variants) and ~40 decode
   * steps each; call it once behind a loading screen. Existing sessions keep their settings.
   */
  async tuneDecode(options: TuneDecodeOptions = {}): Promise<DecodeTuningReport> {
    this.#live();
    const overridden = TUNING_ENV_OVERRIDES.filter((name) => process.env[name] !== undefined);
    if (overridden.length) throw new InvalidArgumentError(`tuneDecode: ${overridden.join(", ")} override every setting it would time; unset them`);
    const device = this.#context.device;
    const steps = options.steps ?? (device.type === "cpu" ? 2 : 16);
    const repeat = options.repeat ?? 3;
    if (!Number.isInteger(steps) || steps < 1 || steps > 64) throw new InvalidArgumentError(`tuneDecode: steps must be an integer in 1..64, got ${steps}`);
    if (!Number.isInteger(repeat) || repeat < 1 || repeat > 100) throw new InvalidArgumentError(`tuneDecode: repeat must be an integer in 1..100, got ${repeat}`);

    const probe = this.createSession({ contextSize: 1, ubatch: 1, decodeTuning: "default" });
    const defaults = probe.decodeTuning!;
    probe.dispose();
    const report = (stored: StoredTuning, source: "measured" | "stored", candidates: TuningCandidate[]): DecodeTuningReport => ({
      tuning: stored.tuning, source, defaults, msPerToken: stored.msPerToken, defaultMsPerToken: stored.defaultMsPerToken,
      candidates, storePath: this.#tuningStore.path, storeError: null,
    });

    const stored = options.force ? null : this.#tuningStore.read(this.#tuningKey);
    if (stored) {
      this.#decodeTuning = stored.tuning;
      return report(stored, "stored", []);
    }

    const contextSize = 2 + steps * (repeat + 1);
    const types = this.info.tensorTypes;
    let index = 0;
    const candidates = await searchTuning(defaults, { integerDot: device.integerDotProduct && ("Q4_0" in types || "Q8_0" in types) }, async (tuning) => {
      options.onProgress?.({ index: index++, tuning });
      let session: Session | undefined;
      try {
        session = this.createSession({ contextSize, ubatch: 1, decodeTuning: tuning });
        return { tuning, msPerToken: await timeDecodeSteps(session, this.tokenizer.bosId, steps, repeat) };
      } catch (error) {
        if (error instanceof DisposedError) throw error; // the model went away: stop, not a setting's failure
        return { tuning, msPerToken: null, error: (error as Error).message };
      } finally {
        session?.dispose();
      }
    });
    const chosen = chooseTuning(candidates, defaults);
    const byDefault = candidates.find((c) => sameTuning(c.tuning, defaults));
    const entry: StoredTuning = {
      tuning: chosen.tuning,
      msPerToken: chosen.msPerToken,
      defaultMsPerToken: byDefault?.msPerToken ?? null,
      measuredAt: new Date().toISOString(),
      device: device.name,
      driver: `${device.driverName} ${device.driverInfo}`,
      kernels: loadAddon().kernelsVersion,
      model: `${this.info.parameterCount} parameters, ${Object.keys(types).sort().join("/")}`,
    };
    this.#live();
    this.#decodeTuning = chosen.tuning;
    const storeError = this.#tuningStore.write(this.#tuningKey, entry);
    return { ...report(entry, "measured", candidates), storeError };
  }

  createSession(options: SessionOptions = {}): Session {
    const contextSize = options.contextSize ?? Math.min(this.info.contextLength, 2048);
    if (!Number.isInteger(contextSize) || contextSize < 1) throw new InvalidArgumentError(`contextSize must be a positive integer, got ${contextSize}`);
    const session = Session.create(this, this.#live(), { ...options, contextSize }, () => this.#sessions.delete(session));
    this.#sessions.add(session);
    return session;
  }

  get disposed(): boolean {
    return this.#native === undefined;
  }

  /** Frees the weights; sessions of this model are disposed too. */
  dispose(): void {
    if (!this.#native) return;
    for (const s of [...this.#sessions]) s.dispose();
    this.#native.dispose();
    this.#native = undefined;
    this.#onDispose();
  }

  #live(): NativeModel {
    if (!this.#native) throw new DisposedError("Model");
    return this.#native;
  }
}
