// `npm run conformance [-- --json] [--types f32,q4_0] [--positions N] [--shape tiny] [--seed N]`
// Runs the conformance suite (test/conformance/conformance.ts) and prints a table, or one JSON object with --json.
// Exit status 1 when a threshold is missed.

import { parseArgs } from "node:util";
import { SYNTH_SHAPES, type SynthShapeName, type SynthType } from "../../runtime/synth/synth.js";
import {
  CONFORMANCE_TYPES,
  THRESHOLDS,
  formatConformance,
  runConformance,
  typeShortfalls,
  type ConformanceResult,
  type TypeConformance,
} from "./conformance.js";

function fail(message: string): never {
  process.stderr.write(`conformance: ${message}\n`);
  process.exit(2);
}

const { values } = parseArgs({
  options: {
    json: { type: "boolean", default: false },
    types: { type: "string" },
    positions: { type: "string" },
    shape: { type: "string", default: "tiny" },
    seed: { type: "string" },
    "no-reference": { type: "boolean", default: false },
    decode: { type: "boolean", default: false },
    "peer-gpu": { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
  strict: true,
});

if (values.help) {
  process.stdout.write(
    "usage: npm run conformance -- [--json] [--types f32,f16,bf16,q8_0,q4_0] [--positions 256] [--shape tiny] [--seed 1] [--no-reference] [--peer-gpu vulkan] [--decode]\n" +
      "  --decode: Parley evaluates one token per step (the decode kernels) instead of one teacher-forced batch\n",
  );
  process.exit(0);
}

const shape = values.shape as SynthShapeName;
if (!Object.hasOwn(SYNTH_SHAPES, shape)) fail(`unknown shape "${shape}" (${Object.keys(SYNTH_SHAPES).join(", ")})`);

const types = values.types
  ? values.types
      .split(",")
      .map((t) => t.trim().toLowerCase())
      .filter(Boolean)
  : [...CONFORMANCE_TYPES];
for (const t of types) if (!CONFORMANCE_TYPES.includes(t as SynthType)) fail(`unknown type "${t}" (${CONFORMANCE_TYPES.join(", ")})`);

const positions = values.positions === undefined ? THRESHOLDS.positions : Number(values.positions);
if (!Number.isInteger(positions) || positions < 1 || positions > SYNTH_SHAPES[shape].nCtx) {
  fail(`--positions must be an integer in 1..${SYNTH_SHAPES[shape].nCtx}`);
}
const seed = values.seed === undefined ? 1 : Number(values.seed);
if (!Number.isSafeInteger(seed) || seed < 0) fail("--seed must be a non-negative integer");

const result: ConformanceResult = await runConformance({
  shape,
  seed,
  positions,
  types: types as SynthType[],
  reference: !values["no-reference"],
  parleyPath: values.decode ? "decode" : "prefill",
  peerGpu: values["peer-gpu"] === "vulkan" ? "vulkan" : false,
  onStep: values.json ? undefined : (step) => process.stderr.write(`  done: ${step}\n`),
});

if (values.json) process.stdout.write(JSON.stringify(result) + "\n");
else process.stdout.write(formatConformance(result) + "\n");

// The same rule as the vitest conformance suite (test/conformance/conformance.ts: typeShortfalls).
const shortfalls = (Object.entries(result.types) as Array<[SynthType, TypeConformance]>).flatMap(([type, t]) =>
  typeShortfalls(type, t).map((why) => `${type}: ${why}`),
);
if (result.tokenizer_strings < THRESHOLDS.tokenizerStrings) shortfalls.push(`tokenizer: ${result.tokenizer_strings} strings < ${THRESHOLDS.tokenizerStrings}`);
if (result.tokenizer_agreement !== 1 || result.tokenizer_agreement_special !== 1 || result.hf_tokenizer_agreement !== 1)
  shortfalls.push("tokenizer: not identical");
for (const why of shortfalls) process.stderr.write(`conformance: ${why}\n`);
process.exitCode = shortfalls.length === 0 ? 0 : 1;
