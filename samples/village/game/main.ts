/// <reference lib="dom" />
// The village game's entry point, the same in Electron and in a plain browser: it takes the ParleyClient the
// Electron preload exposes as `window.parley`, else talks to the HTTP host (token from the URL) — both through
// Parley's client (parley-npc/host/client);
// asks it for the model note and the NPCs; builds the scene, the physics and the NPCs; feeds the host's
// events into the dialogue store, the bubbles and the overlay; and runs the loop on requestAnimationFrame
// with a fixed 60 Hz physics step.
//
// In browser mode a banner says so as soon as the host's event stream drops (the host stopped): without it
// the page would look alive until the next key press failed.
//
// Test hooks: `window.__village` (see VillageTestApi) moves the player without pointer lock and reads the
// game's state; `document.body.dataset.ready === "true"` once the first frame is drawn and
// `document.body.dataset.state` mirrors the dialogue status.

import * as THREE from "three";
import { createDialogueStore, type DialogueState } from "../../../plugin/store.js";
import { connectParley } from "../../../plugin/host/client.js";
import { placeNpcs, type ParleyClient, type HostEvent, type HostInfo, type NpcId } from "../village-npcs.js";
import { elementRect, type ScreenRect } from "./bubble-layout.js";
import { DialogueUI } from "./dialogue-ui.js";
import { VillageNpcs, figureHeight } from "./npcs.js";
import { Overlay } from "./overlay.js";
import { FIXED_DT, VillagePhysics, initPhysics } from "./physics.js";
import { Player, type CameraPlacement, type WalkResult } from "./player.js";
import { buildVillage } from "./scene.js";

/** Where the player starts: south of the well, looking north over the square. */
export const SPAWN = { x: 0, z: 3, yaw: 0 };

export interface NpcTestView {
  id: NpcId;
  name: string;
  role: string;
  position: [number, number, number];
  /** Inside the 3 m talk radius. */
  near: boolean;
  /** Its "Press E to talk to …" prompt is up. */
  promptVisible: boolean;
  /** In a conversation with the player. */
  talking: boolean;
  /** What its speech bubble shows ("" when hidden). */
  bubbleText: string;
  bubbleVisible: boolean;
  /** The last bark text the host sent for it, and how many barks it asked for. */
  barkText: string;
  barksRequested: number;
  /** Where its bubble was drawn last frame, in CSS pixels; null when hidden. */
  bubbleRect(): ScreenRect | null;
  /** Where its bubble would have been drawn last frame had no page panel been in the way. */
  bubbleHome(): ScreenRect | null;
  /** The screen rectangle its figure's vertices cover now, in CSS pixels (null when behind the camera). */
  figureRect(): ScreenRect | null;
  /** Height of its bubble's anchor above its feet, and of its figure's highest point. */
  bubbleHeight: number;
  figureHeight: number;
  /** Whether its bubble draws over the scene (no depth test). */
  bubbleOnTop: boolean;
}

/** Where the camera goes with the player at (x, z) looking along yaw/pitch, and what it sees through. */
export interface CameraCheck extends CameraPlacement {
  /** The first scene mesh between the look target and the camera's near plane, or null when clear. */
  blockedBy: string | null;
}

export interface VillageTestApi {
  player: {
    /** The player's feet (y is 0 on the ground). */
    position(): { x: number; y: number; z: number };
    /** Jumps to (x, z); `yaw` turns the camera (0 looks toward -Z). Talk sensors see it after the next step. */
    teleport(x: number, z: number, yaw?: number): void;
    /** Walks there through the character controller (collisions apply); resolves when arrived, stuck or timed out. */
    walkTo(x: number, z: number, options?: { tolerance?: number; timeoutMs?: number }): Promise<WalkResult>;
    /** Teleports to `distance` metres in front of the NPC (default 2), facing it. */
    approach(npc: NpcId, distance?: number): { x: number; z: number };
    /** Keys held (KeyboardEvent.code), and whether the player may move (false while a conversation runs). */
    keys(): string[];
    movementEnabled(): boolean;
  };
  npcs: NpcTestView[];
  /** The NPC whose "Press E" prompt is shown, or null. */
  promptNpc(): NpcId | null;
  /** What pressing E does (talks to the nearest NPC in range); false when nobody is in range. */
  interact(): boolean;
  /** The dialogue store's state (status, transcript, choices, bubble, …). */
  dialogue(): DialogueState;
  /** FPS, frame time, tokens/s, time to first token as the overlay shows them. */
  overlay(): ReturnType<Overlay["stats"]>;
  info: HostInfo | null;
  /** Frames rendered so far. */
  frames(): number;
  /** Every host event received, oldest first (last 500). */
  events: HostEvent[];
  /** The CSS font list the speech bubbles draw with. */
  bubbleFont: string;
  /** Shows `text` in an NPC's bubble as a bark would (what the host sends is model output; tests pick theirs). */
  showBark(npc: NpcId, text: string): void;
  /** Puts the player at (x, z) looking along yaw/pitch, places the camera and checks its view is clear. */
  cameraCheck(x: number, z: number, yaw: number, pitch?: number): CameraCheck;
}

