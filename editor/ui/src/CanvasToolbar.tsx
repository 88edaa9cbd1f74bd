/// <reference lib="dom" />
// The canvas's own buttons, over its top-right corner: auto-layout (the whole graph laid out again, one
// undo step) and fit to view.

import { Panel } from "@xyflow/react";
import { useState } from "react";
import { autoLayout } from "./auto-layout.js";
import { useCommands } from "./commands.js";

export default function CanvasToolbar() {
  const [busy, setBusy] = useState(false);
  const layout = async () => {
    setBusy(true);
    try {
      await autoLayout();
    } finally {
      setBusy(false);
    }
  };
  return (
    <Panel position="top-right" className="canvas-toolbar">
      <button type="button" onClick={() => void layout()} disabled={busy} title="Lay the whole graph out again; Ctrl+Z puts every node back (Ctrl+Shift+L)">
        {busy ? "Laying out…" : "Auto-layout"}
      </button>
      <button type="button" onClick={() => useCommands.getState().fitView()} title="Fit the whole graph in view (Shift+1)">
        Fit view
      </button>
    </Panel>
  );
}
