/// <reference lib="dom" />
// The right-hand panel: the selected node's fields, or, with no node selected, the graph's own settings
// (who speaks it, where the conversation starts, its variables).

import NodeInspector from "./NodeInspector.js";
import { FieldProblems, TargetSelect } from "./fields.js";
import { setStart } from "./graph-edit.js";
import { useAnalysis } from "./selectors.js";
import { useEditor } from "./store.js";
import VariablesPanel from "./VariablesPanel.js";

export default function Inspector() {
  const json = useEditor((s) => s.json);
  const selection = useEditor((s) => s.selection);
  if (!json) return null;
  const selected = selection.filter((id) => Object.hasOwn(json.nodes, id));
  return (
    <aside className="inspector" aria-label="Inspector">
      {selected.length === 1 ? (
        <NodeInspector key={selected[0]} id={selected[0]} />
      ) : selected.length > 1 ? (
        <div className="multi-selection">
          <h2>{selected.length} nodes selected</h2>
          <p className="muted">Delete removes them; Ctrl+C and Ctrl+V copy them with new ids; drag one to move them all.</p>
        </div>
      ) : (
        <GraphSettings />
      )}
    </aside>
  );
}

function GraphSettings() {
  const json = useEditor((s) => s.json)!;
  const change = useEditor((s) => s.edit);
  const analysis = useAnalysis();
  const at = (path: string) => (analysis?.model.graphProblems ?? []).filter((p) => p.path === path);
  return (
    <div className="graph-settings">
      <h2>Graph {String(json.id ?? "")}</h2>
      <p className="muted">
        Spoken by <strong>{String(json.character ?? "?")}</strong>. Select a node to edit it; drag nodes in from the palette above the canvas.
      </p>
      <FieldProblems problems={[...at("id"), ...at("character")]} />
      <div className="field">
        <label htmlFor="graph-start">Start node</label>
        <TargetSelect
          id="graph-start"
          value={json.start}
          nodeIds={Object.keys(json.nodes)}
          optional={false}
          onChange={(id) => id && change((g) => setStart(g, id))}
        />
        <FieldProblems problems={at("start")} />
      </div>
      <VariablesPanel />
    </div>
  );
}
