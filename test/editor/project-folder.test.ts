// ProjectFolder on real copies of the village sample: opening, bad files, validated and conflict-checked
// saves (also when the saving process is killed), path confinement, renames, deletes and node layout.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { watch } from "node:fs";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile, lstat } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import {
  CharacterInUseError,
  ExternalChangeError,
  JsonSyntaxError,
  PathOutsideProjectError,
  ProjectFolder,
  type DialogueDocument,
} from "../../editor/project/index.js";
import { parseCharacter, serializeCharacter } from "../../plugin/character/validate.js";
import { NODE_TYPES, parseDialogueGraph, serializeDialogueGraph } from "../../plugin/dialogue/validate.js";
import { PluginValidationError } from "../../plugin/errors.js";
import type { Character, DialogueGraph } from "../../plugin/types.js";
import { InvalidArgumentError } from "../../runtime/errors.js";
import { BIG_DOCUMENT_PATH, bigCharacterText } from "./fixtures/big-document.js";

const village = fileURLToPath(new URL("../../samples/village/", import.meta.url));
const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const VILLAGE_IDS = ["blacksmith", "guard", "innkeeper"];

let temp: string | undefined;
afterEach(async () => {
  if (temp) await rm(temp, { recursive: true, force: true });
  temp = undefined;
});

/** A copy of the village's project files (manifest, characters, dialogue) in a fresh temp folder. */
async function copyVillage(name = "ashford", options: { manifest?: boolean } = {}): Promise<string> {
  temp = await mkdtemp(join(tmpdir(), "parley-editor-"));
  const root = join(temp, name);
  await mkdir(root);
  await cp(join(village, "characters"), join(root, "characters"), { recursive: true });
  await cp(join(village, "dialogue"), join(root, "dialogue"), { recursive: true });
  if (options.manifest !== false) await cp(join(village, "parley.project.json"), join(root, "parley.project.json"));
  return root;
}

const sha256 = (bytes: Buffer | string) => createHash("sha256").update(bytes).digest("hex");

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected the operation to fail");
}

/** Lines that differ between two texts of the same line count (a changed count fails the caller). */
function changedLines(before: string, after: string): string[] {
  const a = before.split("\n");
  const b = after.split("\n");
  expect(b.length).toBe(a.length);
  return a.flatMap((line, i) => (line === b[i] ? [] : [`${line} → ${b[i]}`]));
}

