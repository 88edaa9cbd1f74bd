// The village's Electron preload: the library's bridge (parley-npc/host/preload) as `window.parley`, nothing
// else. launch.ts bundles it to one CommonJS file (a sandboxed preload may only `require("electron")`).
import { exposeParley } from "../../../plugin/host/electron/preload.js";

exposeParley();
