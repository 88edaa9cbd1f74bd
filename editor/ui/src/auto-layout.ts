// The auto-layout command: the whole open graph laid out afresh by ELK (layout.ts, the same layering that
// places new nodes), every node's position stored in the layout file. It is one move of every node, so one
// undo step puts them all back; the graph file is not touched.

import { useCommands } from "./commands.js";
import { graphModelOf } from "./graph-model.js";
import { layoutGraph } from "./layout.js";
import { useEditor } from "./store.js";

let running: Promise<void> | null = null;

/** Lays out the open graph (if it can be edited) and fits it in view; a second call while one runs waits for it. */
export function autoLayout(): Promise<void> {
  running ??= run().finally(() => {
    running = null;
  });
  return running;
}

async function run(): Promise<void> {
  const { graph, json } = useEditor.getState();
  if (!graph || !json) return;
  try {
    const positions = await layoutGraph(graphModelOf(graph.id, json, [], []), {});
    // The writer may have switched graphs meanwhile; edits to this one keep the positions for the nodes still there.
    const now = useEditor.getState();
    if (now.graph !== graph || !now.json) return;
    const moves = Object.fromEntries(Object.entries(positions).filter(([id]) => Object.hasOwn(now.json!.nodes, id)));
    now.moveNodes(moves);
    useCommands.getState().fitView();
  } catch (error) {
    useEditor.getState().report(`Laying out ${graph.id}`, error);
  }
}
