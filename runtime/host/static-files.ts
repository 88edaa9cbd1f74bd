// Static files of the loopback server, confined to one folder: the request path is decoded once, refused
// when malformed (NUL, backslash), checked against the folder both as written and after following
// symbolic links, and served with its content type. Dotfiles are never served; callers may hide more.

import { createReadStream, realpathSync, statSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, isAbsolute, relative, resolve, sep } from "node:path";
import { HttpError, SECURITY_HEADERS } from "./responses.js";

export const CONTENT_TYPES: Readonly<Record<string, string>> = {
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

export interface StaticFolderOptions {
  /** The folder to serve; "/" is its index.html. */
  dir: string;
  /** Files that exist but are not to be served (answered 404), by their folder-relative path with "/". */
  hidden?: (relativePath: string) => boolean;
  /** Names the folder in errors ("path leaves the game folder"); default "the served folder". */
  description?: string;
}

export class StaticFolder {
  /** The folder's real path. */
  readonly dir: string;
  readonly #hidden: (relativePath: string) => boolean;
  readonly #description: string;

  /** Throws when `dir` is missing or not a folder. */
  constructor(options: StaticFolderOptions) {
    const dir = realpathSync(resolve(options.dir));
    if (!statSync(dir).isDirectory()) throw new Error(`${dir} is not a folder`);
    this.dir = dir;
    this.#hidden = options.hidden ?? (() => false);
    this.#description = options.description ?? "the served folder";
  }

  /** Serves GET/HEAD `pathname` (still URL-encoded); throws HttpError 400/403/404. */
  async serve(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
    let decoded: string;
    try {
      decoded = decodeURIComponent(pathname);
    } catch {
      throw new HttpError(400, "BAD_REQUEST", "malformed path");
    }
    if (decoded.includes("\0") || decoded.includes("\\")) throw new HttpError(400, "BAD_REQUEST", "malformed path");
    const rel = decoded === "/" || decoded === "" ? "index.html" : decoded.replace(/^\/+/, "");
    const leaves = (): HttpError => new HttpError(403, "FORBIDDEN_PATH", `path leaves ${this.#description}`);
    const missing = (): HttpError => new HttpError(404, "NOT_FOUND", `no file ${decoded}`);
    const file = resolve(this.dir, rel);
    if (!strictlyInside(this.dir, file)) throw leaves();
    if (rel.split("/").some((part) => part.startsWith(".")) || this.#hidden(rel)) throw missing();
    let real: string;
    try {
      real = realpathSync(file);
    } catch {
      throw missing();
    }
    if (!strictlyInside(this.dir, real)) throw leaves();
    const stat = statSync(real, { throwIfNoEntry: false });
    if (!stat?.isFile()) throw missing();
    res.writeHead(200, {
      "content-type": CONTENT_TYPES[extname(real).toLowerCase()] ?? "application/octet-stream",
      "content-length": stat.size,
      "cache-control": "no-store",
      ...SECURITY_HEADERS,
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
}

/** Whether `path` is below `root` (not `root` itself); both absolute. */
function strictlyInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== "" && !rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel);
}
