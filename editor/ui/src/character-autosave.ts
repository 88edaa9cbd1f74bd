// Writing the open character back to its file, about a second after the last edit (or at once with
// Ctrl+S), as the plugin's serializeCharacter writes it, with the hash it was read or last saved with: the
// host refuses the save (409) when someone else changed the file meanwhile, and the form then keeps the
// edit, shows the disk-changes banner and writes nothing more until the file is reloaded. A character
// with problems is never sent (the host would refuse it too): the edit stays in the form with its
// problems shown, and is saved once they are fixed. Saves run one after another, the latest state each time.

import { serializeCharacter } from "../../../plugin/character/validate.js";
import { api, asApiError, type DiskChange } from "./api.js";
import { checkCharacter } from "./character-check.js";
import type { CharacterState } from "./character-store.js";
import { AUTOSAVE_DELAY_MS } from "./persistence.js";
import { useEditor } from "./store.js";

export interface CharacterAutosave {
  /** The file was just read as `text`: what counts as saved from now on. */
  opened(text: string): void;
  /** Saves after the autosave delay (restarted by each call). */
  saveSoon(): void;
  /** Saves now (if the JSON changed and is valid). */
  saveNow(): Promise<void>;
  /** Saves what is pending now and waits for every save under way. */
  flush(): Promise<void>;
}

export function createCharacterAutosave(get: () => CharacterState, set: (partial: Partial<CharacterState>) => void): CharacterAutosave {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let chain: Promise<void> = Promise.resolve();
  let savedText = "";

  const saveOnce = async (): Promise<void> => {
    const s = get();
    const { open, json } = s;
    if (!open || !json || json === s.savedJson || s.saveState === "conflict") return;
    const { character } = checkCharacter(json, open.id);
    if (!character) return; // the form says "not saved: N problems" until they are fixed
    const text = serializeCharacter(character);
    if (text === savedText) {
      set({ savedJson: json });
      return;
    }
    set({ saveState: "saving" });
    try {
      const { hash } = await api.save(open.path, text, s.hash);
      if (get().open !== open) return;
      savedText = text;
      set({ hash, savedJson: json, saveState: "idle" });
      void useEditor.getState().loadProject(); // the browser's badge for the file follows
    } catch (error) {
      if (get().open !== open) return;
      const e = asApiError(error);
      if (e.code === "EXTERNAL_CHANGE") {
        const editor = useEditor.getState();
        const known = new Set(editor.diskChanges.map((c) => c.path));
        const added: DiskChange[] = (Array.isArray(e.details.paths) ? (e.details.paths as string[]) : [open.path])
          .filter((p) => !known.has(p))
          .map((path) => ({ path, change: "modified" }));
        set({ saveState: "conflict" });
        editor.setDiskChanges([...editor.diskChanges, ...added]);
      } else {
        set({ saveState: "failed" });
        useEditor.getState().report(`Saving ${open.path}`, e);
      }
    }
  };

  const autosave: CharacterAutosave = {
    opened(text) {
      clearTimeout(timer);
      savedText = text;
    },
    saveSoon() {
      clearTimeout(timer);
      timer = setTimeout(() => void autosave.saveNow(), AUTOSAVE_DELAY_MS);
    },
    saveNow() {
      clearTimeout(timer);
      chain = chain.then(saveOnce);
      return chain;
    },
    flush() {
      return autosave.saveNow();
    },
  };
  return autosave;
}
