// parley-npc/runtime: the public API of Parley's Vulkan runtime.
export { Runtime, defaultPipelineCacheDir, type RuntimeOptions } from "./runtime.js";
export { Model, type ModelInfo, type LoadModelOptions } from "./model.js";
export { describeTuning, type DecodeTuning, type KernelTuning, type PrefillTuning } from "./tuning/settings.js";
export type { PhaseReport, TuneOptions, TuningCandidate, TuningReport } from "./tuning/measure.js";
export { defaultTuningStoreDir } from "./tuning/store.js";
export {
  Session,
  AbortError,
  defaultUbatch,
  type ChoiceResult,
  type ChooseOptions,
  type SessionOptions,
  type GenerateOptions,
  type GenerateChunk,
  type GenerateTimings,
  type FinishReason,
} from "./session.js";
export type { DeviceInfo, PipelineBuildStats, PipelineCacheStats, ValidationMessage } from "./native.js";
export type { ChatMessage, ChatRole } from "./chat-template.js";
export { renderChat, renderChatSegments, DEFAULT_CHAT_TEMPLATE } from "./chat-template.js";
export { Sampler, Xoshiro128, type SamplingOptions } from "./sampler.js";
export { StopStringMatcher, type StopPushResult } from "./stop-strings.js";
export { LlamaTokenizer } from "./tokenizer/tokenizer.js";
export { StreamingDetokenizer } from "./tokenizer/detokenizer.js";
export { readGguf, type GgufFile } from "./gguf/reader.js";
export { writeSyntheticModel, SYNTH_SHAPES, type SynthShapeName, type SynthType } from "./synth/synth.js";
export * from "./errors.js";
export * from "./models/index.js";
// What the dialogue plugin and a game's own host or tools build on: crash-safe file writes, the loopback HTTP
// server (token, Origin/Host checks, JSON errors) and the `parley` command's flag tables.
export { writeFileAtomicDurable } from "./atomic-file.js";
export { HttpError, startLoopbackServer, type LoopbackServer, type Routes } from "./host/loopback-server.js";
export { parseFlags, wantsHelp, type FlagTable } from "./cli-flags.js";
