// The village's conversation host: Parley's ConversationHost (parley-npc/host) with what is the village's own —
// its three NPCs from its project folder, the model it resolves (its demo model as the fallback), kernel
// tuning on a GPU during the loading screen, the weather and time of day in prompts, and the player's name as
// the innkeeper asks for it. The browser mode, the Electron shell and the terminal chat all run one.
//
//   const host = await createVillageHost({ model: "tinyllama.gguf" });
//   host.subscribe((event) => ...);   await host.start("blacksmith");   await host.dispose();

import { fileURLToPath } from "node:url";
import { InvalidArgumentError } from "../../../runtime/errors.js";
import type { Model } from "../../../runtime/model.js";
import type { ResolvedModel } from "../../../runtime/models/index.js";
import { describeTuning } from "../../../runtime/tuning/settings.js";
import { ConversationHost, type ConversationHostOptions } from "../../../plugin/host/index.js";
import type { Value } from "../../../plugin/index.js";
import { VILLAGE_NPCS } from "../village-npcs.js";
import { resolveVillageModel } from "./model-resolution.js";

export interface VillageHostOptions {
  /** `--model FILE` (see resolveVillageModel). */
  model?: string;
  /** Vulkan device index or name substring (`--device`); default: PARLEY_DEVICE or the best device. */
  device?: string;
  /** Makes conversations repeatable: conversation n uses seed + n. Default: random. */
  seed?: number;
  /** Environment for model resolution (PARLEY_MODEL, PARLEY_MODELS). Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** An already resolved model (skips resolveVillageModel). */
  resolved?: ResolvedModel;
  /** Skip the model: authored lines only. */
  noModel?: boolean;
  /** Folder holding characters/ and dialogue/ (default: samples/village). */
  dataDir?: URL | string;
  /** Watch dataDir: a saved change is taken at the next conversation (`npm start -- --project DIR`). */
  live?: boolean;
  /** Where warnings and reload notes go (default console.warn). */
  log?: (line: string) => void;
  /** Seconds before the same NPC may bark again (default 20). */
  barkCooldown?: number;
  /** Seconds a generated bark may take before an authored line replaces it (default 8). */
  barkTimeout?: number;
  /** Clock in milliseconds (tests). Default Date.now. */
  now?: () => number;
  /** The save slot's file (villageSavePath); without it the village remembers only while the process runs. */
  saveFile?: string;
  /** Start the slot afresh: its file is not read (and is replaced at the next save). */
  newGame?: boolean;
}

const WEATHER = ["clear skies", "light rain", "overcast", "a cold wind from the north"];

export async function createVillageHost(options: VillageHostOptions = {}): Promise<ConversationHost> {
  if (options.seed !== undefined && !Number.isSafeInteger(options.seed)) throw new InvalidArgumentError(`seed must be an integer, got ${options.seed}`);
  const dataDir = options.dataDir ?? new URL("../", import.meta.url);
  const now = options.now ?? Date.now;
  const weather = WEATHER[(options.seed ?? Math.floor(Math.random() * 1000)) % WEATHER.length];
  const resolved = options.noModel ? undefined : (options.resolved ?? (await resolveVillageModel({ model: options.model, env: options.env })));
  const hostOptions: ConversationHostOptions = {
    project: typeof dataDir === "string" ? dataDir : fileURLToPath(dataDir),
    live: options.live,
    requireNpcs: VILLAGE_NPCS.map((n) => n.id),
    model: resolved?.path,
    modelNote: resolved?.note,
    device: options.device,
    contextSize: 2048,
    onModelLoaded: (model, runtime) => tuneForThisGpu(model, runtime.device.type),
    seed: options.seed,
    saveFile: options.saveFile,
    newGame: options.newGame,
    world: (): Record<string, Value> => ({ time: timeOfDay(new Date(now())), weather }),
    playerName: (host, conversation) => {
      // The innkeeper asks for the name and keeps it in her graph's `player_name`: the running conversation
      // has it as soon as it is typed, the save after the conversation.
      const live = conversation?.variables.player_name;
      if (typeof live === "string" && live.trim() !== "") return live;
      const saved = host.save.variablesFor(host.npc("innkeeper").graph).player_name;
      return typeof saved === "string" ? saved : undefined;
    },
    barkCooldown: options.barkCooldown,
    barkTimeout: options.barkTimeout,
    now: options.now,
    log: options.log,
  };
  return ConversationHost.create(hostOptions);
}

function timeOfDay(date: Date): string {
  const h = date.getHours();
  if (h < 5) return "night";
  if (h < 12) return "morning";
  if (h < 17) return "afternoon";
  if (h < 21) return "evening";
  return "night";
}

/**
 * On a GPU, the loading screen's shader warm-up: times the kernels' settings for this device once (Model.tune
 * stores the result, so later launches apply it without measuring) and says what it chose. CPU Vulkan
 * drivers keep their measured defaults (timing there takes longer than it saves). A tuning that fails leaves
 * the defaults: the village still talks.
 */
export async function tuneForThisGpu(model: Model, deviceType: string): Promise<string> {
  if (deviceType === "cpu") return "";
  try {
    const r = await model.tune();
    const d = r.decode;
    const gain = d.msPerToken && d.defaultMsPerToken ? `, decode ${(d.defaultMsPerToken / d.msPerToken).toFixed(2)}× the defaults` : "";
    return ` (kernels: ${describeTuning(r.tuning)}${gain})`;
  } catch (error) {
    return ` (kernel tuning failed, defaults kept: ${error instanceof Error ? error.message : String(error)})`;
  }
}
