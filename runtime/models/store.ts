// The models folder: where it is, what is installed in it, verification records, removal.
// Layout: `<file>.gguf` (complete, verified files only; placed by an atomic rename), `<file>.gguf.part`
// (a download in progress or interrupted: resumed by the next download), `<file>.gguf.verified.json`
// (the SHA-256 computed when the file was placed or last verified, keyed by size and mtime), and an
// optional catalogue.json with more entries.

import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { basename, dirname, isAbsolute, join, relative, resolve } from "node:path";
import { findEntry, type CatalogueEntry } from "./catalogue.js";
import { UnknownModelError } from "./errors.js";
import { parleyCacheDir } from "../cache-dir.js";

export const PART_SUFFIX = ".part";
export const RECORD_SUFFIX = ".verified.json";

/** The models folder (absolute): PARLEY_MODELS, else `models` in Parley's cache folder (PARLEY_CACHE_DIR, else
 * $XDG_CACHE_HOME/parley, else ~/.cache/parley). */
export function modelsFolder(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PARLEY_MODELS) return resolve(env.PARLEY_MODELS);
  return resolve(parleyCacheDir(env) ?? join(homedir(), ".cache", "parley"), "models");
}

export interface VerificationRecord {
  file: string;
  sizeBytes: number;
  mtimeMs: number;
  sha256: string;
  verifiedAt: string;
}

/** SHA-256 (hex) of a whole file, streamed. `onProgress(bytesHashed)` is called per chunk. */
export async function sha256File(path: string, onProgress?: (bytes: number) => void, signal?: AbortSignal): Promise<string> {
  const hash = createHash("sha256");
  let n = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20, signal })) {
    hash.update(chunk as Buffer);
    n += (chunk as Buffer).length;
    onProgress?.(n);
  }
  return hash.digest("hex");
}

/** Writes the sidecar record for `path` with its current size and mtime. */
export async function writeVerificationRecord(path: string, sha256: string): Promise<void> {
  const s = await stat(path);
  const record: VerificationRecord = { file: basename(path), sizeBytes: s.size, mtimeMs: s.mtimeMs, sha256, verifiedAt: new Date().toISOString() };
  await writeFile(path + RECORD_SUFFIX, JSON.stringify(record, null, 2) + "\n");
}

/** The sidecar record for `path`, or undefined when there is none or the file changed since (size or mtime). */
export async function readVerificationRecord(path: string): Promise<VerificationRecord | undefined> {
  try {
    const [text, s] = await Promise.all([readFile(path + RECORD_SUFFIX, "utf8"), stat(path)]);
    const r = JSON.parse(text) as VerificationRecord;
    if (typeof r.sha256 !== "string" || r.sizeBytes !== s.size || r.mtimeMs !== s.mtimeMs) return undefined;
    return r;
  } catch {
    return undefined;
  }
}

export interface InstalledModel {
  /** File name in the folder. */
  file: string;
  path: string;
  sizeBytes: number;
  modifiedMs: number;
  /** The catalogue entry with this file name, if any. */
  entry: CatalogueEntry | undefined;
  /** SHA-256 recorded when the file was placed or last verified (and unchanged since), if any. */
  recordedSha256: string | undefined;
  /**
   * "verified": the recorded SHA-256 equals the entry's published one; "mismatch": the size or the recorded
   * SHA-256 differs from the entry's; "unpinned": the entry has no published checksum; "unverified": no
   * record yet (run verify); "uncatalogued": no catalogue entry.
   */
  status: "verified" | "mismatch" | "unpinned" | "unverified" | "uncatalogued";
}

export interface PartialDownload {
  file: string;
  path: string;
  receivedBytes: number;
  entry: CatalogueEntry | undefined;
}

export interface FolderListing {
  folder: string;
  installed: InstalledModel[];
  partial: PartialDownload[];
}

