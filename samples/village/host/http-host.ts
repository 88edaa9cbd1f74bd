// Browser mode's host: the API of samples/village/protocol.ts over a VillageService, served with the
// game's files by the shared loopback server (runtime/host/loopback-server.ts), which owns the guards:
// 127.0.0.1 only, the per-run token (`?token=` on GETs, `x-parley-token` on POSTs), the Origin and Host
// checks against other sites and DNS rebinding, body limits, folder-confined static files, and 4xx JSON
// errors that never take the process down.

import { HttpError, startLoopbackServer, type Routes } from "../../../runtime/host/loopback-server.js";
import { MAX_INPUT_CHARS, type HostEvent, type NpcId } from "../protocol.js";
import type { VillageService } from "./village-service.js";

export interface HttpHostOptions {
  /** Port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** The folder with the built game (index.html and its bundle). */
  gameDir: string;
  /** Heartbeat interval of the event stream, in ms (default 15 000). */
  heartbeatMs?: number;
}

export interface HttpHost {
  /** The page to open: http://127.0.0.1:PORT/?token=TOKEN */
  url: string;
  token: string;
  port: number;
  close(): Promise<void>;
}

export const MAX_BODY_BYTES = 16 * 1024;
const MAX_EVENT_STREAMS = 16;

/** The village's API routes over `service`. */
export function villageRoutes(service: VillageService): Routes {
  return {
    "GET /api/info": () => service.info(),
    "GET /api/events": (ctx) => ctx.eventStream((send) => service.subscribe((event: HostEvent) => send(event))),
    "POST /api/start": async (ctx) => {
      await service.start(ctx.field("npc", "string") as NpcId);
      return { ok: true };
    },
    "POST /api/choose": async (ctx) => {
      await service.choose(ctx.field("index", "number"));
      return { ok: true };
    },
    "POST /api/submit": async (ctx) => {
      const text = ctx.field("text", "string");
      // A blank line says nothing; answering it would make the NPC reply to silence.
      if (text.trim() === "") throw new HttpError(400, "EMPTY_INPUT", "the text is empty: type something to say before sending");
      if (text.length > MAX_INPUT_CHARS) throw new HttpError(400, "INPUT_TOO_LONG", `the text is ${text.length} characters; at most ${MAX_INPUT_CHARS}`);
      await service.submit(text);
      return { ok: true };
    },
    "POST /api/cancel": async () => {
      await service.cancel();
      return { ok: true };
    },
    "POST /api/bark": async (ctx) => {
      const result = await service.bark(ctx.field("npc", "string") as NpcId);
      return { ok: true, result };
    },
  };
}

export async function startHttpHost(service: VillageService, options: HttpHostOptions): Promise<HttpHost> {
  const server = await startLoopbackServer({
    routes: villageRoutes(service),
    port: options.port,
    staticDir: options.gameDir,
    staticDescription: "the game folder",
    // Build leftovers are not part of the game: esbuild's metafile lists local paths (dotfiles are never served).
    hideStatic: (path) => path.endsWith(".meta.json"),
    maxBodyBytes: MAX_BODY_BYTES,
    heartbeatMs: options.heartbeatMs,
    maxEventStreams: MAX_EVENT_STREAMS,
    streamGreeting: "parley village events",
    label: "village host",
  });
  return { url: server.url, token: server.token, port: server.port, close: () => server.close() };
}
