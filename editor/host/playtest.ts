// The editor's playtest, on the host side: the model runs here, in the host process, never in the page. Plays
// a graph of the open project — from its start, or from any node with variables set by hand — on the real
// runtime with the project's model (plugin/playtest/playtest-model.ts: the manifest's defaultModel, else the
// runtime's resolution), the runner's guardrails and an NPC memory (fresh, or carried from earlier playtests
// as the village's NPCs remember earlier conversations), with a seed the page shows and may
// set. Everything that happens is an event for the page's stream; a run can be saved as a transcript in the
// project (playtests/NAME.transcript.json, written atomically, the path confined to the project) and a saved
// transcript replayed and compared with its recording node by node.

import { mkdir, readFile, stat } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { ParleyError } from "../../runtime/errors.js";
import { writeFileAtomicDurable } from "../../runtime/atomic-file.js";
import type { Character, DialogueGraph, Value } from "../../plugin/types.js";
import { HOW_TO_GET_ONE, loadPlaytestModel, NoModelInstalledError, type PlaytestModel } from "../../plugin/playtest/playtest-model.js";
import { loadCatalogue, modelsFolder } from "../../runtime/models/index.js";
import { resolveProjectModel } from "./project-model.js";
import { PlaytestRun, type PlaytestRunEvent } from "../../plugin/playtest/run.js";
import { NpcMemory, type MemoryDocument } from "../../plugin/memory/memory.js";
import { replayTranscript, type ReplayResult } from "../../plugin/playtest/replay.js";
import { listTranscriptFiles, oneLine } from "../../plugin/playtest/project-playtests.js";
import {
  parseTranscript,
  serializeTranscript,
  TRANSCRIPT_FOLDER,
  TRANSCRIPT_SUFFIX,
  transcriptPath,
  type PlaytestTranscript,
  type RunRecord,
} from "../../plugin/playtest/transcript.js";
import { resolveInProject, type ProjectFolder } from "../project/index.js";

/** A playtest request the host cannot carry out; `status` and `code` are what the page is answered with. */
export class PlaytestError extends ParleyError {
  readonly status: number;
  readonly httpCode: string;
  constructor(status: number, httpCode: string, message: string) {
    super("INVALID_ARGUMENT", message);
    this.name = "PlaytestError";
    this.status = status;
    this.httpCode = httpCode;
  }
}

export type ModelState =
  | { state: "idle" }
  | { state: "loading"; model: string }
  | { state: "ready"; description: string; note: string }
  | { state: "error"; error: string; code: string };

/** What the page needs to show a run: how it started. */
export interface RunInfo {
  runId: number;
  graph: string;
  character: string;
  npcName: string;
  seed: number;
  startNode: string;
  /** The variables set by hand. */
  variables: Record<string, Value>;
  model: string;
  /** Remembered turns the NPC started with (0 for a fresh memory); summarized earlier turns count too. */
  memoryTurns: number;
}

/** The host's playtest events, as the page's stream carries them. */
export type PlaytestHostEvent =
  | { type: "model"; model: ModelState }
  | { type: "run"; run: RunInfo }
  | ({ runId: number } & PlaytestRunEvent)
  /** Sent to a page that connects (or reconnects): everything of the current run so far. */
  | { type: "snapshot"; model: ModelState; run: RunInfo | null; events: ({ runId: number } & PlaytestRunEvent)[] };

export interface StartRequest {
  /** The graph's id. */
  graph: string;
  /** The node to start from (default: the graph's start). */
  node?: string;
  /** Values set by hand over the graph's defaults. */
  variables?: Record<string, Value>;
  /** Default: a random one (the page shows it). */
  seed?: number;
  /**
   * The NPC remembers earlier playtests that remembered (as the village's NPCs remember earlier conversations);
   * default false: a fresh memory, so a run depends only on its seed and inputs.
   */
  remember?: boolean;
}

export interface TranscriptListing {
  name: string;
  path: string;
  graph: string;
  seed: number;
  /** Why the file cannot be replayed (not a valid transcript). */
  problem?: string;
}

