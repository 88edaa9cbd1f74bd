// The editor page's state: the project listing, the open graph and where its nodes are, the files changed
// on disk, and the errors to show. zustand keeps it outside React, so the canvas, the browser panel and
// the keyboard shortcuts read and change the same state; zundo's `temporal` middleware records the node
// positions (only those) so a move can be undone and redone. Opening or reloading a graph starts a fresh
// history: an undo never moves a node of a graph that is no longer on screen.
//
// A move is saved at once with POST /api/node-position, which writes the graph's layout file only (the
// graph file is never written by a move); undo and redo save the positions they restore the same way.

import { temporal } from "zundo";
import { create } from "zustand";
import { api, asApiError, type ApiError, type ConnectionState, type DiskChange, type DocumentView, type ProjectListing } from "./api.js";
import { graphModel, type GraphModel } from "./graph-model.js";
import { layoutGraph, type Positions } from "./layout.js";

export interface OpenGraph {
  id: string;
  document: DocumentView;
  model: GraphModel;
  /** Why the layout file's positions were not used (it is not valid). */
  layoutProblem?: string;
}

export interface ShownError {
  key: number;
  /** What the editor was doing: "Saving the position of greet". */
  action: string;
  error: ApiError;
}

export interface EditorState {
  project: ProjectListing | null;
  /** The graph chosen in the project browser (it may still be loading). */
  selectedGraph: string | null;
  graph: OpenGraph | null;
  /** Every node of the open graph: stored in its layout file, or placed by the auto-layout. */
  positions: Positions;
  diskChanges: DiskChange[];
  connection: ConnectionState;
  errors: ShownError[];

  loadProject(): Promise<void>;
  /** Reads the project and opens the graph the page's address names (`#graph=ID`), if any. */
  start(): Promise<void>;
  openGraph(id: string): Promise<void>;
  /** Nodes dropped after a drag: one undo step, saved to the layout file. */
  moveNodes(moves: Positions): void;
  undo(): void;
  redo(): void;
  reloadFromDisk(): Promise<void>;
  setDiskChanges(changes: DiskChange[]): void;
  setConnection(state: ConnectionState): void;
  report(action: string, error: unknown): void;
  dismissError(key: number): void;
}

let errorKey = 0;
/** Saves run one after another, in the order the moves were made. */
let saving: Promise<void> = Promise.resolve();

export const useEditor = create<EditorState>()(
  temporal(
    (set, get) => {
      /** Saves the positions in `after` that differ from `before`. */
      const savePositions = (graphId: string, before: Positions, after: Positions): void => {
        for (const [node, position] of Object.entries(after)) {
          const old = before[node];
          if (old && old.x === position.x && old.y === position.y) continue;
          saving = saving.then(async () => {
            try {
              await api.setNodePosition(graphId, node, position.x, position.y);
            } catch (error) {
              get().report(`Saving the position of "${node}" in ${graphId}`, error);
            }
          });
        }
      };

      /** Runs undo or redo on the position history and saves what it changed. */
      const travel = (step: "undo" | "redo"): void => {
        const graph = get().graph;
        const timeline = useEditor.temporal.getState();
        if (!graph || (step === "undo" ? timeline.pastStates : timeline.futureStates).length === 0) return;
        const before = get().positions;
        timeline[step]();
        savePositions(graph.id, before, get().positions);
      };

      return {
        project: null,
        selectedGraph: null,
        graph: null,
        positions: {},
        diskChanges: [],
        connection: "connecting",
        errors: [],

        async loadProject() {
          try {
            set({ project: await api.project() });
          } catch (error) {
            get().report("Reading the project", error);
          }
        },

        async start() {
          await get().loadProject();
          const wanted = new URLSearchParams(location.hash.slice(1)).get("graph");
          if (wanted !== null && get().project?.documents.some((d) => d.kind === "dialogue" && d.id === wanted)) await get().openGraph(wanted);
        },

        async openGraph(id) {
          set({ selectedGraph: id });
          // The open graph is part of the page's address (after the token), so reloading the page keeps it.
          history.replaceState(null, "", `#graph=${encodeURIComponent(id)}`);
          const path = `dialogue/${id}.json`;
          const layoutPath = `dialogue/${id}.layout.json`;
          try {
            await saving; // moves still being saved are part of the layout read below
            // The listing says whether the layout file exists now (the first move creates it); asking for a
            // missing file would be answered 404, which the browser logs as an error.
            const project = await api.project();
            set({ project });
            const hasLayout = project.documents.some((d) => d.path === layoutPath);
            const [document, layout] = await Promise.all([api.file(path), hasLayout ? api.file(layoutPath) : Promise.resolve(undefined)]);
            const model = graphModel(document);
            const stored = (layout?.value as { nodes?: Positions } | undefined)?.nodes ?? {};
            const layoutProblem = layout?.problem ? `${layoutPath}: ${layout.problem.message}` : undefined;
            const positions = await layoutGraph(model, stored);
            if (get().selectedGraph !== id) return; // another graph was chosen meanwhile
            set({ graph: { id, document, model, layoutProblem }, positions });
            useEditor.temporal.getState().clear();
          } catch (error) {
            get().report(`Opening ${path}`, error);
          }
        },

        moveNodes(moves) {
          const { graph, positions } = get();
          if (!graph) return;
          const rounded: Positions = {};
          for (const [node, p] of Object.entries(moves)) rounded[node] = { x: Math.round(p.x), y: Math.round(p.y) };
          const changed = Object.entries(rounded).some(([node, p]) => positions[node]?.x !== p.x || positions[node]?.y !== p.y);
          if (!changed) return;
          set({ positions: { ...positions, ...rounded } });
          savePositions(graph.id, positions, rounded);
        },

        undo: () => travel("undo"),
        redo: () => travel("redo"),

        async reloadFromDisk() {
          try {
            await saving;
            await api.reloadChanged();
            set({ diskChanges: (await api.changes()).changes });
          } catch (error) {
            get().report("Reloading the files changed on disk", error);
          }
          await get().loadProject();
          const open = get().selectedGraph;
          if (open !== null) {
            if (get().project?.documents.some((d) => d.kind === "dialogue" && d.id === open)) await get().openGraph(open);
            else {
              // It was deleted on disk.
              set({ selectedGraph: null, graph: null, positions: {} });
              history.replaceState(null, "", location.pathname + location.search);
            }
          }
        },

        setDiskChanges: (diskChanges) => set({ diskChanges }),
        setConnection: (connection) => set({ connection }),
        report: (action, error) => set((s) => ({ errors: [...s.errors, { key: ++errorKey, action, error: asApiError(error) }] })),
        dismissError: (key) => set((s) => ({ errors: s.errors.filter((e) => e.key !== key) })),
      };
    },
    {
      // Only the positions are history; a new positions object is a new step, nothing else is.
      partialize: (state) => ({ positions: state.positions }),
      equality: (a, b) => a.positions === b.positions,
      limit: 200,
    },
  ),
);
