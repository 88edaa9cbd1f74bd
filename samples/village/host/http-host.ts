// Browser mode's host: a node:http server on 127.0.0.1 that serves the game's files and the API of
// samples/village/protocol.ts over a VillageService.
//
// Who may drive the NPCs: only a page that knows this run's token (32 random bytes, printed in the URL),
// sent as `?token=` on GETs (EventSource cannot set headers) and as `x-parley-token` on POSTs, compared in
// constant time. Requests whose Origin is not exactly http://127.0.0.1:PORT (other web sites), or whose
// Host is not 127.0.0.1:PORT (DNS rebinding), are refused. Bad input is answered with a 4xx JSON error
// and never takes the process down.

import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { createReadStream, realpathSync, statSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, isAbsolute, relative, resolve, sep } from "node:path";
import { ParleyError } from "../../../runtime/errors.js";
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

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".ico": "image/x-icon",
  ".wasm": "application/wasm",
  ".glb": "model/gltf-binary",
  ".gltf": "model/gltf+json",
  ".bin": "application/octet-stream",
  ".woff": "font/woff",
  ".woff2": "font/woff2",
  ".ogg": "audio/ogg",
  ".mp3": "audio/mpeg",
  ".wav": "audio/wav",
};

/** An HTTP error with a status and a stable code, answered as {error: {code, message}}. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export async function startHttpHost(service: VillageService, options: HttpHostOptions): Promise<HttpHost> {
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`port must be 0..65535, got ${port}`);
  const gameDir = realpathSync(resolve(options.gameDir));
  if (!statSync(gameDir).isDirectory()) throw new Error(`game folder ${gameDir} is not a folder`);
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const token = randomBytes(32).toString("hex");
  const tokenDigest = digest(token);
  const streams = new Set<ServerResponse>();
  let origin = ""; // http://127.0.0.1:PORT once listening
  let host = "";

  const server = createServer((req, res) => {
    res.on("error", () => undefined);
    req.on("error", () => undefined);
    handle(req, res).catch((error: unknown) => sendError(res, error));
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
    if (url.pathname === "/api" || url.pathname.startsWith("/api/")) return handleApi(req, res, url);
    if (req.method !== "GET" && req.method !== "HEAD") throw new HttpError(405, "METHOD_NOT_ALLOWED", `${req.method} is not allowed here`);
    return serveStatic(req, res, url.pathname);
  }

  async function handleApi(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const method = req.method ?? "GET";
    const header = req.headers["x-parley-token"];
    const given = method === "POST" ? (typeof header === "string" ? header : undefined) : (url.searchParams.get("token") ?? (typeof header === "string" ? header : undefined));
    if (given === undefined || given === "") throw new HttpError(401, "UNAUTHORIZED", method === "POST" ? "missing x-parley-token header" : "missing token");
    if (!timingSafeEqual(digest(given), tokenDigest)) throw new HttpError(403, "FORBIDDEN", "wrong token");

    const route = url.pathname.slice("/api/".length);
    if (method === "GET") {
      if (route === "info") return sendJson(res, 200, service.info());
      if (route === "events") return openEventStream(req, res);
    } else if (method === "POST") {
      const body = await readJson(req);
      switch (route) {
        case "start":
          await service.start(field(body, "npc", "string") as NpcId);
          return sendJson(res, 200, { ok: true });
        case "choose":
          await service.choose(field(body, "index", "number") as number);
          return sendJson(res, 200, { ok: true });
        case "submit": {
          const text = field(body, "text", "string") as string;
          // A blank line says nothing; answering it would make the NPC reply to silence.
          if (text.trim() === "") throw new HttpError(400, "EMPTY_INPUT", "the text is empty: type something to say before sending");
          if (text.length > MAX_INPUT_CHARS) throw new HttpError(400, "INPUT_TOO_LONG", `the text is ${text.length} characters; at most ${MAX_INPUT_CHARS}`);
          await service.submit(text);
          return sendJson(res, 200, { ok: true });
        }
        case "cancel":
          await service.cancel();
          return sendJson(res, 200, { ok: true });
        case "bark": {
          const result = await service.bark(field(body, "npc", "string") as NpcId);
          return sendJson(res, 200, { ok: true, result });
        }
      }
    }
    const known = ["GET info", "GET events", "POST start", "POST choose", "POST submit", "POST cancel", "POST bark"];
    if (known.some((k) => k.endsWith(` ${route}`))) throw new HttpError(405, "METHOD_NOT_ALLOWED", `${method} /api/${route} is not allowed`);
    throw new HttpError(404, "NOT_FOUND", `no API route /api/${route}`);
  }

  function openEventStream(req: IncomingMessage, res: ServerResponse): void {
    if (streams.size >= MAX_EVENT_STREAMS) throw new HttpError(429, "TOO_MANY_STREAMS", `at most ${MAX_EVENT_STREAMS} event streams at once`);
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      connection: "keep-alive",
      "x-accel-buffering": "no",
      ...securityHeaders,
    });
    res.write(": parley village events\nretry: 2000\n\n");
    streams.add(res);
    const unsubscribe = service.subscribe((event: HostEvent) => {
      if (!res.writableEnded) res.write(`data: ${JSON.stringify(event)}\n\n`);
    });
    const heartbeat = setInterval(() => {
      if (!res.writableEnded) res.write(": heartbeat\n\n");
    }, heartbeatMs);
    heartbeat.unref();
    let closed = false;
    const cleanup = (): void => {
      if (closed) return;
      closed = true;
      clearInterval(heartbeat);
      unsubscribe();
      streams.delete(res);
    };
    req.on("close", cleanup);
    res.on("close", cleanup);
  }

  async function serveStatic(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
    let decoded: string;
    try {
      decoded = decodeURIComponent(pathname);
    } catch {
      throw new HttpError(400, "BAD_REQUEST", "malformed path");
    }
    if (decoded.includes("\0") || decoded.includes("\\")) throw new HttpError(400, "BAD_REQUEST", "malformed path");
    const rel = decoded === "/" || decoded === "" ? "index.html" : decoded.replace(/^\/+/, "");
    const file = resolve(gameDir, rel);
    if (!inside(gameDir, file)) throw new HttpError(403, "FORBIDDEN_PATH", "path leaves the game folder");
    // Build leftovers are not part of the game: dotfiles, and esbuild's metafile (it lists local paths).
    if (rel.split("/").some((part) => part.startsWith(".")) || rel.endsWith(".meta.json")) throw new HttpError(404, "NOT_FOUND", `no file ${decoded}`);
    let real: string;
    try {
      real = realpathSync(file);
    } catch {
      throw new HttpError(404, "NOT_FOUND", `no file ${decoded}`);
    }
    if (!inside(gameDir, real)) throw new HttpError(403, "FORBIDDEN_PATH", "path leaves the game folder");
    const stat = statSync(real, { throwIfNoEntry: false });
    if (!stat?.isFile()) throw new HttpError(404, "NOT_FOUND", `no file ${decoded}`);
    res.writeHead(200, {
      "content-type": CONTENT_TYPES[extname(real).toLowerCase()] ?? "application/octet-stream",
      "content-length": stat.size,
      "cache-control": "no-store",
      ...securityHeaders,
    });
    if (req.method === "HEAD") {
      res.end();
      return;
    }
    await new Promise<void>((done) => {
      const stream = createReadStream(real);
      stream.on("error", () => {
        res.destroy();
        done();
      });
      stream.on("end", done);
      res.on("close", () => {
        stream.destroy();
        done();
      });
      stream.pipe(res);
    });
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
  server.on("error", (error) => console.error("village host:", error));

  let closing: Promise<void> | undefined;
  return {
    url: `${origin}/?token=${token}`,
    token,
    port: actualPort,
    close(): Promise<void> {
      closing ??= new Promise<void>((done) => {
        for (const res of streams) res.end();
        streams.clear();
        server.close(() => done());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

const securityHeaders = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer", // the page URL carries the token
  "x-frame-options": "DENY",
  "content-security-policy": "frame-ancestors 'none'",
  "cross-origin-resource-policy": "same-origin",
};

function digest(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== "" && !rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > MAX_BODY_BYTES) {
    req.resume();
    throw new HttpError(413, "BODY_TOO_LARGE", `JSON bodies are limited to ${MAX_BODY_BYTES} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      req.resume();
      throw new HttpError(413, "BODY_TOO_LARGE", `JSON bodies are limited to ${MAX_BODY_BYTES} bytes`);
    }
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8").trim();
  if (text === "") return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new HttpError(400, "BAD_JSON", "the request body is not valid JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new HttpError(400, "BAD_JSON", "the request body must be a JSON object");
  return body as Record<string, unknown>;
}

function field(body: Record<string, unknown>, name: string, type: "string" | "number"): unknown {
  const value = body[name];
  if (typeof value !== type) throw new HttpError(400, "INVALID_ARGUMENT", `"${name}" must be a ${type}, got ${value === undefined ? "nothing" : JSON.stringify(value)}`);
  return value;
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const body = JSON.stringify(value);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
    ...securityHeaders,
  });
  res.end(body);
}

function sendError(res: ServerResponse, error: unknown): void {
  let status = 500;
  let code = "INTERNAL";
  let message = "internal error";
  if (error instanceof HttpError) {
    ({ status, code, message } = error);
  } else if (error instanceof ParleyError) {
    status = error.code === "INVALID_ARGUMENT" ? 400 : error.code === "DISPOSED" ? 503 : 500;
    code = error.code;
    message = error.message;
  } else {
    console.error("village host: request failed:", error);
  }
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // A refused request may still be sending its body: do not keep the connection waiting on it.
  const body = JSON.stringify({ error: { code, message } });
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
    ...(status === 413 ? { connection: "close" } : {}),
    ...securityHeaders,
  });
  res.end(body);
}
