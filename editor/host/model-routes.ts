// The editor host's Models routes: the model manager (runtime/models/) for the page's Models panel, and
// the project's default model. Downloads run in the host process (model-downloads.ts) and report their
// progress on an event stream; the page never touches the models folder itself.
//
//   GET  /api/models                   → ModelsListing (folder, catalogue, installed, partial downloads,
//                                        downloads of this run, the project's default model and its resolution)
//   GET  /api/models/events            → text/event-stream of {type: "download", download}
//   POST /api/models/download {id}     → {download}     (409 DOWNLOAD_RUNNING when it already runs)
//   POST /api/models/cancel {id}       → {cancelled}
//   POST /api/models/verify {file}     → VerifyResult   (hashes the file; records the SHA-256 beside it)
//   POST /api/models/remove {file}     → {removed}      (409 DOWNLOAD_RUNNING while it is being downloaded)
//   POST /api/models/default {model}   → {hash, defaultModel, resolution}   (writes parley.project.json)
//
// `file` is a file name in the models folder (no folders): nothing outside the folder can be hashed or
// removed. The models folder and catalogue come from the environment at each request (PARLEY_MODELS,
// PARLEY_CATALOGUE, catalogue.json in the folder), as for `parley model`.

import { basename, join } from "node:path";
import { HttpError, type Routes } from "../../runtime/host/loopback-server.js";
import {
  getEntry,
  listInstalled,
  loadCatalogue,
  modelsFolder,
  removeModel,
  verifyModel,
  type CatalogueEntry,
  type ModelSource,
} from "../../runtime/models/index.js";
import { PROJECT_MANIFEST_FILE, serializeProjectManifest, type ProjectFolder } from "../project/index.js";
import { DownloadRunningError, ModelDownloads, type DownloadState } from "./model-downloads.js";
import { projectModelTarget, resolveProjectModel } from "./project-model.js";

/** A catalogue entry with what the models folder holds of it. */
export interface CatalogueRow extends CatalogueEntry {
  /** "verified" … "uncatalogued" as listInstalled says, "partial" for an interrupted download, or "not-installed". */
  status: "verified" | "mismatch" | "unpinned" | "unverified" | "partial" | "not-installed";
  installedBytes: number | null;
  partialBytes: number | null;
}

export interface InstalledRow {
  file: string;
  path: string;
  sizeBytes: number;
  /** The catalogue id of the file, if it has one. */
  id: string | null;
  status: "verified" | "mismatch" | "unpinned" | "unverified" | "uncatalogued";
  recordedSha256: string | null;
}

/** The model the project's playtest runs, or why there is none. */
export interface ModelResolution {
  path: string | null;
  source: ModelSource | null;
  note: string;
  synthetic: boolean;
  /** Set when `defaultModel` names a file that is not there; `downloadable` says whether the catalogue has it. */
  error?: string;
  downloadable?: string;
}

export interface ModelsListing {
  folder: string;
  catalogue: CatalogueRow[];
  installed: InstalledRow[];
  downloads: DownloadState[];
  defaultModel: string | null;
  resolution: ModelResolution;
}

export interface ModelRoutesOptions {
  /** Environment for the models folder, the catalogue and PARLEY_MODEL; default process.env (read per request). */
  env?: () => NodeJS.ProcessEnv;
  /** Minimum interval between progress events, ms (default 200). */
  progressIntervalMs?: number;
  /** Called after the manifest was written, so the host's disk watcher does not report the editor's own write. */
  wrote?: () => void;
}

export interface ModelRoutes {
  routes: Routes;
  downloads: ModelDownloads;
  /** Cancels the running downloads (their `.part` files are kept for the next time). */
  close(): Promise<void>;
}

/** A plain `.gguf` file name, or a 400 naming the field. */
function modelFileName(value: string): string {
  if (value === "" || value !== basename(value) || value.includes("\\") || value === "." || value === ".." || !value.toLowerCase().endsWith(".gguf")) {
    throw new HttpError(400, "INVALID_ARGUMENT", `"file" must be the name of a .gguf file in the models folder, got ${JSON.stringify(value)}`);
  }
  return value;
}

