// Where each node goes on the canvas. Positions stored in the graph's layout file
// (`dialogue/ID.layout.json`) win; the nodes without one are placed by ELK's "layered" algorithm, the
// left-to-right layering Yarn Spinner's graph view uses too: the conversation flows from the start node on
// the left, each step one layer further right, with as few crossing edges as it can manage.
//
// elkjs is the Eclipse Layout Kernel compiled to JavaScript; its bundled build runs in the page itself
// (no worker file to serve), which is quick enough for graphs of a few hundred nodes. The layout is
// deterministic, so nodes that were never moved land in the same place every time the graph is opened.

// elk.bundled.js is CommonJS: its `module.exports` is the ELK class (with `default` pointing to itself).
import ElkModule from "elkjs/lib/elk.bundled.js";
import type { ElkNode } from "elkjs/lib/elk-api.js";
import { ENTRY_Y, exitY, type GraphModel } from "./graph-model.js";

export interface Position {
  x: number;
  y: number;
}

export type Positions = Record<string, Position>;

const ELK = ElkModule.default;
/** Made on first use: starting ELK costs about a tenth of a second, and a graph whose nodes all have a place never needs it. */
let elk: InstanceType<typeof ELK> | undefined;

const LAYOUT_OPTIONS: Record<string, string> = {
  "elk.algorithm": "layered",
  "elk.direction": "RIGHT",
  "elk.edgeRouting": "SPLINES",
  "elk.spacing.nodeNode": "36",
  "elk.layered.spacing.nodeNodeBetweenLayers": "90",
  "elk.layered.spacing.edgeNodeBetweenLayers": "24",
  "elk.layered.nodePlacement.strategy": "NETWORK_SIMPLEX",
  // Follow the file's order of nodes and exits where the crossings allow: stable and predictable.
  "elk.layered.considerModelOrder.strategy": "NODES_AND_EDGES",
  "elk.layered.cycleBreaking.strategy": "MODEL_ORDER",
};

/**
 * Conversations are long and narrow. One wider than this, and this many times wider than tall, is cut into
 * rows stacked under each other (ELK's graph wrapping), so that it fits a wide screen at a zoom where its
 * text can still be read.
 */
const WRAP_WIDTH = 2400;
const WRAP_ASPECT = 2.5;
const WRAPPING_OPTIONS: Record<string, string> = {
  "elk.layered.wrapping.strategy": "MULTI_EDGE",
  "elk.aspectRatio": "1.4",
};

/** Positions for every node of `model`: `stored` where it has one, ELK's otherwise (rounded to whole pixels). */
export async function layoutGraph(model: GraphModel, stored: Positions): Promise<Positions> {
  const positions: Positions = {};
  const missing = model.nodes.filter((node) => !Object.hasOwn(stored, node.id));
  if (missing.length > 0) {
    // The whole graph is laid out, so the new nodes land where they belong among the others.
    elk ??= new ELK();
    let laidOut = await elk.layout(elkGraph(model, {}));
    const width = laidOut.width ?? 0;
    if (width > WRAP_WIDTH && width / Math.max(1, laidOut.height ?? 0) > WRAP_ASPECT) laidOut = await elk.layout(elkGraph(model, WRAPPING_OPTIONS));
    for (const child of laidOut.children ?? []) positions[child.id] = { x: Math.round(child.x ?? 0), y: Math.round(child.y ?? 0) };
  }
  for (const node of model.nodes) if (Object.hasOwn(stored, node.id)) positions[node.id] = { ...stored[node.id] };
  return positions;
}

/** The graph as ELK reads it: boxes of their real size, with ports where the handles are drawn. */
function elkGraph(model: GraphModel, extraOptions: Record<string, string>): ElkNode {
  return {
    id: "root",
    layoutOptions: { ...LAYOUT_OPTIONS, ...extraOptions },
    children: model.nodes.map((node) => ({
      id: node.id,
      width: node.width,
      height: node.height,
      layoutOptions: {
        "elk.portConstraints": "FIXED_POS",
        ...(node.isStart ? { "elk.layered.layering.layerConstraint": "FIRST" } : {}),
      },
      ports: [
        { id: port(node.id, "in"), x: 0, y: ENTRY_Y, width: 0, height: 0, layoutOptions: { "elk.port.side": "WEST" } },
        ...node.exits.map((exit, i) => ({
          id: port(node.id, exit.handle),
          x: node.width,
          y: exitY(node, i),
          width: 0,
          height: 0,
          layoutOptions: { "elk.port.side": "EAST" },
        })),
      ],
    })),
    edges: model.edges.map((edge) => ({ id: edge.id, sources: [port(edge.source, edge.sourceHandle)], targets: [port(edge.target, "in")] })),
  };
}

function port(nodeId: string, handle: string): string {
  return `${nodeId}::${handle}`;
}
