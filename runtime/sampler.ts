// Token sampling over one step's logits, with llama.cpp's semantics and default chain order:
//   penalties → top-k → top-p → min-p → temperature → draw from the resulting distribution.
// Greedy (temperature ≤ 0) is the argmax of the penalized logits (ties → lowest token id).
//
// Efficiency: one pass copies the logits (penalties touch only the tokens in the history window);
// top-k uses a bounded min-heap (O(n log k)), so the full vocabulary is never sorted when top-k is on;
// top-p without top-k histograms the logits into buckets and sorts only the bucket where the
// cumulative probability crosses p. Typical calls on a 32,000-token vocabulary take well under a millisecond.

import { InvalidArgumentError } from "./errors.js";

export interface SamplingOptions {
  /** ≤ 0 → greedy (argmax). Default 0.8. */
  temperature?: number;
  /** Keep the k most likely tokens; 0 disables. Default 40. */
  topK?: number;
  /** Nucleus: smallest set with cumulative probability ≥ p; 1 disables. In (0, 1]. Default 0.95. */
  topP?: number;
  /** Keep tokens with p ≥ minP × p_max; 0 disables. In [0, 1]. Default 0.05. */
  minP?: number;
  /** Repetition penalty (> 0): positive logits are divided by it, negative ones multiplied. 1 disables. Default 1. */
  repeatPenalty?: number;
  /** How many of the most recent history tokens the penalties look at; 0 disables, -1 = the whole history. Default 64. */
  repeatLastN?: number;
  /** Subtracted once per occurrence of the token in the window. Default 0. */
  frequencyPenalty?: number;
  /** Subtracted once if the token occurs in the window at all. Default 0. */
  presencePenalty?: number;
  /** PRNG seed (a safe integer). Same seed + same logits sequence → same tokens. Default: random. */
  seed?: number;
}

/**
 * Sampling settings with every default filled in and every value checked (samplingSettings makes them): what
 * the session, the sampler and the GPU sampling loop read, unchanged from the caller's options to the addon.
 */
export interface SamplingSettings {
  readonly temperature: number;
  readonly topK: number;
  readonly topP: number;
  readonly minP: number;
  readonly repeatPenalty: number;
  readonly repeatLastN: number;
  readonly frequencyPenalty: number;
  readonly presencePenalty: number;
  /** undefined: the sampler seeds itself at random. */
  readonly seed: number | undefined;
}

export const DEFAULT_SAMPLING: Readonly<Required<Omit<SamplingOptions, "seed">>> = Object.freeze({
  temperature: 0.8,
  topK: 40,
  topP: 0.95,
  minP: 0.05,
  repeatPenalty: 1,
  repeatLastN: 64,
  frequencyPenalty: 0,
  presencePenalty: 0,
});

/** Index of the largest value; ties resolve to the lowest index. NaN entries are never chosen unless all are NaN (→ 0). */
export function argmax(logits: ArrayLike<number>): number {
  const n = logits.length;
  if (n === 0) throw new InvalidArgumentError("argmax: the logits array is empty");
  let best = 0;
  let bestVal = -Infinity;
  let found = false;
  for (let i = 0; i < n; i++) {
    const v = logits[i];
    if (v > bestVal || (!found && v === -Infinity)) {
      bestVal = v;
      best = i;
      found = true;
    }
  }
  return best;
}

// ---------------------------------------------------------------------------------------------
// PRNG: xoshiro128** (Blackman & Vigna), state seeded with splitmix32 from the 53-bit seed.

function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

export class Xoshiro128 {
  private a = 0;
  private b = 0;
  private c = 0;
  private d = 0;

  constructor(seed: number) {
    this.reseed(seed);
  }

  /** A generator with an explicit 128-bit state (for known-answer tests). */
  static fromState(a: number, b: number, c: number, d: number): Xoshiro128 {
    const g = new Xoshiro128(0);
    g.a = a | 0;
    g.b = b | 0;
    g.c = c | 0;
    g.d = d | 0;
    return g;
  }

