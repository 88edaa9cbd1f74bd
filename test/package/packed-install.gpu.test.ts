// Parley as a game gets it from a tarball: `npm pack` of this repository, installed by name (parley-npc) into a
// fresh project, used from plain `node` and from TypeScript.
//
// How, and why this way:
//   1. `npm pack` runs with its scripts, as a release would: prepare (tsc → dist/) and prepack
//      (native/prebuild.mjs: the built addon → prebuilds/<platform>-<arch>/parley.node). The tarball's file
//      list must carry the host entry points with their declarations, the prebuild and the demo model, and
//      none of the repository's own tests, caches or page bundles.
//   2. A fresh project ("type": "module", the tarball as a file: dependency) runs `npm install` as a game
//      would (npm's cache first, the registry for what it lacks). Nothing may be built there: the prebuild is
//      what a game loads (npm 11 blocks a dependency's install script unless the game allows it, so a game
//      on a supported machine must not need one).
//   3. host-game.mjs, the game side of a conversation through `parley-npc/host`, runs with plain `node` on the
//      package's demo model: text streams and the conversation ends. The same file, as TypeScript, compiles
//      with this repository's compiler (nodenext, strict) against the package's declarations, and a wrong call
//      does not.
//   4. With the prebuild taken away, using `parley-npc/runtime` fails with the typed NativeAddonMissingError
//      saying how to build the addon, not a stack from `require`.
import { execFile, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../", import.meta.url));
const npm = process.platform === "win32" ? "npm.cmd" : "npm";
const npmMissing = spawnSync(npm, ["--version"], { encoding: "utf8" }).status !== 0;
const platform = `${process.platform}-${process.arch}`;

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command without blocking vitest's worker (installs take a minute). PARLEY_* and the npm_* settings
 * `npm test` hands down are left out: they are meant for this repository, not for a game's project.
 */
async function run(command: string, args: string[], cwd: string, timeout: number): Promise<Ran> {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("npm_") && !key.startsWith("PARLEY_")) env[key] = value;
  try {
    const { stdout, stderr } = await promisify(execFile)(command, args, { cwd, env, timeout, maxBuffer: 64 << 20, encoding: "utf8" });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number | string; signal?: string; stdout?: string; stderr?: string };
    return { code: typeof err.code === "number" ? err.code : -1, stdout: err.stdout ?? "", stderr: `${err.stderr ?? ""}\n(${err.signal ?? err.code})` };
  }
}

function ok(r: Ran, what: string): Ran {
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  return r;
}

