/// <reference lib="dom" />
// The top bar's "Models" button: opens the Models panel (the model manager and the playtest's model).

import { useState } from "react";
import { createPortal } from "react-dom";
import ModelsPanel from "./ModelsPanel.js";

export default function ModelsButton() {
  const [open, setOpen] = useState(false);
  return (
    <>
      <button type="button" className="models-button" onClick={() => setOpen(true)} title="Installed models, the catalogue, and the model playtests run">
        Models
      </button>
      {/* Rendered into <body>, not the top bar: the panel must not take the bar's colours and layout. */}
      {open && createPortal(<ModelsPanel onClose={() => setOpen(false)} />, document.body)}
    </>
  );
}
