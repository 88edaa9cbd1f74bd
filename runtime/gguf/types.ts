// GGML tensor types and GGUF metadata value types: ids, names, block layouts and byte sizes.

import { GgufFormatError } from "../errors.js";

/** GGML tensor type ids (enum ggml_type). Only some of them can be run; the rest are named for messages. */
export const GgmlType = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q4_1: 3,
  Q5_0: 6,
  Q5_1: 7,
  Q8_0: 8,
  Q8_1: 9,
  Q2_K: 10,
  Q3_K: 11,
  Q4_K: 12,
  Q5_K: 13,
  Q6_K: 14,
  Q8_K: 15,
  IQ2_XXS: 16,
  IQ2_XS: 17,
  IQ3_XXS: 18,
  IQ1_S: 19,
  IQ4_NL: 20,
  IQ3_S: 21,
  IQ2_S: 22,
  IQ4_XS: 23,
  I8: 24,
  I16: 25,
  I32: 26,
  I64: 27,
  F64: 28,
  IQ1_M: 29,
  BF16: 30,
  TQ1_0: 34,
  TQ2_0: 35,
  MXFP4: 39,
} as const;
export type GgmlType = (typeof GgmlType)[keyof typeof GgmlType];

export interface GgmlTypeInfo {
  readonly id: number;
  readonly name: string;
  /** Elements per block (1 for plain scalar types). */
  readonly blockSize: number;
  /** Bytes per block. */
  readonly typeSize: number;
}

const TYPE_LAYOUT: ReadonlyArray<readonly [keyof typeof GgmlType, number, number]> = [
  ["F32", 1, 4],
  ["F16", 1, 2],
  ["Q4_0", 32, 18],
  ["Q4_1", 32, 20],
  ["Q5_0", 32, 22],
  ["Q5_1", 32, 24],
  ["Q8_0", 32, 34],
  ["Q8_1", 32, 36],
  ["Q2_K", 256, 84],
  ["Q3_K", 256, 110],
  ["Q4_K", 256, 144],
  ["Q5_K", 256, 176],
  ["Q6_K", 256, 210],
  ["Q8_K", 256, 292],
  ["IQ2_XXS", 256, 66],
  ["IQ2_XS", 256, 74],
  ["IQ3_XXS", 256, 98],
  ["IQ1_S", 256, 50],
  ["IQ4_NL", 32, 18],
  ["IQ3_S", 256, 110],
  ["IQ2_S", 256, 82],
  ["IQ4_XS", 256, 136],
  ["I8", 1, 1],
  ["I16", 1, 2],
  ["I32", 1, 4],
  ["I64", 1, 8],
  ["F64", 1, 8],
  ["IQ1_M", 256, 56],
  ["BF16", 1, 2],
  ["TQ1_0", 256, 54],
  ["TQ2_0", 256, 66],
  ["MXFP4", 32, 17],
];

const TYPE_INFO = new Map<number, GgmlTypeInfo>(
  TYPE_LAYOUT.map(([name, blockSize, typeSize]) => {
    const id = GgmlType[name];
    return [id, Object.freeze({ id, name, blockSize, typeSize })];
  }),
);

/** Ids that ggml once used and has since removed (files carrying them cannot be read by current llama.cpp). */
const REMOVED_TYPES = new Map<number, string>([
  [4, "Q4_2 (removed)"],
  [5, "Q4_3 (removed)"],
  [31, "Q4_0_4_4 (removed)"],
  [32, "Q4_0_4_8 (removed)"],
  [33, "Q4_0_8_8 (removed)"],
  [36, "IQ4_NL_4_4 (removed)"],
  [37, "IQ4_NL_4_8 (removed)"],
  [38, "IQ4_NL_8_8 (removed)"],
]);

/** The tensor types the Parley runtime can run. */
export const SUPPORTED_TENSOR_TYPES: readonly number[] = [
  GgmlType.F32,
  GgmlType.F16,
  GgmlType.BF16,
  GgmlType.Q8_0,
  GgmlType.Q4_0,
  GgmlType.Q4_K,
  GgmlType.Q5_K,
  GgmlType.Q6_K,
];

export function isSupportedTensorType(type: number): boolean {
  return SUPPORTED_TENSOR_TYPES.includes(type);
}

/** Layout of a known tensor type, or undefined for an unknown id. */
export function ggmlTypeInfo(type: number): GgmlTypeInfo | undefined {
  return TYPE_INFO.get(type);
}

/** "Q4_K", "F16", … ; unknown ids read "type 99". */
export function ggmlTypeName(type: number): string {
  return TYPE_INFO.get(type)?.name ?? REMOVED_TYPES.get(type) ?? `type ${type}`;
}

/** Type id for a name such as "q4_0" or "BF16" (case-insensitive); undefined when unknown. */
export function ggmlTypeFromName(name: string): number | undefined {
  const upper = name.toUpperCase();
  for (const info of TYPE_INFO.values()) if (info.name === upper) return info.id;
  return undefined;
}

/** Number of elements of a tensor with these (ggml-order) dimensions. */
export function tensorElementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/**
 * Bytes a tensor of this type and shape occupies. Rows (ne0) must be a whole number of blocks,
 * as ggml requires; throws GgufFormatError otherwise or for unknown types.
 */
