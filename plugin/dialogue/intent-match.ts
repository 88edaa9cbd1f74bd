// Routes the player's words to an authored intent by combining two judges:
//   - the authored example phrases (and the description) of each intent, compared with the player's words
//     two ways: by word and character-trigram overlap (TF-IDF cosine) — good at wording the writer foresaw
//     and at typos — and by meaning, each word matched to its nearest word of the example in a space of word
//     vectors ("blade" ≈ "sword", "gossip" ≈ "rumour") — good at words the writer did not foresee. Cheap and
//     deterministic;
//   - the model's constrained choice among the intent ids (log-probabilities of each id) — good at meaning
//     the examples do not spell out.
// The two are multiplied as a product of experts, with "none of them" as one more outcome: the examples say
// how unlike every example the words are, the model (which always names an id) has no say on it. When the
// best intent's share stays under the node's confidence threshold the runner takes the node's fallback
// (never the first intent).
// Small models are confidently wrong often enough that neither judge alone is trusted with a branch.

import type { Intent } from "../types.js";
import type { WordVectors } from "./word-vectors.js";

/** Confidence under which an intent node takes its fallback, when the node does not set `minConfidence`. */
export const DEFAULT_MIN_CONFIDENCE = 0.5;

/** Example similarity at which the examples decide alone (the model is not asked). */
export const DECISIVE_SIMILARITY = 0.92;

/** Softmax temperature over example similarities (similarities are in [0, 1]). */
const EXAMPLE_TEMPERATURE = 0.07;

/**
 * The share of word overlap in an example's similarity when word vectors are at hand; meaning has the rest.
 * Overlap is exact but brittle (a paraphrase shares few words); meaning finds synonyms but also sees some
 * likeness between any two sentences.
 */
const OVERLAP_SHARE = 0.3;

/**
 * How much a word says, from its frequency rank: smooth inverse frequency, a / (a + p(word)), with p from
 * Zipf's law (p ≈ 0.1 / rank). "the" weighs ~0.1, a word of rank 1,000 ~0.9; a word the vectors do not know
 * (a name, a typo, a rare word) weighs 1.
 */
const SIF_A = 1e-3;

/**
 * How far the model's own certainty is trusted. Small models are overconfident: a paraphrase unlike anything
 * they were trained on can get a wrong id at 99%. Their distribution over the ids is tempered (log-probabilities
 * divided by MODEL_TEMPERATURE) and no id goes below MODEL_FLOOR, so a clear match in the examples can still
 * outvote them, while a model that is sure where the examples are silent still decides.
 */
const MODEL_TEMPERATURE = 3;
const MODEL_FLOOR = 0.02;

/**
 * The similarity of "none of the examples": it competes in the examples' softmax, so words that resemble no
 * example leave the examples undecided instead of crowning whichever intent happens to share a word.
 */
const UNMATCHED_SIMILARITY = 0.3;

export interface IntentScores {
  /** The chosen intent's index, or null when confidence is under the threshold. */
  index: number | null;
  /** The best intent's index (even when under the threshold). */
  best: number;
  /** Combined probability of each intent; what they leave to 1 is the share of "none of them". */
  probabilities: number[];
  /** Best example similarity of each intent, in [0, 1]. */
  similarities: number[];
  /** The model's log-probability of each intent id, when the model was asked. */
  logProbs: number[] | null;
  /** Which judges decided: the examples alone, the model alone (no examples authored), or both. */
  source: "examples" | "model" | "combined";
}

// ---------------------------------------------------------------------------------------------------
// Text to comparable features.

// Function words carry no intent. Question words, negations and "much"/"how" stay: they tell asking from buying.
const STOP = new Set(
  (
    "a an the is are am was were be been being to of and or but i you he she we they me my your our his her " +
    "it its this that these those do does did can could would will shall should may might must please " +
    "any some for in on at with by from as so just there here then than also too very really oh well " +
    "hey hi hello um uh er like got get have has had im ive id ill youre dont"
  ).split(" "),
);

