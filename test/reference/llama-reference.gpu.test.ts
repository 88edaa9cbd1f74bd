import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeSyntheticModel } from "../../runtime/synth/synth.js";
import { openLlamaCppPeer } from "../peer/llama-cpp-peer.js";
import { LlamaReference, attention, kvHeadFor, matVec, rmsNorm, ropeNormal, silu, softmaxInPlace } from "./llama-reference.js";

const f64 = (xs: number[]) => Float64Array.from(xs);
const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-12) => {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(tol);
};

describe("reference pieces", () => {
  it("rmsNorm: x / sqrt(mean(x²) + eps) * weight", () => {
    const s = 1 / Math.sqrt(30 / 4 + 0.5); // mean(1,4,9,16) = 7.5
    close(rmsNorm(f64([1, 2, 3, 4]), [1, 1, 1, 2], 0.5), [s, 2 * s, 3 * s, 8 * s]);
  });

  it("matVec: row r of a ggml [ne0=in, ne1=out] weight is out-feature r", () => {
    // nIn = 3, nOut = 2: rows [1,2,3] and [4,5,6]
    close(matVec(f64([1, 2, 3, 4, 5, 6]), f64([1, 0, -1]), 3, 2), [-2, -2]);
    close(matVec(Float32Array.from([1, 2, 3, 4, 5, 6]), f64([0, 1, 0]), 3, 2), [2, 5]);
  });

  it("ropeNormal rotates adjacent pairs with θ = pos · base^(-2i/ropeDim)", () => {
    const v = f64([1, 0, 0, 1]);
    ropeNormal(v, 1, 4, 4, 1, 10000);
    // pair 0: θ = 1; pair 1: θ = 10000^(-2/4) = 0.01
    close(v, [Math.cos(1), Math.sin(1), -Math.sin(0.01), Math.cos(0.01)]);

    const w = f64([3, 4, 5, 6, 1, 2, 7, 8]); // two heads of 4
    ropeNormal(w, 2, 4, 4, 0, 10000);
    close(w, [3, 4, 5, 6, 1, 2, 7, 8]); // position 0 is the identity

    const p = f64([1, 2, 3, 4, 5, 6]); // head size 6, only the first 4 dims rotate
    ropeNormal(p, 1, 6, 4, 7, 500);
    expect([p[4], p[5]]).toEqual([5, 6]);
    close([Math.hypot(p[0], p[1]), Math.hypot(p[2], p[3])], [Math.hypot(1, 2), Math.hypot(3, 4)]);
    const t0 = 7;
    const t1 = 7 * Math.pow(500, -2 / 4);
    close(p.subarray(0, 4), [
      1 * Math.cos(t0) - 2 * Math.sin(t0),
      1 * Math.sin(t0) + 2 * Math.cos(t0),
      3 * Math.cos(t1) - 4 * Math.sin(t1),
      3 * Math.sin(t1) + 4 * Math.cos(t1),
    ]);
  });

  it("softmax is normalised and shift-invariant", () => {
    const a = f64([1, 2, 3]);
    softmaxInPlace(a);
    const e = [Math.exp(1), Math.exp(2), Math.exp(3)];
    const z = e[0] + e[1] + e[2];
    close(
      a,
      e.map((x) => x / z),
      1e-15,
    );
    const b = f64([1001, 1002, 1003]);
    softmaxInPlace(b);
    close(b, a, 1e-15);
  });

  it("attention: scaled dot product, causal (positions after pos are never read)", () => {
    // One head of size 1 → scale 1. Scores [0, ln 2] → weights [1/3, 2/3]; values [3, 6] → 5.
    const q = f64([1]);
    const k = f64([0, Math.log(2), 1e9]); // the third row is "the future": must be masked
    const v = f64([3, 6, 1e9]);
    close(attention(q, k, v, 1, 1, 1, 1), [5], 1e-12);
    close(attention(q, k, v, 0, 1, 1, 1), [3]);

    // Head size 4 → scale 1/2.
    const q4 = f64([2, 0, 0, 0]);
    const k4 = f64([0, 0, 0, 0, 1, 0, 0, 0]); // scores [0, 2·1/2 = 1]
    const v4 = f64([1, 0, 0, 0, 0, 1, 0, 0]);
    const w1 = Math.E / (1 + Math.E);
    close(attention(q4, k4, v4, 1, 1, 1, 4), [1 - w1, w1, 0, 0], 1e-15);
  });

  it("grouped-query attention: query head h reads KV head floor(h / (nHead / nHeadKv))", () => {
    expect(Array.from({ length: 8 }, (_, h) => kvHeadFor(h, 8, 2))).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
    expect(kvHeadFor(31, 32, 4)).toBe(3);
    expect(kvHeadFor(8, 32, 4)).toBe(1);
    // 4 query heads over 2 KV heads, head size 2, one position (weights are 1): out head h = V of its KV head.
    const q = new Float64Array(8).fill(1);
    const k = new Float64Array(4).fill(1);
    const v = f64([10, 11, 20, 21]);
    close(attention(q, k, v, 0, 4, 2, 2), [10, 11, 10, 11, 20, 21, 20, 21]);
  });

  it("silu(x) = x · sigmoid(x)", () => {
    expect(silu(0)).toBe(0);
    expect(silu(1)).toBeCloseTo(1 / (1 + Math.exp(-1)), 15);
    expect(silu(-40)).toBeCloseTo(0, 12);
  });
});