declare global {
  interface Window {
    __village?: VillageTestApi;
  }
}

/** What the page says when the host cannot be reached: the browser's own "Failed to fetch" says nothing. */
export const HOST_GONE_MESSAGE = "The village host has stopped. Restart it with npm start and open the address it prints.";

function pickHost(): ParleyClient {
  return connectParley({ onConnectionChange: (connected) => showHostBanner(!connected), unreachableMessage: HOST_GONE_MESSAGE });
}

/** The "host has stopped" banner: up while the event stream is down, gone when it comes back. */
function showHostBanner(show: boolean): void {
  const banner = document.getElementById("host-banner");
  if (!banner) return;
  banner.textContent = HOST_GONE_MESSAGE;
  banner.classList.toggle("hidden", !show);
  document.body.dataset.host = show ? "gone" : "connected";
}

/** "high" or "low": `?quality=` in the URL, else low on a software rasteriser, else high. */
function pickQuality(): "high" | "low" {
  const asked = new URLSearchParams(location.search).get("quality");
  if (asked === "high" || asked === "low") return asked;
  try {
    const probe = document.createElement("canvas");
    const gl = (probe.getContext("webgl2") ?? probe.getContext("webgl")) as WebGLRenderingContext | null;
    if (!gl) return "low";
    const ext = gl.getExtension("WEBGL_debug_renderer_info");
    const name = String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
    gl.getExtension("WEBGL_lose_context")?.loseContext();
    return /swiftshader|llvmpipe|software|softpipe/i.test(name) ? "low" : "high";
  } catch {
    return "high";
  }
}

function showError(text: string): void {
  const banner = document.getElementById("error-banner");
  if (!banner) return;
  banner.textContent = text;
  banner.classList.remove("hidden");
}

