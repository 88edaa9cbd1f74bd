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

import { spawn } from "node:child_process";
import { parseArgs } from "node:util";
import { ParleyError } from "../runtime/errors.js";
import type { ResolvedModel } from "../runtime/models/index.js";
import { buildVillage } from "./village/build.js";
import { bundleShell, electronArgs, findElectron } from "./village/electron/launch.js";
import { startHttpHost } from "./village/host/http-host.js";
import { offerRealModel } from "./village/host/model-offer.js";
import { resolveVillageModel } from "./village/host/model-resolution.js";
import { VillageService } from "./village/host/village-service.js";
import { villageSavePath } from "./village/host/save-slot.js";

const USAGE = `usage: npm start -- [--browser] [--model FILE] [--port N] [--device D] [--slot NAME] [--new-game]
  --browser      serve the game to a browser even when Electron is installed
  --model FILE   GGUF model to run (else PARLEY_MODEL, else the models folder, else the demo model)
  --port N       port on 127.0.0.1 for browser mode (default: any free port)
  --device D     Vulkan device index or name substring (default: PARLEY_DEVICE or the best device)
  --slot NAME    save slot (default 1): variables and NPC memories, kept in PARLEY_SAVE_DIR or ~/.local/share/parley/village
  --new-game     start the slot afresh`;

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
  return { browser: values.browser ?? false, model: values.model, port, device: values.device, saveFile, newGame: values["new-game"] ?? false };
}

class UsageError extends Error {}

/** Linux and BSDs need an X11 or Wayland display for a window; macOS and Windows always have one. */
function hasDisplay(env: NodeJS.ProcessEnv = process.env): boolean {
  if (process.platform === "darwin" || process.platform === "win32") return true;
  return Boolean(env.DISPLAY || env.WAYLAND_DISPLAY);
}

/** Runs the village in Electron; resolves with its exit code, or null when Electron could not start. */
async function runElectron(electronPath: string, gameDir: string, model: ResolvedModel, flags: Flags): Promise<number | null> {
  const bundle = await bundleShell();
  const args = electronArgs(bundle, { gameDir, resolved: model, noSandbox: process.getuid?.() === 0, saveFile: flags.saveFile, newGame: flags.newGame });
  const env: NodeJS.ProcessEnv = { ...process.env, ...(flags.device !== undefined ? { PARLEY_DEVICE: flags.device } : {}) };
  delete env.ELECTRON_RUN_AS_NODE; // would turn Electron into plain Node
  const child = spawn(electronPath, args, { stdio: "inherit", env });
  const forward = (signal: NodeJS.Signals) => () => {
    if (child.exitCode === null) child.kill(signal);
  };
  const onInt = forward("SIGINT");
  const onTerm = forward("SIGTERM");
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  try {
    return await new Promise<number | null>((done) => {
      child.once("error", (error) => {
        console.error(dim(`Electron could not start (${error.message}); using browser mode`));
        done(null);
      });
      child.once("exit", (code, signal) => done(code ?? (signal ? 0 : 1)));
    });
  } finally {
    process.off("SIGINT", onInt);
    process.off("SIGTERM", onTerm);
  }
}

async function runBrowser(gameDir: string, model: ResolvedModel, flags: Flags): Promise<void> {
  const service = await VillageService.create({ resolved: model, device: flags.device, saveFile: flags.saveFile, newGame: flags.newGame });
  let host: Awaited<ReturnType<typeof startHttpHost>>;
  try {
    host = await startHttpHost(service, { port: flags.port, gameDir });
  } catch (error) {
    await service.dispose();
    if ((error as NodeJS.ErrnoException).code === "EADDRINUSE") throw new UsageError(`port ${flags.port} is in use; pick another with --port or leave it out`);
    throw error;
  }
  console.log(`${bold("Parley village:")} ${host.url}`);
  console.log(dim(service.modelNote));
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

  if (!flags.browser) {
    const electron = findElectron();
    if (electron.found && hasDisplay()) {
      console.log(dim(`Parley village in Electron — ${model.note}`));
      const code = await runElectron(electron.path, gameDir, model, flags);
      if (code !== null) {
        process.exitCode = code;
        return;
      }
    } else {
      console.log(dim(electron.found ? "no display found: serving the village to a browser instead" : `${electron.reason}: serving the village to a browser instead`));
    }
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
