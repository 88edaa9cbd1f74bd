// Ambient barks: a short line an NPC says as the player walks past ("Mind the cart, stranger."), generated
// in character when a model is loaded, else one of the character's authored `fallbackLines`.
//
//   const barks = new Barks({ generate: (character, signal) => ..., backend, store: dialogue });
//   barks.add({ character: smith, sensor: smithSensor, bubble: smithActor.bubble });
//   // each frame:
//   barks.update(dt);
//
// Rules: an NPC barks when the player enters its talk sensor (or on `trigger`), never while a conversation
// runs, at most once per `cooldown` seconds, and only one NPC barks at a time, with `minInterval` seconds
// of quiet after each bark. A conversation starting cancels the bark under way. A generation that fails,
// yields nothing or takes longer than `timeout` seconds is replaced by an authored fallback line.
// All time is what `update(dt)` says it is: no timers, no wall clock.

import type { DialogueBackend } from "../backend.js";
import { isConversationActive, type DialogueStore } from "../store.js";
import { DEFAULT_PLAYER_NAME, resolveMacros } from "../prompt/macros.js";
import type { Character } from "../types.js";
import type { TalkSensorEvent } from "./talk-sensor.js";

/** Streams a bark for `character`; stops when `signal` aborts. The caller wires it to a backend. */
export type BarkGenerator = (character: Character, signal: AbortSignal) => AsyncIterable<string>;

/** Where a bark is shown: a SpeechBubble fits. */
export interface BarkBubble {
  setText(text: string): void;
  append(chunk: string): void;
  clear(): void;
}

export interface BarkSpeaker {
  character: Character;
  bubble?: BarkBubble | null;
  /** The NPC barks when the player enters it (a TalkSensor fits). */
  sensor?: { subscribe(listener: (event: TalkSensorEvent) => void): () => void } | null;
  /** Overrides the per-NPC cooldown, in seconds. */
  cooldown?: number;
}

export interface BarksOptions {
  /** Generates barks; without it, or when the backend cannot generate, barks are authored fallbacks. */
  generate?: BarkGenerator | null;
  backend?: Pick<DialogueBackend, "canGenerate"> | null;
  /** No barks while a conversation runs in it; a conversation starting cancels the bark under way. */
  store?: DialogueStore | null;
  /** Seconds before the same NPC may bark again, from the start of its last bark (default 20). */
  cooldown?: number;
  /** Seconds of quiet after a bark before any NPC may bark (default 4). */
  minInterval?: number;
  /** Seconds a bark counts as under way after its text is complete, while it is read (default 3). */
  holdSeconds?: number;
  /** Seconds a generation may take before it is given up for a fallback (default 6). */
  timeout?: number;
  /** Picks fallback lines; a number in [0, 1) (default Math.random). */
  random?: () => number;
  /** The player's name for `{{user}}` in fallback lines, when the game knows it (default "the player"). */
  playerName?: () => string | undefined;
}

export type BarkSource = "generated" | "fallback";

/** Why a generated bark was replaced by a fallback. */
export type BarkFailure = "error" | "timeout" | "empty";

export type BarkEvent =
  | { type: "bark_started"; characterId: string; source: BarkSource }
  /** The text so far, as it streams. */
  | { type: "bark_text"; characterId: string; text: string }
  | { type: "bark_complete"; characterId: string; text: string; source: BarkSource; failure?: BarkFailure }
  | { type: "bark_cancelled"; characterId: string; reason: "conversation" | "cancelled" | "removed" };

export type BarkListener = (event: BarkEvent) => void;

/** What `trigger` did: "started", or why not. */
export type BarkResult = "started" | "unknown_speaker" | "conversation" | "busy" | "interval" | "cooldown" | "no_lines";

export interface ActiveBark {
  readonly characterId: string;
  readonly text: string;
  readonly source: BarkSource;
  /** Generating, or complete and being read. */
  readonly phase: "generating" | "showing";
}

