/// <reference lib="dom" />
// Renaming, duplicating and deleting project files from the project browser. The host does the work and
// checks references (editor/project/project-folder.ts: a renamed character is renamed in every graph that
// uses it; a character that graphs use is only deleted when forced); this side saves what is pending
// first, so nothing typed is lost or written over a moved file, and afterwards reads the listing again and
// reopens what was open under its new id (its undo history starts afresh, as after any reload).

import { request, type DocumentSummary, type DocumentView } from "./api.js";
import { useCharacters } from "./character-store.js";
import { useEditor } from "./store.js";

export type DocumentKindShown = "character" | "dialogue";

/** Saves the open graph and character; false when one still has edits that cannot be saved. */
async function savePending(): Promise<boolean> {
  await Promise.all([useEditor.getState().save(), useCharacters.getState().save()]);
  const graph = useEditor.getState();
  const character = useCharacters.getState();
  return graph.json === graph.savedJson && character.json === character.savedJson;
}

class PendingEditsError extends Error {
  constructor() {
    super("the open graph or character has edits that cannot be saved (it has problems, or its file changed on disk); fix or reload it first");
  }
}

/** Reads the listing again and reopens the open graph and character, following a rename or a delete. */
async function refresh(renamed?: { kind: DocumentKindShown; from: string; to: string }, deleted?: { kind: DocumentKindShown; id: string }): Promise<void> {
  const editor = useEditor.getState();
  const openCharacter = useCharacters.getState().open?.id ?? null;
  const openGraph = editor.graph?.id ?? null;
  await editor.loadProject();
  if (openGraph !== null) {
    if (deleted?.kind === "dialogue" && deleted.id === openGraph) {
      useEditor.setState({ selectedGraph: null, graph: null, json: null, savedJson: null, layout: {}, selection: [] });
      useEditor.temporal.getState().clear();
      if (location.hash.startsWith("#graph=")) history.replaceState(null, "", location.pathname + location.search);
    } else if (renamed && (renamed.kind === "character" || renamed.from === openGraph)) {
      // The graph moved, or its file was rewritten because its character was renamed: read it again (its
      // edits were saved above, so nothing is dropped).
      useEditor.setState({ savedJson: useEditor.getState().json });
      await editor.openGraph(renamed.kind === "dialogue" ? renamed.to : openGraph);
    }
  }
  if (openCharacter !== null) {
    const characters = useCharacters.getState();
    if (deleted?.kind === "character" && deleted.id === openCharacter) await characters.close();
    else if (renamed?.kind === "character" && renamed.from === openCharacter) {
      await characters.close();
      await characters.openCharacter(renamed.to);
    } else if (openGraph !== null && renamed) await characters.openCharacter(openCharacter); // the graph's reopening took the address
  }
}

export async function renameDocument(kind: DocumentKindShown, from: string, to: string): Promise<void> {
  if (!(await savePending())) throw new PendingEditsError();
  await request<{ document: DocumentView }>("POST", kind === "character" ? "/api/rename-character" : "/api/rename-graph", { from, to });
  await refresh({ kind, from, to });
}

export async function duplicateDocument(doc: DocumentSummary, newId: string): Promise<void> {
  if (!(await savePending())) throw new PendingEditsError();
  await request<{ document: DocumentView }>("POST", "/api/duplicate", { path: doc.path, newId });
  await useEditor.getState().loadProject();
}

/** Deletes a file (and a graph's layout); `force` deletes a character that graphs still use. */
export async function deleteDocument(doc: DocumentSummary, force = false): Promise<void> {
  if (!(await savePending())) throw new PendingEditsError();
  await request<{ ok: true; deleted: string }>("POST", "/api/delete", { path: doc.path, force });
  await refresh(undefined, { kind: doc.kind as DocumentKindShown, id: doc.id });
}
