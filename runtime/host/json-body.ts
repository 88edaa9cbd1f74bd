// Request bodies of the loopback server: one JSON object, read with a byte limit that is enforced while
// reading (a declared Content-Length over it is refused before a byte is read), and typed field access
// that answers a wrong or missing field with a 400 naming it.

import type { IncomingMessage } from "node:http";
import { HttpError } from "./responses.js";

export type JsonObject = Record<string, unknown>;

/** Reads the body as a JSON object; an empty body is {}. Throws HttpError 413 or 400. */
export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<JsonObject> {
  const tooLarge = (): HttpError => new HttpError(413, "BODY_TOO_LARGE", `JSON bodies are limited to ${maxBytes} bytes`);
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > maxBytes) {
    req.resume();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) {
      req.resume();
      throw tooLarge();
    }
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8").trim();
  if (text === "") return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new HttpError(400, "BAD_JSON", "the request body is not valid JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new HttpError(400, "BAD_JSON", "the request body must be a JSON object");
  return body as JsonObject;
}

export type FieldType = "string" | "number" | "boolean";
type FieldValue<T extends FieldType> = T extends "string" ? string : T extends "number" ? number : boolean;

/** `body[name]` when it has `type`; a 400 INVALID_ARGUMENT naming the field otherwise. */
export function requireField<T extends FieldType>(body: JsonObject, name: string, type: T): FieldValue<T> {
  const value = Object.hasOwn(body, name) ? body[name] : undefined;
  if (typeof value !== type || (type === "number" && !Number.isFinite(value))) {
    throw new HttpError(400, "INVALID_ARGUMENT", `"${name}" must be a ${type}, got ${value === undefined ? "nothing" : JSON.stringify(value)}`);
  }
  return value as FieldValue<T>;
}

/** Like requireField, but a missing (or null) field is undefined. */
export function optionalField<T extends FieldType>(body: JsonObject, name: string, type: T): FieldValue<T> | undefined {
  const value = Object.hasOwn(body, name) ? body[name] : undefined;
  if (value === undefined || value === null) return undefined;
  return requireField(body, name, type);
}
