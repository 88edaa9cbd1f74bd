/// <reference lib="dom" />
// The village's NPCs: a simple figure each (capsule body, sphere head, a prop for the role), a solid
// collider so the player cannot walk through them, and the plugin's NpcActor with a talk sensor (3 m),
// turn-to-player and a canvas speech bubble bound to the dialogue store. A second, wider sensor (6 m)
// asks the host for a bark when the player walks past; the host rate-limits and streams the bark back.
// Bubbles hang above the tallest part of their NPC (the guard's spear reaches past his head), draw over
// the scene, and keep clear of the page's panels (bubble-layout.ts).

import RAPIER from "@dimforge/rapier3d-compat";
import * as THREE from "three";
import { NpcActor, SpeechBubble, createCanvasBubbleRenderer, createTalkSensor, type TalkSensor } from "../../../plugin/three/index.js";
import { isConversationActive, type DialogueStore } from "../../../plugin/store.js";
import type { ParleyClient, NpcId, VillageNpcInfo } from "../village-npcs.js";
import { placeBubble, type ScreenRect, type Viewport } from "./bubble-layout.js";
import type { VillagePhysics } from "./physics.js";

export const TALK_RADIUS = 3;
export const BARK_RADIUS = 6;
/** Bubbles hang at least this high (a head's height), and this far above anything the NPC holds. */
const MIN_BUBBLE_HEIGHT = 2.05;
const BUBBLE_CLEARANCE = 0.15;
/** The speech bubbles' fonts when the page names none (--bubble-font): its own list without the page. */
export const FALLBACK_BUBBLE_FONT = '"DejaVu Sans", "Noto Sans", "Droid Sans Fallback", system-ui, sans-serif, "Noto Color Emoji"';

/** The height of a figure's highest vertex above its origin (its feet), over its meshes only. */
export function figureHeight(figure: THREE.Object3D): number {
  figure.updateWorldMatrix(true, true);
  const v = new THREE.Vector3();
  let top = -Infinity;
  figure.traverse((o) => {
    const mesh = o as THREE.Mesh;
    if (!mesh.isMesh) return;
    const position = mesh.geometry.getAttribute("position");
    for (let i = 0; i < position.count; i++) top = Math.max(top, v.fromBufferAttribute(position, i).applyMatrix4(mesh.matrixWorld).y);
  });
  return top - figure.getWorldPosition(v).y;
}

/** How high above an NPC figure's feet its bubble hangs: above the tallest thing it has (spear, hair bun). */
export function bubbleAnchorHeight(figure: THREE.Object3D): number {
  return Math.max(MIN_BUBBLE_HEIGHT, figureHeight(figure) + BUBBLE_CLEARANCE);
}

/** The font list the page gives bubbles (so they draw emoji and non-Latin text as the page does). */
function bubbleFont(): string {
  if (typeof document === "undefined") return FALLBACK_BUBBLE_FONT;
  const named = getComputedStyle(document.documentElement).getPropertyValue("--bubble-font").trim();
  return named !== "" ? named : FALLBACK_BUBBLE_FONT;
}

export interface VillageNpc {
  info: VillageNpcInfo;
  actor: NpcActor;
  barkSensor: TalkSensor;
  /** The last bark text shown (empty when none or withdrawn). */
  barkText: string;
  barks: number;
  /** Where its bubble was drawn on screen last frame (CSS pixels); null when hidden. */
  bubbleRect: ScreenRect | null;
  /** Where it would have been drawn, hanging from its anchor, had no panel been in the way. */
  bubbleHome: ScreenRect | null;
}

export class VillageNpcs {
  readonly list: VillageNpc[] = [];
  /** Set while a conversation is being opened (between E and `started`): no barks. */
  suppressBarks = false;
  /** The font list the bubbles draw with. */
  readonly bubbleFont = bubbleFont();

