/// <reference lib="dom" />
// Rename, Duplicate and Delete for the document open in the project browser, each asked inline (a field for
// the new id, or a confirmation) rather than in a browser dialog. What the host refuses (an id taken or
// malformed, a character that graphs still use) is shown under the row; a character in use can then be
// deleted anyway, and its graphs show the problem.

import { useState, type FormEvent } from "react";
import { asApiError, type DocumentSummary } from "./api.js";
import { deleteDocument, duplicateDocument, renameDocument, type DocumentKindShown } from "./document-actions.js";

type Asking = { action: "rename" | "duplicate"; value: string } | { action: "delete"; inUseBy?: string[] } | null;

export default function DocumentActions({ doc }: { doc: DocumentSummary }) {
  const [asking, setAsking] = useState<Asking>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const kind = doc.kind as DocumentKindShown;
  const noun = kind === "character" ? "character" : "graph";

  const run = async (work: () => Promise<void>): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await work();
      setAsking(null);
    } catch (caught) {
      const e = asApiError(caught);
      if (e.code === "CHARACTER_IN_USE" && asking?.action === "delete")
        setAsking({ action: "delete", inUseBy: (e.details.graphs as string[] | undefined) ?? [] });
      else setError(e.message);
    } finally {
      setBusy(false);
    }
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!asking || asking.action === "delete") return;
    const value = asking.value.trim();
    if (asking.action === "rename") void run(() => renameDocument(kind, doc.id, value));
    else void run(() => duplicateDocument(doc, value));
  };

  return (
    <div className="document-actions" aria-label={`${doc.id} actions`}>
      {asking === null && (
        <div className="document-action-buttons">
          <button type="button" onClick={() => setAsking({ action: "rename", value: doc.id })}>
            Rename
          </button>
          <button type="button" onClick={() => setAsking({ action: "duplicate", value: `${doc.id}-copy` })}>
            Duplicate
          </button>
          <button type="button" className="danger" onClick={() => setAsking({ action: "delete" })}>
            Delete
          </button>
        </div>
      )}
      {asking && asking.action !== "delete" && (
        <form className="document-action-form" onSubmit={submit}>
          <label>
            {asking.action === "rename" ? `New id for the ${noun}` : `Id of the copy`}
            <input
              autoFocus
              value={asking.value}
              onChange={(e) => setAsking({ ...asking, value: e.target.value })}
              onKeyDown={(e) => e.key === "Escape" && setAsking(null)}
              title="lower-case letters, digits, - and _"
            />
          </label>
          <button type="submit" disabled={busy || asking.value.trim() === "" || (asking.action === "rename" && asking.value.trim() === doc.id)}>
            {asking.action === "rename" ? "Rename" : "Duplicate"}
          </button>
          <button type="button" onClick={() => setAsking(null)}>
            Cancel
          </button>
          {asking.action === "rename" && kind === "character" && <p className="hint">Graphs that use this character follow the new id.</p>}
        </form>
      )}
      {asking?.action === "delete" && (
        <div className="document-action-form" role="group" aria-label={`Delete ${doc.path}`}>
          {asking.inUseBy ? (
            <p className="warning-text">
              {asking.inUseBy.length === 1 ? "The graph" : "The graphs"} {asking.inUseBy.join(", ")} {asking.inUseBy.length === 1 ? "uses" : "use"} this
              character. Delete it anyway? {asking.inUseBy.length === 1 ? "That graph" : "Those graphs"} will show the missing character as a problem.
            </p>
          ) : (
            <p>
              Delete <code>{doc.path}</code>
              {kind === "dialogue" ? " and its layout" : ""}?
            </p>
          )}
          <button type="button" className="danger" disabled={busy} onClick={() => void run(() => deleteDocument(doc, asking.inUseBy !== undefined))}>
            {asking.inUseBy ? "Delete anyway" : "Delete"}
          </button>
          <button type="button" onClick={() => setAsking(null)}>
            Cancel
          </button>
        </div>
      )}
      {error && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
