// Plays a transcript again — same graph id, character, seed, start node, variables and memory, the recorded inputs
// given as they are asked for — and compares the new run with the recorded one node by node. A graph that
// changed so much the run cannot start (its start node or a variable is gone) is a divergence too, reported
// as a run that ended in that error, not as bad input.

import { ParleyError } from "../../runtime/index.js";
import type { DialogueBackend } from "../backend.js";
import type { DialogueEvent } from "../events.js";
import { NpcMemory } from "../memory/memory.js";
import type { Character, DialogueGraph } from "../types.js";
import { compareRuns, type RunComparison } from "./compare.js";
import { PlaytestRun, type PlaytestRunEvent } from "./run.js";
import type { PlaytestTranscript, RunRecord } from "./transcript.js";

export interface ReplayResult {
  record: RunRecord;
  comparison: RunComparison;
  /** Why the replay stopped feeding inputs early (an input of the wrong kind, a choice no longer on offer). */
  notes: string[];
}

export interface ReplayOptions {
  transcript: PlaytestTranscript;
  graph: DialogueGraph;
  character: Character;
  backend: DialogueBackend;
  /** Hears the replay's events as it runs. */
  onEvent?: (event: PlaytestRunEvent) => void;
  signal?: AbortSignal;
}

/** Throws ParleyError (INVALID_ARGUMENT) when the graph or character is not the transcript's. */
export async function replayTranscript(options: ReplayOptions): Promise<ReplayResult> {
  const { transcript, graph, character } = options;
  if (graph.id !== transcript.graph || character.id !== transcript.character) {
    throw new ParleyError(
      "INVALID_ARGUMENT",
      `transcript "${transcript.name}" is for graph "${transcript.graph}" and character "${transcript.character}", not "${graph.id}" and "${character.id}"`,
    );
  }
  const notes: string[] = [];
  let run: PlaytestRun;
  try {
    run = new PlaytestRun({
      graph,
      character,
      backend: options.backend,
      seed: transcript.seed,
      startNode: transcript.start.node,
      variables: transcript.start.variables,
      memory: transcript.start.memory ? NpcMemory.fromJSON(transcript.start.memory) : undefined,
      onEvent: (event) => {
        options.onEvent?.(event);
        if (event.type === "dialogue") feed(event.event);
      },
    });
  } catch (error) {
    if (!(error instanceof ParleyError)) throw error;
    const record: RunRecord = { steps: [], variables: {}, end: { reason: "error", node: null, error: error.message } };
    return { record, comparison: compareRuns(transcript.expected, record), notes: [`the run could not start: ${error.message}`] };
  }
  let next = 0;
  function feed(event: DialogueEvent): void {
    if (event.type !== "choices_offered" && event.type !== "input_requested") return;
    const input = transcript.inputs[next++];
    // After the event's listeners: the runner is waiting by the time the microtask runs.
    queueMicrotask(() => {
      if (!input) return run.stop(); // the recorded run was saved here, waiting for the player
      if (event.type === "choices_offered") {
        if (input.type !== "choice") {
          notes.push(`node "${event.nodeId}" offered choices where the recording typed ${JSON.stringify(input.text)}`);
          return run.stop();
        }
        if (!event.choices.some((c) => c.index === input.index)) {
          notes.push(`node "${event.nodeId}" no longer offers choice ${input.index} (offered: ${event.choices.map((c) => c.index).join(", ")})`);
          return run.stop();
        }
        return run.choose(input.index);
      }
      if (input.type !== "input") {
        notes.push(`node "${event.nodeId}" asked for free text where the recording picked choice ${input.index}`);
        return run.stop();
      }
      run.submit(input.text);
    });
  }
  const abort = (): void => run.stop();
  options.signal?.addEventListener("abort", abort, { once: true });
  try {
    if (options.signal?.aborted) run.stop();
    const record = await run.start();
    return { record, comparison: compareRuns(transcript.expected, record), notes };
  } finally {
    options.signal?.removeEventListener("abort", abort);
  }
}
