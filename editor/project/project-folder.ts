// A Parley project as the editor sees it: a folder with `parley.project.json`, `characters/*.json`,
// `dialogue/*.json` and their `dialogue/*.layout.json`. Every file is kept with the exact text and hash
// that was read, so a save can tell whether someone else (a git pull, another editor) changed the file
// since, and refuse to overwrite their work. Files are validated with the plugin's own parsers and written
// with its serializers, so the editor can never write something the game would refuse, and both write
// identical text.

import { createHash } from "node:crypto";
import { readdir, readFile, rename, rm } from "node:fs/promises";
import { basename, resolve } from "node:path";
import { CHARACTER_ID_PATTERN, parseCharacter, serializeCharacter } from "../../plugin/character/validate.js";
import { checkDialogueGraph, NODE_ID_PATTERN, serializeDialogueGraph } from "../../plugin/dialogue/validate.js";
import { isJsonObject, PluginValidationError, type ValidationIssue } from "../../plugin/errors.js";
import { CHARACTER_SCHEMA, DIALOGUE_SCHEMA, type Character, type DialogueGraph } from "../../plugin/types.js";
import { writeFileAtomicDurable } from "../../runtime/atomic-file.js";
import { FileAccessError, InvalidArgumentError, ParleyError } from "../../runtime/errors.js";
import { JsonSyntaxError, parseJsonText } from "../../plugin/project/json-position.js";
import { emptyLayout, LAYOUT_SUFFIX, layoutPathFor, parseGraphLayout, serializeGraphLayout, type GraphLayout } from "./layout.js";
import { defaultProjectManifest, parseProjectManifest, PROJECT_MANIFEST_FILE, type ProjectManifest } from "../../plugin/project/manifest.js";
import { normalizeProjectPath, PathOutsideProjectError, projectRealRoot, resolveInProject } from "./paths.js";

export type DocumentKind = "manifest" | "character" | "dialogue" | "layout";

/** Why a file could not be used; `line`/`column` (1-based) for JSON syntax errors, `issues` for schema errors. */
export interface DocumentProblem {
  message: string;
  line?: number;
  column?: number;
  issues?: ValidationIssue[];
}

interface DocumentBase<K extends DocumentKind, V> {
  /** Project-relative, forward slashes. */
  path: string;
  kind: K;
  /** From the file name: the character's or graph's id, a layout's graph id, "project" for the manifest. */
  id: string;
  /** The text as read (or last saved); "" when there is no file. */
  text: string;
  /** sha256 (hex) of the bytes read or last saved; null when there is no file (a missing manifest). */
  hash: string | null;
  /** The parsed document, when it is valid. */
  value?: V;
  /** Why it is not valid; set exactly when `value` is not. */
  problem?: DocumentProblem;
  /** Problems that do not stop the document from loading (a graph's unreachable nodes). */
  warnings: ValidationIssue[];
}

export type ManifestDocument = DocumentBase<"manifest", ProjectManifest>;
export type CharacterDocument = DocumentBase<"character", Character>;
export type DialogueDocument = DocumentBase<"dialogue", DialogueGraph>;
export type LayoutDocument = DocumentBase<"layout", GraphLayout>;
export type ProjectDocument = ManifestDocument | CharacterDocument | DialogueDocument | LayoutDocument;

/** A file whose content on disk is no longer what the editor last read or wrote. */
export interface DiskChange {
  path: string;
  change: "modified" | "added" | "deleted";
}

/** Files changed on disk since the editor read them; writing would overwrite someone else's work. */
export class ExternalChangeError extends ParleyError {
  readonly paths: readonly string[];
  constructor(paths: readonly string[]) {
    super(
      "FILE_ACCESS",
      `${paths.join(", ")} changed on disk since the editor read ${paths.length === 1 ? "it" : "them"} (another program or a git pull); reload, or save with force to overwrite`,
    );
    this.paths = paths;
  }
}

