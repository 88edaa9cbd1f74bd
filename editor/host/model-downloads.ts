// The editor host's model downloads: each runs in this process (the model manager's downloadModel, with
// resume and checksum), one per catalogue model at a time, and is reported to listeners as it goes, so the
// page's Models panel shows progress from the host's event stream and sees the end of a download even when
// it was reopened meanwhile.

import { downloadModel, type CatalogueEntry, type DownloadProgress } from "../../runtime/models/index.js";

export type DownloadPhase = "running" | "done" | "failed" | "cancelled";

/** One download as the page sees it. */
export interface DownloadState {
  /** The catalogue id. */
  id: string;
  file: string;
  phase: DownloadPhase;
  receivedBytes: number;
  totalBytes: number | null;
  bytesPerSecond: number;
  resumed: boolean;
  /** Why it failed (the model manager's message, written for users). */
  error?: string;
  /** Where the model is, once done. */
  path?: string;
  sha256?: string;
}

export interface DownloadEvent {
  type: "download";
  download: DownloadState;
}

/** A second download of the same model while one runs. */
export class DownloadRunningError extends Error {
  readonly id: string;
  constructor(id: string) {
    super(`${id} is already being downloaded; wait for it or cancel it`);
    this.name = "DownloadRunningError";
    this.id = id;
  }
}

interface Running {
  state: DownloadState;
  controller: AbortController;
  done: Promise<void>;
}

export class ModelDownloads {
  readonly #downloads = new Map<string, Running>();
  readonly #listeners = new Set<(event: DownloadEvent) => void>();
  readonly #progressIntervalMs: number;
  readonly #fetchImpl: typeof fetch | undefined;

  constructor(options: { progressIntervalMs?: number; fetchImpl?: typeof fetch } = {}) {
    this.#progressIntervalMs = options.progressIntervalMs ?? 200;
    this.#fetchImpl = options.fetchImpl;
  }

  /** Every download of this run, the finished ones too (their last state). */
  list(): DownloadState[] {
    return [...this.#downloads.values()].map((d) => ({ ...d.state }));
  }

  isRunning(id: string): boolean {
    return this.#downloads.get(id)?.state.phase === "running";
  }

  /** Whether a running download writes `file`. */
  writes(file: string): boolean {
    return [...this.#downloads.values()].some((d) => d.state.phase === "running" && d.state.file === file);
  }

  /** A new listener first hears every download's current state. */
  subscribe(listener: (event: DownloadEvent) => void): () => void {
    this.#listeners.add(listener);
    for (const d of this.#downloads.values()) listener({ type: "download", download: { ...d.state } });
    return () => this.#listeners.delete(listener);
  }

  /** Starts downloading `entry` into `folder`; resolves at once with its first state. */
  start(entry: CatalogueEntry, folder: string, catalogue: readonly CatalogueEntry[]): DownloadState {
    if (this.isRunning(entry.id)) throw new DownloadRunningError(entry.id);
    const controller = new AbortController();
    const state: DownloadState = {
      id: entry.id,
      file: entry.file,
      phase: "running",
      receivedBytes: 0,
      totalBytes: entry.sizeBytes,
      bytesPerSecond: 0,
      resumed: false,
    };
    const running: Running = { state, controller, done: Promise.resolve() };
    this.#downloads.set(entry.id, running);
    const onProgress = (p: DownloadProgress): void => {
      Object.assign(state, { receivedBytes: p.receivedBytes, totalBytes: p.totalBytes, bytesPerSecond: p.bytesPerSecond, resumed: p.resumed });
      this.#emit(state);
    };
    running.done = downloadModel(entry, {
      folder,
      catalogue,
      signal: controller.signal,
      onProgress,
      progressIntervalMs: this.#progressIntervalMs,
      ...(this.#fetchImpl ? { fetchImpl: this.#fetchImpl } : {}),
    }).then(
      (result) => {
        Object.assign(state, { phase: "done", path: result.path, sha256: result.sha256, receivedBytes: result.bytes, totalBytes: result.bytes });
        this.#emit(state);
      },
      (error: unknown) => {
        const cancelled = controller.signal.aborted;
        Object.assign(state, { phase: cancelled ? "cancelled" : "failed", error: error instanceof Error ? error.message : String(error) });
        this.#emit(state);
      },
    );
    this.#emit(state);
    return { ...state };
  }

  /** Cancels a running download (its `.part` is kept: the next download resumes it); false when none runs. */
  async cancel(id: string): Promise<boolean> {
    const running = this.#downloads.get(id);
    if (!running || running.state.phase !== "running") return false;
    running.controller.abort();
    await running.done;
    return true;
  }

  /** Resolves when the download of `id` (if any) has ended. */
  async settled(id: string): Promise<DownloadState | undefined> {
    const running = this.#downloads.get(id);
    if (!running) return undefined;
    await running.done;
    return { ...running.state };
  }

  /** Cancels every running download and waits for them. */
  async close(): Promise<void> {
    const running = [...this.#downloads.values()].filter((d) => d.state.phase === "running");
    for (const d of running) d.controller.abort();
    await Promise.all(running.map((d) => d.done));
    this.#listeners.clear();
  }

  #emit(state: DownloadState): void {
    for (const listener of [...this.#listeners]) listener({ type: "download", download: { ...state } });
  }
}
