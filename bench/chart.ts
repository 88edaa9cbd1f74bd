#!/usr/bin/env node
// `npm run bench:chart`: an SVG of the performance records (bench/records.ts). For each record, one horizontal
// bar per figure measured on both sides: the speed ratio llama.cpp time / Parley time on a log2 axis centred on 1×
// (right of the centre line Parley is faster), labelled with the ratio and both absolute times; a dashed line marks
// the decode target (3.8× llama.cpp Vulkan) on the decode bars of runs against llama.cpp Vulkan.
//
//   npx tsx bench/chart.ts docs/perf-records.json docs/performance.svg

import { ParleyError } from "../runtime/errors.js";
import { writeFileAtomic } from "../runtime/atomic-file.js";
import { isMainModule } from "../runtime/main-module.js";
import { readRecords, validateRecords, type FigurePair, type PerfRecord } from "./records.js";

/** The issue's decode target: Parley's decode ≥ 3.8× as fast as llama.cpp's Vulkan backend on datacenter GPUs. */
export const DECODE_TARGET_RATIO = 3.8;

/** The axis never reaches past 2^±MAX_EXTENT; longer bars are cut at the edge and marked. */
const MAX_EXTENT = 10;
const MIN_EXTENT = 2;

// Layout (px).
const WIDTH = 1060;
const LABEL_RIGHT = 196;
const PLOT_LEFT = 210;
const PLOT_RIGHT = 690;
const VALUES_LEFT = 706;
const ROW_H = 22;
const BAR_H = 14;
const GROUP_GAP = 18;
const FONT = "DejaVu Sans, Helvetica, Arial, sans-serif";

const COLOR_FASTER = "#2e8b57";
const COLOR_SLOWER = "#d9822b";
const COLOR_TARGET = "#c0392b";
const COLOR_TEXT = "#222";
const COLOR_MUTED = "#666";
const COLOR_GRID = "#e3e3e3";

type FigureKind = "decode" | "decode-loop" | "prefill" | "first-token";

interface Row {
  kind: FigureKind;
  label: string;
  pair: FigurePair;
}

function rowsOf(r: PerfRecord): Row[] {
  const f = r.figures;
  const rows: Row[] = [{ kind: "decode", label: "decode, ms/token", pair: f.decodeMsPerToken }];
  if (f.decodeLoopMsPerToken) rows.push({ kind: "decode-loop", label: "decode, GPU loop, ms/token", pair: f.decodeLoopMsPerToken });
  for (const p of [...f.prefill].sort((a, b) => a.tokens - b.tokens)) rows.push({ kind: "prefill", label: `prefill ${p.tokens} tokens`, pair: p });
  rows.push({ kind: "first-token", label: "first token after start", pair: f.firstTokenMs });
  if (f.firstTokenColdMs) rows.push({ kind: "first-token", label: "first token, first launch", pair: f.firstTokenColdMs });
  return rows;
}

/** Whether the record's peer is the one the decode target is set against. */
function hasTarget(r: PerfRecord): boolean {
  return r.peer !== null && /vulkan/i.test(r.peer);
}

/** Escapes text for SVG text content and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c]!);
}

export function formatRatio(r: number): string {
  return `${r >= 100 ? r.toFixed(0) : r >= 1 ? r.toFixed(2) : r.toPrecision(2)}×`;
}

export function formatMs(ms: number): string {
  if (ms >= 1000) return `${(ms / 1000).toPrecision(3)} s`;
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
}

function formatDate(iso: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2}))?/.exec(iso);
  if (!m) return iso;
  return m[2] && !iso.startsWith(`${m[1]}T00:00:00`) ? `${m[1]} ${m[2]}${/Z$/.test(iso) ? " UTC" : ""}` : m[1];
}

function formatParams(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(2)}B` : n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : `${(n / 1e3).toFixed(0)}K`;
}

function modelLabel(m: PerfRecord["model"]): string {
  const parts: string[] = [];
  if (m.shape) parts.push(`synthetic ${m.shape}${m.type ? ` ${m.type.toUpperCase()}` : ""}`);
  else if (m.file) parts.push(m.type ? `${m.file} (${m.type.toUpperCase()})` : m.file);
  else if (m.type) parts.push(m.type.toUpperCase());
  if (m.parameterCount) parts.push(`${formatParams(m.parameterCount)} parameters`);
  return parts.length ? parts.join(", ") : "model unknown";
}

function tickLabel(e: number): string {
  return e >= 0 ? `${2 ** e}×` : `1/${2 ** -e}×`;
}

/** Rough width of `text` in px at `size` (the SVG is not measured: this only decides where labels go). */
function textWidth(text: string, size: number): number {
  return text.length * size * 0.6;
}

