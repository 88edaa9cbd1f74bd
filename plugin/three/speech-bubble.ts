// A speech bubble over an NPC's head: a three.js Sprite (always facing the camera) showing word-wrapped
// text in a rounded box with a tail, growing as a generated line streams in and fading out a while after
// the text stops changing.
//
//   const bubble = new SpeechBubble();          // draws on a canvas (browser, or OffscreenCanvas in a worker)
//   npc.add(bubble.object); bubble.object.position.y = 2.1;
//   bubble.setText("Well met,"); bubble.append(" traveller.");
//   // each frame:
//   bubble.update(dt, camera);
//
// The drawing goes through a BubbleRenderer: the canvas one draws into the top-left corner of a fixed-size
// surface and the sprite shows that corner only (texture repeat/offset), so the GPU texture never changes
// size as the bubble grows. Anything else that can draw text into a texture can stand in for it.

import { CanvasTexture, SRGBColorSpace, Sprite, SpriteMaterial, Texture, Vector3, type Object3D } from "three";
// Bundled into the game page: the errors module alone (runtime/index.js loads Node modules).
import { InvalidArgumentError } from "../../runtime/errors.js";

export interface BubbleStyle {
  /** CSS font family. */
  fontFamily: string;
  /** Font size in pixels of the drawing surface. */
  fontSize: number;
  lineHeight: number;
  /** Space between the text and the border, in pixels. */
  padding: number;
  cornerRadius: number;
  /** Height of the tail under the box, pointing at the speaker. */
  tailHeight: number;
  tailWidth: number;
  borderWidth: number;
  textColor: string;
  backgroundColor: string;
  borderColor: string;
  /** Lines are wrapped at this width in pixels. */
  maxWidth: number;
  /** A longer text shows its last lines, the first of them starting with "…" (a streaming line scrolls). */
  maxLines: number;
}

export const DEFAULT_BUBBLE_STYLE: Readonly<BubbleStyle> = {
  fontFamily: "system-ui, sans-serif",
  fontSize: 22,
  lineHeight: 28,
  padding: 14,
  cornerRadius: 14,
  tailHeight: 16,
  tailWidth: 22,
  borderWidth: 3,
  textColor: "#1d1d1f",
  backgroundColor: "rgba(255, 255, 255, 0.94)",
  borderColor: "#2b2b2e",
  maxWidth: 320,
  maxLines: 5,
};

/** Where and what to draw, in pixels of the drawing surface, from its top-left corner. */
export interface BubbleLayout {
  lines: string[];
  /** Width of the box, border included. */
  width: number;
  /** Height of the box, border included, without the tail. */
  boxHeight: number;
  /** Box and tail. */
  height: number;
  style: BubbleStyle;
}

/** Draws bubbles into a texture. The bubble lays the text out; the renderer paints it. */
export interface BubbleRenderer {
  /** The texture the sprite shows; its image is the drawing surface. */
  readonly texture: Texture;
  /** Size of the drawing surface in pixels: a bubble never grows past it. */
  readonly surfaceWidth: number;
  readonly surfaceHeight: number;
  /** Width of `text` in pixels in the style's font. */
  measureText(text: string, style: BubbleStyle): number;
  /** Clears the surface and draws the bubble in its top-left corner; marks the texture for upload. */
  draw(layout: BubbleLayout): void;
  dispose(): void;
}

// ---------------------------------------------------------------------------------------------------
// Canvas renderer. The types below are the part of the DOM canvas API it uses, so this file compiles
// without the DOM library and any canvas-like object (node-canvas, skia-canvas) can be passed in.

export interface Canvas2DLike {
  font: string;
  fillStyle: unknown;
  strokeStyle: unknown;
  lineWidth: number;
  lineJoin: string;
  textBaseline: string;
  textAlign: string;
  clearRect(x: number, y: number, w: number, h: number): void;
  beginPath(): void;
  closePath(): void;
  moveTo(x: number, y: number): void;
  lineTo(x: number, y: number): void;
  arcTo(x1: number, y1: number, x2: number, y2: number, radius: number): void;
  fill(): void;
  stroke(): void;
  fillText(text: string, x: number, y: number): void;
  measureText(text: string): { width: number };
}

