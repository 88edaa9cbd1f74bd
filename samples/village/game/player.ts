/// <reference lib="dom" />
// The player: a figure on rapier's kinematic character controller, walked with WASD or the arrow keys
// (Shift runs), looked around with the mouse (click the canvas to capture it; dragging works without
// capture), and a third-person camera behind the shoulder that pulls in rather than go through walls
// (placeCamera: a ball that holds the camera's near plane is swept out from the player's eyes).
// `walkTo` drives the same movement toward a point (tests and scripted moves); `teleport` jumps.

import * as THREE from "three";
import { CAPSULE_CENTER, type Vec3, type VillagePhysics } from "./physics.js";

const WALK_SPEED = 4.2;
const RUN_SPEED = 7;
export const CAMERA_DISTANCE = 5.2;
export const EYE_HEIGHT = 1.55;
/** How far right of the eyes the camera looks past (over the right shoulder). */
const SHOULDER_OFFSET = 0.45;
/**
 * The room the camera keeps from walls: more than the distance from its centre to the corners of its near
 * plane (0.1 m away, 60° tall, up to 16:9 wide: about 0.15 m), so the near plane never reaches into one.
 */
export const CAMERA_RADIUS = 0.2;
/** Closer than this to the player's head, the camera would be inside the figure: it is hidden instead. */
const HIDE_FIGURE_WITHIN = 0.6;
const MIN_PITCH = -0.35;
const MAX_PITCH = 1.2;

/** Key codes that move the player (KeyboardEvent.code). */
const MOVE_KEYS: Record<string, [number, number]> = {
  KeyW: [0, 1],
  ArrowUp: [0, 1],
  KeyS: [0, -1],
  ArrowDown: [0, -1],
  KeyA: [-1, 0],
  ArrowLeft: [-1, 0],
  KeyD: [1, 0],
  ArrowRight: [1, 0],
};

export interface WalkResult {
  arrived: boolean;
  position: { x: number; y: number; z: number };
}

interface WalkTarget {
  x: number;
  z: number;
  tolerance: number;
  /** Seconds of simulated time left. */
  timeLeft: number;
  /** Progress check: where it was and how long ago. */
  checkX: number;
  checkZ: number;
  sinceCheck: number;
  resolve(result: WalkResult): void;
}

/** Whether a key event belongs to a text field (typing must not move the player). */
export function isTypingTarget(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT";
}

export class Player {
  readonly figure: THREE.Group;
  /** Camera yaw: 0 looks toward -Z. */
  yaw = 0;
  pitch = 0.32;
  /** False while a conversation runs: the player stands still and the keys go to the dialogue. */
  movementEnabled = true;
  /** Where the camera was put last. */
  placement!: CameraPlacement;

  private readonly keys = new Set<string>();
  private walk: WalkTarget | null = null;
  private dragging = false;
  private figureYaw = 0;
  private readonly disposers: Array<() => void> = [];
  private readonly camTarget = new THREE.Vector3();
  private speed = 0;

  constructor(
    private readonly physics: VillagePhysics,
    readonly camera: THREE.PerspectiveCamera,
    private readonly canvas: HTMLCanvasElement,
    scene: THREE.Scene,
  ) {
    this.figure = makePlayerFigure();
    scene.add(this.figure);
    this.listen();
    this.syncFigure(1);
    this.updateCamera();
  }

  /** The player's feet. */
  position(): { x: number; y: number; z: number } {
    const p = this.physics.playerPosition();
    return { x: p.x, y: p.y - CAPSULE_CENTER, z: p.z };
  }

  /** The capsule's centre (what talk sensors and NPCs look at). */
  center(): { x: number; y: number; z: number } {
    return this.physics.playerPosition();
  }

  /** Puts the player at (x, z); with `yaw`, turns the camera (0 looks toward -Z). Cancels a walkTo. */
  teleport(x: number, z: number, yaw?: number): void {
    this.finishWalk(false);
    this.physics.teleport(x, z);
    if (yaw !== undefined) {
      this.yaw = yaw;
      this.figureYaw = yaw;
    }
    this.syncFigure(1);
    this.updateCamera();
  }

  /** Turns the camera to look from the player toward (x, z). */
  face(x: number, z: number): void {
    const p = this.position();
    this.yaw = Math.atan2(-(x - p.x), -(z - p.z));
    this.figureYaw = this.yaw;
    this.syncFigure(1);
    this.updateCamera();
  }

  /**
   * Walks toward (x, z) through the character controller (walls and props stop it) until within
   * `tolerance` metres; resolves with arrived false when it gets stuck, runs out of time, or is replaced.
   */
  walkTo(x: number, z: number, options: { tolerance?: number; timeoutMs?: number } = {}): Promise<WalkResult> {
    this.finishWalk(false);
    return new Promise((resolve) => {
      const p = this.position();
      this.walk = {
        x,
        z,
        tolerance: options.tolerance ?? 0.3,
        timeLeft: (options.timeoutMs ?? 20_000) / 1000,
        checkX: p.x,
        checkZ: p.z,
        sinceCheck: 0,
        resolve,
      };
    });
  }