describe("ProjectFolder.open", () => {
  it("opens the village project with its characters and graphs and no problems", async () => {
    const root = await copyVillage();
    const project = await ProjectFolder.open(root);
    expect(project.characters().map((d) => d.id)).toEqual(VILLAGE_IDS);
    expect(project.graphs().map((d) => d.id)).toEqual(VILLAGE_IDS);
    expect(project.documents().filter((d) => d.problem)).toEqual([]);
    expect(project.manifest).toEqual({ schema: "parley.project/1", name: "Ashford village", defaultModel: null, contextSize: 2048 });
    for (const doc of project.documents()) {
      const bytes = await readFile(join(root, doc.path));
      expect(doc.text).toBe(bytes.toString("utf8"));
      expect(doc.hash).toBe(sha256(bytes));
      expect(doc.value).toBeDefined();
    }
    const guard = project.document("dialogue/guard.json") as DialogueDocument;
    expect(guard.value?.character).toBe("guard");
    expect(guard.kind).toBe("dialogue");
    expect(project.layout("guard")).toEqual({ schema: "parley.layout/1", nodes: {} });
  });

  it("a folder without a manifest gets a default one named after the folder", async () => {
    const root = await copyVillage("smithy-tales", { manifest: false });
    const project = await ProjectFolder.open(root);
    expect(project.manifest.name).toBe("smithy-tales");
    expect(project.document("parley.project.json")).toMatchObject({ kind: "manifest", hash: null });
    // Creating it is a save that expects no file yet.
    const text = '{\n  "schema": "parley.project/1",\n  "name": "Smithy",\n  "defaultModel": "models/x.gguf",\n  "contextSize": 4096\n}\n';
    await project.save("parley.project.json", text, { expectedHash: null });
    expect(project.manifest).toMatchObject({ name: "Smithy", contextSize: 4096 });
    expect((await ProjectFolder.open(root)).manifest.defaultModel).toBe("models/x.gguf");
  });

  it("an invalid manifest is reported like any bad file, and the project still opens", async () => {
    const root = await copyVillage("bad-manifest");
    await writeFile(join(root, "parley.project.json"), '{ "schema": "parley.project/1", "name": "x", "contextSize": 99 }\n');
    const project = await ProjectFolder.open(root);
    const doc = project.document("parley.project.json")!;
    expect(doc.value).toBeUndefined();
    expect(doc.problem?.issues?.map((i) => i.path)).toEqual(["contextSize"]);
    expect(project.manifest.name).toBe("bad-manifest");
    expect(project.characters()).toHaveLength(3);
  });

  it("a file with bad JSON still opens, with its line and column", async () => {
    const root = await copyVillage();
    const original = serializeCharacter(parseCharacter(JSON.parse(await readFile(join(root, "characters/guard.json"), "utf8"))));
    const lines = original.split("\n");
    const roleLine = lines.findIndex((l) => l.trimStart().startsWith('"role"'));
    // Drop the comma that ends the line before "role": the parser fails at the start of the "role" key.
    lines[roleLine - 1] = lines[roleLine - 1].replace(/,$/, "");
    await writeFile(join(root, "characters/guard.json"), lines.join("\n"));
    const project = await ProjectFolder.open(root);
    const guard = project.document("characters/guard.json")!;
    expect(guard.value).toBeUndefined();
    expect(guard.problem).toMatchObject({ line: roleLine + 1, column: lines[roleLine].indexOf('"') + 1 });
    expect(guard.problem?.message).toContain(`line ${roleLine + 1}`);
    expect(guard.text).toBe(lines.join("\n"));
    // Everything else loads, and the guard's graph still knows its (broken) character exists.
    expect(
      project
        .documents()
        .filter((d) => d.problem)
        .map((d) => d.path),
    ).toEqual(["characters/guard.json"]);
    expect(project.document("dialogue/guard.json")!.value).toBeDefined();
  });

  it("checks graphs against the project's characters and keeps their warnings", async () => {
    const root = await copyVillage();
    const graph = JSON.parse(await readFile(join(root, "dialogue/guard.json"), "utf8"));
    graph.character = "nobody";
    await writeFile(join(root, "dialogue/guard.json"), JSON.stringify(graph));
    const orphan = parseDialogueGraph(JSON.parse(await readFile(join(root, "dialogue/innkeeper.json"), "utf8")));
    orphan.nodes.island = { type: "line", text: "Nobody leads here, {stranger}.", next: null, tags: [], events: [] };
    await writeFile(join(root, "dialogue/innkeeper.json"), serializeDialogueGraph(orphan));
    const project = await ProjectFolder.open(root);
    expect(project.document("dialogue/guard.json")!.problem?.issues).toEqual([
      { path: "character", message: expect.stringContaining('no character "nobody"') },
    ]);
    const innkeeper = project.document("dialogue/innkeeper.json")!;
    expect(innkeeper.value).toBeDefined();
    expect(innkeeper.warnings.map((w) => w.path).sort()).toEqual(["nodes.island", "nodes.island.text"]);
  });

  it("a file whose id does not match its name is a problem", async () => {
    const root = await copyVillage();
    await cp(join(root, "characters/guard.json"), join(root, "characters/warden.json"));
    const project = await ProjectFolder.open(root);
    expect(project.document("characters/warden.json")!.problem?.issues).toEqual([{ path: "id", message: expect.stringContaining("does not match") }]);
  });
});

