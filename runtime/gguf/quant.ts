// Number formats of GGML tensors: f16 and bf16 conversions, and Q8_0 / Q4_0 quantization as ggml's reference
// CPU code defines it (float32 arithmetic emulated with Math.fround so results are bit-identical).

import { InvalidArgumentError, UnsupportedTensorTypeError } from "../errors.js";
import { GgmlType, ggmlTypeName, tensorByteSize } from "./types.js";

export const QK4_0 = 32;
export const QK8_0 = 32;
/** Bytes per block: f16 scale + 16 bytes of nibbles. */
export const Q4_0_BLOCK_BYTES = 18;
/** Bytes per block: f16 scale + 32 int8. */
export const Q8_0_BLOCK_BYTES = 34;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** Bits of a float32, given as the bits of its IEEE binary32 encoding, converted to binary16 (round to nearest even). */
export function f32BitsToF16(u: number): number {
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  const mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0); // inf / quiet NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow
  if (e <= 0) {
    // Subnormal half (or zero).
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e; // 14..24
    let h = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (h & 1) !== 0)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) !== 0)) h++; // may carry into the exponent, up to inf: correct
  return sign | h;
}

/** float → IEEE binary16 bits, round to nearest even (the value is first rounded to float32, as ggml's input is). */
export function fp32ToFp16(x: number): number {
  scratchF32[0] = x;
  return f32BitsToF16(scratchU32[0]);
}

let f16Table: Float32Array | undefined;

/** The 65536 binary16 values as float32 (exact). */
export function fp16Table(): Float32Array {
  if (!f16Table) {
    const t = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) t[h] = fp16BitsToNumber(h);
    f16Table = t;
  }
  return f16Table;
}

function fp16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** IEEE binary16 bits → number (exact). */
export function fp16ToFp32(h: number): number {
  return fp16Table()[h & 0xffff];
}

/** Bits of a float32 → bfloat16 bits, as ggml_compute_fp32_to_bf16: round to nearest even, NaN made quiet. */
export function f32BitsToBf16(u: number): number {
  if ((u & 0x7fffffff) >>> 0 > 0x7f800000) return ((u >>> 16) | 64) & 0xffff;
  return ((u + (0x7fff + ((u >>> 16) & 1))) >>> 16) & 0xffff;
}

/** float → bfloat16 bits (the value is first rounded to float32). */
export function fp32ToBf16(x: number): number {
  scratchF32[0] = x;
  return f32BitsToBf16(scratchU32[0]);
}

/** bfloat16 bits → number (exact). */
export function bf16ToFp32(h: number): number {
  scratchU32[0] = (h & 0xffff) << 16;
  return scratchF32[0];
}

function u16Bytes(a: Uint16Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const out = new Uint8Array(a.length * 2);
  for (let i = 0; i < a.length; i++) {
    out[2 * i] = a[i] & 0xff;
    out[2 * i + 1] = a[i] >>> 8;
  }
  return out;
}

function readU16(b: Uint8Array, i: number): number {
  return b[i] | (b[i + 1] << 8);
}