export interface CanvasLike {
  width: number;
  height: number;
  getContext(contextId: "2d"): Canvas2DLike | null;
}

export interface CanvasBubbleRendererOptions {
  /** Drawn on instead of a new canvas. */
  canvas?: CanvasLike;
  /** Surface size in pixels (default 512 × 256). */
  width?: number;
  height?: number;
}

export function createCanvasBubbleRenderer(options: CanvasBubbleRendererOptions = {}): BubbleRenderer {
  const width = options.width ?? 512;
  const height = options.height ?? 256;
  const canvas = options.canvas ?? newCanvas(width, height);
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d");
  if (ctx === null) throw new InvalidArgumentError("the canvas has no 2d context");
  const texture = new CanvasTexture<CanvasLike>(canvas);
  texture.colorSpace = SRGBColorSpace;

  const font = (style: BubbleStyle) => `${style.fontSize}px ${style.fontFamily}`;

  return {
    texture,
    surfaceWidth: width,
    surfaceHeight: height,
    measureText(text, style) {
      ctx.font = font(style);
      return ctx.measureText(text).width;
    },
    draw(layout) {
      const s = layout.style;
      ctx.clearRect(0, 0, width, height);
      const b = s.borderWidth / 2; // strokes are centred on the path
      traceBubble(ctx, b, b, layout.width - 2 * b, layout.boxHeight - 2 * b, s);
      ctx.fillStyle = s.backgroundColor;
      ctx.fill();
      if (s.borderWidth > 0) {
        ctx.lineWidth = s.borderWidth;
        ctx.lineJoin = "round";
        ctx.strokeStyle = s.borderColor;
        ctx.stroke();
      }
      ctx.font = font(s);
      ctx.fillStyle = s.textColor;
      ctx.textBaseline = "middle";
      ctx.textAlign = "left";
      const x = s.borderWidth + s.padding;
      const y = s.borderWidth + s.padding + s.lineHeight / 2;
      layout.lines.forEach((line, i) => ctx.fillText(line, x, y + i * s.lineHeight));
      texture.needsUpdate = true;
    },
    dispose() {
      texture.dispose();
    },
  };
}

function newCanvas(width: number, height: number): CanvasLike {
  const g = globalThis as {
    document?: { createElement(tag: "canvas"): CanvasLike };
    OffscreenCanvas?: new (width: number, height: number) => CanvasLike;
  };
  if (g.document) return g.document.createElement("canvas");
  if (g.OffscreenCanvas) return new g.OffscreenCanvas(width, height);
  throw new InvalidArgumentError("no canvas to draw speech bubbles on (no DOM or OffscreenCanvas): pass a canvas or a BubbleRenderer");
}

/** A rounded box with a tail at the bottom centre; (x, y) is the box's top-left corner. */
function traceBubble(ctx: Canvas2DLike, x: number, y: number, w: number, h: number, s: BubbleStyle): void {
  const r = Math.max(0, Math.min(s.cornerRadius, w / 2, h / 2));
  const cx = x + w / 2;
  const half = Math.min(s.tailWidth / 2, w / 2 - r);
  ctx.beginPath();
  ctx.moveTo(x + r, y);
  ctx.arcTo(x + w, y, x + w, y + h, r);
  ctx.arcTo(x + w, y + h, x, y + h, r);
  if (s.tailHeight > 0 && half > 0) {
    ctx.lineTo(cx + half, y + h);
    ctx.lineTo(cx, y + h + s.tailHeight);
    ctx.lineTo(cx - half, y + h);
  }
  ctx.arcTo(x, y + h, x, y, r);
  ctx.arcTo(x, y, x + w, y, r);
  ctx.closePath();
}

// ---------------------------------------------------------------------------------------------------
// Layout

