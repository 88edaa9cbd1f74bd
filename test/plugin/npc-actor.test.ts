// NpcActor and SpeechBubble on real three.js objects and a real rapier talk sensor.
// No canvas in Node: the drawing surface is recorded, the three.js objects are real.

import RAPIER from "@dimforge/rapier3d-compat";
import { Group, Object3D, PerspectiveCamera, Sprite, Texture, Vector3 } from "three";
import { beforeAll, describe, expect, it } from "vitest";
import type { DialogueEvent } from "../../plugin/events.js";
import { createDialogueStore } from "../../plugin/store.js";
import { NpcActor, type NpcActorEvent } from "../../plugin/three/npc-actor.js";
import { SpeechBubble, createCanvasBubbleRenderer, wrapText, type BubbleLayout, type BubbleRenderer } from "../../plugin/three/speech-bubble.js";
import { createTalkSensor } from "../../plugin/three/talk-sensor.js";

beforeAll(async () => {
  await RAPIER.init();
});

/** Records every draw; text is measured as a fixed-width font (half the font size per character). */
class RecordingRenderer implements BubbleRenderer {
  readonly texture = new Texture();
  readonly surfaceWidth = 512;
  readonly surfaceHeight = 256;
  readonly draws: BubbleLayout[] = [];
  disposed = false;
  measureText(text: string, style: { fontSize: number }): number {
    return Array.from(text).length * style.fontSize * 0.5;
  }
  draw(layout: BubbleLayout): void {
    this.draws.push(layout);
    this.texture.needsUpdate = true;
  }
  dispose(): void {
    this.disposed = true;
    this.texture.dispose();
  }
  get lastLines(): string[] {
    return this.draws[this.draws.length - 1]?.lines ?? [];
  }
}

