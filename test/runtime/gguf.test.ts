import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GgufFormatError, GgufTruncatedError, ModelShapeError, UnsupportedArchitectureError, UnsupportedTensorTypeError } from "../../runtime/errors.js";
import {
  bf16ToFp32,
  dequantize,
  dequantizeToFloat64,
  fp16ToFp32,
  fp32ToBf16,
  fp32ToFp16,
  quantize,
  quantizeQ4_0,
  quantizeQ8_0,
} from "../../runtime/gguf/quant.js";
import { parseGgufBuffer, readGguf, readGgufSync, readTensorData } from "../../runtime/gguf/reader.js";
import { GgmlType, GgufValueType, ggmlTypeName, gguf, tensorByteSize, type GgufArray, type GgufMetadataValue } from "../../runtime/gguf/types.js";
import { encodeGgufHeader, writeGguf, type GgufWriterTensor } from "../../runtime/gguf/writer.js";
import { describeModel, validateLlamaModel } from "../../runtime/model-config.js";
import { ggmlLibDir, haveCc } from "../fixtures/ggml-lib.js";

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "parley-gguf-"));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});
const tmp = (name: string): string => path.join(dir, name);

/** Deterministic pseudo-random floats in [-scale, scale). */
function randomFloats(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 4294967296 - 0.5) * 2 * scale;
  }
  return out;
}

const f32 = (x: number): number => Math.fround(x);