/** A character that dialogue graphs still speak through cannot be deleted without `force`. */
export class CharacterInUseError extends ParleyError {
  readonly characterId: string;
  readonly graphs: readonly string[];
  constructor(characterId: string, graphs: readonly string[]) {
    super("INVALID_ARGUMENT", `character "${characterId}" is used by ${graphs.join(", ")}; change or delete those graphs first, or delete with force`);
    this.characterId = characterId;
    this.graphs = graphs;
  }
}

export interface SaveOptions {
  /** The hash the file had when the editor read it (null: the file must not exist yet). */
  expectedHash: string | null;
  /** Write even when the file changed on disk since. */
  force?: boolean;
}

type Valid<D extends ProjectDocument> = D & { value: NonNullable<D["value"]> };

const MANIFEST_ID = "project";
const NEW_CHARACTER_MAX_WORDS = 40;

export class ProjectFolder {
  /** The project folder's real path. */
  readonly root: string;
  readonly #folderName: string;
  readonly #docs = new Map<string, ProjectDocument>();
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(root: string, folderName: string) {
    this.root = root;
    this.#folderName = folderName;
  }

  /** Reads the whole project. Invalid files do not stop it: each carries its `problem`. */
  static async open(dir: string): Promise<ProjectFolder> {
    const folder = new ProjectFolder(await projectRealRoot(dir), basename(resolve(dir)));
    const paths = await folder.#listFiles();
    // Characters first: graphs are checked against the character ids.
    const order: Record<DocumentKind, number> = { character: 0, manifest: 1, layout: 2, dialogue: 3 };
    const classified = paths.map((path) => ({ path, ...classify(path)! })).sort((a, b) => order[a.kind] - order[b.kind]);
    for (const { path } of classified) await folder.#load(path);
    if (!folder.#docs.has(PROJECT_MANIFEST_FILE)) await folder.#load(PROJECT_MANIFEST_FILE);
    return folder;
  }

  // -------------------------------------------------------------------------------------------------
  // Reading

  /** Every document, sorted by path. */
  documents(): ProjectDocument[] {
    return [...this.#docs.values()].sort((a, b) => compare(a.path, b.path));
  }

  document(path: string): ProjectDocument | undefined {
    return this.#docs.get(normalizeProjectPath(path));
  }

  characters(): CharacterDocument[] {
    return this.documents().filter((d): d is CharacterDocument => d.kind === "character");
  }

  graphs(): DialogueDocument[] {
    return this.documents().filter((d): d is DialogueDocument => d.kind === "dialogue");
  }

  /** The manifest in effect: the file's, or the default when it is missing or invalid. */
  get manifest(): ProjectManifest {
    const doc = this.#docs.get(PROJECT_MANIFEST_FILE) as ManifestDocument | undefined;
    return doc?.value ?? defaultProjectManifest(this.#folderName);
  }

  /** A graph's node positions; a graph without a (valid) layout file has an empty one. */
  layout(graphId: string): GraphLayout {
    const doc = this.#docs.get(layoutPathFor(graphId)) as LayoutDocument | undefined;
    return doc?.value ?? emptyLayout();
  }

  /** Files whose content on disk differs from what was last read or saved, including new and deleted ones. */
  async changedOnDisk(): Promise<DiskChange[]> {
    const paths = new Set([...this.#docs.keys(), ...(await this.#listFiles())]);
    const changes: DiskChange[] = [];
    for (const path of [...paths].sort(compare)) {
      const known = this.#docs.get(path)?.hash ?? null;
      const now = await this.#diskHash(path);
      if (known === now) continue;
      changes.push({ path, change: known === null ? "added" : now === null ? "deleted" : "modified" });
    }
    return changes;
  }

  /** Reads one file again (after an external change); undefined when it no longer exists. */
  async reload(path: string): Promise<ProjectDocument | undefined> {
    return this.#exclusive(() => this.#load(normalizeProjectPath(path)));
  }

  /** Reloads every file changedOnDisk reports; returns their paths. */
  async reloadChanged(): Promise<string[]> {
    const changes = await this.changedOnDisk();
    // Characters first, so graphs are re-checked against the new set of ids.
    const ordered = [...changes].sort((a, b) => Number(classify(a.path)?.kind !== "character") - Number(classify(b.path)?.kind !== "character"));
    for (const { path } of ordered) await this.reload(path);
    return changes.map((c) => c.path);
  }

  // -------------------------------------------------------------------------------------------------
  // Writing

  /**
   * Writes `text` to a project file after validating it as its kind (a PluginValidationError, or a
   * JsonSyntaxError with line and column, and nothing written when it is invalid) and checking that the
   * file still has `expectedHash` (ExternalChangeError otherwise, unless `force`). Returns the new hash.
   */
  async save(path: string, text: string, options: SaveOptions): Promise<string> {
    return this.#exclusive(async () => {
      const rel = normalizeProjectPath(path);
      const target = documentTarget(rel);
      await resolveInProject(this.root, rel);
      this.#validate(rel, target.kind, target.id, text);
      const doc = await this.#write(rel, text, options.expectedHash, options.force ?? false);
      return doc.hash!;
    });
  }

  /** A new character with the fields the schema requires filled with placeholders. */
  async createCharacter(id: string, name: string): Promise<CharacterDocument> {
    return this.#exclusive(async () => {
      checkId(id, "character");
      const path = characterPath(id);
      this.#mustBeFree(path);
      const character = parseCharacter({
        schema: CHARACTER_SCHEMA,
        id,
        name,
        role: "villager",
        description: "",
        speakingStyle: { description: "", maxWords: NEW_CHARACTER_MAX_WORDS },
        greeting: "Hello.",
      });
      return (await this.#write(path, serializeCharacter(character), null, false)) as CharacterDocument;
    });
  }

  /** A new graph for `characterId`: a start line that leads to an end node. */
  async createGraph(id: string, characterId: string): Promise<DialogueDocument> {
    return this.#exclusive(async () => {
      checkId(id, "graph");
      const path = graphPath(id);
      this.#mustBeFree(path);
      const speaker = this.#docs.get(characterPath(characterId)) as CharacterDocument | undefined;
      const graph = checkDialogueGraph(
        {
          schema: DIALOGUE_SCHEMA,
          id,
          character: characterId,
          start: "start",
          nodes: {
            start: { type: "line", text: speaker?.value?.greeting ?? "Hello.", next: "end" },
            end: { type: "end" },
          },
        },
        { characters: this.#characterIds() },
      ).graph;
      return (await this.#write(path, serializeDialogueGraph(graph), null, false)) as DialogueDocument;
    });
  }

  /** A copy of a character or graph under a new id (a graph's layout is copied with it). */
  async duplicate(path: string, newId: string): Promise<CharacterDocument | DialogueDocument> {
    return this.#exclusive(async () => {
      const doc = this.#valid(normalizeProjectPath(path));
      checkId(newId, doc.kind === "character" ? "character" : "graph");
      if (doc.kind === "character") {
        const copy = characterPath(newId);
        this.#mustBeFree(copy);
        return (await this.#write(copy, serializeCharacter({ ...doc.value, id: newId }), null, false)) as CharacterDocument;
      }
      const copy = graphPath(newId);
      this.#mustBeFree(copy);
      this.#mustBeFree(layoutPathFor(newId));
      const layout = this.#docs.get(layoutPathFor(doc.id));
      const written = (await this.#write(copy, serializeDialogueGraph({ ...doc.value, id: newId }), null, false)) as DialogueDocument;
      if (layout?.hash) await this.#write(layoutPathFor(newId), layout.text, null, false);
      return written;
    });
  }

  /**
   * Deletes a character, graph (with its layout) or layout. A character that graphs use is refused with
   * CharacterInUseError, and a file changed on disk with ExternalChangeError; `force` overrides both.
   */
  async delete(path: string, options: { force?: boolean } = {}): Promise<void> {
    return this.#exclusive(async () => {
      const rel = normalizeProjectPath(path);
      const doc = this.#docs.get(rel);
      if (!doc || doc.hash === null) throw new InvalidArgumentError(`${rel} is not a file of this project`);
      if (doc.kind === "manifest") throw new InvalidArgumentError(`${rel} is the project manifest; it cannot be deleted from the editor`);
      const force = options.force ?? false;
      if (doc.kind === "character" && !force) {
        const users = this.#graphsSpokenBy(doc.id).map((g) => g.path);
        if (users.length > 0) throw new CharacterInUseError(doc.id, users);
      }
      const paths = [rel];
      if (doc.kind === "dialogue" && this.#docs.has(layoutPathFor(doc.id))) paths.push(layoutPathFor(doc.id));
      if (!force) await this.#checkUnchanged(paths.map((p) => ({ path: p, expected: this.#docs.get(p)!.hash })));
      for (const p of paths) await this.#remove(p);
      if (doc.kind === "character") this.#recheckGraphs();
    });
  }

  /**
   * Renames a character: its file and id, every graph it speaks in, and other characters' relationships
   * with it. Files changed on disk (ExternalChangeError) or graphs too broken to rewrite stop it before
   * anything is written.
   */
  async renameCharacter(oldId: string, newId: string): Promise<CharacterDocument> {
    return this.#exclusive(async () => {
      checkId(newId, "character");
      const oldPath = characterPath(oldId);
      const doc = this.#valid(oldPath) as Valid<CharacterDocument>;
      const newPath = characterPath(newId);
      this.#mustBeFree(newPath);
      const graphs = this.#graphsSpokenBy(oldId);
      const broken = graphs.filter((g) => !g.value).map((g) => g.path);
      if (broken.length > 0) throw new InvalidArgumentError(`cannot rename "${oldId}": ${broken.join(", ")} use it but have problems; fix them first`);
      const related = this.characters().filter((c) => c.path !== oldPath && c.value?.relationships.some((r) => r.target === oldId));
      const touched = [oldPath, ...graphs.map((g) => g.path), ...related.map((c) => c.path)];
      await this.#checkUnchanged([...touched.map((p) => ({ path: p, expected: this.#docs.get(p)!.hash })), { path: newPath, expected: null }]);

      // The new file goes first and the old one last: a crash in between leaves a duplicate character,
      // never a graph that speaks through a character that does not exist.
      const renamed = (await this.#write(newPath, serializeCharacter({ ...doc.value, id: newId }), null, true)) as CharacterDocument;
      for (const g of graphs) await this.#write(g.path, serializeDialogueGraph({ ...g.value!, character: newId }), g.hash, true);
      for (const c of related) {
        const relationships = c.value!.relationships.map((r) => (r.target === oldId ? { ...r, target: newId } : r));
        await this.#write(c.path, serializeCharacter({ ...c.value!, relationships }), c.hash, true);
      }
      await this.#remove(oldPath);
      this.#recheckGraphs();
      return renamed;
    });
  }

