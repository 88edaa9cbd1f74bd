// Intent routing with the demo model, measured on what players say that the router never saw: the village's
// own intent nodes, played by the DialogueRunner on the real runtime with the bundled demo model and the
// bundled word vectors, against two held-out sets in test/fixtures/intent-paraphrases.ts (≥ 20 lines per
// intent each, by two writers) and lines that fit no intent. The test also checks that those lines are new
// to the router: none is one of the graphs' example phrases, and none occurs in the demo model's training
// corpus.
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
import { HELD_OUT_PARAPHRASES, OFF_TOPIC_LINES, SECOND_WRITER_PARAPHRASES } from "../fixtures/intent-paraphrases.js";

const VILLAGE = new URL("../../samples/village/", import.meta.url);
const MODEL = new URL("../../samples/demo-model/parley-demo.gguf", import.meta.url).pathname;
const NPCS = Object.keys(HELD_OUT_PARAPHRASES);
const SETS = { first: HELD_OUT_PARAPHRASES, second: SECOND_WRITER_PARAPHRASES };

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
    const held = new Set(Object.values(SETS).flatMap((set) => NPCS.flatMap((npc) => Object.values(set[npc]).flat().map(normalizeText))).filter(Boolean));
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
    type Row = { set: string; npc: string; intent: string | null; line: string; event: IntentChosenEvent; ms: number };
    const rows: Row[] = [];
    const route = async (npc: string, line: string): Promise<{ event: IntentChosenEvent; ms: number }> => {
      const { character, graph, node } = load(npc);
      const runner = new DialogueRunner({ graph: routingGraph(graph, node), character, backend, seed: 1 });
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
      return { event: event!, ms };
    };
    for (const [set, paraphrases] of Object.entries(SETS))
      for (const npc of NPCS)
        for (const [intent, lines] of Object.entries(paraphrases[npc])) for (const line of lines) rows.push({ set, npc, intent, line, ...(await route(npc, line)) });
    for (const npc of NPCS) for (const line of OFF_TOPIC_LINES[npc]) rows.push({ set: "off-topic", npc, intent: null, line, ...(await route(npc, line)) });

    const share = (of: Row[], pred: (r: Row) => boolean): number => of.filter(pred).length / of.length;
    const onTopic = rows.filter((r) => r.intent !== null);
    const report = (name: string, of: Row[]) => {
      const ids = (r: Row) => Object.keys(r.event.similarities);
      const asked = of.filter((r) => Object.keys(r.event.logProbs).length > 0);
      const stats = {
        right: share(of, (r) => r.event.intent === r.intent),
        wrong: share(of, (r) => r.event.intent !== null && r.event.intent !== r.intent),
        unclear: share(of, (r) => r.event.intent === null),
        best: share(of, (r) => r.event.best === r.intent), // as if every line were routed, however unsure
        // What each judge alone would have said.
        examplesOnly: share(of, (r) => {
          const s = combineIntentScores(Object.values(r.event.similarities), null, { hasExamples: true });
          return s.index !== null && ids(r)[s.index] === r.intent;
        }),
        modelOnly: share(asked, (r) => Object.entries(r.event.logProbs).reduce((a, b) => (b[1] > a[1] ? b : a))[0] === r.intent),
      };
      const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
      console.log(
        `[routing] ${name}, ${of.length} lines: ${pct(stats.right)} right, ${pct(stats.wrong)} wrong, ${pct(stats.unclear)} unclear (→ the node's fallback); ` +
          `best intent ${pct(stats.best)}; examples alone ${pct(stats.examplesOnly)}, model alone ${pct(stats.modelOnly)} of ${asked.length} asked`,
      );
      return stats;
    };
    const first = report("first writer", rows.filter((r) => r.set === "first"));
    const second = report("second writer", rows.filter((r) => r.set === "second"));
    const all = report("both sets", onTopic);
    const offTopic = rows.filter((r) => r.set === "off-topic");
    const offTopicUnclear = share(offTopic, (r) => r.event.intent === null);
    console.log(`[routing] off-topic, ${offTopic.length} lines: ${(offTopicUnclear * 100).toFixed(1)}% unclear (→ the node's fallback)`);
    const perIntent = onTopic.reduce<Record<string, number[]>>((acc, r) => {
      const k = `${r.npc}/${r.intent}`;
      (acc[k] ??= [0, 0])[1]++;
      if (r.event.intent === r.intent) acc[k][0]++;
      return acc;
    }, {});
    const times = onTopic.map((r) => r.ms).sort((a, b) => a - b);
    console.log(
      `[routing] intent step (submit → intent_chosen): median ${times[times.length >> 1].toFixed(0)} ms, p90 ${times[Math.floor(times.length * 0.9)].toFixed(0)} ms, ` +
        `${onTopic.filter((r) => r.event.source === "examples").length} decided by the examples alone\n` +
        Object.entries(perIntent).map(([k, [ok, n]]) => `  ${k}: ${ok}/${n}`).join("\n"),
    );
    for (const r of rows.filter((r) => r.event.intent !== r.intent))
      console.log(`  miss [${r.set}] ${r.npc}/${r.intent ?? "none"} → ${r.event.intent ?? `unclear (${r.event.best})`}: ${JSON.stringify(r.line)}`);
    // Measured on lavapipe with the committed demo model (docs/PERFORMANCE.md): first writer 90.9% right, 3.5%
    // wrong; second writer 86.7% right, 8.1% wrong; both 88.7% (best intent 91.9%); off-topic 66.7% unclear.
    // The bounds leave room for another CPU's rounding on close calls.
    expect(all.right).toBeGreaterThanOrEqual(0.85);
    expect(first.right).toBeGreaterThanOrEqual(0.87);
    expect(second.right).toBeGreaterThanOrEqual(0.83);
    expect(first.wrong).toBeLessThanOrEqual(0.06);
    expect(all.wrong).toBeLessThanOrEqual(0.09);
    expect(all.best).toBeGreaterThanOrEqual(0.88);
    expect(offTopicUnclear).toBeGreaterThanOrEqual(0.3);
    // Both judges together beat either alone.
    expect(all.right).toBeGreaterThan(all.examplesOnly);
    expect(all.right).toBeGreaterThan(all.modelOnly);
    // The lines a player reported going down the wrong branch, each to its own.
    const reported: [string, string, string][] = [
      ["blacksmith", "Is the iron ore shipment still late?", "ask_ore"],
      ["innkeeper", "I want a room for the night.", "rent_room"],
      ["innkeeper", "Any news or rumours lately?", "hear_rumours"],
    ];
    for (const [npc, line, intent] of reported) expect(rows.find((r) => r.npc === npc && r.line === line)?.event.intent, line).toBe(intent);
    for (const [k, [ok, n]] of Object.entries(perIntent)) expect(ok / n, k).toBeGreaterThanOrEqual(0.6);
  }, 1_500_000);
});
