/// <reference lib="dom" />
// Says which files changed on disk since the editor read them (another program, a git pull), and offers
// to read them again. Until then the editor refuses to overwrite them (the host answers EXTERNAL_CHANGE).

import { useState } from "react";
import { useEditor } from "./store.js";

export default function DiskChangesBanner() {
  const changes = useEditor((s) => s.diskChanges);
  const reloadFromDisk = useEditor((s) => s.reloadFromDisk);
  const [reloading, setReloading] = useState(false);
  if (changes.length === 0) return null;

  const reload = async () => {
    setReloading(true);
    await reloadFromDisk();
    setReloading(false);
  };
  return (
    <div className="banner changes" role="status">
      <span>
        {changes.length === 1 ? "A file changed" : `${changes.length} files changed`} on disk since the editor read {changes.length === 1 ? "it" : "them"}:{" "}
        {changes.map((c, i) => (
          <span key={c.path}>
            {i > 0 && ", "}
            <code>{c.path}</code> ({c.change})
          </span>
        ))}
      </span>
      <button type="button" onClick={() => void reload()} disabled={reloading}>
        {reloading ? "Reloading…" : "Reload"}
      </button>
    </div>
  );
}
