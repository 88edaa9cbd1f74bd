// `npm run editor -- [PROJECT]`: the Parley editor for a project folder, served from this process on
// 127.0.0.1 with a per-run token (the same loopback server as the village's browser mode), and shown in
// Electron when its binary is installed and there is a display (electron-shell.ts), else in a browser.
//
//   npm run editor                     the sample village (samples/village)
//   npm run editor -- PATH             another project folder (relative to where npm was run)
//   npm run editor -- --port N         a fixed port (default: a free one)
//   npm run editor -- --browser        browser mode even when Electron is installed

import { statSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { ParleyError } from "../../runtime/errors.js";
import { chooseShell, findElectron, hasDisplay } from "../../runtime/host/electron/find-electron.js";
import { ProjectFolder } from "../project/index.js";
import { buildEditorUi } from "../ui/build.js";
import { startEditorHost } from "./editor-api.js";
import { runEditorInElectron } from "./electron-shell.js";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const DEFAULT_PROJECT = resolve(repoRoot, "samples/village");

const USAGE = `usage: npm run editor -- [PROJECT] [--browser] [--port N]
  PROJECT      the project folder (default: samples/village)
  --browser    serve the editor to a browser even when Electron is installed
  --port N     port on 127.0.0.1 (default: any free port)`;

const color = process.stdout.isTTY && !process.env.NO_COLOR;
const dim = (text: string): string => (color ? `\x1b[2m${text}\x1b[22m` : text);
const bold = (text: string): string => (color ? `\x1b[1m${text}\x1b[22m` : text);

class UsageError extends Error {}

interface Flags {
  project: string;
  browser: boolean;
  port: number;
}

function parseFlags(): Flags {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      browser: { type: "boolean", default: false },
      port: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (positionals.length > 1) throw new UsageError(`one project folder at a time, got ${positionals.length}: ${positionals.join(" ")}`);
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a port number (0-65535), got ${values.port}`);
  // npm runs scripts from the package folder; a relative PROJECT means relative to where npm was run.
  const project = positionals[0] === undefined ? DEFAULT_PROJECT : resolve(process.env.INIT_CWD ?? process.cwd(), positionals[0]);
  return { project, browser: values.browser ?? false, port };
}

/** The project folder must exist and be a folder: anything else is a one-line usage error. */
function checkProjectFolder(path: string): void {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat) throw new UsageError(`no project folder at ${path}`);
  if (!stat.isDirectory()) throw new UsageError(`${path} is not a folder; give the project's folder (the one with parley.project.json)`);
}

async function main(): Promise<void> {
  const flags = parseFlags();
  checkProjectFolder(flags.project);
  // The page is a bundle (editor/ui/dist/): built on first use and whenever its sources changed.
  if (await buildEditorUi()) console.log(dim("Built the editor's page (editor/ui/dist/)."));
  const project = await ProjectFolder.open(flags.project);
  const shell = chooseShell({ browser: flags.browser, electron: findElectron(), display: hasDisplay() });
  let host: Awaited<ReturnType<typeof startEditorHost>>;
  try {
    host = await startEditorHost(project, { port: flags.port });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EADDRINUSE") throw new UsageError(`port ${flags.port} is in use; pick another with --port or leave it out`);
    throw error;
  }
  const documents = project.documents();
  const problems = documents.filter((d) => d.problem).length;
  const summary = dim(
    `${project.manifest.name} — ${project.root}: ${project.characters().length} characters, ${project.graphs().length} dialogue graphs${problems ? `, ${problems} with problems` : ""}`,
  );
  if (shell.mode === "electron") {
    console.log(`${bold("Parley editor")} in Electron — ${summary}`);
    const code = await runEditorInElectron(shell.electronPath, host.url, (error) =>
      console.error(dim(`Electron could not start (${error.message}); serving the editor to a browser instead`)),
    );
    if (code !== null) {
      // The window was closed: the editor is done.
      await host.close();
      process.exit(code);
    }
  } else if (!flags.browser) {
    console.log(dim(`${shell.reason}: serving the editor to a browser instead`));
  }
  console.log(`${bold("Parley editor:")} ${host.url}`);
  console.log(summary);
  console.log(dim("Open the URL in a browser (it carries this run's token). Ctrl-C stops the editor."));

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) process.exit(130); // a second Ctrl-C: do not wait any longer
    stopping = true;
    console.log(dim(`\nstopping (${signal})…`));
    void host.close().then(() => process.exit(0));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

main().catch((error: unknown) => {
  // One line, no stack: a wrong folder or flag is the user's to fix, and says how.
  if (error instanceof UsageError) {
    console.error(`parley editor: ${error.message}`);
    process.exit(2);
  }
  if (error instanceof TypeError && (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
    console.error(`parley editor: ${error.message}\n${USAGE}`);
    process.exit(2);
  }
  if (error instanceof ParleyError) {
    console.error(`parley editor: ${error.message}`);
    process.exit(1);
  }
  console.error("parley editor:", error);
  process.exit(1);
});
