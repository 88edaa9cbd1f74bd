// Number formats of GGML tensors: f16 and bf16 conversions, Q8_0 / Q4_0 quantization as ggml's reference CPU code
// defines it (float32 arithmetic emulated with Math.fround so results are bit-identical), and the K-quants Q4_K,
// Q5_K and Q6_K (super-blocks of 256 values). K-quant decoding is bit-identical to ggml's dequantize_row_q*_K
// (float32 products); K-quant encoding is Parley's own quantizer (per-sub-block fit, 6/8-bit quantized scales),
// not ggml's iterative search, so its bytes differ from llama-quantize's but decode the same way everywhere.
//
// K-quant block layouts (little-endian f16 scales), byte offsets within a block:
//   Q4_K (144 B): 0 d, 2 dmin, 4..15 scales (8 × 6-bit scale + 8 × 6-bit min, packed), 16..143 qs (4-bit)
//   Q5_K (176 B): 0 d, 2 dmin, 4..15 scales (as Q4_K), 16..47 qh (5th bits), 48..175 qs (low 4 bits)
//   Q6_K (210 B): 0..127 ql (low 4 bits), 128..191 qh (high 2 bits), 192..207 int8 scales[16], 208 d
// See the encoder/decoder comments below for the element order inside qs / ql / qh.

import { InvalidArgumentError, UnsupportedTensorTypeError } from "../errors.js";
import { GgmlType, SUPPORTED_TENSOR_TYPES, ggmlTypeInfo, ggmlTypeName, tensorByteSize } from "./types.js";

export const QK4_0 = 32;
export const QK8_0 = 32;
/** Bytes per block: f16 scale + 16 bytes of nibbles. */
export const Q4_0_BLOCK_BYTES = 18;
/** Bytes per block: f16 scale + 32 int8. */
export const Q8_0_BLOCK_BYTES = 34;
/** Elements per K-quant super-block. */
export const QK_K = 256;
/** Bytes per Q4_K block: f16 d, f16 dmin, 12 bytes of packed 6-bit scales/mins, 128 bytes of nibbles. */
export const Q4_K_BLOCK_BYTES = 144;
/** Bytes per Q5_K block: f16 d, f16 dmin, 12 bytes of scales/mins, 32 bytes of high bits, 128 bytes of nibbles. */
export const Q5_K_BLOCK_BYTES = 176;
/** Bytes per Q6_K block: 128 bytes of low nibbles, 64 bytes of 2-bit highs, 16 int8 scales, f16 d. */
export const Q6_K_BLOCK_BYTES = 210;

/** The tensor types `quantize` and `dequantize` handle: exactly the ones the runtime runs. */
export const CODEC_TYPES: readonly number[] = SUPPORTED_TENSOR_TYPES;
const CODEC_NAMES = CODEC_TYPES.map(ggmlTypeName).join(", ");

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

// ---------------------------------------------------------------------------------------------------------------
// K-quants (super-blocks of QK_K = 256 values).
//
// Q4_K / Q5_K: 8 sub-blocks of 32 values; value = d·sc[j]·q − dmin·m[j] with q in 0..15 (Q4_K) or 0..31 (Q5_K)
// and 6-bit sc[j], m[j]. The 12 scale bytes pack them as ggml's get_scale_min_k4 reads them:
//   j < 4:  sc[j] = b[j] & 63,                          m[j] = b[j + 4] & 63
//   j ≥ 4:  sc[j] = (b[j + 4] & 15) | (b[j − 4] >> 6) << 4,  m[j] = (b[j + 4] >> 4) | (b[j] >> 6) << 4
// Q6_K: 16 sub-blocks of 16 values; value = d·sc[j]·(q − 32) with q in 0..63 and int8 sc[j].

/** Scale (6 bits) of sub-block j (0..7) from the 12 packed scale bytes at b[o..o+12) (ggml get_scale_min_k4). */
export function kScale(b: Uint8Array, o: number, j: number): number {
  return j < 4 ? b[o + j] & 63 : (b[o + j + 4] & 0xf) | ((b[o + j - 4] >>> 6) << 4);
}

/** Min (6 bits) of sub-block j (0..7) from the 12 packed scale bytes at b[o..o+12) (ggml get_scale_min_k4). */
export function kMin(b: Uint8Array, o: number, j: number): number {
  return j < 4 ? b[o + j + 4] & 63 : (b[o + j + 4] >>> 4) | ((b[o + j] >>> 6) << 4);
}

