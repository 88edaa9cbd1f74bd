// A large, valid dialogue graph for measuring the editor: scenes of ten nodes, every node type among them
// (a line, a generated line, a choice, two answers, player input routed by an intent, an effect, a branch
// and a jump to the next scene), the last scene ending the conversation. Its layout file places the scenes
// in rows the way the editor's auto-layout wraps a long conversation, so opening it measures drawing, not ELK.

import { parseDialogueGraph, serializeDialogueGraph } from "../../plugin/dialogue/validate.js";
import { LAYOUT_SCHEMA, serializeGraphLayout } from "../../editor/project/layout.js";

export const SCENE_SIZE = 10;
/** A scene is six columns of three lanes; rows of scenes make the whole about 1.5 times wider than tall. */
const COLUMN_WIDTH = 340;
const LANE_HEIGHT = 150;
const SCENE_COLUMNS = 6;
const SCENE_HEIGHT = 4 * LANE_HEIGHT;
const SCENES_PER_ROW = 7;

export interface GeneratedGraph {
  /** The graph file's text (as the plugin serializes it). */
  text: string;
  /** The layout file's text. */
  layoutText: string;
  nodeCount: number;
  edgeCount: number;
}

/** A graph of `nodes` nodes (rounded up to whole scenes) spoken by `character`. */
export function generateGraph(id: string, character: string, nodes: number): GeneratedGraph {
  const scenes = Math.max(1, Math.ceil(nodes / SCENE_SIZE));
  const graphNodes: Record<string, unknown> = {};
  const positions: Record<string, { x: number; y: number }> = {};
  const at = (scene: number, column: number, lane: number) => ({
    x: ((scene % SCENES_PER_ROW) * SCENE_COLUMNS + column) * COLUMN_WIDTH,
    y: Math.floor(scene / SCENES_PER_ROW) * SCENE_HEIGHT + lane * LANE_HEIGHT,
  });
  for (let s = 0; s < scenes; s++) {
    const n = (name: string) => `s${s}_${name}`;
    const last = s === scenes - 1;
    const add = (name: string, node: object, column: number, lane = 0) => {
      graphNodes[n(name)] = node;
      positions[n(name)] = at(s, column, lane);
    };
    add("greet", { type: "line", text: `Scene ${s}: the smith looks up from the anvil and wipes his hands on his apron.`, next: n("ask") }, 0);
    add(
      "ask",
      {
        type: "llm_line",
        instruction: `Ask the traveller what brings them to the forge (scene ${s}), mentioning the weather.`,
        fallback: "What do you need?",
        next: n("menu"),
      },
      1,
    );
    add(
      "menu",
      {
        type: "choice",
        options: [
          { text: "I need a blade.", next: n("blade"), condition: "gold >= 10" },
          { text: "Just looking around.", next: n("talk") },
        ],
      },
      2,
    );
    add("blade", { type: "line", text: "A fine blade costs ten gold, and I don't haggle.", next: n("pay") }, 3);
    add("talk", { type: "player_input", prompt: "Say something to the smith…", store: "said", next: n("route") }, 3, 1);
    add(
      "route",
      {
        type: "intent",
        intents: [
          { id: "buy", description: "wants to buy something", examples: ["I want to buy a sword", "How much for that axe?"], next: n("blade") },
          { id: "chat", description: "makes small talk", examples: ["Nice weather today", "How is business?"], next: n("check") },
        ],
        fallback: n("check"),
      },
      4,
      1,
    );
    add("pay", { type: "set", effects: ["gold = gold - 10", "visits = visits + 1"], next: n("check") }, 4);
    add("check", { type: "branch", branches: [{ condition: "visits > 3", next: n("regular") }], otherwise: n("onward") }, 5);
    add("regular", { type: "line", text: "You again! Sit down, I'll put the kettle on.", next: n("onward") }, 5, 1);
    add("onward", last ? { type: "end" } : { type: "jump", target: `s${s + 1}_greet` }, 5, 2);
  }
  const graph = {
    schema: "parley.dialogue/1",
    id,
    character,
    start: "s0_greet",
    variables: { gold: { type: "number", default: 25 }, visits: { type: "number", default: 0 }, said: { type: "string", default: "" } },
    nodes: graphNodes,
  };
  const parsed = parseDialogueGraph(graph, { characters: [character] });
  const edgeCount = Object.values(graphNodes).reduce<number>((sum, node) => sum + exitCount(node as Record<string, unknown>), 0);
  return {
    text: serializeDialogueGraph(parsed),
    layoutText: serializeGraphLayout({ schema: LAYOUT_SCHEMA, nodes: positions }),
    nodeCount: Object.keys(graphNodes).length,
    edgeCount,
  };
}

function exitCount(node: Record<string, unknown>): number {
  switch (node.type) {
    case "choice":
      return (node.options as unknown[]).length;
    case "intent":
      return (node.intents as unknown[]).length + 1;
    case "branch":
      return (node.branches as unknown[]).length + 1;
    case "end":
      return 0;
    default:
      return 1;
  }
}
