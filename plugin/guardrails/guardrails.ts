// Guardrails on generated NPC lines: length with a clean ending, stop strings so the model cannot speak for
// the player, a secret-leak check, a banned words/topics list, and guardedReply(), which streams a reply to
// the caller only as far as it is known to be safe.
//
// Phrase matching (leaks and banned words) is case-insensitive and word-boundary aware, and sees through
// spelling tricks: the text is cut into words of letters and digits (look-alike letters folded to ASCII,
// accents removed, invisible characters ignored); a pattern matches when it equals the concatenation of one
// or more consecutive words. So for the pattern "sword": "Sword", "s-w-o-r-d", "S W O R D", "s.word",
// "ѕword" (Cyrillic ѕ) match; "swords" and "swordfish" do not (word boundary). A second pass reads digits
// and `@ $` as letters (0→o 1→i 3→e 4→a 5→s 7→t 8→b @→a $→s, l→i on both sides), catching "5w0rd".
//
// Streaming (guardedReply): text is emitted only when
//   - no complete pattern occurs in it, and no word run at its end could still grow into a pattern (that
//     tail is held back, like a stop-string matcher holds a possible stop prefix);
//   - it cannot be cut away later by the length limit: up to the first sentence end the reply streams word by
//     word (a cut there keeps the words and adds "…"); after it, text streams a sentence at a time (a cut
//     there goes back to the last sentence end).
// A violation aborts the attempt; if anything was shown the caller gets a `reset` event (clear the bubble),
// and the line is generated again; after `attempts` tries the authored fallback is used. The text events
// after the last reset always concatenate to the result's text.

import { AbortError, DEFAULT_CHAT_TEMPLATE, StopStringMatcher } from "../../runtime/index.js";
import type { Character, Secret } from "../types.js";
import { foldLookalike, templateMarkers } from "../prompt/sanitize.js";

// ---------------------------------------------------------------------------------------------------
// Length

const SENTENCE_END = /[.!?…]+["'”’)\]»]*(?=\s|$)/g;
const SOFT_PUNCT = /[\s,;:—–-]+$/;

export interface LimitedText {
  text: string;
  /** The text had more than maxWords words and was cut. */
  truncated: boolean;
}

/** Cuts `text` to `maxWords` words at the last sentence end within them; without one, at the limit plus "…". */
export function limitWords(text: string, maxWords: number): LimitedText {
  const trimmed = text.trim();
  const tokens = [...trimmed.matchAll(/\S+/g)];
  if (tokens.length <= maxWords) return { text: trimmed, truncated: false };
  if (maxWords <= 0) return { text: "…", truncated: true };
  const last = tokens[maxWords - 1];
  const within = trimmed.slice(0, last.index! + last[0].length);
  let end = -1;
  for (const m of within.matchAll(SENTENCE_END)) end = m.index! + m[0].length;
  if (end > 0) return { text: within.slice(0, end), truncated: true };
  return { text: within.replace(SOFT_PUNCT, "") + "…", truncated: true };
}

// ---------------------------------------------------------------------------------------------------
// Stop strings

export interface StopStringOptions {
  /** The model's chat template: its turn markers become stop strings. Default TinyLlama-Chat's. */
  template?: string;
  /** Names of the player as the prompt writes them. Default ["Player"]. */
  playerNames?: readonly string[];
}

// ---------------------------------------------------------------------------------------------------
// Speech: a line the player reads must be words, not the machinery's identifiers.

/** snake_case: words joined by underscores, how intent ids and variables are written, never how people talk. */
const SNAKE = /^[\p{L}\p{N}]+(?:_[\p{L}\p{N}]+)+$/u;
/** Shaped like an identifier when it stands alone: snake_case, camelCase, or a dotted path ("player.gold"). */
const IDENTIFIER = /^[\p{L}\p{N}]+(?:_[\p{L}\p{N}]+)+$|^\p{Ll}+\p{Lu}[\p{L}\p{N}]*$|^\p{L}+\.\p{L}+$/u;

const bare = (token: string): string => token.replace(/^[^\p{L}\p{N}_]+|[^\p{L}\p{N}_]+$/gu, "");

/**
 * Why `text` is not a line of speech, or null when it is. Not speech: a snake_case token anywhere (what a small
 * model trained on intent ids blurts out: "small_room"), a line that is one identifier-shaped token or one of
 * `identifiers` (the graph's intent ids), no letters at all, or a single bare word with no sentence punctuation
 * ("buy"). `final` false checks only the words already complete in a stream (the last one may still grow).
 */
export function notSpeech(text: string, identifiers: readonly string[] = [], final = true): string | null {
  const tokens = text
    .trim()
    .split(/\s+/)
    .filter((t) => t.length > 0);
  const complete = final ? tokens : tokens.slice(0, -1);
  for (const token of complete) {
    const word = bare(token);
    if (SNAKE.test(word)) return `"${word}" is an identifier, not a word`;
  }
  if (!final) return null;
  if (tokens.length === 1 && IDENTIFIER.test(bare(tokens[0]))) return `"${bare(tokens[0])}" is an identifier, not a word`;
  const flat = text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}_]+/gu, " ")
    .trim();
  if (identifiers.some((id) => id.toLowerCase() === flat)) return `the line is the id "${flat}"`;
  if (!/\p{L}/u.test(text)) return "the line has no words";
  if (tokens.length === 1 && !/[.!?…]/.test(text)) return `"${text.trim()}" is a bare word, not a sentence`;
  return null;
}

