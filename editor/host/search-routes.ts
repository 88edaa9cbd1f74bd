// The editor's project search, on the host: it already holds every file read and parsed, so a search is
// one pass over memory rather than a request per file from the page.
//
//   GET /api/search?q=WORDS[&limit=N]   → {query, hits: [{path, kind, id, node?, field, label, text, ranges}], total}
//
// Files with problems are searched too, as far as their JSON parses: a writer looking for a line in a
// graph that does not validate yet must still find it.

import { parse as parseLenient } from "jsonc-parser";
import { HttpError, type Routes } from "../../runtime/host/loopback-server.js";
import type { ProjectFolder } from "../project/index.js";
import { DEFAULT_SEARCH_LIMIT, searchDocuments, type SearchableDocument } from "../project/search.js";

const MAX_LIMIT = 2000;

export function searchRoutes(project: ProjectFolder): Routes {
  return {
    "GET /api/search": (ctx) => {
      const query = ctx.query("q");
      const limitText = ctx.optionalQuery("limit");
      const limit = limitText === undefined ? DEFAULT_SEARCH_LIMIT : Number(limitText);
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT)
        throw new HttpError(400, "INVALID_ARGUMENT", `"limit" must be a whole number from 1 to ${MAX_LIMIT}, got ${JSON.stringify(limitText)}`);
      return searchDocuments(searchable(project), query, limit);
    },
  };
}

function* searchable(project: ProjectFolder): Generator<SearchableDocument> {
  for (const doc of project.documents()) {
    if (doc.kind !== "character" && doc.kind !== "dialogue") continue;
    yield { path: doc.path, kind: doc.kind, id: doc.id, value: doc.value ?? parseLoosely(doc.text) };
  }
}

/** As much of the text as parses: jsonc-parser recovers past a syntax error (a missing comma, a stray brace). */
function parseLoosely(text: string): unknown {
  return parseLenient(text, [], { allowTrailingComma: true }) as unknown;
}
