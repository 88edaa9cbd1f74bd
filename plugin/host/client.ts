// The page side of the conversation protocol (protocol.ts): one client API over either transport.
//
//   import { connectParley } from "parley-npc/host/client";
//   const parley = connectParley();              // Electron: window.parley (the preload bridge); browser: HTTP
//   const off = parley.subscribe((event) => ...);
//   await parley.start("blacksmith");
//
// In an Electron renderer whose preload called exposeParley(), requests go over IPC; in a browser page served
// by startHttpHost(), over fetch with the token from the page's URL, and events over one EventSource shared by
// every subscriber. A refused request throws HostRequestError with the host's stable code. Runs in plain
// browsers: no Node imports, no dependencies.

import type { BarkResult, HostEvent, HostInfo, HostReply, ParleyBridge, ParleyClient } from "./protocol.js";

export type { BarkResult, HostEvent, HostInfo, NpcInfo, ParleyClient } from "./protocol.js";

/**
 * A request the host refused or could not be asked: `code` is the host's stable code (INVALID_ARGUMENT,
 * EMPTY_INPUT, …). A host that cannot be reached gives status 0 and code HOST_UNREACHABLE.
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

export interface ConnectOptions {
  /** The preload bridge (default: `window.parley` when the page has one). */
  bridge?: ParleyBridge;
  /** Browser mode: the host's origin, e.g. http://127.0.0.1:5123 (default: the page's own origin). */
  baseUrl?: string;
  /** Browser mode: the per-run token (default: `?token=` in the page's URL). */
  token?: string;
  /**
   * Browser mode: called when the event stream drops (the host stopped) and when it comes back (EventSource
   * reconnects on its own while the host keeps its token).
   */
  onConnectionChange?: (connected: boolean) => void;
  /** Browser mode: what a request says when nothing answers (default: "the Parley host has stopped"). */
  unreachableMessage?: string;
}

/** The client for this page: over the preload bridge when there is one, else over HTTP. */
export function connectParley(options: ConnectOptions = {}): ParleyClient {
  const bridge = options.bridge ?? findBridge();
  return bridge ? new BridgeClient(bridge) : new HttpClient(options);
}

function findBridge(): ParleyBridge | undefined {
  const candidate = (globalThis as { parley?: unknown }).parley as Partial<ParleyBridge> | undefined;
  return candidate && typeof candidate.start === "function" && typeof candidate.subscribe === "function" ? (candidate as ParleyBridge) : undefined;
}

/** Electron mode: the preload bridge's replies turned into values and HostRequestErrors. */
export class BridgeClient implements ParleyClient {
  readonly #bridge: ParleyBridge;

  constructor(bridge: ParleyBridge) {
    this.#bridge = bridge;
  }

