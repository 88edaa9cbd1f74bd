// Browser mode: the conversation protocol (protocol.ts) over HTTP on 127.0.0.1, for a game page served by a
// local process. The loopback server (runtime/host/loopback-server.ts) owns the guards — 127.0.0.1 only, the
// per-run token, Origin and Host checks, body limits, event streams with heartbeats, folder-confined static
// files — and this file owns the routes:
//
//   GET  /api/info?token=…      → {ok: true, value: HostInfo}
//   GET  /api/events?token=…    → text/event-stream, one HostEvent per `data:` line
//   POST /api/start  {npc}      → {ok: true, value: null}
//   POST /api/choose {index}    → {ok: true, value: null}
//   POST /api/submit {text}     → {ok: true, value: null}
//   POST /api/cancel {}         → {ok: true, value: null}
//   POST /api/bark   {npc}      → {ok: true, value: BarkResult}
//
// POSTs carry the token in the `x-parley-token` header. A refused request is a 4xx with
// {error: {code, message}}: the protocol's codes (INVALID_ARGUMENT, EMPTY_INPUT, INPUT_TOO_LONG), UNAUTHORIZED
// and FORBIDDEN (token), FORBIDDEN_ORIGIN and FORBIDDEN_HOST, BODY_TOO_LARGE.
//
//   const server = await startHttpHost(host, { staticDir: "dist/game" });
//   console.log(`open ${server.url}`);   // http://127.0.0.1:PORT/?token=…

import { HttpError, startLoopbackServer, type LoopbackServer, type Routes } from "../../runtime/index.js";
import { HOST_METHODS, parseHostRequest, ProtocolError, type HostMethod, type HostService } from "./protocol.js";

export type { LoopbackServer } from "../../runtime/index.js";

export interface HttpHostOptions {
  /** Port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** The game's folder (index.html and its scripts), served for every path outside /api. */
  staticDir?: string;
  /** Files of staticDir not to serve (dotfiles never are), by their folder-relative path. */
  hideStatic?: (relativePath: string) => boolean;
  /** Heartbeat interval of the event stream, ms (default 15 000). */
  heartbeatMs?: number;
  /** Prefix of logged errors (default "parley host"). */
  label?: string;
}

/** Requests are small: the longest is a player's line. */
export const HOST_MAX_BODY_BYTES = 16 * 1024;
/** Event streams open at once (a page opens one; reloads and a few tabs fit). */
const MAX_EVENT_STREAMS = 16;

/** The protocol's routes over `service`. */
export function hostRoutes(service: HostService): Routes {
  const routes: Record<string, Routes[string]> = {
    "GET /api/info": async () => ({ ok: true, value: await service.handle({ method: "info" }) }),
    "GET /api/events": (ctx) => ctx.eventStream((send) => service.subscribe(send)),
  };
  for (const method of Object.keys(HOST_METHODS) as HostMethod[]) {
    if (method === "info") continue;
    routes[`POST /api/${method}`] = async (ctx) => ({ ok: true, value: (await service.handle(parseHostRequest(method, ctx.body))) ?? null });
  }
  return routes;
}

/** Serves `service` (and the game's files) on 127.0.0.1. */
export function startHttpHost(service: HostService, options: HttpHostOptions = {}): Promise<LoopbackServer> {
  return startLoopbackServer({
    routes: hostRoutes(service),
    port: options.port,
    staticDir: options.staticDir,
    staticDescription: "the game folder",
    hideStatic: options.hideStatic,
    maxBodyBytes: HOST_MAX_BODY_BYTES,
    heartbeatMs: options.heartbeatMs,
    maxEventStreams: MAX_EVENT_STREAMS,
    streamGreeting: "parley events",
    mapError: (error) => (error instanceof ProtocolError ? new HttpError(400, error.code, error.message) : undefined),
    label: options.label ?? "parley host",
  });
}