export interface ReplayView extends ReplayResult {
  name: string;
  expected: RunRecord;
}

export interface PlaytestHostOptions {
  /** A model reference that wins over the project's defaultModel (`npm run editor -- --model`). */
  model?: string;
  env?: NodeJS.ProcessEnv;
  /** Vulkan device index or name substring. */
  device?: string;
}

/** Events of a run kept for a page that connects late: far more than a conversation played by hand makes. */
const MAX_LOGGED_EVENTS = 20_000;

export class PlaytestHost {
  readonly #project: ProjectFolder;
  readonly #options: PlaytestHostOptions;
  readonly #listeners = new Set<(event: PlaytestHostEvent) => void>();
  #model: PlaytestModel | undefined;
  #modelKey: string | undefined;
  #modelState: ModelState = { state: "idle" };
  #run: { info: RunInfo; run: PlaytestRun; done: Promise<RunRecord>; memory: MemoryDocument | null } | undefined;
  /** Each character's memory of the playtests that remembered. */
  readonly #memories = new Map<string, NpcMemory>();
  #log: ({ runId: number } & PlaytestRunEvent)[] = [];
  #runCount = 0;
  /** One model operation at a time: starting, replaying and loading never overlap on the GPU. */
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(project: ProjectFolder, options: PlaytestHostOptions = {}) {
    this.#project = project;
    this.#options = options;
  }

  subscribe(listener: (event: PlaytestHostEvent) => void): () => void {
    this.#listeners.add(listener);
    listener({ type: "snapshot", model: this.#modelState, run: this.#run?.info ?? null, events: [...this.#log] });
    return () => this.#listeners.delete(listener);
  }

  get model(): ModelState {
    return this.#modelState;
  }

  get currentRun(): RunInfo | null {
    return this.#run?.info ?? null;
  }

  /** Starts a run (stopping the one under way); resolves once it has started. */
  start(request: StartRequest): Promise<RunInfo> {
    return this.#serial(async () => {
      await this.#stopRun();
      const { graph, character } = this.#graphAndCharacter(request.graph);
      const seed = request.seed ?? Math.floor(Math.random() * 2 ** 31);
      const model = await this.#loadModel();
      const runId = ++this.#runCount;
      let memory: NpcMemory | undefined;
      if (request.remember) {
        memory = this.#memories.get(character.id) ?? new NpcMemory(character.id);
        this.#memories.set(character.id, memory);
      }
      // What the NPC remembered at the start, for the transcript (the run adds to the memory as it ends).
      const startMemory = memory && (memory.turns.length > 0 || memory.summary !== "") ? memory.toJSON() : null;
      let run: PlaytestRun;
      try {
        run = new PlaytestRun({
          graph,
          character,
          backend: model.backend,
          seed,
          startNode: request.node,
          variables: request.variables,
          memory,
          onEvent: (event) => this.#logged({ runId, ...event }),
        });
      } catch (error) {
        if (error instanceof ParleyError) throw new PlaytestError(400, "PLAYTEST_INVALID", error.message);
        throw error;
      }
      const info: RunInfo = {
        runId,
        graph: graph.id,
        character: character.id,
        npcName: character.name,
        seed,
        startNode: run.startNode,
        variables: run.startVariables,
        model: this.#modelRef(model),
        memoryTurns: startMemory ? startMemory.turns.length + startMemory.forgottenTurns : 0,
      };
      this.#log = [];
      this.#emit({ type: "run", run: info });
      const done = run.start();
      this.#run = { info, run, done, memory: startMemory };
      return info;
    });
  }

  choose(index: number): void {
    this.#waiting("choose").choose(index);
  }

  submit(text: string): void {
    if (text.trim() === "") throw new PlaytestError(400, "PLAYTEST_INVALID", "the line is empty; type what the player says");
    this.#waiting("submit").submit(text);
  }

  /** Ends the run under way (a no-op when none runs). */
  stop(): Promise<void> {
    return this.#serial(() => this.#stopRun());
  }

