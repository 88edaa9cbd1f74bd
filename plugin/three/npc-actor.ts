// An NPC in a three.js scene: ties an Object3D to a character, its talk sensor, its speech bubble and the
// dialogue store.
//
//   const smith = new NpcActor(smithMesh, { characterId: "smith", sensor, bubble: new SpeechBubble() });
//   smith.bind(dialogue);                                   // the bubble shows the smith's lines
//   smith.subscribe((e) => { if (e.type === "prompt") hud.showPrompt(e.visible ? e.text : null); });
//   // each frame, after world.step():
//   smith.update(dt, player.position, camera);
//   if (keyPressed("E") && smith.promptVisible) startConversation("smith");
//
// The actor turns to face the player (about the Y axis, at a bounded angular speed) while the player is
// near or talking to it, and back to where it faced at the start once the player has gone. It shows
// "Press E to talk" (`promptVisible`, and a "prompt" event) while the player is inside the talk radius and
// no conversation is running; the game's UI draws it.

import { Vector3, type Object3D } from "three";
import { isConversationActive, type DialogueState, type DialogueStore } from "../store.js";
import type { SpeechBubble } from "./speech-bubble.js";
import type { TalkSensor, Vector3Like } from "./talk-sensor.js";

export type NpcActorEvent = { type: "player_enter" } | { type: "player_leave" } | { type: "prompt"; visible: boolean; text: string };

export type NpcActorListener = (event: NpcActorEvent) => void;

/** When the actor turns to the player: only in conversation, also when the player is near, or never. */
export type LookAtMode = "talking" | "near" | "never";

export interface NpcActorOptions {
  /** The character this NPC plays: the conversations with this character id are its own. */
  characterId: string;
  /** Its talk radius. The actor updates it and moves it along when the object moves. */
  sensor: TalkSensor;
  /** Added to the object at `headHeight`; shows the NPC's lines. */
  bubble?: SpeechBubble | null;
  /** Height of the bubble's anchor above the object's origin, in the object's units (default 2.1). */
  headHeight?: number;
  /** Turning speed in radians per second (default 4). */
  turnSpeed?: number;
  lookAt?: LookAtMode;
  /** Turn back to the starting yaw when the player is gone (default true). */
  returnToRest?: boolean;
  /** Yaw of the model's front, from +Z toward +X, for models that do not face +Z (π/2 for +X; default 0). */
  facingOffset?: number;
  /** Default "Press E to talk". */
  promptText?: string;
}

const EPSILON = 1e-4;

export class NpcActor {
  readonly object: Object3D;
  readonly characterId: string;
  readonly sensor: TalkSensor;
  readonly bubble: SpeechBubble | null;
  promptText: string;
  turnSpeed: number;
  lookAt: LookAtMode;
  returnToRest: boolean;
  /** The yaw it turns back to; the object's yaw at construction. */
  restYaw: number;
  readonly facingOffset: number;

  private readonly listeners = new Set<NpcActorListener>();
  private readonly unsubscribeSensor: () => void;
  private unbindStore: (() => void) | null = null;
  private near = false;
  private prompt = false;
  private isTalking = false;
  private anyConversation = false;
  private readonly sensorPosition = new Vector3(Number.NaN, 0, 0);

  constructor(object: Object3D, options: NpcActorOptions) {
    this.object = object;
    this.characterId = options.characterId;
    this.sensor = options.sensor;
    this.bubble = options.bubble ?? null;
    this.promptText = options.promptText ?? "Press E to talk";
    this.turnSpeed = options.turnSpeed ?? 4;
    this.lookAt = options.lookAt ?? "near";
    this.returnToRest = options.returnToRest ?? true;
    this.facingOffset = options.facingOffset ?? 0;
    this.restYaw = object.rotation.y;
    if (this.bubble) {
      this.bubble.object.position.set(0, options.headHeight ?? 2.1, 0);
      object.add(this.bubble.object);
    }
    this.near = this.sensor.inside;
    this.unsubscribeSensor = this.sensor.subscribe((event) => {
      this.near = event.type === "enter";
      this.emit({ type: event.type === "enter" ? "player_enter" : "player_leave" });
      this.refreshPrompt();
    });
    this.refreshPrompt();
  }

  /** The player is inside the talk radius. */
  get playerNear(): boolean {
    return this.near;
  }

