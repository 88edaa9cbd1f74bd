// A node:http server on 127.0.0.1 for a page that drives this process (the village game in a browser, the
// editor): the caller supplies its API routes, this module supplies the guards every such server needs.
//
// Who may call the API: only a page that knows this run's token (32 random bytes, printed in the URL),
// sent as `?token=` on GETs (EventSource cannot set headers) or as the `x-parley-token` header, which is
// the only way for every other method, compared in constant time. Requests whose Origin, when present, is
// not exactly http://127.0.0.1:PORT (other web sites), or whose Host is not 127.0.0.1:PORT (DNS
// rebinding), are refused before anything else, static files included. Bad input is answered with a 4xx
// JSON error, {error: {code, message, ...details}}, and never takes the process down.
//
//   const server = await startLoopbackServer({
//     routes: { "GET /api/info": () => info, "POST /api/say": (ctx) => say(ctx.field("text", "string")) },
//     staticDir: "ui/",
//   });
//   console.log(server.url); // http://127.0.0.1:PORT/?token=…

import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { EventStreams, type StreamSource } from "./event-stream.js";
import { optionalField, readJsonBody, requireField, type FieldType, type JsonObject } from "./json-body.js";
import { HttpError, sendError, sendJson, type ErrorMapper } from "./responses.js";
import { StaticFolder } from "./static-files.js";

export { HttpError, type ErrorMapper } from "./responses.js";
export type { StreamSource } from "./event-stream.js";
export type { JsonObject } from "./json-body.js";

type FieldValue<T extends FieldType> = T extends "string" ? string : T extends "number" ? number : boolean;

/** What a route handler sees of its request. */
export interface RouteContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly method: string;
  readonly url: URL;
  /** The JSON object body ({} for GET and HEAD, and for an empty body). */
  readonly body: JsonObject;
  /** A query parameter that must be there (400 otherwise). */
  query(name: string): string;
  /** A query parameter, or undefined. */
  optionalQuery(name: string): string | undefined;
  /** A body field of that type (400 naming it otherwise). */
  field<T extends FieldType>(name: string, type: T): FieldValue<T>;
  /** A body field of that type, or undefined when missing or null. */
  optionalField<T extends FieldType>(name: string, type: T): FieldValue<T> | undefined;
  /** Answers with a server-sent event stream fed by `source`; the handler's return value is then ignored. */
  eventStream(source: StreamSource): void;
}

/**
 * Answers a request with a JSON value (sent with status 200; undefined sends {ok: true}), or throws: an
 * HttpError, a ParleyError or whatever the server's `mapError` knows becomes a JSON error.
 */
export type RouteHandler = (ctx: RouteContext) => unknown;

/** "METHOD /api/path" → handler, e.g. "GET /api/info", "POST /api/start". */
export type Routes = Readonly<Record<string, RouteHandler>>;

export interface LoopbackServerOptions {
  routes: Routes;
  /** Port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** Paths under this prefix are API routes (token required); default "/api". */
  apiPrefix?: string;
  /** A folder served for every other GET/HEAD path; without one they are 404. */
  staticDir?: string;
  /** Files of staticDir not to serve (dotfiles never are), by their folder-relative path. */
  hideStatic?: (relativePath: string) => boolean;
  /** Names the folder in errors: "path leaves the game folder". */
  staticDescription?: string;
  /** Largest JSON body, bytes (default 16 KiB). */
  maxBodyBytes?: number;
  /** Heartbeat interval of event streams, ms (default 15 000). */
  heartbeatMs?: number;
  /** Event streams open at once (default 16). */
  maxEventStreams?: number;
  /** The comment an event stream opens with (default "parley events"). */
  streamGreeting?: string;
  /** Turns the application's own errors into HTTP errors (statuses, details). */
  mapError?: ErrorMapper;
  /** Prefix of what is logged (unexpected errors): default "parley host". */
  label?: string;
}

export interface LoopbackServer {
  /** The page to open: http://127.0.0.1:PORT/?token=TOKEN */
  url: string;
  /** http://127.0.0.1:PORT */
  origin: string;
  token: string;
  port: number;
  /** Ends the event streams and every connection; resolves when the server is closed. */
  close(): Promise<void>;
}

export const DEFAULT_MAX_BODY_BYTES = 16 * 1024;
export const TOKEN_HEADER = "x-parley-token";

