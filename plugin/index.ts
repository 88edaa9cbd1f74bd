// parley-npc/plugin: the NPC dialogue system. Characters and dialogue graphs (validated JSON), a runner
// that plays a conversation and emits events, prompts fitted to the model's context, memory,
// guardrails, and backends (the local Vulkan runtime, or authored lines only).
// Three.js and rapier adapters live in parley-npc/plugin/three.
export * from "./types.js";
export * from "./events.js";
export * from "./errors.js";
export type { DialogueBackend, GenerateRequest, ChooseRequest, ChooseResult } from "./backend.js";
export { LocalBackend, FallbackBackend, NoModelError, type LocalBackendOptions } from "./local-backend.js";
export { parseCharacter, serializeCharacter } from "./character/validate.js";
export { characterFromCardV2, characterToCardV2, type CardV2 } from "./character/card-v2.js";
export { characterToCardV3, type CardV3 } from "./character/card-v3.js";
export {
  exportCardJson,
  exportCardPng,
  importCardFile,
  MAX_CARD_FILE_BYTES,
  readCardFile,
  type CardExportSpec,
  type CardFileSource,
} from "./character/card-file.js";
export { CardFileError, type CardFileProblem } from "./character/card-errors.js";
export { parseDialogueGraph, checkDialogueGraph, serializeDialogueGraph } from "./dialogue/validate.js";
export { compileCondition, compileEffect, compileExpression, type EvaluationContext } from "./dialogue/expression/index.js";
export { barkLines, type BarkLineOptions } from "./dialogue/bark-lines.js";
export { DialogueRunner, type DialogueRunnerOptions, type Transcript, type TranscriptInput, type RunnerStatus } from "./dialogue/runner.js";
export { buildPrompt, buildPersonaPrefix, PromptBudgetError } from "./prompt/prompt-builder.js";
export { resolveMacros, resolveCharacterMacros, DEFAULT_PLAYER_NAME, type MacroNames } from "./prompt/macros.js";
export { sanitizeUntrusted } from "./prompt/sanitize.js";
export { NpcMemory, MemoryFormatError } from "./memory/memory.js";
export { GameSave, SaveFormatError, SAVE_SCHEMA, isSharedVariable, type SaveDocument } from "./save/game-save.js";
export { guardedReply, limitWords, stopStrings, findLeaks, findBanned, notSpeech } from "./guardrails/guardrails.js";
export { IntentExamples, combineIntentScores, type IntentScores } from "./dialogue/intent-match.js";
export { WordVectors, WordVectorsFormatError } from "./dialogue/word-vectors.js";
export { englishWordVectors } from "./dialogue/english-word-vectors.js";
export { createDialogueStore, createDialogueSlice, reduceDialogue, type DialogueState, type DialogueStore } from "./store.js";