  get walking(): boolean {
    return this.walk !== null;
  }

  /** Keys currently held (KeyboardEvent.code). */
  heldKeys(): string[] {
    return [...this.keys];
  }

  /** One physics step: moves the capsule from the keys (or the walkTo target). */
  step(dt: number): void {
    let mx = 0;
    let mz = 0;
    let speed = this.keys.has("ShiftLeft") || this.keys.has("ShiftRight") ? RUN_SPEED : WALK_SPEED;
    if (!this.movementEnabled) {
      this.finishWalk(false); // a conversation holds the player where it is
    } else {
      let forward = 0;
      let strafe = 0;
      for (const key of this.keys) {
        const m = MOVE_KEYS[key];
        if (m) {
          strafe += m[0];
          forward += m[1];
        }
      }
      if (forward !== 0 || strafe !== 0) {
        // Forward is where the camera looks; right is 90° clockwise from it.
        const fx = -Math.sin(this.yaw);
        const fz = -Math.cos(this.yaw);
        mx = fx * forward + -fz * strafe;
        mz = fz * forward + fx * strafe;
        this.finishWalk(false);
      } else if (this.walk) {
        const w = this.walk;
        const p = this.position();
        const dx = w.x - p.x;
        const dz = w.z - p.z;
        const d = Math.hypot(dx, dz);
        if (d <= w.tolerance) {
          this.finishWalk(true);
        } else {
          mx = dx / d;
          mz = dz / d;
          speed = Math.min(WALK_SPEED, d / dt);
          w.timeLeft -= dt;
          w.sinceCheck += dt;
          if (w.sinceCheck >= 1) {
            const progress = Math.hypot(p.x - w.checkX, p.z - w.checkZ);
            w.checkX = p.x;
            w.checkZ = p.z;
            w.sinceCheck = 0;
            if (progress < 0.1) this.finishWalk(false);
          }
          if (this.walk && w.timeLeft <= 0) this.finishWalk(false);
        }
      }
    }
    const length = Math.hypot(mx, mz);
    if (length > 0) {
      mx /= length;
      mz /= length;
      this.figureYaw = turnToward(this.figureYaw, Math.atan2(-mx, -mz), 10 * dt);
    }
    this.speed = length > 0 ? speed : 0;
    this.physics.movePlayer(mx * this.speed * dt, mz * this.speed * dt, dt);
  }

  /** Per rendered frame: the figure follows the body, the camera follows the figure. */
  update(dt: number, time: number): void {
    this.syncFigure(dt, time);
    this.updateCamera();
  }

  dispose(): void {
    for (const d of this.disposers) d();
    this.figure.removeFromParent();
  }

  private syncFigure(_dt: number, time = 0): void {
    const p = this.position();
    // A little bob while walking.
    const bob = this.speed > 0 ? Math.abs(Math.sin(time * (this.speed > WALK_SPEED ? 14 : 10))) * 0.06 : 0;
    this.figure.position.set(p.x, p.y + bob, p.z);
    // The figure's front is +Z; figureYaw is a camera-style yaw (0 looks toward -Z).
    this.figure.rotation.y = this.figureYaw + Math.PI;
  }

  private updateCamera(): void {
    const p = this.position();
    const placed = placeCamera(this.physics, { x: p.x, y: p.y + EYE_HEIGHT, z: p.z }, this.yaw, this.pitch);
    this.placement = placed;
    this.camera.position.set(placed.position.x, placed.position.y, placed.position.z);
    // Along the view direction rather than at the target: the camera may have been pulled in onto it.
    this.camTarget.set(placed.position.x - placed.back.x, placed.position.y - placed.back.y, placed.position.z - placed.back.z);
    this.camera.lookAt(this.camTarget);
    this.camera.updateMatrixWorld();
    const head = Math.hypot(placed.position.x - p.x, placed.position.y - (p.y + EYE_HEIGHT), placed.position.z - p.z);
    this.figure.visible = head > HIDE_FIGURE_WITHIN;
  }

  private finishWalk(arrived: boolean): void {
    const w = this.walk;
    if (!w) return;
    this.walk = null;
    w.resolve({ arrived, position: this.position() });
  }

