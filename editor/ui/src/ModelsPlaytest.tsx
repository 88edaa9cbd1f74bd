/// <reference lib="dom" />
// The Models panel's "Playtest model" section: the project's default model (parley.project.json's
// `defaultModel`: a catalogue id, a GGUF file name in the models folder, or a path relative to the project)
// and the model it resolves to now, or why it does not (not downloaded yet: a button downloads it).

import { useEffect, useState } from "react";
import type { ModelsListing } from "./ModelsApi.js";

interface Props {
  listing: ModelsListing;
  busy: boolean;
  onSet: (model: string | null) => void;
  onDownload: (id: string) => void;
}

export default function ModelsPlaytest({ listing, busy, onSet, onDownload }: Props) {
  const { defaultModel, resolution } = listing;
  const [draft, setDraft] = useState(defaultModel ?? "");
  useEffect(() => setDraft(defaultModel ?? ""), [defaultModel]);
  const trimmed = draft.trim();

  return (
    <section className="models-section" aria-label="Playtest model">
      <h3>Playtest model</h3>
      <p className="models-resolution" data-testid="model-resolution">
        {resolution.path ? (
          <>
            Playtests run <code>{resolution.path}</code>
            <span className="muted"> ({sourceLabel(resolution.source)})</span>
          </>
        ) : (
          <span className="models-error">{resolution.note}</span>
        )}
      </p>
      {resolution.synthetic && <p className="models-error">This is a stand-in with random weights: it speaks noise. Download or choose a real model.</p>}
      {resolution.downloadable && listing.downloads.every((d) => d.id !== resolution.downloadable || d.phase !== "running") && (
        <button type="button" className="small" onClick={() => onDownload(resolution.downloadable!)}>
          Download {resolution.downloadable}
        </button>
      )}
      <form
        className="models-default"
        onSubmit={(event) => {
          event.preventDefault();
          if (trimmed !== "") onSet(trimmed);
        }}
      >
        <label>
          Project default model
          <input
            type="text"
            value={draft}
            placeholder="none: PARLEY_MODEL, the models folder, then the demo model"
            onChange={(event) => setDraft(event.target.value)}
            aria-label="Project default model"
          />
        </label>
        <button type="submit" className="small" disabled={busy || trimmed === "" || trimmed === defaultModel}>
          Set
        </button>
        <button type="button" className="small" disabled={busy || defaultModel === null} onClick={() => onSet(null)}>
          Clear
        </button>
      </form>
      <p className="muted models-hint">
        A catalogue id, a .gguf file name in the models folder, or a path relative to the project folder. Saved in parley.project.json.
      </p>
    </section>
  );
}

function sourceLabel(source: ModelsListing["resolution"]["source"]): string {
  switch (source) {
    case "explicit":
      return "the project's default model";
    case "env":
      return "PARLEY_MODEL";
    case "folder":
      return "the first model in the models folder";
    case "demo":
      return "Parley's demo model: nothing else is installed";
    case "synthetic":
      return "a random-weight stand-in";
    default:
      return "unresolved";
  }
}
