// The host side of a game's conversations, independent of any transport: NPCs (from code or a project folder),
// the model and its runtime (or any DialogueBackend), NPC memory and game state (a save file), one running
// conversation at a time and rate-limited ambient barks. The HTTP host (http-host.ts), the Electron helper
// (electron/main.ts) and a terminal chat all drive one of these; so can a game's own code directly.
//
//   const host = await ConversationHost.create({ model: "tinyllama.gguf", project: "my-project/" });
//   const off = host.subscribe((event) => ...);     // HostEvent (protocol.ts)
//   await host.start("blacksmith");                // then choose(i) / submit(text) as the events ask
//   await host.dispose();
//
// Starting a conversation cancels the running one (its `ended` arrives first) and any bark. Barks run one at a
// time, each NPC at most once per `barkCooldown` seconds, never during a conversation.

import { access } from "node:fs/promises";
import { basename } from "node:path";
import { FileAccessError, InvalidArgumentError, Runtime, type Model } from "../../runtime/index.js";
import type { DialogueBackend } from "../backend.js";
import { barkLines } from "../dialogue/bark-lines.js";
import { DialogueRunner } from "../dialogue/runner.js";
import { tokensPerSecond, type DialogueEvent } from "../events.js";
import { FallbackBackend, LocalBackend } from "../local-backend.js";
import { DEFAULT_PLAYER_NAME, resolveMacros } from "../prompt/macros.js";
import { GameSave } from "../save/game-save.js";
import type { Value } from "../types.js";
import { NpcList, type NpcData, type NpcDefinition, type NpcSource } from "./npc-source.js";
import { ProjectNpcs } from "./project-npcs.js";
import type { BarkResult, HostEvent, HostInfo, HostRequest, HostService, NpcInfo } from "./protocol.js";
import { MAX_INPUT_CHARS } from "./protocol.js";

/** The running conversation, as a playerName or world callback sees it. */
export interface ConversationView {
  npc: string;
  /** The graph's variables as they are now (a line the player just typed is already in them). */
  variables: Record<string, Value>;
}

export interface ConversationHostOptions {
  /** NPCs given in code: characters and their graphs (objects or parsed JSON). */
  npcs?: readonly NpcDefinition[];
  /** Or a project folder in the editor's format (characters/, dialogue/, parley.project.json). */
  project?: string;
  /** Watch the project folder: the next conversation takes a saved change (default false). */
  live?: boolean;
  /** NPC ids the project must have (the NPCs a game places in its world). */
  requireNpcs?: readonly string[];
  /** A GGUF file to load (any Llama-architecture model). Without it and without `backend`: authored lines only. */
  model?: string;
  /** How the info line names the model (default: its file name). */
  modelNote?: string;
  /** Any DialogueBackend instead of `model` (the host does not dispose it). */
  backend?: DialogueBackend;
  /** Vulkan device index or name substring (default: the best device). */
  device?: string;
  /** Tokens of context per conversation (default: the project's contextSize, else 2048). */
  contextSize?: number;
  /** Runs once the model has loaded (e.g. kernel tuning); what it returns is added to the info line. */
  onModelLoaded?: (model: Model, runtime: Runtime) => Promise<string | void>;
  /** Makes conversations repeatable: conversation n uses seed + n. Default: random. */
  seed?: number;
  /**
   * The save file: game variables and NPC memories are restored from it and written to it, atomically, after
   * every conversation and on dispose. Without it the host remembers only while the process runs.
   */
  saveFile?: string;
  /** Start afresh: the save file is not read (and is replaced at the next save). */
  newGame?: boolean;
  /** The world's state for prompts (time of day, weather…), read at each line. */
  world?: () => Record<string, Value>;
  /** The player's name for `{{user}}` in characters, read at each line; `conversation` is the running one. */
  playerName?: (host: ConversationHost, conversation: ConversationView | undefined) => string | undefined;
  /** Seconds before the same NPC may bark again (default 20). */
  barkCooldown?: number;
  /** Seconds a generated bark may take before an authored line replaces it (default 8). */
  barkTimeout?: number;
  /** Clock in milliseconds (tests). Default Date.now. */
  now?: () => number;
  /** Where warnings and notes go (default console.warn). */
  log?: (line: string) => void;
}

interface ActiveConversation {
  npc: string;
  runner: DialogueRunner;
  done: Promise<void>;
}

interface ActiveBark {
  npc: string;
  controller: AbortController;
  done: Promise<void>;
}