  reseed(seed: number): void {
    const lo = seed >>> 0;
    const hi = Math.floor(seed / 4294967296) >>> 0;
    const st = { s: lo ^ Math.imul(hi, 0x27d4eb2d) ^ 0x5851f42d };
    this.a = splitmix32(st) | 0;
    this.b = splitmix32(st) | 0;
    this.c = splitmix32(st) | 0;
    this.d = splitmix32(st) | 0;
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1;
  }

  /** The 128-bit state as four unsigned 32-bit words (a, b, c, d): what the GPU sampling loop continues from. */
  get state(): Uint32Array {
    return Uint32Array.of(this.a, this.b, this.c, this.d);
  }

  set state(s: Uint32Array) {
    if (s.length !== 4 || (s[0] | s[1] | s[2] | s[3]) === 0) throw new InvalidArgumentError("Xoshiro128: the state must be 4 words, not all zero");
    this.a = s[0] | 0;
    this.b = s[1] | 0;
    this.c = s[2] | 0;
    this.d = s[3] | 0;
  }

  /** Next 32-bit unsigned integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  nextFloat(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

// ---------------------------------------------------------------------------------------------

function check(cond: boolean, message: string): void {
  if (!cond) throw new InvalidArgumentError(message);
}

/**
 * The sampling settings `options` ask for: DEFAULT_SAMPLING where a field is left out (or undefined), every
 * value checked (InvalidArgumentError naming the field). Other fields (a GenerateOptions' maxTokens, stop,
 * signal…) are not copied.
 */
export function samplingSettings(options: SamplingOptions = {}): SamplingSettings {
  if (options === null || typeof options !== "object") throw new InvalidArgumentError("Sampler: options must be an object");
  // Only undefined takes the default: any other value, null included, is checked as given.
  const given = (key: keyof typeof DEFAULT_SAMPLING): number => {
    const value = options[key];
    return value === undefined ? DEFAULT_SAMPLING[key] : value;
  };
  const o: SamplingSettings = {
    temperature: given("temperature"),
    topK: given("topK"),
    topP: given("topP"),
    minP: given("minP"),
    repeatPenalty: given("repeatPenalty"),
    repeatLastN: given("repeatLastN"),
    frequencyPenalty: given("frequencyPenalty"),
    presencePenalty: given("presencePenalty"),
    seed: options.seed,
  };
  check(
    typeof o.temperature === "number" && Number.isFinite(o.temperature),
    `Sampler: temperature must be a finite number (≤ 0 means greedy), got ${o.temperature}`,
  );
  check(Number.isInteger(o.topK) && o.topK >= 0, `Sampler: topK must be an integer ≥ 0 (0 disables), got ${o.topK}`);
  check(typeof o.topP === "number" && o.topP > 0 && o.topP <= 1, `Sampler: topP must be in (0, 1] (1 disables), got ${o.topP}`);
  check(typeof o.minP === "number" && o.minP >= 0 && o.minP <= 1, `Sampler: minP must be in [0, 1] (0 disables), got ${o.minP}`);
  check(
    typeof o.repeatPenalty === "number" && Number.isFinite(o.repeatPenalty) && o.repeatPenalty > 0,
    `Sampler: repeatPenalty must be a finite number > 0 (1 disables), got ${o.repeatPenalty}`,
  );
  check(
    Number.isInteger(o.repeatLastN) && o.repeatLastN >= -1,
    `Sampler: repeatLastN must be an integer ≥ -1 (0 disables, -1 = whole history), got ${o.repeatLastN}`,
  );
  check(
    typeof o.frequencyPenalty === "number" && Number.isFinite(o.frequencyPenalty),
    `Sampler: frequencyPenalty must be a finite number, got ${o.frequencyPenalty}`,
  );
  check(
    typeof o.presencePenalty === "number" && Number.isFinite(o.presencePenalty),
    `Sampler: presencePenalty must be a finite number, got ${o.presencePenalty}`,
  );
  if (o.seed !== undefined) {
    check(Number.isSafeInteger(o.seed), `Sampler: seed must be a safe integer, got ${o.seed}`);
  }
  return Object.freeze(o);
}

/** Whether the penalties change any logit: a window of 0, or neutral values, leave every logit as it is. */
export function hasPenalties(s: SamplingSettings): boolean {
  return s.repeatLastN !== 0 && (s.repeatPenalty !== 1 || s.frequencyPenalty !== 0 || s.presencePenalty !== 0);
}

export class Sampler {
  readonly options: SamplingSettings;
  private readonly rng: Xoshiro128;

