// An NPC's talk radius: a ball sensor collider in the game's rapier world that reports when the player's
// collider comes within reach and when it leaves.
//
//   const sensor = createTalkSensor(world, { position: npc.position, radius: 2.5, playerCollider });
//   sensor.subscribe((e) => console.log(e.type)); // "enter" | "leave"
//   // each frame:
//   world.step(eventQueue);
//   sensor.update();
//
// The sensor reads the narrow phase's intersection state (`world.intersectionPair`) after each step rather
// than draining the game's EventQueue, so it never steals events the game wants, it cannot miss an event
// between two updates, and calling update() twice after one step reports nothing twice. The sensor enables
// every body-type pair (ActiveCollisionTypes.ALL): rapier skips pairs of non-dynamic bodies by default,
// which would leave a kinematic player (the usual character controller) undetected.

import RAPIER from "@dimforge/rapier3d-compat";
// Bundled into the game page: the errors module alone (runtime/index.js loads Node modules).
import { InvalidArgumentError } from "../../runtime/errors.js";

export interface Vector3Like {
  x: number;
  y: number;
  z: number;
}

export interface TalkSensorOptions {
  /** World position of the NPC (the sensor's center). */
  position: Vector3Like;
  /** Talk radius in world units. */
  radius: number;
  /** The player's collider (on a kinematic, dynamic or no body). */
  playerCollider: RAPIER.Collider;
}

export interface TalkSensorEvent {
  type: "enter" | "leave";
}

export type TalkSensorListener = (event: TalkSensorEvent) => void;

export interface TalkSensor {
  /** The sensor collider (fixed, no body). */
  readonly collider: RAPIER.Collider;
  readonly radius: number;
  /** The player was inside at the last update. */
  readonly inside: boolean;
  /**
   * Call after `world.step()`: compares the player's overlap with the last update, tells the listeners
   * and returns the event (null when nothing changed).
   */
  update(): TalkSensorEvent | null;
  /** Moves the sensor with a walking NPC; takes effect at the next step. */
  setPosition(position: Vector3Like): void;
  /** Switches to another player collider (respawn); the next update reports a leave if needed. */
  setPlayerCollider(collider: RAPIER.Collider): void;
  /** Returns the unsubscribe function. */
  subscribe(listener: TalkSensorListener): () => void;
  /** Removes the collider from the world; reports a leave first if the player was inside. */
  dispose(): void;
}

export function createTalkSensor(world: RAPIER.World, options: TalkSensorOptions): TalkSensor {
  if (!(options.radius > 0) || !Number.isFinite(options.radius)) {
    throw new InvalidArgumentError(`talk sensor radius must be a positive number, got ${options.radius}`);
  }
  const { x, y, z } = options.position;
  const desc = RAPIER.ColliderDesc.ball(options.radius).setTranslation(x, y, z).setSensor(true).setActiveCollisionTypes(RAPIER.ActiveCollisionTypes.ALL);
  const collider = world.createCollider(desc);

  let player = options.playerCollider;
  let inside = false;
  let disposed = false;
  const listeners = new Set<TalkSensorListener>();

  const emit = (event: TalkSensorEvent): TalkSensorEvent => {
    for (const listener of [...listeners]) listener(event);
    return event;
  };

  return {
    collider,
    radius: options.radius,
    get inside() {
      return inside;
    },
    update() {
      if (disposed) return null;
      const now = player.isValid() && world.intersectionPair(collider, player);
      if (now === inside) return null;
      inside = now;
      return emit({ type: now ? "enter" : "leave" });
    },
    setPosition(position) {
      if (!disposed) collider.setTranslation(position);
    },
    setPlayerCollider(next) {
      player = next;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    dispose() {
      if (disposed) return;
      if (inside) {
        inside = false;
        emit({ type: "leave" });
      }
      disposed = true;
      listeners.clear();
      world.removeCollider(collider, false);
    },
  };
}
