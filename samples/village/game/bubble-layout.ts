/// <reference lib="dom" />
// Where speech bubbles sit on screen. A bubble is a sprite in the 3D scene, so the camera decides where it
// lands; the page's fixed panels (the performance overlay with the model note, the key help) sit on top of
// the canvas and would cover it. Each frame the bubble's screen rectangle is worked out and, when it meets
// one of those panels, the sprite's anchor (`center`) is moved so the bubble slides clear of it by the
// shortest way that keeps it on screen. The bubble stays attached to its NPC in the scene; only where it
// is drawn relative to its anchor point changes.

import * as THREE from "three";

/** A rectangle in CSS pixels of the viewport (y grows downward). */
export interface ScreenRect {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

export interface Viewport {
  width: number;
  height: number;
}

/** Where bubbles hang from: the middle of their bottom edge (the tail's tip), as the plugin sets it up. */
const ANCHOR = new THREE.Vector2(0.5, 0);
/** Space left between a moved bubble and the panel it avoids, in CSS pixels. */
const GAP = 8;

export function intersects(a: ScreenRect, b: ScreenRect): boolean {
  return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
}

function shifted(r: ScreenRect, dx: number, dy: number): ScreenRect {
  return { left: r.left + dx, top: r.top + dy, right: r.right + dx, bottom: r.bottom + dy };
}

function inside(r: ScreenRect, viewport: Viewport): boolean {
  return r.left >= 0 && r.top >= 0 && r.right <= viewport.width && r.bottom <= viewport.height;
}

/**
 * The smallest move (dx, dy), in CSS pixels, that takes `rect` clear of every rectangle in `keepOut`,
 * preferring moves that keep it inside the viewport; (0, 0) when it is clear already. Candidates are the
 * moves that put one edge just past a panel's edge, alone or one horizontal with one vertical, so two
 * panels side by side are cleared together.
 */
export function keepOutShift(rect: ScreenRect, keepOut: readonly ScreenRect[], viewport: Viewport): { dx: number; dy: number } {
  const blockers = keepOut.filter((k) => k.right > k.left && k.bottom > k.top);
  if (!blockers.some((k) => intersects(rect, k))) return { dx: 0, dy: 0 };
  const xs = [0];
  const ys = [0];
  for (const k of blockers) {
    xs.push(k.right + GAP - rect.left, k.left - GAP - rect.right);
    ys.push(k.bottom + GAP - rect.top, k.top - GAP - rect.bottom);
  }
  let best: { dx: number; dy: number; cost: number } | null = null;
  for (const dx of xs) {
    for (const dy of ys) {
      const moved = shifted(rect, dx, dy);
      if (blockers.some((k) => intersects(moved, k))) continue;
      // Off-screen moves only when nothing else works: a bubble half off the screen is still better than
      // one hidden under a panel.
      const cost = Math.hypot(dx, dy) + (inside(moved, viewport) ? 0 : 1e6);
      if (best === null || cost < best.cost) best = { dx, dy, cost };
    }
  }
  return best ? { dx: best.dx, dy: best.dy } : { dx: 0, dy: 0 };
}

const mv = new THREE.Vector3();
const corner = new THREE.Vector3();
const worldScale = new THREE.Vector3();

/**
 * The screen rectangle a sprite covers, in CSS pixels, the way three.js draws it: a camera-facing quad of
 * the sprite's world scale, placed by its `center`, at the depth of its position. Null when the sprite is
 * behind the camera.
 */
export function spriteScreenRect(sprite: THREE.Sprite, camera: THREE.Camera, viewport: Viewport): ScreenRect | null {
  sprite.updateWorldMatrix(true, false);
  camera.updateMatrixWorld();
  mv.setFromMatrixPosition(sprite.matrixWorld).applyMatrix4(camera.matrixWorldInverse);
  if (mv.z >= 0) return null;
  worldScale.setFromMatrixScale(sprite.matrixWorld);
  const c = sprite.center;
  const xs = [(0 - c.x) * worldScale.x, (1 - c.x) * worldScale.x];
  const ys = [(0 - c.y) * worldScale.y, (1 - c.y) * worldScale.y];
  const px: number[] = [];
  const py: number[] = [];
  for (const x of xs) {
    for (const y of ys) {
      corner.set(mv.x + x, mv.y + y, mv.z).applyMatrix4(camera.projectionMatrix);
      px.push(((corner.x + 1) / 2) * viewport.width);
      py.push(((1 - corner.y) / 2) * viewport.height);
    }
  }
  return { left: Math.min(...px), top: Math.min(...py), right: Math.max(...px), bottom: Math.max(...py) };
}

/**
 * Puts the bubble back on its anchor, then, if it would be drawn under a panel in `keepOut`, moves its
 * anchor so it is drawn clear of them. Returns where it hangs from its anchor (`home`) and where it is
 * drawn (`drawn`), or null when it is behind the camera.
 */
export function placeBubble(
  sprite: THREE.Sprite,
  camera: THREE.Camera,
  viewport: Viewport,
  keepOut: readonly ScreenRect[],
): { home: ScreenRect; drawn: ScreenRect } | null {
  sprite.center.copy(ANCHOR);
  const home = spriteScreenRect(sprite, camera, viewport);
  if (home === null) return null;
  const { dx, dy } = keepOutShift(home, keepOut, viewport);
  const width = home.right - home.left;
  const height = home.bottom - home.top;
  if ((dx === 0 && dy === 0) || width <= 0 || height <= 0) return { home, drawn: home };
  // The quad spans (0 - center) … (1 - center) of its size: raising center.x by t moves it left by t
  // widths, raising center.y moves it down (screen y grows downward).
  sprite.center.set(ANCHOR.x - dx / width, ANCHOR.y + dy / height);
  return { home, drawn: shifted(home, dx, dy) };
}

/** The viewport rectangle an element covers; null when it is not shown. */
export function elementRect(element: Element | null): ScreenRect | null {
  if (!element) return null;
  const r = element.getBoundingClientRect();
  if (r.width === 0 || r.height === 0) return null;
  return { left: r.left, top: r.top, right: r.right, bottom: r.bottom };
}