/** Packs eight 6-bit scales and mins into the 12 bytes at b[o..o+12) (the inverse of kScale / kMin). */
export function packKScales(scales: ArrayLike<number>, mins: ArrayLike<number>, b: Uint8Array, o: number): void {
  b.fill(0, o, o + 12);
  for (let j = 0; j < 8; j++) {
    const ls = scales[j] & 63;
    const lm = mins[j] & 63;
    if (j < 4) {
      b[o + j] |= ls;
      b[o + j + 4] |= lm;
    } else {
      b[o + j + 4] = (ls & 0xf) | ((lm & 0xf) << 4);
      b[o + j - 4] |= (ls >>> 4) << 6;
      b[o + j] |= (lm >>> 4) << 6;
    }
  }
}

function writeF16(b: Uint8Array, o: number, h: number): void {
  b[o] = h & 0xff;
  b[o + 1] = h >>> 8;
}

function clampInt(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}

/**
 * Fits x[off..off+n) ≈ scale·q − min with integer q in 0..nmax, scale ≥ 0 and min ≥ 0 (so that 0 is always in
 * range, as ggml requires of K-quant mins): start from the min/max grid, then alternate rounding and a
 * least-squares refit of (scale, min), keeping the best. Writes [scale, min] to res.
 */
function fitAffine(x: Float32Array, off: number, n: number, nmax: number, res: Float64Array): void {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = x[off + i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo > 0) lo = 0;
  if (!(hi > lo)) {
    res[0] = 0;
    res[1] = -lo;
    return;
  }
  let scale = (hi - lo) / nmax;
  let min = -lo;
  let bestScale = scale;
  let bestMin = min;
  let bestErr = Infinity;
  for (let iter = 0; iter < 4; iter++) {
    const inv = 1 / scale;
    let sl = 0;
    let sl2 = 0;
    let sx = 0;
    let slx = 0;
    let err = 0;
    for (let i = 0; i < n; i++) {
      const v = x[off + i];
      const q = clampInt(Math.round((v + min) * inv), 0, nmax);
      const e = scale * q - min - v;
      err += e * e;
      sl += q;
      sl2 += q * q;
      sx += v;
      slx += q * v;
    }
    if (err < bestErr) {
      bestErr = err;
      bestScale = scale;
      bestMin = min;
    }
    // Least squares for v ≈ a·q + b, with b ≤ 0 (min = −b ≥ 0).
    const det = n * sl2 - sl * sl;
    if (det <= 0) break;
    let a = (n * slx - sl * sx) / det;
    let b = (sx - a * sl) / n;
    if (b > 0) {
      b = 0;
      a = sl2 > 0 ? slx / sl2 : 0;
    }
    if (!(a > 0) || (a === scale && -b === min)) break;
    scale = a;
    min = -b;
  }
  res[0] = bestScale;
  res[1] = bestMin;
}

/** Shared Q4_K / Q5_K encoder: per super-block d, dmin (f16), 6-bit scales/mins and q in 0..nmax (to `levels`). */
function quantizeKAffine(
  src: Float32Array,
  nmax: number,
  blockBytes: number,
  what: string,
  emit: (out: Uint8Array, o: number, levels: Uint8Array) => void,
): Uint8Array {
  const n = src.length;
  checkBlocks(n, QK_K, what);
  const nb = n / QK_K;
  const out = new Uint8Array(nb * blockBytes);
  const res = new Float64Array(2);
  const scales = new Float64Array(8);
  const mins = new Float64Array(8);
  const ls = new Uint8Array(8);
  const lm = new Uint8Array(8);
  const levels = new Uint8Array(QK_K);
  const t = fp16Table();
  for (let b = 0; b < nb; b++) {
    const base = b * QK_K;
    let maxScale = 0;
    let maxMin = 0;
    for (let j = 0; j < 8; j++) {
      fitAffine(src, base + 32 * j, 32, nmax, res);
      scales[j] = res[0];
      mins[j] = res[1];
      if (res[0] > maxScale) maxScale = res[0];
      if (res[1] > maxMin) maxMin = res[1];
    }
    const dBits = fp32ToFp16(maxScale / 63);
    const dminBits = fp32ToFp16(maxMin / 63);
    const d = t[dBits];
    const dmin = t[dminBits];
    for (let j = 0; j < 8; j++) {
      let s = d > 0 ? clampInt(Math.round(scales[j] / d), 0, 63) : 0;
      if (s === 0 && scales[j] > 0 && d > 0) s = 1;
      ls[j] = s;
      lm[j] = dmin > 0 ? clampInt(Math.round(mins[j] / dmin), 0, 63) : 0;
    }
    const o = b * blockBytes;
    writeF16(out, o, dBits);
    writeF16(out, o + 2, dminBits);
    packKScales(ls, lm, out, o + 4);
    // Requantize against the scales as stored (what the decoder will use).
    for (let j = 0; j < 8; j++) {
      const dj = d * ls[j];
      const mj = dmin * lm[j];
      for (let i = 0; i < 32; i++) {
        const e = 32 * j + i;
        levels[e] = dj > 0 ? clampInt(Math.round((src[base + e] + mj) / dj), 0, nmax) : 0;
      }
    }
    emit(out, o, levels);
  }
  return out;
}

