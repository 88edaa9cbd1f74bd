/// <reference lib="dom" />
// The editor page: the project browser on the left, the open graph's palette and canvas in the middle,
// the inspector on the right, and above them the project's name, whether the graph is saved, undo/redo,
// and the banners (files changed on disk, errors).

import { useEffect } from "react";
import { useStore } from "zustand";
import { hasToken, watchDiskChanges } from "./api.js";
import CharacterForm from "./CharacterForm.js";
import { useCharacters } from "./character-store.js";
import CharacterTopbar from "./CharacterTopbar.js";
import DiskChangesBanner from "./DiskChangesBanner.js";
import ErrorList from "./ErrorList.js";
import GraphCanvas from "./GraphCanvas.js";
import Inspector from "./Inspector.js";
import ModelsButton from "./ModelsButton.js";
import PlaytestButton from "./PlaytestButton.js";
import PlaytestPanel from "./PlaytestPanel.js";
import ProjectBrowser from "./ProjectBrowser.js";
import SaveStatus from "./SaveStatus.js";
import SearchPanel from "./SearchPanel.js";
import ShortcutsHelp from "./ShortcutsHelp.js";
import { useEditor } from "./store.js";
import TopbarCommands from "./TopbarCommands.js";
import UndoRedoButtons from "./UndoRedoButtons.js";
import { useEditorShortcuts } from "./useEditorShortcuts.js";

export default function App() {
  const project = useEditor((s) => s.project);
  // The title's ● marks unsaved edits in the open graph or character.
  const graphDirty = useEditor((s) => s.json !== s.savedJson);
  const characterDirty = useCharacters((s) => s.json !== s.savedJson);
  const dirty = graphDirty || characterDirty;
  // A character chosen in the browser takes the centre (its form) and the top bar's save status and undo.
  const characterOpen = useCharacters((s) => s.open !== null);
  useEditorShortcuts();

  useEffect(() => {
    const { start, setDiskChanges, setConnection } = useEditor.getState();
    void start();
    void useCharacters.getState().start();
    return watchDiskChanges(setDiskChanges, setConnection);
  }, []);

  useEffect(() => {
    document.title = project ? `${dirty ? "● " : ""}${project.name} — Parley editor` : "Parley editor";
  }, [project, dirty]);

  return (
    <div className="app">
      <header className="topbar">
        <h1>Parley editor{project && <span className="project-name"> — {project.name}</span>}</h1>
        <div className="topbar-tools">
          {characterOpen ? (
            <CharacterTopbar />
          ) : (
            <>
              <SaveStatus />
              <UndoRedo />
            </>
          )}
          <PlaytestButton />
          <ModelsButton />
          <TopbarCommands />
        </div>
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
        {characterOpen ? (
          <CharacterForm />
        ) : (
          <>
            <section className="canvas" aria-label="Graph canvas">
              <GraphCanvas />
            </section>
            <Inspector />
          </>
        )}
      </main>
      <PlaytestPanel />
      <SearchPanel />
      <ShortcutsHelp />
    </div>
  );
}

function UndoRedo() {
  const canUndo = useStore(useEditor.temporal, (s) => s.pastStates.length > 0);
  const canRedo = useStore(useEditor.temporal, (s) => s.futureStates.length > 0);
  const { undo, redo } = useEditor.getState();
  return <UndoRedoButtons canUndo={canUndo} canRedo={canRedo} undo={undo} redo={redo} undoTitle="Undo the last edit or move (Ctrl+Z)" />;
}
