/// <reference lib="dom" />
// Search across the project (Ctrl+K or Ctrl+F): a box over the page; as the writer types, every character
// and graph field holding all the words is listed, grouped by file, the words marked. Arrow keys and Enter
// (or a click) pick a hit: a character's opens its form; a graph's opens the graph with the node selected
// and centred (a variable's, the graph's settings, where the variables are). Escape closes it.
//
// The host searches the files as saved (one request, editor/host/search-routes.ts); the open graph is
// searched here as edited, so a line typed a moment ago is found before the autosave has written it.

import { Fragment, useEffect, useMemo, useRef, useState, type KeyboardEvent, type ReactNode } from "react";
import { searchDocument, type SearchHit, type SearchResult } from "../../project/search.js";
import { api, asApiError } from "./api.js";
import { useCharacters } from "./character-store.js";
import { useCommands } from "./commands.js";
import { useEditor } from "./store.js";
import "./tools.css";

/** Typing faster than this does not send a request per key. */
const DEBOUNCE_MS = 120;

/** The last query, shown again (selected) when the search is opened again. */
let lastQuery = "";

export default function SearchPanel() {
  const open = useCommands((s) => s.searchOpen);
  return open ? <SearchDialog /> : null;
}

function SearchDialog() {
  const close = useCommands((s) => s.closeSearch);
  const [query, setQuery] = useState(lastQuery);
  const [saved, setSaved] = useState<SearchResult | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [active, setActive] = useState(0);
  const graph = useEditor((s) => s.graph);
  const json = useEditor((s) => s.json);
  const input = useRef<HTMLInputElement>(null);
  const list = useRef<HTMLUListElement>(null);

  useEffect(() => input.current?.select(), []);

  useEffect(() => {
    lastQuery = query;
    if (query.trim() === "") {
      setSaved(null);
      return;
    }
    let current = true;
    const timer = setTimeout(() => {
      api.search(query).then(
        (result) => {
          if (!current) return;
          setSaved(result);
          setProblem(null);
          setActive(0);
        },
        (error: unknown) => current && setProblem(asApiError(error).message),
      );
    }, DEBOUNCE_MS);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [query]);

  const hits = useMemo(() => {
    if (!saved || query.trim() === "") return [];
    if (!graph || !json) return saved.hits;
    // The open graph as edited replaces its saved file's hits, in the same place of the file order.
    const edited = searchDocument({ path: graph.path, kind: "dialogue", id: graph.id, value: json }, query);
    const others = saved.hits.filter((hit) => hit.path !== graph.path);
    const before = others.filter((hit) => hit.path < graph.path);
    return [...before, ...edited, ...others.slice(before.length)];
  }, [saved, query, graph, json]);

  useEffect(() => {
    list.current?.querySelector(`[data-index="${active}"]`)?.scrollIntoView({ block: "nearest" });
  }, [active]);

  const pick = (hit: SearchHit | undefined) => {
    if (!hit) return;
    close();
    void openHit(hit);
  };

  const onKeyDown = (event: KeyboardEvent) => {
    if (event.key === "Escape") close();
    else if (event.key === "ArrowDown") setActive((i) => Math.min(hits.length - 1, i + 1));
    else if (event.key === "ArrowUp") setActive((i) => Math.max(0, i - 1));
    else if (event.key === "Enter") pick(hits[active]);
    else return;
    event.preventDefault();
  };

  const more = saved && saved.total > saved.hits.length ? saved.total - saved.hits.length : 0;
  return (
    <div className="overlay" onMouseDown={(event) => event.target === event.currentTarget && close()}>
      <div className="search-panel" role="dialog" aria-label="Search the project" onKeyDown={onKeyDown}>
        <input
          ref={input}
          type="search"
          className="search-input"
          placeholder="Search lines, instructions, choices, conditions, variables, characters…"
          aria-label="Search the project"
          aria-controls="search-hits"
          aria-activedescendant={hits.length > 0 ? `search-hit-${active}` : undefined}
          value={query}
          onChange={(event) => setQuery(event.target.value)}
          autoFocus
        />
        {problem && <p className="search-note error">{problem}</p>}
        {!problem && saved && query.trim() !== "" && (
          <p className="search-note" data-testid="search-count">
            {hits.length === 0
              ? "Nothing found."
              : `${hits.length} ${hits.length === 1 ? "match" : "matches"}${more ? ` (and ${more} more: narrow the search)` : ""}`}
          </p>
        )}
        <ul className="search-hits" id="search-hits" role="listbox" ref={list}>
          {hits.map((hit, i) => (
            <Fragment key={`${hit.path}#${hit.field}`}>
              {(i === 0 || hits[i - 1].path !== hit.path) && (
                <li className="search-file" role="presentation">
                  {hit.path}
                </li>
              )}
              <li
                id={`search-hit-${i}`}
                data-index={i}
                role="option"
                aria-selected={i === active}
                className={`search-hit ${i === active ? "active" : ""}`}
                onMouseMove={() => setActive(i)}
                onClick={() => pick(hit)}
              >
                <span className="search-where">
                  {hit.node !== undefined && <span className="search-node">{hit.node}</span>}
                  <span className="search-field">{hit.label}</span>
                </span>
                <Marked text={hit.text} ranges={hit.ranges} />
              </li>
            </Fragment>
          ))}
        </ul>
      </div>
    </div>
  );
}

function Marked({ text, ranges }: { text: string; ranges: [number, number][] }) {
  const parts: ReactNode[] = [];
  let at = 0;
  ranges.forEach(([start, end], i) => {
    if (start > at) parts.push(text.slice(at, start));
    parts.push(<mark key={i}>{text.slice(start, end)}</mark>);
    at = end;
  });
  if (at < text.length) parts.push(text.slice(at));
  return <span className="search-text">{parts}</span>;
}

/**
 * Opens what a hit is about: a character's form, or a graph with the node selected and centred (the
 * graph's settings, where the variables are, for a variable).
 */
async function openHit(hit: SearchHit): Promise<void> {
  const characters = useCharacters.getState();
  if (hit.kind === "character") {
    await characters.openCharacter(hit.id);
    return;
  }
  // Leaving the character form saves it first; the writer may choose to stay with edits it cannot save.
  if (characters.open && !(await characters.close())) return;
  const editor = useEditor.getState();
  if (editor.selectedGraph !== hit.id || !editor.graph) await editor.openGraph(hit.id);
  // Opening can be refused (the writer kept unsaved edits of the graph they were in).
  if (useEditor.getState().graph?.id !== hit.id) return;
  if (hit.node !== undefined) useCommands.getState().focusNode(hit.id, hit.node);
  else useEditor.getState().setSelection([]);
}
