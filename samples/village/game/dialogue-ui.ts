/// <reference lib="dom" />
// The conversation UI: "Press E to talk to <name>" near an NPC; E opens a conversation with the nearest
// NPC in range (host.start); the host's dialogue events go into the plugin's dialogue store and the panel
// renders from the store — the transcript, the NPC's line as it streams, the choices (click, or keys 1-9),
// the free-text box (Enter sends; typing never moves the player), End/Escape to cancel. The NPC's speech
// bubble renders from the same store (NpcActor.bind). The panel closes a moment after `ended`.

import { isConversationActive, type DialogueState, type DialogueStore } from "../../../plugin/store.js";
import { MAX_INPUT_CHARS, type ParleyClient, type NpcId } from "../village-npcs.js";
import type { VillageNpc, VillageNpcs } from "./npcs.js";
import { isTypingTarget, type Player } from "./player.js";

/** How long the panel stays up after a conversation ends. */
const ENDED_LINGER_MS = 1600;
/** Closes the panel if the host never confirms a cancel. */
const CANCEL_FALLBACK_MS = 4000;
/** The character counter shows once this few characters are left, so a long line does not stop unannounced. */
const COUNTER_FROM_LEFT = 100;

const EMPTY: DialogueState["transcript"] = [];

function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
}

export class DialogueUI {
  private readonly panel = byId("dialogue-panel");
  private readonly nameEl = byId("dialogue-name");
  private readonly roleEl = byId("dialogue-role");
  private readonly statusEl = byId("dialogue-status");
  private readonly log = byId("dialogue-log");
  private readonly choicesEl = byId("dialogue-choices");
  private readonly inputRow = byId<HTMLFormElement>("dialogue-input-row");
  private readonly input = byId<HTMLInputElement>("player-input");
  private readonly sendButton = byId<HTMLButtonElement>("player-send");
  private readonly counter = byId("player-input-count");
  private readonly endButton = byId<HTMLButtonElement>("dialogue-end");
  private readonly prompt = byId("talk-prompt");
  private readonly promptName = byId("talk-prompt-name");

  /** E was pressed for this NPC and `started` has not arrived yet. */
  private opening: VillageNpc | null = null;
  /** The NPC the panel is about. */
  private panelNpc: VillageNpc | null = null;
  private panelOpen = false;
  private closeTimer: ReturnType<typeof setTimeout> | null = null;
  private cancelTimer: ReturnType<typeof setTimeout> | null = null;
  private promptShownFor: VillageNpc | null = null;
  private notices: string[] = [];
  private renderedTranscript: unknown = null;
  private renderedChoices: unknown = null;
  private streamingEl: HTMLElement | null = null;
  private readonly disposers: Array<() => void> = [];

  constructor(
    private readonly host: ParleyClient,
    private readonly store: DialogueStore,
    private readonly npcs: VillageNpcs,
    private readonly player: Player,
  ) {
    this.disposers.push(store.subscribe((state, previous) => this.render(state, previous)));
    const onKey = (e: KeyboardEvent) => this.onKey(e);
    window.addEventListener("keydown", onKey);
    this.disposers.push(() => window.removeEventListener("keydown", onKey));
    // The host refuses longer lines; the box stops at the same length and counts down before it does.
    this.input.maxLength = MAX_INPUT_CHARS;
    this.input.addEventListener("input", () => this.updateCounter());
    this.inputRow.addEventListener("submit", (e) => {
      e.preventDefault();
      this.send();
    });
    this.endButton.addEventListener("click", () => this.end());
    this.render(store.getState(), null);
  }

  /** A conversation is opening or running, or the panel still shows one that just ended. */
  get open(): boolean {
    return this.panelOpen;
  }

  /** Per frame: the "Press E" prompt for the nearest NPC in range. */
  updatePrompt(): void {
    const target = this.panelOpen ? null : this.npcs.promptTarget(this.player.position());
    if (target === this.promptShownFor) return;
    this.promptShownFor = target;
    if (target) this.promptName.textContent = target.info.name;
    this.prompt.classList.toggle("hidden", target === null);
    this.prompt.dataset.npc = target?.info.id ?? "";
  }

  /** The NPC the "Press E" prompt is for. */
  get promptNpc(): VillageNpc | null {
    return this.promptShownFor;
  }

  /** What E does: talks to the nearest NPC in range. Returns false when nobody is. */
  interact(): boolean {
    // The panel of a conversation that has just ended may still be up: a new one replaces it.
    if (this.panelOpen && !this.opening && !isConversationActive(this.store.getState())) this.closePanel();
    if (this.panelOpen) return false;
    const target = this.npcs.promptTarget(this.player.position());
    if (!target) return false;
    this.startWith(target);
    return true;
  }

  /** Picks an offered choice by its position on screen (0-based). */
  chooseAt(position: number): boolean {
    const state = this.store.getState();
    const choice = state.status === "waiting_choice" ? state.choices[position] : undefined;
    if (!choice) return false;
    this.choicesEl.querySelectorAll("button").forEach((b) => (b.disabled = true));
    this.call(this.host.choose(choice.index), "could not choose");
    return true;
  }

