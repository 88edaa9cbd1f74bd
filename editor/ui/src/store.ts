// The editor page's state: the project listing, the open graph (its JSON as edited, its layout), the
// selection, the files changed on disk, and the errors to show. zustand keeps it outside React, so the
// canvas, the inspector, the browser panel and the keyboard shortcuts read and change the same state.
//
// zundo's `temporal` middleware records the graph's JSON and its layout (only those): every edit (a node
// added, deleted, connected or pasted, a field changed, a node moved) is one undo step; typing in one
// field is one step per burst (until the field loses focus or another edit comes). Opening or reloading a
// graph starts a fresh history. The edit operations themselves are pure (graph-edit.ts); saving the
// files is persistence.ts's, run after each change of the JSON (autosave) or the layout (at once).

import { temporal } from "zundo";
import { create } from "zustand";
import type { DialogueNodeType } from "../../../plugin/types.js";
import { api, asApiError, type ApiError, type ConnectionState, type DiskChange, type ProjectListing } from "./api.js";
import * as edit from "./graph-edit.js";
import type { GraphJson } from "./graph-edit.js";
import { graphModel, graphModelOf } from "./graph-model.js";
import { layoutGraph, type Position, type Positions } from "./layout.js";
import { createPersistence } from "./persistence.js";

export interface OpenGraph {
  id: string;
  path: string;
  layoutPath: string;
  /** Why the file cannot be drawn or edited (not JSON, no nodes object). */
  unreadable?: string;
  /** Why the layout file's positions were not used (it is not valid). */
  layoutProblem?: string;
  /** Where the auto-layout put every node when the graph was opened: nodes without a stored position sit there. */
  auto: Positions;
}

export interface ShownError {
  key: number;
  /** What the editor was doing: "Saving the position of greet". */
  action: string;
  error: ApiError;
}

export type SaveState = "idle" | "saving" | "failed" | "conflict";

export interface EditorState {
  project: ProjectListing | null;
  /** The graph chosen in the project browser (it may still be loading). */
  selectedGraph: string | null;
  graph: OpenGraph | null;
  /** The open graph's JSON as edited (null when it cannot be edited). Undoable. */
  json: GraphJson | null;
  /** The positions stored in the graph's layout file. Undoable. */
  layout: Positions;
  /** The JSON last read or saved: the page has unsaved edits while `json` is another object. */
  savedJson: GraphJson | null;
  /** The graph file's hash when last read or saved, and the layout file's (null: no file yet). */
  graphHash: string | null;
  layoutHash: string | null;
  saveState: SaveState;
  /** The selected nodes. */
  selection: string[];
  diskChanges: DiskChange[];
  connection: ConnectionState;
  errors: ShownError[];

  loadProject(): Promise<void>;
  /** Reads the project and opens the graph the page's address names (`#graph=ID`), if any. */
  start(): Promise<void>;
  openGraph(id: string): Promise<void>;
  /** Creates a graph for a character (POST /api/create-graph) and opens it. */
  createGraph(id: string, character: string): Promise<boolean>;

  /** One edit of the graph's JSON: one undo step, or part of the current burst when `burst` names the same field. */
  edit(change: (graph: GraphJson) => GraphJson, burst?: string): void;
  /** Ends the current typing burst (the field lost focus): the next keystroke starts a new undo step. */
  endBurst(): void;
  addNode(type: DialogueNodeType, position: Position): string | undefined;
  connect(source: string, handle: string, target: string | null): void;
  /** Deletes nodes (and their layout entries) and clears the exits of the given edges: one undo step. */
  deleteElements(nodes: readonly string[], exits: readonly { source: string; handle: string }[]): void;
  renameNode(from: string, to: string): void;
  copySelection(): void;
  paste(): void;
  /** Nodes dropped after a drag: one undo step, saved to the layout file. */
  moveNodes(moves: Positions): void;
  setSelection(ids: readonly string[]): void;
  undo(): void;
  redo(): void;
  /** Ctrl+S: saves the graph now (if it is valid). */
  save(): Promise<void>;