/** Stop strings that end a reply where the model would start another turn or speak for the player. */
export function stopStrings(options: StopStringOptions = {}): string[] {
  const markers = templateMarkers(options.template ?? DEFAULT_CHAT_TEMPLATE).literals.filter((m) => m !== "<s>");
  const names = options.playerNames ?? ["Player"];
  const labels = [...new Set([...names, "Player", "User", "You", "Human"])];
  const out = new Set<string>(markers);
  for (const l of labels) {
    out.add(`\n${l}:`);
    out.add(`\n${l} :`);
  }
  out.add("\n### ");
  return [...out];
}

// ---------------------------------------------------------------------------------------------------
// Phrase matching

export type ViolationKind = "leak" | "banned" | "empty" | "not_speech" | "error";

export interface Violation {
  kind: ViolationKind;
  /** 1-based generation attempt. */
  attempt: number;
  /** The leak pattern or banned phrase that matched. */
  pattern?: string;
  /** Index of the secret in character.secrets, for leaks. */
  secret?: number;
  message?: string;
}

interface Word {
  text: string;
  start: number;
  end: number;
  /** A separator follows (or the text is final): the word cannot grow. */
  closed: boolean;
}

const LEET: Record<string, string> = { "0": "o", "1": "i", l: "i", "3": "e", "4": "a", "@": "a", "5": "s", $: "s", "7": "t", "8": "b" };

function normalizeChar(c: string): string {
  let n = foldLookalike(c).normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase();
  if (n.length > 1) n = n.replace(/[^\p{L}\p{N}]/gu, "");
  return n;
}

function words(text: string, final: boolean, leet: boolean): Word[] {
  const out: Word[] = [];
  let cur: Word | undefined;
  let i = 0;
  for (const c of text) {
    const len = c.length;
    let n = normalizeChar(c);
    if (leet) n = [...n].map((x) => LEET[x] ?? x).join("");
    const isWord = n.length > 0 && /^[\p{L}\p{N}]+$/u.test(n);
    const ignorable = !isWord && /^[\p{M}\p{Cf}]$/u.test(c);
    if (leet && (c === "@" || c === "$")) {
      cur ??= { text: "", start: i, end: i, closed: false };
      cur.text += LEET[c];
      cur.end = i + len;
    } else if (isWord) {
      cur ??= { text: "", start: i, end: i, closed: false };
      cur.text += n;
      cur.end = i + len;
    } else if (!ignorable && cur) {
      cur.closed = true;
      out.push(cur);
      cur = undefined;
    }
    i += len;
  }
  if (cur) {
    cur.closed = final;
    out.push(cur);
  }
  return out;
}

