#!/usr/bin/env node
// `npm run lint` (and the first step of `npm test`): Prettier's formatting and ESLint's rules over the whole
// tree's TypeScript and JavaScript, and clang-format over native/'s C++. The shaders are validated by glslc when
// the addon is built (native/build.mjs stops at the first error). Exits non-zero at the first failing check.
//   node tools/lint.mjs          check
//   node tools/lint.mjs --fix    rewrite what the formatters can fix, then check the rest
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const fix = process.argv.includes("--fix");
const bin = (name) => join(root, "node_modules", ".bin", name);
const cxx = readdirSync(join(root, "native", "src"))
  .filter((f) => /\.(cpp|h)$/.test(f))
  .map((f) => join("native", "src", f));

function run(label, command, args) {
  const started = Date.now();
  const r = spawnSync(command, args, { cwd: root, stdio: "inherit" });
  if (r.error?.code === "ENOENT") return "missing";
  if (r.status !== 0) {
    console.error(`[lint] ${label} failed${fix ? "" : ` (npm run format fixes formatting)`}`);
    process.exit(r.status ?? 1);
  }
  console.log(`[lint] ${label}: ok (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return "ok";
}

run("prettier", bin("prettier"), [fix ? "--write" : "--check", "--log-level", "warn", "."]);
run("eslint", bin("eslint"), fix ? ["--fix", "."] : ["."]);
const clang = run("clang-format", "clang-format", fix ? ["-i", ...cxx] : ["--dry-run", "--Werror", ...cxx]);
if (clang === "missing") console.log("[lint] clang-format is not installed: native/'s C++ formatting not checked (sudo apt-get install clang-format)");
