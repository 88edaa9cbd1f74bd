/// <reference lib="dom" />
// The village's rapier world: fixed colliders for the ground, the houses and the props, and the player as a
// kinematic capsule moved by rapier's KinematicCharacterController (slides along walls, steps up small
// ledges, snaps to the ground, falls under gravity).

import RAPIER from "@dimforge/rapier3d-compat";

export const GRAVITY = -9.81;
/** The player's capsule: half the cylinder's height and the radius; it stands CAPSULE_CENTER above its feet. */
export const CAPSULE_HALF_HEIGHT = 0.55;
export const CAPSULE_RADIUS = 0.35;
export const CAPSULE_CENTER = CAPSULE_HALF_HEIGHT + CAPSULE_RADIUS;
/** The physics step, in seconds. */
export const FIXED_DT = 1 / 60;
/**
 * Collision groups (rapier: 16 membership bits, then 16 filter bits). Camera-only colliders are things the
 * player walks under or into but the camera must not pass through (tree crowns); the character controller
 * asks only for the solid group, so they never stop the player.
 */
const SOLID = 0x0001;
const CAMERA_ONLY = 0x0002;
export const CAMERA_ONLY_GROUPS = (CAMERA_ONLY << 16) | 0xffff;
const PLAYER_QUERY_GROUPS = (SOLID << 16) | SOLID;

let initialized: Promise<void> | null = null;
const IDENTITY = { x: 0, y: 0, z: 0, w: 1 };
/** Sweeps stop this far short of contact, so the next sweep starts clear of the surface. */
const SWEEP_GAP = 0.02;

/** Loads rapier's WASM (embedded in the compat build) once. */
export function initPhysics(): Promise<void> {
  initialized ??= RAPIER.init();
  return initialized;
}

export interface Vec3 {
  x: number;
  y: number;
  z: number;
}

export class VillagePhysics {
  readonly world: RAPIER.World;
  readonly playerBody: RAPIER.RigidBody;
  readonly playerCollider: RAPIER.Collider;
  readonly controller: RAPIER.KinematicCharacterController;
  /** Vertical speed of the player (gravity accumulates while it is airborne). */
  private verticalSpeed = 0;
  private grounded = false;

  constructor(spawn: { x: number; z: number }) {
    this.world = new RAPIER.World({ x: 0, y: GRAVITY, z: 0 });
    this.world.timestep = FIXED_DT;
    // The ground: a thick slab whose top is y = 0.
    this.world.createCollider(RAPIER.ColliderDesc.cuboid(60, 0.5, 60).setTranslation(0, -0.5, 0));

    this.playerBody = this.world.createRigidBody(RAPIER.RigidBodyDesc.kinematicPositionBased().setTranslation(spawn.x, CAPSULE_CENTER + 0.02, spawn.z));
    this.playerCollider = this.world.createCollider(RAPIER.ColliderDesc.capsule(CAPSULE_HALF_HEIGHT, CAPSULE_RADIUS), this.playerBody);

    this.controller = this.world.createCharacterController(0.02);
    this.controller.setUp({ x: 0, y: 1, z: 0 });
    this.controller.enableAutostep(0.35, 0.2, false);
    this.controller.enableSnapToGround(0.3);
    this.controller.setMaxSlopeClimbAngle((45 * Math.PI) / 180);
    this.controller.setMinSlopeSlideAngle((30 * Math.PI) / 180);
    this.controller.setSlideEnabled(true);
    this.controller.setApplyImpulsesToDynamicBodies(false);
  }

  /** A fixed box; `center` is the box's centre, `half` its half extents, `yaw` about +Y. */
  addBox(center: Vec3, half: Vec3, yaw = 0): RAPIER.Collider {
    const desc = RAPIER.ColliderDesc.cuboid(half.x, half.y, half.z).setTranslation(center.x, center.y, center.z);
    if (yaw !== 0) desc.setRotation({ x: 0, y: Math.sin(yaw / 2), z: 0, w: Math.cos(yaw / 2) });
    return this.world.createCollider(desc);
  }

