// The editor's host side: its API over a ProjectFolder, served with the editor's page by the shared
// loopback server (runtime/host/loopback-server.ts: 127.0.0.1, per-run token, Origin and Host checks,
// body limits, JSON errors). Every path a request names goes through the project layer's confinement
// (editor/project/paths.ts), so `..`, absolute paths and symbolic links that lead outside the project are
// refused with 403 and the reason.
//
//   GET  /api/project                          → {name, folder, manifest, documents: [{path, kind, id, hash, problem?, warnings}]}
//   GET  /api/file?path=P                      → {path, kind, id, hash, text, value?, problem?, warnings}
//   POST /api/save {path, text, expectedHash, force?}   → {hash, document}
//   POST /api/create-character {id, name}      → {document}
//   POST /api/create-graph {id, character}     → {document}
//   POST /api/duplicate {path, newId}          → {document}
//   POST /api/delete {path, force?}            → {ok, deleted}
//   POST /api/rename-character {from, to}      → {document}
//   POST /api/rename-graph {from, to}          → {document}
//   POST /api/node-position {graph, node, x, y, force?} → {hash}   (the layout file's; the graph is untouched)
//   GET  /api/changes                          → {changes: [{path, change}]}
//   POST /api/reload {path?}                   → {path, document | null}, or without a path {reloaded: [paths]}
//   GET  /api/events                           → text/event-stream of {type: "disk-changes", changes}
//   /api/models…                               the model manager and the project's default model (model-routes.ts)
//   GET  /api/search?q=WORDS[&limit=N]         → {query, hits, total}   (search-routes.ts)
//   POST /api/import-card, /api/export-card, /api/character-tokens   cards and token counts (character-routes.ts)
//
// The Playtest panel's routes (/api/playtest/…) are in playtest-routes.ts.
//
// Errors: 400 INVALID_JSON {line, column, issues} or INVALID_DOCUMENT {issues} for content the game would
// refuse (nothing is written), 403 PATH_OUTSIDE_PROJECT {path, reason}, 409 EXTERNAL_CHANGE {paths} when
// a file changed on disk since it was read, 409 CHARACTER_IN_USE {character, graphs}, 404 NOT_FOUND.

import { watch, type FSWatcher } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { PluginValidationError } from "../../plugin/errors.js";
import { HttpError, startLoopbackServer, type ErrorMapper, type RouteContext, type Routes } from "../../runtime/host/loopback-server.js";
import {
  CharacterInUseError,
  ExternalChangeError,
  JsonSyntaxError,
  PathOutsideProjectError,
  resolveInProject,
  type DiskChange,
  type ProjectDocument,
  type ProjectFolder,
} from "../project/index.js";
import { modelRoutes, type ModelRoutesOptions } from "./model-routes.js";
import { searchRoutes } from "./search-routes.js";
import { characterRoutes } from "./character-routes.js";
import { PlaytestHost, type PlaytestHostOptions } from "./playtest.js";
import { mapPlaytestError, playtestRoutes } from "./playtest-routes.js";

/** Documents can be large (long knowledge lists); a save carries the whole text. */
export const EDITOR_MAX_BODY_BYTES = 32 * 1024 * 1024;
/** The editor's page. */
export const EDITOR_UI_DIR = fileURLToPath(new URL("../ui/", import.meta.url));

/** What the event stream sends when the set of files changed on disk since they were read changes. */
export interface DiskChangesEvent {
  type: "disk-changes";
  changes: DiskChange[];
}

/** A document without its text and value: what the project listing shows. */
export function documentSummary(doc: ProjectDocument): {
  path: string;
  kind: string;
  id: string;
  hash: string | null;
  problem?: ProjectDocument["problem"];
  warnings: ProjectDocument["warnings"];
} {
  return { path: doc.path, kind: doc.kind, id: doc.id, hash: doc.hash, ...(doc.problem ? { problem: doc.problem } : {}), warnings: doc.warnings };
}

/** A whole document: its text and hash, and its parsed value or its problem. */
export function documentView(doc: ProjectDocument): ReturnType<typeof documentSummary> & { text: string; value?: unknown } {
  return { ...documentSummary(doc), text: doc.text, ...(doc.value !== undefined ? { value: doc.value } : {}) };
}

/** The project layer's errors as HTTP errors. */
export const mapEditorError: ErrorMapper = (error) => {
  if (error instanceof PathOutsideProjectError) return new HttpError(403, "PATH_OUTSIDE_PROJECT", error.message, { path: error.path, reason: error.reason });
  if (error instanceof ExternalChangeError) return new HttpError(409, "EXTERNAL_CHANGE", error.message, { paths: [...error.paths] });
  if (error instanceof CharacterInUseError)
    return new HttpError(409, "CHARACTER_IN_USE", error.message, { character: error.characterId, graphs: [...error.graphs] });
  if (error instanceof JsonSyntaxError)
    return new HttpError(400, "INVALID_JSON", error.message, { line: error.line, column: error.column, issues: [...error.issues] });
  if (error instanceof PluginValidationError) return new HttpError(400, "INVALID_DOCUMENT", error.message, { issues: [...error.issues] });
  return undefined;
};