export class ConversationHost implements HostService {
  /** One line for the screen: which model runs on which device, or why none does. */
  readonly modelNote: string;
  /** The Vulkan device's name, or "none". */
  readonly device: string;
  readonly backend: DialogueBackend;
  readonly #runtime: Runtime | undefined;
  readonly #ownsBackend: boolean;
  readonly #npcs: NpcSource;
  readonly #listeners = new Set<(event: HostEvent) => void>();
  readonly #options: ConversationHostOptions;
  readonly #now: () => number;
  readonly #log: (line: string) => void;
  readonly #bark: (character: NpcData["character"], signal: AbortSignal) => AsyncIterable<string>;
  readonly #save: GameSave;
  #conversationCount = 0;
  #active: ActiveConversation | undefined;
  #activeBark: ActiveBark | undefined;
  #lastBark = new Map<string, number>();
  #queue: Promise<unknown> = Promise.resolve();
  #saving: Promise<void> = Promise.resolve();
  #disposed = false;

  private constructor(init: {
    npcs: NpcSource;
    save: GameSave;
    runtime: Runtime | undefined;
    backend: DialogueBackend;
    ownsBackend: boolean;
    modelNote: string;
    device: string;
    options: ConversationHostOptions;
  }) {
    this.#npcs = init.npcs;
    this.#save = init.save;
    this.#runtime = init.runtime;
    this.backend = init.backend;
    this.#ownsBackend = init.ownsBackend;
    this.modelNote = init.modelNote;
    this.device = init.device;
    this.#options = init.options;
    this.#now = init.options.now ?? Date.now;
    this.#log = init.options.log ?? ((line) => console.warn(line));
    this.#bark = barkLines(this.backend, { world: () => this.#world(), playerName: () => this.#playerName(undefined) });
  }

  /**
   * Reads the NPCs, the save and the model. A model file that does not exist is a FileAccessError (a wrong path
   * is the developer's to fix); a model that cannot run here (no Vulkan device, a file the runtime refuses)
   * leaves the host speaking authored lines, and `modelNote` says why.
   */
  static async create(options: ConversationHostOptions = {}): Promise<ConversationHost> {
    if (options.seed !== undefined && !Number.isSafeInteger(options.seed)) throw new InvalidArgumentError(`seed must be an integer, got ${options.seed}`);
    if ((options.npcs === undefined) === (options.project === undefined))
      throw new InvalidArgumentError("give the host its NPCs: either `npcs` (characters and graphs) or `project` (a project folder)");
    if (options.model !== undefined && options.backend !== undefined) throw new InvalidArgumentError("give either `model` or `backend`, not both");
    const log = options.log ?? ((line: string) => console.warn(line));
    const npcs =
      options.project !== undefined
        ? await ProjectNpcs.open(options.project, { live: options.live, require: options.requireNpcs, log })
        : new NpcList(options.npcs!);
    try {
      const contextSize = options.contextSize ?? (npcs instanceof ProjectNpcs ? npcs.manifest.contextSize : 2048);
      // A corrupt save is an error the player must see, not a silent new game that overwrites it.
      const save = options.saveFile && !options.newGame ? await GameSave.load(options.saveFile) : new GameSave();
      if (options.backend) {
        return new ConversationHost({
          npcs,
          save,
          runtime: undefined,
          backend: options.backend,
          ownsBackend: false,
          modelNote: options.modelNote ?? options.backend.description,
          device: "none",
          options,
        });
      }
      if (options.model === undefined) {
        return new ConversationHost({
          npcs,
          save,
          runtime: undefined,
          backend: new FallbackBackend({ contextSize }),
          ownsBackend: false,
          modelNote: "no model: authored lines only",
          device: "none",
          options,
        });
      }
      await access(options.model).catch((error: unknown) => {
        throw new FileAccessError(options.model!, "cannot read the model file: no such file", { cause: error });
      });
      const loaded = await loadModel(options.model, contextSize, options);
      return new ConversationHost({ npcs, save, ...loaded, options });
    } catch (error) {
      npcs.close();
      throw error;
    }
  }

  /** The NPCs, the model and the device. */
  info(): HostInfo {
    const npcs: NpcInfo[] = [];
    for (const id of this.#npcs.ids()) {
      const npc = this.#npcs.get(id);
      if (npc) npcs.push({ id, name: npc.character.name, role: npc.character.role, graph: npc.graph.id });
    }
    return { modelNote: this.modelNote, device: this.device, canGenerate: this.backend.canGenerate, npcs };
  }