  private listen(): void {
    const on = <K extends keyof WindowEventMap>(target: Window | HTMLElement, type: K, handler: (event: WindowEventMap[K]) => void) => {
      target.addEventListener(type, handler as EventListener);
      this.disposers.push(() => target.removeEventListener(type, handler as EventListener));
    };

    on(window, "keydown", (e) => {
      if (isTypingTarget(e.target)) return;
      if (e.code in MOVE_KEYS || e.code.startsWith("Shift")) {
        this.keys.add(e.code);
        if (e.code.startsWith("Arrow")) e.preventDefault();
      }
    });
    on(window, "keyup", (e) => {
      this.keys.delete(e.code);
    });
    on(window, "blur", () => this.keys.clear());

    on(this.canvas, "click", () => {
      if (!this.movementEnabled || document.pointerLockElement === this.canvas) return;
      try {
        const request = this.canvas.requestPointerLock() as unknown;
        if (request instanceof Promise) request.catch(() => undefined);
      } catch {
        // No pointer lock (an embedded page, a headless browser): dragging still turns the camera.
      }
    });
    on(this.canvas, "mousedown", () => {
      this.dragging = true;
    });
    on(window, "mouseup", () => {
      this.dragging = false;
    });
    on(window, "mousemove", (e) => {
      const locked = document.pointerLockElement === this.canvas;
      if (!locked && !this.dragging) return;
      const k = locked ? 0.0024 : 0.005;
      this.yaw -= e.movementX * k;
      this.pitch = Math.min(MAX_PITCH, Math.max(MIN_PITCH, this.pitch + e.movementY * k));
    });
    const onLockChange = () => {
      document.getElementById("crosshair")?.classList.toggle("hidden", document.pointerLockElement !== this.canvas);
    };
    document.addEventListener("pointerlockchange", onLockChange);
    this.disposers.push(() => document.removeEventListener("pointerlockchange", onLockChange));
  }

  /** Lets go of the mouse (a conversation needs the cursor) and of held keys. */
  release(): void {
    this.keys.clear();
    this.dragging = false;
    if (document.pointerLockElement === this.canvas) document.exitPointerLock();
  }
}

export interface CameraPlacement {
  /** Where the camera goes. */
  position: Vec3;
  /** The point it looks at: over the player's right shoulder, at eye height. */
  target: Vec3;
  /** Unit vector from the target toward where the camera would sit with nothing in the way. */
  back: Vec3;
  /** How far the camera ended up from the target (CAMERA_DISTANCE when nothing was in the way). */
  distance: number;
}

/**
 * The third-person camera for a player whose eyes are at `eye`, looking along `yaw` (0 looks toward -Z)
 * and `pitch` (up from behind). A ball of CAMERA_RADIUS is swept from the eyes to the right shoulder, then
 * from there back toward the camera's resting distance; it stops at the first solid collider (a house,
 * the gate, a post, the ground). Sweeping to the shoulder first matters with a wall at the player's right:
 * a shoulder point inside the wall would start the camera inside it.
 */
export function placeCamera(physics: VillagePhysics, eye: Vec3, yaw: number, pitch: number): CameraPlacement {
  const back = { x: Math.sin(yaw) * Math.cos(pitch), y: Math.sin(pitch), z: Math.cos(yaw) * Math.cos(pitch) };
  const right = { x: Math.cos(yaw), y: 0, z: -Math.sin(yaw) };
  const side = physics.sweepDistance(eye, right, SHOULDER_OFFSET, CAMERA_RADIUS);
  const target = { x: eye.x + right.x * side, y: eye.y, z: eye.z + right.z * side };
  const distance = physics.sweepDistance(target, back, CAMERA_DISTANCE, CAMERA_RADIUS);
  const position = { x: target.x + back.x * distance, y: target.y + back.y * distance, z: target.z + back.z * distance };
  return { position, target, back, distance };
}

function turnToward(current: number, target: number, maxStep: number): number {
  let diff = (target - current) % (2 * Math.PI);
  if (diff > Math.PI) diff -= 2 * Math.PI;
  if (diff < -Math.PI) diff += 2 * Math.PI;
  return Math.abs(diff) <= maxStep ? target : current + Math.sign(diff) * maxStep;
}

function makePlayerFigure(): THREE.Group {
  const group = new THREE.Group();
  group.name = "player";
  const cloth = new THREE.MeshStandardMaterial({ color: 0x3f7f6a, roughness: 0.8, flatShading: true });
  const skin = new THREE.MeshStandardMaterial({ color: 0xe0b48f, roughness: 0.8 });
  const body = new THREE.Mesh(new THREE.CapsuleGeometry(0.33, 0.75, 4, 10), cloth);
  body.position.y = 0.72;
  const head = new THREE.Mesh(new THREE.SphereGeometry(0.24, 16, 12), skin);
  head.position.y = 1.5;
  const pack = new THREE.Mesh(new THREE.BoxGeometry(0.42, 0.5, 0.22), new THREE.MeshStandardMaterial({ color: 0x6b4a2f, flatShading: true }));
  pack.position.set(0, 0.95, -0.3);
  const hood = new THREE.Mesh(new THREE.ConeGeometry(0.27, 0.35, 10), cloth);
  hood.position.y = 1.75;
  for (const mesh of [body, head, pack, hood]) {
    mesh.castShadow = true;
    group.add(mesh);
  }
  return group;
}
