/// <reference lib="dom" />
// The open dialogue graph on a React Flow canvas: one box per node, an edge from each node to each node it
// leads to, the start node marked and the nodes with problems outlined. Pan, zoom, the minimap and the
// controls are React Flow's; only the nodes in view are rendered, so large graphs stay smooth. Dropping
// dragged nodes moves them in the store, which saves them to the layout file and makes the move undoable.

import {
  Background,
  BackgroundVariant,
  Controls,
  MarkerType,
  MiniMap,
  Panel,
  ReactFlow,
  ReactFlowProvider,
  useNodesState,
  useReactFlow,
  type Edge,
  type FitViewOptions,
  type NodeTypes,
  type OnNodeDrag,
} from "@xyflow/react";
import { useCallback, useEffect, useMemo, useState } from "react";
import DialogueNode, { type DialogueFlowNode } from "./DialogueNode.js";
import { nodeTypeInfo, type GraphModel, type Problem } from "./graph-model.js";
import type { Positions } from "./layout.js";
import { useEditor, type OpenGraph } from "./store.js";

const nodeTypes: NodeTypes = { dialogue: DialogueNode };
/** Room at the top for the graph's summary panel; a small graph is shown at its real size, not blown up. */
const FIT_VIEW: FitViewOptions = { padding: { top: "64px", right: "24px", bottom: "24px", left: "24px" }, maxZoom: 1 };

export default function GraphCanvas() {
  const graph = useEditor((s) => s.graph);
  const selected = useEditor((s) => s.selectedGraph);
  if (!graph || graph.id !== selected) {
    return <div className="canvas-message">{selected ? `Opening ${selected}…` : "Choose a dialogue graph on the left to see it here."}</div>;
  }
  if (graph.model.unreadable !== undefined) {
    return (
      <div className="canvas-message problem" role="alert">
        <strong>dialogue/{graph.id}.json cannot be drawn:</strong>
        <pre>{graph.model.unreadable}</pre>
      </div>
    );
  }
  // A fresh canvas per graph: it fits the new graph in view, and its viewport is not carried over.
  return (
    <ReactFlowProvider key={graph.id}>
      <Canvas graph={graph} />
    </ReactFlowProvider>
  );
}

function Canvas({ graph }: { graph: OpenGraph }) {
  const positions = useEditor((s) => s.positions);
  const moveNodes = useEditor((s) => s.moveNodes);
  const [initialNodes] = useState(() => flowNodes(graph.model, positions, []));
  const [nodes, setNodes, onNodesChange] = useNodesState<DialogueFlowNode>(initialNodes);

  // The store is the truth for positions (a reload, an undo): bring the boxes there, keeping selection
  // and React Flow's measurements.
  useEffect(() => setNodes((current) => flowNodes(graph.model, positions, current)), [graph.model, positions, setNodes]);

  // The edges of the selected nodes are highlighted; they are rebuilt only when the selection changes.
  const selectionKey = nodes
    .filter((n) => n.selected)
    .map((n) => n.id)
    .join(" ");
  const edges = useMemo(() => flowEdges(graph.model, new Set(selectionKey.split(" "))), [graph.model, selectionKey]);

  const onNodeDragStop: OnNodeDrag<DialogueFlowNode> = useCallback(
    (_event, _node, dragged) => moveNodes(Object.fromEntries(dragged.map((n) => [n.id, n.position]))),
    [moveNodes],
  );

  return (
    <ReactFlow
      nodes={nodes}
      edges={edges}
      nodeTypes={nodeTypes}
      onNodesChange={onNodesChange}
      onNodeDragStop={onNodeDragStop}
      fitView
      fitViewOptions={FIT_VIEW}
      minZoom={0.1}
      maxZoom={2}
      onlyRenderVisibleElements
      nodesConnectable={false}
      edgesFocusable={false}
      deleteKeyCode={null}
      defaultEdgeOptions={{ markerEnd: { type: MarkerType.ArrowClosed, width: 18, height: 18 } }}
    >
      <Background variant={BackgroundVariant.Dots} gap={20} size={1.2} />
      <MiniMap pannable zoomable nodeColor={(n) => nodeTypeInfo((n as DialogueFlowNode).data.type).color} nodeBorderRadius={4} />
      <Controls showInteractive={false} />
      <Panel position="top-left">
        <GraphSummary graph={graph} />
      </Panel>
    </ReactFlow>
  );
}

/** The graph's name and its problems; clicking a problem about a node brings that node into view. */
function GraphSummary({ graph }: { graph: OpenGraph }) {
  const { fitView } = useReactFlow();
  const { model } = graph;
  const problems: (Problem & { node?: string })[] = [
    ...model.graphProblems,
    ...model.nodes.flatMap((node) => node.problems.map((p) => ({ ...p, node: node.id }))),
  ];
  const errors = problems.filter((p) => p.severity === "error").length;
  const warnings = problems.length - errors;
  return (
    <div className="graph-summary">
      <div className="graph-title">
        <strong>{model.id}</strong>
        <span className="muted">
          {model.character ? ` spoken by ${model.character} · ` : " · "}
          {model.nodes.length} nodes
        </span>
        {errors > 0 && <span className="badge error">{errors} {errors === 1 ? "error" : "errors"}</span>}
        {warnings > 0 && <span className="badge warning">{warnings} {warnings === 1 ? "warning" : "warnings"}</span>}
      </div>
      {(problems.length > 0 || graph.layoutProblem) && (
        <ul className="graph-problems">
          {problems.map((p, i) => (
            <li key={i} className={p.severity}>
              {p.node ? (
                <button type="button" onClick={() => void fitView({ nodes: [{ id: p.node! }], duration: 300, maxZoom: 1.2 })}>
                  {p.path}
                </button>
              ) : (
                <code>{p.path || "(graph)"}</code>
              )}{" "}
              {p.message}
            </li>
          ))}
          {graph.layoutProblem && <li className="warning">{graph.layoutProblem} (the nodes are placed automatically instead)</li>}
        </ul>
      )}
    </div>
  );
}

function flowNodes(model: GraphModel, positions: Positions, current: DialogueFlowNode[]): DialogueFlowNode[] {
  const previous = new Map(current.map((n) => [n.id, n]));
  return model.nodes.map((view) => {
    const old = previous.get(view.id);
    const position = positions[view.id] ?? old?.position ?? { x: 0, y: 0 };
    if (old && old.data === view && old.position.x === position.x && old.position.y === position.y) return old;
    // The size is known from the content, so the canvas can cull and fit nodes before drawing them.
    return { ...old, id: view.id, type: "dialogue", position, data: view, width: view.width, height: view.height };
  });
}

function flowEdges(model: GraphModel, selected: ReadonlySet<string>): Edge[] {
  return model.edges.map((edge) => {
    const active = selected.has(edge.source) || selected.has(edge.target);
    return {
      id: edge.id,
      source: edge.source,
      sourceHandle: edge.sourceHandle,
      target: edge.target,
      label: edge.label || undefined,
      className: active ? "active" : undefined,
      zIndex: active ? 1 : 0,
      labelBgPadding: [5, 3] as [number, number],
      labelBgBorderRadius: 4,
    };
  });
}