/** The GGUF files (and interrupted downloads) in the models folder. A missing folder lists as empty. */
export async function listInstalled(options: { folder?: string; catalogue?: readonly CatalogueEntry[] } = {}): Promise<FolderListing> {
  const folder = options.folder ? resolve(options.folder) : modelsFolder();
  const catalogue = options.catalogue ?? [];
  let names: string[];
  try {
    names = await readdir(folder);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { folder, installed: [], partial: [] };
    throw e;
  }
  const installed: InstalledModel[] = [];
  const partial: PartialDownload[] = [];
  for (const name of names.sort()) {
    const path = join(folder, name);
    if (name.toLowerCase().endsWith(".gguf")) {
      const s = await stat(path).catch(() => undefined);
      if (!s?.isFile()) continue;
      const entry = catalogue.find((e) => e.file === name);
      const record = await readVerificationRecord(path);
      let status: InstalledModel["status"];
      if (!entry) status = "uncatalogued";
      else if (entry.sizeBytes !== null && entry.sizeBytes !== s.size) status = "mismatch";
      else if (!record) status = "unverified";
      else if (entry.sha256 === null) status = "unpinned";
      else status = record.sha256 === entry.sha256 ? "verified" : "mismatch";
      installed.push({ file: name, path, sizeBytes: s.size, modifiedMs: s.mtimeMs, entry, recordedSha256: record?.sha256, status });
    } else if (name.toLowerCase().endsWith(".gguf" + PART_SUFFIX)) {
      const s = await stat(path).catch(() => undefined);
      if (!s?.isFile()) continue;
      const file = name.slice(0, -PART_SUFFIX.length);
      partial.push({ file, path, receivedBytes: s.size, entry: catalogue.find((e) => e.file === file) });
    }
  }
  return { folder, installed, partial };
}

/**
 * Where an id or file name points: a catalogue id or file name → `<folder>/<file>`; a path (absolute, or
 * containing a separator, or an existing file) → that path. Throws UnknownModelError when it is neither.
 */
export function resolveModelRef(
  ref: string,
  options: { folder?: string; catalogue?: readonly CatalogueEntry[]; exists?: (path: string) => boolean } = {},
): { path: string; entry: CatalogueEntry | undefined } {
  const folder = options.folder ? resolve(options.folder) : modelsFolder();
  const catalogue = options.catalogue ?? [];
  const byId = catalogue.find((e) => e.id.toLowerCase() === ref.toLowerCase());
  if (byId) return { path: join(folder, byId.file), entry: byId };
  const looksLikePath = isAbsolute(ref) || ref.includes("/") || ref.includes("\\");
  if (looksLikePath || options.exists?.(ref)) {
    const path = resolve(ref);
    return { path, entry: findEntry(catalogue, basename(path)) };
  }
  if (ref.toLowerCase().endsWith(".gguf")) return { path: join(folder, ref), entry: findEntry(catalogue, ref) };
  throw new UnknownModelError(
    ref,
    catalogue.map((e) => e.id),
  );
}

/**
 * Deletes a model from the folder: the file, its `.part` and its verification record. Only paths inside the
 * models folder are removed (anything else throws InvalidArgument-coded UnknownModelError). Returns the paths deleted.
 */
export async function removeModel(
  ref: string,
  options: { folder?: string; catalogue?: readonly CatalogueEntry[] } = {},
): Promise<{ path: string; removed: string[] }> {
  const folder = options.folder ? resolve(options.folder) : modelsFolder();
  const { path } = resolveModelRef(ref, { ...options, folder });
  const rel = relative(folder, path);
  if (rel === "" || rel.startsWith("..") || isAbsolute(rel) || dirname(rel) !== ".") {
    throw new UnknownModelError(
      `${ref} (not in the models folder ${folder})`,
      (options.catalogue ?? []).map((e) => e.id),
    );
  }
  const removed: string[] = [];
  for (const p of [path, path + PART_SUFFIX, path + RECORD_SUFFIX]) {
    const existed = await stat(p).then(
      () => true,
      () => false,
    );
    if (existed) {
      await rm(p, { force: true });
      removed.push(p);
    }
  }
  return { path, removed };
}