describe("SpeechBubble", () => {
  it("is a real Sprite whose texture shows the drawn corner of the surface", () => {
    const renderer = new RecordingRenderer();
    const bubble = new SpeechBubble({ renderer, style: { fontSize: 20, maxWidth: 200 }, pixelSize: 0.01 });
    expect(bubble.object).toBeInstanceOf(Sprite);
    expect(bubble.object.material.map).toBe(renderer.texture);
    expect(bubble.visible).toBe(false);

    bubble.setText("Well met, lad.");
    expect(bubble.visible).toBe(true);
    const layout = renderer.draws[0];
    expect(layout.lines).toEqual(["Well met, lad."]);
    // 14 chars × 10 px + 2 × (padding 14 + border 3)
    expect(layout.width).toBe(140 + 34);
    expect(renderer.texture.repeat.x).toBeCloseTo(layout.width / 512);
    expect(renderer.texture.repeat.y).toBeCloseTo(layout.height / 256);
    expect(renderer.texture.offset.y).toBeCloseTo(1 - layout.height / 256);
    expect(bubble.object.scale.x).toBeCloseTo(layout.width * 0.01);
    expect(bubble.object.scale.y).toBeCloseTo(layout.height * 0.01);
  });

  it("word-wraps streamed text at the max width and scrolls past the max lines", () => {
    const renderer = new RecordingRenderer();
    const bubble = new SpeechBubble({ renderer, style: { fontSize: 20, maxWidth: 100, maxLines: 2 } });
    bubble.append("One two");
    bubble.append(" three four");
    expect(bubble.text).toBe("One two three four");
    expect(renderer.lastLines).toEqual(["One two", "three four"]); // 10 chars = 100 px fits
    bubble.append(" five");
    expect(renderer.lastLines).toEqual(["…three four", "five"]);
    expect(Math.max(...renderer.draws.map((d) => d.width))).toBeLessThanOrEqual(512);
  });

  it("wrapText breaks words too long for a line and keeps paragraph breaks", () => {
    const measure = (t: string) => t.length;
    expect(wrapText("abcdefghij kl", 4, measure)).toEqual(["abcd", "efgh", "ij", "kl"]);
    expect(wrapText("one\n\ntwo  three\n", 20, measure)).toEqual(["one", "", "two three"]);
    expect(wrapText("   ", 20, measure)).toEqual([]);
  });

  it("fades out after the hold and reading time, driven by update(dt); sticky holds it", () => {
    const bubble = new SpeechBubble({ renderer: new RecordingRenderer(), holdSeconds: 1, readingSpeed: 10, fadeSeconds: 0.5 });
    bubble.setText("0123456789"); // 1 s hold + 1 s reading
    bubble.sticky = true;
    for (let i = 0; i < 100; i++) bubble.update(0.1);
    expect(bubble.visible).toBe(true);
    expect(bubble.opacity).toBe(1);

    bubble.sticky = false;
    bubble.update(1.9);
    expect(bubble.opacity).toBe(1);
    bubble.update(0.35); // 0.25 s into the fade
    expect(bubble.opacity).toBeCloseTo(0.5);
    bubble.append("!"); // new text: full opacity again, the clock restarts
    expect(bubble.opacity).toBe(1);
    bubble.update(2.1 + 0.5);
    expect(bubble.visible).toBe(false);
    expect(bubble.opacity).toBe(0);

    bubble.setText("");
    expect(bubble.visible).toBe(false);
  });

  it("keeps a constant screen size with distance scaling", () => {
    const bubble = new SpeechBubble({ renderer: new RecordingRenderer(), distanceScaling: { reference: 5, min: 0.5, max: 3 } });
    bubble.setText("Hello");
    const base = bubble.object.scale.x;
    const camera = new PerspectiveCamera();
    camera.position.set(0, 0, 10);
    bubble.update(0, camera);
    expect(bubble.object.scale.x).toBeCloseTo(base * 2);
    camera.position.set(0, 0, 100);
    bubble.update(0, camera);
    expect(bubble.object.scale.x).toBeCloseTo(base * 3);
    bubble.setText("Hello there"); // a redraw keeps the distance factor
    expect(bubble.object.scale.y / bubble.object.scale.x).toBeGreaterThan(0);
    expect(bubble.object.scale.x).toBeGreaterThan(base * 3);
  });

  it("the canvas renderer paints box, tail and lines through the 2d context it is given", () => {
    const calls: string[] = [];
    const record =
      (name: string) =>
      (...args: unknown[]) =>
        calls.push(`${name}(${args.map((a) => (typeof a === "number" ? Math.round(a) : a)).join(",")})`);
    const ctx = {
      font: "",
      fillStyle: "" as unknown,
      strokeStyle: "" as unknown,
      lineWidth: 1,
      lineJoin: "",
      textBaseline: "",
      textAlign: "",
      clearRect: record("clearRect"),
      beginPath: record("beginPath"),
      closePath: record("closePath"),
      moveTo: record("moveTo"),
      lineTo: record("lineTo"),
      arcTo: record("arcTo"),
      fill: record("fill"),
      stroke: record("stroke"),
      fillText: record("fillText"),
      measureText: (text: string) => ({ width: text.length * 10 }),
    };
    const canvas = { width: 0, height: 0, getContext: () => ctx };
    const renderer = createCanvasBubbleRenderer({ canvas, width: 256, height: 128 });
    expect([canvas.width, canvas.height]).toEqual([256, 128]);
    const bubble = new SpeechBubble({ renderer, style: { fontSize: 20, lineHeight: 24, maxWidth: 100 } });
    const version = renderer.texture.version;
    bubble.setText("Hot iron waits for no one");
    expect(renderer.texture.version).toBeGreaterThan(version);
    expect(ctx.font).toBe("20px system-ui, sans-serif");
    expect(calls[0]).toBe("clearRect(0,0,256,128)");
    expect(calls.filter((c) => c.startsWith("fillText"))).toEqual(["fillText(Hot iron,17,29)", "fillText(waits for,17,53)", "fillText(no one,17,77)"]);
    // The tail: down to its tip under the box's centre and back.
    const layout = { width: 90 + 34, boxHeight: 3 * 24 + 34 };
    expect(calls).toContain(`lineTo(${Math.round(layout.width / 2)},${Math.round(layout.boxHeight - 1.5 + 16)})`);
    expect(calls.filter((c) => c === "fill()" || c === "stroke()")).toEqual(["fill()", "stroke()"]);
  });

  it("says why when there is no canvas to draw on", () => {
    expect(() => createCanvasBubbleRenderer()).toThrow(/no canvas/);
  });
});

