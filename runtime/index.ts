// parley-npc/runtime: the public API of Parley's Vulkan runtime.
export { Runtime, defaultPipelineCacheDir, type RuntimeOptions } from "./runtime.js";
export { Model, type ModelInfo, type LoadModelOptions } from "./model.js";
export {
  describeTuning,
  type DecodeTuning,
  type KernelTuning,
  type PhaseReport,
  type PrefillTuning,
  type TuneOptions,
  type TuningCandidate,
  type TuningReport,
} from "./tuning.js";
export { defaultTuningStoreDir } from "./tuning-store.js";
export { Session, AbortError, defaultUbatch, type ChoiceResult, type ChooseOptions, type SessionOptions, type GenerateOptions, type GenerateChunk, type GenerateTimings, type FinishReason } from "./session.js";
export type { DeviceInfo, PipelineBuildStats, PipelineCacheStats, ValidationMessage } from "./native.js";
export type { ChatMessage, ChatRole } from "./chat-template.js";
export { renderChat, renderChatSegments, DEFAULT_CHAT_TEMPLATE } from "./chat-template.js";
export { Sampler, type SamplingOptions } from "./sampler.js";
export { LlamaTokenizer } from "./tokenizer/tokenizer.js";
export { StreamingDetokenizer } from "./tokenizer/detokenizer.js";
export { readGguf, type GgufFile } from "./gguf/reader.js";
export { writeSyntheticModel, SYNTH_SHAPES, type SynthShapeName, type SynthType } from "./synth/synth.js";
export * from "./errors.js";
export * from "./models/index.js";