  /** The NPC ids. */
  get npcIds(): string[] {
    return this.#npcs.ids();
  }

  /** The NPC of the running conversation, if any. */
  get activeNpc(): string | undefined {
    return this.#active?.npc;
  }

  /** The runner of the running conversation (read-only use: status, offered choices, variables). */
  get activeRunner(): DialogueRunner | undefined {
    return this.#active?.runner;
  }

  /** The game state (variables and memories) as it stands. */
  get save(): GameSave {
    return this.#save;
  }

  /** An NPC's character and graph as they are now. */
  npc(id: string): NpcData {
    const npc = typeof id === "string" ? this.#npcs.get(id) : undefined;
    if (!npc) throw new InvalidArgumentError(`unknown NPC ${JSON.stringify(id)}; this host has ${this.#npcs.ids().join(", ")}`);
    return npc;
  }

  subscribe(listener: (event: HostEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** Runs a request that a transport has checked (protocol.ts parseHostRequest). */
  async handle(request: HostRequest): Promise<unknown> {
    switch (request.method) {
      case "info":
        return this.info();
      case "start":
        await this.start(request.npc);
        return null;
      case "choose":
        await this.choose(request.index);
        return null;
      case "submit":
        await this.submit(request.text);
        return null;
      case "cancel":
        await this.cancel();
        return null;
      case "bark":
        return this.bark(request.npc);
    }
  }

  /**
   * Starts a conversation with `npc`, cancelling the one under way (its `ended` arrives first) and any bark.
   * Resolves once the conversation has started; it then runs on its own, reporting through events.
   */
  async start(npc: string): Promise<void> {
    this.#live();
    this.npc(npc);
    return this.#serial(async () => {
      this.#live();
      await this.#stopConversation();
      await this.#stopBark();
      // A live project's files as saved now: this conversation keeps them even if they change meanwhile.
      await this.#npcs.refresh();
      this.#live();
      const { character, graph } = this.npc(npc);
      const seed = this.#options.seed === undefined ? undefined : this.#options.seed + this.#conversationCount;
      this.#conversationCount++;
      const runner: DialogueRunner = new DialogueRunner({
        graph,
        character,
        backend: this.backend,
        seed,
        variables: this.#save.variablesFor(graph),
        memory: this.#save.memory(character.id),
        world: () => this.#world(),
        // Read at each line: a name the player gives counts from the moment it is typed.
        playerName: (): string | undefined => this.#playerName({ npc, variables: runner.variables }),
      });
      runner.on((event) => this.#onDialogue(npc, event));
      // The runner reports failures as `ended` (error). However it ends, what changed is kept and saved:
      // gold spent before the player walked away stays spent.
      const done = runner
        .start()
        .catch(() => undefined)
        .then(() => {
          this.#save.record(graph, runner.variables);
          return this.#writeSave();
        });
      const active: ActiveConversation = { npc, runner, done };
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
    this.#waitingRunner("choose").choose(index); // throws InvalidArgumentError when no choice waits or it is not on offer
  }

  /** Answers an input request with the player's words. */
  async submit(text: string): Promise<void> {
    this.#live();
    if (typeof text !== "string") throw new InvalidArgumentError(`submit: text must be a string, got ${text === null ? "null" : typeof text}`);
    if (text.length > MAX_INPUT_CHARS) throw new InvalidArgumentError(`submit: text is ${text.length} characters; at most ${MAX_INPUT_CHARS}`);
    if (text.trim() === "") throw new InvalidArgumentError("submit: the line is empty; say something");
    this.#waitingRunner("submit").submit(text);
  }

  /** Ends the running conversation (a no-op when none runs); resolves once it has ended. */
  cancel(): Promise<void> {
    if (this.#disposed) return Promise.resolve();
    return this.#serial(() => this.#stopConversation());
  }

  /**
   * An ambient line from `npc` (the player walked past). Rate limits are not errors: the result says whether
   * a bark started. The text arrives as `bark` events; a bark that cannot be generated in time is replaced by
   * one of the character's authored fallback lines.
   */
  async bark(npc: string): Promise<BarkResult> {
    this.#live();
    const target = this.npc(npc);
    if (this.#active) return "conversation";
    if (this.#activeBark) return "busy";
    const now = this.#now();
    const last = this.#lastBark.get(npc);
    if (last !== undefined && now - last < (this.#options.barkCooldown ?? 20) * 1000) return "cooldown";
    this.#lastBark.set(npc, now);
    const controller = new AbortController();
    const bark: ActiveBark = { npc, controller, done: Promise.resolve() };
    bark.done = this.#runBark(npc, target, controller.signal).finally(() => {
      if (this.#activeBark === bark) this.#activeBark = undefined;
    });
    this.#activeBark = bark;
    return "started";
  }

  /** Resolves when no bark is under way (tests, shutdown). */
  async barkSettled(): Promise<void> {
    await this.#activeBark?.done;
  }

  /** Cancels everything, saves, and frees the model and the Vulkan runtime. Safe to call twice. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    const settle = Promise.all([this.#stopConversation(), this.#stopBark()]);
    // A generation that ignores its abort must not hold shutdown forever.
    await Promise.race([settle, new Promise((r) => setTimeout(r, 5000).unref())]);
    await this.#writeSave();
    this.#npcs.close();
    this.#listeners.clear();
    if (this.#ownsBackend && this.backend instanceof LocalBackend) this.backend.dispose();
    this.#runtime?.dispose();
  }

  // ---------------------------------------------------------------------------------------------------

  /** Writes the save file, one write at a time; a failed write is reported, never fatal to the game. */
  #writeSave(): Promise<void> {
    const file = this.#options.saveFile;
    if (!file) return Promise.resolve();
    this.#saving = this.#saving.then(() =>
      this.#save.save(file).catch((error) => this.#log(`parley host: could not save the game: ${error instanceof Error ? error.message : String(error)}`)),
    );
    return this.#saving;
  }

  #live(): void {
    if (this.#disposed) throw new InvalidArgumentError("the conversation host has shut down");
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
        this.#log(`parley host: an event listener failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }

  #onDialogue(npc: string, event: DialogueEvent): void {
    this.#emit({ type: "dialogue", npc, event });
    if (event.type === "line_complete" && event.source === "generated" && event.timing) {
      this.#emit({ type: "stats", tokensPerSecond: tokensPerSecond(event.timing), firstTokenMs: event.timing.firstTokenMs });
    }
  }

  #playerName(conversation: ConversationView | undefined): string | undefined {
    const name = this.#options.playerName?.(
      this,
      conversation ?? (this.#active ? { npc: this.#active.npc, variables: this.#active.runner.variables } : undefined),
    );
    return typeof name === "string" && name.trim() !== "" ? name.trim() : undefined;
  }

  #world(): Record<string, Value> {
    return this.#options.world?.() ?? {};
  }

  async #runBark(id: string, npc: NpcData, signal: AbortSignal): Promise<void> {
    let text = "";
    if (this.backend.canGenerate) {
      const timeout = new AbortController();
      const timer = setTimeout(() => timeout.abort(), (this.#options.barkTimeout ?? 8) * 1000);
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
      text = resolveMacros(authored, { char: npc.character.name, user: this.#playerName(undefined) ?? DEFAULT_PLAYER_NAME });
    }
    this.#emit({ type: "bark", npc: id, text, done: true });
  }
}

/** Loads the model on a new runtime; a model that cannot run here falls back to authored lines. */
async function loadModel(
  path: string,
  contextSize: number,
  options: ConversationHostOptions,
): Promise<{ runtime: Runtime | undefined; backend: DialogueBackend; ownsBackend: boolean; modelNote: string; device: string }> {
  const label = options.modelNote ?? basename(path);
  let runtime: Runtime | undefined;
  try {
    runtime = await Runtime.create({ device: options.device });
    const device = runtime.device.name;
    const model = await runtime.loadModel(path);
    const backend = new LocalBackend(model, { contextSize, device });
    const extra = (await options.onModelLoaded?.(model, runtime)) ?? "";
    // The first conversation's session (and the GPU pipelines it builds) before the game opens.
    await backend.prepare();
    return { runtime, backend, ownsBackend: true, modelNote: `${label} — running on ${device}${extra}`, device };
  } catch (error) {
    runtime?.dispose();
    const why = error instanceof Error ? error.message : String(error);
    (options.log ?? ((line: string) => console.warn(line)))(`parley host: warning: the model cannot run here (${why}); NPCs speak their authored lines`);
    return {
      runtime: undefined,
      backend: new FallbackBackend({ contextSize }),
      ownsBackend: false,
      modelNote: `no model: authored lines only (${why})`,
      device: "none",
    };
  }
}
