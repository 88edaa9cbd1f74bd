// Where the village's NPCs come from: each NPC's character (characters/ID.json) and dialogue graph
// (dialogue/ID.json) in a project folder (samples/village by default, `npm start -- --project DIR`).
//
// A live project is watched: when a writer saves in the editor, the NPC's files are read again, and the
// next conversation uses them (one under way keeps the version it started with: the runner holds its own
// graph and character). A file that is unreadable or invalid on disk never replaces a good version: the
// village keeps the last good one and logs one line saying which file and why. The first load has no
// good version to keep, so there a bad file is an error.

import { watch, type FSWatcher } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { parseJsonText } from "../../../editor/project/json-position.js";
import { InvalidArgumentError } from "../../../runtime/errors.js";
import { PluginValidationError } from "../../../plugin/errors.js";
import { parseCharacter, parseDialogueGraph, type Character, type DialogueGraph } from "../../../plugin/index.js";

export interface NpcData {
  character: Character;
  graph: DialogueGraph;
}

export interface VillageProjectOptions {
  /** Watch the folder and re-read changed files (default false: read once). */
  live?: boolean;
  /** Where warnings and reload notes go (default console.warn). */
  log?: (line: string) => void;
  /** How long the watcher waits after the last file event, ms (default 100). */
  debounceMs?: number;
}

/** A file's text as last read: a change of text is what makes the NPC be read again. */
interface Seen {
  character: string;
  graph: string;
}

export class VillageProject {
  readonly dir: string;
  readonly live: boolean;
  readonly #ids: readonly string[];
  readonly #current = new Map<string, NpcData>();
  readonly #seen = new Map<string, Seen>();
  /** The warning last logged per NPC, so a bad file is reported once, not at every conversation. */
  readonly #lastWarning = new Map<string, string>();
  readonly #log: (line: string) => void;
  readonly #debounceMs: number;
  readonly #watchers: FSWatcher[] = [];
  #timer: NodeJS.Timeout | undefined;
  #refreshing: Promise<void> = Promise.resolve();
  #closed = false;

  private constructor(dir: string, ids: readonly string[], options: VillageProjectOptions) {
    this.dir = dir;
    this.#ids = ids;
    this.live = options.live ?? false;
    this.#log = options.log ?? ((line) => console.warn(line));
    this.#debounceMs = options.debounceMs ?? 100;
  }

  /** Reads the NPCs `ids` from `dir`; a missing or invalid file is an InvalidArgumentError naming it. */
  static async open(dir: string, ids: readonly string[], options: VillageProjectOptions = {}): Promise<VillageProject> {
    const project = new VillageProject(dir, ids, options);
    for (const id of ids) {
      const texts = await project.#read(id);
      if (typeof texts === "string") throw new InvalidArgumentError(texts);
      const parsed = project.#parse(id, texts);
      if (typeof parsed === "string") throw new InvalidArgumentError(parsed);
      project.#current.set(id, parsed);
      project.#seen.set(id, texts);
    }
    if (project.live) project.#watch();
    return project;
  }

  /** The NPC's last good character and graph. */
  get(id: string): NpcData {
    const data = this.#current.get(id);
    if (!data) throw new InvalidArgumentError(`the village has no NPC ${JSON.stringify(id)}`);
    return data;
  }

