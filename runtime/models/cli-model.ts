// `parley model list|get|verify|rm`: the model manager on the command line.

import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { parseFlags, wantsHelp } from "../cli-flags.js";
import { InvalidArgumentError } from "../errors.js";
import { findEntry, getEntry, loadCatalogue } from "./catalogue.js";
import { downloadModel, verifyModel, type DownloadProgress } from "./download.js";
import { listInstalled, modelsFolder, removeModel, resolveModelRef } from "./store.js";

export const MODEL_USAGE = `usage: parley model <subcommand> [options]

  list [--folder DIR] [--json]                 catalogue entries and installed models (✓ = SHA-256 verified)
  get ID [--folder DIR] [--force] [--retries N] [--json]
                                               download a catalogue model (resumes an interrupted download;
                                               --retries: retries after a failed request, an integer ≥ 0, default 2)
  verify ID|FILE [--folder DIR] [--json]       hash a model and compare it with the catalogue
  rm ID|FILE [--folder DIR] [--json]           delete a model (and its partial download) from the folder

The folder is --folder, else PARLEY_MODELS, else models/ in $PARLEY_CACHE_DIR, $XDG_CACHE_HOME/parley or ~/.cache/parley. Extra catalogue entries are read
from <folder>/catalogue.json and from the JSON file named by PARLEY_CATALOGUE.
`;

