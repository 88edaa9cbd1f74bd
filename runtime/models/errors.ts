// Typed errors of the model manager. They reuse the existing ParleyError codes (errors.ts is shared and its
// code union is left as it is): network/HTTP failures are FILE_ACCESS (the model file cannot be obtained),
// integrity and lookup failures are INVALID_ARGUMENT, a cancelled download is ABORTED.

import { ParleyError } from "../errors.js";

/** The server refused or failed the transfer (HTTP status, network error, connection dropped). */
export class ModelDownloadError extends ParleyError {
  readonly url: string;
  /** HTTP status when the server answered with an error status. */
  readonly status: number | undefined;
  /** True when a `.part` file with the bytes received so far was kept: running the download again resumes it. */
  readonly resumable: boolean;
  constructor(url: string, message: string, options?: { status?: number; resumable?: boolean; cause?: unknown }) {
    super("FILE_ACCESS", message, { cause: options?.cause });
    this.url = url;
    this.status = options?.status;
    this.resumable = options?.resumable ?? false;
  }
}

/** The downloaded or installed file does not have the expected SHA-256 (or byte size). */
export class ChecksumMismatchError extends ParleyError {
  readonly path: string;
  readonly kind: "sha256" | "size";
  readonly expected: string;
  readonly actual: string;
  constructor(path: string, kind: "sha256" | "size", expected: string | number, actual: string | number) {
    const what = kind === "sha256" ? "SHA-256" : "size";
    super("INVALID_ARGUMENT", `${path}: ${what} mismatch: expected ${expected}, got ${actual}; the corrupt file was deleted, run the download again`);
    this.path = path;
    this.kind = kind;
    this.expected = String(expected);
    this.actual = String(actual);
  }
}

/** An id (or file name) that is in no catalogue. */
export class UnknownModelError extends ParleyError {
  readonly id: string;
  constructor(id: string, known: readonly string[]) {
    super("INVALID_ARGUMENT", `unknown model "${id}"; known models: ${known.join(", ") || "(none)"}`);
    this.id = id;
  }
}

/** A catalogue JSON file that cannot be read or has a malformed entry. */
export class CatalogueFormatError extends ParleyError {
  readonly source: string;
  constructor(source: string, message: string, options?: { cause?: unknown }) {
    super("INVALID_ARGUMENT", `catalogue ${source}: ${message}`, options);
    this.source = source;
  }
}
