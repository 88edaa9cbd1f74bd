import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../../runtime/errors.js";
import { Sampler, Xoshiro128, argmax, type SamplingOptions } from "../../runtime/sampler.js";

const f32 = (xs: number[]) => Float32Array.from(xs);

/** Natural-log logits whose softmax is exactly `probs` (up to f32 rounding). */
const logitsOf = (probs: number[]) => f32(probs.map((p) => Math.log(p)));

function draw(opts: SamplingOptions, logits: Float32Array, n: number, history: number[] = []): Map<number, number> {
  const s = new Sampler(opts);
  const counts = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const t = s.sample(logits, history);
    counts.set(t, (counts.get(t) ?? 0) + 1);
  }
  return counts;
}

const keys = (m: Map<number, number>) => [...m.keys()].sort((a, b) => a - b);

/** Straightforward (full-sort) implementation of the llama.cpp chain → final probability per token. */
function bruteForce(logits: Float32Array, o: Required<Omit<SamplingOptions, "seed">>, history: number[]): Map<number, number> {
  const l = Array.from(logits, (x) => x);
  const win = o.repeatLastN < 0 ? history : o.repeatLastN === 0 ? [] : history.slice(-o.repeatLastN);
  const cnt = new Map<number, number>();
  for (const t of win) cnt.set(t, (cnt.get(t) ?? 0) + 1);
  for (const [t, c] of cnt) {
    l[t] = l[t] <= 0 ? l[t] * o.repeatPenalty : l[t] / o.repeatPenalty;
    l[t] -= c * o.frequencyPenalty + o.presencePenalty;
  }
  let cand = l.map((v, id) => ({ id, v })).sort((a, b) => b.v - a.v || a.id - b.id);
  if (o.topK > 0) cand = cand.slice(0, o.topK);
  const softmax = (c: { v: number }[]) => {
    const m = Math.max(...c.map((x) => x.v));
    const e = c.map((x) => Math.exp(x.v - m));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((x) => x / s);
  };
  if (o.topP < 1) {
    const p = softmax(cand);
    let acc = 0;
    let keep = cand.length;
    for (let i = 0; i < p.length; i++) {
      acc += p[i];
      if (acc >= o.topP) {
        keep = i + 1;
        break;
      }
    }
    cand = cand.slice(0, keep);
  }
  if (o.minP > 0) {
    const p = softmax(cand);
    const pmax = Math.max(...p);
    cand = cand.filter((_, i) => p[i] >= o.minP * pmax * (1 - 1e-12));
  }
  const p = softmax(cand.map((c) => ({ v: c.v / o.temperature })));
  return new Map(cand.map((c, i) => [c.id, p[i]]));
}

describe("argmax", () => {
  it("returns the index of the largest value, lowest index on ties", () => {
    expect(argmax(f32([1, 3, 2]))).toBe(1);
    expect(argmax(f32([5, 1, 5, 5]))).toBe(0);
    expect(argmax(f32([-Infinity, -Infinity]))).toBe(0);
    expect(argmax(f32([NaN, 2, NaN]))).toBe(1);
  });
});

describe("Xoshiro128**", () => {
  it("matches the reference outputs for state {1,2,3,4}", () => {
    const g = Xoshiro128.fromState(1, 2, 3, 4);
    expect([g.nextU32(), g.nextU32(), g.nextU32()]).toEqual([11520, 0, 5927040]);
  });
  it("gives uniform floats in [0,1)", () => {
    const g = new Xoshiro128(42);
    let sum = 0;
    for (let i = 0; i < 100_000; i++) {
      const x = g.nextFloat();
      expect(x >= 0 && x < 1).toBe(true);
      sum += x;
    }
    expect(Math.abs(sum / 100_000 - 0.5)).toBeLessThan(0.01);
  });
  it("hands its state out and continues from a state handed in (the GPU sampling loop's hand-over)", () => {
    const a = new Xoshiro128(7);
    a.nextU32();
    const b = new Xoshiro128(99);
    b.state = a.state;
    expect(Array.from(b.state)).toEqual(Array.from(a.state));
    expect([b.nextU32(), b.nextU32()]).toEqual([a.nextU32(), a.nextU32()]);
    expect(Array.from(Xoshiro128.fromState(1, 2, 3, 4).state)).toEqual([1, 2, 3, 4]);
    // Words are unsigned; the all-zero state (a fixed point of the generator) is refused.
    expect(Array.from(Xoshiro128.fromState(-1, 0, 0, 0).state)).toEqual([0xffffffff, 0, 0, 0]);
    expect(() => (b.state = new Uint32Array(4))).toThrow(InvalidArgumentError);
    expect(() => (b.state = new Uint32Array(3))).toThrow(InvalidArgumentError);
  });
});

