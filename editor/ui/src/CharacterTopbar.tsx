/// <reference lib="dom" />
// The top bar while the character form is open: whether the character's edits are on disk (saved,
// unsaved, saving, not saved because of its problems or a change on disk) and the form's undo and redo.

import { useStore } from "zustand";
import { checkCharacter } from "./character-check.js";
import { useCharacters } from "./character-store.js";
import { SaveStatusBadge, type SaveStatusKind } from "./SaveStatus.js";
import UndoRedoButtons from "./UndoRedoButtons.js";

export function useCharacterSaveStatus(): { kind: SaveStatusKind; text: string } | null {
  const open = useCharacters((s) => s.open);
  const json = useCharacters((s) => s.json);
  const dirty = useCharacters((s) => s.json !== s.savedJson);
  const saveState = useCharacters((s) => s.saveState);
  if (!open || !json) return null;
  if (saveState === "conflict") return { kind: "conflict", text: "Not saved: the file changed on disk" };
  if (!dirty) return { kind: "saved", text: "Saved" };
  const problems = checkCharacter(json, open.id).issues.length;
  if (problems > 0) return { kind: "invalid", text: `Not saved: ${problems} ${problems === 1 ? "problem" : "problems"}` };
  if (saveState === "saving") return { kind: "saving", text: "Saving…" };
  if (saveState === "failed") return { kind: "failed", text: "Not saved: the host refused it" };
  return { kind: "dirty", text: "Unsaved changes" };
}

export default function CharacterTopbar() {
  const canUndo = useStore(useCharacters.temporal, (s) => s.pastStates.length > 0);
  const canRedo = useStore(useCharacters.temporal, (s) => s.futureStates.length > 0);
  const { undo, redo } = useCharacters.getState();
  return (
    <>
      <SaveStatusBadge status={useCharacterSaveStatus()} />
      <UndoRedoButtons canUndo={canUndo} canRedo={canRedo} undo={undo} redo={redo} undoTitle="Undo the last edit of the character (Ctrl+Z)" />
    </>
  );
}
