/// <reference lib="dom" />
// The Models panel's client for the host's model routes (editor/host/model-routes.ts): the listing, the
// download, verify and remove calls, the project's default model, and the download event stream.

import type { DownloadState } from "../../host/model-downloads.js";
import type { CatalogueRow, InstalledRow, ModelResolution, ModelsListing } from "../../host/model-routes.js";
import { request } from "./api.js";

export type { CatalogueRow, DownloadState, InstalledRow, ModelResolution, ModelsListing };

/** What verifying a model found (runtime/models/download.ts's VerifyResult). */
export interface VerifyOutcome {
  status: "ok" | "mismatch" | "size-mismatch" | "no-published-checksum";
  sha256: string;
  bytes: number;
  expectedSha256: string | null;
  expectedBytes: number | null;
}

export const modelsApi = {
  list: () => request<ModelsListing>("GET", "/api/models"),
  download: (id: string) => request<{ download: DownloadState }>("POST", "/api/models/download", { id }),
  cancel: (id: string) => request<{ cancelled: boolean }>("POST", "/api/models/cancel", { id }),
  verify: (file: string) => request<VerifyOutcome>("POST", "/api/models/verify", { file }),
  remove: (file: string) => request<{ removed: string[] }>("POST", "/api/models/remove", { file }),
  /** Writes the project's defaultModel (null: the default order) and answers what it now resolves to. */
  setDefault: (model: string | null) =>
    request<{ hash: string; defaultModel: string | null; resolution: ModelResolution }>("POST", "/api/models/default", { model }),
};

/** Listens to the host's download events; returns the function that stops listening. */
export function watchDownloads(onDownload: (download: DownloadState) => void): () => void {
  const token = new URLSearchParams(location.search).get("token") ?? "";
  const events = new EventSource(`/api/models/events?token=${encodeURIComponent(token)}`);
  events.onmessage = (message: MessageEvent<string>) => {
    const event = JSON.parse(message.data) as { type?: unknown; download?: DownloadState };
    if (event.type === "download" && event.download) onDownload(event.download);
  };
  return () => events.close();
}

/** 1.23 MB, 640 kB: decimal units, as `parley model list` prints them. */
export function formatBytes(bytes: number | null): string {
  if (bytes === null) return "size unknown";
  if (bytes < 1000) return `${bytes} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = -1;
  do {
    value /= 1000;
    unit++;
  } while (value >= 1000 && unit < units.length - 1);
  return `${value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)} ${units[unit]}`;
}
