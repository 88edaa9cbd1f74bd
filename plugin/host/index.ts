// parley-npc/host: the host process's side of a game's conversations. ConversationHost runs NPCs (from code or
// a project folder) on the model; startHttpHost serves it to a browser page on 127.0.0.1. The Electron helper
// is parley-npc/host/electron, its preload bridge parley-npc/host/preload, and the page-side client
// parley-npc/host/client.

export { ConversationHost, type ConversationHostOptions, type ConversationView } from "./conversation-host.js";
export { NpcList, type NpcData, type NpcDefinition, type NpcSource } from "./npc-source.js";
export { ProjectNpcs, type ProjectNpcsOptions } from "./project-npcs.js";
export { hostRoutes, startHttpHost, HOST_MAX_BODY_BYTES, type HttpHostOptions, type LoopbackServer } from "./http-host.js";
export { describeHostError, type HostErrorReport } from "./host-errors.js";
export * from "./protocol.js";
