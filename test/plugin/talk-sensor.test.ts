// The talk sensor on real rapier (WASM): a kinematic player body walks through an NPC's talk radius.

import RAPIER from "@dimforge/rapier3d-compat";
import { beforeAll, describe, expect, it } from "vitest";
import { createTalkSensor, type TalkSensorEvent } from "../../plugin/three/talk-sensor.js";

beforeAll(async () => {
  await RAPIER.init();
});

function makeWorld() {
  const world = new RAPIER.World({ x: 0, y: -9.81, z: 0 });
  world.timestep = 1 / 60;
  const body = world.createRigidBody(RAPIER.RigidBodyDesc.kinematicPositionBased().setTranslation(-10, 1, 0));
  const playerCollider = world.createCollider(RAPIER.ColliderDesc.capsule(0.5, 0.3), body);
  return { world, body, playerCollider };
}

/** Walks the kinematic body along x from `from` to `to` in `steps` steps, updating the sensor after each. */
function walk(world: RAPIER.World, body: RAPIER.RigidBody, from: number, to: number, steps: number, afterStep: () => void, eventQueue?: RAPIER.EventQueue) {
  for (let i = 0; i <= steps; i++) {
    body.setNextKinematicTranslation({ x: from + ((to - from) * i) / steps, y: 1, z: 0 });
    world.step(eventQueue);
    afterStep();
  }
}

describe("createTalkSensor", () => {
  it("reports exactly one enter and one leave as a kinematic player walks through the radius", () => {
    const { world, body, playerCollider } = makeWorld();
    const sensor = createTalkSensor(world, { position: { x: 0, y: 1, z: 0 }, radius: 2, playerCollider });
    const events: TalkSensorEvent["type"][] = [];
    const insideAt: number[] = [];
    sensor.subscribe((e) => events.push(e.type));

    walk(world, body, -10, 10, 200, () => {
      sensor.update();
      sensor.update(); // a second update after the same step reports nothing again
      if (sensor.inside) insideAt.push(body.translation().x);
    });

    expect(events).toEqual(["enter", "leave"]);
    // Inside only within reach: sensor radius 2 + capsule radius 0.3, plus one step of travel (0.1) since
    // rapier detects collisions at the start of a step, before it moves kinematic bodies.
    const reach = 2 + 0.3 + 0.1 + 1e-3;
    expect(insideAt.length).toBeGreaterThan(10);
    expect(Math.min(...insideAt)).toBeGreaterThan(-reach);
    expect(Math.max(...insideAt)).toBeLessThan(reach);
    expect(sensor.inside).toBe(false);
    world.free();
  });

  it("works alongside the game's own EventQueue and walks in and out twice", () => {
    const { world, body, playerCollider } = makeWorld();
    const queue = new RAPIER.EventQueue(true);
    const sensor = createTalkSensor(world, { position: { x: 0, y: 1, z: 0 }, radius: 1.5, playerCollider });
    const events: string[] = [];
    const record = (): void => {
      const e = sensor.update();
      if (e) events.push(e.type);
    };
    walk(world, body, -5, 5, 60, record, queue);
    walk(world, body, 5, -5, 60, record, queue);
    expect(events).toEqual(["enter", "leave", "enter", "leave"]);
    queue.free();
    world.free();
  });

  it("follows the NPC when it moves, and reports a leave on dispose", () => {
    const { world, body, playerCollider } = makeWorld();
    body.setTranslation({ x: 6, y: 1, z: 0 }, true);
    const sensor = createTalkSensor(world, { position: { x: 0, y: 1, z: 0 }, radius: 2, playerCollider });
    const events: string[] = [];
    sensor.subscribe((e) => events.push(e.type));
    world.step();
    sensor.update();
    expect(sensor.inside).toBe(false);

    sensor.setPosition({ x: 5, y: 1, z: 0 }); // the NPC walked up to the player
    world.step();
    sensor.update();
    expect(events).toEqual(["enter"]);

    const colliders = world.colliders.len();
    sensor.dispose();
    expect(events).toEqual(["enter", "leave"]);
    expect(world.colliders.len()).toBe(colliders - 1);
    expect(sensor.update()).toBeNull();
    world.free();
  });

  it("rejects a radius that is not positive", () => {
    const { world, playerCollider } = makeWorld();
    expect(() => createTalkSensor(world, { position: { x: 0, y: 0, z: 0 }, radius: 0, playerCollider })).toThrow(/radius/);
    world.free();
  });
});
