// The playtest's API routes (editor/host/playtest.ts), mounted beside the editor's own on the loopback server:
//
//   GET  /api/playtest/events                      → text/event-stream of PlaytestHostEvent (a snapshot first)
//   GET  /api/playtest/status                      → {model, run}
//   POST /api/playtest/start {graph, node?, variables?, seed?, remember?} → {run}
//   POST /api/playtest/choose {index}              → {ok}
//   POST /api/playtest/submit {text}               → {ok}
//   POST /api/playtest/stop                        → {ok}
//   POST /api/playtest/forget {character}          → {forgotten}  (turns of earlier playtests it remembered)
//   POST /api/playtest/save {name, overwrite?}     → {path, transcript}
//   GET  /api/playtest/transcripts                 → {transcripts: [{name, path, graph, seed}]}
//   POST /api/playtest/replay {name}               → {name, record, expected, comparison, notes}
//
// Errors: 400 PLAYTEST_INVALID (an unknown node or variable, a bad seed or name), 404 NOT_FOUND, 409 NO_PLAYTEST /
// NOT_WAITING / TRANSCRIPT_EXISTS, 503 NO_MODEL (the message says how to get one) or the model's own error code.

import { HttpError, type ErrorMapper, type RouteContext, type Routes } from "../../runtime/host/loopback-server.js";
import { isJsonObject } from "../../plugin/errors.js";
import type { Value } from "../../plugin/types.js";
import { PlaytestError, type PlaytestHost } from "./playtest.js";

export const mapPlaytestError: ErrorMapper = (error) => {
  if (error instanceof PlaytestError) return new HttpError(error.status, error.httpCode, error.message);
  return undefined;
};

/** `variables`: an object of numbers, strings and booleans, or absent. */
function variablesField(ctx: RouteContext): Record<string, Value> | undefined {
  const raw = ctx.body.variables;
  if (raw === undefined || raw === null) return undefined;
  if (!isJsonObject(raw)) throw new HttpError(400, "INVALID_ARGUMENT", `"variables" must be an object of variable names to values`);
  for (const [name, value] of Object.entries(raw)) {
    const ok = typeof value === "boolean" || typeof value === "string" || (typeof value === "number" && Number.isFinite(value));
    if (!ok) throw new HttpError(400, "INVALID_ARGUMENT", `variable "${name}" must be a number, a string or true/false`);
  }
  return raw as Record<string, Value>;
}

export function playtestRoutes(playtest: PlaytestHost): Routes {
  return {
    "GET /api/playtest/events": (ctx) => {
      ctx.eventStream((send) => playtest.subscribe(send));
    },
    "GET /api/playtest/status": () => ({ model: playtest.model, run: playtest.currentRun }),
    "POST /api/playtest/start": async (ctx) => {
      const run = await playtest.start({
        graph: ctx.field("graph", "string"),
        node: ctx.optionalField("node", "string"),
        variables: variablesField(ctx),
        seed: ctx.optionalField("seed", "number"),
        remember: ctx.optionalField("remember", "boolean") ?? false,
      });
      return { run };
    },
    "POST /api/playtest/choose": (ctx) => {
      playtest.choose(ctx.field("index", "number"));
      return { ok: true };
    },
    "POST /api/playtest/submit": (ctx) => {
      playtest.submit(ctx.field("text", "string"));
      return { ok: true };
    },
    "POST /api/playtest/stop": async () => {
      await playtest.stop();
      return { ok: true };
    },
    "POST /api/playtest/forget": (ctx) => ({ forgotten: playtest.forget(ctx.field("character", "string")) }),
    "POST /api/playtest/save": async (ctx) =>
      playtest.saveTranscript(ctx.field("name", "string"), { overwrite: ctx.optionalField("overwrite", "boolean") ?? false }),
    "GET /api/playtest/transcripts": async () => ({ transcripts: await playtest.listTranscripts() }),
    "POST /api/playtest/replay": async (ctx) => playtest.replay(ctx.field("name", "string")),
  };
}
