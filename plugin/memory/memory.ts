// NpcMemory: what one NPC remembers across conversations — the turns (speaker, text, time) and a running
// summary of older ones. Saved as a versioned JSON document (`parley.memory/1`), validated at load.
//
// The persona is never part of memory: memory holds only what was said and the model's summary of it; the
// summarization prompt contains no persona, so nothing of the character sheet (secrets included) can be
// copied into the summary by compaction.

import { readJsonDocument } from "../json-document.js";
import { InvalidArgumentError, writeFileAtomicDurable } from "../../runtime/index.js";
import type { DialogueBackend } from "../backend.js";
import { sanitizeUntrusted } from "../prompt/sanitize.js";

export const MEMORY_SCHEMA = "parley.memory/1";

export interface MemoryTurn {
  speaker: "player" | "npc";
  text: string;
  /** Milliseconds since the epoch. */
  time: number;
}

export interface MemoryDocument {
  schema: typeof MEMORY_SCHEMA;
  characterId: string;
  summary: string;
  /** How many turns the summary stands for (summarized or dropped so far). */
  forgottenTurns: number;
  turns: MemoryTurn[];
}

/** A memory document is malformed: not JSON, wrong schema/version, or a field of the wrong type. */
export class MemoryFormatError extends InvalidArgumentError {
  readonly path: string | undefined;
  constructor(message: string, path?: string) {
    super(path ? `memory file ${path}: ${message}` : `memory document: ${message}`);
    this.name = "MemoryFormatError";
    this.path = path;
  }
}

export interface CompactOptions {
  /** Newest turns kept word for word; the older ones are summarized (or dropped without a model). */
  keepTurns: number;
  /** Bound on the summary's length in generated tokens. Default 96. */
  maxTokens?: number;
  /** The NPC's name in the transcript given to the summarizer. Default "NPC". */
  npcName?: string;
  /** The player's name in the transcript. Default "Player". */
  playerName?: string;
  /** KV cache key for the summarization (default `memory:<characterId>`; keep it apart from dialogue keys). */
  cacheKey?: string;
  signal?: AbortSignal;
  /** Sampling seed (summaries are generated greedily). */
  seed?: number;
}

export interface CompactResult {
  /** Turns taken out of the turn list. */
  removedTurns: number;
  /** "summarized": the model folded them into the summary; "dropped": no model, or it produced nothing. */
  mode: "summarized" | "dropped" | "none";
  /** The messages sent to the model, if any (for logs and tests). */
  request?: { role: "system" | "user"; content: string }[];
}

export class NpcMemory {
  readonly characterId: string;
  summary = "";
  forgottenTurns = 0;
  #turns: MemoryTurn[] = [];

  constructor(characterId: string) {
    if (typeof characterId !== "string" || !/^[a-z0-9_-]+$/.test(characterId)) {
      throw new InvalidArgumentError(`memory: character id must match [a-z0-9_-]+, got ${JSON.stringify(characterId)}`);
    }
    this.characterId = characterId;
  }

  get turns(): readonly MemoryTurn[] {
    return this.#turns;
  }

  add(speaker: "player" | "npc", text: string, time: number = Date.now()): MemoryTurn {
    if (speaker !== "player" && speaker !== "npc") throw new InvalidArgumentError(`memory: speaker must be "player" or "npc", got ${JSON.stringify(speaker)}`);
    if (typeof text !== "string") throw new InvalidArgumentError("memory: turn text must be a string");
    if (!Number.isFinite(time)) throw new InvalidArgumentError("memory: turn time must be a finite number");
    const turn = { speaker, text, time };
    this.#turns.push(turn);
    return turn;
  }

  clear(): void {
    this.#turns = [];
    this.summary = "";
    this.forgottenTurns = 0;
  }

