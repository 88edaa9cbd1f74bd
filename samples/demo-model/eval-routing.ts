// Intent routing accuracy of the village's intent nodes with the demo model, on every held-out line (both
// writers' paraphrase sets and the off-topic lines in test/fixtures/intent-paraphrases.ts): right, wrong and
// asked-again shares per set, what each judge alone would have said, per-intent counts, every miss, and the
// intent step's time. The test suite checks a slice of the same lines (test/plugin/intent-routing.gpu.test.ts).
//
//   npm run eval:routing [-- --json] [--every K]
//
// --every K routes each intent's 1st, (K+1)th… line only. --json prints one JSON object (stats and every
// routed line) instead of the report.

import { parseArgs } from "node:util";
import { LocalBackend } from "../../plugin/index.js";
import { Runtime } from "../../runtime/index.js";
import { heldOutLines } from "../../test/fixtures/intent-paraphrases.js";
import { formatStats, perIntent, routeLines, routingStats, type RoutedLine } from "./routing.js";

const MODEL = new URL("parley-demo.gguf", import.meta.url).pathname;

const { values } = parseArgs({ options: { json: { type: "boolean", default: false }, every: { type: "string", default: "1" } } });
const every = Number(values.every);
if (!Number.isInteger(every) || every < 1) {
  console.error(`--every must be a whole number ≥ 1, got ${values.every}`);
  process.exit(2);
}

const runtime = await Runtime.create();
const model = await runtime.loadModel(MODEL);
const backend = new LocalBackend(model, { contextSize: 2048 });
let rows: RoutedLine[];
try {
  rows = await routeLines(backend, heldOutLines(every));
} finally {
  backend.dispose();
  model.dispose();
  runtime.dispose();
}

const onTopic = rows.filter((r) => r.intent !== null);
const offTopic = rows.filter((r) => r.intent === null);
const stats = {
  first: routingStats(rows.filter((r) => r.set === "first")),
  second: routingStats(rows.filter((r) => r.set === "second")),
  both: routingStats(onTopic),
  offTopicUnclear: offTopic.length ? offTopic.filter((r) => r.event.intent === null).length / offTopic.length : 0,
  perIntent: perIntent(rows),
};
const times = onTopic.map((r) => r.ms).sort((a, b) => a - b);
const timing = {
  medianMs: times[times.length >> 1],
  p90Ms: times[Math.floor(times.length * 0.9)],
  examplesDecided: onTopic.filter((r) => r.event.source === "examples").length,
};

if (values.json) {
  console.log(
    JSON.stringify({
      every,
      stats,
      timing,
      rows: rows.map((r) => ({
        set: r.set,
        npc: r.npc,
        intent: r.intent,
        line: r.line,
        chosen: r.event.intent,
        best: r.event.best,
        source: r.event.source,
        ms: Math.round(r.ms),
      })),
    }),
  );
} else {
  console.log(formatStats("first writer", stats.first));
  console.log(formatStats("second writer", stats.second));
  console.log(formatStats("both sets", stats.both));
  console.log(`off-topic, ${offTopic.length} lines: ${(stats.offTopicUnclear * 100).toFixed(1)}% unclear (→ the node's fallback)`);
  console.log(
    `intent step (submit → intent_chosen): median ${timing.medianMs.toFixed(0)} ms, p90 ${timing.p90Ms.toFixed(0)} ms, ${timing.examplesDecided} decided by the examples alone`,
  );
  for (const [k, [ok, n]] of Object.entries(stats.perIntent)) console.log(`  ${k}: ${ok}/${n}`);
  for (const r of rows.filter((r) => r.event.intent !== r.intent))
    console.log(`  miss [${r.set}] ${r.npc}/${r.intent ?? "none"} → ${r.event.intent ?? `unclear (${r.event.best})`}: ${JSON.stringify(r.line)}`);
}
