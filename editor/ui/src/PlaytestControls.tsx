/// <reference lib="dom" />
// How a playtest starts: from the graph's start or any node, with a seed (shown, settable; empty = random),
// variables set by hand over the graph's defaults, and whether the NPC remembers earlier playtests; Start (or
// Restart) and Stop.

import type { VariableType } from "../../../plugin/types.js";
import { useEditor } from "./store.js";
import { usePlaytest } from "./playtest-store.js";

interface DeclaredVariable {
  type: VariableType;
  default: unknown;
}

export default function PlaytestControls() {
  const graphId = useEditor((s) => s.graph?.id ?? null);
  const json = useEditor((s) => s.json);
  const unsaved = useEditor((s) => s.json !== s.savedJson);
  const startNode = usePlaytest((s) => s.startNode);
  const seed = usePlaytest((s) => s.seed);
  const overrides = usePlaytest((s) => s.overrides);
  const remember = usePlaytest((s) => s.remember);
  const character = typeof json?.character === "string" ? json.character : null;
  const busy = usePlaytest((s) => s.busy);
  const run = usePlaytest((s) => s.view.run);
  const ended = usePlaytest((s) => s.view.ended);
  const { setStartNode, setSeed, setOverride } = usePlaytest.getState();

  const nodes = json ? Object.keys(json.nodes) : [];
  const declared = (json?.variables ?? {}) as Record<string, DeclaredVariable>;
  const types = Object.fromEntries(Object.entries(declared).map(([name, v]) => [name, v.type]));
  const running = run !== null && ended === null;

  const start = (): void => {
    if (graphId) void usePlaytest.getState().start(graphId, types);
  };

  if (!graphId) return <p className="playtest-hint">Open a dialogue graph in the project browser to playtest it.</p>;
  return (
    <div className="playtest-controls">
      <div className="playtest-row">
        <label>
          Start at{" "}
          <select value={startNode} onChange={(e) => setStartNode(e.target.value)} aria-label="Start node">
            <option value="">the graph's start{typeof json?.start === "string" ? ` (${json.start})` : ""}</option>
            {nodes.map((id) => (
              <option key={id} value={id}>
                {id}
              </option>
            ))}
          </select>
        </label>
        <label>
          Seed{" "}
          <input className="playtest-seed" value={seed} placeholder="random" inputMode="numeric" onChange={(e) => setSeed(e.target.value)} aria-label="Seed" />
        </label>
        <button type="button" className="primary" onClick={start} disabled={busy === "starting"}>
          {run ? "Restart" : "Start"}
        </button>
        <button type="button" onClick={() => void usePlaytest.getState().stop()} disabled={!running || busy === "stopping"}>
          Stop
        </button>
        {run && (
          <span className="playtest-seed-shown" title="The seed of this run: the same seed and inputs give the same conversation">
            seed {run.seed}
            {String(run.seed) !== seed && (
              <button type="button" className="small playtest-keep" onClick={() => setSeed(String(run.seed))} title="Put this seed in the Seed field">
                keep
              </button>
            )}
            {run.memoryTurns > 0 ? ` · remembered ${run.memoryTurns} earlier turns` : ""}
          </span>
        )}
      </div>
      <div className="playtest-row">
        <label title="As the village's NPCs remember earlier conversations: the memory part of the prompt fills up">
          <input type="checkbox" checked={remember} onChange={(e) => usePlaytest.getState().setRemember(e.target.checked)} /> Remember earlier playtests
        </label>
        {remember && character && (
          <button
            type="button"
            className="small"
            onClick={() => void usePlaytest.getState().forget(character)}
            title={`Clear what ${character} remembers of earlier playtests`}
          >
            Forget
          </button>
        )}
      </div>
      {unsaved && <p className="playtest-hint">The graph has edits not saved yet: the playtest plays the saved graph.</p>}
      {Object.keys(declared).length > 0 && (
        <details className="playtest-overrides">
          <summary>Variables at the start ({Object.keys(overrides).length} set by hand)</summary>
          {Object.entries(declared).map(([name, v]) => (
            <div key={name} className="playtest-override">
              <label>
                <input type="checkbox" checked={name in overrides} onChange={(e) => setOverride(name, e.target.checked ? String(v.default) : null)} /> {name}
              </label>
              {name in overrides &&
                (v.type === "bool" ? (
                  <select value={overrides[name]} onChange={(e) => setOverride(name, e.target.value)} aria-label={`${name} at the start`}>
                    <option value="true">true</option>
                    <option value="false">false</option>
                  </select>
                ) : (
                  <input value={overrides[name]} onChange={(e) => setOverride(name, e.target.value)} aria-label={`${name} at the start`} />
                ))}
              <span className="playtest-muted">
                {v.type}, default {JSON.stringify(v.default)}
              </span>
            </div>
          ))}
        </details>
      )}
    </div>
  );
}