  // Scratch buffers, reused across calls (resized when the vocabulary size changes).
  private work = new Float64Array(0); // penalized logits, indexed by token id
  private candIds = new Int32Array(0); // candidate token ids
  private candLogits = new Float64Array(0); // candidate logits, parallel to candIds
  private probs = new Float64Array(0);
  private readonly counts = new Map<number, number>();
  private bucketOf = new Uint16Array(0);
  private readonly bucketMass = new Float64Array(NUCLEUS_BUCKETS);

  constructor(opts: SamplingOptions = {}) {
    this.options = samplingSettings(opts);
    const seed = this.options.seed ?? Math.floor(Math.random() * 2 ** 32);
    this.rng = new Xoshiro128(seed);
  }

  get isGreedy(): boolean {
    return this.options.temperature <= 0;
  }

  /**
   * @internal The random generator's state, for the GPU sampling loop (Session.generate), which draws from
   * the same stream on the device and hands the state back.
   */
  get rngState(): Uint32Array {
    return this.rng.state;
  }

  set rngState(state: Uint32Array) {
    this.rng.state = state;
  }

  /** Restart the random stream (same as constructing a new sampler with this seed). */
  reseed(seed: number): void {
    check(Number.isSafeInteger(seed), `Sampler: seed must be a safe integer, got ${seed}`);
    this.rng.reseed(seed);
  }

  /**
   * Pick the next token. `history` is the token sequence so far (prompt + generated, oldest first);
   * the penalties look at its last `repeatLastN` entries. A non-greedy call consumes exactly one
   * draw from the PRNG.
   */
  sample(logits: Float32Array | Float64Array, history: ArrayLike<number> = []): number {
    const n = logits.length;
    if (n === 0) throw new InvalidArgumentError("Sampler.sample: the logits array is empty");
    const o = this.options;
    if (this.work.length !== n) {
      this.work = new Float64Array(n);
      this.candIds = new Int32Array(n);
      this.candLogits = new Float64Array(n);
      this.probs = new Float64Array(n);
    }
    const work = this.work;
    work.set(logits);

    // 1. Penalties over the last repeatLastN history tokens.
    this.applyPenalties(work, history);

    // Greedy: argmax of the penalized logits. (Also when the top logit is ±inf: nothing else is drawable.)
    const best = argmax(work);
    if (this.isGreedy || !Number.isFinite(work[best])) return best;

    // 2. top-k (→ sorted descending) or the whole vocabulary (unsorted).
    let size: number;
    let sorted = false; // candidates in descending logit order?
    const ids = this.candIds;
    const vals = this.candLogits;
    if (o.topK > 0 && o.topK < n) {
      size = selectTopK(work, o.topK, ids);
      for (let i = 0; i < size; i++) vals[i] = work[ids[i]];
      sorted = true;
    } else {
      size = 0;
      for (let i = 0; i < n; i++) {
        // Tokens already at -inf (e.g. masked by the caller) can never be drawn.
        if (work[i] !== -Infinity) {
          ids[size] = i;
          vals[size] = work[i];
          size++;
        }
      }
    }

    // 3. top-p.
    if (o.topP < 1 && size > 1) {
      size = sorted ? nucleusSorted(vals, size, o.topP, this.probs) : this.nucleusUnsorted(size, o.topP);
    }

    // 4. min-p: keep logit ≥ maxLogit + ln(minP)  ⇔  p ≥ minP · p_max (probabilities over the current set).
    if (o.minP > 0 && size > 1) {
      let maxL = -Infinity;
      for (let i = 0; i < size; i++) if (vals[i] > maxL) maxL = vals[i];
      const threshold = maxL + Math.log(o.minP);
      let w = 0;
      for (let i = 0; i < size; i++) {
        if (vals[i] >= threshold) {
          ids[w] = ids[i];
          vals[w] = vals[i];
          w++;
        }
      }
      size = w; // the max always survives, so size ≥ 1
    }

    // 5. temperature, 6. softmax and one draw.
    const invT = 1 / o.temperature;
    let maxL = -Infinity;
    for (let i = 0; i < size; i++) if (vals[i] > maxL) maxL = vals[i];
    const p = this.probs;
    let sum = 0;
    for (let i = 0; i < size; i++) {
      const e = Math.exp((vals[i] - maxL) * invT);
      p[i] = e;
      sum += e;
    }
    const r = this.rng.nextFloat() * sum;
    let acc = 0;
    for (let i = 0; i < size; i++) {
      acc += p[i];
      if (r < acc) return ids[i];
    }
    // Rounding left r ≥ acc: take the last candidate with non-zero weight.
    for (let i = size - 1; i >= 0; i--) if (p[i] > 0) return ids[i];
    return ids[0];
  }

