// Intent routing with the demo model, measured on what players say that the router never saw: the village's
// own intent nodes, played by the DialogueRunner on the real runtime with the bundled demo model, against the
// held-out paraphrases in test/fixtures/intent-paraphrases.ts (≥ 20 lines per intent). The test also checks
// that those lines are new to the router: none is one of the graphs' example phrases, and none occurs in the
// demo model's training corpus.
import { existsSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Runtime, type Model } from "../../runtime/index.js";
import {
  DialogueRunner,
  LocalBackend,
  combineIntentScores,
  parseCharacter,
  parseDialogueGraph,
  type Character,
  type DialogueGraph,
  type IntentChosenEvent,
  type IntentNode,
} from "../../plugin/index.js";
import { normalizeText } from "../../plugin/dialogue/intent-match.js";
import { makeSample } from "../../samples/demo-model/corpus.js";
import { HELD_OUT_PARAPHRASES } from "../fixtures/intent-paraphrases.js";

const VILLAGE = new URL("../../samples/village/", import.meta.url);
const MODEL = new URL("../../samples/demo-model/parley-demo.gguf", import.meta.url).pathname;
const NPCS = Object.keys(HELD_OUT_PARAPHRASES);

function load(npc: string): { character: Character; graph: DialogueGraph; node: IntentNode } {
  const read = (rel: string): unknown => JSON.parse(readFileSync(new URL(rel, VILLAGE), "utf8"));
  const character = parseCharacter(read(`characters/${npc}.json`));
  const graph = parseDialogueGraph(read(`dialogue/${npc}.json`));
  const node = Object.values(graph.nodes).find((n): n is IntentNode => n.type === "intent")!;
  return { character, graph, node };
}

/** A graph with just the village's intent node: the player speaks, the node routes, the conversation ends. */
function routingGraph(graph: DialogueGraph, node: IntentNode): DialogueGraph {
  const nodes: Record<string, unknown> = {
    ask: { type: "player_input", prompt: "", next: "classify" },
    classify: { type: "intent", intents: node.intents.map((i) => ({ id: i.id, description: i.description, examples: i.examples, next: "done" })), fallback: "done", ...(node.minConfidence !== null ? { minConfidence: node.minConfidence } : {}) },
    done: { type: "end" },
  };
  return parseDialogueGraph({ schema: "parley.dialogue/1", id: `${graph.id}-routing`, character: graph.character, start: "ask", nodes });
}

