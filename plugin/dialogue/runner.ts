// Runs one conversation over a dialogue graph and emits typed events (plugin/events.ts): authored lines,
// generated lines streamed chunk by chunk, choices, free text, intents, variables and game events.
//
//   const runner = new DialogueRunner({ graph, character, backend, seed: 7 });
//   runner.on((event) => { ... });            // or: for await (const e of runner.events()) ...
//   const done = runner.start();               // resolves when the conversation ends
//   runner.choose(0); runner.submit("hello");  // when choices_offered / input_requested arrive
//
// With a seed, the same inputs give the same conversation (sampling seeds and `random()` derive from it),
// and `transcript()` records the inputs so DialogueRunner.replay() plays the conversation again exactly.
//
// Card macros (`{{char}}`, `{{user}}`, `<BOT>`, `<USER>`) in the character and in the graph's authored text
// are resolved as a line is shown or generated, with the NPC's name and `playerName`. The greeting
// (`{npc_greeting}` in a line) is the character's greeting or one of its alternate greetings, picked by the seed.

import { InvalidArgumentError, Xoshiro128 } from "../../runtime/index.js";
import type { DialogueBackend } from "../backend.js";
import type { DialogueEvent, EndReason, LineSource, LineTiming, OfferedChoice } from "../events.js";
import type { Character, DialogueGraph, DialogueNode, GameEvent, IntentNode, Value, VariableType } from "../types.js";
import { compileCondition, compileEffect, type EvaluationContext } from "./expression/index.js";
import type { NpcMemory } from "../memory/memory.js";
import { LineGenerator, type ConversationTurn } from "./line-generator.js";
import { IntentExamples, combineIntentScores, examplesDecide } from "./intent-match.js";
import { englishWordVectors } from "./english-word-vectors.js";
import type { WordVectors } from "./word-vectors.js";
import { DEFAULT_PLAYER_NAME, MACRO_SOURCE, macroValue, resolveMacros, type MacroNames } from "../prompt/macros.js";

export interface DialogueRunnerOptions {
  graph: DialogueGraph;
  character: Character;
  backend: DialogueBackend;
  /** Makes the conversation repeatable: sampling and `random()` derive from it. Default: random. */
  seed?: number;
  /** Start values overriding the graph's defaults (game state such as `player.gold`). */
  variables?: Record<string, Value>;
  /** Game state shown to the model ("time: evening, weather: rain"), read when a line is generated. */
  world?: () => Record<string, Value> | string;
  /** Earlier conversations with this character (plugin/memory); this one is added when it ends. */
  memory?: NpcMemory;
  /** Words or topics the NPC must never say. */
  banned?: string[];
  /** Sampling temperature of generated lines. Default 0.7. */
  temperature?: number;
  conversationId?: string;
  /**
   * Word vectors intent nodes use to match the player's words to authored examples by meaning, not only by
   * shared words. Default: the bundled English vectors (`englishWordVectors()`); null compares words only
   * (for a game in another language, until vectors for it are given here).
   */
  wordVectors?: WordVectors | null;
  /** Hears each node id as the conversation enters it, set, branch and jump nodes too (the editor's playtest traces the path). */
  onNode?: (nodeId: string) => void;
  /**
   * The player's name as the game knows it: `{{user}}` and `<USER>` in the character and the graph become it.
   * A function is read each time a line is shown or generated (a game may learn the name mid-conversation);
   * empty or undefined: "the player".
   */
  playerName?: string | (() => string | undefined);
}

/** The player's inputs, in order: enough, with the seed, to replay the conversation. */
export interface Transcript {
  version: 1;
  graphId: string;
  characterId: string;
  seed: number;
  inputs: TranscriptInput[];
}

export type TranscriptInput = { type: "choice"; index: number } | { type: "input"; text: string };

export type RunnerStatus = "idle" | "running" | "waiting_choice" | "waiting_input" | "ended";

