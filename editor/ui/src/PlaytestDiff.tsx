/// <reference lib="dom" />
// A replay compared with its recording, node by node: each step of the recorded run beside the replay's,
// marked same / changed / path (the runs part here) / missing / extra, with what differs; then the final
// variables and the ending when they differ.

import type { StepComparison } from "../../../plugin/playtest/compare.js";
import type { PlaytestStep } from "../../../plugin/playtest/transcript.js";
import type { ReplayView } from "./playtest-api.js";

export default function PlaytestDiff({ replay }: { replay: ReplayView }) {
  const c = replay.comparison;
  return (
    <div className="playtest-diff" aria-label={`Replay of ${replay.name}`}>
      <p className={`playtest-verdict ${c.matches ? "same" : "diverged"}`}>
        {c.matches
          ? `${replay.name}: the replay matches the recording, node by node (${c.steps.length} nodes).`
          : `${replay.name}: diverged at step ${(c.firstDivergence ?? c.steps.length) + 1}.`}
      </p>
      <ol className="playtest-steps">
        {c.steps.map((step) => (
          <DiffStep key={`${step.status}-${step.index}`} step={step} />
        ))}
      </ol>
      {c.variables.length > 0 && (
        <ul className="playtest-diff-notes">
          {c.variables.map((v) => (
            <li key={v.name}>
              {v.name} ends {JSON.stringify(v.actual ?? null)}, recorded {JSON.stringify(v.expected ?? null)}
            </li>
          ))}
        </ul>
      )}
      {!c.end.same && (
        <p className="playtest-diff-notes">
          Ending: {describeEnd(c.end.actual)}, recorded {describeEnd(c.end.expected)}
        </p>
      )}
      {replay.notes.map((note, i) => (
        <p key={i} className="playtest-diff-notes">
          {note}
        </p>
      ))}
    </div>
  );
}

function DiffStep({ step }: { step: StepComparison }) {
  const node = step.actual?.node ?? step.expected?.node;
  return (
    <li className={`playtest-step ${step.status}`} data-status={step.status}>
      <span className="playtest-step-node">
        {step.index + 1}. {node}
      </span>
      <span className="playtest-step-status">{step.status}</span>
      {step.status === "same" ? (
        <span className="playtest-step-summary">{summary(step.actual!)}</span>
      ) : (
        <ul>
          {step.differences.map((d, i) => (
            <li key={i}>{d}</li>
          ))}
        </ul>
      )}
    </li>
  );
}

function summary(step: PlaytestStep): string {
  const parts = [
    ...step.lines.map((l) => `“${l.text}”`),
    ...(step.player !== null ? [`player: “${step.player}”`] : []),
    ...Object.entries(step.variables).map(([k, v]) => `${k} = ${JSON.stringify(v)}`),
  ];
  return parts.join(" · ");
}

function describeEnd(end: { reason: string; node: string | null; error?: string }): string {
  return `${end.reason}${end.node ? ` at ${end.node}` : ""}${end.error ? ` (${end.error})` : ""}`;
}
