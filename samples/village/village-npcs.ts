// The village's NPCs as the game places them: which characters of the village's project stand where. The
// conversation protocol between the game and its host is Parley's own (parley-npc/host); this file adds only
// what belongs to the village's world.

import type { HostInfo, NpcInfo } from "../../plugin/host/protocol.js";

export { MAX_INPUT_CHARS, type BarkResult, type HostEvent, type HostInfo, type ParleyClient } from "../../plugin/host/protocol.js";

export type NpcId = "blacksmith" | "innkeeper" | "guard";

/** An NPC of the village: the host's NpcInfo with where it stands. */
export interface VillageNpcInfo extends Omit<NpcInfo, "id" | "graph"> {
  id: NpcId;
  /** Where the NPC stands in the village (x, z on the ground plane; y up). */
  position: [number, number, number];
  /** Facing, radians about +Y. */
  facing: number;
  /** A color for the placeholder figure. */
  color: string;
}

/** The village's NPCs and where they stand (the host requires these ids; the game places them). */
export const VILLAGE_NPCS: readonly VillageNpcInfo[] = [
  { id: "blacksmith", name: "Brom Ironhand", role: "blacksmith", position: [-8, 0, -4], facing: Math.PI / 4, color: "#8a4b2a" },
  { id: "innkeeper", name: "Maren Bell", role: "innkeeper", position: [6, 0, -6], facing: -Math.PI / 4, color: "#6a2f6b" },
  { id: "guard", name: "Captain Hale", role: "guard", position: [0, 0, 10], facing: Math.PI, color: "#2f4f7a" },
];

/** The village's NPCs with the names and roles the host's project gives them (a writer may rename them). */
export function placeNpcs(info: HostInfo | undefined): VillageNpcInfo[] {
  return VILLAGE_NPCS.map((placed) => {
    const npc = info?.npcs.find((n) => n.id === placed.id);
    return { ...placed, position: [...placed.position], ...(npc ? { name: npc.name, role: npc.role } : {}) };
  });
}
