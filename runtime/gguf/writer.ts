// GGUF v3 writer: metadata of every value type, tensor infos, tensor data aligned to general.alignment and
// streamed to disk one tensor at a time; written to `out.tmp` and renamed into place.

import * as fsp from "node:fs/promises";
import { GgufFormatError, InvalidArgumentError } from "../errors.js";
import { GGUF_DEFAULT_ALIGNMENT, GGUF_MAX_DIMS } from "./reader.js";
import {
  GgufValueType,
  ggmlTypeInfo,
  ggmlTypeName,
  ggufValueTypeName,
  tensorByteSize,
  type GgufArray,
  type GgufMetadataValue,
  type GgufValue,
} from "./types.js";

export interface GgufWriterTensor {
  readonly name: string;
  /** ggml order: ne0 first. */
  readonly dims: readonly number[];
  readonly type: number;
  /** The tensor's bytes, or a function producing them when the writer reaches this tensor (so only one
   *  tensor is in memory at a time). Must be exactly tensorByteSize(type, dims) bytes. */
  readonly data: Uint8Array | (() => Uint8Array | Promise<Uint8Array>);
}

export interface GgufWriteOptions {
  /** Metadata in file order. A Map (e.g. GgufFile.metadata) or [key, value] pairs. */
  readonly metadata: ReadonlyMap<string, GgufMetadataValue> | Iterable<readonly [string, GgufMetadataValue]>;
  readonly tensors: readonly GgufWriterTensor[];
  /** Called after each tensor is written. */
  readonly onProgress?: (p: { tensorsDone: number; tensorCount: number; bytesDone: number; bytesTotal: number }) => void;
}

const enc = new TextEncoder();