  /** Sends the input box's text (when the NPC waits for it). */
  send(): boolean {
    const text = this.input.value.trim();
    if (text === "" || this.store.getState().status !== "waiting_input") return false;
    this.input.disabled = true;
    this.sendButton.disabled = true;
    this.call(this.host.submit(text), "could not send", () => {
      this.input.disabled = false;
      this.sendButton.disabled = false;
    });
    return true;
  }

  /** Ends the conversation (End button, Escape). */
  end(): void {
    if (!this.panelOpen) return;
    const state = this.store.getState();
    if (!isConversationActive(state) && !this.opening) {
      this.closePanel();
      return;
    }
    this.host.cancel().catch(() => undefined);
    if (this.cancelTimer) clearTimeout(this.cancelTimer);
    this.cancelTimer = setTimeout(() => {
      this.cancelTimer = null;
      if (this.panelOpen && !isConversationActive(this.store.getState())) this.closePanel();
      else if (this.panelOpen) this.addNotice("the host did not end the conversation");
    }, CANCEL_FALLBACK_MS);
  }

  dispose(): void {
    for (const d of this.disposers) d();
    if (this.closeTimer) clearTimeout(this.closeTimer);
    if (this.cancelTimer) clearTimeout(this.cancelTimer);
  }

  private onKey(e: KeyboardEvent): void {
    if (e.code === "Escape" || e.key === "Escape") {
      if (this.panelOpen) {
        e.preventDefault();
        this.input.blur();
        this.end();
      }
      return;
    }
    if (isTypingTarget(e.target) || e.repeat) return;
    if (e.code === "KeyE") {
      if (this.interact()) e.preventDefault();
      return;
    }
    const digit = /^(?:Digit|Numpad)([1-9])$/.exec(e.code);
    if (digit && this.panelOpen) {
      if (this.chooseAt(Number(digit[1]) - 1)) e.preventDefault();
    }
  }

  private startWith(npc: VillageNpc): void {
    if (this.closeTimer) {
      clearTimeout(this.closeTimer);
      this.closeTimer = null;
    }
    this.opening = npc;
    this.panelNpc = npc;
    this.notices = [];
    this.openPanel();
    this.render(this.store.getState(), null);
    this.host.start(npc.info.id).catch((err: unknown) => {
      if (this.opening !== npc) return;
      this.opening = null;
      this.addNotice(`could not start the conversation: ${message(err)}`);
      this.scheduleClose(2500);
    });
  }

  private openPanel(): void {
    this.panelOpen = true;
    this.panel.classList.remove("hidden");
    this.player.movementEnabled = false;
    this.player.release();
    this.npcs.suppressBarks = true;
    this.updatePrompt();
  }

  private closePanel(): void {
    if (this.closeTimer) clearTimeout(this.closeTimer);
    if (this.cancelTimer) clearTimeout(this.cancelTimer);
    this.closeTimer = null;
    this.cancelTimer = null;
    this.panelOpen = false;
    this.opening = null;
    this.panel.classList.add("hidden");
    this.player.movementEnabled = true;
    this.npcs.suppressBarks = false;
    if (document.activeElement instanceof HTMLElement && this.panel.contains(document.activeElement)) {
      document.activeElement.blur();
    }
    this.updatePrompt();
  }

  private scheduleClose(ms: number): void {
    if (this.closeTimer) clearTimeout(this.closeTimer);
    this.closeTimer = setTimeout(() => this.closePanel(), ms);
  }

  private call(promise: Promise<void>, what: string, onError?: () => void): void {
    promise.catch((err: unknown) => {
      this.addNotice(`${what}: ${message(err)}`);
      onError?.();
      this.render(this.store.getState(), null);
    });
  }

  private addNotice(text: string): void {
    this.notices.push(text);
    this.renderedTranscript = null;
    this.render(this.store.getState(), null);
  }

