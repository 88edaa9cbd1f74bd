// The project file formats on their own: the manifest, node layouts, JSON syntax positions, and the
// confinement of project paths.
import { mkdtemp, mkdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  JsonSyntaxError,
  jsonErrorPosition,
  normalizeProjectPath,
  parseGraphLayout,
  parseJsonText,
  parseProjectManifest,
  PathOutsideProjectError,
  positionAt,
  resolveInProject,
  serializeGraphLayout,
  serializeProjectManifest,
} from "../../editor/project/index.js";
import { PluginValidationError, type ValidationIssue } from "../../plugin/errors.js";
import { readFileSync } from "node:fs";

function issuesOf(fn: () => unknown): ValidationIssue[] {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PluginValidationError);
    return [...(e as PluginValidationError).issues];
  }
  throw new Error("expected a PluginValidationError");
}

describe("project manifest", () => {
  it("fills the default context size and writes fields in a fixed order", () => {
    const m = parseProjectManifest({ contextSize: undefined, defaultModel: "qwen", name: "X", schema: "parley.project/1" });
    expect(m).toEqual({ schema: "parley.project/1", name: "X", defaultModel: "qwen", contextSize: 2048 });
    const text = serializeProjectManifest({ contextSize: 512, name: "X", defaultModel: null, schema: "parley.project/1" });
    expect(text).toBe('{\n  "schema": "parley.project/1",\n  "name": "X",\n  "defaultModel": null,\n  "contextSize": 512\n}\n');
    expect(parseProjectManifest(JSON.parse(text))).toEqual({ schema: "parley.project/1", name: "X", defaultModel: null, contextSize: 512 });
  });

  it("lists every problem with its path", () => {
    const issues = issuesOf(() => parseProjectManifest({ schema: "parley.project/1", name: "", defaultModel: 3, contextSize: 100.5, extra: 1 }));
    expect(issues.map((i) => i.path).sort()).toEqual(["contextSize", "defaultModel", "extra", "name"]);
    expect(issuesOf(() => parseProjectManifest({ schema: "parley.project/1", name: "a", contextSize: 40000 }))[0]).toMatchObject({ path: "contextSize" });
    expect(issuesOf(() => parseProjectManifest({ schema: "parley.project/1", name: "a", contextSize: 255 }))[0].message).toMatch(/at least 256/);
    expect(issuesOf(() => parseProjectManifest({ schema: "parley.project/2", name: "a" }))).toHaveLength(1);
    expect(issuesOf(() => parseProjectManifest([]))[0].path).toBe("");
  });

  it("the village sample's manifest is valid and already in serialized form", () => {
    const text = readFileSync(new URL("../../samples/village/parley.project.json", import.meta.url), "utf8");
    const m = parseProjectManifest(JSON.parse(text));
    expect(m.name).toBe("Ashford village");
    expect(serializeProjectManifest(m)).toBe(text);
  });
});

describe("graph layout", () => {
  it("sorts nodes, rounds to 0.1 and writes one node per line", () => {
    const text = serializeGraphLayout({
      schema: "parley.layout/1",
      nodes: { zeta: { x: 1.04, y: -0.04 }, alpha: { x: 10.25, y: 3 }, Beta: { x: 0, y: 1e-9 } },
    });
    const lines = text.split("\n");
    expect(lines.filter((l) => l.includes('"x"'))).toEqual([
      '    "Beta": { "x": 0, "y": 0 },',
      '    "alpha": { "x": 10.3, "y": 3 },',
      '    "zeta": { "x": 1, "y": 0 }',
    ]);
    expect(parseGraphLayout(JSON.parse(text)).nodes.alpha).toEqual({ x: 10.3, y: 3 });
    // Re-serializing is stable.
    expect(serializeGraphLayout(parseGraphLayout(JSON.parse(text)))).toBe(text);
    expect(serializeGraphLayout({ schema: "parley.layout/1", nodes: {} })).toBe('{\n  "schema": "parley.layout/1",\n  "nodes": {}\n}\n');
  });

  it("moving one node changes one line", () => {
    const nodes = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`n${i}`, { x: i * 10, y: i * 5 }]));
    const before = serializeGraphLayout({ schema: "parley.layout/1", nodes }).split("\n");
    const after = serializeGraphLayout({ schema: "parley.layout/1", nodes: { ...nodes, n7: { x: 123.45, y: -8 } } }).split("\n");
    expect(after).toHaveLength(before.length);
    expect(before.filter((l, i) => l !== after[i])).toHaveLength(1);
  });

  it("reports problems with their paths", () => {
    const issues = issuesOf(() => parseGraphLayout({ schema: "parley.layout/1", nodes: { a: { x: "1", y: 2 }, "b c": { x: 1, y: 2 }, d: { x: 1 }, e: 5 } }));
    expect(issues.map((i) => i.path).sort()).toEqual(["nodes.a.x", "nodes.d.y", "nodes.e", 'nodes["b c"]']);
    expect(issuesOf(() => parseGraphLayout({ nodes: {} }))[0].path).toBe("schema");
  });
});

