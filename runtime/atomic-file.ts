// Writing a file so that nothing is lost: through a temporary file in the same folder and a rename, so
// readers (and a crash mid-write) see the old file or the new one, never half of one.
import { randomBytes } from "node:crypto";
import { renameSync, rmSync, writeFileSync } from "node:fs";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { FileAccessError } from "./errors.js";

/** Writes `text` to `file` atomically; an unwritable place is a FileAccessError. */
export function writeFileAtomic(file: string, text: string): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    writeFileSync(tmp, text, { flag: "wx" });
    renameSync(tmp, file);
  } catch (e) {
    try {
      rmSync(tmp, { force: true });
    } catch {
      // The folder itself is unusable (a path through a file, say): no temporary file was made.
    }
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "EACCES" || code === "EPERM" || code === "EISDIR" || code === "ENOTDIR" || code === "EROFS") {
      throw new FileAccessError(file, `cannot write: ${(e as Error).message}`, { cause: e });
    }
    throw e;
  }
}

/**
 * The same for documents a player would lose (save games, memories): asynchronous, creates the folder, and
 * flushes the temporary file to disk before the rename, so a power cut leaves the old file or the new one.
 */
export async function writeFileAtomicDurable(file: string, text: string, what = "file"): Promise<void> {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    await mkdir(dirname(file), { recursive: true });
    const handle = await open(tmp, "wx");
    try {
      await handle.writeFile(text, "utf8");
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (error) {
    await rm(tmp, { force: true }).catch(() => undefined);
    const reason = error instanceof Error ? error.message : String(error);
    throw new FileAccessError(file, `cannot write ${what}: ${reason}`, { cause: error });
  }
}
