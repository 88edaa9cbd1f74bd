// GGUF v2/v3 header reader: magic, version, metadata, tensor infos. Reads only the header, never tensor data
// (except through readTensorData, one tensor at a time).

import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import * as os from "node:os";
import { FileAccessError, GgufFormatError, GgufTruncatedError } from "../errors.js";
import {
  ggufValueTypeSize,
  GgufValueType,
  ggmlTypeInfo,
  ggmlTypeName,
  ggufValueTypeName,
  isGgufValueType,
  tensorByteSize,
  tensorElementCount,
  type GgufArray,
  type GgufArrayItems,
  type GgufMetadataValue,
  type GgufValue,
} from "./types.js";

export const GGUF_MAGIC = "GGUF";
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** ggml's GGML_MAX_DIMS. */
export const GGUF_MAX_DIMS = 4;

export interface GgufTensorInfo {
  readonly name: string;
  /** Dimensions in ggml order: ne0 (the contiguous one, a row's length) first. */
  readonly dims: readonly number[];
  readonly type: number;
  readonly typeName: string;
  readonly nElements: number;
  /** Offset relative to the start of the data section, as stored in the file. */
  readonly relativeOffset: number;
  /** Absolute file offset of the tensor's first byte. */
  readonly offset: number;
  readonly byteSize: number;
}

export class GgufFile {
  constructor(
    readonly path: string,
    readonly version: number,
    readonly fileSize: number,
    readonly alignment: number,
    /** Absolute file offset where tensor data starts. */
    readonly dataOffset: number,
    readonly metadata: ReadonlyMap<string, GgufMetadataValue>,
    readonly tensors: readonly GgufTensorInfo[],
  ) {
    this.tensorMap = new Map(tensors.map((t) => [t.name, t]));
  }

  private readonly tensorMap: Map<string, GgufTensorInfo>;

  has(key: string): boolean {
    return this.metadata.has(key);
  }

  /** The raw value, or undefined when absent. */
  get(key: string): GgufValue | undefined {
    return this.metadata.get(key)?.value;
  }

  tensor(name: string): GgufTensorInfo | undefined {
    return this.tensorMap.get(name);
  }

  getString(key: string): string;
  getString(key: string, fallback: string): string;
  getString(key: string, fallback?: string): string {
    return this.typed(key, fallback, GgufValueType.STRING, "a string");
  }

  /** Any numeric scalar (64-bit integers must fit a double exactly). */
  getNumber(key: string): number;
  getNumber(key: string, fallback: number): number;
  getNumber(key: string, fallback?: number): number {
    const entry = this.entry(key, fallback !== undefined);
    if (!entry) return fallback as number;
    const v = entry.value;
    if (typeof v === "number" && entry.type !== GgufValueType.BOOL) return v;
    if (typeof v === "bigint") {
      const n = Number(v);
      if (!Number.isSafeInteger(n)) throw new GgufFormatError(`metadata ${key} = ${v} is too large for a number`);
      return n;
    }
    throw this.wrongType(key, entry, "a number");
  }

  /** An integer scalar. */
  getInteger(key: string): number;
  getInteger(key: string, fallback: number): number;
  getInteger(key: string, fallback?: number): number {
    const n = fallback === undefined ? this.getNumber(key) : this.getNumber(key, fallback);
    if (!Number.isInteger(n)) throw new GgufFormatError(`metadata ${key} must be an integer, got ${n}`);
    return n;
  }

  getBool(key: string): boolean;
  getBool(key: string, fallback: boolean): boolean;
  getBool(key: string, fallback?: boolean): boolean {
    return this.typed(key, fallback, GgufValueType.BOOL, "a bool");
  }

  /** An array value; with itemType, also checks the item type. */
  getArray(key: string, itemType?: GgufValueType): GgufArray {
    const entry = this.entry(key, false)!;
    if (entry.type !== GgufValueType.ARRAY) throw this.wrongType(key, entry, "an array");
    const arr = entry.value as GgufArray;
    if (itemType !== undefined && arr.itemType !== itemType) {
      throw new GgufFormatError(
        `metadata ${key} must be an array of ${ggufValueTypeName(itemType)}, got an array of ${ggufValueTypeName(arr.itemType)} in ${this.path}`,
      );
    }
    return arr;
  }