/**
 * Splits `text` into lines no wider than `maxWidth`: at spaces, at "\n", and inside words too long for a
 * line. Runs of whitespace count as one space.
 */
export function wrapText(text: string, maxWidth: number, measure: (text: string) => number): string[] {
  const lines: string[] = [];
  for (const paragraph of text.split("\n")) {
    let line = "";
    for (const word of paragraph.split(/\s+/).filter((w) => w !== "")) {
      const candidate = line === "" ? word : `${line} ${word}`;
      if (measure(candidate) <= maxWidth) {
        line = candidate;
        continue;
      }
      if (line !== "") lines.push(line);
      // The word alone: break it by characters if it does not fit either.
      let rest = word;
      while (measure(rest) > maxWidth && rest.length > 1) {
        let cut = 1;
        const chars = Array.from(rest);
        while (cut < chars.length && measure(chars.slice(0, cut + 1).join("")) <= maxWidth) cut++;
        lines.push(chars.slice(0, cut).join(""));
        rest = chars.slice(cut).join("");
      }
      line = rest;
    }
    lines.push(line);
  }
  // Drop empty lines at the ends (a trailing "\n" while streaming), keep those in between.
  while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  while (lines.length > 0 && lines[0] === "") lines.shift();
  return lines;
}

// ---------------------------------------------------------------------------------------------------
// The bubble

export interface SpeechBubbleOptions {
  /** Draws the bubble; default: a canvas renderer (throws where there is no canvas). */
  renderer?: BubbleRenderer;
  style?: Partial<BubbleStyle>;
  /** World units per pixel of the drawing surface (default 1/200: a 320 px line is 1.6 units wide). */
  pixelSize?: number;
  /** Seconds the text stays after it last changed, before fading (default 2.5)… */
  holdSeconds?: number;
  /** …plus the time to read it at this many characters per second (default 18). */
  readingSpeed?: number;
  /** Seconds the fade-out takes (default 0.6). */
  fadeSeconds?: number;
  /**
   * Keeps a constant size on screen: the sprite is scaled by distance-to-camera / `reference`, clamped to
   * [min, max]. Needs the camera in `update`. Off by default (the bubble shrinks with distance).
   */
  distanceScaling?: { reference: number; min?: number; max?: number };
}

export class SpeechBubble {
  /** Add it to the scene graph (usually a child of the NPC, above its head). Bottom-centre anchored. */
  readonly object: Sprite;
  readonly renderer: BubbleRenderer;
  readonly style: Readonly<BubbleStyle>;
  /** While true the bubble does not fade (a conversation is showing it); the fade starts once it is false. */
  sticky = false;

  private readonly material: SpriteMaterial;
  private readonly pixelSize: number;
  private readonly holdSeconds: number;
  private readonly readingSpeed: number;
  private readonly fadeSeconds: number;
  private readonly distanceScaling: SpeechBubbleOptions["distanceScaling"];
  private readonly baseScale = new Vector3(1, 1, 1);
  /** The last distance-scaling factor (1 without distance scaling). */
  private distanceFactor = 1;
  private currentText = "";
  private currentLines: string[] = [];
  /** Seconds since the text last changed (or since `sticky` was last seen true). */
  private age = 0;
  private disposed = false;

  constructor(options: SpeechBubbleOptions = {}) {
    this.renderer = options.renderer ?? createCanvasBubbleRenderer();
    this.style = { ...DEFAULT_BUBBLE_STYLE, ...options.style };
    this.pixelSize = options.pixelSize ?? 1 / 200;
    this.holdSeconds = options.holdSeconds ?? 2.5;
    this.readingSpeed = options.readingSpeed ?? 18;
    this.fadeSeconds = options.fadeSeconds ?? 0.6;
    this.distanceScaling = options.distanceScaling;
    this.material = new SpriteMaterial({
      map: this.renderer.texture,
      transparent: true,
      depthWrite: false,
    });
    this.object = new Sprite(this.material);
    this.object.name = "SpeechBubble";
    this.object.center.set(0.5, 0);
    this.object.renderOrder = 10;
    this.object.visible = false;
  }