/**
 * Q4_K: qs byte 32·c + l (c = 0..3, l = 0..31) holds element 64·c + l in its low nibble (sub-block 2c) and
 * element 64·c + 32 + l in its high nibble (sub-block 2c + 1).
 */
export function quantizeQ4_K(src: Float32Array): Uint8Array {
  return quantizeKAffine(src, 15, Q4_K_BLOCK_BYTES, "Q4_K", (out, o, L) => {
    const qs = o + 16;
    for (let c = 0; c < 4; c++) {
      for (let l = 0; l < 32; l++) out[qs + 32 * c + l] = L[64 * c + l] | (L[64 * c + 32 + l] << 4);
    }
  });
}

/**
 * Q5_K: the low 4 bits are laid out as Q4_K's qs (at offset 48); bit 2c of qh[l] is the 5th bit of element
 * 64·c + l and bit 2c + 1 that of element 64·c + 32 + l.
 */
export function quantizeQ5_K(src: Float32Array): Uint8Array {
  return quantizeKAffine(src, 31, Q5_K_BLOCK_BYTES, "Q5_K", (out, o, L) => {
    const qh = o + 16;
    const qs = o + 48;
    for (let c = 0; c < 4; c++) {
      for (let l = 0; l < 32; l++) {
        const l1 = L[64 * c + l];
        const l2 = L[64 * c + 32 + l];
        out[qs + 32 * c + l] = (l1 & 0xf) | ((l2 & 0xf) << 4);
        out[qh + l] |= ((l1 >>> 4) << (2 * c)) | ((l2 >>> 4) << (2 * c + 1));
      }
    }
  });
}

/**
 * Fits x[off..off+16) ≈ scale·q with integer q in −32..31 (scale of either sign): tries grids that map the
 * largest-magnitude value near −32, refits each by least squares and keeps the one with the smallest error.
 * Returns the scale (0 for an all-zero group).
 */
function fitSymmetric6(x: Float32Array, off: number): number {
  let amax = 0;
  let max = 0;
  for (let i = 0; i < 16; i++) {
    const v = x[off + i];
    const a = Math.abs(v);
    if (a > amax) {
      amax = a;
      max = v;
    }
  }
  if (amax < 1e-30) return 0;
  let best = 0;
  let bestErr = Infinity;
  for (let k = -4; k <= 4; k++) {
    const iscale = -(32 + 0.25 * k) / max;
    let slx = 0;
    let sl2 = 0;
    for (let i = 0; i < 16; i++) {
      const v = x[off + i];
      const q = clampInt(Math.round(iscale * v), -32, 31);
      slx += q * v;
      sl2 += q * q;
    }
    if (sl2 === 0) continue;
    const scale = slx / sl2;
    let err = 0;
    for (let i = 0; i < 16; i++) {
      const v = x[off + i];
      const q = clampInt(Math.round(v / scale), -32, 31);
      const e = scale * q - v;
      err += e * e;
    }
    if (err < bestErr) {
      bestErr = err;
      best = scale;
    }
  }
  return best;
}

/**
 * Q6_K: 6-bit q (stored q + 32), 16 sub-blocks of 16 with int8 scales and an f16 super-block scale d.
 * For half h (elements 128·h ..) and l = 0..31: ql[64h + l] = low nibbles of elements 128h + l (bits 0-3) and
 * 128h + 64 + l (bits 4-7); ql[64h + 32 + l] = those of 128h + 32 + l and 128h + 96 + l; qh[32h + l] holds the
 * high 2 bits of elements 128h + l, + 32 + l, + 64 + l, + 96 + l at bits 0-1, 2-3, 4-5, 6-7.
 */
