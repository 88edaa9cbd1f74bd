// Hooks for what the panels derive from the store: the open graph's validation and canvas model, and
// where every node sits (its stored position, or the auto-layout's).

import { useMemo } from "react";
import { analyzeGraph, type GraphAnalysis } from "./analysis.js";
import type { Positions } from "./layout.js";
import { charactersOf } from "./persistence.js";
import { useEditor } from "./store.js";

/** The open graph's errors, warnings and canvas model; null when no editable graph is open. */
export function useAnalysis(): GraphAnalysis | null {
  return useEditor((s) => (s.graph && s.json ? analyzeGraph(s.graph.id, s.json, charactersOf(s)) : null));
}

/** Every node's position: the layout file's, else where the auto-layout put it. */
export function usePositions(): Positions {
  const auto = useEditor((s) => s.graph?.auto);
  const layout = useEditor((s) => s.layout);
  return useMemo(() => ({ ...auto, ...layout }), [auto, layout]);
}