type Pending =
  | { kind: "choice"; nodeId: string; offered: OfferedChoice[]; resolve: (index: number) => void }
  | { kind: "input"; nodeId: string; resolve: (text: string) => void };

class Cancelled extends Error {}

const MAX_STEPS_WITHOUT_INPUT = 10_000; // a graph that loops without waiting for the player is an error

export class DialogueRunner {
  readonly graph: DialogueGraph;
  readonly character: Character;
  readonly conversationId: string;
  readonly seed: number;
  #backend: DialogueBackend;
  #lines: LineGenerator;
  /** Each intent node's example index, built the first time the node is reached. */
  #examples = new Map<string, IntentExamples>();
  #wordVectors: WordVectors | null | undefined;
  #variables: Map<string, Value>;
  #types: Record<string, VariableType>;
  #listeners = new Set<(e: DialogueEvent) => void>();
  #status: RunnerStatus = "idle";
  #pending: Pending | undefined;
  #inputs: TranscriptInput[] = [];
  #abort = new AbortController();
  #rng: () => number;
  #turns: ConversationTurn[] = [];
  #lastPlayerText = "";
  #lineCounter = 0;
  #done: Promise<void> | undefined;
  #onNode: ((nodeId: string) => void) | undefined;
  #playerName: () => string | undefined;
  /** Index into [greeting, ...alternateGreetings]: fixed by the seed, so a replay greets the same way. */
  #greetingIndex: number;

