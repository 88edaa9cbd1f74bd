// A project's saved playtests as `parley dialogue test` reads them: the transcripts in playtests/, and the
// characters and graphs they were recorded on, found by id among characters/*.json and dialogue/*.json.
// Every file is read with the plugin's own validators; a file a transcript needs that is missing or invalid is
// a PlaytestProjectError naming the file and the problem.

import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { ParleyError } from "../../runtime/index.js";
import { parseCharacter } from "../character/validate.js";
import { parseDialogueGraph } from "../dialogue/validate.js";
import type { Character, DialogueGraph } from "../types.js";
import { parseTranscript, TRANSCRIPT_FOLDER, TRANSCRIPT_SUFFIX, type PlaytestTranscript } from "./transcript.js";

/** The project, a transcript or a file it needs cannot be used; the message is one line. */
export class PlaytestProjectError extends ParleyError {
  readonly file: string | undefined;
  constructor(message: string, file?: string) {
    super("INVALID_ARGUMENT", message);
    this.name = "PlaytestProjectError";
    this.file = file;
  }
}

export interface SavedPlaytest {
  /** Project-relative path of the transcript. */
  file: string;
  transcript: PlaytestTranscript;
  graph: DialogueGraph;
  character: Character;
}

/** Every transcript in `root`/playtests, sorted by file name, with its graph and character. */
export async function readProjectPlaytests(root: string): Promise<SavedPlaytest[]> {
  const rootStat = await stat(root).catch(() => undefined);
  if (!rootStat?.isDirectory()) throw new PlaytestProjectError(`no project folder at ${root}`);
  const names = await readdir(join(root, TRANSCRIPT_FOLDER)).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return [] as string[];
    throw new PlaytestProjectError(`cannot read ${join(root, TRANSCRIPT_FOLDER)}: ${error.message}`);
  });
  const files = names.filter((n) => n.endsWith(TRANSCRIPT_SUFFIX)).sort();
  if (files.length === 0) {
    throw new PlaytestProjectError(
      `no saved playtests in ${join(root, TRANSCRIPT_FOLDER)} (save one with the editor's Playtest panel: it writes ${TRANSCRIPT_FOLDER}/NAME${TRANSCRIPT_SUFFIX})`,
    );
  }
  const graphs = await readById(root, "dialogue", (json) => parseDialogueGraph(json));
  const characters = await readById(root, "characters", (json) => parseCharacter(json));
  const out: SavedPlaytest[] = [];
  for (const name of files) {
    const file = `${TRANSCRIPT_FOLDER}/${name}`;
    let transcript: PlaytestTranscript;
    try {
      transcript = parseTranscript(await readJson(join(root, file), file));
    } catch (error) {
      if (error instanceof PlaytestProjectError) throw error;
      throw new PlaytestProjectError(`${file}: ${oneLine(error)}`, file);
    }
    const graph = find(graphs, transcript.graph, file, "graph", "dialogue");
    const character = find(characters, transcript.character, file, "character", "characters");
    out.push({ file, transcript, graph, character });
  }
  return out;
}

export interface TranscriptFile {
  /** Project-relative path. */
  file: string;
  transcript?: PlaytestTranscript;
  /** Why it cannot be used (one line); set exactly when `transcript` is not. */
  problem?: string;
}

/**
 * Every transcript file in `root`/playtests, sorted, each read or with its problem (none hides the others).
 * `locate` turns a project-relative path into the file to read, and may refuse it (the editor confines every
 * path to the project folder); its error becomes the file's problem.
 */
export async function listTranscriptFiles(
  root: string,
  locate: (file: string) => Promise<string> = async (file) => join(root, file),
): Promise<TranscriptFile[]> {
  const names = await readdir(join(root, TRANSCRIPT_FOLDER)).catch(() => [] as string[]);
  const out: TranscriptFile[] = [];
  for (const name of names.filter((n) => n.endsWith(TRANSCRIPT_SUFFIX) && !n.startsWith(".")).sort()) {
    const file = `${TRANSCRIPT_FOLDER}/${name}`;
    try {
      out.push({ file, transcript: parseTranscript(await readJson(await locate(file), file)) });
    } catch (error) {
      out.push({ file, problem: error instanceof PlaytestProjectError ? error.message : `${file}: ${oneLine(error)}` });
    }
  }
  return out;
}

type Loaded<T> = Map<string, { file: string; value?: T; problem?: string }>;

async function readById<T extends { id: string }>(root: string, folder: string, parse: (json: unknown) => T): Promise<Loaded<T>> {
  const byId: Loaded<T> = new Map();
  const names = await readdir(join(root, folder)).catch(() => [] as string[]);
  for (const name of names.filter((n) => n.endsWith(".json") && !n.endsWith(".layout.json")).sort()) {
    const file = `${folder}/${name}`;
    const id = name.slice(0, -".json".length);
    try {
      const value = parse(await readJson(join(root, file), file));
      byId.set(value.id, { file, value });
    } catch (error) {
      // Keyed by file name: the id inside an unreadable file is unknown, and files are named after their ids.
      if (!byId.has(id)) byId.set(id, { file, problem: oneLine(error) });
    }
  }
  return byId;
}

function find<T>(loaded: Loaded<T>, id: string, transcript: string, what: string, folder: string): T {
  const found = loaded.get(id);
  if (found?.value) return found.value;
  if (found?.problem) throw new PlaytestProjectError(`${transcript} needs ${found.file}, which is invalid: ${found.problem}`, found.file);
  throw new PlaytestProjectError(`${transcript} was recorded on ${what} "${id}", which is not in ${folder}/`, transcript);
}

/** The JSON in `path`; errors name the file as `file` (its project-relative path). */
async function readJson(path: string, file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new PlaytestProjectError(`cannot read ${file}: ${(error as Error).message}`, file);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new PlaytestProjectError(`${file} is not JSON: ${(error as Error).message}`, file);
  }
}

/** An error's message on one line (validation errors list their issues on several). */
export function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message
    .split("\n")
    .map((l) => l.trim().replace(/^- /, ""))
    .filter(Boolean)
    .join("; ");
}
