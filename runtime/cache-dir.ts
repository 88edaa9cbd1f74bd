// Where Parley keeps what it can rebuild or download again (models, the pipeline cache): PARLEY_CACHE_DIR,
// else $XDG_CACHE_HOME/parley (the XDG base-directory convention), else ~/.cache/parley.
import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";

/** Parley's cache folder for `env`, or null when no home folder is known and nothing is set. */
export function parleyCacheDir(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.PARLEY_CACHE_DIR) return resolve(env.PARLEY_CACHE_DIR);
  // The XDG spec: a relative XDG_CACHE_HOME is invalid and ignored.
  if (env.XDG_CACHE_HOME && isAbsolute(env.XDG_CACHE_HOME)) return join(env.XDG_CACHE_HOME, "parley");
  let home: string;
  try {
    home = homedir();
  } catch {
    return null;
  }
  return home ? join(home, ".cache", "parley") : null;
}
