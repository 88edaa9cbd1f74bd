/// <reference lib="dom" />
// The character form's state: which character is open, its JSON as edited, and what was last saved. It is
// a store of its own (the graph view's is store.ts) because the two have separate histories: undo in the
// form undoes form edits, never a node move made before.
//
// zundo's `temporal` records the JSON only: every edit is one undo step, and typing in one field is one
// step per burst (until the field loses focus or another field is edited), as in the graph inspector.
// Opening a character starts a fresh history. Saving is character-autosave.ts's, run after each change.
// The open character is part of the page's address (`#character=ID`), so reloading the page reopens it.

import { temporal } from "zundo";
import { create } from "zustand";
import { isJsonObject, type JsonObject } from "../../../plugin/errors.js";
import { api, asApiError } from "./api.js";
import { characterApi, downloadCard } from "./character-api.js";
import { createCharacterAutosave } from "./character-autosave.js";
import { getIn } from "./graph-edit.js";
import { useEditor, type SaveState } from "./store.js";

/** A step into the character's JSON: a field name or a list index. */
export type FieldPath = readonly (string | number)[];

export interface OpenCharacter {
  id: string;
  path: string;
  /** Why the file cannot be edited in the form (not JSON, not an object). */
  unreadable?: string;
}

export interface CharacterState {
  open: OpenCharacter | null;
  /** The character's JSON as edited (null when it cannot be edited). Undoable. */
  json: JsonObject | null;
  /** The JSON last read or saved: the form has unsaved edits while `json` is another object. */
  savedJson: JsonObject | null;
  /** The file's hash when last read or saved. */
  hash: string | null;
  saveState: SaveState;

  /** Reopens the character the page's address names, if any. */
  start(): Promise<void>;
  openCharacter(id: string): Promise<void>;
  /** Leaves the form (saving first); false when the writer chose to stay with edits that cannot be saved. */
  close(): Promise<boolean>;
  /** Sets one field: one undo step, or part of the current burst when `burst` is true and the field is the same. */
  setField(path: FieldPath, value: unknown, burst?: boolean): void;
  /** Any other change (a list item added or removed): one undo step. */
  change(update: (json: JsonObject) => JsonObject): void;
  endBurst(): void;
  undo(): void;
  redo(): void;
  /** Ctrl+S: saves now (if valid). */
  save(): Promise<void>;
  /** Creates a character (placeholder fields) and opens it. */
  create(id: string, name: string): Promise<boolean>;
  /** Imports a card file as a new character and opens it. */
  importCard(file: File): Promise<boolean>;
  /** Downloads the saved character as a card file (spec: the host's default for the format when absent). */
  exportCard(format: "json" | "png", spec?: "v2" | "v3"): Promise<void>;
}

/** The field being typed into: its keystrokes after the first join the first's undo step. */
let burst: string | null = null;

const autosave = createCharacterAutosave(
  () => useCharacters.getState(),
  (partial) => useCharacters.setState(partial),
);