export function tensorByteSize(type: number, dims: readonly number[]): number {
  const info = TYPE_INFO.get(type);
  if (!info) throw new GgufFormatError(`unknown tensor type ${ggmlTypeName(type)}: cannot compute its size`);
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0) throw new GgufFormatError(`invalid tensor dimension ${d}`);
  }
  const ne0 = dims.length > 0 ? dims[0] : 1;
  if (ne0 % info.blockSize !== 0) {
    throw new GgufFormatError(`a ${info.name} tensor's first dimension must be a multiple of ${info.blockSize}, got ${ne0}`);
  }
  const size = (tensorElementCount(dims) / info.blockSize) * info.typeSize;
  if (!Number.isSafeInteger(size)) throw new GgufFormatError(`tensor size overflows: [${dims.join(", ")}]`);
  return size;
}

/** GGUF metadata value type ids (enum gguf_type). */
export const GgufValueType = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;
export type GgufValueType = (typeof GgufValueType)[keyof typeof GgufValueType];

const VALUE_TYPE_NAMES: readonly string[] = [
  "UINT8",
  "INT8",
  "UINT16",
  "INT16",
  "UINT32",
  "INT32",
  "FLOAT32",
  "BOOL",
  "STRING",
  "ARRAY",
  "UINT64",
  "INT64",
  "FLOAT64",
];

export function isGgufValueType(t: number): t is GgufValueType {
  return Number.isInteger(t) && t >= 0 && t <= 12;
}

export function ggufValueTypeName(t: number): string {
  return VALUE_TYPE_NAMES[t] ?? `value type ${t}`;
}

/** Byte size of a fixed-size value type; undefined for STRING and ARRAY. */
export function ggufValueTypeSize(t: number): number | undefined {
  switch (t) {
    case GgufValueType.UINT8:
    case GgufValueType.INT8:
    case GgufValueType.BOOL:
      return 1;
    case GgufValueType.UINT16:
    case GgufValueType.INT16:
      return 2;
    case GgufValueType.UINT32:
    case GgufValueType.INT32:
    case GgufValueType.FLOAT32:
      return 4;
    case GgufValueType.UINT64:
    case GgufValueType.INT64:
    case GgufValueType.FLOAT64:
      return 8;
    default:
      return undefined;
  }
}

/** An array value: numeric item types are held in the matching typed array. */
export type GgufArrayItems =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array
  | BigUint64Array
  | BigInt64Array
  | boolean[]
  | string[]
  | GgufArray[];

export interface GgufArray {
  readonly itemType: GgufValueType;
  readonly items: GgufArrayItems;
}

/** A metadata value: 64-bit integers are bigints, other numbers are numbers. */
export type GgufValue = number | bigint | boolean | string | GgufArray;

/** A typed metadata entry, as read and as written. */
export interface GgufMetadataValue {
  readonly type: GgufValueType;
  readonly value: GgufValue;
}

/** Builders for typed metadata values (for the writer). */
export const gguf = {
  u8: (v: number): GgufMetadataValue => ({ type: GgufValueType.UINT8, value: v }),
  i8: (v: number): GgufMetadataValue => ({ type: GgufValueType.INT8, value: v }),
  u16: (v: number): GgufMetadataValue => ({ type: GgufValueType.UINT16, value: v }),
  i16: (v: number): GgufMetadataValue => ({ type: GgufValueType.INT16, value: v }),
  u32: (v: number): GgufMetadataValue => ({ type: GgufValueType.UINT32, value: v }),
  i32: (v: number): GgufMetadataValue => ({ type: GgufValueType.INT32, value: v }),
  f32: (v: number): GgufMetadataValue => ({ type: GgufValueType.FLOAT32, value: v }),
  f64: (v: number): GgufMetadataValue => ({ type: GgufValueType.FLOAT64, value: v }),
  u64: (v: bigint | number): GgufMetadataValue => ({ type: GgufValueType.UINT64, value: BigInt(v) }),
  i64: (v: bigint | number): GgufMetadataValue => ({ type: GgufValueType.INT64, value: BigInt(v) }),
  bool: (v: boolean): GgufMetadataValue => ({ type: GgufValueType.BOOL, value: v }),
  string: (v: string): GgufMetadataValue => ({ type: GgufValueType.STRING, value: v }),
  array: (itemType: GgufValueType, items: GgufArrayItems): GgufMetadataValue => ({
    type: GgufValueType.ARRAY,
    value: { itemType, items },
  }),
} as const;

/** ggml's `enum llama_ftype` values that Parley writes and names. */
export const LlamaFileType = {
  ALL_F32: 0,
  MOSTLY_F16: 1,
  MOSTLY_Q4_0: 2,
  MOSTLY_Q4_1: 3,
  MOSTLY_Q8_0: 7,
  MOSTLY_Q5_0: 8,
  MOSTLY_Q5_1: 9,
  MOSTLY_Q2_K: 10,
  MOSTLY_Q3_K_S: 11,
  MOSTLY_Q3_K_M: 12,
  MOSTLY_Q3_K_L: 13,
  MOSTLY_Q4_K_S: 14,
  MOSTLY_Q4_K_M: 15,
  MOSTLY_Q5_K_S: 16,
  MOSTLY_Q5_K_M: 17,
  MOSTLY_Q6_K: 18,
  MOSTLY_BF16: 32,
} as const;

export function llamaFileTypeName(ftype: number): string {
  for (const [name, id] of Object.entries(LlamaFileType)) if (id === ftype) return name;
  return `file type ${ftype}`;
}
