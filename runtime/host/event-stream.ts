// Server-sent event streams of the loopback server: one JSON value per `data:` event, heartbeat comments
// so proxies and the browser keep the connection, a cap on how many are open at once, and cleanup
// (unsubscribe, timer) whichever side closes first.

import type { IncomingMessage, ServerResponse } from "node:http";
import { HttpError, SECURITY_HEADERS } from "./responses.js";

/** Subscribes a stream to its source: call `send` with each event; return the unsubscribe function. */
export type StreamSource = (send: (event: unknown) => void) => (() => void) | void;

export interface EventStreamOptions {
  /** Heartbeat interval, ms. */
  heartbeatMs: number;
  /** Streams open at once; one more is refused with 429. */
  maxStreams: number;
  /** The comment the stream opens with (names it in a browser's network panel). */
  greeting: string;
}

export class EventStreams {
  readonly #open = new Set<ServerResponse>();
  readonly #options: EventStreamOptions;

  constructor(options: EventStreamOptions) {
    this.#options = options;
  }

  get size(): number {
    return this.#open.size;
  }

  /** Turns the response into an event stream fed by `source`; throws HttpError 429 when too many are open. */
  open(req: IncomingMessage, res: ServerResponse, source: StreamSource): void {
    const { maxStreams, heartbeatMs, greeting } = this.#options;
    if (this.#open.size >= maxStreams) throw new HttpError(429, "TOO_MANY_STREAMS", `at most ${maxStreams} event streams at once`);
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      connection: "keep-alive",
      "x-accel-buffering": "no",
      ...SECURITY_HEADERS,
    });
    res.write(`: ${greeting.replace(/[\r\n]+/g, " ")}\nretry: 2000\n\n`);
    this.#open.add(res);
    let closed = false;
    let unsubscribe: (() => void) | void = undefined;
    const heartbeat = setInterval(() => {
      if (!res.writableEnded) res.write(": heartbeat\n\n");
    }, heartbeatMs);
    heartbeat.unref();
    const cleanup = (): void => {
      if (closed) return;
      closed = true;
      clearInterval(heartbeat);
      this.#open.delete(res);
      if (typeof unsubscribe === "function") unsubscribe();
    };
    req.on("close", cleanup);
    res.on("close", cleanup);
    try {
      unsubscribe = source((event) => {
        if (!closed && !res.writableEnded) res.write(`data: ${JSON.stringify(event)}\n\n`);
      });
    } catch (error) {
      cleanup();
      throw error; // headers are sent: the server cuts the stream off
    }
    if (closed && typeof unsubscribe === "function") unsubscribe();
  }

  /** Ends every open stream. */
  endAll(): void {
    for (const res of this.#open) res.end();
    this.#open.clear();
  }
}
