/// <reference lib="dom" />
// Moves the canvas's view, from inside <ReactFlow> where the viewport can be moved: to where a graph opens
// (viewport.ts: fitted, or a large graph's start node), to the whole graph when the page asks (commands.ts:
// the fit button, Shift+1, after an auto-layout), and to a node found by the search, selected. It draws
// nothing.

import { useReactFlow, useStore as useFlowStore, useStoreApi } from "@xyflow/react";
import { useEffect, useRef } from "react";
import { useCommands } from "./commands.js";
import { useEditor } from "./store.js";
import { FIT_VIEW, openingViewport, READING_ZOOM } from "./viewport.js";

const MOVE_MS = 200;

export default function CanvasCommands() {
  const graph = useEditor((s) => s.graph?.id);
  const { fitView, setCenter, setViewport, getZoom, getInternalNode, getNodes } = useReactFlow();
  const flow = useStoreApi();
  const fitSeq = useCommands((s) => s.fitSeq);
  const focus = useCommands((s) => s.focus);
  // The canvas knows its size once it is on the page.
  const ready = useFlowStore((s) => s.width > 0 && s.height > 0 && s.panZoom !== null);
  const placed = useRef(false);
  const fitsDone = useRef(fitSeq);

  useEffect(() => {
    if (fitSeq === fitsDone.current) return;
    fitsDone.current = fitSeq;
    void fitView({ ...FIT_VIEW, duration: MOVE_MS });
  }, [fitSeq, fitView]);

  useEffect(() => {
    if (!ready) return;
    const opening = !placed.current;
    placed.current = true;
    if (focus && focus.graph === graph) {
      useCommands.getState().focusDone(focus.seq);
      const node = getInternalNode(focus.node);
      if (node) {
        useEditor.getState().setSelection([focus.node]);
        const { x, y } = node.internals.positionAbsolute;
        const width = node.measured.width ?? node.width ?? 0;
        const height = node.measured.height ?? node.height ?? 0;
        void setCenter(x + width / 2, y + height / 2, { zoom: Math.max(opening ? 0 : getZoom(), READING_ZOOM), duration: opening ? 0 : MOVE_MS });
        return;
      }
    }
    if (!opening) return;
    const { width, height } = flow.getState();
    const view = openingViewport(getNodes(), String(useEditor.getState().json?.start ?? ""), width, height);
    if (view) void setViewport(view);
  }, [ready, focus, graph, flow, getInternalNode, getNodes, setCenter, setViewport, getZoom]);

  return null;
}