  constructor(
    infos: readonly VillageNpcInfo[],
    scene: THREE.Scene,
    physics: VillagePhysics,
    private readonly store: DialogueStore,
    private readonly host: ParleyClient,
  ) {
    for (const info of infos) {
      const [x, y, z] = info.position;
      const figure = makeNpcFigure(info);
      figure.position.set(x, y, z);
      figure.rotation.y = info.facing;
      scene.add(figure);
      // A solid body so the player bumps into the NPC rather than through it.
      physics.world.createCollider(RAPIER.ColliderDesc.capsule(0.5, 0.38).setTranslation(x, y + 0.9, z));

      const sensor = createTalkSensor(physics.world, {
        position: { x, y, z },
        radius: TALK_RADIUS,
        playerCollider: physics.playerCollider,
      });
      // Text stays crisp when the bubble is small on screen (no blurry mip levels) and keeps its colours
      // (no tone mapping on a UI element).
      const renderer = createCanvasBubbleRenderer();
      renderer.texture.generateMipmaps = false;
      renderer.texture.minFilter = THREE.LinearFilter;
      const bubble = new SpeechBubble({
        renderer,
        style: { fontFamily: this.bubbleFont },
        pixelSize: 1 / 160,
        distanceScaling: { reference: 5.5, min: 0.8, max: 3 },
      });
      bubble.object.material.toneMapped = false;
      bubble.object.material.fog = false;
      // A bubble is read, not part of the world: nothing in the scene (a spear, a post, a roof's edge)
      // may cut it. Drawn after the opaque scene without a depth test, it is always whole.
      bubble.object.material.depthTest = false;
      const actor = new NpcActor(figure, {
        characterId: info.id,
        sensor,
        bubble,
        headHeight: bubbleAnchorHeight(figure),
        promptText: `Press E to talk to ${info.name}`,
      });
      actor.bind(store);

      const barkSensor = createTalkSensor(physics.world, {
        position: { x, y, z },
        radius: BARK_RADIUS,
        playerCollider: physics.playerCollider,
      });
      const npc: VillageNpc = { info, actor, barkSensor, barkText: "", barks: 0, bubbleRect: null, bubbleHome: null };
      barkSensor.subscribe((event) => {
        if (event.type === "enter") this.requestBark(npc);
      });
      this.list.push(npc);
    }
  }

  get(id: NpcId): VillageNpc | undefined {
    return this.list.find((n) => n.info.id === id);
  }

  /**
   * After each physics step: sensors, turning, bubbles. Visible bubbles are kept out of `keepOut` (the
   * page's panels, in CSS pixels of `viewport`).
   */
  update(dt: number, playerCenter: { x: number; y: number; z: number }, camera: THREE.Camera, viewport?: Viewport, keepOut: readonly ScreenRect[] = []): void {
    for (const npc of this.list) {
      npc.actor.update(dt, playerCenter, camera);
      npc.barkSensor.update();
      const bubble = npc.actor.bubble;
      if (bubble?.visible && viewport) {
        const placed = placeBubble(bubble.object, camera, viewport, keepOut);
        npc.bubbleRect = placed?.drawn ?? null;
        npc.bubbleHome = placed?.home ?? null;
      } else {
        npc.bubbleRect = null;
        npc.bubbleHome = null;
      }
    }
  }

  /** The NPC whose "Press E" prompt is up and who is nearest the player; null when none. */
  promptTarget(player: { x: number; z: number }): VillageNpc | null {
    let best: VillageNpc | null = null;
    let bestDistance = Infinity;
    for (const npc of this.list) {
      if (!npc.actor.promptVisible) continue;
      const d = Math.hypot(npc.info.position[0] - player.x, npc.info.position[2] - player.z);
      if (d < bestDistance) {
        bestDistance = d;
        best = npc;
      }
    }
    return best;
  }

  /** A host `bark` event: the text so far, or "" when the bark was withdrawn. */
  showBark(id: NpcId, text: string): void {
    const npc = this.get(id);
    if (!npc || npc.actor.talking || !npc.actor.bubble) return;
    npc.barkText = text;
    if (text === "") npc.actor.bubble.clear();
    else npc.actor.bubble.setText(text);
  }

