// Static files of the loopback server, confined to one folder. The checks are our own, since
// @hono/node-server's serveStatic follows symbolic links out of its root and serves dotfiles: the request
// path is decoded once, refused when malformed (NUL, backslash), checked against the folder both as
// written and after following symbolic links, and dotfiles and the caller's hidden files are never
// served. The checked file is then served by serveStatic (content type, length, HEAD, ranges).

import { serveStatic } from "@hono/node-server/serve-static";
import { realpathSync, statSync } from "node:fs";
import { isAbsolute, relative, resolve, sep } from "node:path";
import type { Context } from "hono";
import { HttpError } from "./responses.js";

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

  /** Answers a GET/HEAD with the file at the request's path; throws HttpError 400/403/404. */
  async serve(c: Context): Promise<Response> {
    const file = this.resolve(new URL(c.req.url).pathname);
    // The file went away between the check and the read.
    const missing = (): never => {
      throw new HttpError(404, "NOT_FOUND", `no file ${c.req.path}`);
    };
    // A serveStatic for the one checked file: `path` skips its own path parsing, which the checks replace.
    const response = await serveStatic({ root: this.dir, path: file, onNotFound: missing })(c, async () => missing());
    return response ?? missing();
  }

  /** The folder-relative path of the real file `pathname` (still URL-encoded) names; throws HttpError 400/403/404. */
  resolve(pathname: string): string {
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
    if (!statSync(real, { throwIfNoEntry: false })?.isFile()) throw missing();
    return relative(this.dir, real);
  }
}

/** Whether `path` is below `root` (not `root` itself); both absolute. */
function strictlyInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== "" && !rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel);
}
