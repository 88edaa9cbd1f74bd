/// <reference lib="dom" />
// The top bar's Playtest toggle: opens and closes the Playtest dock.

import { usePlaytest } from "./playtest-store.js";

export default function PlaytestButton() {
  const open = usePlaytest((s) => s.open);
  return (
    <button
      type="button"
      className={`playtest-button${open ? " active" : ""}`}
      aria-pressed={open}
      onClick={() => usePlaytest.getState().toggle()}
      title="Play the open graph on the project's model"
    >
      Playtest
    </button>
  );
}