  constructor(options: DialogueRunnerOptions) {
    this.graph = options.graph;
    this.character = options.character;
    this.#backend = options.backend;
    this.#wordVectors = options.wordVectors;
    this.#onNode = options.onNode;
    this.seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
    this.conversationId = options.conversationId ?? `${options.graph.id}-${this.seed}`;
    const rng = new Xoshiro128(this.seed ^ 0x5eed);
    this.#rng = () => rng.nextFloat();
    // Its own generator: picking a greeting must not shift the sequence `random()` and fallbacks draw from.
    const greetings = 1 + ((this.character.alternateGreetings as string[] | undefined)?.length ?? 0); // undefined: built in code before cards
    this.#greetingIndex = Math.min(greetings - 1, Math.floor(new Xoshiro128((this.seed ^ 0x6e37) >>> 0).nextFloat() * greetings));
    const playerName = options.playerName;
    this.#playerName = typeof playerName === "function" ? playerName : () => playerName;
    this.#types = Object.fromEntries(Object.entries(this.graph.variables).map(([k, v]) => [k, v.type]));
    this.#variables = new Map(Object.entries(this.graph.variables).map(([k, v]) => [k, v.default]));
    for (const [name, value] of Object.entries(options.variables ?? {})) {
      const type = this.#types[name];
      if (!type) throw new InvalidArgumentError(`variable "${name}" is not declared in graph "${this.graph.id}"`);
      if (typeOf(value) !== type) throw new InvalidArgumentError(`variable "${name}" is a ${type}, got ${JSON.stringify(value)}`);
      this.#variables.set(name, value);
    }
    this.#lines = new LineGenerator({
      character: this.character,
      backend: this.#backend,
      world: options.world,
      memory: options.memory,
      banned: options.banned ?? [],
      identifiers: Object.values(options.graph.nodes).flatMap((n) => (n.type === "intent" ? n.intents.map((i) => i.id) : [])),
      temperature: options.temperature ?? 0.7,
      cacheKey: `npc:${this.character.id}`,
      playerName: () => this.#knownPlayerName(),
    });
  }

  get status(): RunnerStatus {
    return this.#status;
  }

  /** This conversation's greeting, macros resolved: the character's greeting or an alternate one, picked by the seed. */
  get greeting(): string {
    const c = this.character;
    const text = this.#greetingIndex === 0 ? c.greeting : c.alternateGreetings[this.#greetingIndex - 1];
    return resolveMacros(text, this.#macroNames());
  }

  /** Current variable values. */
  get variables(): Record<string, Value> {
    return Object.fromEntries(this.#variables);
  }

  /** The options on offer while waiting for a choice. */
  get offeredChoices(): OfferedChoice[] {
    return this.#pending?.kind === "choice" ? this.#pending.offered : [];
  }

  /** Subscribes to events; returns the unsubscribe function. */
  on(listener: (event: DialogueEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Every event from now on, ending after `ended`. */
  events(): AsyncIterable<DialogueEvent> {
    const queue: DialogueEvent[] = [];
    let wake: (() => void) | undefined;
    let finished = false;
    const off = this.on((e) => {
      queue.push(e);
      if (e.type === "ended") finished = true;
      wake?.();
    });
    return {
      [Symbol.asyncIterator]: async function* () {
        try {
          for (;;) {
            while (queue.length > 0) yield queue.shift()!;
            if (finished) return;
            await new Promise<void>((r) => (wake = r));
          }
        } finally {
          off();
        }
      },
    };
  }

  /** Starts the conversation; resolves when it has ended (by an end node, cancel() or an error). */
  start(): Promise<void> {
    if (this.#done) throw new InvalidArgumentError("this conversation has already started");
    this.#done = this.#run();
    return this.#done;
  }

  /** Picks the offered choice with this `index` (OfferedChoice.index). */
  choose(index: number): void {
    const p = this.#pending;
    if (p?.kind !== "choice") throw new InvalidArgumentError("the conversation is not waiting for a choice");
    if (!p.offered.some((c) => c.index === index)) {
      throw new InvalidArgumentError(`choice ${index} is not on offer (offered: ${p.offered.map((c) => c.index).join(", ")})`);
    }
    this.#pending = undefined;
    this.#inputs.push({ type: "choice", index });
    p.resolve(index);
  }

  /** Answers an input request with the player's free text. */
  submit(text: string): void {
    const p = this.#pending;
    if (p?.kind !== "input") throw new InvalidArgumentError("the conversation is not waiting for player input");
    if (typeof text !== "string") throw new InvalidArgumentError("player input must be a string");
    this.#pending = undefined;
    this.#inputs.push({ type: "input", text });
    p.resolve(text);
  }

  /** Stops the conversation at once, also mid-generation. */
  cancel(): void {
    this.#abort.abort();
    const p = this.#pending;
    this.#pending = undefined;
    if (p?.kind === "choice") p.resolve(-1);
    if (p?.kind === "input") p.resolve("");
  }

  transcript(): Transcript {
    return { version: 1, graphId: this.graph.id, characterId: this.character.id, seed: this.seed, inputs: [...this.#inputs] };
  }

  /**
   * Plays a recorded conversation again: same graph, character, backend and seed, the recorded inputs
   * given as they are asked for. Returns every event.
   */
  static async replay(options: Omit<DialogueRunnerOptions, "seed">, transcript: Transcript): Promise<DialogueEvent[]> {
    if (transcript.graphId !== options.graph.id || transcript.characterId !== options.character.id) {
      throw new InvalidArgumentError(`transcript is for ${transcript.graphId}/${transcript.characterId}, not ${options.graph.id}/${options.character.id}`);
    }
    const runner = new DialogueRunner({ ...options, seed: transcript.seed });
    const events: DialogueEvent[] = [];
    let next = 0;
    runner.on((e) => {
      events.push(e);
      if (e.type !== "choices_offered" && e.type !== "input_requested") return;
      const input = transcript.inputs[next++];
      queueMicrotask(() => {
        if (!input) return runner.cancel();
        if (input.type === "choice") runner.choose(input.index);
        else runner.submit(input.text);
      });
    });
    await runner.start();
    return events;
  }

  // ---------------------------------------------------------------------------------------------

  #emit(event: DialogueEvent): void {
    for (const l of [...this.#listeners]) {
      try {
        l(event);
      } catch {
        // A listener's bug must not break the conversation.
      }
    }
  }

  async #run(): Promise<void> {
    this.#status = "running";
    this.#emit({
      type: "started",
      conversationId: this.conversationId,
      graphId: this.graph.id,
      characterId: this.character.id,
      npcName: this.character.name,
      variables: this.variables,
    });
    let nodeId: string | null = this.graph.start;
    let reason: EndReason = "end";
    let error: string | undefined;
    try {
      let steps = 0;
      while (nodeId !== null) {
        if (this.#abort.signal.aborted) throw new Cancelled();
        if (++steps > MAX_STEPS_WITHOUT_INPUT) throw new Error(`graph "${this.graph.id}" loops without waiting for the player (at node "${nodeId}")`);
        const node: DialogueNode | undefined = this.graph.nodes[nodeId];
        if (!node) throw new Error(`node "${nodeId}" does not exist in graph "${this.graph.id}"`);
        this.#onNode?.(nodeId);
        for (const e of node.events) this.#gameEvent(nodeId, e);
        const before = this.#inputs.length;
        const next: string | null | "__end__" = await this.#step(nodeId, node);
        if (this.#inputs.length !== before) steps = 0;
        if (next === "__end__") break;
        nodeId = next;
      }
    } catch (e) {
      if (e instanceof Cancelled || this.#abort.signal.aborted) reason = "cancelled";
      else {
        reason = "error";
        error = e instanceof Error ? e.message : String(e);
      }
    }
    this.#status = "ended";
    // The conversation becomes part of the NPC's memory for the next one; when memory grows past a
    // quarter of the context, its oldest turns are summarized by the model (or dropped without one).
    const memory = this.#lines.memory;
    if (memory) {
      for (const turn of this.#turns) memory.add(turn.speaker, turn.text);
      if (memory.tokenCount(this.#backend) > this.#backend.contextSize / 4) {
        const options = { keepTurns: 8, npcName: this.character.name };
        try {
          await memory.compact(this.#backend.canGenerate ? this.#backend : undefined, options);
        } catch {
          // The summary could not be made (say, the old turns do not fit one prompt): drop them instead.
          await memory.compact(undefined, options).catch(() => undefined);
        }
      }
    }
    this.#emit({ type: "ended", nodeId, reason, ...(error !== undefined ? { error } : {}) });
  }

  async #step(nodeId: string, node: DialogueNode): Promise<string | null | "__end__"> {
    switch (node.type) {
      case "line": {
        this.#authoredLine(nodeId, this.#interpolate(node.text), "authored", node.tags);
        return node.next;
      }
      case "llm_line": {
        await this.#generatedLine(nodeId, {
          instruction: this.#interpolate(node.instruction),
          maxWords: node.maxWords ?? this.character.speakingStyle.maxWords,
          fallback: this.#interpolate(node.fallback),
          tags: node.tags,
        });
        return node.next;
      }
      case "choice": {
        const offered = node.options
          .map((o, index) => ({ o, index }))
          .filter(({ o }) => o.condition === null || this.#condition(o.condition))
          .map(({ o, index }) => ({ index, text: this.#interpolate(o.text), tags: o.tags }));
        if (offered.length === 0) throw new Error(`choice node "${nodeId}" has no option whose condition holds`);
        const index = await this.#wait<number>((resolve) => {
          this.#pending = { kind: "choice", nodeId, offered, resolve };
          this.#status = "waiting_choice";
          this.#emit({ type: "choices_offered", nodeId, choices: offered });
        });
        const picked = offered.find((c) => c.index === index)!;
        this.#playerLine(nodeId, picked.text);
        return node.options[index].next;
      }
      case "player_input": {
        const text = await this.#wait<string>((resolve) => {
          this.#pending = { kind: "input", nodeId, resolve };
          this.#status = "waiting_input";
          this.#emit({ type: "input_requested", nodeId, prompt: node.prompt });
        });
        this.#lastPlayerText = text;
        if (node.store !== null) this.#set(node.store, text);
        this.#playerLine(nodeId, text);
        if (node.reply) {
          await this.#generatedLine(nodeId, {
            instruction: this.#interpolate(node.instruction),
            maxWords: this.character.speakingStyle.maxWords,
            fallback: this.#fallbackLine(),
            tags: node.tags,
          });
        }
        return node.next;
      }
      case "intent": {
        const ids = node.intents.map((i) => i.id);
        const examples = this.#intentExamples(nodeId, node);
        const text = this.#lastPlayerText;
        const similarities = examples.similarities(text);
        let logProbs: number[] | null = null;
        // The model is asked unless the examples settle it (a near-verbatim authored phrase): saves a prompt
        // evaluation on the common lines the writer foresaw.
        if (this.#backend.canGenerate && text.trim() !== "" && !examplesDecide(similarities)) {
          try {
            logProbs = (await this.#lines.classify(text, node.intents, this.#turns, this.#abort.signal)).logProbs;
          } catch {
            if (this.#abort.signal.aborted) throw new Cancelled();
            logProbs = null; // the model failed: the examples judge alone (or the fallback is taken)
          }
        }
        const hasExamples = text.trim() !== "" && examples.hasExamples;
        const scores = combineIntentScores(similarities, logProbs, { hasExamples, minConfidence: node.minConfidence ?? undefined });
        const chosen = scores.index === null ? null : ids[scores.index];
        const byId = (xs: readonly number[]): Record<string, number> => Object.fromEntries(ids.map((id, i) => [id, xs[i]]));
        this.#emit({
          type: "intent_chosen",
          nodeId,
          intent: chosen,
          best: ids[scores.best],
          confidence: scores.probabilities[scores.best],
          source: scores.source,
          probabilities: byId(scores.probabilities),
          similarities: byId(scores.similarities),
          logProbs: scores.logProbs ? byId(scores.logProbs) : {},
        });
        if (chosen === null) return node.fallback;
        return node.intents[scores.index!].next;
      }
      case "branch": {
        for (const b of node.branches) if (this.#condition(b.condition)) return b.next;
        return node.otherwise;
      }
      case "set": {
        for (const effect of node.effects) compileEffect(effect, this.#types).apply(this.#context());
        return node.next;
      }
      case "jump":
        return node.target;
      case "end":
        return "__end__";
    }
  }

  #intentExamples(nodeId: string, node: IntentNode): IntentExamples {
    let examples = this.#examples.get(nodeId);
    if (!examples) {
      // The bundled vectors are read on first use, so a graph without intent nodes never loads them.
      const vectors = this.#wordVectors === undefined ? englishWordVectors() : this.#wordVectors;
      this.#examples.set(nodeId, (examples = new IntentExamples(node.intents, vectors)));
    }
    return examples;
  }

  #wait<T>(setup: (resolve: (value: T) => void) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      setup((value) => (this.#abort.signal.aborted ? reject(new Cancelled()) : resolve(value)));
    }).finally(() => {
      this.#status = "running";
    });
  }

  #authoredLine(nodeId: string, text: string, source: LineSource, tags: string[]): void {
    const speaker = this.character.name;
    this.#emit({ type: "line_started", nodeId, speaker, source });
    this.#emit({ type: "text_chunk", nodeId, text });
    this.#emit({ type: "line_complete", nodeId, speaker, text, source, tags });
    this.#turns.push({ speaker: "npc", text });
  }

  async #generatedLine(nodeId: string, line: { instruction: string; maxWords: number; fallback: string; tags: string[] }): Promise<void> {
    if (!this.#backend.canGenerate) {
      this.#authoredLine(nodeId, line.fallback, "fallback", line.tags);
      return;
    }
    const speaker = this.character.name;
    this.#emit({ type: "line_started", nodeId, speaker, source: "generated" });
    const seed = (this.seed + Math.imul(++this.#lineCounter, 0x9e3779b1)) >>> 0;
    let streamed = ""; // the text shown since the last reset
    const result = await this.#lines.generate(
      { instruction: line.instruction, maxWords: line.maxWords, fallback: line.fallback, turns: this.#turns, seed, signal: this.#abort.signal },
      {
        onChunk: (text) => {
          streamed += text;
          this.#emit({ type: "text_chunk", nodeId, text });
        },
        onReset: () => {
          streamed = "";
          this.#emit({ type: "line_reset", nodeId });
        },
      },
    );
    if (this.#abort.signal.aborted) throw new Cancelled();
    // The backend's timing of the attempt that was kept (none measured, no speed shown): a clock around the
    // stream would also count the guardrails holding text back and any attempt that was thrown away.
    const timing: LineTiming | undefined = result.source === "generated" ? result.timing : undefined;
    if (result.source === "fallback" && streamed !== result.text) {
      // Whatever streamed was withdrawn by a reset; the fallback arrives as one chunk (unless the guardrails
      // already streamed it as their last word).
      if (streamed !== "") this.#emit({ type: "line_reset", nodeId });
      this.#emit({ type: "text_chunk", nodeId, text: result.text });
    }
    this.#emit({ type: "line_complete", nodeId, speaker, text: result.text, source: result.source, tags: line.tags, ...(timing ? { timing } : {}) });
    this.#turns.push({ speaker: "npc", text: result.text });
  }

  #playerLine(nodeId: string, text: string): void {
    this.#emit({ type: "player_line", nodeId, text });
    this.#turns.push({ speaker: "player", text });
  }

  #fallbackLine(): string {
    const lines = this.character.fallbackLines;
    if (lines.length === 0) return "…";
    return resolveMacros(lines[Math.floor(this.#rng() * lines.length)], this.#macroNames());
  }

  /** The player's name when the game gave one (trimmed), else undefined. */
  #knownPlayerName(): string | undefined {
    const name = this.#playerName()?.trim();
    return name ? name : undefined;
  }

  #macroNames(): MacroNames {
    return { char: this.character.name, user: this.#knownPlayerName() ?? DEFAULT_PLAYER_NAME };
  }

  #gameEvent(nodeId: string, e: GameEvent): void {
    this.#emit({ type: "game_event", nodeId, name: e.name, args: { ...e.args } });
  }

  #context(): EvaluationContext {
    return {
      get: (name) => {
        const v = this.#variables.get(name);
        if (v === undefined) throw new Error(`unknown variable "${name}"`);
        return v;
      },
      set: (name, value) => this.#set(name, value),
      types: this.#types,
      random: () => this.#rng(),
    };
  }

  #condition(source: string): boolean {
    return compileCondition(source, this.#types).evaluate(this.#context());
  }

  #set(name: string, value: Value): void {
    const previous = this.#variables.get(name);
    if (previous === undefined) throw new Error(`unknown variable "${name}"`);
    if (previous === value) return;
    this.#variables.set(name, value);
    this.#emit({ type: "variable_changed", name, value, previous });
  }

  /**
   * `{name}` in authored text becomes the variable's value (the player's last words with `{player_text}`, the
   * greeting with `{npc_greeting}`), and card macros the names. One pass, so a value is never expanded again.
   */
  #interpolate(text: string): string {
    const names = this.#macroNames();
    return text.replace(PLACEHOLDER, (whole, a: string | undefined, b: string | undefined, name: string | undefined) => {
      if (name === undefined) return macroValue([a, b], names);
      if (name === "player_text") return this.#lastPlayerText;
      if (name === "npc_name") return this.character.name;
      if (name === "npc_greeting") return this.greeting;
      const v = this.#variables.get(name);
      return v === undefined ? whole : String(v);
    });
  }
}

/** A card macro (groups 1–2) or a `{name}` placeholder (group 3); the macros match in any case. */
const PLACEHOLDER = new RegExp(`${MACRO_SOURCE}|\\{([A-Za-z_][A-Za-z0-9_.]*)\\}`, "gi");

function typeOf(v: Value): VariableType {
  return typeof v === "boolean" ? "bool" : typeof v === "number" ? "number" : "string";
}
