// The village game's placement rules, in Node with the game's own three.js and rapier (no browser): the
// third-person camera against colliders (a house behind the player, a wall at the right shoulder, a beam
// overhead, the ground), speech bubbles against the page's panels and above their NPC's tallest part,
// and the inn's sign against the innkeeper's character data.

import { readFileSync } from "node:fs";
import * as THREE from "three";
import { beforeAll, describe, expect, it } from "vitest";
import { VILLAGE_NPCS } from "../../../samples/village/village-npcs.js";
import { intersects, keepOutShift, placeBubble, spriteScreenRect, type ScreenRect } from "../../../samples/village/game/bubble-layout.js";
import { bubbleAnchorHeight, figureHeight, makeNpcFigure } from "../../../samples/village/game/npcs.js";
import { VillagePhysics, initPhysics, type Vec3 } from "../../../samples/village/game/physics.js";
import { CAMERA_DISTANCE, CAMERA_RADIUS, EYE_HEIGHT, placeCamera } from "../../../samples/village/game/player.js";
import { INN_NAME, signLines } from "../../../samples/village/game/scene.js";

interface Box {
  min: Vec3;
  max: Vec3;
}

const box = (center: Vec3, half: Vec3): Box => ({
  min: { x: center.x - half.x, y: center.y - half.y, z: center.z - half.z },
  max: { x: center.x + half.x, y: center.y + half.y, z: center.z + half.z },
});

function distanceToBox(p: Vec3, b: Box): number {
  const dx = Math.max(b.min.x - p.x, 0, p.x - b.max.x);
  const dy = Math.max(b.min.y - p.y, 0, p.y - b.max.y);
  const dz = Math.max(b.min.z - p.z, 0, p.z - b.max.z);
  return Math.hypot(dx, dy, dz);
}

/** Whether the segment a→b passes through the box (slab test). */
function segmentHitsBox(a: Vec3, b: Vec3, box: Box): boolean {
  let t0 = 0;
  let t1 = 1;
  for (const axis of ["x", "y", "z"] as const) {
    const d = b[axis] - a[axis];
    if (Math.abs(d) < 1e-12) {
      if (a[axis] < box.min[axis] || a[axis] > box.max[axis]) return false;
      continue;
    }
    let near = (box.min[axis] - a[axis]) / d;
    let far = (box.max[axis] - a[axis]) / d;
    if (near > far) [near, far] = [far, near];
    t0 = Math.max(t0, near);
    t1 = Math.min(t1, far);
    if (t0 > t1) return false;
  }
  return true;
}

/** A world with the player standing at (x, z) and the given boxes (fixed colliders). */
function world(player: { x: number; z: number }, boxes: Box[]): VillagePhysics {
  const physics = new VillagePhysics(player);
  for (const b of boxes) {
    const center = { x: (b.min.x + b.max.x) / 2, y: (b.min.y + b.max.y) / 2, z: (b.min.z + b.max.z) / 2 };
    physics.addBox(center, { x: (b.max.x - b.min.x) / 2, y: (b.max.y - b.min.y) / 2, z: (b.max.z - b.min.z) / 2 });
  }
  physics.step(); // scene queries see colliders after a step
  return physics;
}

/** The player's eyes (feet on the ground at y = 0). */
const eyeAt = (x: number, z: number): Vec3 => ({ x, y: EYE_HEIGHT, z });