  private requestBark(npc: VillageNpc): void {
    if (this.suppressBarks || isConversationActive(this.store.getState())) return;
    npc.barks++;
    this.host.bark(npc.info.id).catch(() => undefined); // refused (rate limit, busy): no bark
  }
}

/** The NPC's figure, built from primitives; its front is +Z. */
export function makeNpcFigure(info: VillageNpcInfo): THREE.Group {
  const group = new THREE.Group();
  group.name = `npc:${info.id}`;
  const std = (color: THREE.ColorRepresentation, extra: THREE.MeshStandardMaterialParameters = {}) =>
    new THREE.MeshStandardMaterial({ color, roughness: 0.8, flatShading: true, ...extra });
  const part = (geometry: THREE.BufferGeometry, material: THREE.Material, x: number, y: number, z: number) => {
    const mesh = new THREE.Mesh(geometry, material);
    mesh.position.set(x, y, z);
    mesh.castShadow = true;
    group.add(mesh);
    return mesh;
  };
  const skin = std(0xd9a57c);
  part(new THREE.CapsuleGeometry(0.36, 0.8, 4, 12), std(info.color), 0, 0.76, 0);
  part(new THREE.SphereGeometry(0.26, 16, 12), skin, 0, 1.58, 0);
  // Eyes, so the facing shows.
  const eye = std(0x1b1b1b);
  part(new THREE.SphereGeometry(0.035, 6, 6), eye, -0.09, 1.62, 0.23);
  part(new THREE.SphereGeometry(0.035, 6, 6), eye, 0.09, 1.62, 0.23);

  switch (info.id) {
    case "blacksmith": {
      part(new THREE.BoxGeometry(0.6, 0.75, 0.08), std(0x3b2a1e), 0, 0.75, 0.34); // leather apron
      part(new THREE.SphereGeometry(0.2, 10, 8), std(0x5b5048), 0, 1.42, 0.12).scale.set(1, 0.8, 0.7); // beard
      const hammer = new THREE.Group();
      hammer.position.set(0.45, 0.75, 0.1);
      hammer.rotation.z = -0.3;
      const handle = new THREE.Mesh(new THREE.CylinderGeometry(0.035, 0.035, 0.7, 6), std(0x6b4a2f));
      const head = new THREE.Mesh(new THREE.BoxGeometry(0.26, 0.12, 0.12), std(0x44464b, { metalness: 0.6 }));
      head.position.y = 0.35;
      hammer.add(handle, head);
      group.add(hammer);
      break;
    }
    case "innkeeper": {
      part(new THREE.BoxGeometry(0.56, 0.6, 0.08), std(0xf2eee2), 0, 0.62, 0.33); // white apron
      part(new THREE.SphereGeometry(0.2, 12, 8), std(0x7a3b1e), 0, 1.7, -0.08); // hair bun
      const mug = part(new THREE.CylinderGeometry(0.08, 0.08, 0.18, 10), std(0xb08a4a), 0.42, 0.95, 0.18);
      mug.rotation.z = 0.1;
      break;
    }
    case "guard": {
      const steel = std(0x9aa3ad, { metalness: 0.7, roughness: 0.35 });
      part(new THREE.SphereGeometry(0.29, 14, 8, 0, Math.PI * 2, 0, Math.PI / 2), steel, 0, 1.62, 0); // helmet
      part(new THREE.CylinderGeometry(0.03, 0.03, 2.4, 6), std(0x6b4a2f), 0.48, 1.1, 0.1); // spear shaft
      part(new THREE.ConeGeometry(0.07, 0.28, 6), steel, 0.48, 2.42, 0.1);
      part(new THREE.BoxGeometry(0.44, 0.55, 0.06), std(0xb8a34a), -0.42, 0.85, 0.12).rotation.y = -0.5; // shield
      break;
    }
  }
  return group;
}