export function modelRoutes(project: ProjectFolder, options: ModelRoutesOptions = {}): ModelRoutes {
  const env = options.env ?? (() => process.env);
  const downloads = new ModelDownloads({ progressIntervalMs: options.progressIntervalMs });
  const context = async (): Promise<{ folder: string; catalogue: CatalogueEntry[] }> => {
    const folder = modelsFolder(env());
    return { folder, catalogue: await loadCatalogue({ folder, env: env() }) };
  };
  const running = (error: unknown): never => {
    if (error instanceof DownloadRunningError) throw new HttpError(409, "DOWNLOAD_RUNNING", error.message, { id: error.id });
    throw error;
  };

  async function resolution(defaultModel: string | null, catalogue: CatalogueEntry[], folder: string): Promise<ModelResolution> {
    try {
      const r = await resolveProjectModel({ defaultModel }, project.root, { env: env(), catalogue });
      return { path: r.path, source: r.source, note: r.note, synthetic: r.synthetic };
    } catch (error) {
      const target = defaultModel === null ? undefined : projectModelTarget(defaultModel, project.root, folder, catalogue);
      const message = error instanceof Error ? error.message : String(error);
      return {
        path: null,
        source: null,
        note: target?.entry ? `"${defaultModel}" is not downloaded yet: download it below` : message,
        synthetic: false,
        error: message,
        ...(target?.entry ? { downloadable: target.entry.id } : {}),
      };
    }
  }

  async function listing(): Promise<ModelsListing> {
    const { folder, catalogue } = await context();
    const found = await listInstalled({ folder, catalogue });
    const defaultModel = project.manifest.defaultModel;
    return {
      folder,
      catalogue: catalogue.map((entry) => {
        const installed = found.installed.find((m) => m.file === entry.file);
        const partial = found.partial.find((p) => p.file === entry.file);
        const status: CatalogueRow["status"] = installed
          ? installed.status === "uncatalogued"
            ? "unverified"
            : installed.status
          : partial
            ? "partial"
            : "not-installed";
        return { ...entry, status, installedBytes: installed?.sizeBytes ?? null, partialBytes: partial?.receivedBytes ?? null };
      }),
      installed: found.installed.map((m) => ({
        file: m.file,
        path: m.path,
        sizeBytes: m.sizeBytes,
        id: m.entry?.id ?? null,
        status: m.status,
        recordedSha256: m.recordedSha256 ?? null,
      })),
      downloads: downloads.list(),
      defaultModel,
      resolution: await resolution(defaultModel, catalogue, folder),
    };
  }

  const routes: Routes = {
    "GET /api/models": () => listing(),

    "GET /api/models/events": (ctx) => ctx.eventStream((send) => downloads.subscribe(send)),

    "POST /api/models/download": async (ctx) => {
      const { folder, catalogue } = await context();
      const entry = getEntry(catalogue, ctx.field("id", "string"));
      try {
        return { download: downloads.start(entry, folder, catalogue) };
      } catch (error) {
        return running(error);
      }
    },

    "POST /api/models/cancel": async (ctx) => ({ cancelled: await downloads.cancel(ctx.field("id", "string")) }),

    "POST /api/models/verify": async (ctx) => {
      const file = modelFileName(ctx.field("file", "string"));
      const { folder, catalogue } = await context();
      if (downloads.writes(file)) throw new HttpError(409, "DOWNLOAD_RUNNING", `${file} is being downloaded; verify it once the download is done`);
      return verifyModel(
        join(folder, file),
        catalogue.find((e) => e.file === file),
      );
    },

    "POST /api/models/remove": async (ctx) => {
      const file = modelFileName(ctx.field("file", "string"));
      const { folder, catalogue } = await context();
      if (downloads.writes(file)) throw new HttpError(409, "DOWNLOAD_RUNNING", `${file} is being downloaded; cancel the download first`);
      const { removed } = await removeModel(file, { folder, catalogue });
      if (removed.length === 0) throw new HttpError(404, "NOT_FOUND", `${file} is not in the models folder ${folder}`);
      return { removed };
    },

    "POST /api/models/default": async (ctx) => {
      const raw = ctx.body.model;
      if (raw !== null && (typeof raw !== "string" || raw.trim() === "")) {
        throw new HttpError(
          400,
          "INVALID_ARGUMENT",
          `"model" must be a catalogue id, a GGUF file name or path, or null for the default order; got ${JSON.stringify(raw)}`,
        );
      }
      const model = raw === null ? null : raw.trim();
      // The manifest on disk must still be the one this project read: an edit made elsewhere is never overwritten.
      const doc = project.document(PROJECT_MANIFEST_FILE);
      const text = serializeProjectManifest({ ...project.manifest, defaultModel: model });
      const hash = await project.save(PROJECT_MANIFEST_FILE, text, { expectedHash: doc?.hash ?? null });
      options.wrote?.();
      const { folder, catalogue } = await context();
      return { hash, defaultModel: model, resolution: await resolution(model, catalogue, folder) };
    },
  };
  return { routes, downloads, close: () => downloads.close() };
}
