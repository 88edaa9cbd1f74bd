/// <reference lib="dom" />
// The performance overlay: FPS and frame time measured here, frame by frame (averaged over half-second
// windows), and the model's speed — tokens per second and time to first token — from the host's `stats`
// events after each generated line; plus the note on which model runs on which device (two lines of it;
// a click on it shows the rest, another folds it again).

export interface OverlayStats {
  fps: number | null;
  frameMs: number | null;
  /** The slowest frame of the last window. */
  worstFrameMs: number | null;
  tokensPerSecond: number | null;
  firstTokenMs: number | null;
  frames: number;
}

const WINDOW_MS = 500;

export class Overlay {
  private readonly fpsEl: HTMLElement;
  private readonly frameEl: HTMLElement;
  private readonly tpsEl: HTMLElement;
  private readonly ttftEl: HTMLElement;
  private readonly noteEl: HTMLElement;
  private windowStart: number | null = null;
  private windowFrames = 0;
  private windowWorst = 0;
  private last: number | null = null;
  private readonly current: OverlayStats = {
    fps: null,
    frameMs: null,
    worstFrameMs: null,
    tokensPerSecond: null,
    firstTokenMs: null,
    frames: 0,
  };

  constructor(root: Document = document) {
    const el = (id: string) => {
      const e = root.getElementById(id);
      if (!e) throw new Error(`the page has no #${id}`);
      return e;
    };
    this.fpsEl = el("stat-fps");
    this.frameEl = el("stat-frame");
    this.tpsEl = el("stat-tps");
    this.ttftEl = el("stat-ttft");
    this.noteEl = el("model-note");
    this.noteEl.addEventListener("click", () => this.noteEl.classList.toggle("expanded"));
  }

  /** Call once per rendered frame with the rAF timestamp (milliseconds). */
  frame(now: number): void {
    this.current.frames++;
    if (this.last !== null) this.windowWorst = Math.max(this.windowWorst, now - this.last);
    this.last = now;
    if (this.windowStart === null) {
      this.windowStart = now;
      this.windowFrames = 0;
      return;
    }
    this.windowFrames++;
    const elapsed = now - this.windowStart;
    if (elapsed < WINDOW_MS) return;
    this.current.fps = (this.windowFrames * 1000) / elapsed;
    this.current.frameMs = elapsed / this.windowFrames;
    this.current.worstFrameMs = this.windowWorst;
    this.fpsEl.textContent = this.current.fps.toFixed(0);
    this.frameEl.textContent = `${this.current.frameMs.toFixed(1)} ms (max ${this.windowWorst.toFixed(0)})`;
    this.windowStart = now;
    this.windowFrames = 0;
    this.windowWorst = 0;
  }

  /** A host `stats` event: null values leave the last measurement up. */
  setGeneration(tokensPerSecond: number | null, firstTokenMs: number | null): void {
    if (tokensPerSecond !== null && Number.isFinite(tokensPerSecond)) {
      this.current.tokensPerSecond = tokensPerSecond;
      this.tpsEl.textContent = tokensPerSecond.toFixed(1);
    }
    if (firstTokenMs !== null && Number.isFinite(firstTokenMs)) {
      this.current.firstTokenMs = firstTokenMs;
      this.ttftEl.textContent = `${firstTokenMs.toFixed(0)} ms`;
    }
  }

  setModelNote(text: string): void {
    this.noteEl.textContent = text;
    this.noteEl.title = text;
  }

  stats(): OverlayStats {
    return { ...this.current };
  }
}