  /** Renames a graph: its file, its id, and its layout file with it. */
  async renameGraph(oldId: string, newId: string): Promise<DialogueDocument> {
    return this.#exclusive(async () => {
      checkId(newId, "graph");
      const oldPath = graphPath(oldId);
      const doc = this.#valid(oldPath) as Valid<DialogueDocument>;
      const newPath = graphPath(newId);
      const oldLayout = layoutPathFor(oldId);
      const newLayout = layoutPathFor(newId);
      this.#mustBeFree(newPath);
      this.#mustBeFree(newLayout);
      const layout = this.#docs.get(oldLayout);
      await this.#checkUnchanged([
        { path: oldPath, expected: doc.hash },
        { path: newPath, expected: null },
        { path: oldLayout, expected: layout?.hash ?? null },
        { path: newLayout, expected: null },
      ]);
      const renamed = (await this.#write(newPath, serializeDialogueGraph({ ...doc.value, id: newId }), null, true)) as DialogueDocument;
      if (layout) {
        // A rename keeps the layout's bytes (and so its hash) and is atomic on its own.
        await rename(await resolveInProject(this.root, oldLayout), await resolveInProject(this.root, newLayout));
        this.#docs.delete(oldLayout);
        this.#docs.set(newLayout, { ...layout, path: newLayout, id: newId });
      }
      await this.#remove(oldPath);
      return renamed;
    });
  }

  /** Moves a node on the canvas: writes the graph's layout file only. Returns the layout's new hash. */
  async setNodePosition(graphId: string, nodeId: string, x: number, y: number, options: { force?: boolean } = {}): Promise<string> {
    return this.#exclusive(async () => {
      const graph = this.#docs.get(graphPath(graphId)) as DialogueDocument | undefined;
      if (!graph) throw new InvalidArgumentError(`no dialogue graph "${graphId}" in this project`);
      if (!NODE_ID_PATTERN.test(nodeId)) throw new InvalidArgumentError(`"${nodeId}" is not a node id (letters, digits, _ and -)`);
      if (graph.value && !Object.hasOwn(graph.value.nodes, nodeId)) throw new InvalidArgumentError(`graph "${graphId}" has no node "${nodeId}"`);
      if (!Number.isFinite(x) || !Number.isFinite(y)) throw new InvalidArgumentError(`a node position must be finite numbers, got (${x}, ${y})`);
      const path = layoutPathFor(graphId);
      const current = this.#docs.get(path) as LayoutDocument | undefined;
      if (current?.problem) throw new InvalidArgumentError(`${path} has problems (${current.problem.message}); fix or delete it before moving nodes`);
      const layout = current?.value ?? emptyLayout();
      const text = serializeGraphLayout({ ...layout, nodes: { ...layout.nodes, [nodeId]: { x, y } } });
      return (await this.#write(path, text, current?.hash ?? null, options.force ?? false)).hash!;
    });
  }

  // -------------------------------------------------------------------------------------------------
  // Internals

  /** Runs operations one at a time: a rename must not interleave with a save of the files it rewrites. */
  #exclusive<T>(operation: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(operation, operation);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Reads a file into its document (or drops the document when the file is gone). */
  async #load(path: string): Promise<ProjectDocument | undefined> {
    const target = documentTarget(path);
    let bytes: Buffer | null;
    try {
      bytes = await this.#read(path);
    } catch (error) {
      if (!(error instanceof PathOutsideProjectError || error instanceof FileAccessError)) throw error;
      const doc = { path, kind: target.kind, id: target.id, text: "", hash: null, problem: { message: error.message }, warnings: [] } as ProjectDocument;
      this.#docs.set(path, doc);
      return doc;
    }
    if (bytes === null) {
      this.#docs.delete(path);
      if (target.kind === "character") this.#recheckGraphs();
      if (target.kind !== "manifest") return undefined;
      const doc: ManifestDocument = { path, kind: "manifest", id: MANIFEST_ID, text: "", hash: null, value: this.manifest, warnings: [] };
      this.#docs.set(path, doc);
      return doc;
    }
    const doc = this.#build(path, bytes.toString("utf8"), sha256(bytes));
    this.#docs.set(path, doc);
    if (target.kind === "character") this.#recheckGraphs();
    return doc;
  }

  /** A document from its text: the parsed value, or the problem that stops it. */
  #build(path: string, text: string, hash: string | null): ProjectDocument {
    const { kind, id } = documentTarget(path);
    try {
      const { value, warnings } = this.#validate(path, kind, id, text);
      return { path, kind, id, text, hash, value, warnings } as ProjectDocument;
    } catch (error) {
      if (!(error instanceof PluginValidationError)) throw error;
      const problem: DocumentProblem = { message: error.message, issues: [...error.issues] };
      if (error instanceof JsonSyntaxError) Object.assign(problem, { line: error.line, column: error.column });
      return { path, kind, id, text, hash, problem, warnings: [] } as ProjectDocument;
    }
  }

  /** Parses `text` as a document of `kind`; throws JsonSyntaxError or PluginValidationError. */
  #validate(path: string, kind: DocumentKind, id: string, text: string): { value: unknown; warnings: ValidationIssue[] } {
    const json = parseJsonText(text, `${path} is not valid JSON`);
    let value: unknown;
    let warnings: ValidationIssue[] = [];
    switch (kind) {
      case "manifest":
        return { value: parseProjectManifest(json), warnings };
      case "layout":
        value = parseGraphLayout(json);
        break;
      case "character":
        value = parseCharacter(json);
        break;
      case "dialogue":
        ({ graph: value, warnings } = checkDialogueGraph(json, { characters: this.#characterIds() }));
        break;
    }
    // The file name is the id: renames, references and the game's loader find documents by it.
    if (!CHARACTER_ID_PATTERN.test(id)) {
      throw new PluginValidationError(`invalid ${kind}`, [
        { path: "", message: `the file name ${path} does not make a usable id (lowercase letters, digits, _ and -)` },
      ]);
    }
    if (kind !== "layout" && (value as { id: string }).id !== id) {
      throw new PluginValidationError(`invalid ${kind}`, [
        { path: "id", message: `"${(value as { id: string }).id}" does not match the file name ${path}; use "${id}" or rename the file` },
      ]);
    }
    return { value, warnings };
  }

  /** Checks the disk, writes atomically and records the new text and hash. */
  async #write(path: string, text: string, expected: string | null, force: boolean): Promise<ProjectDocument> {
    const file = await resolveInProject(this.root, path);
    if (!force) await this.#checkUnchanged([{ path, expected }]);
    const bytes = Buffer.from(text, "utf8");
    await writeFileAtomicDurable(file, text, path);
    const doc = this.#build(path, bytes.toString("utf8"), sha256(bytes));
    this.#docs.set(path, doc);
    if (doc.kind === "character") this.#recheckGraphs();
    return doc;
  }

  async #remove(path: string): Promise<void> {
    const file = await resolveInProject(this.root, path);
    try {
      await rm(file, { force: true });
    } catch (error) {
      throw new FileAccessError(file, `cannot delete ${path}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    this.#docs.delete(path);
  }

  /** Throws ExternalChangeError naming every file whose disk hash is not the expected one. */
  async #checkUnchanged(files: { path: string; expected: string | null }[]): Promise<void> {
    const changed: string[] = [];
    for (const { path, expected } of files) if ((await this.#diskHash(path)) !== expected) changed.push(path);
    if (changed.length > 0) throw new ExternalChangeError(changed);
  }

  /** The file's bytes, or null when it does not exist. */
  async #read(path: string): Promise<Buffer | null> {
    const file = await resolveInProject(this.root, path);
    try {
      return await readFile(file);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR") return null;
      throw new FileAccessError(file, `cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }

  /** sha256 of the file now, or null when it is missing or cannot be reached from inside the project. */
  async #diskHash(path: string): Promise<string | null> {
    try {
      const bytes = await this.#read(path);
      return bytes === null ? null : sha256(bytes);
    } catch (error) {
      // Neither can be read now, as when the project was opened: no change to report.
      if (error instanceof PathOutsideProjectError || error instanceof FileAccessError) return null;
      throw error;
    }
  }

  /** Project-relative paths of every document file on disk. */
  async #listFiles(): Promise<string[]> {
    const paths = [PROJECT_MANIFEST_FILE];
    for (const folder of ["characters", "dialogue"]) {
      let entries;
      try {
        entries = await readdir(await resolveInProject(this.root, folder), { withFileTypes: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT" || (error as NodeJS.ErrnoException).code === "ENOTDIR") continue;
        throw error;
      }
      for (const entry of entries) {
        // Dot files are other tools' (and the atomic writer's temporary files): never documents.
        if (entry.name.startsWith(".") || !entry.name.endsWith(".json")) continue;
        if (!entry.isFile() && !entry.isSymbolicLink()) continue;
        paths.push(`${folder}/${entry.name}`);
      }
    }
    return paths.filter((p) => classify(p) !== undefined).sort(compare);
  }

  #characterIds(): string[] {
    return [...this.#docs.values()]
      .filter((d) => d.kind === "character")
      .map((d) => d.id)
      .sort(compare);
  }

  /** Re-checks every graph against the current characters (a character appeared, went or was renamed). */
  #recheckGraphs(): void {
    for (const doc of this.#docs.values()) {
      if (doc.kind === "dialogue" && doc.hash !== null) this.#docs.set(doc.path, this.#build(doc.path, doc.text, doc.hash));
    }
  }

  /** Graphs whose `character` is `characterId`, including broken ones whose JSON still says so. */
  #graphsSpokenBy(characterId: string): DialogueDocument[] {
    return this.graphs().filter((g) => (g.value ? g.value.character : rawCharacter(g.text)) === characterId);
  }

  /** The valid document at `path`; a missing or broken one cannot be copied or renamed. */
  #valid(path: string): Valid<CharacterDocument> | Valid<DialogueDocument> {
    const doc = this.#docs.get(path);
    if (!doc || (doc.kind !== "character" && doc.kind !== "dialogue"))
      throw new InvalidArgumentError(`${path} is not a character or dialogue graph of this project`);
    if (!doc.value) throw new InvalidArgumentError(`${path} has problems; fix them first (${doc.problem?.message ?? "unreadable"})`);
    return doc as Valid<CharacterDocument> | Valid<DialogueDocument>;
  }

  #mustBeFree(path: string): void {
    if (this.#docs.has(path)) throw new InvalidArgumentError(`${path} already exists`);
  }
}