const CONTRACTIONS: [RegExp, string][] = [
  [/\bwon't\b/g, "will not"],
  [/\bcan't\b/g, "can not"],
  [/n't\b/g, " not"],
  [/'re\b/g, " are"],
  [/'ve\b/g, " have"],
  [/'ll\b/g, " will"],
  [/'d\b/g, " would"],
  [/'m\b/g, " am"],
  [/'s\b/g, ""],
];

/** Lower-case, accents folded, contractions expanded, punctuation to spaces. */
export function normalizeText(text: string): string {
  let s = text
    .normalize("NFKD")
    .replace(/\p{M}+/gu, "")
    .toLowerCase()
    .replace(/[\u2018\u2019\u02bc`]/g, "'");
  for (const [re, to] of CONTRACTIONS) s = s.replace(re, to);
  return s.replace(/[^\p{L}\p{N}]+/gu, " ").trim();
}

/** A light suffix stripper: enough that "rumours"/"rumour", "buying"/"buy", "swords"/"sword" meet. */
export function stem(word: string): string {
  let w = word;
  if (w.length > 5 && w.endsWith("ing")) w = w.slice(0, -3);
  else if (w.length > 4 && w.endsWith("ied")) w = w.slice(0, -3) + "y";
  else if (w.length > 4 && w.endsWith("ed")) w = w.slice(0, -2);
  else if (w.length > 4 && w.endsWith("ies")) w = w.slice(0, -3) + "y";
  else if (w.length > 4 && /(sses|shes|ches|xes)$/.test(w)) w = w.slice(0, -2);
  else if (w.length > 3 && w.endsWith("s") && !w.endsWith("ss") && !w.endsWith("us")) w = w.slice(0, -1);
  // British and American spellings meet ("rumour"/"rumor", "armour"/"armor").
  if (w.length > 4 && w.endsWith("our")) w = w.slice(0, -3) + "or";
  return w;
}

function words(text: string): string[] {
  const out: string[] = [];
  for (const w of normalizeText(text).split(" ")) if (w && !STOP.has(w)) out.push(stem(w));
  return out;
}

function trigrams(ws: readonly string[]): string[] {
  const out: string[] = [];
  for (const w of ws) {
    const padded = ` ${w} `;
    for (let i = 0; i + 3 <= padded.length; i++) out.push(padded.slice(i, i + 3));
  }
  return out;
}

type Vector = Map<string, number>;

function counts(features: readonly string[]): Vector {
  const v: Vector = new Map();
  for (const f of features) v.set(f, (v.get(f) ?? 0) + 1);
  return v;
}

function weighted(v: Vector, idf: (f: string) => number): Vector {
  const out: Vector = new Map();
  for (const [f, n] of v) out.set(f, (1 + Math.log(n)) * idf(f));
  return out;
}

function cosine(a: Vector, b: Vector): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (const [f, x] of a) {
    na += x * x;
    const y = b.get(f);
    if (y !== undefined) dot += x * y;
  }
  for (const y of b.values()) nb += y * y;
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

// ---------------------------------------------------------------------------------------------------
// Meaning: soft word alignment over word vectors.

interface MeaningWord {
  stem: string;
  weight: number;
  /** Unit vector, or null when the vectors do not know the word (it then matches itself only). */
  vector: Float32Array | null;
}

function meaningWords(text: string, vectors: WordVectors): MeaningWord[] {
  const out: MeaningWord[] = [];
  for (const w of normalizeText(text).split(" ")) {
    if (!w || STOP.has(w)) continue;
    const s = stem(w);
    const known = vectors.rank(w) !== undefined ? w : vectors.rank(s) !== undefined ? s : null;
    const weight = known === null ? 1 : SIF_A / (SIF_A + 0.1 / (vectors.rank(known)! + 10));
    out.push({ stem: s, weight, vector: known === null ? null : vectors.unit(known) });
  }
  return out;
}

/** How well each word of `a` finds a word of like meaning in `b`, weighted by how much each word says. */
function alignment(a: readonly MeaningWord[], b: readonly MeaningWord[]): number {
  let matched = 0;
  let total = 0;
  for (const x of a) {
    total += x.weight;
    let best = 0;
    for (const y of b) {
      let sim = 0;
      if (x.stem === y.stem) sim = 1;
      else if (x.vector && y.vector) for (let k = 0; k < x.vector.length; k++) sim += x.vector[k] * y.vector[k];
      if (sim > best) best = sim;
    }
    matched += x.weight * best;
  }
  return total === 0 ? 0 : matched / total;
}

/** Symmetric: the player's words found in the example, and the example's words found in the player's. */
function meaningSimilarity(a: readonly MeaningWord[], b: readonly MeaningWord[]): number {
  return 0.5 * (alignment(a, b) + alignment(b, a));
}

// ---------------------------------------------------------------------------------------------------
// The example judge.

interface Document {
  intent: number;
  words: Vector;
  grams: Vector;
  meaning: MeaningWord[] | null;
}

/**
 * Compares player text with the authored examples of one intent node. Built once per node (the runner
 * keeps it), so scoring a line is a few vector products. Without word vectors it compares words only.
 */
export class IntentExamples {
  readonly intents: readonly Intent[];
  readonly #docs: Document[] = [];
  readonly #wordIdf: (f: string) => number;
  readonly #gramIdf: (f: string) => number;
  readonly #vectors: WordVectors | null;

  constructor(intents: readonly Intent[], wordVectors: WordVectors | null = null) {
    this.intents = intents;
    this.#vectors = wordVectors;
    const raw: { intent: number; words: Vector; grams: Vector; meaning: MeaningWord[] | null }[] = [];
    intents.forEach((intent, i) => {
      for (const text of [intent.description, ...(intent.examples ?? [])]) {
        const ws = words(text);
        const meaning = wordVectors ? meaningWords(text, wordVectors) : null;
        if (ws.length > 0) raw.push({ intent: i, words: counts(ws), grams: counts(trigrams(ws)), meaning });
      }
    });
    // Inverse document frequency over this node's examples: a word every intent uses tells them apart poorly.
    const idf = (key: "words" | "grams"): ((f: string) => number) => {
      const df = new Map<string, number>();
      for (const d of raw) for (const f of d[key].keys()) df.set(f, (df.get(f) ?? 0) + 1);
      const n = raw.length;
      return (f) => Math.log((n + 1) / ((df.get(f) ?? 0) + 1)) + 1;
    };
    this.#wordIdf = idf("words");
    this.#gramIdf = idf("grams");
    for (const d of raw)
      this.#docs.push({ intent: d.intent, words: weighted(d.words, this.#wordIdf), grams: weighted(d.grams, this.#gramIdf), meaning: d.meaning });
  }

  /** True when at least one intent has authored examples (the description alone is not enough to route). */
  get hasExamples(): boolean {
    return this.intents.some((i) => (i.examples?.length ?? 0) > 0);
  }

  /** Best similarity of `text` to each intent's examples and description, in [0, 1]. */
  similarities(text: string): number[] {
    const ws = words(text);
    const best = this.intents.map(() => 0);
    if (ws.length === 0) return best;
    const qWords = weighted(counts(ws), this.#wordIdf);
    const qGrams = weighted(counts(trigrams(ws)), this.#gramIdf);
    const qMeaning = this.#vectors ? meaningWords(text, this.#vectors) : null;
    // Each intent's best overlap and best meaning, each over all its examples: a paraphrase may share its words
    // with one example and its sense with another.
    const meaning = this.intents.map(() => 0);
    for (const d of this.#docs) {
      // Whole words say what is meant; trigrams forgive typos and word forms the stemmer misses.
      const s = 0.6 * cosine(qWords, d.words) + 0.4 * cosine(qGrams, d.grams);
      if (s > best[d.intent]) best[d.intent] = s;
      if (qMeaning && d.meaning) meaning[d.intent] = Math.max(meaning[d.intent], meaningSimilarity(qMeaning, d.meaning));
    }
    if (qMeaning) for (let i = 0; i < best.length; i++) best[i] = OVERLAP_SHARE * best[i] + (1 - OVERLAP_SHARE) * meaning[i];
    return best;
  }
}

function softmax(xs: readonly number[]): number[] {
  const m = Math.max(...xs);
  const e = xs.map((x) => Math.exp(x - m));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / sum);
}

/** Whether the examples alone settle it: one intent matches nearly word for word and no other comes close. */
export function examplesDecide(similarities: readonly number[]): boolean {
  const sorted = [...similarities].sort((a, b) => b - a);
  return sorted[0] >= DECISIVE_SIMILARITY && (sorted[1] ?? 0) < sorted[0] - 0.3;
}

/**
 * Combines the judges. `logProbs` is null when the model was not asked (no model loaded, or the examples
 * decided). With neither examples nor a model there is nothing to go on: the result is under any threshold.
 */
export function combineIntentScores(
  similarities: readonly number[],
  logProbs: readonly number[] | null,
  options: { hasExamples: boolean; minConfidence?: number },
): IntentScores {
  const n = similarities.length;
  const minConfidence = options.minConfidence ?? DEFAULT_MIN_CONFIDENCE;
  // Log-scores of the n intents and, last, of "none of them" (only the examples can speak for it).
  const logs = new Array<number>(n + 1).fill(0);
  if (!options.hasExamples) logs[n] = -Infinity;
  let source: IntentScores["source"];
  if (options.hasExamples) {
    const ex = softmax([...similarities, UNMATCHED_SIMILARITY].map((s) => s / EXAMPLE_TEMPERATURE));
    for (let i = 0; i <= n; i++) logs[i] += Math.log(ex[i]);
  }
  if (logProbs) {
    // The ids' sequence log-probabilities, renormalized over the ids (the model's share of belief in each),
    // tempered and floored as MODEL_TEMPERATURE says. On "none" the model has no opinion: every id as likely.
    const model = softmax(logProbs.map((l) => l / MODEL_TEMPERATURE));
    const floor = Math.min(MODEL_FLOOR, 1 / (2 * n));
    for (let i = 0; i < n; i++) logs[i] += Math.log(floor + (1 - n * floor) * model[i]);
    logs[n] += Math.log(1 / n);
  }
  if (options.hasExamples && logProbs) source = "combined";
  else if (logProbs) source = "model";
  else source = "examples";
  // The intents' shares, "none" taking what is left: they sum to 1 only when nothing speaks for "none".
  const probabilities = softmax(logs).slice(0, n);
  let best = 0;
  for (let i = 1; i < n; i++) if (probabilities[i] > probabilities[best]) best = i;
  const judged = options.hasExamples || logProbs !== null;
  const index = judged && probabilities[best] >= minConfidence ? best : null;
  return { index, best, probabilities, similarities: [...similarities], logProbs: logProbs ? [...logProbs] : null, source };
}