describe("Sampler: greedy and penalties", () => {
  it("is greedy at temperature ≤ 0 and breaks ties toward the lowest id", () => {
    const s = new Sampler({ temperature: 0 });
    expect(s.isGreedy).toBe(true);
    expect(s.sample(f32([0.1, 0.7, 0.7, 0.2]), [])).toBe(1);
    expect(new Sampler({ temperature: -1 }).isGreedy).toBe(true);
    expect(new Sampler({ temperature: 0.5 }).isGreedy).toBe(false);
  });

  it("divides positive logits and multiplies negative ones by the repeat penalty", () => {
    const g = (logits: number[], history: number[], o: SamplingOptions) => new Sampler({ temperature: 0, ...o }).sample(f32(logits), history);
    // 2 / 2 = 1 < 1.5 → token 1; 2 / 1.2 = 1.67 > 1.5 → token 0
    expect(g([2, 1.5, -1], [0], { repeatPenalty: 2 })).toBe(1);
    expect(g([2, 1.5, -1], [0], { repeatPenalty: 1.2 })).toBe(0);
    // -1 * 2 = -2 < -1.5 → token 1
    expect(g([-1, -1.5], [0], { repeatPenalty: 2 })).toBe(1);
    // a count of 3 is penalized once by the repeat penalty
    expect(g([2, 1.5], [0, 0, 0], { repeatPenalty: 1.2 })).toBe(0);
  });

  it("applies frequency (× count) and presence penalties", () => {
    const g = (o: SamplingOptions) => new Sampler({ temperature: 0, ...o }).sample(f32([3, 2]), [0, 0]);
    expect(g({ frequencyPenalty: 0.6 })).toBe(1); // 3 - 1.2 = 1.8
    expect(g({ frequencyPenalty: 0.4 })).toBe(0); // 3 - 0.8 = 2.2
    expect(g({ presencePenalty: 1.1 })).toBe(1); // 3 - 1.1 = 1.9
    expect(g({ presencePenalty: 0.9 })).toBe(0); // 3 - 0.9 = 2.1
  });

  it("only looks at the last repeatLastN tokens (0 disables, -1 = all)", () => {
    const g = (n: number) => new Sampler({ temperature: 0, repeatPenalty: 4, repeatLastN: n }).sample(f32([2, 1]), [0, 3, 3]);
    expect(g(2)).toBe(0);
    expect(g(3)).toBe(1);
    expect(g(0)).toBe(0);
    expect(g(-1)).toBe(1);
  });

  it("does not modify the caller's logits", () => {
    const l = f32([2, 1]);
    new Sampler({ temperature: 0, repeatPenalty: 4 }).sample(l, [0]);
    expect(Array.from(l)).toEqual([2, 1]);
  });
});

