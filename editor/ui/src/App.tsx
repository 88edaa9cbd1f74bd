/// <reference lib="dom" />
// The editor page: the project browser on the left, the open graph's canvas on the right, and above them
// the project's name, undo/redo, and the banners (files changed on disk, errors).

import { useEffect } from "react";
import { useStore } from "zustand";
import { hasToken, watchDiskChanges } from "./api.js";
import DiskChangesBanner from "./DiskChangesBanner.js";
import ErrorList from "./ErrorList.js";
import GraphCanvas from "./GraphCanvas.js";
import ProjectBrowser from "./ProjectBrowser.js";
import { useEditor } from "./store.js";
import { useUndoShortcuts } from "./useUndoShortcuts.js";

export default function App() {
  const project = useEditor((s) => s.project);
  useUndoShortcuts();

  useEffect(() => {
    const { start, setDiskChanges, setConnection } = useEditor.getState();
    void start();
    return watchDiskChanges(setDiskChanges, setConnection);
  }, []);

  useEffect(() => {
    document.title = project ? `${project.name} — Parley editor` : "Parley editor";
  }, [project]);

  return (
    <div className="app">
      <header className="topbar">
        <h1>
          Parley editor{project && <span className="project-name"> — {project.name}</span>}
        </h1>
        <UndoRedo />
      </header>
      {!hasToken && (
        <div className="banner error" role="alert">
          This page was opened without its token: open the URL <code>npm run editor</code> printed (it ends in <code>?token=…</code>).
        </div>
      )}
      <ErrorList />
      <DiskChangesBanner />
      <main className="workspace">
        <ProjectBrowser />
        <section className="canvas" aria-label="Graph canvas">
          <GraphCanvas />
        </section>
      </main>
    </div>
  );
}

function UndoRedo() {
  const canUndo = useStore(useEditor.temporal, (s) => s.pastStates.length > 0);
  const canRedo = useStore(useEditor.temporal, (s) => s.futureStates.length > 0);
  const { undo, redo } = useEditor.getState();
  return (
    <div className="undo-redo">
      <button type="button" onClick={undo} disabled={!canUndo} title="Undo the last move (Ctrl+Z)">
        Undo
      </button>
      <button type="button" onClick={redo} disabled={!canRedo} title="Redo (Ctrl+Shift+Z or Ctrl+Y)">
        Redo
      </button>
    </div>
  );
}
