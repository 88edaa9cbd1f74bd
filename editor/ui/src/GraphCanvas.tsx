/// <reference lib="dom" />
// The open dialogue graph on a React Flow canvas, editable the way React Flow's examples do it: nodes are
// dragged in from the palette (HTML drag and drop onto the pane, placed with screenToFlowPosition), an
// exit is connected by dragging from its handle to another node, a selected edge or node goes with
// Delete, several are selected with Shift (click, or drag a box). Every change goes to the store as one
// undoable edit of the graph's JSON; the canvas is redrawn from the store's JSON and layout, keeping
// React Flow's selection and measurements. Only the nodes in view are rendered, and zoomed far out they are
// drawn without their text, so large graphs stay smooth (docs/PERFORMANCE.md, "Editor").

import {
  applyEdgeChanges,
  applyNodeChanges,
  Background,
  BackgroundVariant,
  Controls,
  MarkerType,
  MiniMap,
  Panel,
  Position,
  ReactFlow,
  ReactFlowProvider,
  useReactFlow,
  useStore as useFlowStore,
  type Connection,
  type Edge,
  type EdgeChange,
  type NodeChange,
  type NodeHandle,
  type NodeTypes,
  type OnDelete,
  type OnNodeDrag,
  type OnSelectionChangeFunc,
} from "@xyflow/react";
import { useCallback, useEffect, useMemo, useState, type DragEvent } from "react";
import CanvasCommands from "./CanvasCommands.js";
import CanvasToolbar from "./CanvasToolbar.js";
import DialogueNode, { type DialogueFlowNode } from "./DialogueNode.js";
import { ENTRY_Y, exitY, HEADER_HEIGHT, NODE_WIDTH, nodeTypeInfo, type GraphModel, type NodeView } from "./graph-model.js";
import type { Positions } from "./layout.js";
import Palette, { droppedNodeType } from "./Palette.js";
import ProblemsList from "./ProblemsList.js";
import { useAnalysis, usePositions } from "./selectors.js";
import { useEditor } from "./store.js";
import { FAR_ZOOM, FIT_VIEW, MAX_ZOOM, MIN_ZOOM } from "./viewport.js";
import "./far-view.css";