  get text(): string {
    return this.currentText;
  }

  /** The wrapped lines on show. */
  get lines(): readonly string[] {
    return this.currentLines;
  }

  get visible(): boolean {
    return this.object.visible;
  }

  get opacity(): number {
    return this.material.opacity;
  }

  /** Replaces the text (shows the bubble at full opacity; an empty text hides it). */
  setText(text: string): void {
    if (this.disposed) return;
    if (text === this.currentText && (text === "" || this.object.visible)) return;
    this.currentText = text;
    this.age = 0;
    this.material.opacity = 1;
    if (text.trim() === "") {
      this.currentLines = [];
      this.object.visible = false;
      return;
    }
    this.redraw();
    this.object.visible = true;
  }

  /** Adds a streamed chunk. */
  append(chunk: string): void {
    if (chunk !== "") this.setText(this.currentText + chunk);
  }

  clear(): void {
    this.setText("");
  }

  /** Advances the fade by `dt` seconds; with a camera, applies distance scaling. */
  update(dt: number, camera?: Object3D): void {
    if (this.disposed || !this.object.visible) return;
    if (this.sticky) {
      this.age = 0;
    } else {
      this.age += dt;
      const delay = this.holdSeconds + this.currentText.length / this.readingSpeed;
      const fading = this.age - delay;
      if (fading >= this.fadeSeconds) {
        this.material.opacity = 0;
        this.object.visible = false;
      } else if (fading > 0) {
        this.material.opacity = 1 - fading / this.fadeSeconds;
      }
    }
    this.applyScale(camera);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.object.removeFromParent();
    this.material.dispose();
    this.renderer.dispose();
  }

  private redraw(): void {
    const s = this.style;
    const r = this.renderer;
    const inset = s.borderWidth + s.padding;
    const maxWidth = Math.max(1, Math.min(s.maxWidth, r.surfaceWidth - 2 * inset));
    const fitLines = Math.floor((r.surfaceHeight - 2 * inset - s.tailHeight) / s.lineHeight);
    const maxLines = Math.max(1, Math.min(s.maxLines, fitLines));
    const measure = (t: string) => r.measureText(t, s);

    let lines = wrapText(this.currentText, maxWidth, measure);
    if (lines.length > maxLines) {
      lines = lines.slice(lines.length - maxLines);
      lines[0] = `…${lines[0]}`;
    }
    const textWidth = Math.min(maxWidth + measure("…"), Math.max(0, ...lines.map(measure)));
    const width = Math.min(r.surfaceWidth, Math.ceil(Math.max(textWidth + 2 * inset, 2 * s.cornerRadius + s.tailWidth + s.borderWidth)));
    const boxHeight = Math.ceil(lines.length * s.lineHeight + 2 * inset);
    const height = Math.min(r.surfaceHeight, boxHeight + s.tailHeight);
    this.currentLines = lines;
    r.draw({ lines, width, boxHeight, height, style: s });

    // Show only the drawn corner of the surface (flipY: the surface's top row is v = 1).
    const u = width / r.surfaceWidth;
    const v = height / r.surfaceHeight;
    r.texture.repeat.set(u, v);
    r.texture.offset.set(0, 1 - v);
    this.baseScale.set(width * this.pixelSize, height * this.pixelSize, 1);
    this.applyScale(undefined);
  }

  private applyScale(camera: Object3D | undefined): void {
    const scaling = this.distanceScaling;
    if (scaling && camera) {
      camera.getWorldPosition(cameraPosition);
      const distance = this.object.getWorldPosition(bubblePosition).distanceTo(cameraPosition);
      this.distanceFactor = Math.min(scaling.max ?? Infinity, Math.max(scaling.min ?? 0, distance / scaling.reference));
    }
    this.object.scale.copy(this.baseScale).multiplyScalar(this.distanceFactor);
  }
}

const cameraPosition = new Vector3();
const bubblePosition = new Vector3();