/** `text`, cut with an ellipsis where it would run past `maxWidth` px (the record's <title> keeps the whole text). */
function fit(text: string, size: number, maxWidth: number): string {
  const max = Math.floor(maxWidth / (size * 0.6));
  return text.length <= max ? text : `${text.slice(0, max - 1).trimEnd()}…`;
}

const n = (v: number) => (Math.round(v * 10) / 10).toString();

/** The SVG chart of `records` (validated: throws InvalidArgumentError on a malformed record). */
export function renderChart(records: readonly PerfRecord[]): string {
  validateRecords(records);
  const ratios = records.flatMap((r) => rowsOf(r).flatMap((row) => (row.pair.peer === null ? [] : [row.pair.peer / row.pair.parley])));
  const anyTarget = records.some(hasTarget);
  const reach = Math.max(0, ...ratios.map((x) => Math.abs(Math.log2(x))), anyTarget ? Math.log2(DECODE_TARGET_RATIO) : 0);
  const extent = Math.min(MAX_EXTENT, Math.max(MIN_EXTENT, Math.ceil(reach - 1e-9)));
  const centre = (PLOT_LEFT + PLOT_RIGHT) / 2;
  const half = (PLOT_RIGHT - PLOT_LEFT) / 2;
  const xOf = (ratio: number) => centre + (Math.max(-extent, Math.min(extent, Math.log2(ratio))) / extent) * half;
  const labelStep = extent > 5 ? 2 : 1;

  const out: string[] = [];
  const text = (x: number, y: number, s: string, attrs = "") => out.push(`<text x="${n(x)}" y="${n(y)}"${attrs ? ` ${attrs}` : ""}>${escapeXml(s)}</text>`);

  // Header: title, how to read it, legend.
  let y = 26;
  text(16, y, "Parley vs llama.cpp: speed ratio per figure (llama.cpp time / Parley time)", `font-size="16" font-weight="bold"`);
  y += 19;
  text(
    16,
    y,
    "Log2 scale, centred on 1×: bars to the right mean Parley is faster, to the left llama.cpp is faster. Right column: absolute times.",
    `font-size="12" fill="${COLOR_MUTED}"`,
  );
  y += 20;
  out.push(`<g class="legend" font-size="12">`);
  let lx = 16;
  const swatch = (color: string, label: string) => {
    out.push(`<rect class="swatch" x="${lx}" y="${y - 10}" width="14" height="10" fill="${color}"/>`);
    text(lx + 19, y, label);
    lx += 19 + textWidth(label, 12) + 22;
  };
  swatch(COLOR_FASTER, "Parley faster");
  swatch(COLOR_SLOWER, "llama.cpp faster");
  if (anyTarget) {
    out.push(`<line x1="${lx + 6}" y1="${y - 12}" x2="${lx + 6}" y2="${y + 2}" stroke="${COLOR_TARGET}" stroke-width="2" stroke-dasharray="4 3"/>`);
    text(lx + 16, y, `decode target ${DECODE_TARGET_RATIO}× (on runs against llama.cpp Vulkan)`);
  }
  out.push(`</g>`);
  y += 14;

  const axis = (ay: number, where: "top" | "bottom") => {
    out.push(`<g class="axis axis-${where}" font-size="10" fill="${COLOR_MUTED}" text-anchor="middle">`);
    for (let e = -extent; e <= extent; e++) {
      if (e % labelStep !== 0) continue;
      text(xOf(2 ** e), ay, tickLabel(e), e === 0 ? `font-weight="bold" fill="${COLOR_TEXT}"` : "");
    }
    out.push(`</g>`);
  };
  y += 12;
  axis(y, "top");
  y += 10;

  if (records.length === 0) {
    y += 24;
    text(centre, y, "no records", `font-size="13" fill="${COLOR_MUTED}" text-anchor="middle"`);
    y += 12;
  }

  records.forEach((r, index) => {
    const rows = rowsOf(r);
    const target = hasTarget(r);
    out.push(`<g class="record" data-index="${index}">`);
    out.push(
      `<title>${escapeXml([`${r.machine}, ${r.date}`, `Parley on ${r.device}, driver ${r.driver}`, `peer: ${r.peer ?? "none"}`, ...(r.notes ?? [])].join("\n"))}</title>`,
    );
    const s = r.settings;
    const how = [
      s?.decodeSteps ? `decode: ${s.decodeSteps} steps${s.decodeAfterTokens ? ` after ${s.decodeAfterTokens} prompt tokens` : ""}` : "",
      s?.repeat ? `prefill: median of ${s.repeat} run${s.repeat === 1 ? "" : "s"}` : "",
      r.notes?.some((x) => /transcribed/i.test(x)) ? "transcribed from docs/PERFORMANCE.md" : "",
    ].filter(Boolean);
    const lines: Array<[string, string]> = [
      [`${r.machine} · ${formatDate(r.date)} · ${modelLabel(r.model)}`, `class="record-title" font-size="13" font-weight="bold"`],
      [`Parley: ${r.device}, driver ${r.driver} · peer: ${r.peer ?? "none (Parley only)"}`, `class="record-subtitle" font-size="11" fill="${COLOR_MUTED}"`],
    ];
    if (how.length) lines.push([how.join(" · "), `class="record-subtitle" font-size="11" fill="${COLOR_MUTED}"`]);
    lines.forEach(([line, attrs], i) => {
      y += i === 0 ? 16 : 15;
      const size = i === 0 ? 13 : 11;
      text(16, y, fit(line, size, WIDTH - 32), attrs);
    });
    y += 8;
    const top = y;
    const bottom = top + rows.length * ROW_H;
    // Grid and the 1× line across this record's rows.
    out.push(`<g class="grid" stroke="${COLOR_GRID}" stroke-width="1">`);
    for (let e = -extent; e <= extent; e++) {
      if (e !== 0) out.push(`<line x1="${n(xOf(2 ** e))}" y1="${n(top)}" x2="${n(xOf(2 ** e))}" y2="${n(bottom)}"/>`);
    }
    out.push(`</g>`);
    rows.forEach((row, i) => {
      const rowTop = top + i * ROW_H;
      const mid = rowTop + ROW_H / 2;
      const { parley, peer } = row.pair;
      out.push(`<g class="figure" data-figure="${row.kind}">`);
      text(LABEL_RIGHT, mid + 4, row.label, `font-size="12" text-anchor="end" fill="${COLOR_TEXT}"`);
      if (peer === null) {
        text(centre + 6, mid + 4, "no llama.cpp figure", `font-size="11" fill="${COLOR_MUTED}" font-style="italic"`);
        text(VALUES_LEFT, mid + 4, `Parley ${formatMs(parley)}`, `font-size="11" fill="${COLOR_TEXT}"`);
      } else {
        const ratio = peer / parley;
        const end = xOf(ratio);
        const faster = ratio >= 1;
        const w = Math.max(Math.abs(end - centre), 1);
        const color = faster ? COLOR_FASTER : COLOR_SLOWER;
        out.push(
          `<rect class="bar" data-ratio="${ratio.toPrecision(6)}" x="${n(faster ? centre : centre - w)}" y="${n(mid - BAR_H / 2)}" width="${n(w)}" height="${BAR_H}" fill="${color}">` +
            `<title>${escapeXml(`${row.label}: ${formatRatio(ratio)} (Parley ${formatMs(parley)}, llama.cpp ${formatMs(peer)})`)}</title></rect>`,
        );
        const clipped = Math.abs(Math.log2(ratio)) > extent;
        if (clipped) {
          const tip = faster ? PLOT_RIGHT : PLOT_LEFT;
          const d = faster ? 6 : -6;
          out.push(
            `<path class="clip-mark" d="M${n(tip - d)} ${n(mid - BAR_H / 2)} L${n(tip)} ${n(mid)} L${n(tip - d)} ${n(mid + BAR_H / 2)} Z" fill="#fff"/>`,
          );
        }
        // The ratio beside the bar's end, outside it where it fits, else inside it.
        const label = formatRatio(ratio);
        const lw = textWidth(label, 11);
        const outside = faster ? end + 4 + lw <= PLOT_RIGHT : end - 4 - lw >= PLOT_LEFT;
        const inside = w >= lw + 8;
        if (outside || !inside) {
          text(
            faster ? end + 4 : end - 4,
            mid + 4,
            label,
            `class="ratio" font-size="11" font-weight="bold" fill="${COLOR_TEXT}" text-anchor="${faster ? "start" : "end"}"`,
          );
        } else {
          text(
            faster ? end - 4 : end + 4,
            mid + 4,
            label,
            `class="ratio" font-size="11" font-weight="bold" fill="#fff" text-anchor="${faster ? "end" : "start"}"`,
          );
        }
        text(VALUES_LEFT, mid + 4, `Parley ${formatMs(parley)} · llama.cpp ${formatMs(peer)}`, `font-size="11" fill="${COLOR_TEXT}"`);
      }
      if (target && (row.kind === "decode" || row.kind === "decode-loop")) {
        const tx = xOf(DECODE_TARGET_RATIO);
        out.push(
          `<line class="target" x1="${n(tx)}" y1="${n(rowTop + 1)}" x2="${n(tx)}" y2="${n(rowTop + ROW_H - 1)}" stroke="${COLOR_TARGET}" stroke-width="2" stroke-dasharray="4 3"/>`,
        );
      }
      out.push(`</g>`);
    });
    out.push(`<line class="one" x1="${n(centre)}" y1="${n(top - 2)}" x2="${n(centre)}" y2="${n(bottom + 2)}" stroke="${COLOR_TEXT}" stroke-width="1.5"/>`);
    out.push(`</g>`);
    y = bottom + GROUP_GAP - 8;
  });

  y += 14;
  axis(y, "bottom");
  y += 14;
  const height = Math.ceil(y);
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="${FONT}" fill="${COLOR_TEXT}">`,
    `<title>Parley vs llama.cpp performance records</title>`,
    `<rect class="background" x="0" y="0" width="${WIDTH}" height="${height}" fill="#fff"/>`,
    ...out,
    `</svg>`,
    "",
  ].join("\n");
}

const USAGE = `usage: npx tsx bench/chart.ts RECORDS.json OUT.svg   (npm run bench:chart)

Draws the performance records that \`npm run bench -- --record RECORDS.json\` appends as an SVG chart.
`;

function main(argv: string[]): void {
  if (argv.includes("-h") || argv.includes("--help")) {
    process.stdout.write(USAGE);
    return;
  }
  if (argv.length !== 2) {
    process.stderr.write(USAGE);
    process.exit(2);
  }
  const [input, output] = argv;
  const records = readRecords(input);
  writeFileAtomic(output, renderChart(records));
  process.stderr.write(`chart: ${records.length} record${records.length === 1 ? "" : "s"} from ${input} -> ${output}\n`);
}

if (isMainModule(import.meta.url)) {
  try {
    main(process.argv.slice(2));
  } catch (e) {
    const message = e instanceof ParleyError ? `${e.message} [${e.code}]` : ((e as Error)?.stack ?? String(e));
    process.stderr.write(`chart: ${message}\n`);
    process.exit(2);
  }
}