const title = "the packed package, installed into a game's project";
describe.skipIf(npmMissing)(npmMissing ? `${title} (skipped: no \`npm\` on PATH to pack and install with)` : title, () => {
  let work = "";
  let project = "";
  let files: string[] = [];
  let installSeconds = 0;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "parley-packed-"));
    const packed = ok(await run(npm, ["pack", "--json", "--pack-destination", work], root, 600_000), "npm pack");
    const report = JSON.parse(packed.stdout.slice(packed.stdout.indexOf("[\n"))) as { filename: string; size: number; files: { path: string }[] }[];
    const tarball = join(work, report[0].filename);
    files = report[0].files.map((f) => f.path);

    project = join(work, "game");
    mkdirSync(project);
    const dependency = `file:${tarball}`;
    writeFileSync(
      join(project, "package.json"),
      JSON.stringify({ name: "my-game", private: true, type: "module", dependencies: { "parley-npc": dependency } }, null, 2) + "\n",
    );
    const started = performance.now();
    ok(await run(npm, ["install", "--prefer-offline", "--no-audit", "--no-fund"], project, 600_000), "npm install");
    installSeconds = (performance.now() - started) / 1000;
    console.log(
      `packed-install: ${report[0].filename}, ${(report[0].size / 2 ** 20).toFixed(1)} MiB, ${files.length} files; npm install took ${installSeconds.toFixed(1)} s`,
    );
  }, 1_200_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("the tarball carries the entry points, their declarations, the prebuilt addon and the demo model, and no repository-only files", () => {
    for (const base of [
      "dist/plugin/host/index",
      "dist/plugin/host/client",
      "dist/plugin/host/electron/main",
      "dist/plugin/host/electron/preload",
      "dist/runtime/index",
      "dist/plugin/index",
    ]) {
      expect(files, base).toContain(`${base}.js`);
      expect(files, base).toContain(`${base}.d.ts`);
    }
    expect(files).toContain(`prebuilds/${platform}/parley.node`);
    expect(files).toContain("samples/demo-model/parley-demo.gguf");
    expect(files).toContain("native/build.mjs"); // other platforms build at install
    // The development scripts stay in the repository: the bench (and its node-llama-cpp side), in no folder of dist/.
    const repositoryOnly = files.filter((f) => /^(test|\.cache|editor|tools|node_modules|native\/build|dist\/village)\//.test(f) || /(^|\/)bench\//.test(f));
    expect(repositoryOnly).toEqual([]);
    // Every export the package declares is in it.
    const manifest = JSON.parse(readFileSync(join(project, "node_modules", "parley-npc", "package.json"), "utf8")) as {
      exports: Record<string, string | Record<string, string>>;
    };
    for (const [name, target] of Object.entries(manifest.exports)) {
      for (const path of typeof target === "string" ? [target] : Object.values(target)) expect(files, name).toContain(path.replace(/^\.\//, ""));
    }
  });

  it("installing builds nothing: the prebuild is what loads, and both bins are there", async () => {
    const pkg = join(project, "node_modules", "parley-npc");
    expect(existsSync(join(pkg, "prebuilds", platform, "parley.node"))).toBe(true);
    expect(existsSync(join(pkg, "native", "build"))).toBe(false);
    expect(existsSync(join(project, "node_modules", ".bin", "parley"))).toBe(true);
    const help = ok(await run(join(project, "node_modules", ".bin", "parley-npc"), ["--help"], project, 60_000), "parley-npc --help");
    expect(help.stdout).toMatch(/\bmodel\b/);
    expect(installSeconds).toBeGreaterThan(0);
  }, 90_000);

  it("host-game.mjs talks to an NPC through parley-npc/host with plain node: text streams and the conversation ends", async () => {
    copyFileSync(join(root, "test", "package", "host-game.mjs"), join(project, "game.mjs"));
    const r = ok(await run(process.execPath, ["game.mjs"], project, 240_000), "node game.mjs");
    expect(r.stderr).toBe("");
    const lines = r.stdout.split("\n");
    const npc = lines.filter((l) => l.startsWith("Brom: "));
    expect(npc.length).toBeGreaterThanOrEqual(2);
    for (const line of npc) expect(line).toMatch(/^Brom: .*\p{L}{2}/u);
    expect(lines).toContain("You: How much for a sword?");
    expect(lines).toContain("You: Thanks, Brom.");
    expect(r.stdout).toMatch(/\[ended: end\]\n$/);
  }, 300_000);

  it("TypeScript sees the package's declarations (nodenext, strict): the game compiles, a wrong call does not", async () => {
    copyFileSync(join(root, "test", "package", "host-game.mjs"), join(project, "game.ts"));
    writeFileSync(
      join(project, "wrong.ts"),
      'import { ConversationHost } from "parley-npc/host";\nconst host = await ConversationHost.create({ seed: "one" });\nawait host.start(7);\n',
    );
    const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
    // @types/node from this repository: a TypeScript game has its own.
    const args = [
      tsc,
      "--noEmit",
      "--module",
      "nodenext",
      "--moduleResolution",
      "nodenext",
      "--target",
      "es2022",
      "--strict",
      "--typeRoots",
      join(root, "node_modules", "@types"),
      "--types",
      "node",
    ];
    ok(await run(process.execPath, [...args, "game.ts"], project, 120_000), "tsc game.ts");
    const wrong = await run(process.execPath, [...args, "wrong.ts"], project, 120_000);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stdout).toMatch(/wrong\.ts\(2,.*TS2322.*string.*number/);
    expect(wrong.stdout).toMatch(/wrong\.ts\(3,.*TS2345.*number.*string/);
  }, 240_000);

  it("without the addon, parley-npc/runtime says so with the typed NativeAddonMissingError and how to build it", async () => {
    const prebuilds = join(project, "node_modules", "parley-npc", "prebuilds");
    writeFileSync(
      join(project, "no-addon.mjs"),
      'import { Runtime, NativeAddonMissingError } from "parley-npc/runtime";\n' +
        "try { await Runtime.create(); console.log('created'); }\n" +
        "catch (e) { console.log(JSON.stringify({ typed: e instanceof NativeAddonMissingError, code: e.code, message: e.message })); }\n",
    );
    renameSync(prebuilds, `${prebuilds}.off`);
    try {
      const r = ok(await run(process.execPath, ["no-addon.mjs"], project, 60_000), "node no-addon.mjs");
      const result = JSON.parse(r.stdout) as { typed: boolean; code: string; message: string };
      expect(result).toMatchObject({ typed: true, code: "NATIVE_ADDON_MISSING" });
      expect(result.message).toContain(`not built for ${platform}`);
      expect(result.message).toContain(join("node_modules", "parley-npc", "native", "build.mjs"));
      expect(result.message).not.toMatch(/\n\s+at /);
    } finally {
      renameSync(`${prebuilds}.off`, prebuilds);
    }
  }, 90_000);
});

describe("the README's host program", () => {
  it("is host-game.mjs, word for word (the program the packed install runs)", () => {
    const program = readFileSync(join(root, "test", "package", "host-game.mjs"), "utf8").trimEnd();
    const readme = readFileSync(join(root, "README.md"), "utf8");
    expect(readme).toContain("```js\n" + program + "\n```");
  });
});
