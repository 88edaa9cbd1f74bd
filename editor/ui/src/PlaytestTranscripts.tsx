/// <reference lib="dom" />
// Saved playtests: save this run under a name (playtests/NAME.transcript.json in the project), and replay any
// saved one with its seed and inputs; the replay's comparison with the recording is shown below.

import { useState } from "react";
import PlaytestDiff from "./PlaytestDiff.js";
import { usePlaytest } from "./playtest-store.js";

export default function PlaytestTranscripts() {
  const run = usePlaytest((s) => s.view.run);
  const transcripts = usePlaytest((s) => s.transcripts);
  const busy = usePlaytest((s) => s.busy);
  const replay = usePlaytest((s) => s.replay);
  const [name, setName] = useState("");
  const valid = /^[A-Za-z0-9_-]{1,64}$/.test(name);
  return (
    <div className="playtest-box playtest-transcripts">
      <h3>Transcripts</h3>
      <form
        className="playtest-save"
        onSubmit={(e) => {
          e.preventDefault();
          if (valid) void usePlaytest.getState().save(name);
        }}
      >
        <input value={name} onChange={(e) => setName(e.target.value)} placeholder="name (letters, digits, _ -)" aria-label="Transcript name" />
        <button type="submit" disabled={!run || !valid || busy === "saving"} title={run ? "Save this run as a regression test" : "Start a playtest first"}>
          Save transcript
        </button>
      </form>
      {transcripts.length === 0 ? (
        <p className="playtest-muted">No saved playtests yet. `parley dialogue test PROJECT` replays every saved one.</p>
      ) : (
        <ul className="playtest-transcript-list">
          {transcripts.map((t) => (
            <li key={t.path}>
              <span title={t.problem ?? t.path}>
                {t.name}{" "}
                {t.problem ? (
                  <span className="playtest-diff-notes">cannot be read: {t.problem}</span>
                ) : (
                  <span className="playtest-muted">
                    ({t.graph}, seed {t.seed})
                  </span>
                )}
              </span>
              <button
                type="button"
                onClick={() => void usePlaytest.getState().replayTranscript(t.name)}
                disabled={busy === "replaying" || t.problem !== undefined}
                aria-label={`Replay ${t.name}`}
              >
                Replay
              </button>
            </li>
          ))}
        </ul>
      )}
      {busy === "replaying" && <p className="playtest-muted">Replaying…</p>}
      {replay && <PlaytestDiff replay={replay} />}
    </div>
  );
}
