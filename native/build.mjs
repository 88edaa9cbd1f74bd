#!/usr/bin/env node
// Builds the native Vulkan addon: checks the system packages it needs (installing them with apt-get
// when run as root or with sudo on Debian/Ubuntu), compiles the GLSL compute shaders to SPIR-V with
// glslc, embeds them in a generated header, then runs node-gyp.
//   node native/build.mjs              always rebuild
//   node native/build.mjs --if-missing build only when the addon is missing or older than its sources
//   node native/build.mjs --unless-prebuilt
//                                      build unless the package carries a prebuilt addon for this platform
//                                      (prebuilds/<platform>-<arch>/parley.node, which `npm pack` adds: native/prebuild.mjs);
//                                      the package's install script. A clone has no prebuilds/, so it builds.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, renameSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { createHash } from "node:crypto";

const here = dirname(fileURLToPath(import.meta.url));
const addonPath = join(here, "build", "Release", "parley.node");
const shaderDir = join(here, "shaders");
const genDir = join(here, "generated");
const DEBIAN_PACKAGES = ["libvulkan-dev", "glslc", "mesa-vulkan-drivers", "vulkan-validationlayers"];

// Matmul and embedding kernels are compiled once per weight format (the GPU loop's greedy advance embeds the
// next token, so it is compiled per format of the embedding table).
const WEIGHT_TYPES = ["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q5_K", "Q6_K"];
const PER_TYPE = ["matmul", "embed", "decode_advance"];
const SINGLE = ["rmsnorm", "rope_kv", "attention", "attention_prefill", "silu_mul", "argmax", "topk"];

function log(msg) {
  process.stderr.write(`[parley native] ${msg}\n`);
}