describe("the held-out paraphrases", () => {
  it("have at least 20 lines for every intent of the village's graphs, none of them an authored example", () => {
    for (const npc of NPCS) {
      const { node } = load(npc);
      expect(Object.keys(HELD_OUT_PARAPHRASES[npc]).sort()).toEqual(node.intents.map((i) => i.id).sort());
      const examples = new Set(node.intents.flatMap((i) => i.examples.map(normalizeText)));
      for (const [intent, lines] of Object.entries(HELD_OUT_PARAPHRASES[npc])) {
        expect(lines.length, `${npc}/${intent}`).toBeGreaterThanOrEqual(20);
        for (const line of lines) expect(examples.has(normalizeText(line)), `${npc}: "${line}" is an authored example`).toBe(false);
      }
    }
  });

  it("never occur in the demo model's training corpus", () => {
    const held = new Set(NPCS.flatMap((npc) => Object.values(HELD_OUT_PARAPHRASES[npc]).flat().map(normalizeText)));
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
    const rows: { npc: string; intent: string; line: string; event: IntentChosenEvent; ms: number }[] = [];
    for (const npc of NPCS) {
      const { character, graph, node } = load(npc);
      const routing = routingGraph(graph, node);
      for (const [intent, lines] of Object.entries(HELD_OUT_PARAPHRASES[npc])) {
        for (const line of lines) {
          const runner = new DialogueRunner({ graph: routing, character, backend, seed: 1 });
          let event: IntentChosenEvent | undefined;
          let submitted = 0;
          let ms = 0;
          runner.on((e) => {
            if (e.type === "input_requested")
              queueMicrotask(() => {
                submitted = performance.now();
                runner.submit(line);
              });
            if (e.type === "intent_chosen") {
              event = e;
              ms = performance.now() - submitted;
            }
          });
          await runner.start();
          expect(event, line).toBeDefined();
          rows.push({ npc, intent, line, event: event!, ms });
        }
      }
    }
    const share = (pred: (r: (typeof rows)[number]) => boolean, of = rows): number => of.filter(pred).length / of.length;
    const combined = share((r) => r.event.intent === r.intent);
    const unclear = share((r) => r.event.intent === null);
    const wrong = share((r) => r.event.intent !== null && r.event.intent !== r.intent);
    const best = share((r) => r.event.best === r.intent); // as if every line were routed, however unsure
    // What each judge alone would have said, for the report.
    const examplesOnly = share((r) => {
      const ids = Object.keys(r.event.similarities);
      const s = combineIntentScores(Object.values(r.event.similarities), null, { hasExamples: true });
      return s.index !== null && ids[s.index] === r.intent;
    });
    const asked = rows.filter((r) => Object.keys(r.event.logProbs).length > 0);
    const modelOnly = share((r) => {
      const lp = Object.entries(r.event.logProbs);
      return lp.reduce((a, b) => (b[1] > a[1] ? b : a))[0] === r.intent;
    }, asked);
    const perIntent = rows.reduce<Record<string, number[]>>((acc, r) => {
      const k = `${r.npc}/${r.intent}`;
      (acc[k] ??= [0, 0])[1]++;
      if (r.event.intent === r.intent) acc[k][0]++;
      return acc;
    }, {});
    const times = rows.map((r) => r.ms).sort((a, b) => a - b);
    console.log(
      `[routing] intent step (submit → intent_chosen): median ${times[times.length >> 1].toFixed(0)} ms, p90 ${times[Math.floor(times.length * 0.9)].toFixed(0)} ms, ` +
        `${rows.filter((r) => r.event.source === "examples").length} decided by the examples alone`,
    );
    console.log(
      `[routing] ${rows.length} held-out lines: combined ${(combined * 100).toFixed(1)}% right, ${(wrong * 100).toFixed(1)}% wrong, ` +
        `${(unclear * 100).toFixed(1)}% unclear (→ the node's fallback); best intent ${(best * 100).toFixed(1)}% right; ` +
        `examples alone ${(examplesOnly * 100).toFixed(1)}%, model alone ${(modelOnly * 100).toFixed(1)}% of ${asked.length} asked\n` +
        Object.entries(perIntent).map(([k, [ok, n]]) => `  ${k}: ${ok}/${n}`).join("\n"),
    );
    for (const r of rows.filter((r) => r.event.intent !== r.intent)) console.log(`  miss ${r.npc}/${r.intent} → ${r.event.intent ?? `unclear (${r.event.best})`}: ${JSON.stringify(r.line)}`);
    // Measured on lavapipe with the committed demo model (docs/PERFORMANCE.md): 77.8% right, 8.6% wrong, 13.6%
    // unclear; the best intent right for 87.9%. The bounds leave room for another CPU's rounding on close calls.
    expect(combined).toBeGreaterThanOrEqual(0.72);
    expect(wrong).toBeLessThanOrEqual(0.12);
    expect(best).toBeGreaterThanOrEqual(0.82);
    // Both judges together beat either alone.
    expect(combined).toBeGreaterThan(examplesOnly);
    expect(combined).toBeGreaterThan(modelOnly);
    // The lines a player reported going down the wrong branch, each to its own.
    const reported: [string, string, string][] = [
      ["blacksmith", "Is the iron ore shipment still late?", "ask_ore"],
      ["innkeeper", "I want a room for the night.", "rent_room"],
      ["innkeeper", "Any news or rumours lately?", "hear_rumours"],
    ];
    for (const [npc, line, intent] of reported) expect(rows.find((r) => r.npc === npc && r.line === line)?.event.intent, line).toBe(intent);
    for (const [k, [ok, n]] of Object.entries(perIntent)) expect(ok / n, k).toBeGreaterThanOrEqual(0.45);
  }, 1_200_000);
});
