// `parley dialogue test PROJECT`: replays every saved playtest of a project (playtests/*.transcript.json) with
// its seed on the real runtime and reports, node by node, where a run now differs from its recording: a game's
// regression test for graph, character and model changes. Exit codes (runtime/cli.ts's runCli): 0 every run as
// recorded, 1 a run diverged, 2 a usage error or a project or transcript that cannot be used (one line).

import { basename, isAbsolute, resolve } from "node:path";
import { InvalidArgumentError, parseFlags, wantsHelp, type FlagTable } from "../../runtime/index.js";
import type { RunComparison, StepComparison } from "./compare.js";
import { bundledDemoModel, loadPlaytestModel, type PlaytestModel } from "./playtest-model.js";
import { readProjectPlaytests, type SavedPlaytest } from "./project-playtests.js";
import { replayTranscript } from "./replay.js";

export const DIALOGUE_USAGE = `usage: parley dialogue test PROJECT [--model ID|FILE] [--device D] [--json]

Replays every saved playtest of the project (PROJECT/playtests/*.transcript.json, saved by the editor's
Playtest panel) with its seed, start node, variables and inputs, and compares each run with its recording
node by node: the nodes visited, the lines spoken, the intents chosen, the variables set, the ending.

  --model ID|FILE   the model to replay with (default: the model each transcript was recorded with)
  --device D        Vulkan device index or name substring (default: PARLEY_DEVICE or the best device)
  --json            one JSON object with every comparison instead of the report

Exit code: 0 every run as recorded, 1 a run diverged, 2 a usage error or an unusable project or transcript.
`;

const FLAGS = {
  model: { kind: "string", arg: "ID|FILE", help: "the model to replay with" },
  device: { kind: "string", arg: "D", help: "Vulkan device index or name substring" },
  json: { kind: "boolean", help: "print one JSON object" },
} as const satisfies FlagTable;

export interface PlaytestOutcome {
  file: string;
  name: string;
  graph: string;
  seed: number;
  model: string;
  comparison: RunComparison;
  notes: string[];
}

export async function dialogueCommand(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub === "help" || wantsHelp(args)) {
    process.stdout.write(DIALOGUE_USAGE);
    return;
  }
  // Without a subcommand nothing was asked: the usage, as an error (a script's typo must not pass).
  if (!sub) {
    process.stderr.write(DIALOGUE_USAGE);
    process.exitCode = 2;
    return;
  }
  if (sub !== "test") throw new InvalidArgumentError(`unknown dialogue subcommand "${sub}" (parley dialogue --help)`);
  const { values, positionals } = parseFlags("dialogue test", FLAGS, rest, { positionals: true });
  if (positionals.length !== 1)
    throw new InvalidArgumentError(`dialogue test takes one project folder, got ${positionals.length === 0 ? "none" : positionals.join(" ")}`);
  const root = resolve(positionals[0]);
  const playtests = await readProjectPlaytests(root);
  const outcomes = await replayAll(root, playtests, { model: values.model, device: values.device });
  const diverged = outcomes.filter((o) => !o.comparison.matches);
  if (values.json) console.log(JSON.stringify({ project: root, passed: diverged.length === 0, playtests: outcomes }));
  else {
    for (const outcome of outcomes) console.log(formatOutcome(outcome));
    console.log(
      `${outcomes.length} playtest${outcomes.length === 1 ? "" : "s"}: ${outcomes.length - diverged.length} as recorded, ${diverged.length} diverged`,
    );
  }
  if (diverged.length > 0) process.exitCode = 1;
}

/** Replays each playtest; the models they need are loaded once each (by model and context size). */
export async function replayAll(
  root: string,
  playtests: readonly SavedPlaytest[],
  options: { model?: string; device?: string } = {},
): Promise<PlaytestOutcome[]> {
  const models = new Map<string, PlaytestModel>();
  const demo = bundledDemoModel();
  try {
    const outcomes: PlaytestOutcome[] = [];
    for (const { file, transcript, graph, character } of playtests) {
      const ref = options.model ?? recordedModel(root, transcript.model, demo);
      const key = `${ref}\n${transcript.contextSize}`;
      let loaded = models.get(key);
      if (!loaded) {
        loaded = await loadPlaytestModel({ model: ref, contextSize: transcript.contextSize, device: options.device });
        models.set(key, loaded);
      }
      const { comparison, notes } = await replayTranscript({ transcript, graph, character, backend: loaded.backend });
      outcomes.push({ file, name: transcript.name, graph: graph.id, seed: transcript.seed, model: basename(loaded.resolved.path), comparison, notes });
    }
    return outcomes;
  } finally {
    for (const loaded of models.values()) loaded.dispose();
  }
}

/**
 * The model a transcript names, as a file to load: the bundled demo model and PARLEY_MODEL's file by their file
 * names (the editor records a model found by the default resolution by its name), a path the editor recorded
 * relative to the project folder, otherwise the reference as it is (a catalogue id or a name in the models folder).
 */
function recordedModel(root: string, model: string, demo: string | undefined): string {
  if (demo && model === basename(demo)) return demo;
  const env = process.env.PARLEY_MODEL;
  if (env && model === basename(env)) return env;
  return model.includes("/") && !isAbsolute(model) ? resolve(root, model) : model;
}

export function formatOutcome(o: PlaytestOutcome): string {
  const c = o.comparison;
  const head = `${o.file} (graph ${o.graph}, seed ${o.seed}, ${o.model})`;
  if (c.matches) return `✓ ${head}: ${c.steps.length} nodes as recorded`;
  const lines = [`✗ ${head}: diverged at step ${(c.firstDivergence ?? c.steps.length) + 1}`];
  for (const step of c.steps) if (step.status !== "same") lines.push(...formatStep(step));
  for (const v of c.variables) lines.push(`    variable ${v.name}: ends ${JSON.stringify(v.actual ?? null)} instead of ${JSON.stringify(v.expected ?? null)}`);
  if (!c.end.same) lines.push(`    ending: ${formatEnd(c.end.actual)} instead of ${formatEnd(c.end.expected)}`);
  for (const note of o.notes) lines.push(`    note: ${note}`);
  return lines.join("\n");
}

function formatStep(step: StepComparison): string[] {
  const node = step.actual?.node ?? step.expected?.node;
  return step.differences.map((d) => `    #${step.index + 1} ${node} [${step.status}]: ${d}`);
}

function formatEnd(end: RunComparison["end"]["actual"]): string {
  return `${end.reason}${end.node ? ` at ${end.node}` : ""}${end.error ? ` (${end.error})` : ""}`;
}