function classify(path: string): { kind: DocumentKind; id: string } | undefined {
  if (path === PROJECT_MANIFEST_FILE) return { kind: "manifest", id: MANIFEST_ID };
  let m = /^characters\/([^/]+)\.json$/.exec(path);
  if (m) return { kind: "character", id: m[1] };
  m = new RegExp(`^dialogue/([^/]+)${LAYOUT_SUFFIX.replace(/\./g, "\\.")}$`).exec(path);
  if (m) return { kind: "layout", id: m[1] };
  m = /^dialogue\/([^/]+)\.json$/.exec(path);
  if (m) return { kind: "dialogue", id: m[1] };
  return undefined;
}

function documentTarget(path: string): { kind: DocumentKind; id: string } {
  const target = classify(path);
  if (!target) {
    throw new InvalidArgumentError(
      `${path} is not a project document (${PROJECT_MANIFEST_FILE}, characters/ID.json, dialogue/ID.json or dialogue/ID${LAYOUT_SUFFIX})`,
    );
  }
  return target;
}

function checkId(id: string, what: "character" | "graph"): void {
  if (typeof id !== "string" || !CHARACTER_ID_PATTERN.test(id)) {
    throw new InvalidArgumentError(`${JSON.stringify(id)} is not a usable ${what} id: use lowercase letters, digits, _ and -`);
  }
}

function characterPath(id: string): string {
  return `characters/${id}.json`;
}

function graphPath(id: string): string {
  return `dialogue/${id}.json`;
}

function rawCharacter(text: string): unknown {
  try {
    const json: unknown = JSON.parse(text);
    return isJsonObject(json) ? json.character : undefined;
  } catch {
    return undefined;
  }
}

function sha256(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** By code unit, so the order is the same on every machine and locale. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
