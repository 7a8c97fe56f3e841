// `iptscope graph` as a user runs it: files and stdin, -o with the format taken from its name, usage errors for
// what is not there (unknown views, --trace before the tracer overlay exists, a table the dump lacks).

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot, samplesDir } from "./support/files.js";
import { parseXml } from "./support/xml.js";

const bin = join(repoRoot, "bin", "iptscope.js");
const work = mkdtempSync(join(tmpdir(), "iptscope-graph-cli-"));
const sample = join(samplesDir, "kubeadm-flannel.txt");

function cli(args: string[], input?: string) {
  return spawnSync(process.execPath, [bin, ...args], { input, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" }, timeout: 60_000 });
}

describe("iptscope graph", () => {
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("writes an SVG of the flow view to standard output by default", () => {
    const result = cli(["graph", sample]);
    expect(result.status).toBe(0);
    expect(result.stderr).toBe("");
    const svg = parseXml(result.stdout).children[0]!;
    expect(svg.attributes["data-view"]).toBe("flow");
  });

  it("reads standard input with '-'", () => {
    const result = cli(["graph", "-", "--view", "chains"], readFileSync(sample, "utf8"));
    expect(result.status).toBe(0);
    expect(parseXml(result.stdout).children[0]!.attributes["data-view"]).toBe("chains");
  });

  it("-o picks the format from the file name; --format overrides it", () => {
    const html = join(work, "chains.html");
    expect(cli(["graph", sample, "--view", "chains", "-o", html]).status).toBe(0);
    expect(readFileSync(html, "utf8")).toMatch(/^<!DOCTYPE html>/);
    const dot = join(work, "flow.gv");
    expect(cli(["graph", sample, "-o", dot]).status).toBe(0);
    expect(readFileSync(dot, "utf8")).toMatch(/^digraph iptscope \{/);
    const json = join(work, "x.svg");
    expect(cli(["graph", sample, "--format", "json", "-o", json]).status).toBe(0);
    expect(JSON.parse(readFileSync(json, "utf8"))).toMatchObject({ schemaVersion: 1, kind: "iptscope.graph", view: "flow" });
  });

  it("--table and --namespace reach the picture", () => {
    const result = cli(["graph", sample, "--table", "nat", "--namespace", "kube-system", "--format", "json"]);
    expect(result.status).toBe(0);
    const notes = (JSON.parse(result.stdout) as { notes: string[] }).notes;
    expect(notes[0]).toMatch(/^table nat: \d+ rule/);
    expect(notes[1]).toMatch(/^namespace kube-system: \d+ of 77 rules/);
  });

  it.each([
    [["--view", "services"], /Invalid values:[\s\S]*Argument: view, Given: "services", Choices: "flow", "chains"/],
    [["--trace", "tcp:10.96.0.10:53"], /Unknown argument: trace/],
    [["--format", "png"], /Given: "png", Choices: "svg", "dot", "html", "json"/],
    [["--table", "raw"], /has no raw table \(tables: mangle, filter, nat\)/],
  ])("refuses %j with a usage error and no output", (args, message) => {
    const result = cli(["graph", sample, ...args]);
    expect(result.status).toBe(64);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it("malformed input: exit 2, located error, no picture", () => {
    const result = cli(["graph", "-"], "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp --dport 99999 -j ACCEPT\nCOMMIT\n");
    expect(result.status).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/<stdin>:3:\d+: error:/);
  });

  it("--help shows the options and examples", () => {
    const result = cli(["graph", "--help"]);
    expect(result.status).toBe(0);
    for (const text of ["--view", "--format", "--table", "--namespace", "--output", "Examples:", "twopi -Tsvg"]) expect(result.stdout).toContain(text);
  });
});