function compact(pattern: string, leet: boolean): string {
  return words(pattern, true, leet)
    .map((w) => w.text)
    .join("");
}

interface PhraseEntry {
  pattern: string;
  kind: "leak" | "banned";
  secret?: number;
  plain: string;
  leet: string;
}

export interface PhraseHit {
  kind: "leak" | "banned" | "not_speech";
  pattern: string;
  secret?: number;
}

/** Leak patterns and banned phrases, matched over streamed or complete text. */
export class PhraseMatcher {
  readonly #entries: PhraseEntry[];

  constructor(options: { secrets?: readonly Secret[]; banned?: readonly string[] }) {
    const entries: PhraseEntry[] = [];
    (options.secrets ?? []).forEach((s, secret) => {
      for (const pattern of s.leakPatterns) entries.push({ pattern, kind: "leak", secret, plain: compact(pattern, false), leet: compact(pattern, true) });
    });
    for (const pattern of options.banned ?? []) entries.push({ pattern, kind: "banned", plain: compact(pattern, false), leet: compact(pattern, true) });
    this.#entries = entries.filter((e) => e.plain.length > 0);
  }

  get empty(): boolean {
    return this.#entries.length === 0;
  }

  /**
   * The first pattern occurring in `text`. With `final` false the last word may still grow, so it only
   * counts when a separator follows it.
   */
  find(text: string, final = true): PhraseHit | undefined {
    if (this.empty) return undefined;
    for (const leet of [false, true]) {
      const ws = words(text, final, leet);
      for (const e of this.#entries) {
        const target = leet ? e.leet : e.plain;
        for (let i = 0; i < ws.length; i++) {
          let acc = "";
          for (let j = i; j < ws.length; j++) {
            acc += ws[j].text;
            if (acc === target && ws[j].closed) return { kind: e.kind, pattern: e.pattern, secret: e.secret };
            if (acc.length >= target.length || !target.startsWith(acc)) break;
          }
        }
      }
    }
    return undefined;
  }

  /**
   * Where the text that could still become (part of) a pattern starts: the start of the earliest run of
   * words reaching the end of `text` whose letters are a prefix of some pattern. `text.length` when none.
   */
  holdFrom(text: string): number {
    if (this.empty) return text.length;
    let from = text.length;
    for (const leet of [false, true]) {
      const ws = words(text, false, leet);
      if (ws.length === 0) continue;
      const endsInWord = !ws[ws.length - 1].closed;
      // Only a word touching the end (or followed only by separators) can be continued.
      for (const e of this.#entries) {
        const target = leet ? e.leet : e.plain;
        let acc = "";
        for (let i = ws.length - 1; i >= 0; i--) {
          acc = ws[i].text + acc;
          if (acc.length > target.length) break;
          const partial = acc.length < target.length || (acc === target && endsInWord);
          if (partial && target.startsWith(acc)) from = Math.min(from, ws[i].start);
        }
      }
    }
    return from;
  }
}

/** Leaks of the character's secrets in a complete reply. */
export function findLeaks(text: string, secrets: readonly Secret[]): PhraseHit[] {
  const hits: PhraseHit[] = [];
  secrets.forEach((s, i) => {
    for (const p of s.leakPatterns) {
      const hit = new PhraseMatcher({ secrets: [{ text: s.text, leakPatterns: [p] }] }).find(text, true);
      if (hit) hits.push({ ...hit, secret: i });
    }
  });
  return hits;
}

/** Banned words or topics in a complete reply. */
export function findBanned(text: string, banned: readonly string[]): PhraseHit[] {
  return banned.flatMap((b) => {
    const hit = new PhraseMatcher({ banned: [b] }).find(text, true);
    return hit ? [hit] : [];
  });
}

// ---------------------------------------------------------------------------------------------------
// Streaming filter for one attempt

interface FilterPush {
  emit: string;
  violation?: PhraseHit;
  /** Stop consuming: a stop string or the word limit was reached. */
  done: boolean;
}

/**
 * One attempt's stream through the guardrails. Stop strings are the runtime's StopStringMatcher (the reply is
 * cut at the first one; a tail that could still grow into one is held back); on top of it this checks the
 * text so far for leaks, banned phrases and identifiers, stops at the word limit, and emits only what no later
 * check or length cut can take back.
 */