  getStringArray(key: string): string[] {
    return this.getArray(key, GgufValueType.STRING).items as string[];
  }

  /** A numeric array as plain numbers (any numeric item type). */
  getNumberArray(key: string): ArrayLike<number> {
    const arr = this.getArray(key);
    const items = arr.items;
    if (items instanceof BigInt64Array || items instanceof BigUint64Array) return Array.from(items, Number);
    if (ArrayBuffer.isView(items)) return items as ArrayLike<number>;
    throw new GgufFormatError(`metadata ${key} must be a numeric array, got an array of ${ggufValueTypeName(arr.itemType)} in ${this.path}`);
  }

  private entry(key: string, optional: boolean): GgufMetadataValue | undefined {
    const entry = this.metadata.get(key);
    if (!entry && !optional) throw new GgufFormatError(`metadata key ${key} is missing from ${this.path}`);
    return entry;
  }

  /** The value of a key whose entry must have the given type, or the fallback when absent and one is given. */
  private typed<T extends GgufValue>(key: string, fallback: T | undefined, type: GgufValueType, want: string): T {
    const entry = this.entry(key, fallback !== undefined);
    if (!entry) return fallback as T;
    if (entry.type !== type) throw this.wrongType(key, entry, want);
    return entry.value as T;
  }

  private wrongType(key: string, entry: GgufMetadataValue, want: string): GgufFormatError {
    return new GgufFormatError(`metadata ${key} must be ${want}, got ${ggufValueTypeName(entry.type)} in ${this.path}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing. The parser is synchronous over a prefix of the file; when it needs bytes beyond the prefix it throws
// NeedMore and the driver retries with a larger prefix (the header is usually read in one go).

class NeedMore {
  constructor(readonly bytes: number) {}
}

const LITTLE_ENDIAN_HOST = os.endianness() === "LE";
// ignoreBOM: a string that starts with U+FEFF (a token piece, for one) keeps it instead of losing it as a BOM.
const utf8 = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

class Cursor {
  pos = 0;
  private readonly view: DataView;
  constructor(
    private readonly buf: Uint8Array,
    /** Bytes of the file in buf (buf holds the file's prefix). */
    private readonly loaded: number,
    private readonly fileSize: number,
    private readonly path: string,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** Makes sure n bytes at pos are available; `what` names the item for the truncation message. */
  need(n: number, what: string): void {
    const end = this.pos + n;
    if (end > this.fileSize) {
      throw new GgufTruncatedError(`${this.path} is truncated: ${what} at offset ${this.pos} needs ${n} bytes, but the file ends at ${this.fileSize}`);
    }
    if (end > this.loaded) throw new NeedMore(end);
  }

  /** Reads a fixed-size little-endian value at pos with one of DataView's getters. */
  private fixed<T>(size: number, what: string, get: (view: DataView, at: number) => T): T {
    this.need(size, what);
    const v = get(this.view, this.pos);
    this.pos += size;
    return v;
  }

  u8(what: string): number {
    return this.fixed(1, what, (v, at) => v.getUint8(at));
  }
  u32(what: string): number {
    return this.fixed(4, what, (v, at) => v.getUint32(at, true));
  }
  u64(what: string): bigint {
    return this.fixed(8, what, (v, at) => v.getBigUint64(at, true));
  }
  /** A u64 that must be a safe integer (lengths, counts, dims, offsets). */
  u64n(what: string): number {
    const v = this.u64(what);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new GgufFormatError(`${this.path}: ${what} at offset ${this.pos - 8} is implausibly large (${v})`);
    }
    return Number(v);
  }

  string(what: string): string {
    const at = this.pos;
    const len = this.u64(`length of ${what}`);
    if (len > BigInt(this.fileSize - this.pos)) {
      throw new GgufTruncatedError(
        `${this.path} is truncated: ${what} at offset ${at} has length ${len}, which runs past the end of the file (${this.fileSize} bytes)`,
      );
    }
    const n = Number(len);
    this.need(n, what);
    const s = utf8.decode(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }

  scalar(type: number, what: string): GgufValue {
    const fixed = FIXED_SCALARS[type as GgufValueType];
    if (fixed) return this.fixed(fixed.size, what, fixed.get);
    switch (type) {
      case GgufValueType.BOOL: {
        const b = this.u8(what);
        if (b > 1) throw new GgufFormatError(`${this.path}: ${what} at offset ${this.pos - 1} is a bool with value ${b}`);
        return b === 1;
      }
      case GgufValueType.STRING:
        return this.string(what);
      case GgufValueType.ARRAY:
        return this.array(what);
      default:
        throw new GgufFormatError(`${this.path}: ${what} has unknown value type ${type} (at offset ${this.pos - 4})`);
    }
  }

  valueType(what: string): GgufValueType {
    const t = this.u32(`value type of ${what}`);
    if (!isGgufValueType(t)) {
      throw new GgufFormatError(`${this.path}: ${what} has unknown value type ${t} (at offset ${this.pos - 4})`);
    }
    return t;
  }

  array(what: string): GgufArray {
    const itemType = this.valueType(`items of ${what}`);
    const countAt = this.pos;
    const count64 = this.u64(`item count of ${what}`);
    const remaining = this.fileSize - this.pos;
    // Smallest encoding per item: fixed size, 8 (string length), 12 (nested array header).
    const minItem = ggufValueTypeSize(itemType) ?? (itemType === GgufValueType.STRING ? 8 : 12);
    if (count64 * BigInt(minItem) > BigInt(remaining)) {
      throw new GgufTruncatedError(
        `${this.path} is truncated: ${what} at offset ${countAt} claims ${count64} items of ${ggufValueTypeName(itemType)}, which run past the end of the file (${this.fileSize} bytes)`,
      );
    }
    const count = Number(count64);
    const size = ggufValueTypeSize(itemType);
    if (size !== undefined) {
      this.need(count * size, what);
      const items = this.numericArray(itemType, count);
      this.pos += count * size;
      return { itemType, items };
    }
    if (itemType === GgufValueType.STRING) {
      const items = new Array<string>(count);
      for (let i = 0; i < count; i++) items[i] = this.string(`${what}[${i}]`);
      return { itemType, items };
    }
    const items = new Array<GgufArray>(count);
    for (let i = 0; i < count; i++) items[i] = this.array(`${what}[${i}]`);
    return { itemType, items };
  }

  private numericArray(itemType: GgufValueType, count: number): GgufArrayItems {
    if (itemType === GgufValueType.BOOL) {
      const out = new Array<boolean>(count);
      for (let i = 0; i < count; i++) {
        const b = this.buf[this.pos + i];
        if (b > 1) throw new GgufFormatError(`${this.path}: bool array item at offset ${this.pos + i} has value ${b}`);
        out[i] = b === 1;
      }
      return out;
    }
    const ArrayType = NUMERIC_ARRAYS[itemType]!;
    if (LITTLE_ENDIAN_HOST) {
      const start = this.buf.byteOffset + this.pos;
      return new ArrayType(this.buf.buffer.slice(start, start + count * ggufValueTypeSize(itemType)!) as ArrayBuffer);
    }
    // Big-endian host: element by element.
    const save = this.pos;
    const out = new ArrayType(count);
    for (let i = 0; i < count; i++) (out as unknown as unknown[])[i] = this.scalar(itemType, "array item");
    this.pos = save;
    return out;
  }
}

/** Size and little-endian DataView getter of each fixed-size numeric value type. */
const FIXED_SCALARS: Partial<Record<GgufValueType, { size: number; get: (view: DataView, at: number) => number | bigint }>> = {
  [GgufValueType.UINT8]: { size: 1, get: (v, at) => v.getUint8(at) },
  [GgufValueType.INT8]: { size: 1, get: (v, at) => v.getInt8(at) },
  [GgufValueType.UINT16]: { size: 2, get: (v, at) => v.getUint16(at, true) },
  [GgufValueType.INT16]: { size: 2, get: (v, at) => v.getInt16(at, true) },
  [GgufValueType.UINT32]: { size: 4, get: (v, at) => v.getUint32(at, true) },
  [GgufValueType.INT32]: { size: 4, get: (v, at) => v.getInt32(at, true) },
  [GgufValueType.FLOAT32]: { size: 4, get: (v, at) => v.getFloat32(at, true) },
  [GgufValueType.UINT64]: { size: 8, get: (v, at) => v.getBigUint64(at, true) },
  [GgufValueType.INT64]: { size: 8, get: (v, at) => v.getBigInt64(at, true) },
  [GgufValueType.FLOAT64]: { size: 8, get: (v, at) => v.getFloat64(at, true) },
};

/** The typed array that holds each numeric item type (BOOL is read item by item). */
const NUMERIC_ARRAYS: Partial<Record<GgufValueType, { new (length: number): GgufArrayItems; new (bytes: ArrayBuffer): GgufArrayItems }>> = {
  [GgufValueType.UINT8]: Uint8Array,
  [GgufValueType.INT8]: Int8Array,
  [GgufValueType.UINT16]: Uint16Array,
  [GgufValueType.INT16]: Int16Array,
  [GgufValueType.UINT32]: Uint32Array,
  [GgufValueType.INT32]: Int32Array,
  [GgufValueType.FLOAT32]: Float32Array,
  [GgufValueType.UINT64]: BigUint64Array,
  [GgufValueType.INT64]: BigInt64Array,
  [GgufValueType.FLOAT64]: Float64Array,
};

function describeStart(buf: Uint8Array): string {
  if (buf.length === 0) return "nothing (the file is empty)";
  const head = buf.subarray(0, Math.min(4, buf.length));
  const hex = Array.from(head, (b) => b.toString(16).padStart(2, "0")).join(" ");
  const printable = Array.from(head).every((b) => b >= 0x20 && b < 0x7f);
  return printable ? `"${String.fromCharCode(...head)}" (${hex})` : hex;
}

function parse(buf: Uint8Array, loaded: number, fileSize: number, path: string): GgufFile {
  if (loaded < 4 && loaded < fileSize) throw new NeedMore(4);
  const magic = buf.subarray(0, Math.min(4, loaded));
  if (magic.length < 4 || magic[0] !== 0x47 || magic[1] !== 0x47 || magic[2] !== 0x55 || magic[3] !== 0x46) {
    throw new GgufFormatError(`not a GGUF file: ${path} starts with ${describeStart(magic)}, expected "GGUF" (a llama.cpp model file)`);
  }
  const c = new Cursor(buf, loaded, fileSize, path);
  c.pos = 4;
  const version = c.u32("version");
  if (version !== 2 && version !== 3) {
    const hint =
      version === 1
        ? " (GGUF v1 is obsolete; re-convert the model with a current llama.cpp)"
        : (version & 0xffff) === 0 && version !== 0
          ? " (this looks like a big-endian GGUF file, which is not supported)"
          : "";
    throw new GgufFormatError(`${path}: unsupported GGUF version ${version}; Parley reads versions 2 and 3${hint}`);
  }
  const tensorCount = c.u64n("tensor count");
  const kvCount = c.u64n("metadata count");
  // Each KV is at least 8 (key length) + 4 (type) + 1 bytes; each tensor info at least 8 + 4 + 4 + 8.
  if (kvCount * 13 + tensorCount * 24 > fileSize - c.pos) {
    throw new GgufTruncatedError(
      `${path} is truncated: the header declares ${kvCount} metadata entries and ${tensorCount} tensors, which cannot fit in ${fileSize} bytes`,
    );
  }

  const metadata = new Map<string, GgufMetadataValue>();
  for (let i = 0; i < kvCount; i++) {
    const key = c.string(`metadata key #${i}`);
    const type = c.valueType(`metadata ${key}`);
    const value = c.scalar(type, `metadata ${key}`);
    if (metadata.has(key)) throw new GgufFormatError(`${path}: duplicate metadata key ${key}`);
    metadata.set(key, { type, value });
  }

  let alignment = GGUF_DEFAULT_ALIGNMENT;
  const alignEntry = metadata.get("general.alignment");
  if (alignEntry) {
    const a = alignEntry.value;
    if (alignEntry.type !== GgufValueType.UINT32 || typeof a !== "number" || a === 0 || (a & (a - 1)) !== 0) {
      throw new GgufFormatError(`${path}: general.alignment must be a non-zero power of two UINT32, got ${String(a)}`);
    }
    alignment = a;
  }

  interface RawTensor {
    name: string;
    dims: number[];
    type: number;
    relativeOffset: number;
  }
  const raw: RawTensor[] = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const name = c.string(`name of tensor #${i}`);
    if (names.has(name)) throw new GgufFormatError(`${path}: duplicate tensor name ${name}`);
    names.add(name);
    const nDims = c.u32(`dimension count of tensor ${name}`);
    if (nDims > GGUF_MAX_DIMS) {
      throw new GgufFormatError(`${path}: tensor ${name} has ${nDims} dimensions (at most ${GGUF_MAX_DIMS})`);
    }
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) dims.push(c.u64n(`dimension ${d} of tensor ${name}`));
    const type = c.u32(`type of tensor ${name}`);
    if (!ggmlTypeInfo(type)) {
      throw new GgufFormatError(`${path}: tensor ${name} has unknown or removed tensor type ${ggmlTypeName(type)}`);
    }
    const relativeOffset = c.u64n(`data offset of tensor ${name}`);
    if (relativeOffset % alignment !== 0) {
      throw new GgufFormatError(`${path}: tensor ${name}'s data offset ${relativeOffset} is not a multiple of the alignment ${alignment}`);
    }
    raw.push({ name, dims, type, relativeOffset });
  }

  const dataOffset = Math.ceil(c.pos / alignment) * alignment;
  const tensors: GgufTensorInfo[] = raw.map((t) => {
    let byteSize: number;
    try {
      byteSize = tensorByteSize(t.type, t.dims);
    } catch (e) {
      throw new GgufFormatError(`${path}: tensor ${t.name}: ${(e as Error).message}`, { cause: e });
    }
    const offset = dataOffset + t.relativeOffset;
    if (offset + byteSize > fileSize) {
      throw new GgufTruncatedError(
        `${path} is truncated: tensor ${t.name} (${ggmlTypeName(t.type)} [${t.dims.join(", ")}], ${byteSize} bytes at offset ${offset}) runs past the end of the file (${fileSize} bytes)`,
      );
    }
    return Object.freeze({
      name: t.name,
      dims: Object.freeze(t.dims),
      type: t.type,
      typeName: ggmlTypeName(t.type),
      nElements: tensorElementCount(t.dims),
      relativeOffset: t.relativeOffset,
      offset,
      byteSize,
    });
  });
  // Data regions must not overlap.
  const sorted = [...tensors].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1];
    if (prev.offset + prev.byteSize > sorted[i].offset) {
      throw new GgufFormatError(`${path}: the data of tensors ${prev.name} and ${sorted[i].name} overlap`);
    }
  }
  return new GgufFile(path, version, fileSize, alignment, dataOffset, metadata, tensors);
}

