/// <reference lib="dom" />
// The left panel: the project's characters and dialogue graphs, each with a badge and the text of what is
// wrong with it (the host validates every file with the plugin's own checks). Clicking a graph opens it,
// clicking a character opens its form (CharacterForm.tsx; new characters and card imports below them);
// "New graph" creates one for a character (a start line leading to an end node) and opens it. The open
// document has Rename, Duplicate and Delete under its row (DocumentActions.tsx).

import { useState, type FormEvent } from "react";
import type { DocumentSummary, ValidationIssue } from "./api.js";
import CharacterBrowserTools from "./CharacterBrowserTools.js";
import DocumentActions from "./DocumentActions.js";
import NewIdInput, { newIdProblem } from "./NewIdInput.js";
import { useCharacters } from "./character-store.js";
import { useEditor } from "./store.js";

export default function ProjectBrowser() {
  const project = useEditor((s) => s.project);
  const selected = useEditor((s) => s.selectedGraph);
  const openGraph = useEditor((s) => s.openGraph);
  const openCharacter = useCharacters((s) => s.openCharacter);
  const closeCharacter = useCharacters((s) => s.close);
  const character = useCharacters((s) => s.open?.id ?? null);
  if (!project) return <aside className="browser muted">Reading the project…</aside>;

  const documents = project.documents;
  const characters = documents.filter((d) => d.kind === "character");
  const graphs = documents.filter((d) => d.kind === "dialogue");
  const manifest = documents.find((d) => d.kind === "manifest");
  const layoutOf = (graph: DocumentSummary) => documents.find((d) => d.kind === "layout" && d.id === graph.id);

  return (
    <aside className="browser">
      {manifest?.problem && <DocumentProblems doc={manifest} label={manifest.path} />}
      <section aria-labelledby="characters-heading">
        <h2 id="characters-heading">
          Characters <span className="count">{characters.length}</span>
        </h2>
        <ul className="documents" data-testid="characters">
          {characters.map((doc) => (
            <li key={doc.path} className={`document character ${doc.id === character ? "selected" : ""}`}>
              <button
                type="button"
                className="document-row"
                onClick={() => void openCharacter(doc.id)}
                aria-current={doc.id === character ? "true" : undefined}
              >
                <span className="document-id">{doc.id}</span>
                <StatusBadge doc={doc} />
              </button>
              <DocumentProblems doc={doc} />
              {doc.id === character && <DocumentActions doc={doc} />}
            </li>
          ))}
        </ul>
        <CharacterBrowserTools taken={characters.map((c) => c.id)} />
      </section>
      <section aria-labelledby="graphs-heading">
        <h2 id="graphs-heading">
          Dialogue graphs <span className="count">{graphs.length}</span>
        </h2>
        <ul className="documents" data-testid="graphs">
          {graphs.map((doc) => {
            const layout = layoutOf(doc);
            return (
              <li key={doc.path} className={`document graph ${doc.id === selected && !character ? "selected" : ""}`}>
                <button
                  type="button"
                  className="document-row"
                  onClick={() => void closeCharacter().then((left) => (left ? openGraph(doc.id) : undefined))}
                  aria-current={doc.id === selected && !character ? "true" : undefined}
                >
                  <span className="document-id">{doc.id}</span>
                  <StatusBadge doc={doc} />
                </button>
                <DocumentProblems doc={doc} />
                {layout?.problem && <DocumentProblems doc={layout} label={layout.path} />}
                {doc.id === selected && !character && <DocumentActions doc={doc} />}
              </li>
            );
          })}
        </ul>
        {characters.length > 0 && <NewGraphForm characters={characters.map((c) => c.id)} taken={graphs.map((g) => g.id)} />}
      </section>
    </aside>
  );
}

function StatusBadge({ doc }: { doc: DocumentSummary }) {
  if (doc.problem) {
    const count = doc.problem.issues?.length ?? 1;
    return <span className="badge error">{count === 1 ? "1 problem" : `${count} problems`}</span>;
  }
  if (doc.warnings.length > 0) return <span className="badge warning">{doc.warnings.length === 1 ? "1 warning" : `${doc.warnings.length} warnings`}</span>;
  return <span className="badge ok">valid</span>;
}

/** What is wrong with a file: each issue with its JSON path, or the message with its line and column. */
function DocumentProblems({ doc, label }: { doc: DocumentSummary; label?: string }) {
  const { problem, warnings } = doc;
  const issues = problem?.issues ?? [];
  return (
    <>
      {problem && (
        <div className="document-problem" role="note">
          {label && <strong>{label}</strong>}
          {issues.length > 0 ? (
            <IssueList issues={issues} path={doc.path} />
          ) : (
            <p>
              {problem.message}
              {problem.line !== undefined && ` (line ${problem.line}, column ${problem.column})`}
            </p>
          )}
        </div>
      )}
      {warnings.length > 0 && (
        <details className="document-warnings">
          <summary>{warnings.length === 1 ? "1 warning" : `${warnings.length} warnings`}</summary>
          <IssueList issues={warnings} path={doc.path} />
        </details>
      )}
    </>
  );
}

/** Issues, each with its JSON path (the file's path for an issue with the whole file). */
function IssueList({ issues, path }: { issues: readonly ValidationIssue[]; path: string }) {
  return (
    <ul>
      {issues.map((issue, i) => (
        <li key={i}>
          <code>{issue.path || path}</code> {issue.message}
        </li>
      ))}
    </ul>
  );
}

const GRAPH_ID = /^[a-z0-9_-]+$/;

function NewGraphForm({ characters, taken }: { characters: string[]; taken: string[] }) {
  const createGraph = useEditor((s) => s.createGraph);
  const [id, setId] = useState("");
  const [character, setCharacter] = useState(characters[0]);
  const [busy, setBusy] = useState(false);
  const speaker = characters.includes(character) ? character : characters[0];
  const problem = newIdProblem(id, GRAPH_ID, taken, "graph");
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (id === "" || problem) return;
    setBusy(true);
    if (await createGraph(id, speaker)) setId("");
    setBusy(false);
  };
  return (
    <form className="new-graph" onSubmit={(e) => void submit(e)} aria-label="New graph">
      <NewIdInput kind="graph" value={id} problem={problem} onChange={setId} />
      <select value={speaker} aria-label="Spoken by" onChange={(e) => setCharacter(e.target.value)}>
        {characters.map((c) => (
          <option key={c} value={c}>
            {c}
          </option>
        ))}
      </select>
      <button type="submit" disabled={busy || id === "" || problem !== ""}>
        New graph
      </button>
      {problem && <p className="form-problem">{problem}</p>}
    </form>
  );
}
