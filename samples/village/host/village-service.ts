// The village's host logic, independent of any transport: the HTTP host (browser mode), the Electron main
// process and the terminal chat all drive the NPCs through one VillageService.
//
//   const service = await VillageService.create({ model: "tinyllama.gguf" });
//   const off = service.subscribe((event) => ...);   // HostEvent (samples/village/protocol.ts)
//   await service.start("blacksmith");               // then choose(i) / submit(text) as the events ask
//   await service.dispose();
//
// One conversation runs at a time (starting another cancels it). Ambient barks are rate-limited: one at a
// time across the village, at most once per 20 s per NPC, never while a conversation runs.

import { fileURLToPath } from "node:url";
import { InvalidArgumentError } from "../../../runtime/errors.js";
import type { ResolvedModel } from "../../../runtime/models/index.js";
import { Runtime } from "../../../runtime/runtime.js";
import { describeTuning } from "../../../runtime/tuning.js";
import type { Model } from "../../../runtime/model.js";
import {
  DialogueRunner,
  FallbackBackend,
  GameSave,
  LocalBackend,
  DEFAULT_PLAYER_NAME,
  barkLines,
  resolveMacros,
  tokensPerSecond,
  type Character,
  type DialogueBackend,
  type DialogueEvent,
  type DialogueGraph,
  type Value,
} from "../../../plugin/index.js";
import { MAX_INPUT_CHARS, VILLAGE_NPCS, type HostEvent, type HostInfo, type NpcId, type NpcInfo } from "../protocol.js";
import { resolveVillageModel } from "./model-resolution.js";
import { VillageProject } from "./village-project.js";

export interface VillageServiceOptions {
  /** `--model FILE` (see resolveVillageModel). */
  model?: string;
  /** Vulkan device index or name substring (`--device`); default: PARLEY_DEVICE or the best device. */
  device?: string;
  /** Makes conversations repeatable: conversation n uses seed + n. Default: random. */
  seed?: number;
  /** Environment for model resolution (PARLEY_MODEL, PARLEY_MODELS). Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** An already resolved model (skips resolveVillageModel). */
  resolved?: ResolvedModel;
  /** Skip the model: authored lines only (FallbackBackend). */
  noModel?: boolean;
  /** Folder holding characters/ and dialogue/ (default: samples/village). */
  dataDir?: URL | string;
  /**
   * Watch dataDir and take a changed character or graph at the next conversation (`npm start -- --project
   * DIR`); an invalid file keeps the last good version and logs a warning (see village-project.ts).
   */
  live?: boolean;
  /** Where live reloading logs (default console.warn). */
  log?: (line: string) => void;
  /** Seconds before the same NPC may bark again (default 20). */
  barkCooldown?: number;
  /** Seconds a generated bark may take before an authored line replaces it (default 8). */
  barkTimeout?: number;
  /** Clock in milliseconds (tests). Default Date.now. */
  now?: () => number;
  /**
   * The save slot's file (villageSavePath): game variables and NPC memories are restored from it and written
   * to it, atomically, after every conversation and on dispose. Without it the village remembers only while
   * the process runs.
   */
  saveFile?: string;
  /** Start the slot afresh: its file is not read (and is replaced at the next save). */
  newGame?: boolean;
}

/** What bark() did: "started", or why not (rate limits are not errors). */
export type BarkResult = "started" | "busy" | "cooldown" | "conversation";

interface Npc {
  info: NpcInfo;
  /** The character and graph as they are now (a live project changes them between conversations). */
  character: Character;
  graph: DialogueGraph;
}

interface ActiveConversation {
  npc: NpcId;
  runner: DialogueRunner;
  done: Promise<void>;
}

interface ActiveBark {
  npc: NpcId;
  controller: AbortController;
  done: Promise<void>;
}

const WEATHER = ["clear skies", "light rain", "overcast", "a cold wind from the north"];

export class VillageService {
  readonly modelNote: string;
  readonly device: string;
  readonly backend: DialogueBackend;
  readonly synthetic: boolean;
  readonly #runtime: Runtime | undefined;
  readonly #data: VillageProject;
  readonly #listeners = new Set<(event: HostEvent) => void>();
  readonly #seed: number | undefined;
  readonly #now: () => number;
  readonly #barkCooldownMs: number;
  readonly #barkTimeoutMs: number;
  readonly #weather: string;
  readonly #bark: (character: Character, signal: AbortSignal) => AsyncIterable<string>;
  #conversationCount = 0;
  #active: ActiveConversation | undefined;
  #activeBark: ActiveBark | undefined;
  #lastBark = new Map<NpcId, number>();
  #queue: Promise<unknown> = Promise.resolve();
  #disposed = false;
  readonly #save: GameSave;
  readonly #saveFile: string | undefined;
  #saving: Promise<void> = Promise.resolve();