describe("ProjectFolder.save", () => {
  it("writes valid text, returns the new hash and keeps the document current", async () => {
    const root = await copyVillage();
    const project = await ProjectFolder.open(root);
    const doc = project.document("characters/guard.json")!;
    const character = parseCharacter(JSON.parse(doc.text));
    const text = serializeCharacter({ ...character, mood: "tired" });
    const hash = await project.save(doc.path, text, { expectedHash: doc.hash });
    expect(hash).toBe(sha256(text));
    expect(await readFile(join(root, doc.path), "utf8")).toBe(text);
    expect(project.document(doc.path)).toMatchObject({ hash, text, value: { mood: "tired" } });
    expect(await project.changedOnDisk()).toEqual([]);
  });

  it("refuses invalid content with the typed error and leaves the file untouched", async () => {
    const root = await copyVillage();
    const project = await ProjectFolder.open(root);
    const doc = project.document("characters/guard.json")!;
    const before = await readFile(join(root, doc.path));
    const json = JSON.parse(doc.text);
    delete json.name;
    json.speakingStyle.maxWords = 0;
    const invalid = await rejection(project.save(doc.path, JSON.stringify(json, null, 2), { expectedHash: doc.hash }));
    expect(invalid).toBeInstanceOf(PluginValidationError);
    expect((invalid as PluginValidationError).issues.map((i) => i.path).sort()).toEqual(["name", "speakingStyle.maxWords"]);

    const syntax = await rejection(
      project.save(doc.path, '{\n  "schema": "parley.character/1",\n  "id": "guard"\n  "name": "x"\n}', { expectedHash: doc.hash }),
    );
    expect(syntax).toBeInstanceOf(JsonSyntaxError);
    expect([(syntax as JsonSyntaxError).line, (syntax as JsonSyntaxError).column]).toEqual([4, 3]);

    const graph = project.document("dialogue/guard.json")!;
    const unknown = await rejection(project.save(graph.path, graph.text.replace('"character": "guard"', '"character": "ghost"'), { expectedHash: graph.hash }));
    expect((unknown as PluginValidationError).issues).toEqual([{ path: "character", message: expect.stringContaining("ghost") }]);

    // The id must match the file name, and the path must name a project document.
    await expect(project.save(doc.path, doc.text.replace('"id": "guard"', '"id": "warden"'), { expectedHash: doc.hash })).rejects.toThrow(/does not match/);
    await expect(project.save("notes/readme.json", "{}", { expectedHash: null })).rejects.toThrow(InvalidArgumentError);

    expect(await readFile(join(root, doc.path))).toEqual(before);
    expect(project.document(doc.path)!.hash).toBe(doc.hash);
    expect((await readdir(join(root, "characters"))).sort()).toEqual(VILLAGE_IDS.map((id) => `${id}.json`));
  });

  it("refuses to overwrite a file changed behind its back, and reports the change", async () => {
    const root = await copyVillage();
    const project = await ProjectFolder.open(root);
    const doc = project.document("characters/innkeeper.json")!;
    const character = parseCharacter(JSON.parse(doc.text));
    const theirs = serializeCharacter({ ...character, mood: "busy" });
    await writeFile(join(root, doc.path), theirs); // a git pull
    await writeFile(join(root, "characters/miller.json"), serializeCharacter({ ...character, id: "miller" }));
    await rm(join(root, "dialogue/blacksmith.json"));

    const ours = serializeCharacter({ ...character, mood: "cheerful" });
    const error = await rejection(project.save(doc.path, ours, { expectedHash: doc.hash }));
    expect(error).toBeInstanceOf(ExternalChangeError);
    expect((error as ExternalChangeError).paths).toEqual([doc.path]);
    expect(error.message).toContain(doc.path);
    expect(await readFile(join(root, doc.path), "utf8")).toBe(theirs);

    expect(await project.changedOnDisk()).toEqual([
      { path: "characters/innkeeper.json", change: "modified" },
      { path: "characters/miller.json", change: "added" },
      { path: "dialogue/blacksmith.json", change: "deleted" },
    ]);
    // Reloading takes their version; a save against it goes through.
    expect((await project.reload(doc.path))?.value).toMatchObject({ mood: "busy" });
    expect(await project.reload("dialogue/blacksmith.json")).toBeUndefined();
    expect(project.graphs().map((g) => g.id)).toEqual(["guard", "innkeeper"]);
    const hash = await project.save(doc.path, ours, { expectedHash: project.document(doc.path)!.hash });
    expect(hash).toBe(sha256(ours));
    expect(await project.changedOnDisk()).toEqual([{ path: "characters/miller.json", change: "added" }]);

    // force overwrites whatever is there.
    await writeFile(join(root, doc.path), theirs);
    await project.save(doc.path, ours, { expectedHash: hash, force: true });
    expect(await readFile(join(root, doc.path), "utf8")).toBe(ours);
    // A new file must not already exist unless force says so.
    await expect(project.save("characters/miller.json", ours.replace('"id": "innkeeper"', '"id": "miller"'), { expectedHash: null })).rejects.toThrow(
      ExternalChangeError,
    );
    // Taking every change at once, as after a pull.
    await writeFile(join(root, doc.path), theirs);
    expect(await project.reloadChanged()).toEqual(["characters/innkeeper.json", "characters/miller.json"]);
    expect(await project.changedOnDisk()).toEqual([]);
    expect(project.characters().map((c) => c.id)).toEqual(["blacksmith", "guard", "innkeeper", "miller"]);
    expect(project.document(doc.path)!.value).toMatchObject({ mood: "busy" });
  });

  it("a save killed mid-write leaves the old text or a whole new one, and no temporary file as a document", async () => {
    const root = await copyVillage();
    const original = await readFile(join(root, BIG_DOCUMENT_PATH), "utf8");
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
    const script = fileURLToPath(new URL("./fixtures/save-loop.ts", import.meta.url));
    const possible = new Set([original]);
    // Half the kills come a little after a save finished, half the moment the next write touches the
    // folder (a temporary file appears, or the file itself changes), when a write is surely under way.
    const kills = [0, 3, 8, 15, 24].flatMap((delayMs) => [{ delayMs }, { onWrite: true, delayMs: delayMs / 8 }]);
    for (const [round, { delayMs, onWrite }] of kills.entries()) {
      const child = spawn(process.execPath, ["--import", tsx, script, root], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      let err = "";
      child.stderr.on("data", (d) => (err += d));
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, signal) => resolve(signal)));
      const watcher = watch(join(root, "characters"));
      let armed = false;
      await new Promise<void>((resolve, reject) => {
        const kill = () => setTimeout(() => resolve(void child.kill("SIGKILL")), delayMs);
        watcher.on("change", () => {
          if (armed && onWrite) kill();
        });
        child.stdout.on("data", (d) => {
          out += d;
          // Kill once a couple of saves have gone through, during a later one.
          if (!armed && /saved 1\n/.test(out)) {
            armed = true;
            if (!onWrite) kill();
          }
        });
        child.on("exit", () => reject(new Error(`the saving process ended by itself: ${err}`)));
      });
      watcher.close();
      expect(await exited).toBe("SIGKILL");
      const started = Math.max(...[...out.matchAll(/start (\d+)/g)].map((m) => Number(m[1])));
      expect(started, `round ${round}`).toBeGreaterThanOrEqual(1);
      // It may have begun one more save than it announced by the time the kill landed.
      for (let i = 0; i <= started + 1; i++) possible.add(bigCharacterText(i));

      const text = await readFile(join(root, BIG_DOCUMENT_PATH), "utf8");
      expect(() => JSON.parse(text)).not.toThrow();
      expect(possible.has(text), `round ${round}: the file is neither the old text nor a whole new one (${text.length} chars)`).toBe(true);
      const project = await ProjectFolder.open(root);
      expect(project.characters().map((d) => d.path)).toEqual(VILLAGE_IDS.map((id) => `characters/${id}.json`));
      expect(project.documents().filter((d) => d.problem)).toEqual([]);
      expect(project.document(BIG_DOCUMENT_PATH)!.text).toBe(text);
      // Each next round starts from what is on disk now.
      possible.clear();
      possible.add(text);
    }
  });
});