function checkBlocks(n: number, qk: number, what: string): void {
  if (n % qk !== 0) throw new InvalidArgumentError(`${what}: ${n} elements is not a multiple of the block size ${qk}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Encoders (float32 values → tensor bytes)

export function encodeF32(src: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(src.buffer.slice(src.byteOffset, src.byteOffset + src.byteLength));
  const out = new Uint8Array(src.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < src.length; i++) dv.setFloat32(4 * i, src[i], true);
  return out;
}

export function encodeF16(src: Float32Array): Uint8Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f32BitsToF16(bits[i]);
  return u16Bytes(out);
}

export function encodeBf16(src: Float32Array): Uint8Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f32BitsToBf16(bits[i]);
  return u16Bytes(out);
}

/**
 * Q8_0 (ggml quantize_row_q8_0_ref): per 32 values, d = amax / 127, q = roundf(x * (1/d)),
 * stored as f16 d followed by 32 int8.
 */
export function quantizeQ8_0(src: Float32Array): Uint8Array {
  const n = src.length;
  checkBlocks(n, QK8_0, "Q8_0");
  const nb = n / QK8_0;
  const out = new Uint8Array(nb * Q8_0_BLOCK_BYTES);
  const fround = Math.fround;
  for (let b = 0; b < nb; b++) {
    const base = b * QK8_0;
    let amax = 0;
    for (let j = 0; j < QK8_0; j++) {
      const a = Math.abs(src[base + j]);
      if (a > amax) amax = a;
    }
    const d = fround(amax / 127);
    const id = d !== 0 ? fround(1 / d) : 0;
    const h = fp32ToFp16(d);
    const o = b * Q8_0_BLOCK_BYTES;
    out[o] = h & 0xff;
    out[o + 1] = h >>> 8;
    for (let j = 0; j < QK8_0; j++) {
      const x0 = fround(src[base + j] * id);
      // roundf: half away from zero
      const q = x0 < 0 ? -Math.round(-x0) : Math.round(x0);
      out[o + 2 + j] = q & 0xff;
    }
  }
  return out;
}

/**
 * Q4_0 (ggml quantize_row_q4_0_ref): per 32 values, take the value of largest magnitude `max` (sign kept),
 * d = max / -8, q = min(15, (int8)(x * (1/d) + 8.5)); byte j holds element j (low nibble) and j+16 (high).
 */
export function quantizeQ4_0(src: Float32Array): Uint8Array {
  const n = src.length;
  checkBlocks(n, QK4_0, "Q4_0");
  const nb = n / QK4_0;
  const out = new Uint8Array(nb * Q4_0_BLOCK_BYTES);
  const fround = Math.fround;
  for (let b = 0; b < nb; b++) {
    const base = b * QK4_0;
    let amax = 0;
    let max = 0;
    for (let j = 0; j < QK4_0; j++) {
      const v = src[base + j];
      const a = Math.abs(v);
      if (amax < a) {
        amax = a;
        max = v;
      }
    }
    const d = fround(max / -8);
    const id = d !== 0 ? fround(1 / d) : 0;
    const h = fp32ToFp16(d);
    const o = b * Q4_0_BLOCK_BYTES;
    out[o] = h & 0xff;
    out[o + 1] = h >>> 8;
    for (let j = 0; j < 16; j++) {
      const x0 = fround(src[base + j] * id);
      const x1 = fround(src[base + 16 + j] * id);
      const xi0 = Math.min(15, Math.trunc(fround(x0 + 8.5)));
      const xi1 = Math.min(15, Math.trunc(fround(x1 + 8.5)));
      out[o + 2 + j] = (xi0 & 0xf) | ((xi1 & 0xf) << 4);
    }
  }
  return out;
}

/** Encodes float32 values as tensor bytes of the given type (F32, F16, BF16, Q8_0, Q4_0). */
export function quantize(type: number, src: Float32Array): Uint8Array {
  switch (type) {
    case GgmlType.F32:
      return encodeF32(src);
    case GgmlType.F16:
      return encodeF16(src);
    case GgmlType.BF16:
      return encodeBf16(src);
    case GgmlType.Q8_0:
      return quantizeQ8_0(src);
    case GgmlType.Q4_0:
      return quantizeQ4_0(src);
    default:
      throw new UnsupportedTensorTypeError(`cannot encode ${ggmlTypeName(type)} (supported: F32, F16, BF16, Q8_0, Q4_0)`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Decoders (tensor bytes → values). `out` may be a Float32Array or Float64Array; values are exact in both.

type FloatOut = Float32Array | Float64Array;

export function dequantizeF32(src: Uint8Array, out: FloatOut): void {
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = dv.getFloat32(4 * i, true);
}

export function dequantizeF16(src: Uint8Array, out: FloatOut): void {
  const t = fp16Table();
  for (let i = 0; i < out.length; i++) out[i] = t[readU16(src, 2 * i)];
}

export function dequantizeBf16(src: Uint8Array, out: FloatOut): void {
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < out.length; i++) {
    u[0] = readU16(src, 2 * i) << 16;
    out[i] = f[0];
  }
}

export function dequantizeQ8_0(src: Uint8Array, out: FloatOut): void {
  const t = fp16Table();
  const nb = out.length / QK8_0;
  for (let b = 0; b < nb; b++) {
    const o = b * Q8_0_BLOCK_BYTES;
    const d = t[readU16(src, o)];
    const base = b * QK8_0;
    for (let j = 0; j < QK8_0; j++) out[base + j] = ((src[o + 2 + j] << 24) >> 24) * d;
  }
}

export function dequantizeQ4_0(src: Uint8Array, out: FloatOut): void {
  const t = fp16Table();
  const nb = out.length / QK4_0;
  for (let b = 0; b < nb; b++) {
    const o = b * Q4_0_BLOCK_BYTES;
    const d = t[readU16(src, o)];
    const base = b * QK4_0;
    for (let j = 0; j < 16; j++) {
      const byte = src[o + 2 + j];
      out[base + j] = ((byte & 0xf) - 8) * d;
      out[base + 16 + j] = ((byte >>> 4) - 8) * d;
    }
  }
}

/** Decodes `nElements` values of the given type into `out` (allocated as Float32Array when omitted). */
export function dequantize(type: number, src: Uint8Array, nElements: number, out?: FloatOut): FloatOut {
  const dst = out ?? new Float32Array(nElements);
  if (dst.length !== nElements) throw new InvalidArgumentError(`output has ${dst.length} elements, expected ${nElements}`);
  const needed = tensorByteSize(type, [nElements]);
  if (src.length < needed) {
    throw new InvalidArgumentError(`${ggmlTypeName(type)} data for ${nElements} elements needs ${needed} bytes, got ${src.length}`);
  }
  switch (type) {
    case GgmlType.F32:
      dequantizeF32(src, dst);
      break;
    case GgmlType.F16:
      dequantizeF16(src, dst);
      break;
    case GgmlType.BF16:
      dequantizeBf16(src, dst);
      break;
    case GgmlType.Q8_0:
      dequantizeQ8_0(src, dst);
      break;
    case GgmlType.Q4_0:
      dequantizeQ4_0(src, dst);
      break;
    default:
      throw new UnsupportedTensorTypeError(`${ggmlTypeName(type)} is not supported yet (supported: F32, F16, BF16, Q8_0, Q4_0)`);
  }
  return dst;
}

export function dequantizeToFloat32(type: number, src: Uint8Array, nElements: number): Float32Array {
  return dequantize(type, src, nElements, new Float32Array(nElements)) as Float32Array;
}

export function dequantizeToFloat64(type: number, src: Uint8Array, nElements: number): Float64Array {
  return dequantize(type, src, nElements, new Float64Array(nElements)) as Float64Array;
}
