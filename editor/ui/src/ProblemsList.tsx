/// <reference lib="dom" />
// The graph's name and its problems as the writer edits it (the plugin's checkDialogueGraph on the JSON
// in the page): errors (a dangling exit, a condition that does not type-check, with its column) and
// warnings (unreachable nodes, unknown placeholders). Clicking a problem about a node selects the node
// and brings it into view.

import { useReactFlow } from "@xyflow/react";
import type { Problem } from "./graph-model.js";
import { useAnalysis } from "./selectors.js";
import { useEditor } from "./store.js";

export default function ProblemsList() {
  const { fitView } = useReactFlow();
  const analysis = useAnalysis();
  const layoutProblem = useEditor((s) => s.graph?.layoutProblem);
  const setSelection = useEditor((s) => s.setSelection);
  if (!analysis) return null;
  const { model } = analysis;
  const problems: (Problem & { node?: string })[] = [
    ...model.graphProblems,
    ...model.nodes.flatMap((node) => node.problems.map((p) => ({ ...p, node: node.id }))),
  ];
  const errors = problems.filter((p) => p.severity === "error").length;
  const warnings = problems.length - errors;
  const show = (node: string) => {
    setSelection([node]);
    void fitView({ nodes: [{ id: node }], duration: 300, maxZoom: 1.2 });
  };
  return (
    <div className="graph-summary" data-testid="problems">
      <div className="graph-title">
        <strong>{model.id}</strong>
        <span className="muted">
          {model.character ? ` spoken by ${model.character} · ` : " · "}
          {model.nodes.length} nodes
        </span>
        {errors > 0 && (
          <span className="badge error">
            {errors} {errors === 1 ? "error" : "errors"}
          </span>
        )}
        {warnings > 0 && (
          <span className="badge warning">
            {warnings} {warnings === 1 ? "warning" : "warnings"}
          </span>
        )}
      </div>
      {(problems.length > 0 || layoutProblem) && (
        <ul className="graph-problems">
          {problems.map((p, i) => (
            <li key={i} className={p.severity}>
              {p.node ? (
                <button type="button" onClick={() => show(p.node!)}>
                  {p.path}
                </button>
              ) : (
                <code>{p.path || "(graph)"}</code>
              )}{" "}
              {p.message}
            </li>
          ))}
          {layoutProblem && <li className="warning">{layoutProblem} (the nodes are placed automatically instead)</li>}
        </ul>
      )}
    </div>
  );
}
