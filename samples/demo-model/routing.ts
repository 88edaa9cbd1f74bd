// Intent routing measured on the village's own intent nodes: each line a player might say is played through a
// DialogueRunner on a graph holding just that NPC's intent node (player speaks → node routes → end), with the
// demo model behind a LocalBackend and the runner's default word vectors. Shared by the routing evaluation
// (eval-routing.ts, every held-out line) and the test suite (test/plugin/intent-routing.gpu.test.ts, a slice).

import { readFileSync } from "node:fs";
import {
  DialogueRunner,
  combineIntentScores,
  parseCharacter,
  parseDialogueGraph,
  type Character,
  type DialogueBackend,
  type DialogueGraph,
  type IntentChosenEvent,
  type IntentNode,
} from "../../plugin/index.js";

const VILLAGE = new URL("../village/", import.meta.url);

/** One line to route: which NPC hears it, the intent it means (null: none of them), and the set it comes from. */
export interface RoutingLine {
  set: string;
  npc: string;
  intent: string | null;
  line: string;
}

/** A routed line: what the intent node decided, and how long the step took (submit → intent_chosen). */
export interface RoutedLine extends RoutingLine {
  event: IntentChosenEvent;
  ms: number;
}

export interface RoutingStats {
  lines: number;
  right: number;
  wrong: number;
  /** Sent to the node's fallback (the NPC asks again). */
  unclear: number;
  /** The best intent, however unsure, is the right one. */
  best: number;
  /** What the authored examples alone would have chosen. */
  examplesOnly: number;
  /** What the model alone would have chosen, over the lines it was asked about. */
  modelOnly: number;
  asked: number;
}

/** An NPC's character, graph and (first) intent node, as the village ships them. */
export function villageIntentNode(npc: string): { character: Character; graph: DialogueGraph; node: IntentNode } {
  const read = (rel: string): unknown => JSON.parse(readFileSync(new URL(rel, VILLAGE), "utf8"));
  const character = parseCharacter(read(`characters/${npc}.json`));
  const graph = parseDialogueGraph(read(`dialogue/${npc}.json`));
  const node = Object.values(graph.nodes).find((n): n is IntentNode => n.type === "intent");
  if (!node) throw new Error(`${npc}'s graph has no intent node`);
  return { character, graph, node };
}

/** A graph with just the NPC's intent node: the player speaks, the node routes, the conversation ends. */
export function routingGraph(graph: DialogueGraph, node: IntentNode): DialogueGraph {
  const nodes: Record<string, unknown> = {
    ask: { type: "player_input", prompt: "", next: "classify" },
    classify: {
      type: "intent",
      intents: node.intents.map((i) => ({ id: i.id, description: i.description, examples: i.examples, next: "done" })),
      fallback: "done",
      ...(node.minConfidence !== null ? { minConfidence: node.minConfidence } : {}),
    },
    done: { type: "end" },
  };
  return parseDialogueGraph({ schema: "parley.dialogue/1", id: `${graph.id}-routing`, character: graph.character, start: "ask", nodes });
}

/** Routes each line in order (seed 1, one conversation per line) and records the node's decision. */
export async function routeLines(backend: DialogueBackend, lines: readonly RoutingLine[]): Promise<RoutedLine[]> {
  const graphs = new Map<string, { character: Character; graph: DialogueGraph }>();
  const out: RoutedLine[] = [];
  for (const l of lines) {
    let g = graphs.get(l.npc);
    if (!g) {
      const { character, graph, node } = villageIntentNode(l.npc);
      g = { character, graph: routingGraph(graph, node) };
      graphs.set(l.npc, g);
    }
    const runner = new DialogueRunner({ graph: g.graph, character: g.character, backend, seed: 1 });
    let event: IntentChosenEvent | undefined;
    let submitted = 0;
    let ms = 0;
    runner.on((e) => {
      if (e.type === "input_requested")
        queueMicrotask(() => {
          submitted = performance.now();
          runner.submit(l.line);
        });
      if (e.type === "intent_chosen") {
        event = e;
        ms = performance.now() - submitted;
      }
    });
    await runner.start();
    if (!event) throw new Error(`${l.npc}: no intent_chosen for ${JSON.stringify(l.line)}`);
    out.push({ ...l, event, ms });
  }
  return out;
}

/** Shares of right, wrong and unclear decisions, and what each judge alone would have said. */
export function routingStats(rows: readonly RoutedLine[]): RoutingStats {
  const share = (of: readonly RoutedLine[], pred: (r: RoutedLine) => boolean): number => (of.length === 0 ? 0 : of.filter(pred).length / of.length);
  const asked = rows.filter((r) => Object.keys(r.event.logProbs).length > 0);
  return {
    lines: rows.length,
    right: share(rows, (r) => r.event.intent === r.intent),
    wrong: share(rows, (r) => r.event.intent !== null && r.event.intent !== r.intent),
    unclear: share(rows, (r) => r.event.intent === null),
    best: share(rows, (r) => r.event.best === r.intent),
    examplesOnly: share(rows, (r) => {
      const s = combineIntentScores(Object.values(r.event.similarities), null, { hasExamples: true });
      return s.index !== null && Object.keys(r.event.similarities)[s.index] === r.intent;
    }),
    modelOnly: share(asked, (r) => Object.entries(r.event.logProbs).reduce((a, b) => (b[1] > a[1] ? b : a))[0] === r.intent),
    asked: asked.length,
  };
}

/** Right decisions per NPC/intent: "npc/intent" → [right, lines]. */
export function perIntent(rows: readonly RoutedLine[]): Record<string, [number, number]> {
  const acc: Record<string, [number, number]> = {};
  for (const r of rows) {
    if (r.intent === null) continue;
    const k = `${r.npc}/${r.intent}`;
    (acc[k] ??= [0, 0])[1]++;
    if (r.event.intent === r.intent) acc[k][0]++;
  }
  return acc;
}

/** A one-line summary of a set's stats. */
export function formatStats(name: string, s: RoutingStats): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  return (
    `${name}, ${s.lines} lines: ${pct(s.right)} right, ${pct(s.wrong)} wrong, ${pct(s.unclear)} unclear (→ the node's fallback); ` +
    `best intent ${pct(s.best)}; examples alone ${pct(s.examplesOnly)}, model alone ${pct(s.modelOnly)} of ${s.asked} asked`
  );
}
