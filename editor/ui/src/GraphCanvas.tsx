/// <reference lib="dom" />
// The open dialogue graph on a React Flow canvas, editable the way React Flow's examples do it: nodes are
// dragged in from the palette (HTML drag and drop onto the pane, placed with screenToFlowPosition), an
// exit is connected by dragging from its handle to another node, a selected edge or node goes with
// Delete, several are selected with Shift (click, or drag a box). Every change goes to the store as one
// undoable edit of the graph's JSON; the canvas is redrawn from the store's JSON and layout, keeping
// React Flow's selection and measurements. Only the nodes in view are rendered, so large graphs stay smooth.

import {
  applyEdgeChanges,
  applyNodeChanges,
  Background,
  BackgroundVariant,
  Controls,
  MarkerType,
  MiniMap,
  Panel,
  ReactFlow,
  ReactFlowProvider,
  useReactFlow,
  type Connection,
  type Edge,
  type EdgeChange,
  type FitViewOptions,
  type NodeChange,
  type NodeTypes,
  type OnDelete,
  type OnNodeDrag,
  type OnSelectionChangeFunc,
} from "@xyflow/react";
import { useCallback, useEffect, useMemo, useState, type DragEvent } from "react";
import DialogueNode, { type DialogueFlowNode } from "./DialogueNode.js";
import { HEADER_HEIGHT, NODE_WIDTH, nodeTypeInfo, type GraphModel, type NodeView } from "./graph-model.js";
import type { Positions } from "./layout.js";
import Palette, { droppedNodeType } from "./Palette.js";
import ProblemsList from "./ProblemsList.js";
import { useAnalysis, usePositions } from "./selectors.js";
import { useEditor } from "./store.js";

const nodeTypes: NodeTypes = { dialogue: DialogueNode };
/** Room at the top for the graph's summary panel; a small graph is shown at its real size, not blown up. */
const FIT_VIEW: FitViewOptions = { padding: { top: "64px", right: "24px", bottom: "24px", left: "24px" }, maxZoom: 1 };
const DELETE_KEYS = ["Delete", "Backspace"];
const MULTI_SELECT_KEYS = ["Shift", "Control", "Meta"];

export default function GraphCanvas() {
  const graph = useEditor((s) => s.graph);
  const selected = useEditor((s) => s.selectedGraph);
  if (!graph || graph.id !== selected) {
    return <div className="canvas-message">{selected ? `Opening ${selected}…` : "Choose a dialogue graph on the left to see it here."}</div>;
  }
  if (graph.unreadable !== undefined) {
    return (
      <div className="canvas-message problem" role="alert">
        <strong>dialogue/{graph.id}.json cannot be drawn:</strong>
        <pre>{graph.unreadable}</pre>
      </div>
    );
  }
  // A fresh canvas per graph: it fits the new graph in view, and its viewport is not carried over.
  return (
    <ReactFlowProvider key={graph.id}>
      <Palette />
      <div className="flow">
        <Canvas />
      </div>
    </ReactFlowProvider>
  );
}

