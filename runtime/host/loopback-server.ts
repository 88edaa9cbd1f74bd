// An HTTP server on 127.0.0.1 (hono on @hono/node-server) for a page that drives this process (the village
// game in a browser, the editor): the caller supplies its API routes, this module supplies the guards
// every such server needs.
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

import { getRequestListener, RequestError } from "@hono/node-server";
import { Hono, type Handler, type MiddlewareHandler } from "hono";
import type { JSONValue } from "hono/utils/types";
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { EventStreams, type StreamSource } from "./event-stream.js";
import { jsonBodyLimit, optionalField, readJsonObject, requireField, type FieldType, type FieldValue, type JsonObject } from "./json-body.js";
import { errorResponse, HttpError, securityHeaders, toHttpError, type ErrorMapper } from "./responses.js";
import { StaticFolder } from "./static-files.js";

export { HttpError, type ErrorMapper } from "./responses.js";
export type { StreamSource } from "./event-stream.js";
export type { JsonObject } from "./json-body.js";

/** What a route handler sees of its request. */
export interface RouteContext {
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

/** "METHOD /api/path" → handler, e.g. "GET /api/info", "POST /api/start". A GET route also answers HEAD. */
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
  const staticFolder =
    options.staticDir === undefined
      ? undefined
      : new StaticFolder({ dir: options.staticDir, hidden: options.hideStatic, description: options.staticDescription });
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const label = options.label ?? "parley host";
  const log = (error: unknown): void => console.error(`${label}: request failed:`, error);
  const streams = new EventStreams({
    heartbeatMs: options.heartbeatMs ?? 15_000,
    maxStreams: options.maxEventStreams ?? 16,
    greeting: options.streamGreeting ?? "parley events",
    log,
  });
  const token = randomBytes(32).toString("hex");
  const tokenDigest = digest(token);
  let origin = ""; // http://127.0.0.1:PORT once listening
  let host = "";

  // Only this host, only this origin: other sites (and DNS-rebound names) get nothing. Our own: hono's
  // csrf middleware checks Origin only on form posts, and nothing in hono checks Host.
  const sameHostAndOrigin: MiddlewareHandler = async (c, next) => {
    if (c.req.header("host") !== host) throw new HttpError(403, "FORBIDDEN_HOST", `requests must be addressed to ${host}`);
    const requestOrigin = c.req.header("origin");
    if (requestOrigin !== undefined && requestOrigin !== origin) throw new HttpError(403, "FORBIDDEN_ORIGIN", `origin ${requestOrigin} may not use this host`);
    await next();
  };

  // Our own: hono's bearerAuth reads only the Authorization header, and GETs must also take `?token=`.
  const requireToken: MiddlewareHandler = async (c, next) => {
    const readOnly = c.req.method === "GET" || c.req.method === "HEAD";
    const fromHeader = c.req.header(TOKEN_HEADER);
    // Other methods must send a header: a form or an <img> elsewhere cannot, and so cannot replay a URL.
    const given = readOnly ? (c.req.query("token") ?? fromHeader) : fromHeader;
    if (given === undefined || given === "") throw new HttpError(401, "UNAUTHORIZED", readOnly ? "missing token" : `missing ${TOKEN_HEADER} header`);
    if (!timingSafeEqual(digest(given), tokenDigest)) throw new HttpError(403, "FORBIDDEN", "wrong token");
    await next();
  };

  const answer =
    (handler: RouteHandler): Handler =>
    async (c) => {
      const method = c.req.method;
      const body = method === "GET" || method === "HEAD" ? {} : await readJsonObject(c);
      const url = new URL(c.req.url);
      let stream: Response | undefined;
      const ctx: RouteContext = {
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
        eventStream: (source) => {
          // HEAD answers with headers only: no stream to hold open (and count against the cap).
          if (method !== "HEAD") stream = streams.open(c, source);
        },
      };
      let value: unknown;
      try {
        value = await handler(ctx);
      } catch (error) {
        void stream?.body?.cancel(); // a stream opened before the handler failed is never sent: end it
        throw error;
      }
      return stream ?? c.json((value === undefined ? { ok: true } : value) as JSONValue);
    };

  // In order: headers on every answer, Host and Origin before anything else, the token on the API, the
  // routes, then the API's 404/405, then the static folder for any other GET/HEAD, then 405.
  const app = new Hono();
  app.use(securityHeaders);
  app.use(sameHostAndOrigin);
  app.use(`${apiPrefix}/*`, requireToken);
  for (const { method, path, handler } of routes) {
    if (method === "GET") app.get(path, answer(handler));
    else app.on(method, path, jsonBodyLimit(maxBodyBytes), answer(handler));
  }
  // Our own 404/405 for the API: hono's methodNotAllowed middleware would take the static folder's
  // catch-all GET below as allowing GET on every API path.
  app.all(`${apiPrefix}/*`, (c) => {
    if (routes.some((route) => route.path === c.req.path)) throw new HttpError(405, "METHOD_NOT_ALLOWED", `${c.req.method} ${c.req.path} is not allowed`);
    throw new HttpError(404, "NOT_FOUND", `no API route ${c.req.path}`);
  });
  app.get("*", (c) => {
    if (!staticFolder) throw new HttpError(404, "NOT_FOUND", `no file ${c.req.path}`);
    return staticFolder.serve(c);
  });
  app.all("*", (c) => {
    throw new HttpError(405, "METHOD_NOT_ALLOWED", `${c.req.method} is not allowed here`);
  });
  app.onError((error) => errorResponse(toHttpError(error, options.mapError, log)));

  // getRequestListener on our own node:http server rather than createAdaptorServer, which takes no
  // errorHandler: a malformed request is answered as JSON, with the security headers.
  const listener = getRequestListener(app.fetch, {
    // @hono/node-server's default (it makes the global Request and Response its own subclasses of them) is
    // kept: without it, re-creating a request with a size-limited body fails inside undici.
    // A request @hono/node-server cannot turn into a Request (a malformed Host or target) never reaches the app.
    errorHandler: (error) =>
      errorResponse(error instanceof RequestError ? new HttpError(400, "BAD_REQUEST", "malformed request") : toHttpError(error, undefined, log)),
  });
  const server = createServer((req, res) => {
    req.on("error", () => undefined);
    res.on("error", () => undefined);
    void listener(req, res);
  });
  server.on("clientError", (_error, socket) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
    else socket.destroy();
  });

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

interface Route {
  method: string;
  path: string;
  handler: RouteHandler;
}

/** "METHOD /path" keys as routes; a malformed key or one outside the prefix throws. */
function parseRoutes(routes: Routes, apiPrefix: string): Route[] {
  return Object.entries(routes).map(([key, handler]) => {
    const m = /^([A-Z]+) (\/\S*)$/.exec(key);
    if (!m) throw new RangeError(`a route is "METHOD /path", got ${JSON.stringify(key)}`);
    const [, method, path] = m;
    if (method === "HEAD") throw new RangeError(`route ${key}: HEAD is answered by the GET route`);
    if (path !== apiPrefix && !path.startsWith(`${apiPrefix}/`)) throw new RangeError(`route ${key} is outside ${apiPrefix}/`);
    if (typeof handler !== "function") throw new TypeError(`route ${key} has no handler`);
    return { method, path, handler };
  });
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}
