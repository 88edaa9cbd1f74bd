/// <reference lib="dom" />
// The village game's entry point, the same in Electron and in a plain browser: it takes the GameHost the
// Electron preload exposes as `window.parley`, else talks to the HTTP host (HttpHost, token from the URL);
// asks it for the model note and the NPCs; builds the scene, the physics and the NPCs; feeds the host's
// events into the dialogue store, the bubbles and the overlay; and runs the loop on requestAnimationFrame
// with a fixed 60 Hz physics step.
//
// Test hooks: `window.__village` (see VillageTestApi) moves the player without pointer lock and reads the
// game's state; `document.body.dataset.ready === "true"` once the first frame is drawn and
// `document.body.dataset.state` mirrors the dialogue status.

import * as THREE from "three";
import { createDialogueStore, type DialogueState } from "../../../plugin/store.js";
import { HttpHost } from "../host/http-client.js";
import { VILLAGE_NPCS, type GameHost, type HostEvent, type HostInfo, type NpcId } from "../protocol.js";
import { DialogueUI } from "./dialogue-ui.js";
import { VillageNpcs } from "./npcs.js";
import { Overlay } from "./overlay.js";
import { FIXED_DT, VillagePhysics, initPhysics } from "./physics.js";
import { Player, type WalkResult } from "./player.js";
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
}

declare global {
  interface Window {
    /** The Electron preload's GameHost. */
    parley?: GameHost;
    __village?: VillageTestApi;
  }
}

function pickHost(): GameHost {
  return window.parley ?? new HttpHost();
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
  let host: GameHost;
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

  const [infoResult] = await Promise.allSettled([host.info(), initPhysics()]);
  let info: HostInfo | null = null;
  if (infoResult.status === "fulfilled") {
    info = infoResult.value;
    overlay.setModelNote(
      info.canGenerate ? info.modelNote : `${info.modelNote} — no model loaded: NPCs speak their authored lines`,
    );
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
  const npcInfos = info && info.npcs.length > 0 ? info.npcs : VILLAGE_NPCS;
  const npcs = new VillageNpcs(npcInfos, village.scene, physics, store, host);
  const ui = new DialogueUI(host, store, npcs, player);

  handle = (event) => {
    switch (event.type) {
      case "dialogue":
        store.getState().apply(event.event);
        break;
      case "bark":
        npcs.showBark(event.npc, event.text);
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
  });
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
  };

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
    npcs.update(dt, player.center(), camera);
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
