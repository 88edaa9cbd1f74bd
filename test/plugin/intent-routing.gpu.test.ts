// Intent routing with the demo model, measured on what players say that the router never saw: the village's
// own intent nodes, played by the DialogueRunner on the real runtime with the bundled demo model and the
// bundled word vectors, against two held-out sets in test/fixtures/intent-paraphrases.ts (≥ 20 lines per
// intent each, by two writers) and lines that fit no intent. The test also checks that those lines are new
// to the router: none is one of the graphs' example phrases, and none occurs in the demo model's training
// corpus. The suite routes a slice of the lines; `npm run eval:routing` routes them all.
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Runtime, type Model } from "../../runtime/index.js";
import { LocalBackend } from "../../plugin/index.js";
import { normalizeText } from "../../plugin/dialogue/intent-match.js";
import { makeSample } from "../../samples/demo-model/corpus.js";
import { formatStats, perIntent, routeLines, routingStats, villageIntentNode as load } from "../../samples/demo-model/routing.js";
import { HELD_OUT_PARAPHRASES, OFF_TOPIC_LINES, SECOND_WRITER_PARAPHRASES, heldOutLines } from "../fixtures/intent-paraphrases.js";

const MODEL = new URL("../../samples/demo-model/parley-demo.gguf", import.meta.url).pathname;
const NPCS = Object.keys(HELD_OUT_PARAPHRASES);
const SETS = { first: HELD_OUT_PARAPHRASES, second: SECOND_WRITER_PARAPHRASES };
/** The suite routes each intent's 1st, 4th, 7th… line of each set (and of the off-topic lines). */
const SLICE_EVERY = 3;

describe("the held-out paraphrases", () => {
  it("have at least 20 lines for every intent of the village's graphs in each set, none of them an authored example", () => {
    for (const [name, set] of Object.entries(SETS)) {
      for (const npc of NPCS) {
        const { node } = load(npc);
        expect(Object.keys(set[npc]).sort(), name).toEqual(node.intents.map((i) => i.id).sort());
        const examples = new Set(node.intents.flatMap((i) => i.examples.map(normalizeText)));
        for (const [intent, lines] of Object.entries(set[npc])) {
          expect(lines.length, `${name}: ${npc}/${intent}`).toBeGreaterThanOrEqual(20);
          for (const line of lines) expect(examples.has(normalizeText(line)), `${name}: ${npc}: "${line}" is an authored example`).toBe(false);
        }
        for (const line of OFF_TOPIC_LINES[npc]) expect(examples.has(normalizeText(line)), line).toBe(false);
      }
    }
  });

  it("never occur in the demo model's training corpus", () => {
    // Lines with no words ("....") are left out: the corpus has wordless lines of its own ("???").
    const held = new Set(
      Object.values(SETS)
        .flatMap((set) => NPCS.flatMap((npc) => Object.values(set[npc]).flat().map(normalizeText)))
        .filter(Boolean),
    );
    const characters = Object.fromEntries(NPCS.map((npc) => [npc, load(npc).character])) as Parameters<typeof makeSample>[0];
    let players = 0;
    // Both training phases' corpora (build.sh): seed 1 at the default mix, seed 2 rich in intent samples.
    for (let i = 0; i < 800; i++) {
      const sample = i < 500 ? makeSample(characters, 1, i) : makeSample(characters, 2, i, 0.55);
      for (const m of sample.messages ?? []) {
        if (m.role !== "user") continue;
        players++;
        expect(held.has(normalizeText(m.content)), `corpus sample ${i} says "${m.content}"`).toBe(false);
      }
    }
    expect(players).toBeGreaterThan(700);
  });
});

describe.skipIf(!existsSync(MODEL))("intent routing with the demo model", () => {
  let runtime: Runtime;
  let model: Model;
  let backend: LocalBackend;

  beforeAll(async () => {
    runtime = await Runtime.create();
    model = await runtime.loadModel(MODEL);
    backend = new LocalBackend(model, { contextSize: 2048 });
  });
  afterAll(() => {
    backend?.dispose();
    model?.dispose();
    runtime?.dispose();
  });

  it("routes held-out paraphrases to their intent, asks again rather than guess, and reaches every intent", async () => {
    // A third of the lines, spread evenly over every NPC, intent and writer: every line of both sets is
    // measured by `npm run eval:routing` (docs/PERFORMANCE.md); the lines players reported are added whole.
    const reported: [string, string, string][] = [
      ["blacksmith", "Is the iron ore shipment still late?", "ask_ore"],
      ["innkeeper", "I want a room for the night.", "rent_room"],
      ["innkeeper", "Any news or rumours lately?", "hear_rumours"],
    ];
    const slice = heldOutLines(SLICE_EVERY);
    for (const [npc, line, intent] of reported) if (!slice.some((l) => l.line === line)) slice.push({ set: "reported", npc, intent, line } as never);
    const rows = await routeLines(backend, slice);

    const onTopic = rows.filter((r) => r.intent !== null && r.set !== "reported");
    const first = routingStats(rows.filter((r) => r.set === "first"));
    const second = routingStats(rows.filter((r) => r.set === "second"));
    const all = routingStats(onTopic);
    const offTopic = rows.filter((r) => r.set === "off-topic");
    const offTopicUnclear = offTopic.filter((r) => r.event.intent === null).length / offTopic.length;
    console.log(
      `[routing] ${formatStats("first writer", first)}\n[routing] ${formatStats("second writer", second)}\n[routing] ${formatStats("both sets", all)}`,
    );
    console.log(`[routing] off-topic, ${offTopic.length} lines: ${(offTopicUnclear * 100).toFixed(1)}% unclear (→ the node's fallback)`);
    for (const r of rows.filter((r) => r.event.intent !== r.intent))
      console.log(`  miss [${r.set}] ${r.npc}/${r.intent ?? "none"} → ${r.event.intent ?? `unclear (${r.event.best})`}: ${JSON.stringify(r.line)}`);
    // The slice measured on lavapipe with the committed demo model (all lines: docs/PERFORMANCE.md): first writer
    // 93.1% right, 1.4% wrong; second 85.9% right, 5.6% wrong; both 89.5% right (best intent 92.3%); off-topic
    // 50% asked again; every intent ≥ 75% right. The bounds leave room for another CPU's rounding on close calls.
    expect(all.right).toBeGreaterThanOrEqual(0.86);
    expect(first.right).toBeGreaterThanOrEqual(0.88);
    expect(second.right).toBeGreaterThanOrEqual(0.82);
    expect(first.wrong).toBeLessThanOrEqual(0.05);
    expect(all.wrong).toBeLessThanOrEqual(0.07);
    expect(all.best).toBeGreaterThanOrEqual(0.88);
    expect(offTopicUnclear).toBeGreaterThanOrEqual(0.3);
    for (const [k, [ok, n]] of Object.entries(perIntent(onTopic))) expect(ok / n, k).toBeGreaterThanOrEqual(0.6);
    // Both judges together beat either alone.
    expect(all.right).toBeGreaterThan(all.examplesOnly);
    expect(all.right).toBeGreaterThan(all.modelOnly);
    // The lines a player reported going down the wrong branch, each to its own.
    for (const [npc, line, intent] of reported) expect(rows.find((r) => r.npc === npc && r.line === line)?.event.intent, line).toBe(intent);
  }, 900_000);
});