export function formatBytes(n: number | null): string {
  if (n === null) return "?";
  if (n < 1000) return `${n} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let v = n;
  let i = -1;
  do {
    v /= 1000;
    i++;
  } while (v >= 1000 && i < units.length - 1);
  return `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[i]}`;
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "--:--";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** A progress reporter for stderr: a redrawn bar on a TTY, a line every 10% (or 10 s) otherwise. */
export function progressPrinter(label: string, stream: NodeJS.WriteStream = process.stderr): { update: (p: DownloadProgress) => void; done: () => void } {
  const tty = stream.isTTY === true;
  let lastPct = -1;
  let lastLine = 0;
  let drawn = false;
  return {
    update(p) {
      const pct = p.totalBytes ? Math.min(100, Math.floor((100 * p.receivedBytes) / p.totalBytes)) : null;
      const rate = `${formatBytes(Math.round(p.bytesPerSecond))}/s`;
      const eta = p.totalBytes && p.bytesPerSecond > 0 ? formatDuration((p.totalBytes - p.receivedBytes) / p.bytesPerSecond) : "--:--";
      const amount = `${formatBytes(p.receivedBytes)} / ${formatBytes(p.totalBytes)}`;
      if (tty) {
        const width = 30;
        const filled = pct === null ? 0 : Math.round((pct / 100) * width);
        const bar = pct === null ? "?".repeat(width) : "█".repeat(filled) + "░".repeat(width - filled);
        stream.write(`\r${label} ${bar} ${pct ?? "?"}% ${amount} ${rate} ETA ${eta}${p.resumed ? " (resumed)" : ""}\x1b[K`);
        drawn = true;
        return;
      }
      const now = Date.now();
      const step = pct === null ? -1 : Math.floor(pct / 10);
      if ((pct !== null && step !== lastPct) || now - lastLine >= 10_000) {
        lastPct = step;
        lastLine = now;
        stream.write(`${label}: ${pct ?? "?"}% ${amount} ${rate}${p.resumed ? " (resumed)" : ""}\n`);
      }
    },
    done() {
      if (tty && drawn) stream.write("\n");
    },
  };
}

const common = {
  folder: { kind: "string", arg: "DIR", help: "the models folder" },
  json: { kind: "boolean", help: "print JSON instead of text" },
} as const;

async function context(folderArg: string | undefined) {
  const folder = folderArg ? resolve(folderArg) : modelsFolder();
  return { folder, catalogue: await loadCatalogue({ folder }) };
}

async function list(args: string[]): Promise<void> {
  const { values } = parseFlags("model list", common, args);
  const { folder, catalogue } = await context(values.folder);
  const listing = await listInstalled({ folder, catalogue });
  const rows = catalogue.map((entry) => {
    const installed = listing.installed.find((m) => m.file === entry.file);
    const partial = listing.partial.find((p) => p.file === entry.file);
    return { entry, installed, partial };
  });
  const others = listing.installed.filter((m) => !m.entry);
  if (values.json) {
    console.log(
      JSON.stringify(
        {
          folder,
          catalogue: rows.map(({ entry, installed, partial }) => ({
            ...entry,
            installed: installed !== undefined,
            path: installed?.path ?? null,
            installedBytes: installed?.sizeBytes ?? null,
            status: installed?.status ?? (partial ? "partial" : "not-installed"),
            recordedSha256: installed?.recordedSha256 ?? null,
            partialBytes: partial?.receivedBytes ?? null,
          })),
          other: others.map((m) => ({ file: m.file, path: m.path, sizeBytes: m.sizeBytes, recordedSha256: m.recordedSha256 ?? null })),
        },
        null,
        2,
      ),
    );
    return;
  }
  console.log(`models folder: ${folder}`);
  const idWidth = Math.max(2, ...catalogue.map((e) => e.id.length));
  for (const { entry, installed, partial } of rows) {
    let state: string;
    if (installed) {
      state = {
        verified: "✓ installed, verified",
        unpinned: "installed (no published checksum; SHA-256 recorded)",
        unverified: "installed (not verified yet: parley model verify)",
        mismatch: "✗ installed, does NOT match the catalogue",
        uncatalogued: "installed",
      }[installed.status];
    } else if (partial) {
      const pct = entry.sizeBytes ? ` (${Math.floor((100 * partial.receivedBytes) / entry.sizeBytes)}%)` : "";
      state = `partial download ${formatBytes(partial.receivedBytes)}${pct}: parley model get resumes it`;
    } else state = "not installed";
    const size = formatBytes(installed?.sizeBytes ?? entry.sizeBytes);
    console.log(`  ${entry.id.padEnd(idWidth)}  ${entry.quant.padEnd(6)}  ${size.padStart(9)}  ${state}`);
  }
  if (others.length > 0) {
    console.log("other GGUF files:");
    for (const m of others) console.log(`  ${m.file}  ${formatBytes(m.sizeBytes)}`);
  }
}

async function get(args: string[]): Promise<void> {
  const { values, positionals } = parseFlags(
    "model get",
    {
      ...common,
      force: { kind: "boolean", help: "download again even if installed" },
      retries: { kind: "integer", arg: "N", min: 0, help: "retries after a failed request" },
    },
    args,
    { positionals: true },
  );
  const id = positionals[0];
  if (!id) throw new InvalidArgumentError(`model get needs an ID\n${MODEL_USAGE}`);
  const { folder, catalogue } = await context(values.folder);
  const entry = getEntry(catalogue, id);
  const retries = values.retries;
  const printer = progressPrinter(entry.file);
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once("SIGINT", onSigint);
  let result;
  try {
    result = await downloadModel(entry, { folder, catalogue, force: values.force, retries, signal: controller.signal, onProgress: printer.update });
  } finally {
    printer.done();
    process.off("SIGINT", onSigint);
  }
  if (values.json) {
    console.log(JSON.stringify({ id: entry.id, ...result }, null, 2));
    return;
  }
  const how = result.alreadyInstalled ? "already installed" : result.resumed ? "downloaded (resumed)" : "downloaded";
  console.log(`${how}: ${result.path} (${formatBytes(result.bytes)})`);
  if (result.checksumPinned) console.log(`✓ SHA-256 ${result.sha256}`);
  else console.log(`SHA-256 ${result.sha256} (no published checksum for ${entry.id}: pin this value in the catalogue)`);
}

async function verify(args: string[]): Promise<void> {
  const { values, positionals } = parseFlags("model verify", common, args, { positionals: true });
  const ref = positionals[0];
  if (!ref) throw new InvalidArgumentError(`model verify needs an ID or FILE\n${MODEL_USAGE}`);
  const { folder, catalogue } = await context(values.folder);
  const { path, entry } = resolveModelRef(ref, { folder, catalogue, exists: existsSync });
  const r = await verifyModel(path, entry ?? findEntry(catalogue, path));
  if (r.ok === false) process.exitCode = 1;
  if (values.json) {
    console.log(JSON.stringify({ id: entry?.id ?? null, ...r }, null, 2));
    return;
  }
  switch (r.status) {
    case "ok":
      console.log(`✓ ${path}: SHA-256 matches (${r.sha256})`);
      break;
    case "mismatch":
      console.log(`✗ ${path}: SHA-256 mismatch: expected ${r.expectedSha256}, got ${r.sha256}`);
      break;
    case "size-mismatch":
      console.log(`✗ ${path}: size mismatch: expected ${r.expectedBytes} bytes, got ${r.bytes}`);
      break;
    case "no-published-checksum":
      console.log(`${path}: no published checksum${entry ? ` for ${entry.id}` : " (not in the catalogue)"}; SHA-256 ${r.sha256}, ${r.bytes} bytes`);
      break;
  }
}

async function rm(args: string[]): Promise<void> {
  const { values, positionals } = parseFlags("model rm", common, args, { positionals: true });
  const ref = positionals[0];
  if (!ref) throw new InvalidArgumentError(`model rm needs an ID or FILE\n${MODEL_USAGE}`);
  const { folder, catalogue } = await context(values.folder);
  const r = await removeModel(ref, { folder, catalogue });
  if (values.json) {
    console.log(JSON.stringify(r, null, 2));
    return;
  }
  if (r.removed.length === 0) console.log(`nothing to remove: ${r.path} is not installed`);
  for (const p of r.removed) console.log(`removed ${p}`);
}

const subcommands: Record<string, (args: string[]) => Promise<void>> = { list, ls: list, get, pull: get, verify, rm, remove: rm };

/** Entry point for `parley model ...` (registered in runtime/cli.ts). */
export async function modelCommand(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  // Every subcommand's options are in MODEL_USAGE, so `parley model get --help` prints it too.
  if (!sub || sub === "help" || wantsHelp(args)) {
    process.stdout.write(MODEL_USAGE);
    return;
  }
  const run = subcommands[sub];
  if (!run) throw new InvalidArgumentError(`unknown model subcommand "${sub}"\n${MODEL_USAGE}`);
  await run(rest);
}