const nodeTypes: NodeTypes = { dialogue: DialogueNode };
const DELETE_KEYS = ["Delete", "Backspace"];
const MULTI_SELECT_KEYS = ["Shift", "Control", "Meta"];
// Props React Flow compares by identity: a new object or function on each render (each frame of a drag)
// would redraw every edge and every minimap node.
const DEFAULT_EDGE_OPTIONS = { markerEnd: { type: MarkerType.ArrowClosed, width: 18, height: 18 } };
const minimapColor = (node: DialogueFlowNode): string => nodeTypeInfo(node.data.type).color;

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
  // A fresh canvas per graph: it opens the new graph in view (CanvasCommands), and its viewport is not carried over.
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
  // Far out the canvas is drawn without text (far-view.css) and the edges without labels, so that hundreds
  // of nodes in view stay smooth to pan and drag. Closer in, only the nodes in view are rendered; far out
  // nearly all are in view anyway, and keeping them all spares a pan the nodes coming and going at the edges.
  const far = useFlowStore((s) => s.transform[2] < FAR_ZOOM);

  const selected = useMemo(() => new Set(selection), [selection]);
  const [nodes, setNodes] = useState<DialogueFlowNode[]>(() => flowNodes(model, positions, selected, []));
  const [edges, setEdges] = useState<Edge[]>(() => flowEdges(model, selected, [], far));

  // The store is the truth (an edit, an undo, a reload): bring the canvas there, keeping React Flow's
  // measurements and the edges' selection.
  useEffect(() => setNodes((current) => flowNodes(model, positions, selected, current)), [model, positions, selected]);
  useEffect(() => setEdges((current) => flowEdges(model, selected, current, far)), [model, selected, far]);

  // Removals go through onDelete (one undoable edit); React Flow keeps the rest (selection, drags).
  const onNodesChange = useCallback(
    (changes: NodeChange<DialogueFlowNode>[]) =>
      setNodes((current) =>
        applyNodeChanges(
          changes.filter((c) => c.type !== "remove"),
          current,
        ),
      ),
    [],
  );
  const onEdgesChange = useCallback(
    (changes: EdgeChange[]) =>
      setEdges((current) =>
        applyEdgeChanges(
          changes.filter((c) => c.type !== "remove"),
          current,
        ),
      ),
    [],
  );
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
  const onNodeDragStop: OnNodeDrag<DialogueFlowNode> = useCallback(
    (_event, _node, dragged) => moveNodes(Object.fromEntries(dragged.map((n) => [n.id, n.position]))),
    [moveNodes],
  );

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
      minZoom={MIN_ZOOM}
      maxZoom={MAX_ZOOM}
      onlyRenderVisibleElements={!far}
      className={far ? "far" : undefined}
      deleteKeyCode={DELETE_KEYS}
      multiSelectionKeyCode={MULTI_SELECT_KEYS}
      defaultEdgeOptions={DEFAULT_EDGE_OPTIONS}
    >
      <Background variant={BackgroundVariant.Dots} gap={20} size={1.2} />
      {/* Far out the canvas is the overview; a minimap of every node would only cost each frame of a pan. */}
      {!far && <MiniMap<DialogueFlowNode> pannable zoomable nodeColor={minimapColor} nodeBorderRadius={4} />}
      <Controls showInteractive={false} fitViewOptions={FIT_VIEW} />
      <Panel position="top-left">
        <ProblemsList />
      </Panel>
      <CanvasToolbar />
      <CanvasCommands />
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
    // The size and the handles are known from the content, so the canvas can cull, fit and connect nodes
    // before drawing them: only those in view are ever put on the page.
    const handles = old && old.data === data ? old.handles : flowHandles(view);
    // Given as measured too: React Flow counts a node never drawn (out of view) as initialised then, and fits it.
    const size = { width: view.width, height: view.height };
    return { ...old, id: view.id, type: "dialogue", position, data, ...size, measured: size, handles, selected: isSelected };
  });
}

/** A handle's box as DialogueNode.tsx and the style sheets draw it: 9 px, centred on the box's edge. */
const HANDLE_SIZE = 9;

function flowHandles(view: NodeView): NodeHandle[] {
  const half = HANDLE_SIZE / 2;
  // The entry sits on the inner side of the coloured left border (thicker on the start node).
  const border = view.isStart ? 6 : 4;
  return [
    // The entry handle has no id: null, as React Flow reads it from the page (it finds the handle under the
    // pointer by that id when a connection is dropped).
    { id: null, type: "target", position: Position.Left, x: border - half, y: ENTRY_Y - half, width: HANDLE_SIZE, height: HANDLE_SIZE },
    ...view.exits.map((exit, i): NodeHandle => ({
      id: exit.handle,
      type: "source",
      position: Position.Right,
      x: view.width - half,
      y: exitY(view, i) - half,
      width: HANDLE_SIZE,
      height: HANDLE_SIZE,
    })),
  ];
}

function sameView(a: NodeView, b: NodeView): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

function flowEdges(model: GraphModel, selected: ReadonlySet<string>, current: Edge[], far: boolean): Edge[] {
  const wasSelected = new Set(current.filter((e) => e.selected).map((e) => e.id));
  return model.edges.map((edge) => {
    const active = selected.has(edge.source) || selected.has(edge.target);
    return {
      id: edge.id,
      source: edge.source,
      sourceHandle: edge.sourceHandle,
      target: edge.target,
      // A label is measured when drawn (an SVG bounding box each): too small to read far out, it is left out.
      label: (!far && edge.label) || undefined,
      className: active ? "active" : undefined,
      selected: wasSelected.has(edge.id),
      zIndex: active ? 1 : 0,
      labelBgPadding: [5, 3] as [number, number],
      labelBgBorderRadius: 4,
    };
  });
}