export const useCharacters = create<CharacterState>()(
  temporal(
    (set, get) => {
      const commit = (json: JsonObject, burstKey: string | null): void => {
        const timeline = useCharacters.temporal.getState();
        const joins = burstKey !== null && burst === burstKey;
        if (joins) timeline.pause();
        set({ json });
        if (joins) timeline.resume();
        burst = burstKey;
      };

      const travel = (step: "undo" | "redo"): void => {
        burst = null;
        const timeline = useCharacters.temporal.getState();
        if (!get().json || (step === "undo" ? timeline.pastStates : timeline.futureStates).length === 0) return;
        timeline[step]();
      };

      /** Saves what is pending; true when nothing unsaved is left or the writer agrees to drop it. */
      const leave = async (): Promise<boolean> => {
        if (!get().open) return true;
        await autosave.flush();
        const s = get();
        if (s.json === s.savedJson) return true;
        return confirm(`${s.open?.path} has changes that are not saved (it has problems, or the file changed on disk). Leave them?`);
      };

      return {
        open: null,
        json: null,
        savedJson: null,
        hash: null,
        saveState: "idle",

        async start() {
          const wanted = new URLSearchParams(location.hash.slice(1)).get("character");
          if (wanted !== null) await get().openCharacter(wanted);
        },

        async openCharacter(id) {
          if (get().open?.id !== id && !(await leave())) return;
          const path = `characters/${id}.json`;
          history.replaceState(null, "", `#character=${encodeURIComponent(id)}`);
          try {
            const document = await api.file(path);
            const value: unknown = document.value ?? parseJson(document.text);
            const json = isJsonObject(value) ? value : null;
            autosave.opened(document.text);
            burst = null;
            set({
              open: { id, path, ...(json ? {} : { unreadable: document.problem?.message ?? "the file is not a JSON object" }) },
              json,
              savedJson: json,
              hash: document.hash,
              saveState: "idle",
            });
            useCharacters.temporal.getState().clear();
          } catch (error) {
            useEditor.getState().report(`Opening ${path}`, error);
          }
        },

        async close() {
          if (!(await leave())) return false;
          autosave.opened("");
          set({ open: null, json: null, savedJson: null, hash: null, saveState: "idle" });
          useCharacters.temporal.getState().clear();
          if (location.hash.startsWith("#character=")) history.replaceState(null, "", location.pathname + location.search);
          return true;
        },

        setField(path, value, typing = false) {
          const json = get().json;
          if (!json) return;
          commit(setAt(json, path, value) as JsonObject, typing ? path.join(".") : null);
        },

        change(update) {
          const json = get().json;
          if (json) commit(update(json), null);
        },

        endBurst: () => {
          burst = null;
        },
        undo: () => travel("undo"),
        redo: () => travel("redo"),
        save: () => autosave.saveNow(),

        async create(id, name) {
          try {
            await characterApi.create(id, name);
          } catch (error) {
            useEditor.getState().report(`Creating the character "${id}"`, error);
            return false;
          }
          await useEditor.getState().loadProject();
          await get().openCharacter(id);
          return true;
        },

        async importCard(file) {
          let id: string;
          try {
            id = (await characterApi.importCard(file)).document.id;
          } catch (error) {
            useEditor.getState().report(`Importing the card ${file.name}`, error);
            return false;
          }
          await useEditor.getState().loadProject();
          await get().openCharacter(id);
          return true;
        },

        async exportCard(format, spec) {
          const open = get().open;
          if (!open) return;
          try {
            await autosave.flush(); // the file is what is exported: the latest edits first
            downloadCard(await characterApi.exportCard(open.id, format, spec));
          } catch (error) {
            useEditor.getState().report(`Exporting ${open.id} as a ${format.toUpperCase()} card`, asApiError(error));
          }
        },
      };
    },
    {
      partialize: (state) => ({ json: state.json }),
      equality: (a, b) => a.json === b.json,
      limit: 300,
    },
  ),
);

// Every edit is saved after the autosave delay; opening a character is not an edit.
useCharacters.subscribe((state, previous) => {
  if (!state.open || state.open !== previous.open) return;
  if (state.json !== previous.json && state.json !== state.savedJson) autosave.saveSoon();
});

// The disk-changes banner's Reload: once the open character's file is no longer listed as changed on disk,
// it was read again, and the form shows the file (its unsaved edits are dropped, as the graph view does).
useEditor.subscribe((state, previous) => {
  const open = useCharacters.getState().open;
  if (!open || state.diskChanges === previous.diskChanges) return;
  const was = previous.diskChanges.some((c) => c.path === open.path);
  const is = state.diskChanges.some((c) => c.path === open.path);
  if (was && !is) {
    useCharacters.setState({ savedJson: useCharacters.getState().json }); // nothing to save before reading it again
    void useCharacters.getState().openCharacter(open.id);
  }
});

// A graph opened from anywhere (the browser, the search) takes the centre back from the form.
useEditor.subscribe((state, previous) => {
  if (state.selectedGraph !== previous.selectedGraph && state.selectedGraph !== null) void useCharacters.getState().close();
});

/** `value` with `path` set to `to` (new objects along the path, the rest shared). */
export function setAt(value: unknown, path: FieldPath, to: unknown): unknown {
  if (path.length === 0) return to;
  const [head, ...rest] = path;
  if (typeof head === "number") {
    const list = Array.isArray(value) ? [...(value as unknown[])] : [];
    list[head] = setAt(list[head], rest, to);
    return list;
  }
  const object = isJsonObject(value) ? { ...value } : {};
  object[head] = setAt(object[head], rest, to);
  return object;
}

/** The value at `path`, or undefined. */
export const getAt: (value: unknown, path: FieldPath) => unknown = getIn;

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