class ReplyFilter {
  /** The reply so far, up to a stop string when one ended it. */
  #raw = "";
  /** How much of #raw the stop-string matcher has let through (the rest could still begin a stop string). */
  #pastStops = 0;
  #emitted = 0;
  #done = false;
  readonly #stops: StopStringMatcher;
  readonly #matcher: PhraseMatcher;
  readonly #maxWords: number;
  readonly #identifiers: readonly string[];

  constructor(matcher: PhraseMatcher, stops: readonly string[], maxWords: number, identifiers: readonly string[]) {
    this.#matcher = matcher;
    this.#stops = new StopStringMatcher(stops.filter((s) => s.length > 0));
    this.#maxWords = maxWords;
    this.#identifiers = identifiers;
  }

  get emittedText(): string {
    return this.#text().slice(0, this.#emitted);
  }

  #text(): string {
    return this.#raw.trimStart();
  }

  push(chunk: string): FilterPush {
    if (this.#done) return { emit: "", done: true };
    this.#raw += chunk;
    const stop = this.#stops.push(chunk);
    this.#pastStops += stop.emit.length;
    if (stop.stopped) {
      this.#raw = this.#raw.slice(0, this.#pastStops);
      this.#done = true;
      return { emit: "", done: true };
    }
    const lead = this.#raw.length - this.#raw.trimStart().length;
    const text = this.#text();
    const hit = this.#matcher.find(text, false);
    if (hit) return { emit: "", violation: hit, done: true };
    const odd = notSpeech(text, this.#identifiers, false);
    if (odd) return { emit: "", violation: { kind: "not_speech", pattern: odd }, done: true };
    const tokens = [...text.matchAll(/\S+/g)];
    if (tokens.length > this.#maxWords) {
      // Enough words: stop generating; finish() cuts.
      this.#done = true;
      return { emit: "", done: true };
    }
    // Length boundary.
    let boundary = 0;
    for (const m of text.matchAll(SENTENCE_END)) {
      const end = m.index! + m[0].length;
      if (end < text.length) boundary = end; // followed by whitespace: a finished sentence
    }
    if (boundary === 0) {
      // First sentence: every closed word.
      const closed = tokens.filter((t) => t.index! + t[0].length < text.length);
      if (closed.length) {
        const lastTok = closed[closed.length - 1];
        boundary = text.slice(0, lastTok.index! + lastTok[0].length).replace(SOFT_PUNCT, "").length;
      }
    }
    const safe = Math.min(boundary, this.#matcher.holdFrom(text), Math.max(0, this.#pastStops - lead));
    if (safe <= this.#emitted) return { emit: "", done: false };
    const emit = text.slice(this.#emitted, safe);
    this.#emitted = safe;
    return { emit, done: false };
  }

  /** End of the attempt's stream: the final text, or the violation. */
  finish(): { text: string; emit: string; violation?: PhraseHit | "empty"; prefixBroken: boolean } {
    const text = this.#text().trimEnd();
    const hit = this.#matcher.find(text, true);
    if (hit) return { text: "", emit: "", violation: hit, prefixBroken: false };
    const final = limitWords(text, this.#maxWords).text;
    const hit2 = this.#matcher.find(final, true);
    if (hit2) return { text: "", emit: "", violation: hit2, prefixBroken: false };
    if (!/[\p{L}\p{N}]/u.test(final)) return { text: "", emit: "", violation: "empty", prefixBroken: false };
    const odd = notSpeech(final, this.#identifiers);
    if (odd) return { text: "", emit: "", violation: { kind: "not_speech", pattern: odd }, prefixBroken: false };
    const shown = this.emittedText;
    if (!final.startsWith(shown)) return { text: final, emit: final, prefixBroken: true };
    return { text: final, emit: final.slice(shown.length), prefixBroken: false };
  }
}

// ---------------------------------------------------------------------------------------------------
// guardedReply

export type GuardEvent =
  /** Append to the bubble. */
  | { type: "text"; text: string; attempt: number }
  /** Clear the bubble: the partial text is thrown away (a new attempt or the fallback follows). */
  | { type: "reset"; attempt: number; violation: Violation };

export interface GuardedReply {
  text: string;
  source: "generated" | "fallback";
  /** Generation attempts made. */
  attempts: number;
  violations: Violation[];
}

export interface GuardOptions {
  character: Pick<Character, "secrets" | "speakingStyle">;
  /** Default: character.speakingStyle.maxWords. */
  maxWords?: number;
  /** Banned words or topics (phrases); a hit means the reply is generated again. */
  banned?: readonly string[];
  /** Ids the line must not consist of (the graph's intent ids): such a line is generated again. */
  identifiers?: readonly string[];
  /** Generation attempts before the fallback. Default 2. */
  attempts?: number;
  /** The authored line used when every attempt fails. */
  fallback: () => string;
  /** Stop strings applied to the stream (the backend should get them too). Default stopStrings(). */
  stop?: readonly string[];
  /** Receives the text to show, and resets. */
  onEvent?: (event: GuardEvent) => void;
  /** Aborts: the pending attempt stops and guardedReply throws AbortError. */
  signal?: AbortSignal;
}

/** Events as an async generator; the last value (`done`) is the result. */
export async function* guardedReplyEvents(
  generate: (attempt: number) => AsyncIterable<string>,
  options: GuardOptions,
): AsyncGenerator<GuardEvent, GuardedReply> {
  const attempts = options.attempts ?? 2;
  const maxWords = options.maxWords ?? options.character.speakingStyle.maxWords;
  const matcher = new PhraseMatcher({ secrets: options.character.secrets, banned: options.banned });
  const stops = options.stop ?? stopStrings();
  const violations: Violation[] = [];
  let shown = false;
  const checkAbort = (): void => {
    if (options.signal?.aborted) throw new AbortError();
  };

  for (let attempt = 1; attempt <= attempts; attempt++) {
    checkAbort();
    const filter = new ReplyFilter(matcher, stops, maxWords, options.identifiers ?? []);
    let violation: Violation | undefined;
    try {
      for await (const chunk of generate(attempt)) {
        checkAbort();
        const r = filter.push(chunk);
        if (r.violation) {
          violation = { kind: r.violation.kind, attempt, pattern: r.violation.pattern, secret: r.violation.secret };
          break;
        }
        if (r.emit) {
          shown = true;
          yield { type: "text", text: r.emit, attempt };
        }
        if (r.done) break;
      }
      checkAbort();
      if (!violation) {
        const f = filter.finish();
        if (f.violation === "empty") violation = { kind: "empty", attempt, message: "the reply had no words" };
        else if (f.violation) violation = { kind: f.violation.kind, attempt, pattern: f.violation.pattern, secret: f.violation.secret };
        else {
          if (f.prefixBroken && shown) {
            yield { type: "reset", attempt, violation: { kind: "error", attempt, message: "final text differs from the streamed text" } };
          }
          if (f.emit) yield { type: "text", text: f.emit, attempt };
          return { text: f.text, source: "generated", attempts: attempt, violations };
        }
      }
    } catch (error) {
      if (error instanceof AbortError || options.signal?.aborted) throw error instanceof AbortError ? error : new AbortError();
      violation = { kind: "error", attempt, message: error instanceof Error ? error.message : String(error) };
    }
    violations.push(violation);
    if (shown) {
      yield { type: "reset", attempt, violation };
      shown = false;
    }
  }
  const text = options.fallback();
  yield { type: "text", text, attempt: attempts };
  return { text, source: "fallback", attempts, violations };
}

/**
 * Streams a reply through the guardrails (see the file comment): `generate(attempt)` is called for each
 * attempt; events go to options.onEvent; resolves to the final text and where it came from.
 */
export async function guardedReply(generate: (attempt: number) => AsyncIterable<string>, options: GuardOptions): Promise<GuardedReply> {
  const it = guardedReplyEvents(generate, options);
  for (;;) {
    const r = await it.next();
    if (r.done) return r.value;
    options.onEvent?.(r.value);
  }
}
