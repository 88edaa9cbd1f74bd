#!/usr/bin/env node
// `npm pack`'s prepack step: puts the built addon in the package as prebuilds/<platform>-<arch>/parley.node, so a
// game that installs the tarball on the same platform loads it (runtime/native.ts) without building anything:
// npm 11 runs a dependency's install script only where the game's package.json allows it (allowScripts), and
// Parley's install script (`node native/build.mjs --unless-prebuilt`) skips the build when this file is there.
// The addon is self-contained: native/build.mjs embeds the SPIR-V of every compute shader in it.
// Builds the addon first when it is missing or older than its sources (node native/build.mjs --if-missing).
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const built = join(here, "build", "Release", "parley.node");
const target = join(here, "..", "prebuilds", `${process.platform}-${process.arch}`);

const build = spawnSync(process.execPath, [join(here, "build.mjs"), "--if-missing"], { stdio: "inherit" });
if (build.status !== 0) {
  process.stderr.write("[parley native] cannot pack: the addon did not build (see above)\n");
  process.exit(1);
}
// Only this platform's prebuild: a stale one from another machine's pack would not match its sources.
rmSync(join(here, "..", "prebuilds"), { recursive: true, force: true });
mkdirSync(target, { recursive: true });
const tmp = join(target, "parley.node.tmp");
copyFileSync(built, tmp);
renameSync(tmp, join(target, "parley.node"));
process.stderr.write(`[parley native] prebuilt addon: prebuilds/${process.platform}-${process.arch}/parley.node\n`);
