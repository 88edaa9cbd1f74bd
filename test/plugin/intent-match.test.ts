// Intent routing's two judges and how they combine (plugin/dialogue/intent-match.ts): example similarity
// that forgives word forms and typos, a product with the model's choice, and the fallback when neither is sure.
import { describe, expect, it } from "vitest";
import { IntentExamples, combineIntentScores, examplesDecide, normalizeText, stem } from "../../plugin/dialogue/intent-match.js";
import { englishWordVectors } from "../../plugin/dialogue/english-word-vectors.js";
import type { Intent } from "../../plugin/types.js";

const INTENTS: Intent[] = [
  {
    id: "buy",
    description: "wants to buy a sword or another weapon",
    examples: ["I want to buy a sword.", "How much for a blade?", "Do you sell axes?"],
    next: "shop",
  },
  { id: "ore", description: "asks about the late iron shipment", examples: ["Where is the iron shipment?", "Why is the ore late?"], next: "ore" },
  {
    id: "chat",
    description: "chats about the weather or the smith himself",
    examples: ["Nice weather today.", "How long have you been a smith?"],
    next: "chat",
  },
];

describe("example similarity", () => {
  const examples = new IntentExamples(INTENTS);

  it("normalizes case, accents, contractions and word forms", () => {
    expect(normalizeText("Where’s the CAFÉ? I'd like… a drink!")).toBe("where the cafe i would like a drink");
    expect(["rumours", "rumour", "rumors", "rumor"].map(stem)).toEqual(["rumor", "rumor", "rumor", "rumor"]);
    expect(stem("buying")).toBe("buy");
    expect(stem("swords")).toBe("sword");
  });

  it("ranks the intent whose examples share the player's words, also through typos and plurals", () => {
    for (const [text, id] of [
      ["do you sell swords", "buy"],
      ["how much is that blade", "buy"],
      ["the iron shipmant, where is it?", "ore"],
      ["Lovely weather we're having.", "chat"],
    ] as const) {
      const s = examples.similarities(text);
      const best = s.indexOf(Math.max(...s));
      expect(INTENTS[best].id, text).toBe(id);
    }
  });

  it("is zero for words no example uses, and decides alone only on a near-verbatim example", () => {
    expect(examples.similarities("Zzz qqq")).toEqual([0, 0, 0]);
    expect(examplesDecide(examples.similarities("How much for a blade?"))).toBe(true);
    expect(examplesDecide(examples.similarities("How much for the big blade you showed me?"))).toBe(false);
  });
});

describe("similarity by meaning (word vectors)", () => {
  const byMeaning = new IntentExamples(INTENTS, englishWordVectors());
  const byWords = new IntentExamples(INTENTS);
  const routed = (examples: IntentExamples, text: string): string | null => {
    const index = combineIntentScores(examples.similarities(text), null, { hasExamples: true }).index;
    return index === null ? null : INTENTS[index].id;
  };

  it("routes lines that share no word with any example but mean the same", () => {
    for (const [text, id] of [
      ["I'd like to purchase a dagger.", "buy"],
      ["Has the steel delivery arrived?", "ore"],
      ["Cold and rainy, isn't it?", "chat"],
      ["the copper cargo is delayed?", "ore"],
    ] as const) {
      expect(routed(byWords, text), `${text} (words only)`).toBeNull();
      expect(routed(byMeaning, text), text).toBe(id);
    }
  });

  it("keeps what the words alone got right, and stays unsure of lines like none of the examples", () => {
    for (const [text, id] of [
      ["I want to buy a sword, please.", "buy"],
      ["the iron shipmant, where is it?", "ore"],
    ] as const)
      expect(routed(byMeaning, text), text).toBe(id);
    for (const text of ["Tell me a joke.", "Zzz qqq", "I like turtles.", "Can you heal my wounds?"]) expect(routed(byMeaning, text), text).toBeNull();
    expect(examplesDecide(byMeaning.similarities("How much for a blade?"))).toBe(true);
  });
});

describe("combining the judges", () => {
  it("takes the examples alone when there is no model, and falls back when they are unsure", () => {
    const examples = new IntentExamples(INTENTS);
    const sure = combineIntentScores(examples.similarities("I want to buy a sword, please."), null, { hasExamples: true });
    expect(sure).toMatchObject({ index: 0, source: "examples" });
    const unsure = combineIntentScores(examples.similarities("Tell me a joke."), null, { hasExamples: true });
    expect(unsure.index).toBeNull(); // never the first intent by default
    // Words like no example leave most of the belief on "none of them".
    const total = unsure.probabilities.reduce((a, b) => a + b, 0);
    expect(total).toBeLessThan(0.5);
    expect(sure.probabilities.reduce((a, b) => a + b, 0)).toBeGreaterThan(total);
  });

  it("lets a confident model settle what the examples leave open, and a split model defer to the examples", () => {
    const model = [-4, -0.05, -5]; // the model is sure of "ore"
    const open = [0.4, 0.4, 0.4]; // every intent's examples about as like the words
    expect(combineIntentScores(open, model, { hasExamples: true })).toMatchObject({ index: 1, source: "combined" });
    // Words like no example at all (gibberish, another language): the model must name some id, so its
    // certainty alone does not pick a branch.
    const none = [0, 0, 0];
    expect(combineIntentScores(none, model, { hasExamples: true }).index).toBeNull();
    const split = [Math.log(0.45), Math.log(0.45), Math.log(0.1)];
    const leaning = [0.1, 0.6, 0.1]; // the examples lean to "ore"
    expect(combineIntentScores(leaning, split, { hasExamples: true }).index).toBe(1);
    // The same split model with nothing from the examples is under the default confidence.
    expect(combineIntentScores(none, split, { hasExamples: true }).index).toBeNull();
  });

  it("does not let an overconfident model outvote a clear match in the examples", () => {
    const examples = new IntentExamples(INTENTS);
    const sims = examples.similarities("How much is the big blade?"); // clearly "buy"
    const wrongAndSure = [Math.log(0.005), Math.log(0.99), Math.log(0.005)]; // the model says "ore" at 99%
    expect(combineIntentScores(sims, wrongAndSure, { hasExamples: true }).index).toBe(0);
  });

  it("uses the node's own threshold, and nothing judges without examples or a model", () => {
    const model = [Math.log(0.9), Math.log(0.07), Math.log(0.03)];
    expect(combineIntentScores([0, 0, 0], model, { hasExamples: false }).index).toBe(0);
    expect(combineIntentScores([0, 0, 0], model, { hasExamples: false, minConfidence: 0.7 }).index).toBeNull();
    expect(combineIntentScores([0, 0, 0], null, { hasExamples: false, minConfidence: 0 }).index).toBeNull();
  });
});
