// The browser side of browser mode: a GameHost (samples/village/protocol.ts) over the HTTP host's API.
// Runs in plain browsers with fetch and EventSource; no Node imports, no dependencies.
//
//   const host = new HttpHost();                 // reads ?token= from the page's URL
//   const off = host.subscribe((event) => ...);  // one EventSource, shared by every subscriber
//   await host.start("blacksmith");

import type { GameHost, HostEvent, HostInfo, NpcId } from "../protocol.js";

// The few browser globals used here, typed locally so this file also type-checks without the DOM lib.
interface EventSourceLike {
  onmessage: ((event: { data: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  onopen: ((event: unknown) => void) | null;
  readonly readyState: number;
  close(): void;
}
interface ResponseLike {
  ok: boolean;
  status: number;
  statusText: string;
  text(): Promise<string>;
}
type FetchLike = (url: string, init?: { method?: string; headers?: Record<string, string>; body?: string; cache?: string; credentials?: string }) => Promise<ResponseLike>;
interface BrowserGlobals {
  location?: { search: string; origin: string };
  fetch?: FetchLike;
  EventSource?: new (url: string) => EventSourceLike;
}

/** What the page says when the host cannot be reached: the browser's own "Failed to fetch" says nothing. */
export const HOST_GONE_MESSAGE = "The village host has stopped. Restart it with npm start and open the address it prints.";

/**
 * An API call the host refused: `code` and `message` come from its {error: {code, message}} answer.
 * A host that cannot be reached at all gives status 0 and code HOST_UNREACHABLE.
 */
export class HostRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "HostRequestError";
  }
}

export interface HttpHostOptions {
  /** The host's origin, e.g. http://127.0.0.1:5123. Default: the page's own origin. */
  baseUrl?: string;
  /** The per-run token. Default: `?token=` in the page's URL. */
  token?: string;
  /**
   * Called when the event stream drops (the host stopped or crashed: the page can do nothing until it is
   * back) and when it comes back (EventSource reconnects on its own while the host keeps its token).
   */
  onConnectionChange?: (connected: boolean) => void;
}

export class HttpHost implements GameHost {
  readonly baseUrl: string;
  readonly #token: string;
  readonly #fetch: FetchLike;
  readonly #EventSource: (new (url: string) => EventSourceLike) | undefined;
  readonly #listeners = new Set<(event: HostEvent) => void>();
  readonly #onConnectionChange: ((connected: boolean) => void) | undefined;
  #source: EventSourceLike | undefined;
  /** The event stream's state as last reported; undefined before the first open or error. */
  #connected: boolean | undefined;

  constructor(options: HttpHostOptions = {}) {
    const g = globalThis as unknown as BrowserGlobals;
    const baseUrl = options.baseUrl ?? g.location?.origin;
    if (!baseUrl) throw new Error("HttpHost: no baseUrl and no page location to take it from");
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    const token = options.token ?? (g.location ? new URLSearchParams(g.location.search).get("token") : null);
    if (!token) throw new Error("HttpHost: this page's URL has no ?token= — open the URL the village host printed");
    this.#token = token;
    if (!g.fetch) throw new Error("HttpHost: fetch is not available");
    this.#fetch = g.fetch.bind(globalThis) as FetchLike;
    this.#EventSource = g.EventSource;
    this.#onConnectionChange = options.onConnectionChange;
  }

  async info(): Promise<HostInfo> {
    return (await this.#request("GET", `/api/info?token=${encodeURIComponent(this.#token)}`)) as HostInfo;
  }

  subscribe(listener: (event: HostEvent) => void): () => void {
    this.#listeners.add(listener);
    this.#open();
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.close();
    };
  }

  async start(npc: NpcId): Promise<void> {
    await this.#post("start", { npc });
  }

  async choose(index: number): Promise<void> {
    await this.#post("choose", { index });
  }

  async submit(text: string): Promise<void> {
    await this.#post("submit", { text });
  }

  async cancel(): Promise<void> {
    await this.#post("cancel", {});
  }

  async bark(npc: NpcId): Promise<void> {
    await this.#post("bark", { npc });
  }

  /** Closes the event stream (subscribing again reopens it). */
  close(): void {
    this.#source?.close();
    this.#source = undefined;
  }

  #open(): void {
    if (this.#source) return;
    if (!this.#EventSource) throw new Error("HttpHost: EventSource is not available");
    const source = new this.#EventSource(`${this.baseUrl}/api/events?token=${encodeURIComponent(this.#token)}`);
    source.onmessage = (message) => {
      let event: HostEvent;
      try {
        event = JSON.parse(message.data) as HostEvent;
      } catch {
        return;
      }
      for (const listener of [...this.#listeners]) {
        try {
          listener(event);
        } catch (error) {
          console.error("HttpHost: a listener failed", error);
        }
      }
    };
    // Reported on changes only: a stopped host makes EventSource retry (and fail) every few seconds.
    source.onopen = () => this.#setConnected(true);
    source.onerror = () => this.#setConnected(false);
    this.#source = source;
  }

  #setConnected(connected: boolean): void {
    if (this.#connected === connected) return;
    this.#connected = connected;
    this.#onConnectionChange?.(connected);
  }

  #post(route: string, body: unknown): Promise<unknown> {
    return this.#request("POST", `/api/${route}`, body);
  }

  async #request(method: "GET" | "POST", path: string, body?: unknown): Promise<unknown> {
    const headers: Record<string, string> = { "x-parley-token": this.#token };
    if (method === "POST") headers["content-type"] = "application/json";
    let response: ResponseLike;
    try {
      response = await this.#fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: method === "POST" ? JSON.stringify(body ?? {}) : undefined,
        cache: "no-store",
        credentials: "omit",
      });
    } catch {
      // fetch rejects only when no answer came at all: nothing listens on the host's port any more.
      throw new HostRequestError(0, "HOST_UNREACHABLE", HOST_GONE_MESSAGE);
    }
    const text = await response.text();
    let json: unknown;
    try {
      json = text === "" ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (!response.ok) {
      const error = (json as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
      throw new HostRequestError(
        response.status,
        typeof error?.code === "string" ? error.code : `HTTP_${response.status}`,
        typeof error?.message === "string" ? error.message : `${method} ${path.split("?")[0]} failed: ${response.status} ${response.statusText}`,
      );
    }
    return json;
  }
}
