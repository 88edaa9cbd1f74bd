/// <reference lib="dom" />
// A small chart of the run's generated lines: time to first token (bars) and ms per token after it (dots),
// one column per line, each on its own scale (labelled with its maximum), as inline SVG.

import { lineSpeed, type ConversationItem } from "./playtest-fold.js";
import { usePlaytest } from "./playtest-store.js";

const WIDTH = 260;
const HEIGHT = 90;
const PAD = 14;

export default function PlaytestChart() {
  const items = usePlaytest((s) => s.view.items);
  const lines = items.filter((i): i is Extract<ConversationItem, { kind: "line" }> => i.kind === "line" && i.timing !== undefined);
  const points = lines.map((line) => ({ node: line.nodeId, ...lineSpeed(line.timing!) }));
  return (
    <div className="playtest-box">
      <h3>Speed</h3>
      {points.length === 0 ? <p className="playtest-muted">Time to first token and ms/token of each generated line appear here.</p> : <Chart points={points} />}
    </div>
  );
}

function Chart({ points }: { points: { node: string; ttftMs: number; msPerToken: number | null }[] }) {
  const maxTtft = Math.max(1, ...points.map((p) => p.ttftMs));
  const maxMs = Math.max(1, ...points.map((p) => p.msPerToken ?? 0));
  // Columns no wider than a few lines' worth, so one line is not one wide block.
  const column = Math.min((WIDTH - 2 * PAD) / points.length, 36);
  const y = (value: number, max: number): number => HEIGHT - PAD - (value / max) * (HEIGHT - 2 * PAD);
  return (
    <svg className="playtest-chart" viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label="Time to first token and ms per token of each generated line">
      <line x1={PAD} y1={HEIGHT - PAD} x2={WIDTH - PAD} y2={HEIGHT - PAD} className="axis" />
      {points.map((p, i) => {
        const x = PAD + i * column;
        return (
          <g key={i}>
            <title>{`${p.node}: first token ${Math.round(p.ttftMs)} ms, ${p.msPerToken === null ? "–" : `${p.msPerToken.toFixed(1)} ms/token`}`}</title>
            <rect x={x + column * 0.2} width={column * 0.6} y={y(p.ttftMs, maxTtft)} height={HEIGHT - PAD - y(p.ttftMs, maxTtft)} className="ttft" />
            {p.msPerToken !== null && <circle cx={x + column / 2} cy={y(p.msPerToken, maxMs)} r={3} className="mspt" />}
          </g>
        );
      })}
      <text x={PAD} y={10} className="ttft-label">
        TTFT ≤ {Math.round(maxTtft)} ms
      </text>
      <text x={WIDTH - PAD} y={10} textAnchor="end" className="mspt-label">
        ● ≤ {maxMs.toFixed(1)} ms/token
      </text>
    </svg>
  );
}