  reloadFromDisk(): Promise<void>;
  setDiskChanges(changes: DiskChange[]): void;
  setConnection(state: ConnectionState): void;
  report(action: string, error: unknown): void;
  dismissError(key: number): void;
}

let errorKey = 0;
const persistence = createPersistence(
  () => useEditor.getState(),
  (partial) => useEditor.setState(partial),
);
/** The field being typed into: its keystrokes after the first join the first's undo step. */
let burst: string | null = null;
/** Nodes copied with Ctrl+C (with their positions), pasted with Ctrl+V. */
let clipboard: { nodes: edit.Clip; positions: Positions } | null = null;
const PASTE_OFFSET = 40;

export const useEditor = create<EditorState>()(
  temporal(
    (set, get) => {
      /** Applies a change to the undoable state; with the current burst's key, it joins that step. */
      const commit = (change: Partial<Pick<EditorState, "json" | "layout" | "selection">>, burstKey?: string): void => {
        const timeline = useEditor.temporal.getState();
        const joins = burstKey !== undefined && burst === burstKey;
        if (joins) timeline.pause();
        set(change);
        if (joins) timeline.resume();
        burst = burstKey ?? null;
      };

      /** Runs an edit of the JSON unless the graph cannot be edited, reporting a refused one. */
      const editJson = (what: string, change: (graph: GraphJson) => Partial<Pick<EditorState, "json" | "layout" | "selection">>, burstKey?: string): void => {
        const { json } = get();
        if (!json) return;
        try {
          const next = change(json);
          // Once the graph is edited, every node keeps the place it is seen at: the auto-layout would move
          // the nodes it placed when the graph changes, at the next opening.
          if (next.json && next.json !== json) next.layout = pinned(next.json, next.layout ?? get().layout);
          commit(next, burstKey);
        } catch (error) {
          get().report(what, error);
        }
      };

      const positionOf = (id: string): Position | undefined => get().layout[id] ?? get().graph?.auto[id];

      /** `layout` with a position for every node of `json` (the auto-layout's for those without one). */
      const pinned = (json: GraphJson, layout: Positions): Positions => {
        const missing = Object.keys(json.nodes).filter((id) => !layout[id]);
        if (missing.length === 0) return layout;
        const out = { ...layout };
        for (const id of missing) out[id] = get().graph?.auto[id] ?? { x: 0, y: 0 };
        return out;
      };

      const travel = (step: "undo" | "redo"): void => {
        burst = null;
        const timeline = useEditor.temporal.getState();
        if (!get().graph || (step === "undo" ? timeline.pastStates : timeline.futureStates).length === 0) return;
        timeline[step]();
      };

      return {
        project: null,
        selectedGraph: null,
        graph: null,
        json: null,
        layout: {},
        savedJson: null,
        graphHash: null,
        layoutHash: null,
        saveState: "idle",
        selection: [],
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
          if (get().graph && get().json !== get().savedJson) {
            // Leaving a graph with edits: they are saved first, unless they cannot be (problems, refused).
            await persistence.flush();
            const s = get();
            if (
              s.json !== s.savedJson &&
              !confirm(`${s.graph?.path} has changes that are not saved (it has problems, or the file changed on disk). Leave them?`)
            )
              return;
          }
          set({ selectedGraph: id });
          // The open graph is part of the page's address (after the token), so reloading the page keeps it.
          history.replaceState(null, "", `#graph=${encodeURIComponent(id)}`);
          const path = `dialogue/${id}.json`;
          const layoutPath = `dialogue/${id}.layout.json`;
          try {
            await persistence.flush(); // saves under way are part of what is read below
            // The listing says whether the layout file exists now (the first move creates it); asking for a
            // missing file would be answered 404, which the browser logs as an error.
            const project = await api.project();
            set({ project });
            const layoutSummary = project.documents.find((d) => d.path === layoutPath);
            const [document, layoutDoc] = await Promise.all([api.file(path), layoutSummary ? api.file(layoutPath) : Promise.resolve(undefined)]);
            const json = edit.editableGraph(document.value ?? parseJson(document.text)) ?? null;
            const stored = (layoutDoc?.value as { nodes?: Positions } | undefined)?.nodes ?? {};
            const layoutProblem = layoutDoc?.problem ? `${layoutPath}: ${layoutDoc.problem.message}` : undefined;
            const model = json ? graphModelOf(id, json, [], []) : graphModel(document);
            const auto = await layoutGraph(model, stored);
            if (get().selectedGraph !== id) return; // another graph was chosen meanwhile
            persistence.opened(document.text, stored);
            burst = null;
            set({
              graph: { id, path, layoutPath, auto, layoutProblem, ...(json ? {} : { unreadable: model.unreadable ?? "the file cannot be read" }) },
              json,
              savedJson: json,
              layout: stored,
              graphHash: document.hash,
              layoutHash: layoutDoc?.hash ?? null,
              saveState: "idle",
              selection: [],
            });
            useEditor.temporal.getState().clear();
          } catch (error) {
            get().report(`Opening ${path}`, error);
          }
        },

        async createGraph(id, character) {
          try {
            await api.createGraph(id, character);
          } catch (error) {
            get().report(`Creating the graph "${id}"`, error);
            return false;
          }
          await get().loadProject();
          await get().openGraph(id);
          return true;
        },

        edit: (change, burstKey) => editJson("Editing the graph", (json) => ({ json: change(json) }), burstKey),
        endBurst: () => {
          burst = null;
        },

        addNode(type, position) {
          const json = get().json;
          if (!json) return undefined;
          const id = edit.freshNodeId(json, type);
          const at = { x: Math.round(position.x), y: Math.round(position.y) };
          editJson(`Adding a ${type} node`, (g) => ({ json: edit.addNode(g, id, edit.newNode(type)), layout: { ...get().layout, [id]: at }, selection: [id] }));
          return id;
        },

        connect: (source, handle, target) => editJson(`Connecting ${source}`, (g) => ({ json: edit.connect(g, source, handle, target) })),

        deleteElements(nodes, exits) {
          editJson("Deleting", (g) => {
            let json = g;
            for (const { source, handle } of exits)
              if (!nodes.includes(source) && Object.hasOwn(json.nodes, source)) json = edit.connect(json, source, handle, null);
            json = edit.deleteNodes(json, nodes);
            const layout = { ...get().layout };
            for (const id of nodes) delete layout[id];
            return { json, layout, selection: get().selection.filter((id) => !nodes.includes(id)) };
          });
        },

        renameNode(from, to) {
          editJson(`Renaming ${from}`, (g) => {
            const layout: Positions = {};
            for (const [id, p] of Object.entries(get().layout)) layout[id === from ? to : id] = p;
            const at = positionOf(from);
            if (at && !layout[to]) layout[to] = at; // the renamed node stays where it is
            return { json: edit.renameNode(g, from, to), layout, selection: get().selection.map((id) => (id === from ? to : id)) };
          });
        },

        copySelection() {
          const { json, selection } = get();
          if (!json || selection.length === 0) return;
          const nodes = edit.copyNodes(json, selection);
          const positions: Positions = {};
          for (const id of Object.keys(nodes)) positions[id] = positionOf(id) ?? { x: 0, y: 0 };
          clipboard = { nodes, positions };
        },

        paste() {
          const copied = clipboard;
          if (!copied || Object.keys(copied.nodes).length === 0) return;
          editJson("Pasting", (g) => {
            const { graph, ids } = edit.pasteNodes(g, copied.nodes);
            const layout = { ...get().layout };
            for (const [old, fresh] of ids) {
              const p = copied.positions[old];
              layout[fresh] = { x: p.x + PASTE_OFFSET, y: p.y + PASTE_OFFSET };
            }
            // A second paste lands a step further on.
            clipboard = {
              nodes: copied.nodes,
              positions: Object.fromEntries(Object.entries(copied.positions).map(([id, p]) => [id, { x: p.x + PASTE_OFFSET, y: p.y + PASTE_OFFSET }])),
            };
            return { json: graph, layout, selection: [...ids.values()] };
          });
        },

        moveNodes(moves) {
          const { graph, layout } = get();
          if (!graph) return;
          const rounded: Positions = {};
          for (const [node, p] of Object.entries(moves)) rounded[node] = { x: Math.round(p.x), y: Math.round(p.y) };
          const changed = Object.entries(rounded).some(([node, p]) => positionOf(node)?.x !== p.x || positionOf(node)?.y !== p.y);
          if (!changed) return;
          // A node placed by the auto-layout is first pinned where it was (outside the history), so undoing
          // the move stores it back there rather than leaving it to the auto-layout again.
          const pinned: Positions = { ...layout };
          for (const node of Object.keys(rounded)) if (!pinned[node]) pinned[node] = positionOf(node) ?? rounded[node];
          const timeline = useEditor.temporal.getState();
          timeline.pause();
          set({ layout: pinned });
          timeline.resume();
          commit({ layout: { ...pinned, ...rounded } });
        },

        setSelection(ids) {
          const current = get().selection;
          if (ids.length === current.length && ids.every((id, i) => id === current[i])) return;
          if (ids.length !== 1 || ids[0] !== current[0]) burst = null;
          set({ selection: [...ids] });
        },

        undo: () => travel("undo"),
        redo: () => travel("redo"),
        save: () => persistence.saveGraph(),

        async reloadFromDisk() {
          let reloaded: string[] = [];
          try {
            await persistence.flush();
            reloaded = (await api.reloadChanged()).reloaded;
            set({ diskChanges: (await api.changes()).changes });
          } catch (error) {
            get().report("Reloading the files changed on disk", error);
          }
          await get().loadProject();
          const open = get().graph;
          if (!open) return;
          if (!get().project?.documents.some((d) => d.kind === "dialogue" && d.id === open.id)) {
            // It was deleted on disk.
            set({ selectedGraph: null, graph: null, json: null, savedJson: null, layout: {}, selection: [] });
            history.replaceState(null, "", location.pathname + location.search);
            return;
          }
          // The open graph is read again when its files changed (its unsaved edits are dropped then).
          if (reloaded.includes(open.path) || reloaded.includes(open.layoutPath) || get().saveState === "conflict") {
            set({ savedJson: get().json }); // nothing to save before reading it again
            await get().openGraph(open.id);
          }
        },

        setDiskChanges: (diskChanges) => set({ diskChanges }),
        setConnection: (connection) => set({ connection }),
        report: (action, error) => set((s) => ({ errors: [...s.errors, { key: ++errorKey, action, error: asApiError(error) }] })),
        dismissError: (key) => set((s) => ({ errors: s.errors.filter((e) => e.key !== key) })),
      };
    },
    {
      // Only the graph and its layout are history; a new object of either is a new step, nothing else is.
      partialize: (state) => ({ json: state.json, layout: state.layout }),
      equality: (a, b) => a.json === b.json && a.layout === b.layout,
      limit: 300,
    },
  ),
);

// Every change of the open graph's JSON is saved after the autosave delay; of its layout, at once.
useEditor.subscribe((state, previous) => {
  if (!state.graph || state.graph !== previous.graph) return; // opening a graph is not an edit
  if (state.json !== previous.json && state.json !== state.savedJson) persistence.saveGraphSoon();
  if (state.layout !== previous.layout) void persistence.saveLayout();
});

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
