// Model: a Llama GGUF on the device, with its tokenizer and chat template. Creates sessions.

import { renderChatSegments, type ChatMessage } from "./chat-template.js";
import { DisposedError, InvalidArgumentError } from "./errors.js";
import { readGguf, type GgufFile } from "./gguf/reader.js";
import { describeModel, validateLlamaModel, type LlamaConfig } from "./model-config.js";
import { nativeAsync, type NativeContext, type NativeModel } from "./native.js";
import { Session, type SessionOptions } from "./session.js";
import { tokenizeChat } from "./tokenizer/chat-tokens.js";
import { LlamaTokenizer, type EncodeOptions } from "./tokenizer/tokenizer.js";
import { vocabularyFromGguf } from "./tokenizer/vocab.js";

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

  private constructor(info: ModelInfo, tokenizer: LlamaTokenizer, nativeModel: NativeModel, onDispose: () => void) {
    this.info = info;
    this.tokenizer = tokenizer;
    this.#native = nativeModel;
    this.#onDispose = onDispose;
  }

  /** @internal Use Runtime.loadModel. */
  static async load(context: NativeContext, path: string, options: LoadModelOptions, onDispose: () => void): Promise<Model> {
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
    return new Model(info, tokenizer, nativeModel, onDispose);
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