describe("Sampler: truncation", () => {
  const probs = [0.5, 0.3, 0.15, 0.05];
  const base: SamplingOptions = { temperature: 1, topK: 0, topP: 1, minP: 0, seed: 7 };

  it("top-k keeps the k most likely tokens", () => {
    expect(keys(draw({ ...base, topK: 1, temperature: 5 }, logitsOf(probs), 500))).toEqual([0]);
    expect(keys(draw({ ...base, topK: 3, temperature: 5 }, logitsOf(probs), 3000))).toEqual([0, 1, 2]);
    expect(keys(draw({ ...base, temperature: 5 }, logitsOf(probs), 3000))).toEqual([0, 1, 2, 3]);
  });

  it("top-p keeps the smallest set reaching cumulative probability p (at least one token)", () => {
    expect(keys(draw({ ...base, topP: 0.75 }, logitsOf(probs), 3000))).toEqual([0, 1]);
    expect(keys(draw({ ...base, topP: 0.81 }, logitsOf(probs), 3000))).toEqual([0, 1, 2]);
    expect(keys(draw({ ...base, topP: 0.01 }, logitsOf(probs), 500))).toEqual([0]);
  });

  it("min-p keeps tokens with p ≥ minP · p_max", () => {
    expect(keys(draw({ ...base, minP: 0.25 }, logitsOf(probs), 3000))).toEqual([0, 1, 2]); // ≥ 0.125
    expect(keys(draw({ ...base, minP: 0.7 }, logitsOf(probs), 500))).toEqual([0]); // 0.3 < 0.35
  });

  it("applies min-p before temperature (temperature does not change the kept set)", () => {
    expect(keys(draw({ ...base, minP: 0.25, temperature: 100 }, logitsOf(probs), 3000))).toEqual([0, 1, 2]);
  });

  it("matches a brute-force chain on the output distribution", () => {
    const g = new Xoshiro128(3);
    const logits = new Float32Array(60);
    for (let i = 0; i < logits.length; i++) logits[i] = (g.nextFloat() - 0.5) * 6;
    const history = [3, 7, 7, 11, 59, 0];
    const o = { temperature: 0.7, topK: 20, topP: 0.9, minP: 0.05, repeatPenalty: 1.3, repeatLastN: 5, frequencyPenalty: 0.1, presencePenalty: 0.2 };
    const expected = bruteForce(logits, o, history);
    const n = 40_000;
    const got = draw({ ...o, seed: 99 }, logits, n, history);
    for (const t of got.keys()) expect(expected.has(t)).toBe(true);
    for (const [t, p] of expected) {
      const freq = (got.get(t) ?? 0) / n;
      expect(Math.abs(freq - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / n) + 1e-3);
    }
  });

  it("top-p over a large unsorted vocabulary keeps exactly the nucleus", () => {
    // Nearly flat logits → a wide nucleus (exercises the grow-and-select and full-sort paths).
    for (const spread of [0.5, 8]) {
      const g = new Xoshiro128(11);
      const logits = new Float32Array(32_000);
      for (let i = 0; i < logits.length; i++) logits[i] = g.nextFloat() * spread;
      const o = { temperature: 1, topK: 0, topP: 0.9, minP: 0, repeatPenalty: 1, repeatLastN: 64, frequencyPenalty: 0, presencePenalty: 0 };
      const expected = bruteForce(logits, o, []);
      const got = draw({ ...o, seed: 5 }, logits, 1000);
      for (const t of got.keys()) expect(expected.has(t)).toBe(true);
      // The least likely kept token is the boundary; a token just outside must never appear.
      expect(expected.size).toBeLessThan(32_000);
    }
  });
});

