#!/usr/bin/env node
// Builds the native Vulkan addon: checks the system packages it needs (installing them with apt-get
// when run as root or with sudo on Debian/Ubuntu), compiles every kernel variant the catalogue lists
// (native/kernel-catalogue.mjs) from GLSL to SPIR-V with glslc, checks each against its catalogue entry,
// embeds them in generated headers with the catalogue as C++ (native/generated/), then runs node-gyp.
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
import { KERNELS, WEIGHT_FORMATS } from "./kernel-catalogue.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const addonPath = join(here, "build", "Release", "parley.node");
const shaderDir = join(here, "shaders");
const genDir = join(here, "generated");
const DEBIAN_PACKAGES = ["libvulkan-dev", "glslc", "mesa-vulkan-drivers", "vulkan-validationlayers"];

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
  const files = [join(here, "binding.gyp"), join(here, "build.mjs"), join(here, "kernel-catalogue.mjs")];
  for (const dir of [shaderDir, join(here, "src")]) {
    for (const f of readdirSync(dir)) files.push(join(dir, f));
  }
  return files;
}

// Every variant of every kernel in the catalogue (native/kernel-catalogue.mjs): its SPIR-V name, shader, glslc
// defines, and the ggml type it reads (-1: none).
function variants() {
  const out = [];
  for (const k of KERNELS) {
    const defines = (k.defines ?? []).map((d) => `-D${d}`);
    if (!k.formats) out.push({ kernel: k, name: k.name, defines, weightType: -1 });
    for (const f of k.formats ?? []) {
      out.push({ kernel: k, name: `${k.name}_${f.toLowerCase()}`, defines: [`-DWTYPE_${f}`, ...defines], weightType: WEIGHT_FORMATS[f] });
    }
  }
  return out;
}

// What a SPIR-V module declares that the catalogue must agree with: the highest descriptor binding, and the
// specialization constants' ids with their default values (the module's OpDecorate and OpSpecConstant).
function spirvInterface(words) {
  const OP_SPEC_CONSTANT = 50,
    OP_DECORATE = 71,
    DECORATION_SPEC_ID = 1,
    DECORATION_BINDING = 33;
  let maxBinding = -1;
  const specIds = new Map(); // result id → constant_id
  const defaults = new Map(); // result id → default value
  for (let i = 5; i < words.length;) {
    const count = words[i] >>> 16,
      op = words[i] & 0xffff;
    if (count === 0) throw new Error("malformed SPIR-V");
    if (op === OP_DECORATE && words[i + 2] === DECORATION_BINDING) maxBinding = Math.max(maxBinding, words[i + 3]);
    if (op === OP_DECORATE && words[i + 2] === DECORATION_SPEC_ID) specIds.set(words[i + 1], words[i + 3]);
    if (op === OP_SPEC_CONSTANT) defaults.set(words[i + 2], words[i + 3]);
    i += count;
  }
  const spec = new Map([...specIds].map(([id, constantId]) => [constantId, defaults.get(id)]));
  return { maxBinding, spec };
}

function checkAgainstCatalogue(v, words) {
  const { maxBinding, spec } = spirvInterface(words);
  const k = v.kernel;
  if (maxBinding !== k.bindings)
    throw new Error(`${v.name}: the shader's last binding is ${maxBinding}, the catalogue says ${k.bindings} storage buffers after binding 0`);
  // The optimizer drops the constants a variant does not use (the DOT8 products stage f(x) whatever XSTAGE says):
  // each one the shader keeps must be the catalogue's, with the catalogue's default.
  const want = k.spec ?? [];
  for (const [id, value] of spec) {
    if (id >= want.length || want[id][1] !== value)
      throw new Error(`${v.name}: the shader's specialization constant ${id} (default ${value}) is not the catalogue's ${JSON.stringify(want[id] ?? null)}`);
  }
}

const GENERATED = "// Generated by native/build.mjs from native/kernel-catalogue.mjs. Do not edit.\n#pragma once\n";

