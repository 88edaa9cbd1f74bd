// Compares a replayed run with the run a transcript recorded, node by node: the steps are paired in order
// while both runs visit the same nodes; at the first node where they part ways the rest cannot be paired
// (they are listed as missing and extra). At paired nodes, every difference in what was said or set is named.

import type { Value } from "../types.js";
import type { PlaytestStep, RunEnd, RunRecord } from "./transcript.js";

export type StepStatus = "same" | "changed" | "path" | "missing" | "extra";

export interface StepComparison {
  /** Position in the recorded run (or in the replay, for extra steps). */
  index: number;
  /** same: as recorded; changed: same node, different output; path: another node than recorded (the runs part
   *  here); missing: recorded but not reached by the replay; extra: reached by the replay only. */
  status: StepStatus;
  expected?: PlaytestStep;
  actual?: PlaytestStep;
  /** What differs, one short sentence each. */
  differences: string[];
}

export interface RunComparison {
  /** True when every step, the final variables and the ending are as recorded. */
  matches: boolean;
  steps: StepComparison[];
  /** Index of the first step that is not "same"; null when none. */
  firstDivergence: number | null;
  /** Final variables that differ. */
  variables: { name: string; expected: Value | undefined; actual: Value | undefined }[];
  end: { expected: RunEnd; actual: RunEnd; same: boolean };
}

export function compareRuns(expected: RunRecord, actual: RunRecord): RunComparison {
  const steps: StepComparison[] = [];
  const paired = Math.min(expected.steps.length, actual.steps.length);
  let parted = -1;
  for (let i = 0; i < paired; i++) {
    const e = expected.steps[i];
    const a = actual.steps[i];
    if (e.node !== a.node) {
      steps.push({ index: i, status: "path", expected: e, actual: a, differences: [`went to node "${a.node}" instead of "${e.node}"`] });
      parted = i;
      break;
    }
    const differences = stepDifferences(e, a);
    steps.push({ index: i, status: differences.length ? "changed" : "same", expected: e, actual: a, differences });
  }
  const from = parted >= 0 ? parted + 1 : paired;
  for (let i = from; i < expected.steps.length; i++) {
    steps.push({ index: i, status: "missing", expected: expected.steps[i], differences: [`node "${expected.steps[i].node}" was not reached`] });
  }
  for (let i = from; i < actual.steps.length; i++) {
    steps.push({ index: i, status: "extra", actual: actual.steps[i], differences: [`node "${actual.steps[i].node}" was reached but not recorded`] });
  }
  const names = [...new Set([...Object.keys(expected.variables), ...Object.keys(actual.variables)])].sort();
  const variables = names
    .filter((name) => expected.variables[name] !== actual.variables[name])
    .map((name) => ({ name, expected: expected.variables[name], actual: actual.variables[name] }));
  const sameEnd = expected.end.reason === actual.end.reason && expected.end.node === actual.end.node && (expected.end.error ?? "") === (actual.end.error ?? "");
  const first = steps.findIndex((s) => s.status !== "same");
  return {
    matches: first < 0 && variables.length === 0 && sameEnd,
    steps,
    firstDivergence: first < 0 ? null : first,
    variables,
    end: { expected: expected.end, actual: actual.end, same: sameEnd },
  };
}

function stepDifferences(e: PlaytestStep, a: PlaytestStep): string[] {
  const out: string[] = [];
  const lines = Math.max(e.lines.length, a.lines.length);
  for (let i = 0; i < lines; i++) {
    const el = e.lines[i];
    const al = a.lines[i];
    const label = lines > 1 ? `line ${i + 1}` : "line";
    if (!el) out.push(`${label}: not recorded, now ${JSON.stringify(al.text)}`);
    else if (!al) out.push(`${label}: ${JSON.stringify(el.text)} was not spoken`);
    else {
      if (el.text !== al.text) out.push(`${label}: ${JSON.stringify(al.text)} instead of ${JSON.stringify(el.text)}`);
      if (el.source !== al.source) out.push(`${label}: ${al.source} instead of ${el.source}`);
    }
  }
  if ((e.choices ?? []).join("\n") !== (a.choices ?? []).join("\n")) {
    out.push(`choices: ${JSON.stringify(a.choices ?? [])} instead of ${JSON.stringify(e.choices ?? [])}`);
  }
  if (e.player !== a.player) out.push(`player: ${JSON.stringify(a.player)} instead of ${JSON.stringify(e.player)}`);
  if (e.intent !== a.intent) out.push(`intent: ${JSON.stringify(a.intent ?? null)} instead of ${JSON.stringify(e.intent ?? null)}`);
  for (const name of [...new Set([...Object.keys(e.variables), ...Object.keys(a.variables)])].sort()) {
    if (e.variables[name] !== a.variables[name]) {
      out.push(`${name}: set to ${show(a.variables[name])} instead of ${show(e.variables[name])}`);
    }
  }
  if (e.events.join("\n") !== a.events.join("\n")) out.push(`events: [${a.events.join(", ")}] instead of [${e.events.join(", ")}]`);
  return out;
}

function show(value: Value | undefined): string {
  return value === undefined ? "nothing" : JSON.stringify(value);
}