describe("placeCamera (third-person camera against colliders)", () => {
  beforeAll(() => initPhysics());

  it("rests at its full distance behind the player in the open", () => {
    const physics = world({ x: 0, z: 0 }, []);
    const placed = placeCamera(physics, eyeAt(0, 0), 0, 0.32);
    expect(placed.distance).toBeCloseTo(CAMERA_DISTANCE, 5);
    // yaw 0 looks toward -Z: the camera sits behind, at +Z, and above the eyes (positive pitch).
    expect(placed.position.z).toBeGreaterThan(4);
    expect(placed.position.y).toBeGreaterThan(EYE_HEIGHT);
  });

  it("stops in front of a house behind the player instead of going into it", () => {
    // A house 2 m behind the player (toward +Z), taller than the camera's resting height.
    const house = box({ x: 0, y: 2.5, z: 5 }, { x: 3, y: 2.5, z: 3 });
    const physics = world({ x: 0, z: 0 }, [house]);
    for (const yaw of [-0.4, 0, 0.3]) {
      for (const pitch of [-0.3, 0, 0.32, 0.9]) {
        const placed = placeCamera(physics, eyeAt(0, 0), yaw, pitch);
        expect(placed.distance, `yaw ${yaw} pitch ${pitch}`).toBeLessThan(CAMERA_DISTANCE);
        expect(distanceToBox(placed.position, house), `yaw ${yaw} pitch ${pitch}`).toBeGreaterThanOrEqual(CAMERA_RADIUS - 1e-3);
        expect(segmentHitsBox(placed.target, placed.position, house)).toBe(false);
      }
    }
  });

  it("keeps its look-over-the-shoulder point out of a wall at the player's right", () => {
    // The player stands with a wall 0.37 m to the right (+X when looking toward -Z): the shoulder point,
    // 0.45 m to the right, would be inside it.
    const wall = box({ x: 0.37 + 1, y: 2, z: 0 }, { x: 1, y: 2, z: 6 });
    const physics = world({ x: 0, z: 0 }, [wall]);
    const placed = placeCamera(physics, eyeAt(0, 0), 0, 0.32);
    expect(distanceToBox(placed.target, wall)).toBeGreaterThanOrEqual(CAMERA_RADIUS - 1e-3);
    expect(distanceToBox(placed.position, wall)).toBeGreaterThanOrEqual(CAMERA_RADIUS - 1e-3);
    expect(placed.distance).toBeCloseTo(CAMERA_DISTANCE, 5); // nothing behind: it still backs off fully
  });

  it("stops under a beam overhead behind the player (a gate's crossbeam)", () => {
    // Across the way behind the player at 3.1–3.5 m, right where the resting camera would be.
    const beam = box({ x: 0, y: 3.3, z: 4.85 }, { x: 2.7, y: 0.175, z: 0.225 });
    const physics = world({ x: 0, z: 0 }, [beam]);
    const open = placeCamera(world({ x: 0, z: 0 }, []), eyeAt(0, 0), 0, 0.32);
    expect(segmentHitsBox(open.target, open.position, beam), "without the beam's collider the camera's path crosses it").toBe(true);
    const placed = placeCamera(physics, eyeAt(0, 0), 0, 0.32);
    expect(segmentHitsBox(placed.target, placed.position, beam)).toBe(false);
    expect(distanceToBox(placed.position, beam)).toBeGreaterThanOrEqual(CAMERA_RADIUS - 1e-3);
  });

  it("stays above the ground when looking up from low", () => {
    const physics = world({ x: 0, z: 0 }, []);
    const placed = placeCamera(physics, eyeAt(0, 0), 0, -0.35);
    expect(placed.position.y).toBeGreaterThanOrEqual(CAMERA_RADIUS - 1e-3);
  });
});

// ---------------------------------------------------------------------------------------------------

const VIEWPORT = { width: 1280, height: 800 };
const OVERLAY: ScreenRect = { left: 10, top: 10, right: 454, bottom: 230 };
const HELP: ScreenRect = { left: 900, top: 10, right: 1270, bottom: 36 };