  async info(): Promise<HostInfo> {
    return (await unwrap(this.#bridge.info())) as HostInfo;
  }

  subscribe(listener: (event: HostEvent) => void): () => void {
    if (typeof listener !== "function") throw new TypeError("subscribe(listener): listener must be a function");
    return this.#bridge.subscribe(listener);
  }

  async start(npc: string): Promise<void> {
    await unwrap(this.#bridge.start(npc));
  }

  async choose(index: number): Promise<void> {
    await unwrap(this.#bridge.choose(index));
  }

  async submit(text: string): Promise<void> {
    await unwrap(this.#bridge.submit(text));
  }

  async cancel(): Promise<void> {
    await unwrap(this.#bridge.cancel());
  }

  async bark(npc: string): Promise<BarkResult> {
    return (await unwrap(this.#bridge.bark(npc))) as BarkResult;
  }
}

async function unwrap(reply: Promise<HostReply>): Promise<unknown> {
  const r = await reply;
  if (r && r.ok === true) return r.value;
  const error = r && r.ok === false ? r.error : undefined;
  throw new HostRequestError(
    400,
    typeof error?.code === "string" ? error.code : "BAD_REPLY",
    typeof error?.message === "string" ? error.message : "the host sent a malformed reply",
  );
}

// The few browser globals used here, typed locally so this file also type-checks without the DOM lib.
interface EventSourceLike {
  onmessage: ((event: { data: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  onopen: ((event: unknown) => void) | null;
  close(): void;
}
interface ResponseLike {
  ok: boolean;
  status: number;
  statusText: string;
  text(): Promise<string>;
}
type FetchLike = (
  url: string,
  init?: { method?: string; headers?: Record<string, string>; body?: string; cache?: string; credentials?: string },
) => Promise<ResponseLike>;
interface BrowserGlobals {
  location?: { search: string; origin: string };
  fetch?: FetchLike;
  EventSource?: new (url: string) => EventSourceLike;
}

/** Browser mode: the HTTP host's routes (http-host.ts) with the per-run token. */
export class HttpClient implements ParleyClient {
  readonly baseUrl: string;
  readonly #token: string;
  readonly #fetch: FetchLike;
  readonly #EventSource: (new (url: string) => EventSourceLike) | undefined;
  readonly #listeners = new Set<(event: HostEvent) => void>();
  readonly #onConnectionChange: ((connected: boolean) => void) | undefined;
  readonly #unreachable: string;
  #source: EventSourceLike | undefined;
  /** The event stream's state as last reported; undefined before the first open or error. */
  #connected: boolean | undefined;

  constructor(options: ConnectOptions = {}) {
    const g = globalThis as unknown as BrowserGlobals;
    const baseUrl = options.baseUrl ?? g.location?.origin;
    if (!baseUrl) throw new Error("parley client: no baseUrl and no page location to take it from");
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    const token = options.token ?? (g.location ? new URLSearchParams(g.location.search).get("token") : null);
    if (!token) throw new Error("parley client: this page's URL has no ?token= — open the URL the host printed");
    this.#token = token;
    if (!g.fetch) throw new Error("parley client: fetch is not available");
    this.#fetch = g.fetch.bind(globalThis) as FetchLike;
    this.#EventSource = g.EventSource;
    this.#onConnectionChange = options.onConnectionChange;
    this.#unreachable = options.unreachableMessage ?? "The Parley host has stopped. Start it again and open the address it prints.";
  }

  async info(): Promise<HostInfo> {
    return (await this.#request("GET", `/api/info?token=${encodeURIComponent(this.#token)}`)) as HostInfo;
  }

  subscribe(listener: (event: HostEvent) => void): () => void {
    if (typeof listener !== "function") throw new TypeError("subscribe(listener): listener must be a function");
    this.#listeners.add(listener);
    this.#open();
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.close();
    };
  }

  async start(npc: string): Promise<void> {
    await this.#request("POST", "/api/start", { npc });
  }

  async choose(index: number): Promise<void> {
    await this.#request("POST", "/api/choose", { index });
  }

  async submit(text: string): Promise<void> {
    await this.#request("POST", "/api/submit", { text });
  }

  async cancel(): Promise<void> {
    await this.#request("POST", "/api/cancel", {});
  }

  async bark(npc: string): Promise<BarkResult> {
    return (await this.#request("POST", "/api/bark", { npc })) as BarkResult;
  }

  /** Closes the event stream (subscribing again reopens it). */
  close(): void {
    this.#source?.close();
    this.#source = undefined;
  }

  #open(): void {
    if (this.#source) return;
    if (!this.#EventSource) throw new Error("parley client: EventSource is not available");
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
          console.error("parley client: a listener failed", error);
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
      throw new HostRequestError(0, "HOST_UNREACHABLE", this.#unreachable);
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
    const reply = json as { ok?: unknown; value?: unknown } | undefined;
    if (reply?.ok !== true) throw new HostRequestError(response.status, "BAD_REPLY", `${method} ${path.split("?")[0]}: the host sent a malformed reply`);
    return reply.value ?? null;
  }
}