const INITIAL_READ = 2 * 1024 * 1024;

function nextSize(current: number, needed: number, fileSize: number): number {
  return Math.min(fileSize, Math.max(current * 2, needed + 64 * 1024));
}

function openError(path: string, e: unknown): FileAccessError {
  const code = (e as NodeJS.ErrnoException)?.code;
  const reason =
    code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : code === "EISDIR" ? "it is a folder" : String((e as Error)?.message ?? e);
  return new FileAccessError(path, reason, { cause: e });
}

/**
 * Parses the first `bytesRead` bytes of a read of `size` bytes from the file's start: the file, or the size of
 * the larger prefix to read next.
 */
function parsePrefix(buf: Uint8Array, size: number, bytesRead: number, fileSize: number, path: string): GgufFile | number {
  try {
    return parse(buf, bytesRead, fileSize, path);
  } catch (e) {
    if (!(e instanceof NeedMore)) throw e;
    if (bytesRead < size) throw new GgufTruncatedError(`${path} could not be read completely (file changed?)`);
    return nextSize(size, e.bytes, fileSize);
  }
}

/** Reads a GGUF file's header (metadata and tensor infos). */
export async function readGguf(path: string): Promise<GgufFile> {
  const fh = await fsp.open(path, "r").catch((e: unknown) => {
    throw openError(path, e);
  });
  try {
    const fileSize = (await fh.stat()).size;
    for (let size = Math.min(fileSize, INITIAL_READ); ;) {
      const buf = new Uint8Array(size);
      const { bytesRead } = await fh.read(buf, 0, size, 0);
      const parsed = parsePrefix(buf, size, bytesRead, fileSize, path);
      if (parsed instanceof GgufFile) return parsed;
      size = parsed;
    }
  } finally {
    await fh.close();
  }
}

