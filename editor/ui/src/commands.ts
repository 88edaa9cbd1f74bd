// What the page's chrome asks of the canvas and the overlays: open the search or the shortcuts help, bring
// a node into view, fit the graph in view. The canvas's viewport belongs to React Flow, inside the canvas's
// own provider; the toolbar, the search and the keyboard shortcuts live outside it, so they leave a request
// here and the canvas (CanvasCommands.tsx) carries it out. Not part of the undo history.

import { create } from "zustand";

export interface FocusRequest {
  graph: string;
  node: string;
  /** Distinguishes two requests for the same node (picking the same hit twice centres it again). */
  seq: number;
}

export interface CommandsState {
  searchOpen: boolean;
  helpOpen: boolean;
  /** The node to select and centre once its graph is on the canvas. */
  focus: FocusRequest | null;
  /** Bumped to ask the canvas to fit the whole graph in view. */
  fitSeq: number;

  openSearch(): void;
  closeSearch(): void;
  setHelpOpen(open: boolean): void;
  focusNode(graph: string, node: string): void;
  /** The canvas did it: the request is dropped so a later canvas does not repeat it. */
  focusDone(seq: number): void;
  fitView(): void;
}

let seq = 0;

export const useCommands = create<CommandsState>()((set, get) => ({
  searchOpen: false,
  helpOpen: false,
  focus: null,
  fitSeq: 0,

  openSearch: () => set({ searchOpen: true, helpOpen: false }),
  closeSearch: () => set({ searchOpen: false }),
  setHelpOpen: (helpOpen) => set({ helpOpen, ...(helpOpen ? { searchOpen: false } : {}) }),
  focusNode: (graph, node) => set({ focus: { graph, node, seq: ++seq } }),
  focusDone: (done) => {
    if (get().focus?.seq === done) set({ focus: null });
  },
  fitView: () => set((s) => ({ fitSeq: s.fitSeq + 1 })),
}));
