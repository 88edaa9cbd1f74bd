// Where the canvas looks: how a graph is fitted in view, from which zoom out it is drawn "far" (boxes
// without text, far-view.css), and the view a graph opens at.
//
// A graph that fits the canvas at a readable zoom opens fitted, whole. One too large for that (hundreds of
// nodes) would open as a field of unreadable boxes, every one of them drawn: it opens at 100% on its start
// node instead, the way a writer starts reading it, with the minimap showing the whole and Shift+1 (or the
// fit button) fitting it in view.

import { getNodesBounds, getViewportForBounds, type FitViewOptions, type Node, type Viewport } from "@xyflow/react";

/** Room at the top for the graph's summary panel; a small graph is shown at its real size, not blown up. */
export const FIT_VIEW: FitViewOptions = { padding: { top: "64px", right: "24px", bottom: "24px", left: "24px" }, maxZoom: 1 };
/** Below this zoom a box's text (12.5 px) is under 5 px on screen: unreadable, so not drawn. */
export const FAR_ZOOM = 0.4;
/** The zoom a found node, or the start node of a large graph, is shown at. */
export const READING_ZOOM = 1;
export const MIN_ZOOM = 0.1;
export const MAX_ZOOM = 2;

/** The viewport a graph opens at on a canvas of `width` × `height`: fitted when readable, else its start node at 100%. */
export function openingViewport(nodes: readonly Node[], start: string, width: number, height: number): Viewport | null {
  if (nodes.length === 0 || width === 0 || height === 0) return null;
  const fitted = getViewportForBounds(getNodesBounds([...nodes]), width, height, MIN_ZOOM, FIT_VIEW.maxZoom ?? MAX_ZOOM, FIT_VIEW.padding ?? 0.1);
  if (fitted.zoom >= FAR_ZOOM) return fitted;
  const first = nodes.find((node) => node.id === start) ?? nodes[0];
  const w = first.width ?? 0;
  const h = first.height ?? 0;
  // The start node a little left of the middle: the conversation runs to the right.
  return { x: width / 3 - (first.position.x + w / 2) * READING_ZOOM, y: height / 2 - (first.position.y + h / 2) * READING_ZOOM, zoom: READING_ZOOM };
}
