// Whether a module is the script node was started with: the `parley` bin and the repository's scripts run
// their command line only then, so importing them (a test, another script) runs nothing.

import { realpathSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** True when the module at `url` is the script node was started with. */
export function isMainModule(url: string): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return resolve(p);
    }
  };
  return real(entry) === real(fileURLToPath(url));
}