describe("Sampler: temperature and seeding", () => {
  it("follows softmax(logits / T)", () => {
    const logits = f32([1, 0.5, 0]);
    const T = 0.5;
    const e = [1, 0.5, 0].map((x) => Math.exp(x / T));
    const z = e.reduce((a, b) => a + b);
    const n = 30_000;
    const got = draw({ temperature: T, topK: 0, topP: 1, minP: 0, seed: 1 }, logits, n);
    for (let t = 0; t < 3; t++) {
      const p = e[t] / z;
      expect(Math.abs((got.get(t) ?? 0) / n - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / n));
    }
  });

  it("is reproducible for a seed and differs across seeds", () => {
    const g = new Xoshiro128(123);
    const steps: Float32Array[] = [];
    for (let s = 0; s < 64; s++) {
      const l = new Float32Array(1000);
      for (let i = 0; i < l.length; i++) l[i] = g.nextFloat() * 3;
      steps.push(l);
    }
    const run = (seed: number) => {
      const s = new Sampler({ seed, topK: 0, topP: 1, minP: 0, temperature: 1 });
      const out: number[] = [];
      for (const l of steps) out.push(s.sample(l, out));
      return out;
    };
    expect(run(1)).toEqual(run(1));
    expect(run(1)).not.toEqual(run(2));
    const s = new Sampler({ seed: 1, topK: 0, topP: 1, minP: 0, temperature: 1 });
    const first = steps.slice(0, 8).map((l) => s.sample(l, []));
    s.reseed(1);
    expect(steps.slice(0, 8).map((l) => s.sample(l, []))).toEqual(first);
  });

  it("uses llama.cpp's defaults", () => {
    const s = new Sampler();
    expect(s.options).toMatchObject({ temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05, repeatPenalty: 1, repeatLastN: 64 });
    // undefined fields fall back to defaults
    expect(new Sampler({ topK: undefined }).options.topK).toBe(40);
  });
});

describe("Sampler: validation", () => {
  const bad: SamplingOptions[] = [
    { topK: -1 },
    { topK: 1.5 },
    { topP: 0 },
    { topP: 1.2 },
    { topP: NaN },
    { minP: -0.1 },
    { minP: 2 },
    { temperature: NaN },
    { temperature: Infinity },
    { repeatPenalty: 0 },
    { repeatPenalty: NaN },
    { repeatLastN: -2 },
    { frequencyPenalty: NaN },
    { presencePenalty: Infinity },
    { seed: 1.5 },
    { seed: NaN },
  ];
  for (const o of bad) {
    it(`rejects ${JSON.stringify(o, (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v))}`, () => {
      expect(() => new Sampler(o)).toThrow(InvalidArgumentError);
    });
  }
  it("names the option in the message", () => {
    expect(() => new Sampler({ topP: 1.5 })).toThrow(/topP/);
  });
  it("rejects empty logits", () => {
    expect(() => new Sampler().sample(new Float32Array(0), [])).toThrow(InvalidArgumentError);
  });
});

describe("Sampler: speed on a 32,000-token vocabulary", () => {
  // Speed is reported, not asserted (tests never assert wall-clock times); the calls must stay valid.
  it("reports ms per call; every call returns a token of the vocabulary", () => {
    const g = new Xoshiro128(9);
    const logits = new Float32Array(32_000);
    for (let i = 0; i < logits.length; i++) logits[i] = (g.nextFloat() - 0.5) * 20;
    const history = Array.from({ length: 256 }, (_, i) => (i * 97) % 32_000);
    const configs: SamplingOptions[] = [
      { seed: 1 }, // defaults: top-k 40, top-p 0.95, min-p 0.05
      { seed: 1, topK: 0 }, // top-p over the whole vocabulary
      { seed: 1, repeatPenalty: 1.1, frequencyPenalty: 0.1, presencePenalty: 0.1 },
      { temperature: 0 },
    ];
    for (const o of configs) {
      const s = new Sampler(o);
      for (let i = 0; i < 50; i++) s.sample(logits, history); // warm up
      const n = 300;
      const t0 = performance.now();
      let invalid = 0;
      for (let i = 0; i < n; i++) {
        const t = s.sample(logits, history);
        if (!(Number.isInteger(t) && t >= 0 && t < logits.length)) invalid++;
      }
      const ms = (performance.now() - t0) / n;
      expect(invalid).toBe(0);
      console.log(`sampler ${JSON.stringify(o)}: ${ms.toFixed(3)} ms/call`);
      // Measured ≈ 0.2 ms (defaults) and ≈ 0.9 ms (top-p over the whole vocabulary) on an idle core.
    }
  });
});