  /** A transcript's project path and its file on disk, confined to the project (a bad name is a 400). */
  async #transcriptFile(name: string): Promise<{ path: string; file: string }> {
    let path: string;
    try {
      path = transcriptPath(name);
    } catch (error) {
      throw new PlaytestError(400, "PLAYTEST_INVALID", oneLine(error));
    }
    return { path, file: await resolveInProject(this.#project.root, path) };
  }

  /** Saves the current (or last) run as playtests/NAME.transcript.json; an existing one only with `overwrite`. */
  async saveTranscript(name: string, options: { overwrite?: boolean } = {}): Promise<{ path: string; transcript: PlaytestTranscript }> {
    const current = this.#run;
    if (!current) throw new PlaytestError(409, "NO_PLAYTEST", "there is no playtest to save; start one first");
    const { path, file } = await this.#transcriptFile(name);
    if (!options.overwrite && (await exists(file)))
      throw new PlaytestError(409, "TRANSCRIPT_EXISTS", `${path} already exists; save under another name or replace it`);
    const { info, run } = current;
    const transcript: PlaytestTranscript = {
      schema: "parley.transcript/1",
      name,
      graph: info.graph,
      character: info.character,
      seed: info.seed,
      start: { node: info.startNode, variables: info.variables, memory: current.memory },
      contextSize: this.#project.manifest.contextSize,
      model: info.model,
      inputs: run.inputs,
      expected: run.record(),
    };
    const text = serializeTranscript(transcript);
    await mkdir(dirname(file), { recursive: true });
    await writeFileAtomicDurable(file, text, "the transcript");
    return { path, transcript };
  }

  /** Clears what a character remembers of earlier playtests; answers how many turns it forgot. */
  forget(characterId: string): number {
    const memory = this.#memories.get(characterId);
    this.#memories.delete(characterId);
    return memory ? memory.turns.length + memory.forgottenTurns : 0;
  }

  /** The project's saved transcripts; one that cannot be read is listed with its problem. */
  async listTranscripts(): Promise<TranscriptListing[]> {
    return (await listTranscriptFiles(this.#project.root, (file) => resolveInProject(this.#project.root, file))).map(({ file, transcript, problem }) =>
      transcript
        ? { name: transcript.name, path: file, graph: transcript.graph, seed: transcript.seed }
        : { name: file.slice(TRANSCRIPT_FOLDER.length + 1, -TRANSCRIPT_SUFFIX.length), path: file, graph: "", seed: 0, problem: problem ?? "unreadable" },
    );
  }

  /** Replays a saved transcript (stopping the run under way) and compares it with its recording. */
  replay(name: string): Promise<ReplayView> {
    return this.#serial(async () => {
      await this.#stopRun();
      const { path, file } = await this.#transcriptFile(name);
      let transcript: PlaytestTranscript;
      try {
        transcript = parseTranscript(JSON.parse(await readFile(file, "utf8")));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new PlaytestError(404, "NOT_FOUND", `${path} is not a saved playtest of this project`);
        throw new PlaytestError(400, "PLAYTEST_INVALID", `${path}: ${oneLine(error)}`);
      }
      // The project's graph and character as the editor holds them: a replay shows what the writer's edits changed.
      const { graph, character } = this.#graphAndCharacter(transcript.graph);
      const model = await this.#loadModel();
      const result = await replayTranscript({ transcript, graph, character, backend: model.backend });
      return { ...result, name, expected: transcript.expected };
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#run?.run.stop();
    await Promise.race([this.#queue.catch(() => undefined), new Promise((r) => setTimeout(r, 5000).unref())]);
    await this.#run?.done.catch(() => undefined);
    this.#listeners.clear();
    this.#model?.dispose();
    this.#model = undefined;
  }

  // ---------------------------------------------------------------------------------------------------

  #serial<T>(op: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new PlaytestError(503, "CLOSED", "the editor host is shutting down"));
    const result = this.#queue.then(op);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  async #stopRun(): Promise<void> {
    const current = this.#run;
    if (!current || current.run.ended) return;
    current.run.stop();
    await current.done.catch(() => undefined);
  }

  #waiting(what: string): PlaytestRun {
    const run = this.#run?.run;
    if (!run || run.ended) throw new PlaytestError(409, "NO_PLAYTEST", `${what}: no playtest is running; start one`);
    const status = run.runner.status;
    if (what === "choose" && status !== "waiting_choice") throw new PlaytestError(409, "NOT_WAITING", "the playtest is not waiting for a choice");
    if (what === "submit" && status !== "waiting_input") throw new PlaytestError(409, "NOT_WAITING", "the playtest is not waiting for the player's words");
    return run;
  }

  #graphAndCharacter(graphId: string): { graph: DialogueGraph; character: Character } {
    const doc = this.#project.graphs().find((g) => g.id === graphId || g.value?.id === graphId);
    if (!doc) throw new PlaytestError(404, "NOT_FOUND", `the project has no dialogue graph "${graphId}"`);
    if (!doc.value)
      throw new PlaytestError(400, "PLAYTEST_INVALID", `${doc.path} has problems; fix them before playtesting: ${oneLine(doc.problem?.message ?? "invalid")}`);
    const graph = doc.value;
    const character = this.#project.characters().find((c) => c.value?.id === graph.character)?.value;
    if (!character)
      throw new PlaytestError(
        400,
        "PLAYTEST_INVALID",
        `graph "${graph.id}" speaks through character "${graph.character}", which the project does not have (or which has problems)`,
      );
    return { graph, character };
  }

  /** The model to run: loaded on first use, again when the project's model or context size changed. */
  async #loadModel(): Promise<PlaytestModel> {
    const ref = this.#options.model ?? this.#project.manifest.defaultModel ?? undefined;
    const contextSize = this.#project.manifest.contextSize;
    const key = `${ref ?? ""}\n${contextSize}`;
    if (this.#model && this.#modelKey === key) return this.#model;
    this.#model?.dispose();
    this.#model = undefined;
    this.#setModel({ state: "loading", model: ref ?? "the default model" });
    try {
      const env = this.#options.env ?? process.env;
      let resolved;
      try {
        // The same resolution the Models panel shows (a relative path is relative to the project).
        const catalogue = await loadCatalogue({ folder: modelsFolder(env), env });
        resolved = await resolveProjectModel({ defaultModel: ref ?? null }, this.#project.root, { env, catalogue });
      } catch (error) {
        if (!(error instanceof ParleyError)) throw error;
        throw new NoModelInstalledError(`${error.message}; ${HOW_TO_GET_ONE}`);
      }
      this.#model = await loadPlaytestModel({ resolved, contextSize, device: this.#options.device });
      this.#modelKey = key;
      this.#setModel({ state: "ready", description: this.#model.description, note: this.#model.resolved.note });
      return this.#model;
    } catch (error) {
      const code = error instanceof NoModelInstalledError ? "NO_MODEL" : error instanceof ParleyError ? error.code : "MODEL_FAILED";
      const message = error instanceof Error ? error.message : String(error);
      this.#setModel({ state: "error", error: message, code });
      throw new PlaytestError(503, code, message);
    }
  }

  /** How a transcript names the model: the project's reference, else the file's name. */
  #modelRef(model: PlaytestModel): string {
    return this.#options.model ?? this.#project.manifest.defaultModel ?? basename(model.resolved.path);
  }

  #setModel(state: ModelState): void {
    this.#modelState = state;
    this.#emit({ type: "model", model: state });
  }

  #logged(event: { runId: number } & PlaytestRunEvent): void {
    if (this.#log.length < MAX_LOGGED_EVENTS) this.#log.push(event);
    this.#emit(event);
  }

  #emit(event: PlaytestHostEvent): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(event);
      } catch (error) {
        console.error("editor host: a playtest listener failed:", error);
      }
    }
  }
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}