function setup(options: { lookAt?: "near" | "talking" } = {}) {
  const world = new RAPIER.World({ x: 0, y: -9.81, z: 0 });
  const playerBody = world.createRigidBody(RAPIER.RigidBodyDesc.kinematicPositionBased().setTranslation(10, 1, 0));
  const playerCollider = world.createCollider(RAPIER.ColliderDesc.capsule(0.5, 0.3), playerBody);
  const scene = new Group();
  const village = new Group(); // the NPC sits in a rotated, moved parent: look-at works in its space
  village.position.set(3, 0, 0);
  village.rotation.y = 0.7;
  scene.add(village);
  const npc = new Object3D();
  village.add(npc);
  scene.updateMatrixWorld(true);
  const npcWorld = npc.getWorldPosition(new Vector3());
  const sensor = createTalkSensor(world, { position: npcWorld, radius: 3, playerCollider });
  const renderer = new RecordingRenderer();
  const bubble = new SpeechBubble({ renderer });
  const actor = new NpcActor(npc, { characterId: "smith", sensor, bubble, turnSpeed: 3, lookAt: options.lookAt });
  const player = new Vector3();
  /** Moves the player to (x, z) in world space, steps the physics and updates the actor. */
  const frame = (x: number, z: number, dt = 1 / 30) => {
    player.set(x, 1, z);
    playerBody.setNextKinematicTranslation(player);
    world.step();
    actor.update(dt, player);
  };
  return { world, npc, npcWorld, actor, bubble, renderer, frame };
}

/** The world-space yaw the object faces (+Z turned about Y). */
function facingYaw(object: Object3D): number {
  const forward = new Vector3(0, 0, 1).transformDirection(object.matrixWorld);
  return Math.atan2(forward.x, forward.z);
}

function angleBetween(a: number, b: number): number {
  return Math.abs(Math.atan2(Math.sin(a - b), Math.cos(a - b)));
}