/**
 * Watches the project's folders (the root for the manifest, characters/, dialogue/) and, a moment after
 * the last event, asks the project what changed on disk; listeners hear each time that answer changes
 * (so also when it becomes empty after a reload), and a new listener hears the current one.
 */
export class DiskWatcher {
  readonly #project: ProjectFolder;
  readonly #debounceMs: number;
  readonly #watchers = new Map<string, FSWatcher>();
  readonly #listeners = new Set<(event: DiskChangesEvent) => void>();
  #timer: NodeJS.Timeout | undefined;
  #changes: DiskChange[] = [];
  #key = "[]";
  #checking: Promise<void> | undefined;
  #again = false;
  #closed = false;

  constructor(project: ProjectFolder, options: { debounceMs?: number } = {}) {
    this.#project = project;
    this.#debounceMs = options.debounceMs ?? 200;
    this.#watchFolders();
  }

  /** The changes last found. */
  get changes(): readonly DiskChange[] {
    return this.#changes;
  }

  subscribe(listener: (event: DiskChangesEvent) => void): () => void {
    this.#listeners.add(listener);
    if (this.#changes.length > 0) listener({ type: "disk-changes", changes: this.#changes });
    return () => this.#listeners.delete(listener);
  }

  /** Checks again after the debounce delay (after the editor itself wrote or reloaded files). */
  schedule(): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#check(), this.#debounceMs);
    this.#timer.unref();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    for (const watcher of this.#watchers.values()) watcher.close();
    this.#watchers.clear();
    this.#listeners.clear();
  }