describe("JSON syntax positions", () => {
  it("turns offsets into 1-based lines and columns", () => {
    const text = "ab\ncd\r\nef\rgh";
    expect(positionAt(text, 0)).toMatchObject({ line: 1, column: 1 });
    expect(positionAt(text, 4)).toMatchObject({ line: 2, column: 2 });
    expect(positionAt(text, 7)).toMatchObject({ line: 3, column: 1 });
    expect(positionAt(text, 11)).toMatchObject({ line: 4, column: 2 });
  });

  it("finds the error where V8 gives no position", () => {
    const text = '{\n  "a": tru\n}';
    const e = (() => {
      try {
        parseJsonText(text, "bad");
      } catch (error) {
        return error as JsonSyntaxError;
      }
      throw new Error("expected a syntax error");
    })();
    expect(e).toBeInstanceOf(JsonSyntaxError);
    expect(e).toBeInstanceOf(PluginValidationError);
    // The error is placed at the start of the token that cannot be valid: "tru".
    expect([e.line, e.column]).toEqual([2, text.split("\n")[1].indexOf("tru") + 1]);
    expect(jsonErrorPosition('{"a": 1')).toMatchObject({ offset: 7, line: 1, column: 8 });
    expect(jsonErrorPosition('{"a": [1, 2, {"b": null}], "c": "\\u00e9"}')).toBeUndefined();
    expect(jsonErrorPosition('{"a": 1,}')).toBeDefined(); // strict: no trailing comma
    expect(jsonErrorPosition('{"a": 1 // note\n}')).toBeDefined(); // strict: no comments
  });

  it("the position agrees with every position V8 reports, on many broken documents", () => {
    const valid = readFileSync(new URL("../../samples/village/dialogue/guard.json", import.meta.url), "utf8");
    let seed = 12345;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const junk = ['"', ",", "}", "]", "{", "[", ":", "x", "0", "-", "\\", "\u0001", " ", "e", "."];
    let compared = 0;
    for (let trial = 0; trial < 600; trial++) {
      const at = random(valid.length);
      const broken = trial % 2 === 0 ? valid.slice(0, at) + valid.slice(at + 1 + random(3)) : valid.slice(0, at) + junk[random(junk.length)] + valid.slice(at);
      let message: string | undefined;
      try {
        JSON.parse(broken);
      } catch (e) {
        message = (e as Error).message;
      }
      const scanned = jsonErrorPosition(broken)?.offset;
      if (message === undefined) {
        expect(scanned).toBeUndefined();
        continue;
      }
      expect(scanned, message).toBeDefined();
      const v8 = /at position (\d+)/.exec(message);
      if (v8) {
        // V8 names the exact character; the position given to authors is the start of its token (a string,
        // a number, a word), on the same line.
        const at = Number(v8[1]);
        const context = `${message} in ${JSON.stringify(broken.slice(Math.max(0, scanned! - 20), scanned! + 20))}`;
        expect(scanned!, context).toBeLessThanOrEqual(at);
        expect(broken.slice(scanned!, at), context).not.toContain("\n");
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(100);
  });
});

describe("project paths", () => {
  let dir: string;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function project(): Promise<{ root: string; outside: string }> {
    dir = await mkdtemp(join(tmpdir(), "parley-paths-"));
    const root = join(dir, "project");
    const outside = join(dir, "outside");
    await mkdir(join(root, "dialogue"), { recursive: true });
    await mkdir(outside);
    await writeFile(join(outside, "secret.json"), "{}");
    await writeFile(join(root, "dialogue", "a.json"), "{}");
    return { root, outside };
  }

  it("refuses malformed and escaping paths before touching the disk", () => {
    for (const [path, why] of [
      ["", /empty/],
      ["../x", /\.\./],
      ["a/../../x", /\.\./],
      ["a/..", /\.\./],
      ["/etc/passwd", /absolute/],
      ["C:/x", /absolute/],
      ["a\\b.json", /backslash/],
      ["a\0b", /NUL/],
      [".", /project folder itself/],
    ] as const) {
      expect(() => normalizeProjectPath(path), path).toThrow(PathOutsideProjectError);
      expect(() => normalizeProjectPath(path), path).toThrow(why);
    }
    expect(normalizeProjectPath("./dialogue//a.json")).toBe("dialogue/a.json");
  });

  it("names the path and the reason", async () => {
    const { root } = await project();
    const error = await resolveInProject(root, "a/../../x").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PathOutsideProjectError);
    expect((error as PathOutsideProjectError).code).toBe("INVALID_ARGUMENT");
    expect((error as Error).message).toContain('"a/../../x"');
    expect((error as PathOutsideProjectError).path).toBe("a/../../x");
  });

  it("follows symbolic links before deciding", async () => {
    const { root, outside } = await project();
    await symlink(join(outside, "secret.json"), join(root, "dialogue", "evil.json"));
    await symlink(outside, join(root, "dialogue", "out"));
    await symlink(join(outside, "missing.json"), join(root, "dialogue", "dangling.json"));
    await symlink(join(root, "dialogue"), join(root, "inside"));
    await expect(resolveInProject(root, "dialogue/evil.json")).rejects.toThrow(PathOutsideProjectError);
    // A new file below a link that leads out is outside too.
    await expect(resolveInProject(root, "dialogue/out/new/file.json")).rejects.toThrow(/outside the project/);
    await expect(resolveInProject(root, "dialogue/dangling.json")).rejects.toThrow(/does not exist/);
    const inside = await resolveInProject(root, "inside/a.json");
    expect(inside).toBe(await resolveInProject(root, "dialogue/a.json"));
    expect(await resolveInProject(root, "characters/new.json")).toMatch(/project[/\\]characters[/\\]new\.json$/);
  });
});