interface Bark {
  speaker: Speaker;
  text: string;
  source: BarkSource;
  phase: "generating" | "showing";
  /** Seconds generating, then seconds left to show. */
  clock: number;
  controller: AbortController | null;
}

interface Speaker extends BarkSpeaker {
  lastBarkAt: number;
  lastFallback: number;
  unsubscribe: () => void;
}

export class Barks {
  private readonly generate: BarkGenerator | null;
  private readonly backend: Pick<DialogueBackend, "canGenerate"> | null;
  private readonly store: DialogueStore | null;
  private readonly cooldown: number;
  private readonly minInterval: number;
  private readonly holdSeconds: number;
  private readonly timeout: number;
  private readonly random: () => number;
  private readonly playerName: () => string | undefined;
  private readonly speakers = new Map<string, Speaker>();
  private readonly listeners = new Set<BarkListener>();
  private readonly unsubscribeStore: () => void;
  private now = 0;
  private lastBarkEnd = -Infinity;
  private current: Bark | null = null;

  constructor(options: BarksOptions = {}) {
    this.generate = options.generate ?? null;
    this.backend = options.backend ?? null;
    this.store = options.store ?? null;
    this.cooldown = options.cooldown ?? 20;
    this.minInterval = options.minInterval ?? 4;
    this.holdSeconds = options.holdSeconds ?? 3;
    this.timeout = options.timeout ?? 6;
    this.random = options.random ?? Math.random;
    this.playerName = options.playerName ?? (() => undefined);
    this.unsubscribeStore =
      this.store?.subscribe((state, previous) => {
        if (isConversationActive(state) && !isConversationActive(previous)) this.cancel("conversation");
      }) ?? (() => {});
  }

  /** The bark under way, if any. */
  get active(): ActiveBark | null {
    const bark = this.current;
    return bark && { characterId: bark.speaker.character.id, text: bark.text, source: bark.source, phase: bark.phase };
  }

  /** Registers an NPC (by character id, replacing one with the same id). Returns the remove function. */
  add(speaker: BarkSpeaker): () => void {
    const id = speaker.character.id;
    this.remove(id);
    const entry: Speaker = { ...speaker, lastBarkAt: -Infinity, lastFallback: -1, unsubscribe: () => {} };
    if (speaker.sensor) {
      entry.unsubscribe = speaker.sensor.subscribe((event) => {
        if (event.type === "enter") this.trigger(id);
      });
    }
    this.speakers.set(id, entry);
    return () => {
      if (this.speakers.get(id) === entry) this.remove(id);
    };
  }

  remove(characterId: string): void {
    const speaker = this.speakers.get(characterId);
    if (!speaker) return;
    if (this.current?.speaker === speaker) this.stop("removed");
    speaker.unsubscribe();
    this.speakers.delete(characterId);
  }

  /** Seconds before this NPC may bark again (0: it may). */
  cooldownLeft(characterId: string): number {
    const speaker = this.speakers.get(characterId);
    if (!speaker) return 0;
    return Math.max(0, speaker.lastBarkAt + (speaker.cooldown ?? this.cooldown) - this.now);
  }

  /** Makes the NPC bark if the rules allow it now. */
  trigger(characterId: string): BarkResult {
    const speaker = this.speakers.get(characterId);
    if (!speaker) return "unknown_speaker";
    if (this.store && isConversationActive(this.store.getState())) return "conversation";
    if (this.current) return "busy";
    if (this.now - this.lastBarkEnd < this.minInterval) return "interval";
    if (this.cooldownLeft(characterId) > 0) return "cooldown";

    const canGenerate = this.generate !== null && this.backend?.canGenerate !== false;
    const authored = canGenerate ? null : this.fallbackLine(speaker);
    if (!canGenerate && authored === null) return "no_lines";

    speaker.lastBarkAt = this.now;
    const bark: Bark = {
      speaker,
      text: "",
      source: canGenerate ? "generated" : "fallback",
      phase: "generating",
      clock: 0,
      controller: null,
    };
    this.current = bark;
    this.emit({ type: "bark_started", characterId, source: bark.source });
    if (authored === null) void this.stream(bark);
    else this.complete(bark, authored);
    return "started";
  }

