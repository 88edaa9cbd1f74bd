/// <reference lib="dom" />
// The graph's variables: name, type and default value, added and removed with buttons. Conditions and
// effects use them by name; a name with a dot (player.gold) is shared by every graph of the game.
// Renaming a variable does not rewrite the conditions that use it: the problems list shows where.

import { joinPath } from "../../../plugin/errors.js";
import type { VariableType } from "../../../plugin/types.js";
import { VARIABLE_TYPES } from "../../../plugin/dialogue/validate.js";
import { DraftInput, FieldProblems, parseOptionalNumber } from "./fields.js";
import { addVariable, removeVariable, renameVariable, setVariable, variablesOf } from "./graph-edit.js";
import { useAnalysis } from "./selectors.js";
import { useEditor } from "./store.js";

export default function VariablesPanel() {
  const json = useEditor((s) => s.json);
  const change = useEditor((s) => s.edit);
  const analysis = useAnalysis();
  if (!json || !analysis) return null;
  const variables = Object.entries(variablesOf(json));
  const problems = analysis.model.graphProblems;
  const problemsOf = (name: string) => {
    const at = joinPath("variables", name);
    return problems.filter((p) => p.path === at || p.path.startsWith(`${at}.`));
  };

  return (
    <section className="variables" aria-label="Variables">
      <div className="list-head">
        <h3>Variables</h3>
        <button type="button" className="small" onClick={() => change((g) => addVariable(g).graph)}>
          Add variable
        </button>
      </div>
      {variables.length === 0 && <p className="muted">No variables yet. Conditions and effects use them by name.</p>}
      {variables.map(([name, variable], index) => {
        const type = VARIABLE_TYPES.includes(variable.type as VariableType) ? (variable.type as VariableType) : "number";
        // A row is named by its place, so renaming it keeps the field (and its focus).
        const burst = `variable\u0000${index}`;
        return (
          <div className="variable" key={index} data-variable={name}>
            <div className="variable-row">
              <DraftInput
                aria-label="Variable name"
                className="code"
                value={name}
                onChange={(to) => {
                  const wanted = String(to);
                  if (wanted !== name && wanted !== "" && !Object.hasOwn(variablesOf(json), wanted))
                    change((g) => renameVariable(g, name, wanted), `${burst}.name`);
                }}
              />
              <select aria-label="Variable type" value={type} onChange={(e) => change((g) => setVariable(g, name, { type: e.target.value as VariableType }))}>
                {VARIABLE_TYPES.map((t) => (
                  <option key={t} value={t}>
                    {t}
                  </option>
                ))}
              </select>
              {type === "bool" ? (
                <label className="checkbox">
                  <input
                    type="checkbox"
                    aria-label="Default value"
                    checked={variable.default === true}
                    onChange={(e) => change((g) => setVariable(g, name, { default: e.target.checked }))}
                  />{" "}
                  true
                </label>
              ) : (
                <DraftInput
                  aria-label="Default value"
                  value={variable.default}
                  parse={type === "number" ? (t) => parseOptionalNumber(t) ?? 0 : undefined}
                  onChange={(v) => change((g) => setVariable(g, name, { default: v }), `${burst}.default`)}
                />
              )}
              <button
                type="button"
                className="small remove"
                aria-label={`Remove variable ${name}`}
                title={`Remove ${name}`}
                onClick={() => change((g) => removeVariable(g, name))}
              >
                ×
              </button>
            </div>
            <FieldProblems problems={problemsOf(name)} />
          </div>
        );
      })}
    </section>
  );
}
