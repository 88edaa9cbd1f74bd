// Which model the village runs: the runtime's default resolution (runtime/models/resolve.ts: --model,
// PARLEY_MODEL, the models folder, a demo model, a synthetic stand-in) with the village's own demo model,
// samples/demo-model/parley-demo.gguf (trained by the project on the village's dialogue), as the fallback.
import { fileURLToPath } from "node:url";
import { resolveModel, type ResolvedModel, type ResolveModelOptions } from "../../../runtime/models/index.js";

/** The demo model shipped in the repository. */
export const DEMO_MODEL_PATH = fileURLToPath(new URL("../../demo-model/parley-demo.gguf", import.meta.url));

/** How the on-screen note names the demo model. */
export const DEMO_MODEL_LABEL = "Parley's demo model (4.9M parameters, trained on the village's dialogue: short in-character lines)";

/** resolveModel with the village's demo model (pass `demoModel: null` for none). */
export function resolveVillageModel(options: Omit<ResolveModelOptions, "demoLabel"> = {}): Promise<ResolvedModel> {
  const demoModel = options.demoModel === undefined ? DEMO_MODEL_PATH : options.demoModel;
  return resolveModel({ ...options, demoModel, demoLabel: demoModel === DEMO_MODEL_PATH ? DEMO_MODEL_LABEL : undefined });
}