describe("path confinement", () => {
  it("refuses paths that leave the project, and symbolic links that lead out", async () => {
    const root = await copyVillage();
    const outside = join(temp!, "outside");
    await mkdir(outside);
    const guardGraph = await readFile(join(root, "dialogue/guard.json"), "utf8");
    await writeFile(join(outside, "evil.json"), guardGraph.replace('"id": "guard"', '"id": "evil"'));
    await symlink(join(outside, "evil.json"), join(root, "dialogue/evil.json"));

    const project = await ProjectFolder.open(root);
    for (const path of ["../x", "/etc/passwd", "a/../../x", "dialogue/../../outside/evil.json", "dialogue\\guard.json", ""]) {
      await expect(project.save(path, guardGraph, { expectedHash: null }), path).rejects.toThrow(PathOutsideProjectError);
    }
    // The link is listed (it is in dialogue/) but never read through.
    const evil = project.document("dialogue/evil.json")!;
    expect(evil.value).toBeUndefined();
    expect(evil.problem?.message).toMatch(/outside the project/);
    const outsideBefore = await readFile(join(outside, "evil.json"), "utf8");
    const error = await rejection(project.save("dialogue/evil.json", outsideBefore, { expectedHash: null, force: true }));
    expect(error).toBeInstanceOf(PathOutsideProjectError);
    expect(error.message).toContain("dialogue/evil.json");
    await expect(project.reload("dialogue/evil.json")).resolves.toMatchObject({ problem: { message: expect.stringMatching(/outside/) } });
    expect(await readFile(join(outside, "evil.json"), "utf8")).toBe(outsideBefore);
    expect(await project.changedOnDisk()).toEqual([]);
  });

  it("a symbolic link that stays inside the project is followed", async () => {
    const root = await copyVillage();
    await mkdir(join(root, "shared"));
    await cp(join(root, "dialogue/guard.json"), join(root, "shared/guard.json"));
    await rm(join(root, "dialogue/guard.json"));
    await symlink(join(root, "shared/guard.json"), join(root, "dialogue/guard.json"));
    const project = await ProjectFolder.open(root);
    const doc = project.document("dialogue/guard.json")!;
    expect(doc.problem).toBeUndefined();
    const graph = parseDialogueGraph(JSON.parse(doc.text));
    const text = serializeDialogueGraph({ ...graph, start: "ask_business" });
    await project.save(doc.path, text, { expectedHash: doc.hash });
    // Written through the link: the link is still a link and its target has the new text.
    expect((await lstat(join(root, "dialogue/guard.json"))).isSymbolicLink()).toBe(true);
    expect(await readFile(join(root, "shared/guard.json"), "utf8")).toBe(text);
  });
});