  /** Tokens the memory takes in a prompt (summary + turns as chat messages), by the backend's tokenizer. */
  tokenCount(backend: Pick<DialogueBackend, "countTokens">): number {
    let n = this.summary ? backend.countTokens(this.summary) : 0;
    for (const t of this.#turns) n += backend.countTokens(t.text) + 4; // + role header and end of turn
    return n;
  }

  toJSON(): MemoryDocument {
    return {
      schema: MEMORY_SCHEMA,
      characterId: this.characterId,
      summary: this.summary,
      forgottenTurns: this.forgottenTurns,
      turns: this.#turns.map((t) => ({ ...t })),
    };
  }

  static fromJSON(json: unknown, path?: string): NpcMemory {
    const fail = (message: string): never => {
      throw new MemoryFormatError(message, path);
    };
    if (json === null || typeof json !== "object" || Array.isArray(json)) fail("expected an object");
    const doc = json as Record<string, unknown>;
    if (typeof doc.schema !== "string") fail(`missing "schema" (expected "${MEMORY_SCHEMA}")`);
    if (doc.schema !== MEMORY_SCHEMA) {
      const isMemory = typeof doc.schema === "string" && doc.schema.startsWith("parley.memory/");
      fail(
        isMemory
          ? `schema ${doc.schema} is not supported by this version (expected ${MEMORY_SCHEMA})`
          : `schema is ${JSON.stringify(doc.schema)}, not ${MEMORY_SCHEMA}`,
      );
    }
    if (typeof doc.characterId !== "string" || !/^[a-z0-9_-]+$/.test(doc.characterId)) fail(`"characterId" must be a string matching [a-z0-9_-]+`);
    if (typeof doc.summary !== "string") fail(`"summary" must be a string`);
    if (typeof doc.forgottenTurns !== "number" || !Number.isInteger(doc.forgottenTurns) || doc.forgottenTurns < 0)
      fail(`"forgottenTurns" must be a non-negative integer`);
    if (!Array.isArray(doc.turns)) fail(`"turns" must be an array`);
    const memory = new NpcMemory(doc.characterId as string);
    memory.summary = doc.summary as string;
    memory.forgottenTurns = doc.forgottenTurns as number;
    (doc.turns as unknown[]).forEach((t, i) => {
      if (t === null || typeof t !== "object") fail(`turns[${i}] must be an object`);
      const turn = t as Record<string, unknown>;
      if (turn.speaker !== "player" && turn.speaker !== "npc") fail(`turns[${i}].speaker must be "player" or "npc"`);
      if (typeof turn.text !== "string") fail(`turns[${i}].text must be a string`);
      if (typeof turn.time !== "number" || !Number.isFinite(turn.time)) fail(`turns[${i}].time must be a finite number`);
      memory.#turns.push({ speaker: turn.speaker as "player" | "npc", text: turn.text as string, time: turn.time as number });
    });
    return memory;
  }

  /** Writes the memory to `path` atomically: a temporary file in the same folder, flushed, then renamed over. */
  async save(path: string): Promise<void> {
    await saveMemory(this, path);
  }

  static async load(path: string): Promise<NpcMemory> {
    return loadMemory(path);
  }

  /**
   * Makes room: the turns older than the newest `keepTurns` leave the turn list. With a backend that can
   * generate, they are summarized into `summary` by the model (bounded by maxTokens); without one (or if
   * the model produces nothing) they are dropped and only counted in `forgottenTurns`.
   */
  async compact(backend: DialogueBackend | undefined, options: CompactOptions): Promise<CompactResult> {
    const keep = options.keepTurns;
    if (!Number.isInteger(keep) || keep < 0) throw new InvalidArgumentError(`compact: keepTurns must be a non-negative integer, got ${keep}`);
    const old = this.#turns.slice(0, Math.max(0, this.#turns.length - keep));
    if (old.length === 0) return { removedTurns: 0, mode: "none" };

    if (!backend || !backend.canGenerate) {
      this.#turns = this.#turns.slice(old.length);
      this.forgottenTurns += old.length;
      return { removedTurns: old.length, mode: "dropped" };
    }

    const npc = sanitizeUntrusted(options.npcName ?? "NPC", { multiline: false, roleLabels: "keep" });
    const player = sanitizeUntrusted(options.playerName ?? "Player", { multiline: false, roleLabels: "keep" });
    const clean = (text: string): string => sanitizeUntrusted(text, { multiline: false, labels: [npc, player] });
    const transcript = old.map((t) => `${t.speaker === "player" ? player : npc}: ${clean(t.text)}`).join("\n");
    const maxTokens = options.maxTokens ?? 96;
    const request: { role: "system" | "user"; content: string }[] = [
      {
        role: "system",
        content:
          "You summarize conversations from a game for a character's memory. Write a short summary in the third person: " +
          "what was said, promised, agreed or learned, with names and facts. No commentary. At most 60 words.",
      },
      {
        role: "user",
        content:
          (this.summary ? `Summary so far: ${clean(this.summary)}\n\n` : "") +
          `Conversation between ${player} and ${npc}:\n${transcript}\n\nWrite the updated summary.`,
      },
    ];
    let text = "";
    for await (const chunk of backend.generate({
      cacheKey: options.cacheKey ?? `memory:${this.characterId}`,
      messages: request,
      sampling: { maxTokens, temperature: 0, seed: options.seed },
      signal: options.signal,
    })) {
      text += chunk;
    }
    const summary = sanitizeUntrusted(text, { multiline: false });
    this.#turns = this.#turns.slice(old.length);
    this.forgottenTurns += old.length;
    if (!summary) return { removedTurns: old.length, mode: "dropped", request };
    this.summary = summary;
    return { removedTurns: old.length, mode: "summarized", request };
  }
}

async function saveMemory(memory: NpcMemory, path: string): Promise<void> {
  await writeFileAtomicDurable(path, JSON.stringify(memory.toJSON(), null, 2) + "\n", "memory");
}

async function loadMemory(path: string): Promise<NpcMemory> {
  return NpcMemory.fromJSON(await readJsonDocument(path, { what: "memory", corrupt: (m) => new MemoryFormatError(m, path) }), path);
}