  private constructor(init: {
    save: GameSave;
    runtime: Runtime | undefined;
    backend: DialogueBackend;
    modelNote: string;
    device: string;
    synthetic: boolean;
    data: VillageProject;
    options: VillageServiceOptions;
  }) {
    this.#save = init.save;
    this.#saveFile = init.options.saveFile;
    this.#runtime = init.runtime;
    this.backend = init.backend;
    this.modelNote = init.modelNote;
    this.device = init.device;
    this.synthetic = init.synthetic;
    this.#data = init.data;
    const o = init.options;
    this.#seed = o.seed;
    this.#now = o.now ?? Date.now;
    this.#barkCooldownMs = (o.barkCooldown ?? 20) * 1000;
    this.#barkTimeoutMs = (o.barkTimeout ?? 8) * 1000;
    this.#weather = WEATHER[(o.seed ?? Math.floor(Math.random() * 1000)) % WEATHER.length];
    this.#bark = barkLines(this.backend, { world: () => this.#world(), playerName: () => this.#playerName() });
  }

  /**
   * Loads the NPCs, resolves and loads the model (on a GPU, tuning its decode kernels for it the first time). A model that cannot be loaded (no Vulkan device, a bad
   * file) leaves the village running on authored lines; an explicit `--model` file that does not exist
   * is an error (FileAccessError).
   */
  static async create(options: VillageServiceOptions = {}): Promise<VillageService> {
    if (options.seed !== undefined && !Number.isSafeInteger(options.seed)) {
      throw new InvalidArgumentError(`seed must be an integer, got ${options.seed}`);
    }
    const dataDir = options.dataDir ?? new URL("../", import.meta.url);
    const data = await VillageProject.open(typeof dataDir === "string" ? dataDir : fileURLToPath(dataDir), VILLAGE_NPCS.map((n) => n.id), { live: options.live, log: options.log });
    // A corrupt save is an error the player must see, not a silent new game that overwrites it.
    const save = options.saveFile && !options.newGame ? await GameSave.load(options.saveFile) : new GameSave();
    let runtime: Runtime | undefined;
    let backend: DialogueBackend;
    let modelNote: string;
    let device = "none";
    let synthetic = false;
    if (options.noModel) {
      backend = new FallbackBackend({ contextSize: 2048 });
      modelNote = "no model: authored lines only";
    } else {
      const resolved = options.resolved ?? (await resolveVillageModel({ model: options.model, env: options.env }));
      synthetic = resolved.synthetic;
      try {
        runtime = await Runtime.create({ device: options.device });
        device = runtime.device.name;
        const model = await runtime.loadModel(resolved.path);
        const local = new LocalBackend(model, { contextSize: 2048, device });
        backend = local;
        modelNote = `${resolved.note} — running on ${device}${await tuneForThisGpu(model, runtime.device.type)}`;
        // The first conversation's session (and the GPU pipelines it builds) before the village opens.
        await local.prepare();
      } catch (error) {
        runtime?.dispose();
        runtime = undefined;
        backend = new FallbackBackend({ contextSize: 2048 });
        modelNote = `no model: authored lines only (${error instanceof Error ? error.message : String(error)})`;
        synthetic = false;
      }
    }
    return new VillageService({ save, runtime, backend, modelNote, device, synthetic, data, options });
  }