  private applyPenalties(work: Float64Array, history: ArrayLike<number>): void {
    const o = this.options;
    if (!hasPenalties(o)) return;
    const len = history.length;
    if (len === 0) return;
    const start = o.repeatLastN < 0 ? 0 : Math.max(0, len - o.repeatLastN);
    const counts = this.counts;
    counts.clear();
    for (let i = start; i < len; i++) {
      const t = history[i];
      if (Number.isInteger(t) && t >= 0 && t < work.length) counts.set(t, (counts.get(t) ?? 0) + 1);
    }
    for (const [t, count] of counts) {
      let l = work[t];
      if (l <= 0) l *= o.repeatPenalty;
      else l /= o.repeatPenalty;
      l -= count * o.frequencyPenalty + o.presencePenalty;
      work[t] = l;
    }
  }

  /**
   * Top-p over all `size` unsorted candidates in candIds/candLogits, without sorting them all:
   * the candidates are histogrammed by logit into NUCLEUS_BUCKETS equal-width buckets (bucket 0 holds
   * the highest logits) with each bucket's probability mass; walking buckets from the top finds the
   * bucket where the cumulative mass crosses p. Buckets above it are kept whole, and only that
   * boundary bucket is sorted to find the exact cut. Leaves the kept set (buckets above the boundary
   * in id order, then the boundary prefix in descending order) in candIds/candLogits; returns its size.
   */
  private nucleusUnsorted(size: number, p: number): number {
    const ids = this.candIds;
    const vals = this.candLogits;
    let maxL = -Infinity;
    let minL = Infinity;
    for (let i = 0; i < size; i++) {
      const v = vals[i];
      if (v > maxL) maxL = v;
      if (v < minL) minL = v;
    }
    const B = NUCLEUS_BUCKETS;
    if (this.bucketOf.length < size) this.bucketOf = new Uint16Array(size);
    const bucketOf = this.bucketOf;
    const mass = this.bucketMass;
    mass.fill(0);
    const scale = maxL > minL ? (B - 1) / (maxL - minL) : 0;
    let sum = 0;
    for (let i = 0; i < size; i++) {
      const d = maxL - vals[i];
      const x = Math.exp(-d);
      let b = (d * scale) | 0;
      if (b > B - 1) b = B - 1;
      bucketOf[i] = b;
      mass[b] += x;
      sum += x;
    }
    const target = p * sum;

    let boundary = -1;
    let acc = 0;
    let lastNonEmpty = 0;
    for (let b = 0; b < B; b++) {
      if (mass[b] === 0) continue;
      lastNonEmpty = b;
      if (acc + mass[b] >= target) {
        boundary = b;
        break;
      }
      acc += mass[b];
    }
    if (boundary < 0) boundary = lastNonEmpty; // rounding: keep everything

    // Compact the buckets above the boundary in place; set the boundary bucket's members aside.
    const edgeIds: number[] = [];
    let w = 0;
    for (let i = 0; i < size; i++) {
      const b = bucketOf[i];
      if (b < boundary) {
        ids[w] = ids[i];
        vals[w] = vals[i];
        w++;
      } else if (b === boundary) {
        edgeIds.push(ids[i]);
      }
    }
    const work = this.work;
    edgeIds.sort((x, y) => work[y] - work[x] || x - y);
    for (const id of edgeIds) {
      ids[w] = id;
      vals[w] = work[id];
      w++;
      acc += Math.exp(work[id] - maxL);
      if (acc >= target) break;
    }
    return w;
  }
}

const NUCLEUS_BUCKETS = 1024;

/** Top-p over a candidate list already sorted descending; returns the kept prefix length (≥ 1). */
function nucleusSorted(vals: Float64Array, size: number, p: number, scratch: Float64Array): number {
  const maxL = vals[0];
  let sum = 0;
  for (let i = 0; i < size; i++) {
    scratch[i] = Math.exp(vals[i] - maxL);
    sum += scratch[i];
  }
  const target = p * sum;
  let acc = 0;
  for (let i = 0; i < size; i++) {
    acc += scratch[i];
    if (acc >= target) return i + 1;
  }
  return size;
}

/** "a ranks above b": higher logit, ties → lower id. */
function above(values: Float64Array, a: number, b: number): boolean {
  const va = values[a];
  const vb = values[b];
  return va > vb || (va === vb && a < b);
}

/**
 * Writes the ids of the k highest values (over all ids 0..n-1) into out[0..k), sorted descending
 * (ties → lower id). Bounded min-heap: O(n log k). Returns k.
 */
function selectTopK(values: Float64Array, k: number, out: Int32Array): number {
  const n = values.length;
  const heap = new Int32Array(k); // min-heap: heap[0] ranks lowest
  let h = 0;
  for (let i = 0; i < n; i++) {
    if (h < k) {
      heap[h] = i;
      siftUp(values, heap, h);
      h++;
    } else if (above(values, i, heap[0])) {
      heap[0] = i;
      siftDown(values, heap, h);
    }
  }
  return drainHeap(values, heap, h, out);
}

function drainHeap(values: Float64Array, heap: Int32Array, h: number, out: Int32Array): number {
  const count = h;
  // Pop the minimum repeatedly, filling `out` from the back → descending order.
  while (h > 0) {
    out[h - 1] = heap[0];
    h--;
    heap[0] = heap[h];
    siftDown(values, heap, h);
  }
  return count;
}

function siftUp(values: Float64Array, heap: Int32Array, i: number): void {
  const x = heap[i];
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (above(values, heap[parent], x)) {
      heap[i] = heap[parent];
      i = parent;
    } else break;
  }
  heap[i] = x;
}

function siftDown(values: Float64Array, heap: Int32Array, h: number): void {
  if (h === 0) return;
  let i = 0;
  const x = heap[0];
  for (;;) {
    const l = 2 * i + 1;
    if (l >= h) break;
    const r = l + 1;
    const c = r < h && above(values, heap[l], heap[r]) ? r : l;
    if (above(values, x, heap[c])) {
      heap[i] = heap[c];
      i = c;
    } else break;
  }
  heap[i] = x;
}
