/// <reference lib="dom" />
// Under the project browser's characters: "New character" (an id and a name; the host fills the other
// required fields with placeholders the form then shows) and "Import card" (a character card file, JSON, PNG
// or CHARX, picked from disk: it becomes a new character and opens in the form).

import { useRef, useState, type FormEvent } from "react";
import { CHARACTER_ID_PATTERN } from "../../../plugin/character/validate.js";
import NewIdInput, { newIdProblem } from "./NewIdInput.js";
import { useCharacters } from "./character-store.js";

export default function CharacterBrowserTools({ taken }: { taken: readonly string[] }) {
  const create = useCharacters((s) => s.create);
  const importCard = useCharacters((s) => s.importCard);
  const picker = useRef<HTMLInputElement>(null);
  const [id, setId] = useState("");
  const [name, setName] = useState("");
  const [busy, setBusy] = useState(false);
  const problem = newIdProblem(id, CHARACTER_ID_PATTERN, taken, "character");

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (id === "" || name.trim() === "" || problem) return;
    setBusy(true);
    if (await create(id, name.trim())) {
      setId("");
      setName("");
    }
    setBusy(false);
  };
  const picked = async (files: FileList | null) => {
    const file = files?.[0];
    if (!file) return;
    setBusy(true);
    await importCard(file);
    setBusy(false);
    if (picker.current) picker.current.value = ""; // the same file can be picked again
  };

  return (
    <div className="character-tools">
      <form className="new-graph new-character" onSubmit={(e) => void submit(e)} aria-label="New character">
        <NewIdInput kind="character" value={id} problem={problem} onChange={setId} />
        <input type="text" value={name} placeholder="name" aria-label="New character name" onChange={(e) => setName(e.target.value)} />
        <button type="submit" disabled={busy || id === "" || name.trim() === "" || problem !== ""}>
          New character
        </button>
        {problem && <p className="form-problem">{problem}</p>}
      </form>
      <button
        type="button"
        className="import-card"
        disabled={busy}
        onClick={() => picker.current?.click()}
        title="A Character Card V1, V2 or V3: JSON, or a PNG with the card inside"
      >
        Import card (JSON, PNG or CHARX)…
      </button>
      <input
        ref={picker}
        type="file"
        hidden
        accept=".json,.png,.charx,application/json,image/png"
        aria-label="Card file"
        onChange={(e) => void picked(e.target.files)}
      />
    </div>
  );
}
