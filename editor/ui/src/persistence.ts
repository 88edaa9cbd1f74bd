// Writing the open graph back to its files. The graph file is saved about a second after the last edit
// (or at once with Ctrl+S), as the plugin's serializeDialogueGraph writes it, with the hash it was read or
// last saved with, so the host refuses it (409) when someone else changed the file meanwhile: the page
// then keeps the edit, shows the disk-changes banner and writes nothing more until the file is reloaded.
// A graph with errors is not sent at all (the host would refuse it): the edit stays in the page, the
// problems are listed, and it is saved once they are fixed.
//
// The layout file (node positions) is written as soon as the positions change: a move, a node added,
// deleted or pasted, an undo. Saves of each file run one after another, the latest state each time.

import { serializeDialogueGraph } from "../../../plugin/dialogue/validate.js";
import { LAYOUT_SCHEMA, serializeGraphLayout } from "../../project/layout.js";
import { analyzeGraph } from "./analysis.js";
import { api, asApiError, type DiskChange, type DocumentSummary, type ProjectListing } from "./api.js";
import type { Positions } from "./layout.js";
import type { EditorState } from "./store.js";

export const AUTOSAVE_DELAY_MS = 1000;

export interface Persistence {
  /** The graph file was just read as `text` (or reopened): what counts as saved from now on. */
  opened(text: string, layout: Positions): void;
  /** Saves the graph file after the autosave delay (restarted by each call). */
  saveGraphSoon(): void;
  /** Saves the graph file now (if it changed and is valid). */
  saveGraph(): Promise<void>;
  /** Saves the layout file now (if the positions changed). */
  saveLayout(): Promise<void>;
  /** Saves what is pending now and waits for every save under way. */
  flush(): Promise<void>;
}

export function createPersistence(get: () => EditorState, set: (partial: Partial<EditorState>) => void): Persistence {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let graphChain: Promise<void> = Promise.resolve();
  let layoutChain: Promise<void> = Promise.resolve();
  /** The text last read or written, and the positions last written. */
  let savedText = "";
  let savedLayout: Positions = {};
  let triedLayout: Positions | undefined;

  const saveGraphOnce = async (): Promise<void> => {
    const s = get();
    const { graph, json } = s;
    if (!graph || !json || json === s.savedJson || s.saveState === "conflict") return;
    const analysis = analyzeGraph(graph.id, json, charactersOf(s));
    if (!analysis.graph) return; // the page says "not saved: N problems" until they are fixed
    const text = serializeDialogueGraph(analysis.graph);
    if (text === savedText) {
      set({ savedJson: json });
      return;
    }
    set({ saveState: "saving" });
    try {
      const { hash, document } = await api.save(graph.path, text, s.graphHash);
      if (get().graph !== graph) return;
      savedText = text;
      set({ graphHash: hash, savedJson: json, saveState: "idle", project: withDocument(get().project, document) });
    } catch (error) {
      if (get().graph !== graph) return;
      const e = asApiError(error);
      if (e.code === "EXTERNAL_CHANGE") {
        const paths = Array.isArray(e.details.paths) ? (e.details.paths as string[]) : [graph.path];
        const known = new Set(get().diskChanges.map((c) => c.path));
        const added: DiskChange[] = paths.filter((p) => !known.has(p)).map((path) => ({ path, change: "modified" }));
        set({ saveState: "conflict", diskChanges: [...get().diskChanges, ...added] });
      } else {
        set({ saveState: "failed" });
        get().report(`Saving ${graph.path}`, e);
      }
    }
  };

  const saveLayoutOnce = async (): Promise<void> => {
    const s = get();
    const { graph, layout } = s;
    // A refused layout is not sent again: the next change (or a reload) is.
    if (!graph || layout === savedLayout || layout === triedLayout) return;
    triedLayout = layout;
    const action = layoutAction(graph.id, savedLayout, layout);
    if (graph.layoutProblem) {
      savedLayout = layout;
      get().report(action, new Error(`${graph.layoutPath} has problems; fix or delete it before moving nodes`));
      return;
    }
    try {
      const { hash, document } = await api.save(graph.layoutPath, serializeGraphLayout({ schema: LAYOUT_SCHEMA, nodes: layout }), s.layoutHash);
      if (get().graph !== graph) return;
      savedLayout = layout;
      set({ layoutHash: hash, project: withDocument(get().project, document) });
    } catch (error) {
      if (get().graph === graph) get().report(action, error);
    }
  };

  const persistence: Persistence = {
    opened(text, layout) {
      clearTimeout(timer);
      savedText = text;
      savedLayout = layout;
      triedLayout = undefined;
    },
    saveGraphSoon() {
      clearTimeout(timer);
      timer = setTimeout(() => void persistence.saveGraph(), AUTOSAVE_DELAY_MS);
    },
    saveGraph() {
      clearTimeout(timer);
      graphChain = graphChain.then(saveGraphOnce);
      return graphChain;
    },
    saveLayout() {
      layoutChain = layoutChain.then(saveLayoutOnce);
      return layoutChain;
    },
    async flush() {
      await Promise.all([persistence.saveGraph(), layoutChain]);
    },
  };
  return persistence;
}

/** The project's character ids: a graph must be spoken by one of them. */
export function charactersOf(state: Pick<EditorState, "project">): string[] {
  return (state.project?.documents ?? []).filter((d) => d.kind === "character").map((d) => d.id);
}

/** The project listing with a saved file's new summary (its badge in the browser follows). */
function withDocument(project: ProjectListing | null, document: DocumentSummary): ProjectListing | null {
  if (!project) return project;
  const known = project.documents.some((d) => d.path === document.path);
  return { ...project, documents: known ? project.documents.map((d) => (d.path === document.path ? document : d)) : [...project.documents, document] };
}

/** What a layout save is about: one node's move, or the layout as a whole. */
function layoutAction(graphId: string, before: Positions, after: Positions): string {
  const changed = new Set<string>();
  for (const [id, p] of Object.entries(after)) if (before[id]?.x !== p.x || before[id]?.y !== p.y) changed.add(id);
  for (const id of Object.keys(before)) if (!Object.hasOwn(after, id)) changed.add(id);
  return changed.size === 1 ? `Saving the position of "${[...changed][0]}" in ${graphId}` : `Saving the layout of ${graphId}`;
}
