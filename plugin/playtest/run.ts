// One playtest run: a DialogueRunner over a graph — from its start or from any node, with variables set by
// hand — on a real backend, with the runner's own guardrails and a memory as a game gives it, traced node by
// node into a RunRecord (what a transcript stores and a replay is compared with). Reports the runner's events,
// each node entered and, for every generation, the exact prompt with its token count per part.

import { InvalidArgumentError } from "../../runtime/index.js";
import type { DialogueBackend } from "../backend.js";
import { DialogueRunner, type TranscriptInput } from "../dialogue/runner.js";
import type { DialogueEvent } from "../events.js";
import { LocalBackend } from "../local-backend.js";
import { NpcMemory } from "../memory/memory.js";
import type { Character, DialogueGraph, Value } from "../types.js";
import { InspectingBackend, type PromptReport } from "./inspecting-backend.js";
import type { PlaytestStep, RunEnd, RunRecord } from "./transcript.js";

export type PlaytestRunEvent =
  | { type: "node"; nodeId: string }
  /** A generation's prompt; `attempt` counts from 1 within the line (the guardrails may ask again). */
  | { type: "prompt"; nodeId: string; attempt: number; prompt: PromptReport }
  | { type: "dialogue"; event: DialogueEvent };

export interface PlaytestRunOptions {
  graph: DialogueGraph;
  character: Character;
  backend: DialogueBackend;
  seed: number;
  /** The node to start from (default: the graph's start). */
  startNode?: string;
  /** Values over the graph's defaults. */
  variables?: Record<string, Value>;
  /** What the NPC remembers from before (default: nothing, a fresh memory). */
  memory?: NpcMemory;
  onEvent?: (event: PlaytestRunEvent) => void;
}

export class PlaytestRun {
  readonly runner: DialogueRunner;
  readonly seed: number;
  readonly startNode: string;
  readonly startVariables: Record<string, Value>;
  readonly #steps: PlaytestStep[] = [];
  readonly #onEvent: (event: PlaytestRunEvent) => void;
  readonly #backend: DialogueBackend;
  #end: RunEnd | undefined;
  #lineNode: string | undefined;
  #attempts = 0;
  #done: Promise<RunRecord> | undefined;

  /** Throws InvalidArgumentError for a start node the graph does not have or a variable it does not declare. */
  constructor(options: PlaytestRunOptions) {
    const { graph } = options;
    const startNode = options.startNode ?? graph.start;
    if (!Object.hasOwn(graph.nodes, startNode)) {
      throw new InvalidArgumentError(`graph "${graph.id}" has no node "${startNode}"; its nodes: ${Object.keys(graph.nodes).join(", ")}`);
    }
    if (!Number.isInteger(options.seed) || options.seed < 0 || options.seed > 2 ** 32 - 1) {
      throw new InvalidArgumentError(`the seed must be a whole number from 0 to ${2 ** 32 - 1}, got ${options.seed}`);
    }
    this.seed = options.seed;
    this.startNode = startNode;
    this.startVariables = { ...(options.variables ?? {}) };
    this.#onEvent = options.onEvent ?? (() => undefined);
    this.#backend = options.backend;
    const inspecting = new InspectingBackend(options.backend, (prompt) => {
      this.#attempts++;
      if (this.#lineNode !== undefined) this.#onEvent({ type: "prompt", nodeId: this.#lineNode, attempt: this.#attempts, prompt });
    });
    // Starting elsewhere than the graph's start is the same graph with another start: the runner's checks and
    // conversation id are unchanged.
    this.runner = new DialogueRunner({
      graph: startNode === graph.start ? graph : { ...graph, start: startNode },
      character: options.character,
      backend: inspecting,
      seed: options.seed,
      variables: this.startVariables,
      memory: options.memory ?? new NpcMemory(options.character.id),
      onNode: (nodeId) => {
        this.#steps.push({ node: nodeId, lines: [], player: null, variables: {}, events: [] });
        this.#onEvent({ type: "node", nodeId });
      },
    });
    this.runner.on((event) => this.#record(event));
  }

  /** Runs the conversation; resolves with its record once it has ended. */
  start(): Promise<RunRecord> {
    if (!this.#done) {
      // A fresh KV cache for the NPC: a run and its replay then start from the same state, so the same seed gives
      // the same words (the runner keys an NPC's cache as npc:ID).
      if (this.#backend instanceof LocalBackend) this.#backend.forget(`npc:${this.runner.character.id}`);
      this.#done = this.runner.start().then(() => this.record());
    }
    return this.#done;
  }

  choose(index: number): void {
    this.runner.choose(index);
  }

  submit(text: string): void {
    this.runner.submit(text);
  }

  /** Ends the run at once, also mid-line. */
  stop(): void {
    this.runner.cancel();
  }

  get ended(): boolean {
    return this.#end !== undefined;
  }

  /** The player's inputs so far, in order. */
  get inputs(): TranscriptInput[] {
    return this.runner.transcript().inputs;
  }

  /** The run so far; one still going counts as stopped where it is. */
  record(): RunRecord {
    const last = this.#steps.at(-1);
    return {
      steps: this.#steps.map((s) => ({
        ...s,
        lines: [...s.lines],
        ...(s.choices ? { choices: [...s.choices] } : {}),
        variables: { ...s.variables },
        events: [...s.events],
      })),
      variables: this.runner.variables,
      end: this.#end ?? { reason: "stopped", node: last?.node ?? null },
    };
  }

  #record(event: DialogueEvent): void {
    const step = this.#steps.at(-1);
    switch (event.type) {
      case "line_started":
        this.#lineNode = event.nodeId;
        this.#attempts = 0;
        break;
      case "line_complete":
        step?.lines.push({ text: event.text, source: event.source });
        this.#lineNode = undefined;
        break;
      case "choices_offered":
        if (step) step.choices = event.choices.map((c) => c.text);
        break;
      case "player_line":
        if (step) step.player = event.text;
        break;
      case "intent_chosen":
        if (step) step.intent = event.intent;
        break;
      case "variable_changed":
        if (step) step.variables[event.name] = event.value;
        break;
      case "game_event":
        step?.events.push(event.name);
        break;
      case "ended":
        this.#end =
          event.reason === "end"
            ? { reason: "end", node: event.nodeId }
            : event.reason === "error"
              ? { reason: "error", node: event.nodeId, error: event.error ?? "unknown error" }
              : { reason: "stopped", node: event.nodeId };
        break;
    }
    this.#onEvent({ type: "dialogue", event });
  }
}
