// Server-sent event streams of the loopback server, on hono's streamSSE: one JSON value per `data:` event,
// heartbeat comments so proxies and the browser keep the connection, a cap on how many are open at once,
// and cleanup (unsubscribe, timer) whichever side closes first.

import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import { HttpError } from "./responses.js";

/** Subscribes a stream to its source: call `send` with each event; return the unsubscribe function. */
export type StreamSource = (send: (event: unknown) => void) => (() => void) | void;

export interface EventStreamOptions {
  /** Heartbeat interval, ms. */
  heartbeatMs: number;
  /** Streams open at once; one more is refused with 429. */
  maxStreams: number;
  /** The comment the stream opens with (names it in a browser's network panel). */
  greeting: string;
  /** Where a source that throws is reported (the stream then ends). */
  log: (error: unknown) => void;
}

export class EventStreams {
  /** Each open stream's `end`. */
  readonly #open = new Set<() => void>();
  readonly #options: EventStreamOptions;

  constructor(options: EventStreamOptions) {
    this.#options = options;
  }

  get size(): number {
    return this.#open.size;
  }

  /** The response of an event stream fed by `source`; throws HttpError 429 when too many are open. */
  open(c: Context, source: StreamSource): Response {
    const { maxStreams, heartbeatMs, greeting, log } = this.#options;
    if (this.#open.size >= maxStreams) throw new HttpError(429, "TOO_MANY_STREAMS", `at most ${maxStreams} event streams at once`);
    let end = (): void => undefined;
    const ended = new Promise<void>((resolve) => (end = resolve));
    this.#open.add(end);
    c.header("x-accel-buffering", "no");
    return streamSSE(c, async (stream) => {
      stream.onAbort(end); // the client went away
      // streamSSE has no comment writer: the greeting and heartbeats are written as raw SSE comments.
      void stream.write(`: ${greeting.replace(/[\r\n]+/g, " ")}\nretry: 2000\n\n`);
      const heartbeat = setInterval(() => void stream.write(": heartbeat\n\n"), heartbeatMs);
      heartbeat.unref();
      let unsubscribe: (() => void) | void = undefined;
      try {
        unsubscribe = source((event) => {
          if (!stream.closed && !stream.aborted) void stream.writeSSE({ data: JSON.stringify(event) ?? "null" });
        });
        await ended;
      } catch (error) {
        log(error);
      } finally {
        clearInterval(heartbeat);
        this.#open.delete(end);
        if (typeof unsubscribe === "function") unsubscribe();
      }
    });
  }

  /** Ends every open stream. */
  endAll(): void {
    for (const end of this.#open) end();
  }
}