describe("creating, duplicating, deleting and renaming", () => {
  it("creates a character and a minimal valid graph for it", async () => {
    const root = await copyVillage();
    const project = await ProjectFolder.open(root);
    const miller = await project.createCharacter("miller", "Old Wenna");
    expect(parseCharacter(JSON.parse(await readFile(join(root, "characters/miller.json"), "utf8")))).toMatchObject({ id: "miller", name: "Old Wenna" });
    expect(miller.hash).toBe(sha256(await readFile(join(root, "characters/miller.json"))));
    const graph = await project.createGraph("mill", "miller");
    const onDisk = parseDialogueGraph(JSON.parse(await readFile(join(root, "dialogue/mill.json"), "utf8")), { characters: ["miller"] });
    const start = onDisk.nodes[onDisk.start];
    expect(start.type).toBe("line");
    expect(start.type === "line" && onDisk.nodes[start.next!].type).toBe("end");
    expect(graph.warnings).toEqual([]);
    await expect(project.createGraph("ghostly", "ghost")).rejects.toThrow(PluginValidationError);
    await expect(project.createCharacter("miller", "Again")).rejects.toThrow(/already exists/);
    await expect(project.createCharacter("Bad Id", "x")).rejects.toThrow(InvalidArgumentError);
    expect(await project.changedOnDisk()).toEqual([]);
  });

  it("duplicates a graph with its layout", async () => {
    const root = await copyVillage();
    const project = await ProjectFolder.open(root);
    await project.setNodePosition("guard", "halt", 10, 20);
    const copy = await project.duplicate("dialogue/guard.json", "guard_night");
    expect(copy.value).toMatchObject({ id: "guard_night", character: "guard" });
    expect(project.layout("guard_night")).toEqual(project.layout("guard"));
    expect(await readFile(join(root, "dialogue/guard_night.layout.json"), "utf8")).toBe(await readFile(join(root, "dialogue/guard.layout.json"), "utf8"));
    const twin = await project.duplicate("characters/guard.json", "guard2");
    expect(twin.value).toMatchObject({ id: "guard2", name: "Captain Hale" });
  });

  it("refuses to delete a character that graphs use, listing them, unless forced", async () => {
    const root = await copyVillage();
    const project = await ProjectFolder.open(root);
    await project.duplicate("dialogue/guard.json", "guard_night");
    const error = await rejection(project.delete("characters/guard.json"));
    expect(error).toBeInstanceOf(CharacterInUseError);
    expect((error as CharacterInUseError).graphs).toEqual(["dialogue/guard.json", "dialogue/guard_night.json"]);
    expect(error.message).toContain("dialogue/guard_night.json");
    expect((await lstat(join(root, "characters/guard.json"))).isFile()).toBe(true);

    await project.delete("characters/guard.json", { force: true });
    await expect(lstat(join(root, "characters/guard.json"))).rejects.toThrow();
    // The graphs now name a character that does not exist.
    expect(project.document("dialogue/guard.json")!.problem?.issues?.[0].path).toBe("character");

    // An unused character and a graph (with its layout) go without force.
    await project.setNodePosition("innkeeper", (project.document("dialogue/innkeeper.json") as DialogueDocument).value!.start, 1, 2);
    expect(project.document("dialogue/innkeeper.layout.json")).toBeDefined();
    await project.delete("dialogue/innkeeper.json");
    expect((await readdir(join(root, "dialogue"))).filter((f) => f.startsWith("innkeeper"))).toEqual([]);
    await project.delete("characters/innkeeper.json");
    expect(project.characters().map((c) => c.id)).toEqual(["blacksmith"]);
    expect(await project.changedOnDisk()).toEqual([]);
  });

  it("renameCharacter moves the file and the id, and graphs and relationships follow", async () => {
    const root = await copyVillage();
    const project = await ProjectFolder.open(root);
    const graphBefore = parseDialogueGraph(JSON.parse(await readFile(join(root, "dialogue/guard.json"), "utf8")));
    const renamed = await project.renameCharacter("guard", "captain");
    expect(renamed.path).toBe("characters/captain.json");
    await expect(lstat(join(root, "characters/guard.json"))).rejects.toThrow();
    const character = parseCharacter(JSON.parse(await readFile(join(root, "characters/captain.json"), "utf8")));
    expect(character).toMatchObject({ id: "captain", name: "Captain Hale" });
    const graphAfter = parseDialogueGraph(JSON.parse(await readFile(join(root, "dialogue/guard.json"), "utf8")));
    expect(graphAfter).toEqual({ ...graphBefore, character: "captain" });
    for (const id of ["blacksmith", "innkeeper"]) {
      const other = parseCharacter(JSON.parse(await readFile(join(root, `characters/${id}.json`), "utf8")));
      expect(other.relationships.map((r) => r.target)).toContain("captain");
      expect(other.relationships.map((r) => r.target)).not.toContain("guard");
    }
    expect(project.documents().filter((d) => d.problem)).toEqual([]);
    expect(await project.changedOnDisk()).toEqual([]);
    const reopened = await ProjectFolder.open(root);
    expect(reopened.characters().map((c) => c.id)).toEqual(["blacksmith", "captain", "innkeeper"]);
    expect(reopened.documents().filter((d) => d.problem)).toEqual([]);
  });

  it("renameCharacter writes nothing when a file it would rewrite changed on disk", async () => {
    const root = await copyVillage();
    const project = await ProjectFolder.open(root);
    const graphText = (await readFile(join(root, "dialogue/guard.json"), "utf8")) + "\n";
    await writeFile(join(root, "dialogue/guard.json"), graphText);
    const error = await rejection(project.renameCharacter("guard", "captain"));
    expect(error).toBeInstanceOf(ExternalChangeError);
    expect((error as ExternalChangeError).paths).toEqual(["dialogue/guard.json"]);
    expect((await readdir(join(root, "characters"))).sort()).toEqual(VILLAGE_IDS.map((id) => `${id}.json`));
    expect(await readFile(join(root, "dialogue/guard.json"), "utf8")).toBe(graphText);
  });

  it("renameGraph moves the graph and its layout together", async () => {
    const root = await copyVillage();
    const project = await ProjectFolder.open(root);
    await project.setNodePosition("blacksmith", "visit", 5, 6);
    const layoutText = await readFile(join(root, "dialogue/blacksmith.layout.json"), "utf8");
    await project.renameGraph("blacksmith", "smithy");
    expect((await readdir(join(root, "dialogue"))).sort()).toEqual(["guard.json", "innkeeper.json", "smithy.json", "smithy.layout.json"]);
    expect(await readFile(join(root, "dialogue/smithy.layout.json"), "utf8")).toBe(layoutText);
    expect(parseDialogueGraph(JSON.parse(await readFile(join(root, "dialogue/smithy.json"), "utf8"))).id).toBe("smithy");
    expect(project.layout("smithy").nodes.visit).toEqual({ x: 5, y: 6 });
    expect(project.document("dialogue/blacksmith.layout.json")).toBeUndefined();
    expect(await project.changedOnDisk()).toEqual([]);
  });
});

