/// <reference lib="dom" />
// Whether the open graph's edits are on disk: saved, unsaved (autosave comes about a second after the
// last edit; Ctrl+S saves at once), saving, not saved because the graph has problems (it is saved once
// they are fixed), or not saved because the file changed on disk (the banner offers to reload it).

import { useEffect } from "react";
import { useAnalysis } from "./selectors.js";
import { useEditor } from "./store.js";

export type SaveStatusKind = "saved" | "dirty" | "saving" | "invalid" | "conflict" | "failed";

export function useSaveStatus(): { kind: SaveStatusKind; text: string } | null {
  const graph = useEditor((s) => s.graph);
  const dirty = useEditor((s) => s.json !== s.savedJson);
  const saveState = useEditor((s) => s.saveState);
  const analysis = useAnalysis();
  if (!graph || !analysis) return null;
  if (saveState === "conflict") return { kind: "conflict", text: "Not saved: the file changed on disk" };
  if (!dirty) return { kind: "saved", text: "Saved" };
  const problems = analysis.errors.length;
  if (problems > 0) return { kind: "invalid", text: `Not saved: ${problems} ${problems === 1 ? "problem" : "problems"}` };
  if (saveState === "saving") return { kind: "saving", text: "Saving…" };
  if (saveState === "failed") return { kind: "failed", text: "Not saved: the host refused it" };
  return { kind: "dirty", text: "Unsaved changes" };
}

export default function SaveStatus() {
  return <SaveStatusBadge status={useSaveStatus()} />;
}

/** A save status as the top bar shows it (the character form passes its own). */
export function SaveStatusBadge({ status }: { status: { kind: SaveStatusKind; text: string } | null }) {
  const dirty = status !== null && status.kind !== "saved";
  // Leaving the page with edits not on disk asks first.
  useEffect(() => {
    if (!dirty) return;
    const warn = (event: BeforeUnloadEvent) => event.preventDefault();
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [dirty]);
  if (!status) return null;
  return (
    <span
      className={`save-status ${status.kind}`}
      data-testid="save-status"
      data-state={status.kind}
      role="status"
      title="Edits are saved about a second after the last one; Ctrl+S saves at once"
    >
      {dirty && (
        <span className="dirty-dot" aria-hidden="true">
          ●{" "}
        </span>
      )}
      {status.text}
    </span>
  );
}