export function quantizeQ6_K(src: Float32Array): Uint8Array {
  const n = src.length;
  checkBlocks(n, QK_K, "Q6_K");
  const nb = n / QK_K;
  const out = new Uint8Array(nb * Q6_K_BLOCK_BYTES);
  const scales = new Float64Array(16);
  const sc = new Int8Array(16);
  const L = new Uint8Array(QK_K);
  const t = fp16Table();
  for (let b = 0; b < nb; b++) {
    const base = b * QK_K;
    const o = b * Q6_K_BLOCK_BYTES;
    let maxAbs = 0;
    let maxScale = 0;
    for (let j = 0; j < 16; j++) {
      const s = fitSymmetric6(src, base + 16 * j);
      scales[j] = s;
      if (Math.abs(s) > maxAbs) {
        maxAbs = Math.abs(s);
        maxScale = s;
      }
    }
    // The largest-magnitude scale maps to −128 (int8 range −128..127), as in ggml.
    const dBits = maxAbs > 0 ? fp32ToFp16(maxScale / -128) : 0;
    const d = t[dBits];
    for (let j = 0; j < 16; j++) {
      let s = d !== 0 ? clampInt(Math.round(scales[j] / d), -128, 127) : 0;
      if (s === 0 && scales[j] !== 0 && d !== 0) s = scales[j] / d > 0 ? 1 : -1;
      sc[j] = s;
      const dj = d * s;
      for (let i = 0; i < 16; i++) {
        const e = 16 * j + i;
        L[e] = dj !== 0 ? clampInt(Math.round(src[base + e] / dj), -32, 31) + 32 : 32;
      }
    }
    for (let h = 0; h < 2; h++) {
      const e0 = 128 * h;
      for (let l = 0; l < 32; l++) {
        const q1 = L[e0 + l];
        const q2 = L[e0 + 32 + l];
        const q3 = L[e0 + 64 + l];
        const q4 = L[e0 + 96 + l];
        out[o + 64 * h + l] = (q1 & 0xf) | ((q3 & 0xf) << 4);
        out[o + 64 * h + 32 + l] = (q2 & 0xf) | ((q4 & 0xf) << 4);
        out[o + 128 + 32 * h + l] = (q1 >>> 4) | ((q2 >>> 4) << 2) | ((q3 >>> 4) << 4) | ((q4 >>> 4) << 6);
      }
    }
    for (let j = 0; j < 16; j++) out[o + 192 + j] = sc[j] & 0xff;
    writeF16(out, o + 208, dBits);
  }
  return out;
}

/** Encodes float32 values as tensor bytes of the given type (F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K). */
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
    case GgmlType.Q4_K:
      return quantizeQ4_K(src);
    case GgmlType.Q5_K:
      return quantizeQ5_K(src);
    case GgmlType.Q6_K:
      return quantizeQ6_K(src);
    default:
      throw new UnsupportedTensorTypeError(`cannot encode ${ggmlTypeName(type)} (supported: ${CODEC_NAMES})`);
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

/**
 * Q4_K (ggml dequantize_row_q4_K): y = d·sc·q − dmin·m per sub-block, products and difference in float32.
 * (d·sc, dmin·m and d·sc·q are exact in float32, so only the subtraction rounds; with or without FMA.)
 */
export function dequantizeQ4_K(src: Uint8Array, out: FloatOut): void {
  const t = fp16Table();
  const fround = Math.fround;
  const nb = out.length / QK_K;
  for (let b = 0; b < nb; b++) {
    const o = b * Q4_K_BLOCK_BYTES;
    const d = t[readU16(src, o)];
    const dmin = t[readU16(src, o + 2)];
    const base = b * QK_K;
    for (let c = 0; c < 4; c++) {
      const d1 = fround(d * kScale(src, o + 4, 2 * c));
      const m1 = fround(dmin * kMin(src, o + 4, 2 * c));
      const d2 = fround(d * kScale(src, o + 4, 2 * c + 1));
      const m2 = fround(dmin * kMin(src, o + 4, 2 * c + 1));
      const qs = o + 16 + 32 * c;
      const y = base + 64 * c;
      for (let l = 0; l < 32; l++) {
        const byte = src[qs + l];
        out[y + l] = fround(fround(d1 * (byte & 0xf)) - m1);
        out[y + 32 + l] = fround(fround(d2 * (byte >>> 4)) - m2);
      }
    }
  }
}