describe("speech bubbles and the page's panels", () => {
  it("leaves a bubble alone when no panel is over it", () => {
    expect(keepOutShift({ left: 600, top: 300, right: 800, bottom: 400 }, [OVERLAY, HELP], VIEWPORT)).toEqual({ dx: 0, dy: 0 });
  });

  it("moves a bubble under the overlay the shortest way clear of it, on screen", () => {
    const under: ScreenRect = { left: 205, top: 160, right: 445, bottom: 310 };
    const { dx, dy } = keepOutShift(under, [OVERLAY, HELP], VIEWPORT);
    const moved = { left: under.left + dx, top: under.top + dy, right: under.right + dx, bottom: under.bottom + dy };
    expect(intersects(moved, OVERLAY)).toBe(false);
    expect(intersects(moved, HELP)).toBe(false);
    expect(moved.left).toBeGreaterThanOrEqual(0);
    expect(moved.top).toBeGreaterThanOrEqual(0);
    // Down by 78 px beats right by 257 px.
    expect({ dx, dy }).toEqual({ dx: 0, dy: OVERLAY.bottom + 8 - under.top });
  });

  it("clears two panels at once when one move alone would land on the other", () => {
    const a: ScreenRect = { left: 0, top: 0, right: 300, bottom: 200 };
    const b: ScreenRect = { left: 0, top: 200, right: 300, bottom: 400 }; // right under a
    const bubble: ScreenRect = { left: 100, top: 150, right: 250, bottom: 260 };
    const { dx, dy } = keepOutShift(bubble, [a, b], VIEWPORT);
    const moved = { left: bubble.left + dx, top: bubble.top + dy, right: bubble.right + dx, bottom: bubble.bottom + dy };
    expect(intersects(moved, a)).toBe(false);
    expect(intersects(moved, b)).toBe(false);
  });

  it("measures a sprite where three.js draws it and draws it clear of the overlay", () => {
    const camera = new THREE.PerspectiveCamera(60, VIEWPORT.width / VIEWPORT.height, 0.1, 100);
    camera.position.set(0, 0, 0);
    camera.updateMatrixWorld();
    const sprite = new THREE.Sprite(new THREE.SpriteMaterial());
    sprite.center.set(0.5, 0);
    sprite.scale.set(2, 1, 1);
    // Up and to the left of the view's middle, 6 m ahead: under the overlay.
    sprite.position.set(-2.8, 1.2, -6);
    const anchor = sprite.position.clone().project(camera);
    const rect = spriteScreenRect(sprite, camera, VIEWPORT)!;
    expect(rect.bottom).toBeCloseTo(((1 - anchor.y) / 2) * VIEWPORT.height, 3);
    expect((rect.left + rect.right) / 2).toBeCloseTo(((anchor.x + 1) / 2) * VIEWPORT.width, 3);
    expect(intersects(rect, OVERLAY)).toBe(true);

    const placed = placeBubble(sprite, camera, VIEWPORT, [OVERLAY, HELP])!;
    expect(placed.home).toEqual(rect);
    expect(intersects(placed.drawn, OVERLAY)).toBe(false);
    // The sprite's anchor moved so three.js now draws it where placeBubble says.
    const drawn = spriteScreenRect(sprite, camera, VIEWPORT)!;
    for (const side of ["left", "top", "right", "bottom"] as const) expect(drawn[side]).toBeCloseTo(placed.drawn[side], 3);

    // Back in the open, the next frame hangs it from its anchor again.
    sprite.position.set(0, -1, -6);
    const open = placeBubble(sprite, camera, VIEWPORT, [OVERLAY, HELP])!;
    expect(open.drawn).toEqual(open.home);
    expect(sprite.center.toArray()).toEqual([0.5, 0]);
  });

  it("hangs every NPC's bubble above the tallest part of its figure (the guard's spear too)", () => {
    for (const info of VILLAGE_NPCS) {
      const figure = makeNpcFigure(info);
      const top = figureHeight(figure);
      expect(top, info.id).toBeGreaterThan(1.5);
      expect(bubbleAnchorHeight(figure), info.id).toBeGreaterThan(top + 0.1);
    }
    const guard = makeNpcFigure(VILLAGE_NPCS.find((n) => n.id === "guard")!);
    expect(figureHeight(guard), "the spear's tip is above the head").toBeGreaterThan(2.4);
  });
});

describe("the inn's sign", () => {
  it("shows the inn the innkeeper talks about", () => {
    const innkeeper = JSON.parse(readFileSync(new URL("../../../samples/village/characters/innkeeper.json", import.meta.url), "utf8")) as {
      description: string;
      greeting: string;
    };
    const name = INN_NAME.replace(/^The /, "");
    expect(innkeeper.description).toContain(name);
    expect(innkeeper.greeting).toContain(name);
    expect(signLines(INN_NAME)).toEqual(["The Drowsy", "Badger"]);
    expect(signLines(INN_NAME).join(" ")).toBe(INN_NAME);
  });
});
