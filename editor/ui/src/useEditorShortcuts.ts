/// <reference lib="dom" />
// The editor's keyboard shortcuts (⌘ instead of Ctrl on macOS):
//   Ctrl+Z undo, Ctrl+Shift+Z or Ctrl+Y redo: every edit of the graph and every move. In the inspector's
//     fields too (they show the graph's value, so the graph's history is their history); in other text
//     fields (the new graph's id) the browser's own undo.
//   Ctrl+S saves the graph now (autosave does it about a second after the last edit anyway).
//   Ctrl+C / Ctrl+V copy the selected nodes and paste them with new ids, outside text fields.
// Delete / Backspace (remove the selection) and Shift (add to it) are React Flow's, on the canvas.

import { useEffect } from "react";
import { useEditor } from "./store.js";

export function useEditorShortcuts(): void {
  useEffect(() => {
    const onKeyDown = (event: KeyboardEvent) => {
      if (!(event.ctrlKey || event.metaKey) || event.altKey) return;
      const target = event.target as HTMLElement | null;
      const inText = target !== null && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
      const inInspector = target?.closest(".inspector") != null;
      const key = event.key.toLowerCase();
      const editor = useEditor.getState();
      if (key === "s") {
        event.preventDefault();
        void editor.save();
        return;
      }
      if (inText && !inInspector) return;
      if (key === "z" && !event.shiftKey) editor.undo();
      else if ((key === "z" && event.shiftKey) || (key === "y" && !event.shiftKey)) editor.redo();
      else if (key === "c" && !inText && !event.shiftKey && editor.selection.length > 0 && !window.getSelection()?.toString()) editor.copySelection();
      else if (key === "v" && !inText && !event.shiftKey) editor.paste();
      else return;
      event.preventDefault();
    };
    window.addEventListener("keydown", onKeyDown);
    return () => window.removeEventListener("keydown", onKeyDown);
  }, []);
}
