// Every file the editor touches is named by a project-relative path that may come from a file on disk, a
// UI field or a pulled commit; this is the one place such a path becomes a real file name, and it refuses
// anything that could lead outside the project folder, including through symbolic links.

import { lstat, realpath } from "node:fs/promises";
import { isAbsolute, join, relative, sep } from "node:path";
import { FileAccessError, ParleyError } from "../../runtime/errors.js";

/** A path that is malformed or leads outside the project; the message names the path and the reason. */
export class PathOutsideProjectError extends ParleyError {
  readonly path: string;
  readonly reason: string;
  constructor(path: string, reason: string) {
    super("INVALID_ARGUMENT", `refusing the path ${JSON.stringify(path)}: ${reason}`);
    this.path = path;
    this.reason = reason;
  }
}

/**
 * The canonical form of a project-relative path (forward slashes, no `.` or empty segments), checked for
 * everything that can be refused without looking at the disk.
 */
export function normalizeProjectPath(relativePath: string): string {
  const refuse = (reason: string) => new PathOutsideProjectError(relativePath, reason);
  if (typeof relativePath !== "string") throw refuse("a project path must be a string");
  if (relativePath === "") throw refuse("the path is empty");
  if (relativePath.includes("\0")) throw refuse("it contains a NUL byte");
  // Refused rather than converted: on POSIX a backslash is part of a file name, on Windows a separator.
  if (relativePath.includes("\\")) throw refuse("it contains a backslash; project paths use forward slashes");
  if (isAbsolute(relativePath) || /^[A-Za-z]:/.test(relativePath)) throw refuse("it is absolute; project paths are relative to the project folder");
  const segments = relativePath.split("/");
  if (segments.includes("..")) throw refuse('it has a ".." segment, which could leave the project folder');
  const kept = segments.filter((s) => s !== "" && s !== ".");
  if (kept.length === 0) throw refuse("it names the project folder itself, not a file in it");
  return kept.join("/");
}

/** The real path of the project folder; a missing or unreadable folder is a FileAccessError. */
export async function projectRealRoot(root: string): Promise<string> {
  try {
    const real = await realpath(root);
    if (!(await lstat(real)).isDirectory()) throw new FileAccessError(root, "the project is not a folder");
    return real;
  } catch (error) {
    if (error instanceof ParleyError) throw error;
    throw new FileAccessError(root, `cannot open the project folder: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

/**
 * The absolute file a project-relative path names, after making sure it stays inside the project: for an
 * existing file its real path (so symbolic links are followed before the check, and a write through a link
 * that stays inside lands on its target), for a new file the real path of its nearest existing folder with
 * the rest appended. Throws PathOutsideProjectError otherwise.
 */
export async function resolveInProject(root: string, relativePath: string): Promise<string> {
  const normalized = normalizeProjectPath(relativePath);
  const realRoot = await projectRealRoot(root);
  const segments = normalized.split("/");
  // Walk up from the file until something exists; what does not exist yet cannot be a link.
  for (let existing = segments.length; existing >= 0; existing--) {
    const candidate = join(realRoot, ...segments.slice(0, existing));
    let real: string;
    try {
      real = await realpath(candidate);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ELOOP") throw new PathOutsideProjectError(relativePath, "its symbolic links form a loop");
      if (code !== "ENOENT" && code !== "ENOTDIR") throw error;
      // A link whose target is missing fails realpath like a missing file, but reading or writing
      // through it would create or follow its target, wherever that is.
      if (await isSymbolicLink(candidate)) throw new PathOutsideProjectError(relativePath, "it goes through a symbolic link whose target does not exist");
      continue;
    }
    const resolved = join(real, ...segments.slice(existing));
    if (!isInside(realRoot, resolved)) {
      throw new PathOutsideProjectError(relativePath, `a symbolic link leads it outside the project folder (to ${resolved})`);
    }
    return resolved;
  }
  // Unreachable: the root itself exists (projectRealRoot checked it).
  throw new PathOutsideProjectError(relativePath, "the project folder disappeared");
}

/** Whether `path` is `root` or below it (both real, absolute paths). */
export function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (!isAbsolute(rel) && rel !== ".." && !rel.startsWith(".." + sep));
}

async function isSymbolicLink(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isSymbolicLink();
  } catch {
    return false;
  }
}
