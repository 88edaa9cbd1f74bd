// Bundles a shell's Electron scripts with esbuild: main-process scripts as ES modules, preload scripts as
// CommonJS (a sandboxed preload may only `require("electron")`). The output goes under .cache/ inside the
// repository, so the bundles' bare imports resolve from node_modules; each source file's `import.meta.url`
// is kept as its original URL, so paths relative to the sources (the native addon, JSON files) still resolve.

import { mkdirSync, readFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

/** `.cache/NAME` in the repository: where a shell's bundles go. */
export function shellCacheDir(name: string): string {
  return join(repoRoot, ".cache", name);
}

/** Bundles `entry` to OUTDIR/NAME.mjs (main process) or OUTDIR/NAME.cjs (preload); returns the output path. */
export async function bundleElectronScript(entry: string, outDir: string, kind: "main" | "preload"): Promise<string> {
  const esbuild = await import("esbuild");
  mkdirSync(outDir, { recursive: true });
  const outfile = join(outDir, basename(entry).replace(/\.[cm]?ts$/, kind === "main" ? ".mjs" : ".cjs"));
  const keepImportMetaUrl: import("esbuild").Plugin = {
    name: "keep-import-meta-url",
    setup(build) {
      build.onLoad({ filter: /\.[cm]?ts$/ }, (args) => {
        if (args.path.includes(`${"/"}node_modules${"/"}`)) return undefined;
        const source = readFileSync(args.path, "utf8");
        return { contents: source.replaceAll("import.meta.url", JSON.stringify(pathToFileURL(args.path).href)), loader: "ts" };
      });
    },
  };
  await esbuild.build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: "node",
    format: kind === "main" ? "esm" : "cjs",
    target: "node20",
    ...(kind === "main" ? { packages: "external" as const, plugins: [keepImportMetaUrl] } : { external: ["electron"] }),
    logLevel: "warning",
  });
  return outfile;
}
