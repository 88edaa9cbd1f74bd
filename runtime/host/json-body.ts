// Request bodies of the loopback server: one JSON object, read under a byte limit (hono's bodyLimit: a
// declared Content-Length over it is refused before a byte is read, a chunked body as soon as it passes
// it), and typed field access that answers a wrong or missing field with a 400 naming it.

import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HttpError } from "./responses.js";

export type JsonObject = Record<string, unknown>;

/** Middleware refusing a body over `maxBytes` with HttpError 413 BODY_TOO_LARGE. */
export function jsonBodyLimit(maxBytes: number) {
  return bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new HttpError(413, "BODY_TOO_LARGE", `JSON bodies are limited to ${maxBytes} bytes`);
    },
  });
}

/**
 * Reads the body as a JSON object; an empty body is {}. Throws HttpError 400 BAD_JSON. Our own rather than
 * c.req.json(): that one answers an empty body and a non-object alike with a bare parse error.
 */
export async function readJsonObject(c: Context): Promise<JsonObject> {
  const text = (await c.req.text()).trim();
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
export type FieldValue<T extends FieldType> = T extends "string" ? string : T extends "number" ? number : boolean;

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