describe("reference vs llama.cpp on a synthetic tiny F32 model", () => {
  let dir = "";
  let path = "";

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "parley-ref-"));
    path = join(dir, "tiny-f32.gguf");
    await writeSyntheticModel({ shape: "tiny", type: "f32", seed: 1234, out: path });
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("agrees on top-1 for ≥ 99% of 96 teacher-forced positions, with tight logits", async () => {
    const peer = await openLlamaCppPeer({ gpu: false, threads: 2, kvCache: "f32" });
    try {
      const model = await peer.loadModel(path);
      const prompt = model.tokenize("<s>Once upon a time, in a village by the sea, there lived an old fisherman.", true);
      expect(prompt[0]).toBe(1);
      const tokens = [...prompt];
      for (let i = 0; tokens.length < 96; i++) tokens.push(3 + ((i * 7919 + 17) % 31_990)); // arbitrary ids
      const theirs = await model.teacherForcedLogits(tokens);
      await model.dispose();

      const ref = await LlamaReference.load(path);
      const ours = ref.forward(tokens);
      expect(ours.length).toBe(tokens.length);
      expect(theirs.length).toBe(tokens.length);

      let agree = 0;
      let maxRel = 0; // |Δ| relative to the row's largest |logit|
      let maxAbs = 0;
      for (let p = 0; p < tokens.length; p++) {
        const a = ours[p];
        const b = theirs[p];
        let ia = 0;
        let ib = 0;
        let scale = 0;
        for (let j = 0; j < a.length; j++) {
          if (a[j] > a[ia]) ia = j;
          if (b[j] > b[ib]) ib = j;
          scale = Math.max(scale, Math.abs(a[j]));
        }
        if (ia === ib) agree++;
        for (let j = 0; j < a.length; j++) {
          const d = Math.abs(a[j] - b[j]);
          maxAbs = Math.max(maxAbs, d);
          maxRel = Math.max(maxRel, d / scale);
        }
      }
      console.log(
        `reference vs llama.cpp (tiny F32, f32 KV cache): top-1 agreement ${agree}/${tokens.length}, ` +
          `max |Δlogit| ${maxAbs.toExponential(2)}, max relative error ${maxRel.toExponential(2)}`,
      );
      expect(agree / tokens.length).toBeGreaterThanOrEqual(0.99);
      expect(maxRel).toBeLessThan(1e-4);
    } finally {
      await peer.dispose();
    }
  });

  it("runs 256 positions of the tiny model (time reported), causally", async () => {
    const ref = await LlamaReference.load(path);
    const tokens = Array.from({ length: 256 }, (_, i) => (i === 0 ? 1 : 3 + ((i * 104_729) % 31_990)));
    const t0 = performance.now();
    const logits = ref.forward(tokens);
    const s = (performance.now() - t0) / 1000;
    console.log(`reference forward, tiny, 256 positions: ${s.toFixed(2)} s`);
    expect(logits.length).toBe(256);
    expect(logits[255].length).toBe(32_000);
    expect(logits.every((row) => row.every(Number.isFinite))).toBe(true);
    // Teacher forcing is causal: a prefix gives the same logits as the full run.
    const prefix = ref.forward(tokens.slice(0, 8));
    close(prefix[7], logits[7], 0);
  });
});