// The catalogue as C++: the KernelId enum, each kernel's bindings and specialization constants, and each
// variant's (kernel, weight type) with its name. Index i of kKernelVariants is index i of kVariantSpirv.
function catalogueHeader(all) {
  const maxSpec = Math.max(1, ...KERNELS.map((k) => (k.spec ?? []).length));
  let h = GENERATED + "#include <cstdint>\n\n";
  h +=
    "enum class KernelId : uint32_t {\n" +
    KERNELS.map((k) => `  ${k.id},  // ${k.source}.comp${(k.defines ?? []).map((d) => " " + d).join("")}`).join("\n") +
    "\n};\n\n";
  h += `constexpr uint32_t kKernelCount = ${KERNELS.length};\n`;
  h += `constexpr uint32_t kMaxSpecConstants = ${maxSpec};\n`;
  h += "constexpr uint32_t kNoWeightType = 0xffffffffu;  // a kernel that reads no weights\n\n";
  h += "struct KernelInfo {\n  const char* name;\n  uint32_t storageBindings;  // after binding 0, the step parameters\n";
  h += "  uint32_t specConstants;   // specialization constants, constant_id 0..specConstants-1\n";
  h += "  uint32_t specDefaults[kMaxSpecConstants];\n};\n\n";
  h += "static constexpr KernelInfo kKernelInfo[kKernelCount] = {\n";
  for (const k of KERNELS) {
    const spec = k.spec ?? [];
    const values = Array.from({ length: maxSpec }, (_, i) => (i < spec.length ? `${spec[i][1]}u` : "0u"));
    const names = spec.map(([name]) => name).join(", ");
    h += `  {"${k.name}", ${k.bindings}, ${spec.length}, {${values.join(", ")}}},${names ? `  // ${names}` : ""}\n`;
  }
  h += "};\n\nstruct KernelVariant {\n  KernelId kernel;\n  uint32_t weightType;  // GgmlType, or kNoWeightType\n  const char* name;\n};\n\n";
  h += `static constexpr KernelVariant kKernelVariants[] = {\n`;
  h += all.map((v) => `  {KernelId::${v.kernel.id}, ${v.weightType < 0 ? "kNoWeightType" : `${v.weightType}u`}, "${v.name}"},`).join("\n");
  h += "\n};\n";
  return h;
}

function writeAtomically(path, text) {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

function compileShaders() {
  mkdirSync(genDir, { recursive: true });
  const all = variants();
  let spirv = GENERATED + "#include <cstddef>\n#include <cstdint>\n\n";
  const table = [];
  for (const v of all) {
    const out = join(genDir, `${v.name}.spv`);
    execFileSync("glslc", ["--target-env=vulkan1.2", "-O", ...v.defines, join(shaderDir, `${v.kernel.source}.comp`), "-o", out], { stdio: "inherit" });
    const words = new Uint32Array(new Uint8Array(readFileSync(out)).buffer);
    checkAgainstCatalogue(v, words);
    spirv += `static const uint32_t kSpv_${v.name}[] = {${Array.from(words, (w) => `0x${w.toString(16)}u`).join(",")}};\n`;
    table.push(`  {kSpv_${v.name}, sizeof(kSpv_${v.name})},  // ${v.name}`);
  }
  spirv += "\n// The SPIR-V of kKernelVariants[i] (kernel_catalogue.h).\nstruct VariantSpirv {\n  const uint32_t* code;\n  size_t size;\n};\n";
  spirv += `static const VariantSpirv kVariantSpirv[] = {\n${table.join("\n")}\n};\n`;
  const catalogue = catalogueHeader(all);
  writeAtomically(join(genDir, "kernel_catalogue.h"), catalogue);
  writeAtomically(join(genDir, "shaders.h"), spirv);
  // A name for this exact set of kernels (their SPIR-V and catalogue entries), so stored tunings
  // (runtime/tuning/store.ts) are only reused with the kernels they were measured with. Its own header: only
  // addon.cpp needs it.
  const hash = createHash("sha256").update(catalogue).update(spirv).digest("hex").slice(0, 16);
  writeAtomically(join(genDir, "shaders_hash.h"), `${GENERATED}static const char kKernelsHash[] = "${hash}";\n`);
  log(`compiled ${all.length} compute shaders (${KERNELS.length} kernels)`);
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
  } catch {
    // npm's own node-gyp is not there: the other candidates remain.
  }
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
