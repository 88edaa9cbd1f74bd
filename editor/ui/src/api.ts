/// <reference lib="dom" />
// The editor page's client for its host's API (editor/host/editor-api.ts). The token comes from the page's
// URL (`?token=`, printed by `npm run editor`): GET requests carry it in the query string, POST requests
// in the `x-parley-token` header. Every failure becomes an ApiError with the host's code and message (or
// NETWORK / BAD_RESPONSE when no answer came back), so the page can show the user what went wrong.

import type { DiskChange, DocumentKind, DocumentProblem, ProjectManifest } from "../../project/index.js";
import type { ValidationIssue } from "../../../plugin/errors.js";
import type { SearchResult } from "../../project/search.js";

export type { DiskChange, DocumentKind, DocumentProblem, ValidationIssue };

/** A project file as the listing shows it. */
export interface DocumentSummary {
  path: string;
  kind: DocumentKind;
  id: string;
  hash: string | null;
  problem?: DocumentProblem;
  warnings: ValidationIssue[];
}

/** A project file with its text, and its parsed value when it is valid. */
export interface DocumentView extends DocumentSummary {
  text: string;
  value?: unknown;
}

export interface ProjectListing {
  name: string;
  folder: string;
  manifest: ProjectManifest;
  documents: DocumentSummary[];
}

/** What the host answered instead of a result (or why there was no answer). */
export class ApiError extends Error {
  /** The HTTP status; 0 when no answer came back. */
  readonly status: number;
  /** The host's error code (EXTERNAL_CHANGE, NOT_FOUND, …), or NETWORK / BAD_RESPONSE. */
  readonly code: string;
  /** The rest of the host's error object (paths, line, column, issues…). */
  readonly details: Record<string, unknown>;

  constructor(status: number, code: string, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** Any thrown value as an ApiError (a bug in the page shows up as one too, rather than vanishing). */
export function asApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  return new ApiError(0, "CLIENT_ERROR", error instanceof Error ? error.message : String(error));
}

const token = new URLSearchParams(location.search).get("token") ?? "";

/** Whether the page was opened with a token at all (the URL `npm run editor` prints has one). */
export const hasToken = token !== "";

export async function request<T>(method: "GET" | "POST", path: string, body?: object): Promise<T> {
  const url = new URL(path, location.origin);
  const init: RequestInit = { method };
  if (method === "GET") url.searchParams.set("token", token);
  else {
    init.headers = { "content-type": "application/json", "x-parley-token": token };
    init.body = JSON.stringify(body ?? {});
  }
  let response: Response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    throw new ApiError(
      0,
      "NETWORK",
      `the editor host did not answer (${error instanceof Error ? error.message : String(error)}); is \`npm run editor\` still running?`,
    );
  }
  let value: unknown;
  try {
    value = await response.json();
  } catch {
    throw new ApiError(response.status, "BAD_RESPONSE", `${method} ${path}: the host answered ${response.status} ${response.statusText} without JSON`);
  }
  if (!response.ok) {
    const error = (value as { error?: { code?: unknown; message?: unknown } } | null)?.error;
    const { code, message, ...details } = (error ?? {}) as Record<string, unknown>;
    throw new ApiError(
      response.status,
      typeof code === "string" ? code : `HTTP_${response.status}`,
      typeof message === "string" ? message : `${method} ${path}: ${response.status} ${response.statusText}`,
      details,
    );
  }
  return value as T;
}

export const api = {
  project: () => request<ProjectListing>("GET", "/api/project"),
  file: (path: string) => request<DocumentView>("GET", `/api/file?path=${encodeURIComponent(path)}`),
  /** Every character and graph field that holds all the query's words (editor/host/search-routes.ts). */
  search: (query: string, limit?: number) =>
    request<SearchResult>("GET", `/api/search?q=${encodeURIComponent(query)}${limit === undefined ? "" : `&limit=${limit}`}`),
  /**
   * Writes a project file (validated by the host: 400 INVALID_DOCUMENT with the issues, nothing written)
   * if it still has `expectedHash` on disk (null: a new file); 409 EXTERNAL_CHANGE otherwise.
   */
  save: (path: string, text: string, expectedHash: string | null) =>
    request<{ hash: string; document: DocumentSummary }>("POST", "/api/save", { path, text, expectedHash }),
  /** A new graph for `character`: a start line leading to an end node. */
  createGraph: (id: string, character: string) => request<{ document: DocumentView }>("POST", "/api/create-graph", { id, character }),
  /** Writes the graph's layout file only; answers the layout's new hash. */
  setNodePosition: (graph: string, node: string, x: number, y: number) => request<{ hash: string }>("POST", "/api/node-position", { graph, node, x, y }),
  /** Reads every file that changed on disk again. */
  reloadChanged: () => request<{ reloaded: string[] }>("POST", "/api/reload", {}),
  changes: () => request<{ changes: DiskChange[] }>("GET", "/api/changes"),
};

export type ConnectionState = "connecting" | "open" | "lost";

/**
 * Listens to the host's event stream: `onChanges` hears the files changed on disk since the editor read
 * them (an empty list once they are reloaded), `onConnection` whether the stream is up. Returns the
 * function that stops listening.
 */
export function watchDiskChanges(onChanges: (changes: DiskChange[]) => void, onConnection: (state: ConnectionState) => void): () => void {
  const events = new EventSource(`/api/events?token=${encodeURIComponent(token)}`);
  events.onopen = () => onConnection("open");
  // EventSource retries by itself (the host asks for every 2 s); until it is back the page says it is cut off.
  events.onerror = () => onConnection("lost");
  events.onmessage = (message: MessageEvent<string>) => {
    const event = JSON.parse(message.data) as { type?: unknown; changes?: DiskChange[] };
    if (event.type === "disk-changes" && Array.isArray(event.changes)) onChanges(event.changes);
  };
  return () => events.close();
}