  /** Stops the bark under way; a bark still generating is taken off its bubble. */
  cancel(reason: "conversation" | "cancelled" = "cancelled"): void {
    this.stop(reason);
  }

  /** Advances time by `dt` seconds: generation timeouts, the end of a shown bark, cooldowns. */
  update(dt: number): void {
    this.now += dt;
    const bark = this.current;
    if (!bark) return;
    if (bark.phase === "generating") {
      bark.clock += dt;
      if (bark.clock >= this.timeout) {
        bark.controller?.abort();
        this.fallBack(bark, "timeout");
      }
    } else {
      bark.clock -= dt;
      if (bark.clock <= 0) this.finish();
    }
  }

  subscribe(listener: BarkListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  dispose(): void {
    this.stop("removed");
    this.unsubscribeStore();
    for (const id of [...this.speakers.keys()]) this.remove(id);
    this.listeners.clear();
  }

  private async stream(bark: Bark): Promise<void> {
    const controller = new AbortController();
    bark.controller = controller;
    const { speaker } = bark;
    const id = speaker.character.id;
    try {
      for await (const chunk of this.generate!(speaker.character, controller.signal)) {
        if (this.current !== bark || bark.phase !== "generating") return; // cancelled or timed out
        if (chunk === "") continue;
        if (bark.text === "") speaker.bubble?.setText(chunk);
        else speaker.bubble?.append(chunk);
        bark.text += chunk;
        this.emit({ type: "bark_text", characterId: id, text: bark.text });
      }
    } catch {
      if (this.current === bark && bark.phase === "generating") this.fallBack(bark, "error");
      return;
    }
    if (this.current !== bark || bark.phase !== "generating") return;
    if (bark.text.trim() === "") this.fallBack(bark, "empty");
    else this.complete(bark, bark.text);
  }

  private fallBack(bark: Bark, failure: BarkFailure): void {
    bark.source = "fallback";
    const line = this.fallbackLine(bark.speaker);
    if (line === null) {
      // Nothing authored to say instead: the bark ends here.
      bark.speaker.bubble?.clear();
      const characterId = bark.speaker.character.id;
      this.emit({ type: "bark_complete", characterId, text: "", source: "fallback", failure });
      this.finish();
      return;
    }
    this.complete(bark, line, failure);
  }

  private complete(bark: Bark, text: string, failure?: BarkFailure): void {
    bark.phase = "showing";
    bark.clock = this.holdSeconds;
    if (text !== bark.text) bark.speaker.bubble?.setText(text);
    bark.text = text;
    const characterId = bark.speaker.character.id;
    this.emit({ type: "bark_complete", characterId, text, source: bark.source, ...(failure ? { failure } : {}) });
  }

  /** A fallback line, not the one this NPC said last time when it has others; null when it has none. */
  private fallbackLine(speaker: Speaker): string | null {
    const lines = speaker.character.fallbackLines;
    if (lines.length === 0) return null;
    let index = Math.min(lines.length - 1, Math.floor(this.random() * lines.length));
    if (lines.length > 1 && index === speaker.lastFallback) index = (index + 1) % lines.length;
    speaker.lastFallback = index;
    return resolveMacros(lines[index], { char: speaker.character.name, user: this.playerName()?.trim() || DEFAULT_PLAYER_NAME });
  }

  private stop(reason: "conversation" | "cancelled" | "removed"): void {
    const bark = this.current;
    if (!bark) return;
    bark.controller?.abort();
    // A half-generated line goes; a complete one stays on its bubble to fade.
    if (bark.phase === "generating") bark.speaker.bubble?.clear();
    this.emit({ type: "bark_cancelled", characterId: bark.speaker.character.id, reason });
    this.finish();
  }

  private finish(): void {
    this.current = null;
    this.lastBarkEnd = this.now;
  }

  private emit(event: BarkEvent): void {
    for (const listener of [...this.listeners]) listener(event);
  }
}