describe("layout and serialization", () => {
  it("setNodePosition writes only the layout file, one line per move", async () => {
    const root = await copyVillage();
    const project = await ProjectFolder.open(root);
    const graphBytes = await readFile(join(root, "dialogue/guard.json"));
    await project.setNodePosition("guard", "halt", 100.04, -20);
    await project.setNodePosition("guard", "judge", 300, 40.26);
    const before = await readFile(join(root, "dialogue/guard.layout.json"), "utf8");
    const hash = await project.setNodePosition("guard", "halt", 150, -20);
    const after = await readFile(join(root, "dialogue/guard.layout.json"), "utf8");
    expect(hash).toBe(sha256(after));
    expect(changedLines(before, after)).toEqual(['    "halt": { "x": 100, "y": -20 }, →     "halt": { "x": 150, "y": -20 },']);
    expect(project.layout("guard").nodes).toEqual({ halt: { x: 150, y: -20 }, judge: { x: 300, y: 40.3 } });
    expect(await readFile(join(root, "dialogue/guard.json"))).toEqual(graphBytes);
    await expect(project.setNodePosition("guard", "nowhere", 0, 0)).rejects.toThrow(/no node "nowhere"/);
    await expect(project.setNodePosition("guard", "halt", NaN, 0)).rejects.toThrow(InvalidArgumentError);
    await writeFile(join(root, "dialogue/guard.layout.json"), before);
    await expect(project.setNodePosition("guard", "judge", 0, 0)).rejects.toThrow(ExternalChangeError);
    expect(await readFile(join(root, "dialogue/guard.json"))).toEqual(graphBytes);
  });

  it("a one-field edit of a village file, once written by the serializers, is a one-line diff", async () => {
    const root = await copyVillage();
    const project = await ProjectFolder.open(root);
    for (const doc of [...project.characters(), ...project.graphs()]) {
      // First write: the village files are hand-formatted; the serializers' form is what the editor keeps.
      const normalized = doc.kind === "character" ? serializeCharacter(doc.value!) : serializeDialogueGraph(doc.value!);
      let hash = await project.save(doc.path, normalized, { expectedHash: doc.hash });
      let edited: string;
      if (doc.kind === "character") {
        edited = serializeCharacter({ ...(doc.value as Character), mood: "furious" });
      } else {
        const graph = structuredClone(doc.value as DialogueGraph);
        const [lineId, line] = Object.entries(graph.nodes).find(([, n]) => n.type === "line")!;
        graph.nodes[lineId] = { ...line, text: "An edited line." } as typeof line;
        edited = serializeDialogueGraph(graph);
      }
      hash = await project.save(doc.path, edited, { expectedHash: hash });
      expect(changedLines(normalized, await readFile(join(root, doc.path), "utf8")), doc.path).toHaveLength(1);
      expect(hash).toBe(sha256(edited));
    }
  });

  it("a graph with every node type round-trips through its file", async () => {
    const root = await copyVillage();
    const project = await ProjectFolder.open(root);
    const graph: DialogueGraph = {
      schema: "parley.dialogue/1",
      id: "every_node",
      character: "guard",
      start: "hello",
      variables: {
        gold: { type: "number", default: 10 },
        met: { type: "bool", default: false },
        said: { type: "string", default: "" },
      },
      nodes: {
        hello: {
          type: "line",
          text: "Hello, you have {gold} gold.",
          next: "pick",
          tags: ["anim:wave"],
          events: [{ name: "look_at", args: { who: "player", speed: 1.5, now: true } }],
        },
        pick: {
          type: "choice",
          options: [
            { text: "Talk", next: "speak", condition: null, tags: [] },
            { text: "Pay", next: "pay", condition: "gold >= 5", tags: ["costly"] },
          ],
          tags: [],
          events: [],
        },
        speak: { type: "llm_line", instruction: "Greet them.", maxWords: 20, fallback: "Well met.", next: "listen", tags: [], events: [] },
        listen: {
          type: "player_input",
          prompt: "Say something",
          reply: true,
          instruction: "Answer kindly.",
          store: "said",
          next: "route",
          tags: [],
          events: [],
        },
        route: {
          type: "intent",
          intents: [{ id: "pay", description: "wants to pay", examples: ["take my gold", "here is the money"], next: "pay" }],
          fallback: "check",
          minConfidence: 0.6,
          tags: [],
          events: [],
        },
        check: { type: "branch", branches: [{ condition: "met", next: "bye" }], otherwise: "again", tags: [], events: [] },
        pay: { type: "set", effects: ["gold -= 5", "met = true"], next: "bye", tags: [], events: [{ name: "coins", args: {} }] },
        again: { type: "jump", target: "hello", tags: [], events: [] },
        bye: { type: "end", tags: ["camera:wide"], events: [] },
      },
    };
    // The graph must cover the schema: a node type added later makes this test fail until it is here.
    expect(new Set(Object.values(graph.nodes).map((n) => n.type))).toEqual(new Set(NODE_TYPES));
    const text = serializeDialogueGraph(graph);
    expect(serializeDialogueGraph(parseDialogueGraph(JSON.parse(text)))).toBe(text);
    expect(parseDialogueGraph(JSON.parse(text))).toEqual(graph);

    await project.save("dialogue/every_node.json", text, { expectedHash: null });
    const reopened = await ProjectFolder.open(root);
    const doc = reopened.document("dialogue/every_node.json")!;
    expect(doc.text).toBe(text);
    expect(doc.value).toEqual(graph);
    expect(doc.warnings).toEqual([]);
  });
});
