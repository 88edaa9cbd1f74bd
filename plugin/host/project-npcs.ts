// NPCs from a project folder in the editor's format: `characters/ID.json` and `dialogue/*.json` (each graph
// names its character), with the settings of `parley.project.json` when there is one. Every character that
// has a graph is an NPC; its conversations run the graph named after it (`dialogue/ID.json`), or else the
// first graph, by file name, that names it.
//
// A live folder is watched: when a writer saves in the editor, the files are read again and the next
// conversation uses them (one under way keeps the version it started with). A file that is unreadable or
// invalid never replaces a good version: the NPC keeps its last good one and one line says which file and
// why. The first load has no good version to keep, so there a bad file is an error naming it.

import { watch, type FSWatcher } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { InvalidArgumentError } from "../../runtime/index.js";
import { parseCharacter } from "../character/validate.js";
import { parseDialogueGraph } from "../dialogue/validate.js";
import { PluginValidationError } from "../errors.js";
import { parseJsonText } from "../project/json-position.js";
import { defaultProjectManifest, parseProjectManifest, PROJECT_MANIFEST_FILE, type ProjectManifest } from "../project/manifest.js";
import type { Character, DialogueGraph } from "../types.js";
import type { NpcData, NpcSource } from "./npc-source.js";

export interface ProjectNpcsOptions {
  /** Watch the folder and take changed files (default false: read once). */
  live?: boolean;
  /** NPC ids the folder must have (a game that places these NPCs in its world). */
  require?: readonly string[];
  /** Where warnings and reload notes go (default console.warn). */
  log?: (line: string) => void;
  /** How long the watcher waits after the last file event, ms (default 100). */
  debounceMs?: number;
}

/** One file as last read: its text, and what it parsed to or why it did not. */
interface FileState<T> {
  text: string;
  value?: T;
  problem?: string;
}

/** An NPC with the texts it was built from (a change of text is what makes it be taken again). */
interface Npc extends NpcData {
  texts: string;
}

const FOLDERS = ["characters", "dialogue"] as const;

export class ProjectNpcs implements NpcSource {
  readonly dir: string;
  readonly live: boolean;
  readonly manifest: ProjectManifest;
  readonly #npcs = new Map<string, Npc>();
  readonly #characters = new Map<string, FileState<Character>>();
  readonly #graphs = new Map<string, FileState<DialogueGraph>>();
  readonly #warned = new Set<string>();
  readonly #log: (line: string) => void;
  readonly #debounceMs: number;
  readonly #watchers: FSWatcher[] = [];
  #timer: NodeJS.Timeout | undefined;
  #refreshing: Promise<void> = Promise.resolve();
  #closed = false;

  private constructor(dir: string, manifest: ProjectManifest, options: ProjectNpcsOptions) {
    this.dir = dir;
    this.manifest = manifest;
    this.live = options.live ?? false;
    this.#log = options.log ?? ((line) => console.warn(line));
    this.#debounceMs = options.debounceMs ?? 100;
  }

