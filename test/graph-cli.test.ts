// `iptscope graph` as a user runs it: files and stdin, -o with the format taken from its name, --trace with the
// packet flags of `iptscope trace`, usage errors for what is not there (unknown views, a --trace without its packet
// or on the flow view, packet flags without --trace, a table the dump lacks).

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

  it("--view services draws every frontend of the service map, as `iptscope services --json` lists them", () => {
    const picture = cli(["graph", sample, "--view", "services", "--format", "json"]);
    expect(picture.status).toBe(0);
    const graph = JSON.parse(picture.stdout) as { view: string; nodes: { kind: string; hover: string[] }[] };
    expect(graph.view).toBe("services");
    const map = JSON.parse(cli(["services", sample, "--json"]).stdout) as { services: { name: { key: string }; frontends: unknown[] }[] };
    const frontends = graph.nodes.filter((n) => n.kind === "frontend");
    expect(frontends.length).toBe(map.services.reduce((n, s) => n + s.frontends.length, 0));
    for (const service of map.services) expect(frontends.filter((f) => f.hover[0]!.startsWith(`${service.name.key} — `)).length).toBe(service.frontends.length);
    const notes = (args: string[]) => (JSON.parse(cli(["graph", sample, "--view", "services", "--format", "json", ...args]).stdout) as { notes: string[] }).notes.join("\n");
    expect(notes([])).toContain("taken as this node's address (pass --node-ip)");
    expect(notes(["--node-ip", "192.168.1.2"])).not.toContain("--node-ip");
  });

  it("--trace takes the packet flags of `iptscope trace` and draws its outcomes over the chains view", () => {
    const packet = ["--src", "10.244.1.5", "--dst", "10.96.0.10", "--proto", "udp", "--dport", "53"];
    const picture = cli(["graph", sample, "--trace", ...packet, "--format", "json"]);
    expect(picture.status).toBe(0);
    expect(picture.stderr).toBe("");
    const graph = JSON.parse(picture.stdout) as { view: string; title: string; legend: { label: string }[] };
    expect(graph.view).toBe("chains");
    expect(graph.title).toMatch(/· traced$/);
    const trace = JSON.parse(cli(["trace", sample, ...packet, "--json"]).stdout) as { outcomes: { probability: number; dnat?: { to: string } }[] };
    expect(trace.outcomes.length).toBeGreaterThan(1);
    trace.outcomes.forEach((outcome, i) => {
      expect(graph.legend[i]!.label).toMatch(new RegExp(`^#${i + 1} DNAT → ${outcome.dnat!.to.replace(/\./g, "\\.")} .*\\(${Math.round(outcome.probability * 100)}%\\)$`));
    });
    const services = cli(["graph", sample, "--view", "services", "--trace", ...packet, "--format", "json"]);
    expect(services.status).toBe(0);
    const map = JSON.parse(services.stdout) as { nodes: { kind: string; label: string; emphasis: string }[] };
    const reached = map.nodes.filter((n) => n.kind === "endpoint" && n.emphasis === "highlighted").map((n) => n.label.split(" ")[0]);
    expect(reached.sort()).toEqual(trace.outcomes.map((o) => o.dnat!.to).sort());
  });

  it.each([
    [["--view", "bogus"], /Invalid values:[\s\S]*Argument: view, Given: "bogus", Choices: "flow", "chains", "services"/],
    [["--trace", "tcp:10.96.0.10:53"], /Unknown argument: tcp:10\.96\.0\.10:53/],
    [["--trace"], /iptscope graph: --trace needs the packet: --dst/],
    [["--trace", "--view", "flow", "--dst", "10.96.0.10", "--dport", "53"], /--trace draws on --view chains .* not on flow/],
    [["--dst", "10.96.0.10", "--dport", "53"], /iptscope graph: --dst, --dport: only with --trace/],
    [["--trace", "--src", "10.244.1.5", "--dst", "10.96.0.10", "--proto", "udp"], /iptscope graph: --dport is required for udp/],
    [["--trace", "--dst", "10.96.0.10", "--dport", "53"], /iptscope graph: --src is required/],
    [["--trace", "--src", "fd00::1", "--dst", "10.96.0.10", "--dport", "53"], /--src 'fd00::1': expected an IPv4 address/],
    [["--view", "services", "--node-ip", "bogus"], /iptscope graph: --node-ip 'bogus': expected an IPv4 address/],
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
    for (const text of ["--view", "--format", "--table", "--namespace", "--output", "--trace", "--dport", "--node-ip", "Examples:", "twopi -Tsvg"]) expect(result.stdout).toContain(text);
  });
});