  /** "Press E to talk" is to be shown. */
  get promptVisible(): boolean {
    return this.prompt;
  }

  /** A conversation with this actor's character is running in the bound store. */
  get talking(): boolean {
    return this.isTalking;
  }

  /**
   * Follows a dialogue store: while a conversation with this character runs, the bubble shows its lines
   * as they stream and stays up; when it ends the last line fades. Returns the unbind function.
   */
  bind(store: DialogueStore): () => void {
    this.unbindStore?.();
    const unsubscribe = store.subscribe((state, previous) => this.onState(state, previous));
    this.onState(store.getState(), null);
    const unbind = () => {
      unsubscribe();
      if (this.unbindStore !== unbind) return;
      this.unbindStore = null;
      this.isTalking = false;
      this.anyConversation = false;
      if (this.bubble) this.bubble.sticky = false;
      this.refreshPrompt();
    };
    this.unbindStore = unbind;
    return unbind;
  }

  subscribe(listener: NpcActorListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Per frame, after the physics step: updates the talk sensor (and moves it with the object), turns
   * toward `playerPosition` (world space), and fades the bubble (scaled for `camera` if it is set up so).
   */
  update(dt: number, playerPosition: Vector3Like, camera?: Object3D): void {
    this.object.getWorldPosition(worldPosition);
    if (!(worldPosition.distanceToSquared(this.sensorPosition) < EPSILON * EPSILON)) {
      this.sensorPosition.copy(worldPosition);
      this.sensor.setPosition(worldPosition);
    }
    this.sensor.update();
    this.turn(dt, playerPosition);
    this.bubble?.update(dt, camera);
  }

  dispose(): void {
    this.unbindStore?.();
    this.unsubscribeSensor();
    this.listeners.clear();
    this.bubble?.dispose();
  }

  private turn(dt: number, playerPosition: Vector3Like): void {
    const facePlayer = this.lookAt === "near" ? this.near || this.isTalking : this.lookAt === "talking" ? this.isTalking : false;
    let target: number;
    if (facePlayer) {
      // The player's position in the object's parent space, where rotation.y is measured.
      lookTarget.set(playerPosition.x, playerPosition.y, playerPosition.z);
      const parent = this.object.parent;
      if (parent) {
        parent.updateWorldMatrix(true, false);
        parent.worldToLocal(lookTarget);
      }
      const dx = lookTarget.x - this.object.position.x;
      const dz = lookTarget.z - this.object.position.z;
      if (dx * dx + dz * dz < EPSILON) return;
      target = Math.atan2(dx, dz) - this.facingOffset;
    } else if (this.returnToRest) {
      target = this.restYaw;
    } else {
      return;
    }
    const current = this.object.rotation.y;
    const diff = wrapAngle(target - current);
    const maxStep = this.turnSpeed * dt;
    this.object.rotation.y = Math.abs(diff) <= maxStep ? current + diff : current + Math.sign(diff) * maxStep;
  }

  private onState(state: DialogueState, previous: DialogueState | null): void {
    const mine = state.conversation !== null && state.conversation.characterId === this.characterId;
    this.isTalking = mine && isConversationActive(state);
    this.anyConversation = isConversationActive(state);
    if (this.bubble && mine) {
      this.bubble.sticky = this.isTalking;
      // On binding, only a running conversation's line is shown (not the last line of an old one).
      const changed = previous === null ? this.isTalking : previous.conversation?.id !== state.conversation?.id || previous.bubble !== state.bubble;
      if (changed) this.bubble.setText(state.bubble);
    } else if (this.bubble && previous?.conversation?.characterId === this.characterId) {
      // Its conversation was replaced by one with another character (or the store was reset).
      this.bubble.sticky = false;
    }
    this.refreshPrompt();
  }

  private refreshPrompt(): void {
    const visible = this.near && !this.isTalking && !this.anyConversation;
    if (visible === this.prompt) return;
    this.prompt = visible;
    this.emit({ type: "prompt", visible, text: this.promptText });
  }

  private emit(event: NpcActorEvent): void {
    for (const listener of [...this.listeners]) listener(event);
  }
}

/** The same angle in [-π, π). */
function wrapAngle(angle: number): number {
  const a = (angle + Math.PI) % (2 * Math.PI);
  return (a < 0 ? a + 2 * Math.PI : a) - Math.PI;
}

const worldPosition = new Vector3();
const lookTarget = new Vector3();
