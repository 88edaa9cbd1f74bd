/// <reference lib="dom" />
// The editor page's entry point, bundled by editor/ui/build.ts into dist/main.js (+ dist/main.css).
//
// React renders the page; React Flow (@xyflow/react) draws the graph canvas, and its stylesheet is
// bundled with ours.

import "@xyflow/react/dist/style.css";
import "./editor.css";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import App from "./App.js";

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