function has(cmd) {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

function missingPrerequisites() {
  const missing = [];
  if (!existsSync("/usr/include/vulkan/vulkan.h")) missing.push("libvulkan-dev (Vulkan headers)");
  if (!has("glslc")) missing.push("glslc (GLSL → SPIR-V compiler)");
  const loader = spawnSync("sh", ["-c", "ldconfig -p | grep -q 'libvulkan.so.1'"]).status === 0;
  if (!loader) missing.push("libvulkan1 (Vulkan loader)");
  const icdDirs = ["/usr/share/vulkan/icd.d", "/etc/vulkan/icd.d"];
  const icds = icdDirs.flatMap((d) => (existsSync(d) ? readdirSync(d) : []));
  if (icds.length === 0 && !process.env.VK_DRIVER_FILES && !process.env.VK_ICD_FILENAMES) {
    missing.push("a Vulkan driver (mesa-vulkan-drivers gives lavapipe on machines without a GPU)");
  }
  return missing;
}

function ensurePrerequisites() {
  let missing = missingPrerequisites();
  if (missing.length === 0) return;
  const isRoot = process.getuid?.() === 0;
  const canSudo = !isRoot && has("sudo") && spawnSync("sudo", ["-n", "true"], { stdio: "ignore" }).status === 0;
  if (has("apt-get") && (isRoot || canSudo)) {
    log(`installing ${DEBIAN_PACKAGES.join(" ")} with apt-get (missing: ${missing.join(", ")})`);
    const pre = isRoot ? [] : ["sudo", "-n"];
    const run = (args) => {
      const [cmd, ...rest] = [...pre, ...args];
      const r = spawnSync(cmd, rest, { stdio: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
      return r.status === 0;
    };
    run(["apt-get", "update", "-qq"]);
    run(["apt-get", "install", "-y", "-qq", ...DEBIAN_PACKAGES]);
    missing = missingPrerequisites();
  }
  if (missing.length > 0) {
    log(`cannot build the Vulkan runtime: missing ${missing.join(", ")}.`);
    log(`On Debian/Ubuntu: sudo apt-get install -y ${DEBIAN_PACKAGES.join(" ")}`);
    process.exit(1);
  }
}

function newestMtime(paths) {
  return Math.max(...paths.map((p) => statSync(p).mtimeMs));
}

function sourceFiles() {
  const files = [join(here, "binding.gyp"), join(here, "build.mjs")];
  for (const dir of [shaderDir, join(here, "src")]) {
    for (const f of readdirSync(dir)) files.push(join(dir, f));
  }
  return files;
}

function compileShaders() {
  mkdirSync(genDir, { recursive: true });
  const jobs = [];
  for (const s of PER_TYPE) for (const t of WEIGHT_TYPES) jobs.push({ name: `${s}_${t.toLowerCase()}`, src: s, defines: [`-DWTYPE_${t}`] });
  // Decode on CPU drivers: the tiled kernel with a token tile of 1 (one SIMD lane per row suits them).
  for (const t of WEIGHT_TYPES) jobs.push({ name: `matmul1_${t.toLowerCase()}`, src: "matmul", defines: [`-DWTYPE_${t}`, "-DSINGLE_TOKEN"] });
  // Prefill on GPUs: token tiles of 16 (kept for comparison) and the shared-memory tiled GEMM.
  for (const t of WEIGHT_TYPES) jobs.push({ name: `matmul16_${t.toLowerCase()}`, src: "matmul", defines: [`-DWTYPE_${t}`, "-DWIDE_TILE"] });
  for (const t of WEIGHT_TYPES) jobs.push({ name: `matmul_tiled_${t.toLowerCase()}`, src: "matmul_tiled", defines: [`-DWTYPE_${t}`] });
  // ... and its integer dot product form (Q4_0, Q8_0) for devices that have one.
  for (const t of ["Q4_0", "Q8_0"]) jobs.push({ name: `matmul_tiled_dot8_${t.toLowerCase()}`, src: "matmul_tiled", defines: [`-DWTYPE_${t}`, "-DDOT8"] });
  // ... and through cooperative matrices (devices with VK_NV_cooperative_matrix), plus the same kernel with
  // those computed by plain arithmetic, which every device runs (tests; checking the real one on a GPU).
  for (const t of WEIGHT_TYPES) jobs.push({ name: `matmul_coopmat_${t.toLowerCase()}`, src: "matmul_coopmat", defines: [`-DWTYPE_${t}`] });
  for (const t of WEIGHT_TYPES) jobs.push({ name: `matmul_coopmat_emu_${t.toLowerCase()}`, src: "matmul_coopmat", defines: [`-DWTYPE_${t}`, "-DEMULATED"] });
  // Decode on GPUs: subgroup-per-row matrix-vector kernels with the RMSNorm fused in.
  for (const t of WEIGHT_TYPES) jobs.push({ name: `matvec_${t.toLowerCase()}`, src: "matvec", defines: [`-DWTYPE_${t}`] });
  // ... and, where the device has a 4×8-bit integer dot product, with f(x) rounded to bytes (Q4_0, Q8_0).
  for (const t of ["Q4_0", "Q8_0"]) jobs.push({ name: `matvec_dot8_${t.toLowerCase()}`, src: "matvec", defines: [`-DWTYPE_${t}`, "-DDOT8"] });
  // ... and for decode's LM head, with the greedy argmax folded in (one dispatch and barrier fewer per token).
  for (const t of WEIGHT_TYPES) jobs.push({ name: `matvec_argmax_${t.toLowerCase()}`, src: "matvec", defines: [`-DWTYPE_${t}`, "-DARGMAX"] });
  for (const t of ["Q4_0", "Q8_0"]) jobs.push({ name: `matvec_dot8_argmax_${t.toLowerCase()}`, src: "matvec", defines: [`-DWTYPE_${t}`, "-DDOT8", "-DARGMAX"] });
  for (const s of SINGLE) jobs.push({ name: s, src: s, defines: [] });
  // The GPU sampling loop's step: top 64, penalties, the draw, the advance and the next token's embedding.
  for (const t of WEIGHT_TYPES) jobs.push({ name: `topk_sample_${t.toLowerCase()}`, src: "topk", defines: [`-DWTYPE_${t}`, "-DSAMPLE"] });
  // Decode on GPUs: split-K attention with RoPE and the KV-cache store folded in.
  jobs.push({ name: "attention_decode", src: "attention_decode", defines: [] });
  let header = "// Generated by native/build.mjs from native/shaders/*.comp. Do not edit.\n#pragma once\n#include <cstdint>\n#include <cstddef>\n\n";
  const table = [];
  for (const job of jobs) {
    const out = join(genDir, `${job.name}.spv`);
    execFileSync("glslc", ["--target-env=vulkan1.2", "-O", ...job.defines, join(shaderDir, `${job.src}.comp`), "-o", out], { stdio: "inherit" });
    const words = new Uint32Array(new Uint8Array(readFileSync(out)).buffer);
    header += `static const uint32_t kSpv_${job.name}[] = {${Array.from(words, (w) => `0x${w.toString(16)}u`).join(",")}};\n`;
    table.push(`  {"${job.name}", kSpv_${job.name}, sizeof(kSpv_${job.name})},`);
  }
  header += `\nstruct EmbeddedShader { const char* name; const uint32_t* code; size_t size; };\n`;
  header += `static const EmbeddedShader kEmbeddedShaders[] = {\n${table.join("\n")}\n};\n`;
  const tmp = join(genDir, "shaders.h.tmp");
  writeFileSync(tmp, header);
  renameSync(tmp, join(genDir, "shaders.h"));
  // A name for this exact set of kernels (their SPIR-V), so stored decode tunings (runtime/decode-tuning.ts) are
  // only reused with the kernels they were measured with. Its own header: only addon.cpp needs it.
  const hash = createHash("sha256").update(header).digest("hex").slice(0, 16);
  writeFileSync(tmp, `// Generated by native/build.mjs. Do not edit.\n#pragma once\nstatic const char kKernelsHash[] = "${hash}";\n`);
  renameSync(tmp, join(genDir, "shaders_hash.h"));
  log(`compiled ${jobs.length} compute shaders`);
}

function nodeGyp() {
  if (process.env.npm_config_node_gyp && existsSync(process.env.npm_config_node_gyp)) return process.env.npm_config_node_gyp;
  const npmDir = dirname(dirname(fileURLToPath(import.meta.url)));
  const candidates = [
    "/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js",
    "/usr/local/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js",
    join(dirname(process.execPath), "..", "lib", "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js"),
  ];
  try {
    candidates.unshift(createRequire(join(npmDir, "package.json")).resolve("node-gyp/bin/node-gyp.js"));
  } catch {}
  const found = candidates.find((c) => existsSync(c));
  if (!found) {
    log("node-gyp not found (it ships with npm); install npm or node-gyp");
    process.exit(1);
  }
  return found;
}

const prebuilt = join(here, "..", "prebuilds", `${process.platform}-${process.arch}`, "parley.node");
if (process.argv.includes("--unless-prebuilt") && existsSync(prebuilt)) {
  log(`using the prebuilt addon prebuilds/${process.platform}-${process.arch}/parley.node`);
  process.exit(0);
}
const ifMissing = process.argv.includes("--if-missing");
if (ifMissing && existsSync(addonPath) && statSync(addonPath).mtimeMs >= newestMtime(sourceFiles())) {
  process.exit(0);
}
ensurePrerequisites();
compileShaders();
const jobs = String(Math.max(1, Math.min(4, (await import("node:os")).availableParallelism())));
// Build against the Node headers installed with Node itself when present (no header download needed).
const nodedir = process.env.npm_config_nodedir || (existsSync("/usr/include/node/node_api.h") ? "/usr" : undefined);
const gypArgs = [nodeGyp(), "rebuild", `--jobs=${jobs}`, ...(nodedir ? [`--nodedir=${nodedir}`] : [])];
const gyp = spawnSync(process.execPath, gypArgs, { cwd: here, stdio: "inherit" });
if (gyp.status !== 0) {
  log("node-gyp failed to build the addon (see the compiler output above)");
  process.exit(1);
}
log(`built ${addonPath}`);