/** Growable little-endian byte buffer for the header. */
class ByteSink {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.length + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  /** Appends a fixed-size value with one of DataView's setters (little-endian where the size has a byte order). */
  private put(size: number, set: (view: DataView, at: number) => void): void {
    this.reserve(size);
    set(this.view, this.length);
    this.length += size;
  }
  u8(v: number): void {
    this.put(1, (d, at) => d.setUint8(at, v));
  }
  i8(v: number): void {
    this.put(1, (d, at) => d.setInt8(at, v));
  }
  u16(v: number): void {
    this.put(2, (d, at) => d.setUint16(at, v, true));
  }
  i16(v: number): void {
    this.put(2, (d, at) => d.setInt16(at, v, true));
  }
  u32(v: number): void {
    this.put(4, (d, at) => d.setUint32(at, v, true));
  }
  i32(v: number): void {
    this.put(4, (d, at) => d.setInt32(at, v, true));
  }
  f32(v: number): void {
    this.put(4, (d, at) => d.setFloat32(at, v, true));
  }
  f64(v: number): void {
    this.put(8, (d, at) => d.setFloat64(at, v, true));
  }
  u64(v: bigint): void {
    this.put(8, (d, at) => d.setBigUint64(at, v, true));
  }
  i64(v: bigint): void {
    this.put(8, (d, at) => d.setBigInt64(at, v, true));
  }
  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  string(s: string): void {
    const b = enc.encode(s);
    this.u64(BigInt(b.length));
    this.bytes(b);
  }
  padTo(alignment: number): void {
    const pad = (alignment - (this.length % alignment)) % alignment;
    this.reserve(pad);
    this.buf.fill(0, this.length, this.length + pad);
    this.length += pad;
  }
  result(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

function checkInt(key: string, v: GgufValue, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new InvalidArgumentError(`metadata ${key}: ${String(v)} is not an integer in [${min}, ${max}]`);
  }
  return v;
}

function checkBig(key: string, v: GgufValue, signed: boolean): bigint {
  const b = typeof v === "bigint" ? v : typeof v === "number" && Number.isInteger(v) ? BigInt(v) : undefined;
  if (b === undefined) throw new InvalidArgumentError(`metadata ${key}: ${String(v)} is not an integer`);
  const ok = signed ? b >= -(1n << 63n) && b < 1n << 63n : b >= 0n && b < 1n << 64n;
  if (!ok) throw new InvalidArgumentError(`metadata ${key}: ${b} does not fit ${signed ? "INT64" : "UINT64"}`);
  return b;
}

function writeScalar(sink: ByteSink, key: string, type: number, v: GgufValue): void {
  switch (type) {
    case GgufValueType.UINT8:
      return sink.u8(checkInt(key, v, 0, 0xff));
    case GgufValueType.INT8:
      return sink.i8(checkInt(key, v, -0x80, 0x7f));
    case GgufValueType.UINT16:
      return sink.u16(checkInt(key, v, 0, 0xffff));
    case GgufValueType.INT16:
      return sink.i16(checkInt(key, v, -0x8000, 0x7fff));
    case GgufValueType.UINT32:
      return sink.u32(checkInt(key, v, 0, 0xffffffff));
    case GgufValueType.INT32:
      return sink.i32(checkInt(key, v, -0x80000000, 0x7fffffff));
    case GgufValueType.FLOAT32:
    case GgufValueType.FLOAT64:
      if (typeof v !== "number") throw new InvalidArgumentError(`metadata ${key}: ${String(v)} is not a number`);
      return type === GgufValueType.FLOAT32 ? sink.f32(v) : sink.f64(v);
    case GgufValueType.BOOL:
      if (typeof v !== "boolean") throw new InvalidArgumentError(`metadata ${key}: ${String(v)} is not a bool`);
      return sink.u8(v ? 1 : 0);
    case GgufValueType.STRING:
      if (typeof v !== "string") throw new InvalidArgumentError(`metadata ${key}: ${String(v)} is not a string`);
      return sink.string(v);
    case GgufValueType.UINT64:
      return sink.u64(checkBig(key, v, false));
    case GgufValueType.INT64:
      return sink.i64(checkBig(key, v, true));
    case GgufValueType.ARRAY:
      return writeArray(sink, key, v);
    default:
      throw new InvalidArgumentError(`metadata ${key}: unknown value type ${type}`);
  }
}

function writeArray(sink: ByteSink, key: string, v: GgufValue): void {
  if (typeof v !== "object" || v === null || !("itemType" in v)) {
    throw new InvalidArgumentError(`metadata ${key}: ARRAY value must be { itemType, items }`);
  }
  const arr = v as GgufArray;
  sink.u32(arr.itemType);
  const items = arr.items as ArrayLike<GgufValue>;
  sink.u64(BigInt(items.length));
  // Fast paths for typed arrays whose element layout matches the item type.
  if (ArrayBuffer.isView(items)) {
    const matches =
      (arr.itemType === GgufValueType.FLOAT32 && items instanceof Float32Array) ||
      (arr.itemType === GgufValueType.INT32 && items instanceof Int32Array) ||
      (arr.itemType === GgufValueType.UINT32 && items instanceof Uint32Array) ||
      (arr.itemType === GgufValueType.UINT8 && items instanceof Uint8Array) ||
      (arr.itemType === GgufValueType.INT8 && items instanceof Int8Array) ||
      (arr.itemType === GgufValueType.UINT16 && items instanceof Uint16Array) ||
      (arr.itemType === GgufValueType.INT16 && items instanceof Int16Array) ||
      (arr.itemType === GgufValueType.FLOAT64 && items instanceof Float64Array) ||
      (arr.itemType === GgufValueType.UINT64 && items instanceof BigUint64Array) ||
      (arr.itemType === GgufValueType.INT64 && items instanceof BigInt64Array);
    if (matches && new Uint8Array(new Uint16Array([1]).buffer)[0] === 1) {
      const view = items as unknown as ArrayBufferView;
      sink.bytes(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
      return;
    }
  }
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    writeScalar(sink, `${key}[${i}]`, arr.itemType, item);
  }
}

function checkTensor(t: GgufWriterTensor): number {
  if (!t.name) throw new InvalidArgumentError("tensor name must not be empty");
  if (t.dims.length > GGUF_MAX_DIMS) {
    throw new InvalidArgumentError(`tensor ${t.name} has ${t.dims.length} dimensions (at most ${GGUF_MAX_DIMS})`);
  }
  if (!ggmlTypeInfo(t.type)) throw new InvalidArgumentError(`tensor ${t.name}: unknown tensor type ${ggmlTypeName(t.type)}`);
  try {
    return tensorByteSize(t.type, t.dims);
  } catch (e) {
    if (e instanceof GgufFormatError) throw new InvalidArgumentError(`tensor ${t.name}: ${e.message}`);
    throw e;
  }
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

/** Builds the header (everything before the tensor data, padding included). Exposed for tests. */
export function encodeGgufHeader(
  metadata: GgufWriteOptions["metadata"],
  tensors: readonly GgufWriterTensor[],
): { header: Uint8Array; alignment: number; offsets: number[]; sizes: number[]; dataSize: number } {
  const entries = [...(metadata instanceof Map ? metadata.entries() : (metadata as Iterable<readonly [string, GgufMetadataValue]>))];
  let alignment = GGUF_DEFAULT_ALIGNMENT;
  const keys = new Set<string>();
  for (const [key, mv] of entries) {
    if (keys.has(key)) throw new InvalidArgumentError(`duplicate metadata key ${key}`);
    keys.add(key);
    if (key === "general.alignment") {
      const a = mv.value;
      if (mv.type !== GgufValueType.UINT32 || typeof a !== "number" || a === 0 || (a & (a - 1)) !== 0) {
        throw new InvalidArgumentError(`general.alignment must be a non-zero power of two UINT32`);
      }
      alignment = a;
    }
  }
  const names = new Set<string>();
  const sizes: number[] = [];
  const offsets: number[] = [];
  let dataSize = 0;
  for (const t of tensors) {
    if (names.has(t.name)) throw new InvalidArgumentError(`duplicate tensor name ${t.name}`);
    names.add(t.name);
    const size = checkTensor(t);
    offsets.push(dataSize);
    sizes.push(size);
    dataSize = alignUp(dataSize + size, alignment);
  }

  const sink = new ByteSink();
  sink.bytes(enc.encode("GGUF"));
  sink.u32(3);
  sink.u64(BigInt(tensors.length));
  sink.u64(BigInt(entries.length));
  for (const [key, mv] of entries) {
    sink.string(key);
    if (mv.type < 0 || mv.type > 12) throw new InvalidArgumentError(`metadata ${key}: unknown value type ${mv.type}`);
    sink.u32(mv.type);
    try {
      writeScalar(sink, key, mv.type, mv.value);
    } catch (e) {
      if (e instanceof InvalidArgumentError) throw e;
      throw new InvalidArgumentError(`metadata ${key} (${ggufValueTypeName(mv.type)}): ${(e as Error).message}`);
    }
  }
  tensors.forEach((t, i) => {
    sink.string(t.name);
    sink.u32(t.dims.length);
    for (const d of t.dims) sink.u64(BigInt(d));
    sink.u32(t.type);
    sink.u64(BigInt(offsets[i]));
  });
  sink.padTo(alignment);
  return { header: sink.result(), alignment, offsets, sizes, dataSize };
}

/**
 * Writes a GGUF v3 file. Tensor data is streamed: each tensor's `data` function is called when the writer
 * reaches it and its bytes are released after writing. The file appears at `out` only once complete.
 */
export async function writeGguf(out: string, options: GgufWriteOptions): Promise<void> {
  const { header, alignment, sizes, dataSize } = encodeGgufHeader(options.metadata, options.tensors);
  const tmp = out + ".tmp";
  const fh = await fsp.open(tmp, "w");
  let ok = false;
  try {
    let pos = 0;
    const write = async (b: Uint8Array): Promise<void> => {
      let done = 0;
      while (done < b.length) {
        const { bytesWritten } = await fh.write(b, done, b.length - done, pos + done);
        done += bytesWritten;
      }
      pos += b.length;
    };
    await write(header);
    const pad = new Uint8Array(alignment);
    let dataDone = 0;
    const tensors = options.tensors;
    for (let i = 0; i < tensors.length; i++) {
      const t = tensors[i];
      const bytes = typeof t.data === "function" ? await t.data() : t.data;
      if (!(bytes instanceof Uint8Array) || bytes.length !== sizes[i]) {
        throw new InvalidArgumentError(
          `tensor ${t.name} (${ggmlTypeName(t.type)} [${t.dims.join(", ")}]) must have ${sizes[i]} bytes of data, got ${bytes instanceof Uint8Array ? bytes.length : typeof bytes}`,
        );
      }
      await write(bytes);
      const padLen = (alignment - (bytes.length % alignment)) % alignment;
      if (padLen > 0) await write(pad.subarray(0, padLen));
      dataDone += bytes.length + padLen;
      options.onProgress?.({
        tensorsDone: i + 1,
        tensorCount: tensors.length,
        bytesDone: dataDone,
        bytesTotal: dataSize,
      });
    }
    await fh.sync();
    ok = true;
  } finally {
    await fh.close();
    if (!ok) await fsp.rm(tmp, { force: true });
  }
  await fsp.rename(tmp, out);
}
