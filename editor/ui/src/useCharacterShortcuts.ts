/// <reference lib="dom" />
// While the character form is open, Ctrl+Z / Ctrl+Shift+Z / Ctrl+Y undo and redo the form's edits and
// Ctrl+S saves the character (⌘ on macOS), exactly as they do for the graph in the graph view: in the
// form's own fields too (they show the character's value, so its history is theirs), but not in other
// text fields (the browser's new-id boxes keep the browser's own undo). The page's shortcuts
// (useEditorShortcuts.ts) listen on the window too; this listener runs first (capture phase) and keeps
// those keys from reaching them, so they never undo a graph hidden behind the form.

import { useEffect } from "react";
import { useCharacters } from "./character-store.js";

export function useCharacterShortcuts(): void {
  useEffect(() => {
    const onKeyDown = (event: KeyboardEvent) => {
      if (!(event.ctrlKey || event.metaKey) || event.altKey) return;
      const key = event.key.toLowerCase();
      const undo = key === "z" && !event.shiftKey;
      const redo = (key === "z" && event.shiftKey) || (key === "y" && !event.shiftKey);
      if (!undo && !redo && key !== "s") return;
      const target = event.target as HTMLElement | null;
      const inText = target !== null && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
      const inForm = target?.closest(".character-form") != null;
      const characters = useCharacters.getState();
      if (key === "s") void characters.save();
      else if (inText && !inForm) return;
      else if (undo) characters.undo();
      else characters.redo();
      event.preventDefault();
      event.stopImmediatePropagation();
    };
    window.addEventListener("keydown", onKeyDown, { capture: true });
    return () => window.removeEventListener("keydown", onKeyDown, { capture: true });
  }, []);
}