  /** Reads the folder; a missing folder, an invalid file or a required NPC it lacks is an InvalidArgumentError. */
  static async open(dir: string, options: ProjectNpcsOptions = {}): Promise<ProjectNpcs> {
    const project = new ProjectNpcs(dir, await readManifest(dir), options);
    const problems = await project.#readAll();
    if (problems.length > 0) throw new InvalidArgumentError(problems[0]);
    project.#assemble(false);
    for (const id of options.require ?? []) {
      if (!project.#npcs.has(id)) throw new InvalidArgumentError(`${dir} has no NPC "${id}": it needs characters/${id}.json and a graph in dialogue/ for it`);
    }
    if (project.#npcs.size === 0)
      throw new InvalidArgumentError(`${dir} has no NPCs: it needs characters/ID.json files and graphs in dialogue/ that name them`);
    if (project.live) project.#watch();
    return project;
  }

  ids(): string[] {
    return [...this.#npcs.keys()];
  }

  get(id: string): NpcData | undefined {
    const npc = this.#npcs.get(id);
    return npc && { character: npc.character, graph: npc.graph };
  }

  /**
   * A live folder reads its files again and takes the NPCs whose files changed and are valid (a no-op
   * otherwise). The host calls it before each conversation, so a save just made is never missed while the
   * watcher waits out its debounce.
   */
  refresh(): Promise<void> {
    if (!this.live || this.#closed) return Promise.resolve();
    // A failure here must not stop the game: the NPCs keep their last good version.
    this.#refreshing = this.#refreshing
      .then(async () => {
        await this.#readAll();
        this.#assemble(true);
      })
      .catch((error: unknown) => this.#log(`parley host: warning: reading ${this.dir} again failed (${message(error)}); keeping the last good versions`));
    return this.#refreshing;
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    for (const watcher of this.#watchers) watcher.close();
    this.#watchers.length = 0;
  }

  /** Reads both folders into the file tables; returns the problems of files that changed. */
  async #readAll(): Promise<string[]> {
    const problems: string[] = [];
    const read = async <T>(folder: string, table: Map<string, FileState<T>>, parse: (json: unknown) => T): Promise<void> => {
      const names = await listJson(join(this.dir, folder));
      for (const name of [...table.keys()]) if (!names.includes(name)) table.delete(name);
      for (const name of names) {
        const path = `${folder}/${name}`;
        let text: string;
        try {
          text = await readFile(join(this.dir, folder, name), "utf8");
        } catch (error) {
          problems.push(`cannot read ${path} in ${this.dir}: ${message(error)}`);
          continue;
        }
        if (table.get(name)?.text === text) continue;
        try {
          // The project layer's JSON reader: a syntax error says its line and column, as the editor shows it.
          table.set(name, { text, value: parse(parseJsonText(text, "not valid JSON")) });
        } catch (error) {
          const problem = `${path} in ${this.dir}: ${describeProblem(error)}`;
          table.set(name, { text, problem });
          problems.push(problem);
        }
      }
    };
    await read("characters", this.#characters, parseCharacter);
    await read("dialogue", this.#graphs, parseDialogueGraph);
    return problems;
  }

  /** Builds the NPCs from the valid files; an NPC whose files are now bad keeps its last good version. */
  #assemble(reloading: boolean): void {
    const graphsFor = new Map<string, { name: string; graph: DialogueGraph }[]>();
    for (const [name, state] of [...this.#graphs].sort(([a], [b]) => a.localeCompare(b))) {
      if (!state.value) continue;
      const list = graphsFor.get(state.value.character) ?? [];
      list.push({ name, graph: state.value });
      graphsFor.set(state.value.character, list);
    }
    for (const [name, state] of [...this.#characters].sort(([a], [b]) => a.localeCompare(b))) {
      const id = basename(name, ".json");
      const bad = state.problem ?? this.#graphs.get(`${id}.json`)?.problem;
      if (bad !== undefined) {
        if (reloading) this.#warnOnce(`parley host: warning: ${bad.replace(/\s*\n\s*/g, "; ")}; keeping the last good version of ${id}`);
        continue;
      }
      const character = state.value!;
      if (character.id !== id) {
        this.#warnOnce(`parley host: warning: characters/${name} in ${this.dir} has the id "${character.id}"; the file name says "${id}" (skipped)`);
        continue;
      }
      const candidates = graphsFor.get(id) ?? [];
      const chosen = candidates.find((c) => c.name === `${id}.json`) ?? candidates[0];
      if (!chosen) continue; // a character without a graph is not an NPC (yet)
      const texts = state.text + "\u0000" + this.#graphs.get(chosen.name)!.text;
      if (this.#npcs.get(id)?.texts === texts) continue;
      const known = this.#npcs.has(id);
      this.#npcs.set(id, { character, graph: chosen.graph, texts });
      if (reloading) this.#log(`parley host: ${known ? "reloaded" : "added"} ${id} from ${this.dir} (the next conversation with ${character.name} uses it)`);
    }
  }

  /** One line per distinct problem, so a bad file is reported once, not at every conversation. */
  #warnOnce(line: string): void {
    if (this.#warned.has(line)) return;
    this.#warned.add(line);
    this.#log(line);
  }

  #watch(): void {
    for (const folder of FOLDERS) {
      try {
        const watcher = watch(join(this.dir, folder), { persistent: false }, () => this.#schedule());
        // A folder that goes away (renamed, deleted) is not fatal: refresh() before each conversation still reads.
        watcher.on("error", () => watcher.close());
        this.#watchers.push(watcher);
      } catch (error) {
        this.#log(`parley host: warning: cannot watch ${join(this.dir, folder)} (${message(error)}); changes are read at the next conversation`);
      }
    }
  }

  #schedule(): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.refresh(), this.#debounceMs);
    this.#timer.unref();
  }
}

/** The folder's manifest, or the defaults when it has none. */
async function readManifest(dir: string): Promise<ProjectManifest> {
  let text: string;
  try {
    text = await readFile(join(dir, PROJECT_MANIFEST_FILE), "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      await listJson(join(dir, "characters")); // a folder that is not a project at all says so
      return defaultProjectManifest(basename(dir));
    }
    throw new InvalidArgumentError(`cannot read ${join(dir, PROJECT_MANIFEST_FILE)}: ${message(error)}`);
  }
  try {
    return parseProjectManifest(parseJsonText(text, "not valid JSON"));
  } catch (error) {
    throw new InvalidArgumentError(`${PROJECT_MANIFEST_FILE} in ${dir}: ${describeProblem(error)}`);
  }
}

async function listJson(folder: string): Promise<string[]> {
  try {
    return (await readdir(folder)).filter((name) => name.endsWith(".json") && !name.startsWith(".")).sort();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new InvalidArgumentError(`cannot read the project folder ${folder}: ${code === "ENOENT" ? "no such folder" : message(error)}`);
  }
}

function message(error: unknown): string {
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code === "ENOENT") return "no such file";
  return error instanceof Error ? error.message : String(error);
}

/** A validation failure as one line: each problem with its JSON path (the first few, then how many more). */
function describeProblem(error: unknown): string {
  if (!(error instanceof PluginValidationError)) return message(error);
  const shown = error.issues.slice(0, 3).map((i) => (i.path ? `${i.path}: ${i.message}` : i.message));
  const more = error.issues.length - shown.length;
  return shown.join("; ") + (more > 0 ? `; and ${more} more problem${more === 1 ? "" : "s"}` : "");
}
