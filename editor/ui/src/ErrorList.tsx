/// <reference lib="dom" />
// Every error the editor met, with what it was doing and the host's explanation, until the user closes it.

import { useEditor } from "./store.js";

export default function ErrorList() {
  const errors = useEditor((s) => s.errors);
  const dismissError = useEditor((s) => s.dismissError);
  const connection = useEditor((s) => s.connection);
  return (
    <>
      {connection === "lost" && (
        <div className="banner error" role="alert">
          Lost the connection to the editor host; retrying… (is <code>npm run editor</code> still running?)
        </div>
      )}
      {errors.map(({ key, action, error }) => (
        <div key={key} className="banner error" role="alert">
          <span>
            <strong>{action} failed:</strong> {error.message} <span className="muted">({error.code})</span>
          </span>
          <button type="button" onClick={() => dismissError(key)} aria-label="Dismiss">
            ×
          </button>
        </div>
      ))}
    </>
  );
}
