// How the loopback server answers: JSON bodies with the same security headers on every response, and
// errors as `{error: {code, message, ...details}}` with a 4xx/5xx status. Nothing a caller throws ever
// reaches the page as a stack trace: known errors become their status and message, anything else is
// logged here and answered with a bare 500.

import type { ServerResponse } from "node:http";
import { ParleyError } from "../errors.js";

/** An HTTP error with a status and a stable code, answered as {error: {code, message, ...details}}. */
export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  /** Extra fields of the error object (e.g. the paths that changed); `code` and `message` are never overridden. */
  readonly details: Readonly<Record<string, unknown>>;
  constructor(status: number, code: string, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = "HttpError";
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** Turns an application's own error classes into HttpErrors; undefined leaves the error to the defaults. */
export type ErrorMapper = (error: unknown) => HttpError | undefined;

/** Sent with every response: no sniffing, no framing, no referrer (the page URL carries the token). */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "content-security-policy": "frame-ancestors 'none'",
  "cross-origin-resource-policy": "same-origin",
};

/**
 * The HttpError an error is answered with: the mapper's, an HttpError as is, a ParleyError by its code
 * (INVALID_ARGUMENT 400, DISPOSED 503, others 500 with their message, which is written for users), and
 * anything else an opaque 500 (logged through `log`, never sent).
 */
export function toHttpError(error: unknown, mapError?: ErrorMapper, log: (error: unknown) => void = () => undefined): HttpError {
  if (error instanceof HttpError) return error;
  let mapped: HttpError | undefined;
  try {
    mapped = mapError?.(error);
  } catch (mapperError) {
    log(mapperError);
  }
  if (mapped) return mapped;
  if (error instanceof ParleyError) {
    const status = error.code === "INVALID_ARGUMENT" ? 400 : error.code === "DISPOSED" ? 503 : 500;
    return new HttpError(status, error.code, error.message);
  }
  log(error);
  return new HttpError(500, "INTERNAL", "internal error");
}

export function sendJson(res: ServerResponse, status: number, value: unknown, extraHeaders: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const body = JSON.stringify(value ?? null);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
    ...extraHeaders,
    ...SECURITY_HEADERS,
  });
  res.end(body);
}

/** Answers `error` as JSON; a response already under way (an event stream, a file) is cut off instead. */
export function sendError(res: ServerResponse, error: unknown, mapError?: ErrorMapper, log?: (error: unknown) => void): void {
  const { status, code, message, details } = toHttpError(error, mapError, log);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const fields: Record<string, unknown> = { code, message };
  for (const [key, value] of Object.entries(details)) if (key !== "code" && key !== "message") fields[key] = value;
  // A refused request may still be sending its body: do not keep the connection waiting on it.
  sendJson(res, status, { error: fields }, status === 413 ? { connection: "close" } : {});
}
