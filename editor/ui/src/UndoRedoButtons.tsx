// The top bar's Undo and Redo buttons, for whichever history the centre shows (the graph's or a character's).

export default function UndoRedoButtons({
  canUndo,
  canRedo,
  undo,
  redo,
  undoTitle,
}: {
  canUndo: boolean;
  canRedo: boolean;
  undo: () => void;
  redo: () => void;
  undoTitle: string;
}) {
  return (
    <div className="undo-redo">
      <button type="button" onClick={undo} disabled={!canUndo} title={undoTitle}>
        Undo
      </button>
      <button type="button" onClick={redo} disabled={!canRedo} title="Redo (Ctrl+Shift+Z or Ctrl+Y)">
        Redo
      </button>
    </div>
  );
}