function Canvas() {
  const model = useAnalysis()!.model;
  const positions = usePositions();
  const selection = useEditor((s) => s.selection);
  const { moveNodes, connect, deleteElements, setSelection, addNode } = useEditor.getState();
  const { screenToFlowPosition } = useReactFlow();

  const selected = useMemo(() => new Set(selection), [selection]);
  const [nodes, setNodes] = useState<DialogueFlowNode[]>(() => flowNodes(model, positions, selected, []));
  const [edges, setEdges] = useState<Edge[]>(() => flowEdges(model, selected, []));

  // The store is the truth (an edit, an undo, a reload): bring the canvas there, keeping React Flow's
  // measurements and the edges' selection.
  useEffect(() => setNodes((current) => flowNodes(model, positions, selected, current)), [model, positions, selected]);
  useEffect(() => setEdges((current) => flowEdges(model, selected, current)), [model, selected]);

  // Removals go through onDelete (one undoable edit); React Flow keeps the rest (selection, drags).
  const onNodesChange = useCallback((changes: NodeChange<DialogueFlowNode>[]) => setNodes((current) => applyNodeChanges(changes.filter((c) => c.type !== "remove"), current)), []);
  const onEdgesChange = useCallback((changes: EdgeChange[]) => setEdges((current) => applyEdgeChanges(changes.filter((c) => c.type !== "remove"), current)), []);
  const onSelectionChange: OnSelectionChangeFunc = useCallback(({ nodes: chosen }) => setSelection(chosen.map((n) => n.id)), [setSelection]);
  const onDelete: OnDelete = useCallback(
    ({ nodes: gone, edges: cut }) =>
      deleteElements(
        gone.map((n) => n.id),
        cut.flatMap((e) => (e.sourceHandle ? [{ source: e.source, handle: e.sourceHandle }] : [])),
      ),
    [deleteElements],
  );
  const onConnect = useCallback((c: Connection) => c.sourceHandle && connect(c.source, c.sourceHandle, c.target), [connect]);
  const onNodeDragStop: OnNodeDrag<DialogueFlowNode> = useCallback((_event, _node, dragged) => moveNodes(Object.fromEntries(dragged.map((n) => [n.id, n.position]))), [moveNodes]);

  const onDragOver = useCallback((event: DragEvent) => {
    if (!droppedNodeType(event.dataTransfer, true)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  }, []);
  const onDrop = useCallback(
    (event: DragEvent) => {
      const type = droppedNodeType(event.dataTransfer);
      if (!type) return;
      event.preventDefault();
      const at = screenToFlowPosition({ x: event.clientX, y: event.clientY });
      // The node's title lands under the pointer.
      addNode(type, { x: at.x - NODE_WIDTH / 2, y: at.y - HEADER_HEIGHT / 2 });
    },
    [screenToFlowPosition, addNode],
  );

  return (
    <ReactFlow
      nodes={nodes}
      edges={edges}
      nodeTypes={nodeTypes}
      onNodesChange={onNodesChange}
      onEdgesChange={onEdgesChange}
      onSelectionChange={onSelectionChange}
      onDelete={onDelete}
      onConnect={onConnect}
      onNodeDragStop={onNodeDragStop}
      onDragOver={onDragOver}
      onDrop={onDrop}
      fitView
      fitViewOptions={FIT_VIEW}
      minZoom={0.1}
      maxZoom={2}
      onlyRenderVisibleElements
      deleteKeyCode={DELETE_KEYS}
      multiSelectionKeyCode={MULTI_SELECT_KEYS}
      defaultEdgeOptions={{ markerEnd: { type: MarkerType.ArrowClosed, width: 18, height: 18 } }}
    >
      <Background variant={BackgroundVariant.Dots} gap={20} size={1.2} />
      <MiniMap pannable zoomable nodeColor={(n) => nodeTypeInfo((n as DialogueFlowNode).data.type).color} nodeBorderRadius={4} />
      <Controls showInteractive={false} />
      <Panel position="top-left">
        <ProblemsList />
      </Panel>
    </ReactFlow>
  );
}

function flowNodes(model: GraphModel, positions: Positions, selected: ReadonlySet<string>, current: DialogueFlowNode[]): DialogueFlowNode[] {
  const previous = new Map(current.map((n) => [n.id, n]));
  return model.nodes.map((view) => {
    const old = previous.get(view.id);
    // A node whose box did not change keeps its data object, so it is not drawn again.
    const data = old && sameView(old.data, view) ? old.data : view;
    const position = positions[view.id] ?? old?.position ?? { x: 0, y: 0 };
    const isSelected = selected.has(view.id);
    if (old && old.data === data && old.position.x === position.x && old.position.y === position.y && Boolean(old.selected) === isSelected) return old;
    // The size is known from the content, so the canvas can cull and fit nodes before drawing them.
    return { ...old, id: view.id, type: "dialogue", position, data, width: view.width, height: view.height, selected: isSelected };
  });
}

function sameView(a: NodeView, b: NodeView): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

function flowEdges(model: GraphModel, selected: ReadonlySet<string>, current: Edge[]): Edge[] {
  const wasSelected = new Set(current.filter((e) => e.selected).map((e) => e.id));
  return model.edges.map((edge) => {
    const active = selected.has(edge.source) || selected.has(edge.target);
    return {
      id: edge.id,
      source: edge.source,
      sourceHandle: edge.sourceHandle,
      target: edge.target,
      label: edge.label || undefined,
      className: active ? "active" : undefined,
      selected: wasSelected.has(edge.id),
      zIndex: active ? 1 : 0,
      labelBgPadding: [5, 3] as [number, number],
      labelBgBorderRadius: 4,
    };
  });
}
