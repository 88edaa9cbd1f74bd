// Where the village keeps its save slots: PARLEY_SAVE_DIR, else $XDG_DATA_HOME/parley/village, else
// ~/.local/share/parley/village (saves are the player's data, not a cache: they live under the XDG data
// folder, never beside models and pipeline caches that may be wiped). One JSON file a slot: slot-NAME.json.
import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { InvalidArgumentError } from "../../../runtime/errors.js";

/** The save file of `slot` (letters, digits, - and _; at most 32). */
export function villageSavePath(slot: string, env: NodeJS.ProcessEnv = process.env): string {
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(slot)) {
    throw new InvalidArgumentError(`save slot must be 1-32 letters, digits, - or _, got ${JSON.stringify(slot)}`);
  }
  let base: string;
  if (env.PARLEY_SAVE_DIR) base = resolve(env.PARLEY_SAVE_DIR);
  else if (env.XDG_DATA_HOME && isAbsolute(env.XDG_DATA_HOME)) base = join(env.XDG_DATA_HOME, "parley", "village");
  else base = join(homedir(), ".local", "share", "parley", "village");
  return join(base, `slot-${slot}.json`);
}
