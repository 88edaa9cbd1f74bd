// The README's "Use Parley in your game" snippet runs as written in a game developer's own project.
//
// How, and why this way:
//   1. The snippet is the first ```js block under "## Use Parley in your game" in README.md, taken verbatim
//      and written to game.mjs in a fresh temporary project whose package.json says "type": "module".
//   2. Parley goes in as a user gets it: `npm pack` of this repository (the tarball npm would publish,
//      so a file the README relies on but the package leaves out fails here), then
//      `npm install <tarball>` in the temporary project. The install resolves Parley's dependencies like a
//      user's (--prefer-offline: npm's cache first, the registry only for what it lacks; --omit=optional
//      leaves out Electron, which only the sample village's window uses).
//   3. Packing runs with --ignore-scripts, so it ships the dist/ that `npm test`'s pretest compiled (`tsc`)
//      instead of compiling again. Installing runs with --ignore-scripts too, and the addon this
//      checkout built (native/build/Release/parley.node) is copied to where Parley's install script would
//      build it: compiling the C++ and the shaders again takes minutes on a small CI machine. The install
//      script itself (`node native/build.mjs` inside node_modules/parley-npc) is what `npm install` runs;
//      PARLEY_README_FULL_INSTALL=1 runs it here instead of copying the addon.
//   4. `node game.mjs` runs in that project against the bundled demo model
//      (node_modules/parley-npc/samples/demo-model/parley-demo.gguf), PARLEY_MODEL unset. It must print Brom's
//      lines, the player's line and choice, and end.
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../", import.meta.url));
const fullInstall = process.env.PARLEY_README_FULL_INSTALL === "1";

/** The snippet: the first ```js block of the README's "Use Parley in your game" section. */
function readmeSnippet(): string {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const section = /^## Use Parley in your game\n([\s\S]*?)(?=^## )/m.exec(readme)?.[1];
  if (!section) throw new Error('README.md has no "## Use Parley in your game" section');
  const block = /^```js\n([\s\S]*?)^```$/m.exec(section)?.[1];
  if (!block) throw new Error('the "Use Parley in your game" section has no ```js block');
  return block;
}

interface Ran {
  status: number | null;
  error?: Error;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command without blocking this worker's event loop (a synchronous minute-long npm install makes
 * vitest's worker miss its RPC deadline). PARLEY_MODEL is unset, and so are the npm_* settings that
 * `npm test` hands down: they are meant for this repository, not for the user's project.
 */
function run(command: string, args: string[], cwd: string, timeout: number): Promise<Ran> {
  const env = { ...process.env };
  delete env.PARLEY_MODEL;
  for (const key of Object.keys(env)) if (key.startsWith("npm_")) delete env[key];
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, env, timeout, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", (error) => resolve({ status: null, error, stdout, stderr }));
    child.on("close", (status, signal) =>
      resolve({ status, stdout, stderr, ...(signal ? { error: new Error(`killed by ${signal} (timeout ${timeout / 1000} s?)`) } : {}) }),
    );
  });
}

function ok(r: Ran, what: string): void {
  if (r.error || r.status !== 0) {
    throw new Error(`${what} failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stdout}\n${r.stderr}`);
  }
}

describe("README: Use Parley in your game", () => {
  let project = "";

  beforeAll(async () => {
    for (const built of ["dist/runtime/index.js", "dist/plugin/index.js", "native/build/Release/parley.node"]) {
      if (!existsSync(join(root, built))) throw new Error(`${built} is missing: run \`npm test\` (its pretest builds it) or \`npm install\``);
    }
    project = mkdtempSync(join(tmpdir(), "parley-readme-game-"));
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "my-game", private: true, type: "module" }, null, 2) + "\n");

    const npm = process.platform === "win32" ? "npm.cmd" : "npm";
    ok(await run(npm, ["pack", "--ignore-scripts", "--silent", "--pack-destination", project], root, 120_000), "npm pack");
    const tarball = readdirSync(project).find((f) => f.endsWith(".tgz"));
    if (!tarball) throw new Error("npm pack wrote no tarball");

    const install = ["install", "--no-audit", "--no-fund", "--prefer-offline", "--omit=optional", `./${tarball}`];
    if (!fullInstall) install.splice(1, 0, "--ignore-scripts");
    ok(await run(npm, install, project, fullInstall ? 900_000 : 240_000), "npm install");
    if (!fullInstall) {
      const addon = join(project, "node_modules", "parley-npc", "native", "build", "Release");
      mkdirSync(addon, { recursive: true });
      copyFileSync(join(root, "native", "build", "Release", "parley.node"), join(addon, "parley.node"));
    }
    writeFileSync(join(project, "game.mjs"), readmeSnippet());
  }, 1_200_000);

  afterAll(() => {
    if (project) rmSync(project, { recursive: true, force: true });
  });

  it("the package carries what the README points to", async () => {
    const pkg = join(project, "node_modules", "parley-npc");
    for (const file of [
      "samples/demo-model/parley-demo.gguf",
      "samples/village/characters/blacksmith.json",
      "samples/village/dialogue/blacksmith.json",
      "dist/runtime/cli.js",
    ]) {
      expect(existsSync(join(pkg, file)), file).toBe(true);
    }
    // `npx parley-npc …` (the model manager the README names) is the installed bin.
    const help = await run(join(project, "node_modules", ".bin", "parley-npc"), ["--help"], project, 60_000);
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/\bmodel\b/);
  }, 90_000);

  it("game.mjs, the README's snippet verbatim, plays a conversation on the demo model and ends", async () => {
    expect(readFileSync(join(project, "game.mjs"), "utf8")).toBe(readmeSnippet());
    const r = await run(process.execPath, ["game.mjs"], project, 240_000);
    expect(r.error).toBeUndefined();
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const lines = r.stdout.split("\n");
    const npc = lines.filter((l) => l.startsWith("Brom Ironhand: "));
    expect(npc.length).toBeGreaterThanOrEqual(3);
    for (const line of npc) expect(line).toMatch(/^Brom Ironhand: .*\p{L}{2}/u);
    expect(lines).toContain("You: Where is the iron shipment?");
    expect(lines.filter((l) => l.startsWith("You: ")).length).toBeGreaterThanOrEqual(2); // the typed line and a choice
    expect(r.stdout).toMatch(/^\[game\] start_quest /m);
    expect(r.stdout).toMatch(/\[ended: end\]\n$/);
  }, 300_000);
});