export async function startLoopbackServer(options: LoopbackServerOptions): Promise<LoopbackServer> {
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`port must be 0..65535, got ${port}`);
  const apiPrefix = (options.apiPrefix ?? "/api").replace(/\/+$/, "");
  if (!apiPrefix.startsWith("/") || apiPrefix === "") throw new RangeError(`apiPrefix must start with "/", got ${JSON.stringify(options.apiPrefix)}`);
  const routes = parseRoutes(options.routes, apiPrefix);
  const staticFolder = options.staticDir === undefined ? undefined : new StaticFolder({ dir: options.staticDir, hidden: options.hideStatic, description: options.staticDescription });
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const label = options.label ?? "parley host";
  const streams = new EventStreams({
    heartbeatMs: options.heartbeatMs ?? 15_000,
    maxStreams: options.maxEventStreams ?? 16,
    greeting: options.streamGreeting ?? "parley events",
  });
  const token = randomBytes(32).toString("hex");
  const tokenDigest = digest(token);
  const log = (error: unknown): void => console.error(`${label}: request failed:`, error);
  let origin = ""; // http://127.0.0.1:PORT once listening
  let host = "";

  const server = createServer((req, res) => {
    res.on("error", () => undefined);
    req.on("error", () => undefined);
    handle(req, res).catch((error: unknown) => sendError(res, error, options.mapError, log));
  });
  server.on("clientError", (_error, socket) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
    else socket.destroy();
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Only this host, only this origin: other sites (and DNS-rebound names) get nothing.
    if (req.headers.host !== host) throw new HttpError(403, "FORBIDDEN_HOST", `requests must be addressed to ${host}`);
    const requestOrigin = req.headers.origin;
    if (requestOrigin !== undefined && requestOrigin !== origin) throw new HttpError(403, "FORBIDDEN_ORIGIN", `origin ${requestOrigin} may not use this host`);
    let url: URL;
    try {
      url = new URL(req.url ?? "/", origin);
    } catch {
      throw new HttpError(400, "BAD_REQUEST", "malformed request URL");
    }
    if (url.pathname === apiPrefix || url.pathname.startsWith(`${apiPrefix}/`)) return handleApi(req, res, url);
    if (req.method !== "GET" && req.method !== "HEAD") throw new HttpError(405, "METHOD_NOT_ALLOWED", `${req.method} is not allowed here`);
    if (!staticFolder) throw new HttpError(404, "NOT_FOUND", `no file ${url.pathname}`);
    return staticFolder.serve(req, res, url.pathname);
  }

  async function handleApi(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const method = req.method ?? "GET";
    const readOnly = method === "GET" || method === "HEAD";
    const header = req.headers[TOKEN_HEADER];
    const fromHeader = typeof header === "string" ? header : undefined;
    // Other methods must send a header: a form or an <img> elsewhere cannot, and so cannot replay a URL.
    const given = readOnly ? (url.searchParams.get("token") ?? fromHeader) : fromHeader;
    if (given === undefined || given === "") throw new HttpError(401, "UNAUTHORIZED", readOnly ? "missing token" : `missing ${TOKEN_HEADER} header`);
    if (!timingSafeEqual(digest(given), tokenDigest)) throw new HttpError(403, "FORBIDDEN", "wrong token");

    const methods = routes.get(url.pathname);
    if (!methods) throw new HttpError(404, "NOT_FOUND", `no API route ${url.pathname}`);
    const handler = methods.get(method);
    if (!handler) throw new HttpError(405, "METHOD_NOT_ALLOWED", `${method} ${url.pathname} is not allowed`);
    const body = readOnly ? {} : await readJsonBody(req, maxBodyBytes);
    const ctx: RouteContext = {
      req,
      res,
      method,
      url,
      body,
      query(name) {
        const value = url.searchParams.get(name);
        if (value === null) throw new HttpError(400, "INVALID_ARGUMENT", `the query parameter "${name}" is missing`);
        return value;
      },
      optionalQuery: (name) => url.searchParams.get(name) ?? undefined,
      field: (name, type) => requireField(body, name, type),
      optionalField: (name, type) => optionalField(body, name, type),
      eventStream: (source) => streams.open(req, res, source),
    };
    const value = await handler(ctx);
    if (res.headersSent || res.writableEnded) return; // an event stream, or the handler answered itself
    sendJson(res, 200, value === undefined ? { ok: true } : value);
  }

  await new Promise<void>((ready, fail) => {
    server.once("error", fail);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", fail);
      ready();
    });
  });
  const actualPort = (server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${actualPort}`;
  host = `127.0.0.1:${actualPort}`;
  server.on("error", (error) => console.error(`${label}:`, error));

  let closing: Promise<void> | undefined;
  return {
    url: `${origin}/?token=${token}`,
    origin,
    token,
    port: actualPort,
    close(): Promise<void> {
      closing ??= new Promise<void>((done) => {
        streams.endAll();
        server.close(() => done());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/** "METHOD /path" keys → path → method → handler; a malformed key or one outside the prefix throws. */
function parseRoutes(routes: Routes, apiPrefix: string): Map<string, Map<string, RouteHandler>> {
  const table = new Map<string, Map<string, RouteHandler>>();
  for (const [key, handler] of Object.entries(routes)) {
    const m = /^([A-Z]+) (\/\S*)$/.exec(key);
    if (!m) throw new RangeError(`a route is "METHOD /path", got ${JSON.stringify(key)}`);
    const [, method, path] = m;
    if (path !== apiPrefix && !path.startsWith(`${apiPrefix}/`)) throw new RangeError(`route ${key} is outside ${apiPrefix}/`);
    if (typeof handler !== "function") throw new TypeError(`route ${key} has no handler`);
    let methods = table.get(path);
    if (!methods) table.set(path, (methods = new Map()));
    methods.set(method, handler);
  }
  return table;
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}
