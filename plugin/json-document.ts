// Reading a JSON document a player or writer owns (a save, a memory): a missing or unreadable file is a
// FileAccessError naming it, text that is not JSON is the caller's format error ("the file is corrupt").
import { readFile } from "node:fs/promises";
import { FileAccessError } from "../runtime/index.js";

/** The parsed JSON of `path`, or `missing` when the file does not exist and the caller allows that. */
export async function readJsonDocument(
  path: string,
  options: { what: string; corrupt: (message: string) => Error; missing?: () => unknown },
): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" && options.missing) return options.missing();
    const reason = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "it is a folder" : error instanceof Error ? error.message : String(error);
    throw new FileAccessError(path, `cannot read the ${options.what}: ${reason}`, { cause: error });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw options.corrupt(`not valid JSON (${error instanceof Error ? error.message : String(error)}); the file is corrupt`);
  }
}