async function boot(): Promise<void> {
  const overlay = new Overlay();
  let host: ParleyClient;
  try {
    host = pickHost();
  } catch (err) {
    overlay.setModelNote("no host");
    showError(err instanceof Error ? err.message : String(err));
    document.getElementById("loading")?.remove();
    return;
  }

  // Subscribe before anything can happen; events that arrive before the scene exists are queued.
  const pending: HostEvent[] = [];
  const events: HostEvent[] = [];
  let handle: ((event: HostEvent) => void) | null = null;
  host.subscribe((event) => {
    events.push(event);
    if (events.length > 500) events.shift();
    if (handle) handle(event);
    else pending.push(event);
  });

  // The emoji face is loaded before the bubbles draw: a canvas draws with what is loaded at that moment.
  const emoji = document.fonts.load('16px "Parley Emoji"', "\u{1F600}").catch(() => undefined);
  const [infoResult] = await Promise.allSettled([host.info(), initPhysics(), emoji]);
  let info: HostInfo | null = null;
  if (infoResult.status === "fulfilled") {
    info = infoResult.value;
    overlay.setModelNote(info.canGenerate ? info.modelNote : `${info.modelNote} — no model loaded: NPCs speak their authored lines`);
  } else {
    overlay.setModelNote("host unreachable");
    showError(`cannot reach the host: ${infoResult.reason instanceof Error ? infoResult.reason.message : String(infoResult.reason)}`);
  }
  await initPhysics();

  // Renderer and camera; a software rasteriser (SwiftShader, llvmpipe: headless browsers, VMs) gets the
  // low setting — no shadows, no MSAA, fewer pixels — so the page stays responsive.
  const quality = pickQuality();
  const container = document.getElementById("game-canvas")!;
  const renderer = new THREE.WebGLRenderer({ antialias: quality === "high", powerPreference: "high-performance" });
  renderer.setPixelRatio(quality === "high" ? Math.min(window.devicePixelRatio, 2) : 0.5);
  renderer.setSize(window.innerWidth, window.innerHeight);
  renderer.shadowMap.enabled = quality === "high";
  renderer.shadowMap.type = THREE.PCFShadowMap;
  renderer.toneMapping = THREE.ACESFilmicToneMapping;
  container.append(renderer.domElement);
  document.body.dataset.quality = quality;
  const camera = new THREE.PerspectiveCamera(60, window.innerWidth / window.innerHeight, 0.1, 300);
  window.addEventListener("resize", () => {
    camera.aspect = window.innerWidth / window.innerHeight;
    camera.updateProjectionMatrix();
    renderer.setSize(window.innerWidth, window.innerHeight);
  });

  // World, player, NPCs, dialogue.
  const physics = new VillagePhysics(SPAWN);
  const village = buildVillage(physics);
  const player = new Player(physics, camera, renderer.domElement, village.scene);
  player.teleport(SPAWN.x, SPAWN.z, SPAWN.yaw);
  const store = createDialogueStore();
  const npcs = new VillageNpcs(placeNpcs(info ?? undefined), village.scene, physics, store, host);
  const ui = new DialogueUI(host, store, npcs, player);

  handle = (event) => {
    switch (event.type) {
      case "dialogue":
        store.getState().apply(event.event);
        break;
      case "bark":
        npcs.showBark(event.npc as NpcId, event.text);
        break;
      case "stats":
        overlay.setGeneration(event.tokensPerSecond, event.firstTokenMs);
        break;
    }
  };
  for (const event of pending.splice(0)) handle(event);
  // Game events (give_item, open_shop): this sample has no inventory; they are taken so they do not pile up.
  store.subscribe((s) => {
    if (s.gameEvents.length > 0) s.takeGameEvents();
  });

  // Test hooks.
  const view = (n: (typeof npcs.list)[number]): NpcTestView => ({
    id: n.info.id,
    name: n.info.name,
    role: n.info.role,
    position: [...n.info.position],
    get near() {
      return n.actor.playerNear;
    },
    get promptVisible() {
      return n.actor.promptVisible;
    },
    get talking() {
      return n.actor.talking;
    },
    get bubbleText() {
      return n.actor.bubble?.visible ? n.actor.bubble.text : "";
    },
    get bubbleVisible() {
      return n.actor.bubble?.visible ?? false;
    },
    get barkText() {
      return n.barkText;
    },
    get barksRequested() {
      return n.barks;
    },
    bubbleRect: () => n.bubbleRect,
    bubbleHome: () => n.bubbleHome,
    figureRect: () => figureRect(n.actor.object),
    bubbleHeight: n.actor.bubble?.object.position.y ?? 0,
    figureHeight: figureHeight(n.actor.object),
    bubbleOnTop: n.actor.bubble?.object.material.depthTest === false,
  });
  const figureRect = (figure: THREE.Object3D): ScreenRect | null => {
    const v = new THREE.Vector3();
    let rect: ScreenRect | null = null;
    figure.updateWorldMatrix(true, true);
    camera.updateMatrixWorld();
    figure.traverse((o) => {
      const mesh = o as THREE.Mesh;
      if (!mesh.isMesh) return;
      const position = mesh.geometry.getAttribute("position");
      for (let i = 0; i < position.count; i++) {
        v.fromBufferAttribute(position, i).applyMatrix4(mesh.matrixWorld).applyMatrix4(camera.matrixWorldInverse);
        if (v.z >= 0) continue;
        v.applyMatrix4(camera.projectionMatrix);
        const x = ((v.x + 1) / 2) * window.innerWidth;
        const y = ((1 - v.y) / 2) * window.innerHeight;
        rect =
          rect === null
            ? { left: x, top: y, right: x, bottom: y }
            : { left: Math.min(rect.left, x), top: Math.min(rect.top, y), right: Math.max(rect.right, x), bottom: Math.max(rect.bottom, y) };
      }
    });
    return rect;
  };

  let frames = 0;
  window.__village = {
    player: {
      position: () => player.position(),
      teleport: (x, z, yaw) => player.teleport(x, z, yaw),
      walkTo: (x, z, options) => player.walkTo(x, z, options),
      approach(id, distance = 2) {
        const npc = npcs.get(id);
        if (!npc) throw new Error(`no NPC ${id}`);
        const [nx, , nz] = npc.info.position;
        const x = nx + Math.sin(npc.info.facing) * distance;
        const z = nz + Math.cos(npc.info.facing) * distance;
        player.teleport(x, z);
        player.face(nx, nz);
        return { x, z };
      },
      keys: () => player.heldKeys(),
      movementEnabled: () => player.movementEnabled,
    },
    npcs: npcs.list.map(view),
    promptNpc: () => (ui.promptNpc ? ui.promptNpc.info.id : null),
    interact: () => ui.interact(),
    dialogue: () => store.getState(),
    overlay: () => overlay.stats(),
    info,
    frames: () => frames,
    events,
    bubbleFont: npcs.bubbleFont,
    showBark: (id, text) => npcs.showBark(id, text),
    cameraCheck(x, z, yaw, pitch) {
      if (pitch !== undefined) player.pitch = pitch;
      player.teleport(x, z, yaw);
      const placed = player.placement;
      // Everything solid the camera could look through: the scene's meshes less the player and the NPCs
      // (figures stand in the open, and the player's own is hidden when the camera comes close).
      const solid: THREE.Object3D[] = [];
      village.scene.traverse((o) => {
        if ((o as THREE.Mesh).isMesh) solid.push(o);
      });
      const skip = new Set<THREE.Object3D>();
      for (const root of [player.figure, ...npcs.list.map((n) => n.actor.object)]) root.traverse((o) => skip.add(o));
      const from = new THREE.Vector3(placed.target.x, placed.target.y, placed.target.z);
      const to = new THREE.Vector3(placed.position.x, placed.position.y, placed.position.z);
      const length = from.distanceTo(to);
      // On past the camera to its near plane (0.1 m behind it along this line): what is that close is in view.
      const ray = new THREE.Raycaster(
        from,
        length > 1e-6 ? to.clone().sub(from).normalize() : new THREE.Vector3(placed.back.x, placed.back.y, placed.back.z),
        0,
        length + camera.near,
      );
      const hit = ray.intersectObjects(
        solid.filter((o) => !skip.has(o)),
        false,
      )[0];
      const what = hit
        ? `${(hit.object as THREE.Mesh).geometry.type} at (${hit.object
            .getWorldPosition(new THREE.Vector3())
            .toArray()
            .map((c) => c.toFixed(2))
            .join(", ")}), ${hit.distance.toFixed(2)} m from the target`
        : null;
      return { ...placed, blockedBy: what };
    },
  };

  // The page's panels over the canvas that speech bubbles must not hide under.
  const panels = ["overlay", "help", "host-banner", "error-banner"].map((id) => document.getElementById(id));
  const keepOut = (): ScreenRect[] => panels.map(elementRect).filter((r): r is ScreenRect => r !== null);

  // The loop: fixed physics steps, then per-frame updates and the render.
  const clock = { last: performance.now(), accumulator: 0, time: 0 };
  const frame = (now: number) => {
    const dt = Math.min(0.1, Math.max(0, (now - clock.last) / 1000));
    clock.last = now;
    clock.accumulator += dt;
    clock.time += dt;
    let steps = 0;
    while (clock.accumulator >= FIXED_DT && steps < 6) {
      player.step(FIXED_DT);
      physics.step();
      clock.accumulator -= FIXED_DT;
      steps++;
    }
    if (steps === 6) clock.accumulator = 0;
    player.update(dt, clock.time);
    npcs.update(dt, player.center(), camera, { width: window.innerWidth, height: window.innerHeight }, keepOut());
    ui.updatePrompt();
    village.update(dt, clock.time);
    renderer.render(village.scene, camera);
    overlay.frame(now);
    frames++;
    if (frames === 1) {
      document.getElementById("loading")?.remove();
      document.body.dataset.ready = "true";
    }
    requestAnimationFrame(frame);
  };
  // One step so the sensors know where the player is before the first frame.
  physics.step();
  requestAnimationFrame(frame);
}

boot().catch((err: unknown) => {
  console.error(err);
  showError(`the village failed to start: ${err instanceof Error ? err.message : String(err)}`);
  document.getElementById("loading")?.remove();
});