/** Synchronous variant of readGguf. */
export function readGgufSync(path: string): GgufFile {
  let fd: number;
  try {
    fd = fs.openSync(path, "r");
  } catch (e) {
    throw openError(path, e);
  }
  try {
    const fileSize = fs.fstatSync(fd).size;
    for (let size = Math.min(fileSize, INITIAL_READ); ;) {
      const buf = new Uint8Array(size);
      const bytesRead = fs.readSync(fd, buf, 0, size, 0);
      const parsed = parsePrefix(buf, size, bytesRead, fileSize, path);
      if (parsed instanceof GgufFile) return parsed;
      size = parsed;
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** Parses a GGUF header held in memory (the whole file, or at least its header). */
export function parseGgufBuffer(buf: Uint8Array, name = "<buffer>", fileSize = buf.length): GgufFile {
  try {
    return parse(buf, buf.length, fileSize, name);
  } catch (e) {
    if (e instanceof NeedMore) throw new GgufTruncatedError(`${name}: the buffer ends before the GGUF header does`);
    throw e;
  }
}

/** The tensor given, or the one of that name, which `file` must hold. */
function tensorOf(file: GgufFile, tensor: GgufTensorInfo | string): GgufTensorInfo {
  const t = typeof tensor === "string" ? file.tensor(tensor) : tensor;
  if (!t) throw new GgufFormatError(`${file.path} has no tensor named ${String(tensor)}`);
  return t;
}

/** Reads one tensor's raw bytes from the file. */
export async function readTensorData(file: GgufFile, tensor: GgufTensorInfo | string): Promise<Uint8Array> {
  const t = tensorOf(file, tensor);
  const buf = new Uint8Array(t.byteSize);
  const fh = await fsp.open(file.path, "r");
  try {
    for (let done = 0; done < t.byteSize;) {
      const { bytesRead } = await fh.read(buf, done, t.byteSize - done, t.offset + done);
      done += checkTensorRead(file, t, bytesRead);
    }
  } finally {
    await fh.close();
  }
  return buf;
}

/** Synchronous variant of readTensorData. */
export function readTensorDataSync(file: GgufFile, tensor: GgufTensorInfo | string): Uint8Array {
  const t = tensorOf(file, tensor);
  const buf = new Uint8Array(t.byteSize);
  const fd = fs.openSync(file.path, "r");
  try {
    for (let done = 0; done < t.byteSize;) {
      done += checkTensorRead(file, t, fs.readSync(fd, buf, done, t.byteSize - done, t.offset + done));
    }
  } finally {
    fs.closeSync(fd);
  }
  return buf;
}

/** The byte count of one read of a tensor's data; a read of nothing means the file ends early. */
function checkTensorRead(file: GgufFile, t: GgufTensorInfo, bytesRead: number): number {
  if (bytesRead === 0) throw new GgufTruncatedError(`${file.path} is truncated: tensor ${t.name}'s data ends early (file changed?)`);
  return bytesRead;
}
