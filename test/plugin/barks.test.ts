// Ambient barks on simulated time: update(dt) is the only clock. Generation is a stream the test feeds
// chunk by chunk; the dialogue store is the real one.

import { describe, expect, it } from "vitest";
import { createDialogueStore } from "../../plugin/store.js";
import { Barks, type BarkEvent, type BarkGenerator } from "../../plugin/three/barks.js";
import type { TalkSensorEvent } from "../../plugin/three/talk-sensor.js";
import { CHARACTER_SCHEMA, type Character } from "../../plugin/types.js";

function character(id: string, fallbackLines: string[]): Character {
  return {
    schema: CHARACTER_SCHEMA,
    id,
    name: id,
    role: "villager",
    description: "",
    scenario: "",
    personality: [],
    speakingStyle: { description: "", maxWords: 12 },
    knowledge: [],
    goals: [],
    secrets: [],
    relationships: [],
    greeting: "Hello.",
    alternateGreetings: [],
    examples: [],
    systemPrompt: "",
    postHistoryInstructions: "",
    mood: "calm",
    fallbackLines,
    extensions: {},
  };
}

/** A generation the test drives: push chunks, end it, or fail it. Records the signals it was given. */
function scriptedGenerator() {
  const chunks: string[] = [];
  let ended = false;
  let failure: Error | null = null;
  let wake: (() => void) | null = null;
  const signals: AbortSignal[] = [];
  const poke = () => {
    wake?.();
    wake = null;
  };
  const generate: BarkGenerator = (_character, signal) => {
    signals.push(signal);
    signal.addEventListener("abort", poke);
    return (async function* () {
      for (;;) {
        if (signal.aborted) throw new Error("aborted");
        if (chunks.length > 0) {
          yield chunks.shift()!;
          continue;
        }
        if (failure) throw failure;
        if (ended) return;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    })();
  };
  return {
    generate,
    signals,
    push: (...more: string[]) => {
      chunks.push(...more);
      poke();
    },
    end: () => {
      ended = true;
      poke();
    },
    fail: (error: Error) => {
      failure = error;
      poke();
    },
    /** A new stream for the next bark. */
    reset: () => {
      chunks.length = 0;
      ended = false;
      failure = null;
    },
  };
}

/** Lets the async generation loop run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function recordingBubble() {
  return {
    text: "",
    setText(text: string) {
      this.text = text;
    },
    append(chunk: string) {
      this.text += chunk;
    },
    clear() {
      this.text = "";
    },
  };
}

function fakeSensor() {
  const listeners = new Set<(e: TalkSensorEvent) => void>();
  return {
    subscribe(listener: (e: TalkSensorEvent) => void) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    fire(type: TalkSensorEvent["type"]) {
      for (const l of listeners) l({ type });
    },
  };
}

/** Advances simulated time in steps (of a binary fraction, so that the steps add up exactly). */
function run(barks: Barks, seconds: number, dt = 0.125) {
  for (let t = 0; t < seconds; t += dt) barks.update(dt);
}

describe("Barks", () => {
  it("uses authored fallbacks without a model, with per-NPC cooldowns and a global interval", () => {
    const barks = new Barks({
      generate: scriptedGenerator().generate,
      backend: { canGenerate: false },
      cooldown: 10,
      minInterval: 2,
      holdSeconds: 1,
      random: () => 0,
    });
    const smithBubble = recordingBubble();
    const guardBubble = recordingBubble();
    const smithSensor = fakeSensor();
    barks.add({ character: character("smith", ["Hammer's hot.", "Mind the anvil."]), bubble: smithBubble, sensor: smithSensor });
    barks.add({ character: character("guard", ["Move along."]), bubble: guardBubble });
    const events: BarkEvent[] = [];
    barks.subscribe((e) => events.push(e));

    smithSensor.fire("enter"); // the player walks past the smith
    expect(smithBubble.text).toBe("Hammer's hot.");
    expect(barks.active).toMatchObject({ characterId: "smith", source: "fallback", phase: "showing" });
    expect(events).toEqual([
      { type: "bark_started", characterId: "smith", source: "fallback" },
      { type: "bark_complete", characterId: "smith", text: "Hammer's hot.", source: "fallback" },
    ]);
    smithSensor.fire("leave");

    expect(barks.trigger("guard")).toBe("busy"); // one at a time
    run(barks, 1);
    expect(barks.active).toBeNull();
    expect(barks.trigger("guard")).toBe("interval");
    run(barks, 2);
    expect(barks.trigger("smith")).toBe("cooldown");
    expect(barks.cooldownLeft("smith")).toBeCloseTo(7);
    expect(barks.trigger("guard")).toBe("started");
    expect(guardBubble.text).toBe("Move along.");

    run(barks, 7);
    expect(barks.trigger("smith")).toBe("started");
    expect(smithBubble.text).toBe("Mind the anvil."); // not the same line twice in a row
    expect(barks.trigger("nobody")).toBe("unknown_speaker");
  });

  it("streams a generated bark into the bubble, then holds it", async () => {
    const gen = scriptedGenerator();
    const barks = new Barks({ generate: gen.generate, backend: { canGenerate: true }, holdSeconds: 2, minInterval: 0 });
    const bubble = recordingBubble();
    barks.add({ character: character("smith", ["Hm."]), bubble });
    const texts: string[] = [];
    barks.subscribe((e) => e.type === "bark_text" && texts.push(e.text));

    expect(barks.trigger("smith")).toBe("started");
    gen.push("Fresh", " blades", " today!");
    await settle();
    expect(bubble.text).toBe("Fresh blades today!");
    expect(texts).toEqual(["Fresh", "Fresh blades", "Fresh blades today!"]);
    expect(barks.active?.phase).toBe("generating");
    run(barks, 3); // generation time does not count toward the hold
    expect(barks.active?.phase).toBe("generating");
    gen.end();
    await settle();
    expect(barks.active).toMatchObject({ phase: "showing", source: "generated", text: "Fresh blades today!" });
    run(barks, 2);
    expect(barks.active).toBeNull();
    expect(bubble.text).toBe("Fresh blades today!"); // the bubble fades it on its own
  });

  it("falls back to an authored line when generation fails, yields nothing, or times out", async () => {
    const gen = scriptedGenerator();
    const barks = new Barks({
      generate: gen.generate,
      cooldown: 0,
      minInterval: 0,
      holdSeconds: 0.5,
      timeout: 4,
      random: () => 0,
    });
    const bubble = recordingBubble();
    barks.add({ character: character("smith", ["Busy, busy."]), bubble });
    const completes: BarkEvent[] = [];
    barks.subscribe((e) => e.type === "bark_complete" && completes.push(e));

    barks.trigger("smith");
    gen.push("The king's secret is");
    await settle();
    gen.fail(new Error("device lost"));
    await settle();
    expect(bubble.text).toBe("Busy, busy.");
    run(barks, 0.5);

    gen.reset();
    barks.trigger("smith");
    gen.push("  ");
    gen.end();
    await settle();
    expect(bubble.text).toBe("Busy, busy.");
    run(barks, 0.5);

    gen.reset();
    barks.trigger("smith");
    gen.push("Let me think");
    await settle();
    run(barks, 4);
    expect(gen.signals[2].aborted).toBe(true);
    expect(bubble.text).toBe("Busy, busy.");
    gen.push(" about it."); // too late: ignored
    await settle();
    expect(bubble.text).toBe("Busy, busy.");

    expect(completes.map((e) => e.type === "bark_complete" && [e.source, e.failure])).toEqual([
      ["fallback", "error"],
      ["fallback", "empty"],
      ["fallback", "timeout"],
    ]);
  });

  it("is cancelled when a conversation starts, and stays quiet until it ends", async () => {
    const gen = scriptedGenerator();
    const store = createDialogueStore();
    const barks = new Barks({ generate: gen.generate, store, minInterval: 1, cooldown: 0 });
    const bubble = recordingBubble();
    barks.add({ character: character("smith", ["Hm."]), bubble });
    const events: BarkEvent[] = [];
    barks.subscribe((e) => events.push(e));

    barks.trigger("smith");
    gen.push("Say, have you");
    await settle();
    expect(bubble.text).toBe("Say, have you");

    const apply = store.getState().apply;
    apply({ type: "started", conversationId: "c", graphId: "g", characterId: "smith", npcName: "Smith", variables: {} });
    expect(gen.signals[0].aborted).toBe(true);
    expect(bubble.text).toBe(""); // a half-said bark is taken back
    expect(barks.active).toBeNull();
    expect(events[events.length - 1]).toEqual({ type: "bark_cancelled", characterId: "smith", reason: "conversation" });
    gen.push(" heard?");
    await settle();
    expect(bubble.text).toBe("");

    run(barks, 5);
    expect(barks.trigger("smith")).toBe("conversation");
    apply({ type: "ended", nodeId: null, reason: "cancelled" });
    gen.reset();
    expect(barks.trigger("smith")).toBe("started");
    barks.cancel();
    expect(events[events.length - 1]).toMatchObject({ type: "bark_cancelled", reason: "cancelled" });
  });

  it("says nothing when there is neither a model nor an authored line", () => {
    const barks = new Barks({});
    barks.add({ character: character("mute", []) });
    expect(barks.trigger("mute")).toBe("no_lines");
    expect(barks.active).toBeNull();
  });

  it("stops listening to a removed NPC's sensor", () => {
    const barks = new Barks({ random: () => 0 });
    const sensor = fakeSensor();
    const bubble = recordingBubble();
    const remove = barks.add({ character: character("smith", ["Hm."]), sensor, bubble });
    remove();
    sensor.fire("enter");
    expect(bubble.text).toBe("");
    expect(barks.trigger("smith")).toBe("unknown_speaker");
  });
});
