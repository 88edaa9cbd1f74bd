// parley-npc/plugin/three: Parley's NPC dialogue in a three.js scene with rapier physics — the talk radius,
// the speech bubble, the NPC actor tying them to the dialogue store, and ambient barks.

export { createTalkSensor, type TalkSensor, type TalkSensorEvent, type TalkSensorListener, type TalkSensorOptions, type Vector3Like } from "./talk-sensor.js";
export {
  SpeechBubble,
  createCanvasBubbleRenderer,
  wrapText,
  DEFAULT_BUBBLE_STYLE,
  type BubbleLayout,
  type BubbleRenderer,
  type BubbleStyle,
  type Canvas2DLike,
  type CanvasBubbleRendererOptions,
  type CanvasLike,
  type SpeechBubbleOptions,
} from "./speech-bubble.js";
export { NpcActor, type LookAtMode, type NpcActorEvent, type NpcActorListener, type NpcActorOptions } from "./npc-actor.js";
export {
  Barks,
  type ActiveBark,
  type BarkBubble,
  type BarkEvent,
  type BarkFailure,
  type BarkGenerator,
  type BarkListener,
  type BarkResult,
  type BarkSource,
  type BarkSpeaker,
  type BarksOptions,
} from "./barks.js";
