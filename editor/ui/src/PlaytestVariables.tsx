/// <reference lib="dom" />
// The run's variables as they are now; those changed since the player last spoke are highlighted.

import { usePlaytest } from "./playtest-store.js";

export default function PlaytestVariables() {
  const variables = usePlaytest((s) => s.view.variables);
  const changed = usePlaytest((s) => s.view.changed);
  const nodes = usePlaytest((s) => s.view.nodes);
  const names = Object.keys(variables).sort();
  return (
    <div className="playtest-box">
      <h3>Variables</h3>
      {names.length === 0 ? (
        <p className="playtest-muted">None yet.</p>
      ) : (
        <table className="playtest-variables" aria-label="Playtest variables">
          <tbody>
            {names.map((name) => (
              <tr key={name} className={changed.includes(name) ? "changed" : undefined} data-variable={name}>
                <th>{name}</th>
                <td>{JSON.stringify(variables[name])}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {nodes.length > 0 && (
        <p className="playtest-path" title="The nodes visited, in order">
          {nodes.join(" → ")}
        </p>
      )}
    </div>
  );
}