  /**
   * A live project reads every NPC's files again and takes those that changed and are valid (a no-op
   * otherwise). Called before each conversation, so a save just made is never missed while the watcher
   * waits out its debounce.
   */
  refresh(): Promise<void> {
    if (!this.live || this.#closed) return Promise.resolve();
    // A failure here must not stop the village: the NPCs keep their last good version.
    this.#refreshing = this.#refreshing
      .then(() => this.#refreshAll())
      .catch((error: unknown) => this.#log(`village: warning: reading ${this.dir} again failed (${error instanceof Error ? error.message : String(error)}); keeping the last good versions`));
    return this.#refreshing;
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    for (const watcher of this.#watchers) watcher.close();
    this.#watchers.length = 0;
  }

  async #refreshAll(): Promise<void> {
    for (const id of this.#ids) {
      const texts = await this.#read(id);
      if (typeof texts === "string") {
        this.#warn(id, { character: "", graph: "" }, texts);
        continue;
      }
      const seen = this.#seen.get(id);
      if (seen && seen.character === texts.character && seen.graph === texts.graph) continue;
      this.#seen.set(id, texts);
      const parsed = this.#parse(id, texts);
      if (typeof parsed === "string") {
        this.#warn(id, texts, parsed);
        continue;
      }
      this.#current.set(id, parsed);
      this.#lastWarning.delete(id);
      this.#log(`village: reloaded ${id} from ${this.dir} (the next conversation with ${parsed.character.name} uses it)`);
    }
  }

  /** One line, once per bad version of the files. */
  #warn(id: string, texts: Seen, reason: string): void {
    this.#seen.set(id, texts);
    const oneLine = reason.replace(/\s*\n\s*/g, "; ");
    if (this.#lastWarning.get(id) === oneLine) return;
    this.#lastWarning.set(id, oneLine);
    this.#log(`village: warning: ${oneLine}; keeping the last good version of ${id}`);
  }

  #paths(id: string): { character: string; graph: string } {
    return { character: join(this.dir, "characters", `${id}.json`), graph: join(this.dir, "dialogue", `${id}.json`) };
  }

  /** Both files' text, or why they cannot be read. */
  async #read(id: string): Promise<Seen | string> {
    const paths = this.#paths(id);
    const texts: Partial<Seen> = {};
    for (const key of ["character", "graph"] as const) {
      try {
        texts[key] = await readFile(paths[key], "utf8");
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        return `cannot read ${paths[key]}: ${code === "ENOENT" ? "no such file" : error instanceof Error ? error.message : String(error)}`;
      }
    }
    return texts as Seen;
  }

  /** The NPC's character and graph from their text, or the first problem. */
  #parse(id: string, texts: Seen): NpcData | string {
    const paths = this.#paths(id);
    const name = (path: string): string => relative(this.dir, path) || path;
    const parse = <T>(path: string, text: string, as: (json: unknown) => T): T | string => {
      try {
        // The project layer's JSON reader: a syntax error says its line and column, as the editor shows it.
        return as(parseJsonText(text, "not valid JSON"));
      } catch (error) {
        return `${name(path)} in ${this.dir}: ${describeProblem(error)}`;
      }
    };
    const character = parse(paths.character, texts.character, parseCharacter);
    if (typeof character === "string") return character;
    const graph = parse(paths.graph, texts.graph, parseDialogueGraph);
    if (typeof graph === "string") return graph;
    if (character.id !== id) return `${name(paths.character)} in ${this.dir}: its id is "${character.id}", the village needs "${id}"`;
    if (graph.character !== character.id) return `${name(paths.graph)} in ${this.dir} is for character "${graph.character}", not "${character.id}"`;
    return { character, graph };
  }

  #watch(): void {
    for (const folder of ["characters", "dialogue"]) {
      try {
        const watcher = watch(join(this.dir, folder), { persistent: false }, () => this.#schedule());
        // A folder that goes away (renamed, deleted) is not fatal: refresh() before each conversation still reads.
        watcher.on("error", () => watcher.close());
        this.#watchers.push(watcher);
      } catch (error) {
        this.#log(`village: warning: cannot watch ${join(this.dir, folder)} (${error instanceof Error ? error.message : String(error)}); changes are read at the next conversation`);
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

/** A validation failure as one line: each problem with its JSON path (the first few, then how many more). */
function describeProblem(error: unknown): string {
  if (!(error instanceof PluginValidationError)) return error instanceof Error ? error.message : String(error);
  const shown = error.issues.slice(0, 3).map((i) => (i.path ? `${i.path}: ${i.message}` : i.message));
  const more = error.issues.length - shown.length;
  return shown.join("; ") + (more > 0 ? `; and ${more} more problem${more === 1 ? "" : "s"}` : "");
}