describe("NpcActor", () => {
  it("shows the talk prompt only while the player is inside the radius", () => {
    const { actor, npcWorld, frame, world } = setup();
    const events: NpcActorEvent[] = [];
    actor.subscribe((e) => events.push(e));
    const insideWhilePrompt: number[] = [];
    for (let x = npcWorld.x + 8; x >= npcWorld.x - 8; x -= 0.25) {
      frame(x, npcWorld.z);
      if (actor.promptVisible) insideWhilePrompt.push(Math.abs(x - npcWorld.x));
    }
    expect(events.map((e) => (e.type === "prompt" ? `prompt:${e.visible}` : e.type))).toEqual(["player_enter", "prompt:true", "player_leave", "prompt:false"]);
    expect(events[1]).toMatchObject({ text: "Press E to talk" });
    // radius 3 + capsule radius 0.3 + one step of travel
    expect(Math.max(...insideWhilePrompt)).toBeLessThanOrEqual(3.3 + 0.25 + 1e-3);
    expect(actor.promptVisible).toBe(false);
    world.free();
  });

  it("turns smoothly to face the player when near, and back to rest when the player leaves", () => {
    const { actor, npc, npcWorld, frame, world } = setup();
    const restYaw = facingYaw(npc);
    const target = new Vector3(npcWorld.x - 2, 1, npcWorld.z - 1); // behind-left, inside the radius
    const wanted = Math.atan2(target.x - npcWorld.x, target.z - npcWorld.z);
    const errors: number[] = [];
    for (let i = 0; i < 60; i++) {
      frame(target.x, target.z);
      errors.push(angleBetween(facingYaw(npc), wanted));
    }
    // Bounded speed (3 rad/s at 30 fps: at most 0.1 rad a frame), monotonic, converged.
    expect(errors[0]).toBeGreaterThan(0.5);
    for (let i = 1; i < errors.length; i++) expect(errors[i]).toBeLessThanOrEqual(errors[i - 1] + 1e-9);
    expect(errors[0] - errors[1]).toBeLessThanOrEqual(0.1 + 1e-6);
    expect(errors[errors.length - 1]).toBeLessThan(1e-6);
    expect(actor.playerNear).toBe(true);

    for (let i = 0; i < 60; i++) frame(npcWorld.x + 20, npcWorld.z);
    expect(angleBetween(facingYaw(npc), restYaw)).toBeLessThan(1e-6);
    world.free();
  });

  it("streams the store's bubble into its speech bubble while its conversation is active", () => {
    const { actor, bubble, renderer, npcWorld, frame, world } = setup({ lookAt: "talking" });
    const store = createDialogueStore();
    actor.bind(store);
    const events: string[] = [];
    actor.subscribe((e) => events.push(e.type === "prompt" ? `prompt:${e.visible}` : e.type));
    frame(npcWorld.x + 1, npcWorld.z);
    frame(npcWorld.x + 1, npcWorld.z); // rapier sees a kinematic move at the step after it
    expect(actor.promptVisible).toBe(true);

    const apply = store.getState().apply;
    const start: DialogueEvent = {
      type: "started",
      conversationId: "c1",
      graphId: "g",
      characterId: "smith",
      npcName: "Brenna",
      variables: {},
    };
    apply(start);
    expect(actor.talking).toBe(true);
    expect(actor.promptVisible).toBe(false);
    apply({ type: "line_started", nodeId: "a", speaker: "smith", source: "generated" });
    apply({ type: "text_chunk", nodeId: "a", text: "Fine steel" });
    expect(bubble.text).toBe("Fine steel");
    expect(bubble.visible).toBe(true);
    apply({ type: "text_chunk", nodeId: "a", text: ", this." });
    expect(renderer.lastLines).toEqual(["Fine steel, this."]);
    apply({ type: "line_complete", nodeId: "a", speaker: "smith", text: "Fine steel, this.", source: "generated", tags: [] });
    apply({ type: "choices_offered", nodeId: "b", choices: [{ index: 0, text: "Buy", tags: [] }] });
    for (let i = 0; i < 300; i++) frame(npcWorld.x + 1, npcWorld.z); // 10 s waiting for the player: stays up
    expect(bubble.visible).toBe(true);
    expect(bubble.opacity).toBe(1);

    // Another NPC's conversation does not touch this bubble.
    apply({ type: "ended", nodeId: "b", reason: "end" });
    apply({ ...start, conversationId: "c2", characterId: "guard" });
    apply({ type: "line_started", nodeId: "g", speaker: "guard", source: "authored" });
    apply({ type: "text_chunk", nodeId: "g", text: "Halt!" });
    expect(bubble.text).toBe("Fine steel, this.");
    expect(actor.talking).toBe(false);
    expect(actor.promptVisible).toBe(false); // someone is in a conversation
    apply({ type: "ended", nodeId: "g", reason: "end" });
    expect(actor.promptVisible).toBe(true);

    // Once its conversation is over, the last line fades.
    for (let i = 0; i < 300; i++) frame(npcWorld.x + 1, npcWorld.z);
    expect(bubble.visible).toBe(false);
    // talking to the smith, then the guard
    expect(events).toEqual(["player_enter", "prompt:true", "prompt:false", "prompt:true", "prompt:false", "prompt:true"]);
    world.free();
  });

  it("unbinds and disposes cleanly", () => {
    const { actor, bubble, renderer, npc, world } = setup();
    const store = createDialogueStore();
    const unbind = actor.bind(store);
    unbind();
    store.getState().apply({ type: "started", conversationId: "c", graphId: "g", characterId: "smith", npcName: "B", variables: {} });
    expect(actor.talking).toBe(false);
    expect(npc.children).toContain(bubble.object);
    actor.dispose();
    expect(npc.children).not.toContain(bubble.object);
    expect(renderer.disposed).toBe(true);
    world.free();
  });
});
