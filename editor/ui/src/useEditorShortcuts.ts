/// <reference lib="dom" />
// The editor's keyboard shortcuts (⌘ instead of Ctrl on macOS):
//   Ctrl+Z undo, Ctrl+Shift+Z or Ctrl+Y redo: every edit of the graph and every move. In the inspector's
//     fields too (they show the graph's value, so the graph's history is their history); in other text
//     fields (the new graph's id) the browser's own undo.
//   Ctrl+S saves the graph now (autosave does it about a second after the last edit anyway).
//   Ctrl+C / Ctrl+V copy the selected nodes and paste them with new ids, outside text fields.
//   Ctrl+K or Ctrl+F opens the project search (the browser's find would only see the nodes in view).
//   Ctrl+A selects every node, Ctrl+Shift+L lays the graph out again, Shift+1 fits it in view, and ? lists
//     the shortcuts (shortcuts.ts, the list the help shows), outside text fields.
// Delete / Backspace (remove the selection) and Shift (add to it) are React Flow's, on the canvas.

import { useEffect } from "react";
import { autoLayout } from "./auto-layout.js";
import { useCommands } from "./commands.js";
import { useEditor } from "./store.js";

export function useEditorShortcuts(): void {
  useEffect(() => {
    const onKeyDown = (event: KeyboardEvent) => {
      const target = event.target as HTMLElement | null;
      const inText = target !== null && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
      const commands = useCommands.getState();
      // The canvas's own keys act only while a graph is on the page (not behind the character form).
      const onCanvas = document.querySelector(".flow .react-flow") !== null;
      if (!(event.ctrlKey || event.metaKey)) {
        // Plain keys are typing in a text field.
        if (inText || event.altKey) return;
        if (event.key === "?") commands.setHelpOpen(!commands.helpOpen);
        else if (event.code === "Digit1" && event.shiftKey && onCanvas) commands.fitView();
        else return;
        event.preventDefault();
        return;
      }
      if (event.altKey) return;
      const inInspector = target?.closest(".inspector") != null;
      const key = event.key.toLowerCase();
      const editor = useEditor.getState();
      if (key === "s") {
        event.preventDefault();
        void editor.save();
        return;
      }
      if ((key === "k" || key === "f") && !event.shiftKey) {
        event.preventDefault();
        commands.openSearch();
        return;
      }
      if (inText && !inInspector) return;
      if (key === "z" && !event.shiftKey) editor.undo();
      else if ((key === "z" && event.shiftKey) || (key === "y" && !event.shiftKey)) editor.redo();
      else if (key === "c" && !inText && !event.shiftKey && editor.selection.length > 0 && !window.getSelection()?.toString()) editor.copySelection();
      else if (key === "v" && !inText && !event.shiftKey) editor.paste();
      else if (key === "a" && !inText && !event.shiftKey && onCanvas && editor.json) editor.setSelection(Object.keys(editor.json.nodes));
      else if (key === "l" && !inText && event.shiftKey && onCanvas) void autoLayout();
      else return;
      event.preventDefault();
    };
    window.addEventListener("keydown", onKeyDown);
    return () => window.removeEventListener("keydown", onKeyDown);
  }, []);
}
