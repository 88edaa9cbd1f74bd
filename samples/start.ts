// `npm start`: the playable sample village. In Electron when its binary is installed (and a display is
// there), otherwise served to a browser from this process on 127.0.0.1 with a per-run token.
//
//   npm start                        Electron if available, else browser mode
//   npm start -- --browser           browser mode: prints http://127.0.0.1:PORT/?token=…
//   npm start -- --model FILE        a GGUF model (else PARLEY_MODEL, else the models folder, else the demo model)
//   npm start -- --port N            browser mode's port (default: a free one)
//   npm start -- --device D          Vulkan device index or name substring (also PARLEY_DEVICE)
//   npm start -- --slot NAME         save slot (default 1): game state and NPC memories persist in it
//   npm start -- --new-game          start the slot afresh (its old save is replaced when you next talk)
//   npm start -- --project DIR       the NPCs' characters and dialogue from a project folder, watched: a
//                                    file saved in the editor is used from the next conversation on

import { statSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { ParleyError } from "../runtime/errors.js";
import type { ResolvedModel } from "../runtime/models/index.js";
import { buildVillage } from "./village/build.js";
import { chooseShell, findElectron, hasDisplay } from "../runtime/host/electron/find-electron.js";
import { runElectron } from "../runtime/host/electron/spawn-electron.js";
import { bundleShell, electronArgs } from "./village/electron/launch.js";
import { startHttpHost } from "../plugin/host/http-host.js";
import { offerRealModel } from "./village/host/model-offer.js";
import { resolveVillageModel } from "./village/host/model-resolution.js";
import { createVillageHost } from "./village/host/village-host.js";
import { villageSavePath } from "./village/host/save-slot.js";

const USAGE = `usage: npm start -- [--browser] [--model FILE] [--port N] [--device D] [--slot NAME] [--new-game] [--project DIR]
  --browser      serve the game to a browser even when Electron is installed
  --model FILE   GGUF model to run (else PARLEY_MODEL, else the models folder, else the demo model)
  --port N       port on 127.0.0.1 for browser mode (default: any free port)
  --device D     Vulkan device index or name substring (default: PARLEY_DEVICE or the best device)
  --slot NAME    save slot (default 1): variables and NPC memories, kept in PARLEY_SAVE_DIR or ~/.local/share/parley/village
  --new-game     start the slot afresh
  --project DIR  load the NPCs from a project folder (default samples/village) and watch it for changes`;

const color = process.stdout.isTTY && !process.env.NO_COLOR;
const dim = (text: string): string => (color ? `\x1b[2m${text}\x1b[22m` : text);
const bold = (text: string): string => (color ? `\x1b[1m${text}\x1b[22m` : text);

interface Flags {
  browser: boolean;
  model?: string;
  port: number;
  device?: string;
  saveFile: string;
  newGame: boolean;
  /** `--project DIR`, absolute; undefined: the village's own folder, read once. */
  project?: string;
}

function parseFlags(): Flags {
  const { values } = parseArgs({
    options: {
      browser: { type: "boolean", default: false },
      model: { type: "string" },
      port: { type: "string" },
      device: { type: "string" },
      slot: { type: "string", default: "1" },
      "new-game": { type: "boolean", default: false },
      project: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a port number (0-65535), got ${values.port}`);
  let saveFile: string;
  try {
    saveFile = villageSavePath(values.slot ?? "1");
  } catch (error) {
    throw new UsageError(`--slot: ${(error as Error).message}`);
  }
  let project: string | undefined;
  if (values.project !== undefined) {
    // npm runs scripts from the package folder; a relative DIR means relative to where npm was run.
    project = resolve(process.env.INIT_CWD ?? process.cwd(), values.project);
    if (!statSync(project, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`--project: no folder at ${project}`);
  }
  return { browser: values.browser ?? false, model: values.model, port, device: values.device, saveFile, newGame: values["new-game"] ?? false, project };
}

class UsageError extends Error {}

/** Runs the village in Electron; resolves with its exit code, or null when Electron could not start. */
async function runInElectron(electronPath: string, gameDir: string, model: ResolvedModel, flags: Flags): Promise<number | null> {
  const bundle = await bundleShell();
  const args = electronArgs(bundle, {
    gameDir,
    resolved: model,
    noSandbox: process.getuid?.() === 0,
    saveFile: flags.saveFile,
    newGame: flags.newGame,
    project: flags.project,
  });
  const env: NodeJS.ProcessEnv = { ...process.env, ...(flags.device !== undefined ? { PARLEY_DEVICE: flags.device } : {}) };
  return runElectron(electronPath, args, env, (error) => console.error(dim(`Electron could not start (${error.message}); using browser mode`)));
}

async function runBrowser(gameDir: string, model: ResolvedModel, flags: Flags): Promise<void> {
  const service = await createVillageHost({
    resolved: model,
    device: flags.device,
    saveFile: flags.saveFile,
    newGame: flags.newGame,
    ...(flags.project !== undefined ? { dataDir: flags.project, live: true } : {}),
  });
  let host: Awaited<ReturnType<typeof startHttpHost>>;
  try {
    // esbuild's metafile lists local paths: build leftovers are not part of the game.
    host = await startHttpHost(service, { port: flags.port, staticDir: gameDir, hideStatic: (path) => path.endsWith(".meta.json"), label: "village host" });
  } catch (error) {
    await service.dispose();
    if ((error as NodeJS.ErrnoException).code === "EADDRINUSE") throw new UsageError(`port ${flags.port} is in use; pick another with --port or leave it out`);
    throw error;
  }
  console.log(`${bold("Parley village:")} ${host.url}`);
  console.log(dim(service.modelNote));
  if (flags.project !== undefined) console.log(dim(`NPCs from ${flags.project} (watched: saved changes apply at the next conversation)`));
  console.log(dim("Open the URL in a browser (it carries this run's token). Ctrl-C stops the host."));

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      process.exit(130); // a second Ctrl-C: do not wait any longer
    }
    stopping = true;
    console.log(dim(`\nstopping (${signal})…`));
    void (async () => {
      await host.close();
      await service.dispose();
      process.exit(0);
    })();
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

async function main(): Promise<void> {
  const flags = parseFlags();
  // Nothing real installed (the demo model or the stand-in): when online, offer TinyLlama (the demo model
  // stays the offline default).
  const model = await offerRealModel(await resolveVillageModel({ model: flags.model }), { log: (line) => console.log(dim(line)) });
  const gameDir = await buildVillage();

  const shell = chooseShell({ browser: flags.browser, electron: findElectron(), display: hasDisplay() });
  if (shell.mode === "electron") {
    console.log(dim(`Parley village in Electron — ${model.note}`));
    const code = await runInElectron(shell.electronPath, gameDir, model, flags);
    if (code !== null) {
      process.exitCode = code;
      return;
    }
  } else if (!flags.browser) {
    console.log(dim(`${shell.reason}: serving the village to a browser instead`));
  }
  await runBrowser(gameDir, model, flags);
}

main().catch((error: unknown) => {
  if (error instanceof UsageError || (error instanceof TypeError && (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS"))) {
    console.error(`parley village: ${error.message}\n${USAGE}`);
    process.exit(2);
  }
  if (error instanceof ParleyError) {
    console.error(`parley village: ${error.message}`);
    process.exit(1);
  }
  console.error("parley village:", error);
  process.exit(1);
});