describe("f16 and bf16 conversion", () => {
  it("converts exact values and specials", () => {
    expect(fp32ToFp16(0)).toBe(0x0000);
    expect(fp32ToFp16(-0)).toBe(0x8000);
    expect(fp32ToFp16(1)).toBe(0x3c00);
    expect(fp32ToFp16(-2)).toBe(0xc000);
    expect(fp32ToFp16(65504)).toBe(0x7bff);
    expect(fp32ToFp16(Infinity)).toBe(0x7c00);
    expect(fp32ToFp16(-Infinity)).toBe(0xfc00);
    expect(fp32ToFp16(NaN) & 0x7e00).toBe(0x7e00);
    expect(fp32ToFp16(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(fp32ToFp16(2 ** -14)).toBe(0x0400); // smallest normal
    expect(fp16ToFp32(0x3555)).toBeCloseTo(0.33325195, 7);
    expect(fp16ToFp32(0x0001)).toBe(2 ** -24);
    expect(fp16ToFp32(0x7c00)).toBe(Infinity);
  });

  it("rounds to nearest, ties to even", () => {
    // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to even (1).
    expect(fp32ToFp16(1 + 2 ** -11)).toBe(0x3c00);
    // 1 + 3*2^-11 is halfway between 1+2^-10 (odd) and 1+2^-9 (even).
    expect(fp32ToFp16(1 + 3 * 2 ** -11)).toBe(0x3c02);
    // Just above halfway rounds up.
    expect(fp32ToFp16(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01);
    // Overflow: 65519 rounds to 65504, 65520 (halfway to 65536) rounds to inf.
    expect(fp32ToFp16(65519)).toBe(0x7bff);
    expect(fp32ToFp16(65520)).toBe(0x7c00);
    // Subnormal ties: 2^-25 is halfway between 0 and 2^-24 → 0 (even); 3*2^-25 → 2*2^-24.
    expect(fp32ToFp16(2 ** -25)).toBe(0x0000);
    expect(fp32ToFp16(3 * 2 ** -25)).toBe(0x0002);
    expect(fp32ToFp16(2 ** -25 + 2 ** -35)).toBe(0x0001);
    // Largest subnormal + half ulp rounds up into the smallest normal.
    expect(fp32ToFp16(1023 * 2 ** -24 + 2 ** -25)).toBe(0x0400);
  });

  it("round-trips every finite f16 value", () => {
    const bad: number[] = [];
    for (let h = 0; h < 0x10000; h++) {
      const e = (h >> 10) & 0x1f;
      if (e === 0x1f) continue;
      if (fp32ToFp16(fp16ToFp32(h)) !== h) bad.push(h);
    }
    expect(bad).toEqual([]);
  });

  it("bf16 rounds to nearest even on the top 16 bits and keeps NaN quiet", () => {
    expect(fp32ToBf16(1)).toBe(0x3f80);
    expect(fp32ToBf16(-1)).toBe(0xbf80);
    // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: even → 1.
    expect(fp32ToBf16(1 + 2 ** -8)).toBe(0x3f80);
    // 1 + 3*2^-8: halfway between 1+2^-7 (odd) and 1+2^-6 → even (0x3f82).
    expect(fp32ToBf16(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(fp32ToBf16(1 + 2 ** -8 + 2 ** -20)).toBe(0x3f81);
    expect(fp32ToBf16(Infinity)).toBe(0x7f80);
    // A signalling NaN (quiet bit clear) becomes quiet.
    const b = new Uint32Array([0x7f800001]);
    const nan = new Float32Array(b.buffer)[0];
    expect(fp32ToBf16(nan) & 0x7fc0).toBe(0x7fc0);
    expect(bf16ToFp32(0x4049)).toBe(3.140625);
    // Subnormals are kept (current ggml does not flush them).
    expect(fp32ToBf16(2 ** -130)).toBe(0x0001 << 3);
  });
});

describe("Q8_0 and Q4_0", () => {
  it("Q8_0 matches a hand-computed block", () => {
    const x = new Float32Array(32);
    for (let i = 0; i < 32; i++) x[i] = (i - 16) / 8; // -2 .. 1.875
    const q = quantizeQ8_0(x);
    expect(q.length).toBe(34);
    // amax = 2 → d = 2/127, stored as f16
    const d = f32(2 / 127);
    expect(q[0] | (q[1] << 8)).toBe(fp32ToFp16(d));
    const id = f32(1 / d);
    for (let i = 0; i < 32; i++) {
      const v = f32(x[i] * id);
      const expected = v < 0 ? -Math.round(-v) : Math.round(v);
      expect((q[2 + i] << 24) >> 24).toBe(expected);
    }
    expect((q[2] << 24) >> 24).toBe(-127);
    // element 20: 0.5 * 63.5 = 31.75 → 32
    expect((q[2 + 20] << 24) >> 24).toBe(32);
    const back = dequantizeToFloat64(GgmlType.Q8_0, q, 32);
    expect(back[0]).toBeCloseTo(-2, 2);
  });

  it("Q8_0 rounds halves away from zero", () => {
    // amax 127 → d = 1, id = 1; ±2.5 → ±3, ±0.5 → ±1
    const x = new Float32Array(32);
    x[0] = 127;
    x[1] = 2.5;
    x[2] = -2.5;
    x[3] = 0.5;
    x[4] = -0.5;
    x[5] = -1.49;
    const q = quantizeQ8_0(x);
    const qs = Array.from(q.subarray(2, 8), (b) => (b << 24) >> 24);
    expect(qs).toEqual([127, 3, -3, 1, -1, -1]);
    expect(q[0] | (q[1] << 8)).toBe(0x3c00);
  });

  it("Q4_0 matches a hand-computed block", () => {
    // max magnitude value is -4 (negative) → d = -4 / -8 = 0.5, id = 2; q = min(15, trunc(x*2 + 8.5))
    const x = new Float32Array(32);
    x[0] = -4;
    x[1] = 3.9; // 7.8 + 8.5 = 16.3 → 16 → clamped to 15
    x[2] = 1; // 2 + 8.5 → 10
    x[3] = -1.3; // -2.6 + 8.5 = 5.9 → 5
    x[16] = 0.24; // 0.48 + 8.5 = 8.98 → 8
    x[17] = 0.26; // 0.52 + 8.5 = 9.02 → 9
    const q = quantizeQ4_0(x);
    expect(q.length).toBe(18);
    expect(q[0] | (q[1] << 8)).toBe(fp32ToFp16(0.5));
    const lo = (j: number): number => q[2 + j] & 0xf;
    const hi = (j: number): number => q[2 + j] >> 4;
    expect(lo(0)).toBe(0); // -4*2 + 8.5 = 0.5 → 0
    expect(lo(1)).toBe(15);
    expect(lo(2)).toBe(10);
    expect(lo(3)).toBe(5);
    expect(lo(4)).toBe(8); // zero → 8
    expect(hi(0)).toBe(8);
    expect(hi(1)).toBe(9);
    const back = dequantizeToFloat64(GgmlType.Q4_0, q, 32);
    expect(Array.from(back.subarray(0, 5))).toEqual([-4, 3.5, 1, -1.5, 0]);
    expect(back[16]).toBe(0);
    expect(back[17]).toBe(0.5);
  });

  it("Q4_0 with a positive maximum gives a negative scale", () => {
    const x = new Float32Array(32).fill(0);
    x[5] = 8;
    const q = quantizeQ4_0(x);
    expect(fp16ToFp32(q[0] | (q[1] << 8))).toBe(-1);
    const back = dequantizeToFloat64(GgmlType.Q4_0, q, 32);
    expect(back[5]).toBe(8); // q = trunc(-8 + 8.5) = 0 → (0-8)*-1
  });

  it("all-zero blocks quantize to zero", () => {
    const z = new Float32Array(64);
    for (const t of [GgmlType.Q8_0, GgmlType.Q4_0]) {
      const back = dequantize(t, quantize(t, z), 64);
      expect(Array.from(back).every((v) => v === 0)).toBe(true);
    }
  });

  it("error bounds on random data", () => {
    const n = 32 * 256;
    const x = randomFloats(n, 7, 3);
    const err = (t: number): number => {
      const back = dequantizeToFloat64(t, quantize(t, x), n);
      let worst = 0;
      for (let b = 0; b < n; b += 32) {
        let amax = 0;
        for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b + j]));
        for (let j = 0; j < 32; j++) worst = Math.max(worst, Math.abs(back[b + j] - x[b + j]) / amax);
      }
      return worst;
    };
    // Q8_0: half a step of amax/127 (+ f16 scale rounding).
    expect(err(GgmlType.Q8_0)).toBeLessThan(0.5 / 127 + 2e-3);
    // Q4_0: up to one step of amax/8 at the clamped end, half a step elsewhere.
    expect(err(GgmlType.Q4_0)).toBeLessThanOrEqual(1 / 8 + 2e-3);
    // F16 / BF16 relative error
    const rel = (t: number, bound: number): void => {
      const back = dequantizeToFloat64(t, quantize(t, x), n);
      for (let i = 0; i < n; i++) expect(Math.abs(back[i] - x[i])).toBeLessThanOrEqual(Math.abs(x[i]) * bound + 1e-7);
    };
    rel(GgmlType.F16, 2 ** -11);
    rel(GgmlType.BF16, 2 ** -8);
    const f = dequantize(GgmlType.F32, quantize(GgmlType.F32, x), n);
    expect(Array.from(f)).toEqual(Array.from(x));
  });

  it("rejects types it cannot decode", () => {
    expect(() => dequantize(GgmlType.Q2_K, new Uint8Array(84), 256)).toThrow(UnsupportedTensorTypeError);
    expect(() => quantize(GgmlType.Q3_K, new Float32Array(256))).toThrow(UnsupportedTensorTypeError);
  });
});

describe("types", () => {
  it("computes tensor byte sizes", () => {
    expect(tensorByteSize(GgmlType.F32, [4, 3])).toBe(48);
    expect(tensorByteSize(GgmlType.F16, [64])).toBe(128);
    expect(tensorByteSize(GgmlType.Q4_0, [64, 2])).toBe(72);
    expect(tensorByteSize(GgmlType.Q8_0, [2048, 32000])).toBe((2048 * 32000 * 34) / 32);
    expect(tensorByteSize(GgmlType.Q4_K, [256, 2])).toBe(288);
    expect(tensorByteSize(GgmlType.Q6_K, [512])).toBe(420);
    expect(() => tensorByteSize(GgmlType.Q4_0, [48])).toThrow(GgufFormatError);
    expect(ggmlTypeName(12)).toBe("Q4_K");
    expect(ggmlTypeName(30)).toBe("BF16");
    expect(ggmlTypeName(99)).toBe("type 99");
  });
});

// Bit-exactness against ggml itself: compile a small C program against the libggml-base.so that node-llama-cpp
// ships and compare its Q4_0 / Q8_0 / f16 / bf16 output with ours. Skipped where there is no C compiler or lib.

const GGML_PROBE_C = `
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
size_t ggml_quantize_chunk(int type, const float *src, void *dst, int64_t start, int64_t nrows, int64_t n_per_row, const float *imatrix);
void ggml_fp32_to_fp16_row(const float *x, uint16_t *y, int64_t n);
void ggml_fp32_to_bf16_row_ref(const float *x, uint16_t *y, int64_t n);
int main(int argc, char **argv) {
  FILE *f = fopen(argv[1], "rb"); fseek(f, 0, SEEK_END); long sz = ftell(f); fseek(f, 0, SEEK_SET);
  int64_t n = sz / 4; float *x = malloc(sz); if (fread(x, 1, sz, f) != (size_t)sz) return 1; fclose(f);
  void *q4 = malloc(n / 32 * 18), *q8 = malloc(n / 32 * 34); uint16_t *h = malloc(n * 2), *b = malloc(n * 2);
  ggml_quantize_chunk(2, x, q4, 0, n / 32, 32, NULL);
  ggml_quantize_chunk(8, x, q8, 0, n / 32, 32, NULL);
  ggml_fp32_to_fp16_row(x, h, n);
  ggml_fp32_to_bf16_row_ref(x, b, n);
  FILE *o = fopen(argv[2], "wb");
  fwrite(q4, 1, n / 32 * 18, o); fwrite(q8, 1, n / 32 * 34, o); fwrite(h, 2, n, o); fwrite(b, 2, n, o); fclose(o);
  return 0;
}
`;

function trickyFloats(nBlocks: number): Float32Array {
  const x = new Float32Array(32 * nBlocks);
  const r = randomFloats(x.length * 2, 99, 0.5).map((v) => v + 0.5); // uniform [0, 1)
  const bits = new Uint32Array(1);
  const asF = new Float32Array(bits.buffer);
  for (let i = 0; i < x.length; i++) {
    const u = r[2 * i];
    const v = r[2 * i + 1];
    switch (Math.floor(i / 32) % 10) {
      case 0:
        x[i] = (u - 0.5) * 2;
        break;
      case 1:
        x[i] = (Math.floor(u * 33) - 16) / 4;
        break; // exact ties in Q4_0
      case 2:
        x[i] = (u - 0.5) * 1e-6;
        break; // subnormal f16 scales
      case 3:
        x[i] = (u - 0.5) * 2e5;
        break; // scales past the f16 range
      case 4:
        x[i] = i % 32 === 7 ? -3 : (Math.floor(u * 49) - 24) * 0.125;
        break;
      case 5:
        x[i] = 0;
        break;
      case 6:
        x[i] = (u - 0.5) * 1e-9;
        break;
      case 7:
        x[i] = (1 + Math.floor(u * 8) * 2 ** -11) * (v < 0.5 ? -1 : 1);
        break; // f16 ties
      case 8:
        x[i] = (Math.floor(u * 255) - 127) * 0.5;
        break; // Q8_0 halves
      default: {
        bits[0] = Math.floor(u * 4294967296) >>> 0;
        x[i] = Number.isFinite(asF[0]) && Math.abs(asF[0]) < 1e30 ? asF[0] : v; // arbitrary bit patterns
      }
    }
  }
  return x;
}

describe.runIf(haveCc)("bit-identical to ggml (libggml-base from node-llama-cpp)", () => {
  it("Q4_0, Q8_0, f16 and bf16 encodings match ggml byte for byte", () => {
    const exe = tmp("ggml-probe");
    fs.writeFileSync(exe + ".c", GGML_PROBE_C);
    execFileSync("cc", ["-O1", exe + ".c", "-o", exe, `-L${ggmlLibDir}`, "-l:libggml-base.so", `-Wl,-rpath,${ggmlLibDir}`]);
    const x = trickyFloats(4000);
    fs.writeFileSync(tmp("probe-in.bin"), new Uint8Array(x.buffer));
    execFileSync(exe, [tmp("probe-in.bin"), tmp("probe-out.bin")]);
    const ref = fs.readFileSync(tmp("probe-out.bin"));
    const parts: Array<[string, Uint8Array]> = [
      ["Q4_0", quantizeQ4_0(x)],
      ["Q8_0", quantizeQ8_0(x)],
      ["F16", quantize(GgmlType.F16, x)],
      ["BF16", quantize(GgmlType.BF16, x)],
    ];
    let at = 0;
    for (const [name, mine] of parts) {
      const theirs = ref.subarray(at, at + mine.length);
      at += mine.length;
      let firstDiff = -1;
      for (let i = 0; i < mine.length && firstDiff < 0; i++) if (mine[i] !== theirs[i]) firstDiff = i;
      expect(firstDiff, `${name} first differing byte`).toBe(-1);
    }
    expect(at).toBe(ref.length);
  });
});

// ---------------------------------------------------------------------------------------------------------------

function everyValueType(): Array<[string, GgufMetadataValue]> {
  return [
    ["t.u8", gguf.u8(255)],
    ["t.i8", gguf.i8(-128)],
    ["t.u16", gguf.u16(65535)],
    ["t.i16", gguf.i16(-32768)],
    ["t.u32", gguf.u32(4294967295)],
    ["t.i32", gguf.i32(-2147483648)],
    ["t.f32", gguf.f32(1.5)],
    ["t.bool", gguf.bool(true)],
    ["t.bool2", gguf.bool(false)],
    ["t.string", gguf.string("héllo ▁wörld 🦙")],
    ["t.empty", gguf.string("")],
    ["t.u64", gguf.u64(18446744073709551615n)],
    ["t.i64", gguf.i64(-9223372036854775808n)],
    ["t.f64", gguf.f64(Math.PI)],
    ["a.u8", gguf.array(GgufValueType.UINT8, new Uint8Array([1, 2, 255]))],
    ["a.i8", gguf.array(GgufValueType.INT8, new Int8Array([-1, 2]))],
    ["a.u16", gguf.array(GgufValueType.UINT16, new Uint16Array([7, 65535]))],
    ["a.i16", gguf.array(GgufValueType.INT16, new Int16Array([-7]))],
    ["a.u32", gguf.array(GgufValueType.UINT32, new Uint32Array([1, 4294967295]))],
    ["a.i32", gguf.array(GgufValueType.INT32, new Int32Array([-5, 5, 0]))],
    ["a.f32", gguf.array(GgufValueType.FLOAT32, new Float32Array([0.25, -1e30]))],
    ["a.bool", gguf.array(GgufValueType.BOOL, [true, false, true])],
    ["a.string", gguf.array(GgufValueType.STRING, ["a", "", "▁b"])],
    ["a.u64", gguf.array(GgufValueType.UINT64, new BigUint64Array([0n, 1n << 63n]))],
    ["a.i64", gguf.array(GgufValueType.INT64, new BigInt64Array([-1n]))],
    ["a.f64", gguf.array(GgufValueType.FLOAT64, new Float64Array([1e-300, 2]))],
    ["a.empty", gguf.array(GgufValueType.INT32, new Int32Array([]))],
    [
      "a.nested",
      gguf.array(GgufValueType.ARRAY, [
        { itemType: GgufValueType.STRING, items: ["x", "y"] },
        { itemType: GgufValueType.ARRAY, items: [{ itemType: GgufValueType.UINT8, items: new Uint8Array([9]) }] },
      ]),
    ],
  ];
}

function plain(v: unknown): unknown {
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<unknown>);
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

function tensorsOfEveryType(): Array<GgufWriterTensor & { values: Float32Array }> {
  const types = [GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0];
  return types.map((type, i) => {
    const dims = [64, 3];
    const values = randomFloats(64 * 3, 100 + i);
    return { name: `w.${ggmlTypeName(type)}`, dims, type, data: quantize(type, values), values };
  });
}

describe("writer → reader round trip", () => {
  it("round-trips every metadata value type and every tensor type", async () => {
    const meta = everyValueType();
    const tensors = tensorsOfEveryType();
    // A tensor of an unsupported type and one with 3 dims, produced lazily.
    tensors.push({
      name: "w.q4k",
      dims: [256, 2],
      type: GgmlType.Q4_K,
      data: () => new Uint8Array(288).fill(7),
      values: new Float32Array(0),
    });
    tensors.push({
      name: "w.3d",
      dims: [32, 2, 3],
      type: GgmlType.F32,
      data: async () => quantize(GgmlType.F32, randomFloats(192, 5)),
      values: randomFloats(192, 5),
    });
    const out = tmp("roundtrip.gguf");
    const progress: number[] = [];
    await writeGguf(out, { metadata: meta, tensors, onProgress: (p) => progress.push(p.tensorsDone) });
    expect(fs.existsSync(out + ".tmp")).toBe(false);
    expect(progress).toEqual([1, 2, 3, 4, 5, 6, 7]);

    const file = await readGguf(out);
    expect(file.version).toBe(3);
    expect(file.alignment).toBe(32);
    expect(file.dataOffset % 32).toBe(0);
    expect([...file.metadata.keys()]).toEqual(meta.map(([k]) => k));
    for (const [k, v] of meta) {
      const got = file.metadata.get(k)!;
      expect(got.type, k).toBe(v.type);
      expect(plain(got.value), k).toEqual(plain(v.value));
    }
    expect(file.getNumber("t.u32")).toBe(4294967295);
    expect(file.getNumber("t.f32")).toBe(1.5);
    expect(file.getString("t.string")).toBe("héllo ▁wörld 🦙");
    expect(file.getBool("t.bool")).toBe(true);
    expect(file.getStringArray("a.string")).toEqual(["a", "", "▁b"]);
    expect(Array.from(file.getNumberArray("a.i32"))).toEqual([-5, 5, 0]);
    expect(file.getNumber("missing.key", 42)).toBe(42);
    expect(() => file.getNumber("missing.key")).toThrow(/missing/);
    expect(() => file.getString("t.u32")).toThrow(GgufFormatError);
    expect(() => file.getNumber("t.string")).toThrow(GgufFormatError);
    expect(() => file.getNumber("t.u64")).toThrow(GgufFormatError); // does not fit a double exactly
    expect(() => file.getArray("t.u8")).toThrow(GgufFormatError);
    expect(() => file.getArray("a.i32", GgufValueType.FLOAT32)).toThrow(GgufFormatError);

    expect(file.tensors.map((t) => t.name)).toEqual(tensors.map((t) => t.name));
    for (const t of tensors) {
      const info = file.tensor(t.name)!;
      expect(info.dims).toEqual(t.dims);
      expect(info.type).toBe(t.type);
      expect(info.offset % 32).toBe(0);
      expect(info.offset).toBe(file.dataOffset + info.relativeOffset);
      expect(info.byteSize).toBe(tensorByteSize(t.type, t.dims));
      const bytes = await readTensorData(file, info);
      const expected = typeof t.data === "function" ? await t.data() : t.data;
      expect(Buffer.from(bytes).equals(Buffer.from(expected))).toBe(true);
      if (t.type !== GgmlType.Q4_K) {
        // decoded values are close to the originals
        const back = dequantizeToFloat64(t.type, bytes, info.nElements);
        const tol = t.type === GgmlType.Q4_0 ? 0.15 : t.type === GgmlType.Q8_0 ? 0.01 : 0.01;
        for (let i = 0; i < back.length; i++) expect(Math.abs(back[i] - t.values[i])).toBeLessThan(tol);
      }
    }
    // sync reader gives the same
    const sync = readGgufSync(out);
    expect(sync.tensors).toEqual(file.tensors);
    expect(sync.dataOffset).toBe(file.dataOffset);
  });

  it("honours general.alignment", async () => {
    const out = tmp("align.gguf");
    const tensors = tensorsOfEveryType();
    await writeGguf(out, { metadata: [["general.alignment", gguf.u32(256)]], tensors });
    const file = await readGguf(out);
    expect(file.alignment).toBe(256);
    expect(file.dataOffset % 256).toBe(0);
    for (const t of file.tensors) expect(t.offset % 256).toBe(0);
    // a reader Map can be passed back to the writer
    const copy = tmp("align-copy.gguf");
    await writeGguf(copy, {
      metadata: file.metadata,
      tensors: file.tensors.map((t) => ({ ...t, data: () => readTensorData(file, t) })),
    });
    expect(fs.readFileSync(copy).equals(fs.readFileSync(out))).toBe(true);
  });

  // How long parsing takes is the bench's business (tests assert no wall-clock times); this checks that a
  // Llama-sized vocabulary comes back whole, first to last, with its scores.
  it("parses a large vocabulary (32,000 strings) whole", async () => {
    const tokens = Array.from({ length: 32000 }, (_, i) => `▁tok${i}`);
    const scores = new Float32Array(32000).map((_, i) => -i);
    const out = tmp("vocab.gguf");
    await writeGguf(out, {
      metadata: [
        ["tokenizer.ggml.tokens", gguf.array(GgufValueType.STRING, tokens)],
        ["tokenizer.ggml.scores", gguf.array(GgufValueType.FLOAT32, scores)],
      ],
      tensors: [],
    });
    const file = await readGguf(out);
    expect(file.getStringArray("tokenizer.ggml.tokens")).toEqual(tokens);
    expect(Array.from(file.getArray("tokenizer.ggml.scores").items as Float32Array)).toEqual(Array.from(scores));
  });

  it("writes atomically and leaves nothing behind on failure", async () => {
    const out = tmp("fail.gguf");
    await expect(
      writeGguf(out, {
        metadata: [],
        tensors: [{ name: "x", dims: [32], type: GgmlType.F32, data: () => new Uint8Array(3) }],
      }),
    ).rejects.toThrow(/128 bytes/);
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.existsSync(out + ".tmp")).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Malformed files

function header(version = 3): Uint8Array {
  const { header: h } = encodeGgufHeader([["general.architecture", gguf.string("llama")]], []);
  const copy = new Uint8Array(h);
  new DataView(copy.buffer).setUint32(4, version, true);
  return copy;
}

async function expectReadError(bytes: Uint8Array, name: string, type: new (...a: never[]) => Error, re: RegExp): Promise<void> {
  const p = tmp(name);
  fs.writeFileSync(p, bytes);
  await expect(readGguf(p)).rejects.toThrow(type);
  await expect(readGguf(p)).rejects.toThrow(re);
  expect(() => readGgufSync(p)).toThrow(type);
}

describe("malformed files give typed errors", () => {
  it("not a GGUF file", async () => {
    await expectReadError(new TextEncoder().encode("PK\x03\x04 zip"), "zip.bin", GgufFormatError, /not a GGUF file: .*zip\.bin starts with/);
    await expectReadError(new Uint8Array(0), "empty.bin", GgufFormatError, /not a GGUF file/);
    await expectReadError(new TextEncoder().encode("GG"), "short.bin", GgufFormatError, /not a GGUF file/);
  });

  it("unknown version", async () => {
    await expectReadError(header(7), "v7.gguf", GgufFormatError, /unsupported GGUF version 7/);
    await expectReadError(header(1), "v1.gguf", GgufFormatError, /version 1/);
    // v2 has the same layout as v3
    const p = tmp("v2.gguf");
    fs.writeFileSync(p, header(2));
    expect((await readGguf(p)).version).toBe(2);
  });

  it("truncated header", async () => {
    const h = header();
    // cut in the middle of the architecture string
    await expectReadError(h.subarray(0, 40), "trunc-header.gguf", GgufTruncatedError, /truncated/);
    // cut inside the counts
    await expectReadError(h.subarray(0, 10), "trunc-counts.gguf", GgufTruncatedError, /truncated/);
  });

  it("string length past the end of the file", async () => {
    const h = new Uint8Array(header());
    // key length field of the first KV is at offset 24
    new DataView(h.buffer).setBigUint64(24, 1n << 40n, true);
    await expectReadError(h, "bad-strlen.gguf", GgufTruncatedError, /runs past the end/);
  });

  it("array count past the end of the file", async () => {
    const { header: h } = encodeGgufHeader([["a", gguf.array(GgufValueType.UINT32, new Uint32Array([1, 2]))]], []);
    const b = new Uint8Array(h);
    // 24: key len (8) + "a" (1) + type (4) + item type (4) → count at 41
    new DataView(b.buffer).setBigUint64(41, 1000000n, true);
    await expectReadError(b, "bad-arrlen.gguf", GgufTruncatedError, /claims 1000000 items/);
  });

  it("unknown value type", async () => {
    const b = new Uint8Array(header());
    // value type of the first KV: after key len (8) + key (20 bytes: "general.architecture")
    new DataView(b.buffer).setUint32(24 + 8 + 20, 77, true);
    await expectReadError(b, "bad-type.gguf", GgufFormatError, /unknown value type 77/);
  });

  it("truncated tensor data names the tensor", async () => {
    const out = tmp("full.gguf");
    await writeGguf(out, { metadata: [], tensors: tensorsOfEveryType() });
    const full = fs.readFileSync(out);
    await expectReadError(full.subarray(0, full.length - 40), "trunc-data.gguf", GgufTruncatedError, /tensor w\.Q4_0/);
  });

  it("parseGgufBuffer reports a short buffer", () => {
    expect(() => parseGgufBuffer(header().subarray(0, 30))).toThrow(GgufTruncatedError);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Model validation on small hand-built Llama files (no vocabulary: n_vocab from llama.vocab_size)

interface MiniOptions {
  arch?: string;
  qType?: number;
  badShape?: boolean;
  dropOutput?: boolean;
  tokens?: number;
}

async function writeMiniLlama(name: string, o: MiniOptions = {}): Promise<string> {
  const nEmbd = 64;
  const nFf = 96;
  const nVocab = 40;
  const nHead = 4;
  const nKv = 2;
  const kv = nKv * (nEmbd / nHead);
  const meta: Array<[string, GgufMetadataValue]> = [
    ["general.architecture", gguf.string(o.arch ?? "llama")],
    ["general.name", gguf.string("mini")],
    ["llama.context_length", gguf.u32(128)],
    ["llama.embedding_length", gguf.u32(nEmbd)],
    ["llama.block_count", gguf.u32(1)],
    ["llama.feed_forward_length", gguf.u32(nFf)],
    ["llama.attention.head_count", gguf.u32(nHead)],
    ["llama.attention.head_count_kv", gguf.u32(nKv)],
    ["llama.vocab_size", gguf.u32(nVocab)],
  ];
  if (o.tokens !== undefined) {
    meta.push([
      "tokenizer.ggml.tokens",
      gguf.array(
        GgufValueType.STRING,
        Array.from({ length: o.tokens }, (_, i) => `t${i}`),
      ),
    ]);
  }
  const w = o.qType ?? GgmlType.F16;
  const t = (n: string, dims: number[], type = w): GgufWriterTensor => ({
    name: n,
    dims,
    type,
    data: () => new Uint8Array(tensorByteSize(type, dims)),
  });
  const tensors = [
    t("token_embd.weight", [nEmbd, nVocab]),
    t("output_norm.weight", [nEmbd], GgmlType.F32),
    t("blk.0.attn_norm.weight", [nEmbd], GgmlType.F32),
    t("blk.0.attn_q.weight", [nEmbd, nEmbd]),
    t("blk.0.attn_k.weight", [nEmbd, o.badShape ? nEmbd : kv]),
    t("blk.0.attn_v.weight", [nEmbd, kv]),
    t("blk.0.attn_output.weight", [nEmbd, nEmbd]),
    t("blk.0.ffn_norm.weight", [nEmbd], GgmlType.F32),
    t("blk.0.ffn_gate.weight", [nEmbd, nFf]),
    t("blk.0.ffn_up.weight", [nEmbd, nFf]),
    t("blk.0.ffn_down.weight", [nFf, nEmbd]),
  ];
  if (!o.dropOutput) tensors.push(t("output.weight", [nEmbd, nVocab]));
  const out = tmp(name);
  await writeGguf(out, { metadata: meta, tensors });
  return out;
}

describe("Llama model validation", () => {
  it("accepts a consistent model and reads its config", async () => {
    const file = await readGguf(await writeMiniLlama("mini.gguf"));
    const { config, tensors } = validateLlamaModel(file);
    expect(config).toMatchObject({
      nLayer: 1,
      nEmbd: 64,
      nHead: 4,
      nHeadKv: 2,
      nFf: 96,
      nVocab: 40,
      nCtxTrain: 128,
      headDim: 16,
      ropeDim: 16,
      ropeFreqBase: 10000,
      tiedOutput: false,
    });
    expect(config.rmsEps).toBeCloseTo(1e-5, 10);
    expect(tensors.layers[0].attnK.dims).toEqual([64, 32]);
    const d = describeModel(file);
    expect(d.architecture).toBe("llama");
    expect(d.tensorTypes).toEqual({ F16: 9, F32: 3 });
    expect(d.hasChatTemplate).toBe(false);
  });

  it("tied output when output.weight is absent", async () => {
    const file = await readGguf(await writeMiniLlama("tied.gguf", { dropOutput: true }));
    const { config, tensors } = validateLlamaModel(file);
    expect(config.tiedOutput).toBe(true);
    expect(tensors.output.name).toBe("token_embd.weight");
  });

  it("unsupported architecture", async () => {
    const file = await readGguf(await writeMiniLlama("qwen.gguf", { arch: "qwen2" }));
    expect(() => validateLlamaModel(file)).toThrow(UnsupportedArchitectureError);
    expect(() => validateLlamaModel(file)).toThrow(/qwen2/);
  });

  it("unsupported tensor type", async () => {
    const file = await readGguf(await writeMiniLlama("q4k.gguf", { qType: GgmlType.Q4_1 }));
    expect(() => validateLlamaModel(file)).toThrow(UnsupportedTensorTypeError);
    expect(() => validateLlamaModel(file)).toThrow(/token_embd\.weight.*Q4_1 is not supported yet \(supported: F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K\)/);
  });

  it("inconsistent shapes", async () => {
    const file = await readGguf(await writeMiniLlama("badshape.gguf", { badShape: true }));
    expect(() => validateLlamaModel(file)).toThrow(ModelShapeError);
    expect(() => validateLlamaModel(file)).toThrow(/blk\.0\.attn_k\.weight has shape \[64, 64\], expected \[64, 32\]/);
  });

  it("vocabulary size mismatch", async () => {
    const file = await readGguf(await writeMiniLlama("badvocab.gguf", { tokens: 41 }));
    expect(() => validateLlamaModel(file)).toThrow(ModelShapeError);
    expect(() => validateLlamaModel(file)).toThrow(/41 tokens/);
  });

  it("each supported type validates", async () => {
    for (const q of [GgmlType.F32, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0]) {
      const file = await readGguf(await writeMiniLlama(`ok-${q}.gguf`, { qType: q }));
      expect(() => validateLlamaModel(file)).not.toThrow();
    }
  });
});

// Keep the GgufArray type import used (nested arrays are GgufArray values).
export type _Nested = GgufArray;
