/// <reference lib="dom" />
// The top bar's buttons for the search and the shortcuts list, so both can be found without knowing a key.

import { useCommands } from "./commands.js";
import "./tools.css";

export default function TopbarCommands() {
  const { openSearch, setHelpOpen } = useCommands.getState();
  return (
    <div className="topbar-commands">
      <button type="button" onClick={openSearch} title="Search the whole project (Ctrl+K or Ctrl+F)">
        Search <kbd>Ctrl K</kbd>
      </button>
      <button type="button" onClick={() => setHelpOpen(true)} title="Keyboard shortcuts (?)" aria-label="Keyboard shortcuts">
        ?
      </button>
    </div>
  );
}