  /** A fixed upright cylinder standing on the ground at (x, z). */
  addCylinder(x: number, z: number, radius: number, height: number, baseY = 0): RAPIER.Collider {
    return this.world.createCollider(RAPIER.ColliderDesc.cylinder(height / 2, radius).setTranslation(x, baseY + height / 2, z));
  }

  /** A fixed upright cone (apex up) whose centre is at (x, y, z); `cameraOnly`: the player passes through it. */
  addCone(center: Vec3, radius: number, height: number, options: { cameraOnly?: boolean } = {}): RAPIER.Collider {
    const desc = RAPIER.ColliderDesc.cone(height / 2, radius).setTranslation(center.x, center.y, center.z);
    if (options.cameraOnly) desc.setCollisionGroups(CAMERA_ONLY_GROUPS);
    return this.world.createCollider(desc);
  }

  /** Moves the player by a horizontal displacement (plus gravity) through the character controller. */
  movePlayer(dx: number, dz: number, dt: number): void {
    // Standing still on the ground: nothing to compute (and no sub-millimetre drift from snapping).
    if (dx === 0 && dz === 0 && this.grounded) return;
    if (this.grounded) this.verticalSpeed = Math.max(this.verticalSpeed, -1);
    this.verticalSpeed = Math.max(this.verticalSpeed + GRAVITY * dt, -30);
    const desired = { x: dx, y: this.verticalSpeed * dt, z: dz };
    this.controller.computeColliderMovement(this.playerCollider, desired, RAPIER.QueryFilterFlags.EXCLUDE_SENSORS, PLAYER_QUERY_GROUPS);
    const moved = this.controller.computedMovement();
    this.grounded = this.controller.computedGrounded();
    if (this.grounded) this.verticalSpeed = 0;
    const p = this.playerBody.translation();
    let y = p.y + moved.y;
    // Never fall through the world (a teleport into a wall, a numerical slip).
    if (y < CAPSULE_CENTER - 0.5) {
      y = CAPSULE_CENTER + 0.02;
      this.verticalSpeed = 0;
    }
    this.playerBody.setNextKinematicTranslation({ x: p.x + moved.x, y, z: p.z + moved.z });
  }

  /** Puts the player at (x, z) on the ground at once. */
  teleport(x: number, z: number): void {
    const t = { x, y: CAPSULE_CENTER + 0.02, z };
    this.playerBody.setTranslation(t, true);
    this.playerBody.setNextKinematicTranslation(t);
    this.verticalSpeed = 0;
    this.grounded = false; // the next step settles it onto the ground
  }

  get playerGrounded(): boolean {
    return this.grounded;
  }

  /** The player's capsule centre. */
  playerPosition(): Vec3 {
    const p = this.playerBody.translation();
    return { x: p.x, y: p.y, z: p.z };
  }

  /**
   * How far a ball of `radius` can travel from `origin` along `direction` (unit) before it touches a solid
   * collider, up to `max`; ignores the player and sensors. The camera uses it with a ball that holds its
   * near plane, so no corner of the view can reach into a wall it stops at.
   */
  sweepDistance(origin: Vec3, direction: Vec3, max: number, radius: number): number {
    if (max <= 0) return 0;
    const hit = this.world.castShape(
      origin,
      IDENTITY,
      direction,
      new RAPIER.Ball(radius),
      0,
      max,
      // A ball that starts against a wall (a sweep that stopped there) may still move away from it.
      false,
      RAPIER.QueryFilterFlags.EXCLUDE_SENSORS,
      undefined,
      this.playerCollider,
      this.playerBody,
    );
    return hit ? Math.min(max, Math.max(0, hit.time_of_impact - SWEEP_GAP)) : max;
  }

  step(): void {
    this.world.step();
  }
}
