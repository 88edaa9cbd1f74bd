// Downloading a catalogue model into the models folder: streamed to `<file>.part`, resumed with an HTTP
// Range request when a `.part` exists (a clean restart when the server answers 200), checked against the
// catalogue's size and SHA-256 (the hash covers the whole file, resumed bytes included), then fsynced and
// renamed into place, so the final path only ever holds a complete, checked file.

import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, rename, rm, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { ParleyError, FileAccessError } from "../errors.js";
import { getEntry, loadCatalogue, type CatalogueEntry } from "./catalogue.js";
import { ChecksumMismatchError, ModelDownloadError } from "./errors.js";
import { modelsFolder, PART_SUFFIX, readVerificationRecord, sha256File, writeVerificationRecord } from "./store.js";

export interface DownloadProgress {
  /** Bytes of the file on disk so far, including those resumed from an earlier `.part`. */
  receivedBytes: number;
  /** Size of the whole file, or null when neither the catalogue nor the server says. */
  totalBytes: number | null;
  /** Transfer rate of this attempt, bytes per second (0 at the start). */
  bytesPerSecond: number;
  /** True when this transfer continues an earlier `.part`. */
  resumed: boolean;
}

export interface DownloadOptions {
  /** Models folder. Default modelsFolder() (PARLEY_MODELS, else models/ in Parley's cache folder). */
  folder?: string;
  /** Called as bytes arrive (at most every progressIntervalMs), and once at the end with receivedBytes = totalBytes. */
  onProgress?: (progress: DownloadProgress) => void;
  /** Aborting keeps the `.part` (a later download resumes it) and rejects with a ParleyError coded ABORTED. */
  signal?: AbortSignal;
  /** fetch implementation (tests, proxies). Default globalThis.fetch. */
  fetchImpl?: typeof fetch;
  /** Catalogue used to look up a string id. Default loadCatalogue({ folder }). */
  catalogue?: readonly CatalogueEntry[];
  /** Automatic resumes after a dropped connection or a 5xx answer within this call. Default 2. */
  retries?: number;
  /** Delay before retry n is n × retryDelayMs. Default 1000. */
  retryDelayMs?: number;
  /** Download again even when a checked file is already in place. */
  force?: boolean;
  /** Minimum interval between progress callbacks. Default 100 ms. */
  progressIntervalMs?: number;
}

export interface DownloadResult {
  /** Final path of the model file. */
  path: string;
  /** SHA-256 (hex) of the whole file. */
  sha256: string;
  bytes: number;
  /** True when bytes of an earlier interrupted transfer were kept. */
  resumed: boolean;
  /** True when a checked file was already in place and nothing was downloaded. */
  alreadyInstalled: boolean;
  /** True when the SHA-256 matched the catalogue's published one; false when the entry has none. */
  checksumPinned: boolean;
}

const retryable = new WeakSet<object>();
const inFlight = new Set<string>();

function aborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