/** Q5_K (ggml dequantize_row_q5_K): as Q4_K with a 5th bit per value from qh; float32 arithmetic. */
export function dequantizeQ5_K(src: Uint8Array, out: FloatOut): void {
  const t = fp16Table();
  const fround = Math.fround;
  const nb = out.length / QK_K;
  for (let b = 0; b < nb; b++) {
    const o = b * Q5_K_BLOCK_BYTES;
    const d = t[readU16(src, o)];
    const dmin = t[readU16(src, o + 2)];
    const base = b * QK_K;
    const qh = o + 16;
    for (let c = 0; c < 4; c++) {
      const d1 = fround(d * kScale(src, o + 4, 2 * c));
      const m1 = fround(dmin * kMin(src, o + 4, 2 * c));
      const d2 = fround(d * kScale(src, o + 4, 2 * c + 1));
      const m2 = fround(dmin * kMin(src, o + 4, 2 * c + 1));
      const qs = o + 48 + 32 * c;
      const y = base + 64 * c;
      const u1 = 1 << (2 * c);
      const u2 = 2 << (2 * c);
      for (let l = 0; l < 32; l++) {
        const byte = src[qs + l];
        const h = src[qh + l];
        out[y + l] = fround(fround(d1 * ((byte & 0xf) + (h & u1 ? 16 : 0))) - m1);
        out[y + 32 + l] = fround(fround(d2 * ((byte >>> 4) + (h & u2 ? 16 : 0))) - m2);
      }
    }
  }
}

/** Q6_K (ggml dequantize_row_q6_K): y = d·sc·(q − 32), evaluated as (d·sc)·(q − 32) in float32 (exact). */
export function dequantizeQ6_K(src: Uint8Array, out: FloatOut): void {
  const t = fp16Table();
  const fround = Math.fround;
  const nb = out.length / QK_K;
  for (let b = 0; b < nb; b++) {
    const o = b * Q6_K_BLOCK_BYTES;
    const d = t[readU16(src, o + 208)];
    const base = b * QK_K;
    for (let h = 0; h < 2; h++) {
      const ql = o + 64 * h;
      const qh = o + 128 + 32 * h;
      const sc = o + 192 + 8 * h;
      const y = base + 128 * h;
      for (let l = 0; l < 32; l++) {
        const is = l >>> 4;
        const lo0 = src[ql + l];
        const lo1 = src[ql + 32 + l];
        const hi = src[qh + l];
        const q1 = ((lo0 & 0xf) | ((hi & 3) << 4)) - 32;
        const q2 = ((lo1 & 0xf) | (((hi >>> 2) & 3) << 4)) - 32;
        const q3 = ((lo0 >>> 4) | (((hi >>> 4) & 3) << 4)) - 32;
        const q4 = ((lo1 >>> 4) | (((hi >>> 6) & 3) << 4)) - 32;
        out[y + l] = fround(fround(d * ((src[sc + is] << 24) >> 24)) * q1);
        out[y + 32 + l] = fround(fround(d * ((src[sc + is + 2] << 24) >> 24)) * q2);
        out[y + 64 + l] = fround(fround(d * ((src[sc + is + 4] << 24) >> 24)) * q3);
        out[y + 96 + l] = fround(fround(d * ((src[sc + is + 6] << 24) >> 24)) * q4);
      }
    }
  }
}

/** Decodes `nElements` values of the given type into `out` (allocated as Float32Array when omitted). */
export function dequantize(type: number, src: Uint8Array, nElements: number, out?: FloatOut): FloatOut {
  const dst = out ?? new Float32Array(nElements);
  if (dst.length !== nElements) throw new InvalidArgumentError(`output has ${dst.length} elements, expected ${nElements}`);
  if (!CODEC_TYPES.includes(type)) {
    throw new UnsupportedTensorTypeError(`${ggmlTypeName(type)} is not supported yet (supported: ${CODEC_NAMES})`);
  }
  checkBlocks(nElements, ggmlTypeInfo(type)!.blockSize, ggmlTypeName(type));
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
    case GgmlType.Q4_K:
      dequantizeQ4_K(src, dst);
      break;
    case GgmlType.Q5_K:
      dequantizeQ5_K(src, dst);
      break;
    case GgmlType.Q6_K:
      dequantizeQ6_K(src, dst);
      break;
    default:
      throw new UnsupportedTensorTypeError(`${ggmlTypeName(type)} is not supported yet (supported: ${CODEC_NAMES})`);
  }
  return dst;
}

export function dequantizeToFloat32(type: number, src: Uint8Array, nElements: number): Float32Array {
  return dequantize(type, src, nElements, new Float32Array(nElements)) as Float32Array;
}

export function dequantizeToFloat64(type: number, src: Uint8Array, nElements: number): Float64Array {
  return dequantize(type, src, nElements, new Float64Array(nElements)) as Float64Array;
}
