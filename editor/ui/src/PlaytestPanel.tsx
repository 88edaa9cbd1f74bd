/// <reference lib="dom" />
// The Playtest panel: a dock along the bottom of the editor that plays the open graph on the host's model.
// Left: how to start (node, seed, variables set by hand) and the conversation with the player's controls;
// middle: the live variables, the inspected line's prompt (token counts per part) and the speed chart;
// right: saved transcripts, saving this run and replaying one with its node-by-node comparison.

import { useEditor } from "./store.js";
import { usePlaytest } from "./playtest-store.js";
import PlaytestChart from "./PlaytestChart.js";
import PlaytestControls from "./PlaytestControls.js";
import PlaytestConversation from "./PlaytestConversation.js";
import PlaytestPrompt from "./PlaytestPrompt.js";
import PlaytestTranscripts from "./PlaytestTranscripts.js";
import PlaytestVariables from "./PlaytestVariables.js";

export default function PlaytestPanel() {
  const open = usePlaytest((s) => s.open);
  const model = usePlaytest((s) => s.model);
  const connection = usePlaytest((s) => s.connection);
  const error = usePlaytest((s) => s.error);
  const graphId = useEditor((s) => s.graph?.id ?? null);
  if (!open) return null;
  return (
    <section className="playtest-dock" aria-label="Playtest">
      <header className="playtest-head">
        <h2>Playtest{graphId ? <span className="playtest-graph"> — {graphId}</span> : null}</h2>
        <span className={`playtest-model ${model.state}`} title={model.state === "ready" ? model.note : undefined}>
          {model.state === "idle" && "model: loaded at the first start"}
          {model.state === "loading" && `loading ${model.model}…`}
          {model.state === "ready" && `model: ${model.description}`}
          {model.state === "error" && `no model: ${model.error}`}
        </span>
        {connection === "lost" && <span className="playtest-lost">reconnecting to the editor host…</span>}
        <button type="button" className="playtest-close" onClick={() => usePlaytest.getState().close()} aria-label="Close the playtest">
          ×
        </button>
      </header>
      {error && (
        <div className="banner error playtest-error" role="alert">
          {error.message}
          <ExistingTranscript />
          <button type="button" onClick={() => usePlaytest.getState().dismissError()}>
            Dismiss
          </button>
        </div>
      )}
      <div className="playtest-body">
        <div className="playtest-col playtest-play">
          <PlaytestControls />
          <PlaytestConversation />
        </div>
        <div className="playtest-col playtest-inspect">
          <PlaytestVariables />
          <PlaytestChart />
          <PlaytestPrompt />
        </div>
        <div className="playtest-col playtest-files">
          <PlaytestTranscripts />
        </div>
      </div>
    </section>
  );
}

/** "Replace it" beside a save refused because the name is taken. */
function ExistingTranscript() {
  const existing = usePlaytest((s) => s.existing);
  if (!existing) return null;
  return (
    <button type="button" onClick={() => void usePlaytest.getState().save(existing, true)}>
      Replace {existing}
    </button>
  );
}