function abortError(what: string, cause?: unknown): ParleyError {
  return new ParleyError("ABORTED", `${what} was cancelled; the partial file was kept and the next download resumes it`, { cause });
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolveSleep, reject) => {
    if (aborted(signal)) return reject(abortError("the download"));
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolveSleep();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(abortError("the download"));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

async function fileSize(path: string): Promise<number | undefined> {
  try {
    const s = await stat(path);
    return s.isFile() ? s.size : undefined;
  } catch {
    return undefined;
  }
}

async function hashPrefix(path: string, bytes: number, hash: Hash): Promise<void> {
  if (bytes === 0) return;
  for await (const chunk of createReadStream(path, { start: 0, end: bytes - 1, highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
}

async function fsyncFolder(folder: string): Promise<void> {
  try {
    const fh = await open(folder, "r");
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Not supported everywhere (Windows); the rename itself is still atomic.
  }
}

interface Attempt {
  sha256: string;
  bytes: number;
  resumed: boolean;
}

async function transfer(entry: CatalogueEntry, finalPath: string, options: DownloadOptions, allowRange: boolean): Promise<Attempt> {
  const partPath = finalPath + PART_SUFFIX;
  const fetchImpl = options.fetchImpl ?? globalThis.fetch;
  const signal = options.signal;
  let offset = (await fileSize(partPath)) ?? 0;
  if (!allowRange || (entry.sizeBytes !== null && offset > entry.sizeBytes)) {
    await rm(partPath, { force: true });
    offset = 0;
  }
  const headers: Record<string, string> = { "accept-encoding": "identity", "user-agent": "parley-model-manager" };
  if (offset > 0) headers.range = `bytes=${offset}-`;

  let res: Response;
  try {
    res = await fetchImpl(entry.url, { headers, redirect: "follow", signal });
  } catch (e) {
    if (aborted(signal)) throw abortError(`downloading ${entry.file}`, e);
    const err = new ModelDownloadError(entry.url, `cannot reach ${entry.url}: ${(e as Error).message}`, { resumable: offset > 0, cause: e });
    retryable.add(err);
    throw err;
  }
  const cancelBody = () => res.body?.cancel().catch(() => {});

  if (res.status === 416 && offset > 0) {
    // The range starts at or past the end: the .part is stale or from another version. Start over.
    await cancelBody();
    return transfer(entry, finalPath, options, false);
  }
  if (!res.ok || !res.body) {
    await cancelBody();
    const err = new ModelDownloadError(entry.url, `download of ${entry.file} failed: HTTP ${res.status} ${res.statusText} from ${res.url || entry.url}`, {
      status: res.status,
      resumable: offset > 0,
    });
    if (res.status >= 500 || res.status === 408 || res.status === 429) retryable.add(err);
    throw err;
  }

  const contentLength = res.headers.get("content-length");
  const length = contentLength !== null && /^\d+$/.test(contentLength) ? Number(contentLength) : null;
  let resumed = false;
  let total: number | null;
  if (res.status === 206 && offset > 0) {
    const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get("content-range") ?? "");
    if (!m || Number(m[1]) !== offset) {
      await cancelBody();
      return transfer(entry, finalPath, options, false);
    }
    resumed = true;
    total = m[3] !== "*" ? Number(m[3]) : length !== null ? offset + length : null;
  } else {
    if (res.status === 206) {
      // A partial answer to a request without Range: nothing sensible to do with it.
      await cancelBody();
      throw new ModelDownloadError(entry.url, `download of ${entry.file} failed: unexpected 206 without a Range request`, { status: 206 });
    }
    offset = 0; // 200: the server ignored the Range; restart cleanly
    total = length;
  }
  if (entry.sizeBytes !== null) {
    if (total !== null && total !== entry.sizeBytes) {
      await cancelBody();
      await rm(partPath, { force: true });
      throw new ModelDownloadError(
        entry.url,
        `the server offers ${total} bytes for ${entry.file} but the catalogue says ${entry.sizeBytes}; the catalogue entry or the URL is out of date`,
      );
    }
    total = entry.sizeBytes;
  }

  const hash = createHash("sha256");
  if (resumed) await hashPrefix(partPath, offset, hash);
  const fh = await open(partPath, resumed ? "r+" : "w");
  let received = offset;
  const started = performance.now();
  const interval = options.progressIntervalMs ?? 100;
  let lastReport = -Infinity;
  const report = (force: boolean) => {
    if (!options.onProgress) return;
    const now = performance.now();
    if (!force && now - lastReport < interval) return;
    lastReport = now;
    const seconds = (now - started) / 1000;
    options.onProgress({ receivedBytes: received, totalBytes: total, bytesPerSecond: seconds > 0 ? (received - offset) / seconds : 0, resumed });
  };
  report(true);
  try {
    const reader = res.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (total !== null && received + value.byteLength > total) {
          await fh.close().catch(() => {});
          await rm(partPath, { force: true });
          throw new ChecksumMismatchError(finalPath, "size", total, `more than ${total} bytes`);
        }
        let written = 0;
        while (written < value.byteLength) {
          const { bytesWritten } = await fh.write(value, written, value.byteLength - written, received + written);
          written += bytesWritten;
        }
        hash.update(value);
        received += value.byteLength;
        report(false);
      }
    } finally {
      reader.releaseLock();
    }
    await fh.sync();
  } catch (e) {
    await fh.sync().catch(() => {});
    await fh.close().catch(() => {});
    if (e instanceof ParleyError) throw e;
    if (aborted(signal)) throw abortError(`downloading ${entry.file}`, e);
    const err = new ModelDownloadError(
      entry.url,
      `the connection was lost after ${received}${total !== null ? ` of ${total}` : ""} bytes of ${entry.file} (${(e as Error).message}); run the download again to resume`,
      { resumable: true, cause: e },
    );
    retryable.add(err);
    throw err;
  }
  await fh.close();

  if (total !== null && received < total) {
    const err = new ModelDownloadError(
      entry.url,
      `the server closed the transfer after ${received} of ${total} bytes of ${entry.file}; run the download again to resume`,
      {
        resumable: true,
      },
    );
    retryable.add(err);
    throw err;
  }
  report(true);
  const sha256 = hash.digest("hex");
  if (entry.sha256 !== null && sha256 !== entry.sha256) {
    await rm(partPath, { force: true });
    throw new ChecksumMismatchError(finalPath, "sha256", entry.sha256, sha256);
  }
  return { sha256, bytes: received, resumed };
}

/**
 * Downloads a catalogue model (an entry, or an id looked up in options.catalogue / loadCatalogue) into the
 * models folder and returns where it is. A `.part` left by an interrupted call is resumed. Throws
 * ModelDownloadError (HTTP or network failure; `resumable` says whether a `.part` was kept),
 * ChecksumMismatchError (the `.part` is deleted), UnknownModelError, or ParleyError "ABORTED".
 */
export async function downloadModel(entryOrId: CatalogueEntry | string, options: DownloadOptions = {}): Promise<DownloadResult> {
  const folder = options.folder ? resolve(options.folder) : modelsFolder();
  const entry = typeof entryOrId === "string" ? getEntry(options.catalogue ?? (await loadCatalogue({ folder })), entryOrId) : entryOrId;
  const finalPath = join(folder, entry.file);
  if (inFlight.has(finalPath)) {
    throw new ModelDownloadError(entry.url, `${entry.file} is already being downloaded into ${folder} by this process`);
  }
  inFlight.add(finalPath);
  try {
    await mkdir(folder, { recursive: true });
    if (!options.force) {
      const size = await fileSize(finalPath);
      if (size !== undefined && (entry.sizeBytes === null || entry.sizeBytes === size)) {
        const sha256 = (await readVerificationRecord(finalPath))?.sha256 ?? (await sha256File(finalPath, undefined, options.signal));
        if (entry.sha256 === null || entry.sha256 === sha256) {
          await writeVerificationRecord(finalPath, sha256);
          options.onProgress?.({ receivedBytes: size, totalBytes: size, bytesPerSecond: 0, resumed: false });
          return { path: finalPath, sha256, bytes: size, resumed: false, alreadyInstalled: true, checksumPinned: entry.sha256 !== null };
        }
      }
    }
    const retries = options.retries ?? 2;
    let resumedAny = false;
    for (let attempt = 0; ; attempt++) {
      if (aborted(options.signal)) throw abortError(`downloading ${entry.file}`);
      try {
        const r = await transfer(entry, finalPath, options, true);
        resumedAny ||= r.resumed;
        await rename(finalPath + PART_SUFFIX, finalPath);
        await fsyncFolder(folder);
        await writeVerificationRecord(finalPath, r.sha256);
        return {
          path: finalPath,
          sha256: r.sha256,
          bytes: r.bytes,
          resumed: resumedAny || r.resumed,
          alreadyInstalled: false,
          checksumPinned: entry.sha256 !== null,
        };
      } catch (e) {
        if (!(e instanceof ModelDownloadError && retryable.has(e)) || attempt >= retries) throw e;
        if (e.resumable) resumedAny = true;
        await sleep((attempt + 1) * (options.retryDelayMs ?? 1000), options.signal);
      }
    }
  } finally {
    inFlight.delete(finalPath);
  }
}

export interface VerifyResult {
  path: string;
  bytes: number;
  sha256: string;
  expectedBytes: number | null;
  expectedSha256: string | null;
  /** "ok": SHA-256 (and size) match; "mismatch"/"size-mismatch": they do not; "no-published-checksum": the entry has none (or there is no entry). */
  status: "ok" | "mismatch" | "size-mismatch" | "no-published-checksum";
  /** true for "ok", false for a mismatch, null when there is nothing to compare against. */
  ok: boolean | null;
}

/**
 * Hashes a model file and compares it with a catalogue entry (entry may be undefined for a file that is in no
 * catalogue). Records the computed SHA-256 next to the file so `list` can show it without hashing again.
 * Throws FileAccessError when the file cannot be read.
 */
export async function verifyModel(
  path: string,
  entry: CatalogueEntry | undefined,
  options: { onProgress?: (hashedBytes: number, totalBytes: number) => void; signal?: AbortSignal } = {},
): Promise<VerifyResult> {
  let bytes: number;
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new FileAccessError(path, "not a file");
    bytes = s.size;
  } catch (e) {
    if (e instanceof ParleyError) throw e;
    throw new FileAccessError(path, (e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file (not installed?)" : (e as Error).message, { cause: e });
  }
  const sha256 = await sha256File(path, (n) => options.onProgress?.(n, bytes), options.signal);
  await writeVerificationRecord(path, sha256).catch(() => {});
  const expectedBytes = entry?.sizeBytes ?? null;
  const expectedSha256 = entry?.sha256 ?? null;
  let status: VerifyResult["status"];
  if (expectedBytes !== null && expectedBytes !== bytes) status = "size-mismatch";
  else if (expectedSha256 === null) status = "no-published-checksum";
  else status = expectedSha256 === sha256 ? "ok" : "mismatch";
  return { path, bytes, sha256, expectedBytes, expectedSha256, status, ok: status === "ok" ? true : status === "no-published-checksum" ? null : false };
}
