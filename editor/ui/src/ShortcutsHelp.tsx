/// <reference lib="dom" />
// The keyboard shortcuts, listed (`?` or the top bar's "Shortcuts" button opens it; Esc or a click outside
// closes it).

import { useEffect } from "react";
import { useCommands } from "./commands.js";
import { SHORTCUTS } from "./shortcuts.js";
import "./tools.css";

export default function ShortcutsHelp() {
  const open = useCommands((s) => s.helpOpen);
  const setOpen = useCommands((s) => s.setHelpOpen);

  useEffect(() => {
    if (!open) return;
    const onKeyDown = (event: KeyboardEvent) => {
      if (event.key === "Escape") setOpen(false);
    };
    window.addEventListener("keydown", onKeyDown);
    return () => window.removeEventListener("keydown", onKeyDown);
  }, [open, setOpen]);

  if (!open) return null;
  return (
    <div className="overlay" onMouseDown={(event) => event.target === event.currentTarget && setOpen(false)}>
      <div className="shortcuts-help" role="dialog" aria-label="Keyboard shortcuts">
        <header>
          <h2>Keyboard shortcuts</h2>
          <button type="button" onClick={() => setOpen(false)} aria-label="Close">
            ×
          </button>
        </header>
        {SHORTCUTS.map((group) => (
          <section key={group.title}>
            <h3>{group.title}</h3>
            <dl>
              {group.shortcuts.map((shortcut) => (
                <div key={shortcut.does} className="shortcut">
                  <dt>
                    {shortcut.keys.map((combo, i) => (
                      <span key={i} className="combo">
                        {i > 0 && <span className="or">or</span>}
                        {combo.map((key) => (
                          <kbd key={key}>{key}</kbd>
                        ))}
                      </span>
                    ))}
                  </dt>
                  <dd>{shortcut.does}</dd>
                </div>
              ))}
            </dl>
          </section>
        ))}
      </div>
    </div>
  );
}
