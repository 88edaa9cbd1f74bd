// Runs Electron's binary as a child of the command that decided to (npm start, npm run editor), with the
// terminal's Ctrl-C and SIGTERM passed on to it, and resolves with its exit code.

import { spawn } from "node:child_process";

/**
 * Starts `electronPath` with `args` and `env` and waits for it to exit: resolves with its exit code (0 after
 * a signal it was sent), or null when it could not start at all (`onStartError` hears why), so the caller
 * can fall back to the browser.
 */
export async function runElectron(electronPath: string, args: string[], env: NodeJS.ProcessEnv, onStartError: (error: Error) => void): Promise<number | null> {
  const childEnv: NodeJS.ProcessEnv = { ...env };
  delete childEnv.ELECTRON_RUN_AS_NODE; // would turn Electron into plain Node
  const child = spawn(electronPath, args, { stdio: "inherit", env: childEnv });
  const forward = (signal: NodeJS.Signals) => () => {
    if (child.exitCode === null) child.kill(signal);
  };
  const onInt = forward("SIGINT");
  const onTerm = forward("SIGTERM");
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  try {
    return await new Promise<number | null>((done) => {
      child.once("error", (error) => {
        onStartError(error);
        done(null);
      });
      child.once("exit", (code, signal) => done(code ?? (signal ? 0 : 1)));
    });
  } finally {
    process.off("SIGINT", onInt);
    process.off("SIGTERM", onTerm);
  }
}