  #watchFolders(): void {
    for (const folder of ["", "characters", "dialogue"]) {
      if (this.#closed || this.#watchers.has(folder)) continue;
      try {
        const watcher = watch(folder === "" ? this.#project.root : join(this.#project.root, folder), { persistent: false }, () => this.schedule());
        watcher.on("error", () => {
          // The folder went away (deleted, renamed): the root's watcher sees it come back.
          watcher.close();
          this.#watchers.delete(folder);
          this.schedule();
        });
        this.#watchers.set(folder, watcher);
      } catch {
        // Not there (yet): a project without dialogue/ is fine; the root's watcher sees it appear.
      }
    }
  }

  async #check(): Promise<void> {
    if (this.#checking) {
      this.#again = true;
      return this.#checking;
    }
    this.#checking = (async () => {
      try {
        this.#watchFolders();
        const changes = await this.#project.changedOnDisk();
        const key = JSON.stringify(changes);
        if (this.#closed || key === this.#key) return;
        this.#key = key;
        this.#changes = changes;
        for (const listener of [...this.#listeners]) listener({ type: "disk-changes", changes });
      } catch (error) {
        console.error("editor host: checking the project for changes failed:", error);
      }
    })();
    try {
      await this.#checking;
    } finally {
      this.#checking = undefined;
      if (this.#again) {
        this.#again = false;
        this.schedule();
      }
    }
  }
}

/** The editor's API routes over `project`; `watcher` hears about every write so its report stays current. */
export function editorRoutes(project: ProjectFolder, watcher?: DiskWatcher): Routes {
  /** Refuses a path that is malformed or leads outside the project (symbolic links followed): 403. */
  const confine = async (path: string): Promise<string> => {
    await resolveInProject(project.root, path);
    return path;
  };
  const pathField = (ctx: RouteContext, name = "path"): Promise<string> => confine(ctx.field(name, "string"));
  const wrote = <T>(value: T): T => {
    watcher?.schedule();
    return value;
  };
  const mustExist = (path: string): ProjectDocument => {
    const doc = project.document(path);
    if (!doc) throw new HttpError(404, "NOT_FOUND", `${path} is not a document of this project`);
    return doc;
  };

  return {
    "GET /api/project": () => ({
      name: project.manifest.name,
      folder: basename(project.root),
      manifest: project.manifest,
      documents: project.documents().map(documentSummary),
    }),

    "GET /api/file": async (ctx) => documentView(mustExist(await confine(ctx.query("path")))),

    "POST /api/save": async (ctx) => {
      const path = await pathField(ctx);
      const text = ctx.field("text", "string");
      const expectedHash = ctx.body.expectedHash;
      if (expectedHash !== null && typeof expectedHash !== "string") {
        throw new HttpError(
          400,
          "INVALID_ARGUMENT",
          `"expectedHash" must be the hash the file was read with, or null for a new file; got ${expectedHash === undefined ? "nothing" : JSON.stringify(expectedHash)}`,
        );
      }
      const hash = await project.save(path, text, { expectedHash, force: ctx.optionalField("force", "boolean") ?? false });
      return wrote({ hash, document: documentSummary(mustExist(path)) });
    },

    "POST /api/create-character": async (ctx) => {
      const doc = await project.createCharacter(ctx.field("id", "string"), ctx.field("name", "string"));
      return wrote({ document: documentView(doc) });
    },

    "POST /api/create-graph": async (ctx) => {
      const doc = await project.createGraph(ctx.field("id", "string"), ctx.field("character", "string"));
      return wrote({ document: documentView(doc) });
    },

    "POST /api/duplicate": async (ctx) => {
      const doc = await project.duplicate(await pathField(ctx), ctx.field("newId", "string"));
      return wrote({ document: documentView(doc) });
    },

    "POST /api/delete": async (ctx) => {
      const path = await pathField(ctx);
      await project.delete(path, { force: ctx.optionalField("force", "boolean") ?? false });
      return wrote({ ok: true, deleted: path });
    },

    "POST /api/rename-character": async (ctx) => {
      const doc = await project.renameCharacter(ctx.field("from", "string"), ctx.field("to", "string"));
      return wrote({ document: documentView(doc) });
    },

    "POST /api/rename-graph": async (ctx) => {
      const doc = await project.renameGraph(ctx.field("from", "string"), ctx.field("to", "string"));
      return wrote({ document: documentView(doc) });
    },

    "POST /api/node-position": async (ctx) => {
      const hash = await project.setNodePosition(
        ctx.field("graph", "string"),
        ctx.field("node", "string"),
        ctx.field("x", "number"),
        ctx.field("y", "number"),
        {
          force: ctx.optionalField("force", "boolean") ?? false,
        },
      );
      return wrote({ hash });
    },

    "GET /api/changes": async () => ({ changes: await project.changedOnDisk() }),

    "POST /api/reload": async (ctx) => {
      const path = ctx.optionalField("path", "string");
      // A file that now leads outside the project is not read: its document carries the refusal.
      if (path === undefined) return wrote({ reloaded: await project.reloadChanged() });
      const doc = await project.reload(path);
      return wrote({ path, document: doc ? documentView(doc) : null });
    },

    "GET /api/events": (ctx) => {
      if (!watcher) throw new HttpError(404, "NOT_FOUND", "this host does not watch the project");
      ctx.eventStream((send) => watcher.subscribe(send));
    },

    ...searchRoutes(project),
    ...characterRoutes(project, { wrote: () => watcher?.schedule(), view: documentView }),
  };
}

export interface EditorHostOptions {
  /** Port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** The page's folder (default editor/ui/). */
  uiDir?: string;
  /** Event-stream heartbeat, ms. */
  heartbeatMs?: number;
  /** How long the disk watcher waits after the last file event, ms (default 200). */
  debounceMs?: number;
  /** The Models routes' options (model-routes.ts). */
  models?: Omit<ModelRoutesOptions, "wrote">;
  /** The Playtest panel's options (playtest.ts): its model and device. */
  playtest?: PlaytestHostOptions;
}

export interface EditorHost {
  /** The page to open: http://127.0.0.1:PORT/?token=TOKEN */
  url: string;
  origin: string;
  token: string;
  port: number;
  close(): Promise<void>;
}

/** Serves the editor for `project` on 127.0.0.1. */
export async function startEditorHost(project: ProjectFolder, options: EditorHostOptions = {}): Promise<EditorHost> {
  const watcher = new DiskWatcher(project, { debounceMs: options.debounceMs });
  const models = modelRoutes(project, { ...options.models, wrote: () => watcher.schedule() });
  const playtest = new PlaytestHost(project, options.playtest);
  try {
    const server = await startLoopbackServer({
      routes: { ...editorRoutes(project, watcher), ...models.routes, ...playtestRoutes(playtest) },
      port: options.port,
      staticDir: options.uiDir ?? EDITOR_UI_DIR,
      staticDescription: "the editor's folder",
      maxBodyBytes: EDITOR_MAX_BODY_BYTES,
      heartbeatMs: options.heartbeatMs,
      streamGreeting: "parley editor events",
      mapError: (error) => mapEditorError(error) ?? mapPlaytestError(error),
      label: "editor host",
    });
    return {
      url: server.url,
      origin: server.origin,
      token: server.token,
      port: server.port,
      async close() {
        watcher.close();
        await models.close();
        await playtest.close();
        await server.close();
      },
    };
  } catch (error) {
    watcher.close();
    throw error;
  }
}
