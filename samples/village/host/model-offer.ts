// npm start's side of the runtime's download offer (runtime/models/offer.ts): when the village would run
// its demo model or the random-weight stand-in, ask on the terminal (when there is one), print progress to
// stderr, and resolve again so the downloaded model (now in the models folder) is the one that runs.
import { offerModelDownload, shouldOfferDownload, type ModelOfferOptions, type ResolvedModel } from "../../../runtime/models/index.js";
import { resolveVillageModel } from "./model-resolution.js";

export type VillageOfferOptions = Partial<ModelOfferOptions>;

/** The model to run: `resolved`, or the freshly downloaded one when the player accepted the offer. */
export async function offerRealModel(resolved: ResolvedModel, options: VillageOfferOptions = {}): Promise<ResolvedModel> {
  if (!shouldOfferDownload(resolved)) return resolved;
  const log = options.log ?? ((line: string) => console.log(line));
  let progressShown = false;
  let downloaded: string | null;
  try {
    downloaded = await offerModelDownload({
      ...options,
      interactive: options.interactive ?? (process.stdin.isTTY === true && process.stdout.isTTY === true),
      ask: options.ask ?? askYesNo,
      log,
      onProgress:
        options.onProgress ??
        ((fraction) => {
          progressShown = true;
          process.stderr.write(`\rdownloading: ${(fraction * 100).toFixed(1)}%`);
        }),
    });
  } catch (error) {
    if (progressShown) process.stderr.write("\n");
    log(`download skipped: ${(error as Error).message}`);
    return resolved;
  }
  if (progressShown) process.stderr.write("\n");
  if (!downloaded) return resolved;
  const again = await resolveVillageModel({ env: options.env });
  return again.path === downloaded ? again : resolveVillageModel({ model: downloaded, env: options.env });
}

async function askYesNo(question: string): Promise<boolean> {
  const { createInterface } = await import("node:readline/promises");
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}