  info(): HostInfo {
    return {
      modelNote: this.modelNote,
      device: this.device,
      canGenerate: this.backend.canGenerate,
      npcs: VILLAGE_NPCS.map((info) => ({ ...info, position: [...info.position], name: this.#data.get(info.id).character.name })),
    };
  }

  /** The NPC ids, in village order. */
  get npcIds(): NpcId[] {
    return VILLAGE_NPCS.map((n) => n.id);
  }

  /** The NPC of the running conversation, if any. */
  get activeNpc(): NpcId | undefined {
    return this.#active?.npc;
  }

  /** The runner of the running conversation (read-only use: status, offeredChoices, variables). */
  get activeRunner(): DialogueRunner | undefined {
    return this.#active?.runner;
  }

  character(npc: NpcId): Character {
    return this.#npc(npc).character;
  }

  /** Subscribes to host events; returns the unsubscribe function. */
  subscribe(listener: (event: HostEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /**
   * Starts a conversation with `npc`, cancelling the one under way (its `ended` arrives first) and any bark.
   * Resolves once the conversation has started; it then runs on its own, reporting through events.
   */
  async start(npc: NpcId): Promise<void> {
    this.#live();
    this.#npc(npc);
    return this.#serial(async () => {
      this.#live();
      await this.#stopConversation();
      await this.#stopBark();
      // A live project's files as saved now: this conversation keeps them even if they change meanwhile.
      await this.#data.refresh();
      this.#live();
      const target = this.#npc(npc);
      const seed = this.#seed === undefined ? undefined : this.#seed + this.#conversationCount;
      this.#conversationCount++;
      const runner: DialogueRunner = new DialogueRunner({
        graph: target.graph,
        character: target.character,
        backend: this.backend,
        seed,
        variables: this.#save.variablesFor(target.graph),
        memory: this.#save.memory(target.character.id),
        world: () => this.#world(),
        // Read at each line: while the innkeeper asks, the name counts from the moment it is given.
        playerName: (): string | undefined => this.#playerName(runner),
      });
      runner.on((event) => this.#onDialogue(target.info.id, event));
      // The runner reports failures as `ended` (error). However it ends, what changed is kept and saved:
      // gold spent before the player walked away stays spent.
      const done = runner
        .start()
        .catch(() => undefined)
        .then(() => {
          this.#save.record(target.graph, runner.variables);
          return this.#writeSave();
        });
      const active: ActiveConversation = { npc: target.info.id, runner, done };
      this.#active = active;
      void done.then(() => {
        if (this.#active === active) this.#active = undefined;
      });
    });
  }

  /** Picks an offered choice by its `index` (from the `choices_offered` event). */
  async choose(index: number): Promise<void> {
    this.#live();
    if (typeof index !== "number" || !Number.isInteger(index)) throw new InvalidArgumentError(`choose: index must be an integer, got ${JSON.stringify(index)}`);
    const runner = this.#waitingRunner("choose");
    runner.choose(index); // throws InvalidArgumentError when not waiting for a choice or not on offer
  }

  /** Answers an input request with the player's words. */
  async submit(text: string): Promise<void> {
    this.#live();
    if (typeof text !== "string") throw new InvalidArgumentError(`submit: text must be a string, got ${text === null ? "null" : typeof text}`);
    if (text.length > MAX_INPUT_CHARS) throw new InvalidArgumentError(`submit: text is ${text.length} characters; at most ${MAX_INPUT_CHARS}`);
    if (text.trim() === "") throw new InvalidArgumentError("submit: the line is empty; say something");
    const runner = this.#waitingRunner("submit");
    runner.submit(text);
  }

  /** Ends the running conversation (a no-op when none runs); resolves once it has ended. */
  cancel(): Promise<void> {
    if (this.#disposed) return Promise.resolve();
    return this.#serial(() => this.#stopConversation());
  }

  /**
   * An ambient line from `npc` (the player walked past). Rate limits are not errors: the result says
   * whether a bark started. The text arrives as `bark` events; a bark that cannot be generated in time is
   * replaced by one of the character's authored fallback lines.
   */
  async bark(npc: NpcId): Promise<BarkResult> {
    this.#live();
    const target = this.#npc(npc);
    if (this.#active) return "conversation";
    if (this.#activeBark) return "busy";
    const now = this.#now();
    const last = this.#lastBark.get(target.info.id);
    if (last !== undefined && now - last < this.#barkCooldownMs) return "cooldown";
    this.#lastBark.set(target.info.id, now);
    const controller = new AbortController();
    const bark: ActiveBark = { npc: target.info.id, controller, done: Promise.resolve() };
    bark.done = this.#runBark(target, controller.signal).finally(() => {
      if (this.#activeBark === bark) this.#activeBark = undefined;
    });
    this.#activeBark = bark;
    return "started";
  }

  /** Resolves when no bark is under way (tests, shutdown). */
  async barkSettled(): Promise<void> {
    await this.#activeBark?.done;
  }

  /** Cancels everything and frees the model and the Vulkan runtime. Safe to call twice. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    const settle = Promise.all([this.#stopConversation(), this.#stopBark()]);
    // A generation that ignores its abort must not hold shutdown forever.
    await Promise.race([settle, new Promise((r) => setTimeout(r, 5000).unref())]);
    await this.#writeSave();
    this.#data.close();
    this.#listeners.clear();
    if (this.backend instanceof LocalBackend) this.backend.dispose();
    this.#runtime?.dispose();
  }

  // ---------------------------------------------------------------------------------------------------

  /** The slot's game state (variables and memories) as it stands. */
  get save(): GameSave {
    return this.#save;
  }

  /** Writes the save file, one write at a time; a failed write is reported, never fatal to the game. */
  #writeSave(): Promise<void> {
    const file = this.#saveFile;
    if (!file) return Promise.resolve();
    this.#saving = this.#saving.then(() =>
      this.#save.save(file).catch((error) => {
        console.error(`village: could not save the game: ${error instanceof Error ? error.message : String(error)}`);
      }),
    );
    return this.#saving;
  }

  #live(): void {
    if (this.#disposed) throw new InvalidArgumentError("the village host has shut down");
  }

  #npc(npc: NpcId): Npc {
    const info = typeof npc === "string" ? VILLAGE_NPCS.find((n) => n.id === npc) : undefined;
    if (!info) throw new InvalidArgumentError(`unknown NPC ${JSON.stringify(npc)}; the village has ${VILLAGE_NPCS.map((n) => n.id).join(", ")}`);
    return { info, ...this.#data.get(info.id) };
  }

  #waitingRunner(what: string): DialogueRunner {
    const runner = this.#active?.runner;
    if (!runner || runner.status === "ended") throw new InvalidArgumentError(`${what}: no conversation is running; start one first`);
    return runner;
  }

  #serial<T>(op: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(op);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  async #stopConversation(): Promise<void> {
    const active = this.#active;
    if (!active) return;
    active.runner.cancel();
    await active.done;
    if (this.#active === active) this.#active = undefined;
  }

  async #stopBark(): Promise<void> {
    const bark = this.#activeBark;
    if (!bark) return;
    bark.controller.abort();
    await bark.done;
  }

  #emit(event: HostEvent): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(event);
      } catch (error) {
        console.error("village: an event listener failed:", error);
      }
    }
  }

  #onDialogue(npc: NpcId, event: DialogueEvent): void {
    this.#emit({ type: "dialogue", npc, event });
    if (event.type === "line_complete" && event.source === "generated" && event.timing) {
      this.#emit({ type: "stats", tokensPerSecond: tokensPerSecond(event.timing), firstTokenMs: event.timing.firstTokenMs });
    }
  }

  /**
   * The name the player gave, for `{{user}}` in the characters: the innkeeper asks for it and keeps it in her
   * graph's `player_name`, which the running conversation has as soon as it is typed and the save has after.
   * Undefined until it is given.
   */
  #playerName(runner?: DialogueRunner): string | undefined {
    const live = runner?.variables.player_name;
    if (typeof live === "string" && live.trim() !== "") return live.trim();
    const saved = this.#save.variablesFor(this.#data.get("innkeeper").graph).player_name;
    return typeof saved === "string" && saved.trim() !== "" ? saved.trim() : undefined;
  }

  #world(): Record<string, Value> {
    return { time: timeOfDay(new Date(this.#now())), weather: this.#weather };
  }

  async #runBark(npc: Npc, signal: AbortSignal): Promise<void> {
    const id = npc.info.id;
    let text = "";
    if (this.backend.canGenerate) {
      const timeout = new AbortController();
      const timer = setTimeout(() => timeout.abort(), this.#barkTimeoutMs);
      const stop = (): void => timeout.abort();
      signal.addEventListener("abort", stop, { once: true });
      try {
        for await (const chunk of this.#bark(npc.character, timeout.signal)) {
          if (timeout.signal.aborted) break;
          text += chunk;
          this.#emit({ type: "bark", npc: id, text, done: false });
        }
      } catch {
        text = ""; // failed or aborted: an authored line (or nothing, when cancelled) instead
      } finally {
        clearTimeout(timer);
        signal.removeEventListener("abort", stop);
      }
      if (timeout.signal.aborted && !signal.aborted) text = ""; // too slow: use an authored line
    }
    if (signal.aborted) {
      this.#emit({ type: "bark", npc: id, text: "", done: true }); // withdrawn
      return;
    }
    text = text.trim();
    if (text === "") {
      const lines = npc.character.fallbackLines;
      const authored = lines.length > 0 ? lines[Math.floor(Math.random() * lines.length)] : npc.character.greeting || "…";
      text = resolveMacros(authored, { char: npc.character.name, user: this.#playerName() ?? DEFAULT_PLAYER_NAME });
    }
    this.#emit({ type: "bark", npc: id, text, done: true });
  }
}

function timeOfDay(date: Date): string {
  const h = date.getHours();
  if (h < 5) return "night";
  if (h < 12) return "morning";
  if (h < 17) return "afternoon";
  if (h < 21) return "evening";
  return "night";
}

/**
 * On a GPU, the loading screen's shader warm-up: times the kernels' settings for this device once (Model.tune
 * stores the result, so later launches apply it without measuring) and says what it chose.
 * CPU Vulkan drivers keep their measured defaults (timing there takes longer than it saves). A tuning that
 * fails leaves the defaults: the village still talks.
 */
export async function tuneForThisGpu(model: Model, deviceType: string): Promise<string> {
  if (deviceType === "cpu") return "";
  try {
    const r = await model.tune();
    const d = r.decode;
    const gain = d.msPerToken && d.defaultMsPerToken ? `, decode ${(d.defaultMsPerToken / d.msPerToken).toFixed(2)}× the defaults` : "";
    return ` (kernels: ${describeTuning(r.tuning)}${gain})`;
  } catch (error) {
    return ` (kernel tuning failed, defaults kept: ${error instanceof Error ? error.message : String(error)})`;
  }
}
