// How the loopback server answers: the same security headers on every response, and errors as
// `{error: {code, message, ...details}}` with a 4xx/5xx status. Nothing a caller throws ever reaches the
// page as a stack trace: known errors become their status and message, anything else is logged and
// answered with a bare 500.

import type { MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { ParleyError } from "../errors.js";

/**
 * An HTTP error with a status and a stable code, answered as {error: {code, message, ...details}}. A hono
 * HTTPException, so hono's own pieces and ours throw the same kind of error.
 */
export class HttpError extends HTTPException {
  readonly code: string;
  /** Extra fields of the error object (e.g. the paths that changed); `code` and `message` are never overridden. */
  readonly details: Readonly<Record<string, unknown>>;
  constructor(status: number, code: string, message: string, details: Record<string, unknown> = {}) {
    super(status as ContentfulStatusCode, { message });
    this.name = "HttpError";
    this.code = code;
    this.details = details;
  }
}

/** Turns an application's own error classes into HttpErrors; undefined leaves the error to the defaults. */
export type ErrorMapper = (error: unknown) => HttpError | undefined;

/** Sent with every response: no sniffing, no framing, no referrer (the page URL carries the token), no caching. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "content-security-policy": "frame-ancestors 'none'",
  "cross-origin-resource-policy": "same-origin",
  "cache-control": "no-store",
};

/**
 * Sets SECURITY_HEADERS on every response of the app, errors included. Our own rather than hono's
 * secureHeaders: that one adds a different default set (HSTS, COOP, ...) and has no cache-control.
 */
export const securityHeaders: MiddlewareHandler = async (c, next) => {
  await next();
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.res.headers.set(name, value);
};

/**
 * The HttpError an error is answered with: the mapper's, an HttpError as is, another HTTPException (from
 * hono's pieces) by its status, a ParleyError by its code (INVALID_ARGUMENT 400, DISPOSED 503, others 500
 * with their message, which is written for users), and anything else an opaque 500 (logged through
 * `log`, never sent).
 */
export function toHttpError(error: unknown, mapError?: ErrorMapper, log: (error: unknown) => void = () => undefined): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof HTTPException)
    return new HttpError(error.status, error.status === 413 ? "BODY_TOO_LARGE" : "BAD_REQUEST", error.message || "bad request");
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

/** The JSON answer to `error`, headers included (it is also sent from outside the app, for malformed requests). */
export function errorResponse(error: HttpError): Response {
  const fields: Record<string, unknown> = { code: error.code, message: error.message };
  for (const [key, value] of Object.entries(error.details)) if (key !== "code" && key !== "message") fields[key] = value;
  const headers: Record<string, string> = { ...SECURITY_HEADERS };
  // A refused request may still be sending its body: do not keep the connection waiting on it.
  if (error.status === 413) headers.connection = "close";
  return Response.json({ error: fields }, { status: error.status, headers });
}