  private render(state: DialogueState, previous: DialogueState | null): void {
    document.body.dataset.state = state.status;
    const active = isConversationActive(state);

    if (state.status === "speaking" && previous !== null && previous.conversation?.id !== state.conversation?.id) {
      // A new conversation (ours, or one the host started): the panel follows it.
      this.opening = null;
      this.notices = [];
      this.panelNpc = this.npcs.get(state.conversation?.characterId as NpcId) ?? this.panelNpc;
      if (!this.panelOpen) this.openPanel();
    }
    if (active && this.opening) this.opening = null;
    if (state.status === "ended" && previous !== null && previous.status !== "ended" && this.panelOpen) {
      this.scheduleClose(state.endReason === "end" ? ENDED_LINGER_MS : ENDED_LINGER_MS / 2);
    }
    if (!this.panelOpen) return;

    const npcName = state.conversation?.npcName ?? this.panelNpc?.info.name ?? "";
    this.nameEl.textContent = npcName;
    this.roleEl.textContent = this.panelNpc ? `the ${this.panelNpc.info.role}` : "";
    this.statusEl.textContent = statusText(state, this.opening !== null);

    // Transcript: rebuilt when a line completes; the streaming line is updated in place.
    // While a conversation opens, the last one's transcript (still in the store) is not shown.
    const transcript = this.opening ? EMPTY : state.transcript;
    if (transcript !== this.renderedTranscript || this.streamingEl === null) {
      this.renderedTranscript = transcript;
      this.log.replaceChildren();
      for (const line of transcript) {
        const speaker = line.speaker === "player" ? "You" : speakerName(line.speaker, state, npcName);
        this.log.append(lineElement(speaker, line.text, line.source === "player" ? "player" : "npc", line.source));
      }
      for (const notice of this.notices) {
        const el = document.createElement("div");
        el.className = "line notice";
        el.textContent = notice;
        this.log.append(el);
      }
      this.streamingEl = lineElement(npcName, "", "npc streaming", null);
      this.log.append(this.streamingEl);
    }
    const streaming = state.line !== null && !state.line.complete && active;
    if (streaming) {
      this.streamingEl.querySelector(".speaker")!.textContent = speakerName(state.line!.speaker, state, npcName);
      this.streamingEl.querySelector(".text")!.textContent = state.bubble;
    }
    this.streamingEl.classList.toggle("hidden", !streaming && !(this.opening !== null));
    if (this.opening && !streaming) this.streamingEl.querySelector(".text")!.textContent = "";
    if (state.status === "ended" && (previous === null || previous.status !== "ended")) {
      const el = document.createElement("div");
      el.className = "line notice";
      el.textContent = state.endReason === "error" ? `The conversation broke off: ${state.error ?? "error"}` : "(The conversation ends.)";
      this.log.append(el);
    }

    // Choices.
    if (state.choices !== this.renderedChoices) {
      this.renderedChoices = state.choices;
      this.choicesEl.replaceChildren();
      state.choices.forEach((choice, i) => {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "choice-button";
        button.dataset.index = String(choice.index);
        const key = document.createElement("span");
        key.className = "key";
        key.textContent = `${i + 1}.`;
        button.append(key, document.createTextNode(choice.text));
        button.addEventListener("click", () => this.chooseAt(i));
        this.choicesEl.append(button);
      });
    }

    // Free text.
    const wantsInput = state.status === "waiting_input";
    const wasShown = !this.inputRow.classList.contains("hidden");
    this.inputRow.classList.toggle("hidden", !wantsInput);
    if (wantsInput && (!wasShown || previous?.status !== "waiting_input")) {
      this.input.value = "";
      this.input.disabled = false;
      this.sendButton.disabled = false;
      this.input.placeholder = state.inputPrompt || "Say something…";
      this.updateCounter();
      this.input.focus();
    }
    if (!wantsInput && document.activeElement === this.input) this.input.blur();

    // Last, once the choices and the text box have taken their room: they shrink the log, and a scroll
    // made before that would leave the newest line below its fold.
    this.log.scrollTop = this.log.scrollHeight;
  }

  /** "N left" near the limit, and a plain message at it (the box silently stops taking characters there). */
  private updateCounter(): void {
    const left = MAX_INPUT_CHARS - this.input.value.length;
    this.counter.classList.toggle("hidden", left > COUNTER_FROM_LEFT);
    this.counter.classList.toggle("at-limit", left <= 0);
    this.counter.textContent = left <= 0 ? `limit reached (${MAX_INPUT_CHARS} characters)` : `${left} left`;
  }
}

function statusText(state: DialogueState, opening: boolean): string {
  if (opening) return "…";
  switch (state.status) {
    case "speaking":
      return state.line?.source === "generated" && !state.line.complete ? "thinking aloud…" : "speaking";
    case "waiting_choice":
      return "choose a reply (1–9)";
    case "waiting_input":
      return "your turn: type and press Enter";
    case "ended":
      return state.endReason === "cancelled" ? "ended (cancelled)" : state.endReason === "error" ? "ended (error)" : "ended";
    case "idle":
      return "";
  }
}

function speakerName(speaker: string, state: DialogueState, npcName: string): string {
  if (speaker === "player") return "You";
  if (state.conversation && speaker === state.conversation.characterId) return npcName;
  return speaker;
}

function lineElement(speaker: string, text: string, kind: string, source: string | null): HTMLElement {
  const el = document.createElement("div");
  el.className = `line ${kind}`;
  const s = document.createElement("span");
  s.className = "speaker";
  s.textContent = `${speaker}:`;
  const t = document.createElement("span");
  t.className = "text";
  t.textContent = text;
  el.append(s, t);
  if (source === "generated" || source === "fallback") {
    const tag = document.createElement("span");
    tag.className = "source";
    tag.textContent = source === "generated" ? "(generated)" : "(fallback)";
    el.append(tag);
  }
  return el;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
