// `iptscope diff` as scripts use it: exit status as diff(1) (0 same, 1 different, 2 trouble), text for people
// (colour only on a terminal, never with NO_COLOR), JSON with a versioned envelope.

import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { repoRoot } from "./support/files.js";
import { generateCluster, groundTruth, renderDump } from "./support/kubegen.js";

const bin = join(repoRoot, "bin", "iptscope.js");
const work = mkdtempSync(join(tmpdir(), "iptscope-diff-"));

function file(name: string, text: string | Buffer): string {
  const path = join(work, name);
  writeFileSync(path, text);
  return path;
}

function cli(args: string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}) {
  return spawnSync(process.execPath, [bin, ...args], {
    input: options.input,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", ...options.env },
    timeout: 30_000,
  });
}

const cluster = generateCluster({ services: 40, seed: 9, mix: { nodePort: 0.3 } });
const before = renderDump(cluster);
// A NodePort service with endpoints to spare: scaling it in changes every level, NodePorts included.
const scaledIndex = cluster.services.findIndex((s) => s.type === "NodePort" && s.pods.length >= 2);
const scaled = structuredClone(cluster);
scaled.services[scaledIndex]!.pods.pop();
const after = renderDump(scaled, { backend: "legacy", counters: true });
const beforeFile = file("before.txt", before);
const restoreFile = file("before-restore.rules", renderDump(cluster, { order: "restore" }));
const afterFile = file("after.txt.gz", gzipSync(after));
const scaledPorts = groundTruth(cluster).filter((t) => t.namespace === cluster.services[scaledIndex]!.namespace && t.name === cluster.services[scaledIndex]!.name);

describe("iptscope diff: exit status", () => {
  it("0 and 'no differences' at every level for the same ruleset in another spelling", () => {
    const result = cli(["diff", beforeFile, restoreFile]);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    const lines = result.stdout.split("\n");
    expect(lines.slice(0, 3)).toEqual([`--- OLD ${beforeFile}`, `+++ NEW ${restoreFile}`, "[rules] no differences"]);
    expect(lines.find((l) => l.startsWith("[services] "))).toMatch(/^\[services\] no differences \(\d+ service ports on each side\)$/);
    expect(lines.find((l) => l.startsWith("[traffic] "))).toMatch(/^\[traffic\] no packet fares differently \(0 of \d+ targets traced/);
  });

  it("1 with the changes at each level, each with its OLD/NEW line", () => {
    const result = cli(["diff", beforeFile, afterFile]);
    expect(result.status).toBe(1);
    const lines = result.stdout.split("\n");
    // Per port of the service: its endpoint's chain removed, its service chain's cascade rewritten.
    const ports = scaledPorts.length;
    expect(lines[2]).toMatch(new RegExp(`^\\[rules\\] ${ports} chains? removed, ${ports} chains? with rule changes; \\d+ rules added, \\d+ rules removed$`));
    expect(lines).toContain("*nat");
    expect(lines.some((l) => /^- :KUBE-SEP-[A-Z2-7]{16} - {2}\(OLD:\d+, 2 rules\)$/.test(l))).toBe(true);
    expect(lines.some((l) => /^ {4}- OLD:\d+ #\d+ +-A KUBE-SVC-/.test(l))).toBe(true);
    const services = lines.slice(lines.findIndex((l) => l.startsWith("[services] ")), lines.findIndex((l) => l.startsWith("[traffic] ")));
    expect(services[0]).toMatch(new RegExp(`^\\[services\\] ${scaledPorts.length} service ports? changed; ${scaledPorts.length} endpoints? removed`));
    for (const port of scaledPorts) expect(services).toContainEqual(expect.stringMatching(new RegExp(`^~ ${port.key.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} ${port.protocol} {2}\\(OLD:\\d+, NEW:\\d+\\)$`)));
    expect(services.filter((l) => /^ {4}- endpoint \S+ {2}\(OLD:\d+\)$/.test(l))).toHaveLength(scaledPorts.length);
    const traffic = lines.slice(lines.findIndex((l) => l.startsWith("[traffic] ")));
    expect(traffic[0]).toMatch(/^\[traffic\] \d+ packets fare differently/);
    expect(traffic.filter((l) => /^~ \S+ from (pod|node|outside): .+ {2}→ {2}.+/.test(l)).length).toBeGreaterThanOrEqual(scaledPorts.length);
  });

  it("shows escape sequences and line breaks of a comment as text, never as terminal control", () => {
    const filter = (rules: string[]) => ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]", ...rules, "COMMIT", ""].join("\n");
    const hostile = file("hostile.txt", filter(['-A INPUT -m comment --comment "\x1b[2J\x1b]0;owned\x07\rdone" -j ACCEPT']));
    const result = cli(["diff", hostile, file("plain.txt", filter([]))]);
    expect(result.status).toBe(1);
    expect(result.stdout).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
    expect(result.stdout).toContain('--comment "\\x1b[2J\\x1b]0;owned\\x07\\rdone"');
  });

  it("reads standard input for '-'", () => {
    expect(cli(["diff", "-", beforeFile], { input: before }).status).toBe(0);
    expect(cli(["diff", beforeFile, "-"], { input: after }).status).toBe(1);
  });

  const troubles: { name: string; args: () => string[]; message: RegExp }[] = [
    { name: "a missing file", args: () => ["diff", beforeFile, join(work, "missing.txt")], message: /no such file/ },
    { name: "malformed input", args: () => ["diff", beforeFile, file("bad.txt", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp --dport x -j ACCEPT\nCOMMIT\n")], message: /bad.txt:3:\d+: error/ },
    { name: "empty input", args: () => ["diff", file("empty.txt", ""), beforeFile], message: /empty input/ },
    { name: "a --node-ip that is not an address", args: () => ["diff", "--node-ip", "node-1", beforeFile, afterFile], message: /--node-ip 'node-1': expected an IPv4 address/ },
    { name: "an unknown level", args: () => ["diff", "--level", "packets", beforeFile, afterFile], message: /Invalid values/ },
    { name: "an unknown option", args: () => ["diff", beforeFile, afterFile, "--bogus"], message: /Unknown argument/ },
    { name: "NEW missing", args: () => ["diff", beforeFile], message: /Not enough non-option arguments/ },
    { name: "both sides on standard input", args: () => ["diff", "-", "-"], message: /cannot both be standard input/ },
    {
      name: "an IPv4 and an IPv6 dump",
      args: () => ["diff", beforeFile, file("v6.txt", renderDump(generateCluster({ services: 5, family: "ipv6" })))],
      message: /is IPv4 and NEW .* is IPv6/,
    },
  ];
  for (const trouble of troubles) {
    it(`2 for ${trouble.name}, with a message and nothing on stdout`, () => {
      const result = cli(trouble.args(), { input: "" });
      expect(result.stderr).toMatch(trouble.message);
      expect(result.stdout).toBe("");
      expect(result.status).toBe(2);
    });
  }
});

describe("iptscope diff --json", () => {
  it("envelope, levels asked for, and the rule changes", () => {
    const result = cli(["diff", "--json", beforeFile, afterFile]);
    expect(result.status).toBe(1);
    const json = JSON.parse(result.stdout);
    expect(json).toEqual(expect.objectContaining({ schemaVersion: 1, kind: "iptscope.diff", differs: true }));
    expect(json.old).toEqual({ file: beforeFile, family: "ipv4" });
    expect(json.new).toEqual({ file: afterFile, family: "ipv4" });
    expect(Object.keys(json.levels)).toEqual(["rules", "services", "traffic"]);
    expect(json.levels.rules).toEqual(expect.objectContaining({ status: "compared", differs: true }));
    expect(json.levels.rules.summary.chainsRemoved).toBe(1);
    const nat = json.levels.rules.tables.find((t: { table: string }) => t.table === "nat");
    expect(nat.presence).toBe("both");

    const services = json.levels.services;
    expect(services).toEqual(expect.objectContaining({ status: "compared", differs: true, notes: expect.any(Array), setup: expect.any(Object) }));
    expect(services.servicePorts.map((d: { kind: string; new: { key: string } }) => `${d.kind} ${d.new.key}`).sort()).toEqual(scaledPorts.map((t) => `changed ${t.key}`).sort());
    expect(services.summary).toEqual(expect.objectContaining({ servicePortsChanged: scaledPorts.length, endpointsRemoved: scaledPorts.length }));

    const traffic = json.levels.traffic;
    expect(traffic).toEqual(expect.objectContaining({ status: "compared", differs: true }));
    expect(traffic.setup.nodeAddresses[0].address).toBe(traffic.setup.clients.node);
    for (const change of traffic.changes) {
      expect(change).toEqual({ target: expect.objectContaining({ presence: "both" }), origin: expect.any(String), source: expect.any(String), old: expect.any(Array), new: expect.any(Array) });
      expect(scaledPorts.map((t) => t.key)).toEqual(expect.arrayContaining(change.target.services));
    }
  });

  for (const level of ["rules", "services", "traffic"] as const) {
    it(`--level ${level}: only that level`, () => {
      const same = JSON.parse(cli(["diff", "--json", "--level", level, beforeFile, restoreFile]).stdout);
      expect(Object.keys(same.levels)).toEqual([level]);
      expect(same.differs).toBe(false);
      const result = cli(["diff", "--json", "--level", level, beforeFile, afterFile]);
      expect(result.status).toBe(1);
      expect(JSON.parse(result.stdout).levels[level].differs).toBe(true);
    });
  }

  it("--node-ip: both snapshots traced with the given address, NodePorts at it", () => {
    const result = cli(["diff", "--json", "--level", "traffic", "--node-ip", "192.0.2.44", beforeFile, afterFile]);
    const traffic = JSON.parse(result.stdout).levels.traffic;
    expect(traffic.setup.nodeAddresses).toEqual([{ address: "192.0.2.44", source: { kind: "given" } }]);
    expect(traffic.setup.nodeAddressesFrom).toBe("given");
    const nodePorts = traffic.changes.filter((c: { target: { nodePort: boolean } }) => c.target.nodePort);
    expect(nodePorts.length).toBeGreaterThan(0);
    for (const change of nodePorts) expect(change.target.destination).toBe("192.0.2.44");
  });
});

// `script` gives the command a pseudo-terminal, as a person running iptscope has.
const haveScript = spawnSync("script", ["--version"], { encoding: "utf8" }).status === 0;

describe.skipIf(!haveScript)("colour", () => {
  const onTerminal = (env: NodeJS.ProcessEnv) =>
    spawnSync("script", ["-qec", `"${process.execPath}" "${bin}" diff "${beforeFile}" "${afterFile}"`, "/dev/null"], {
      encoding: "utf8",
      env: { ...process.env, ...env },
      timeout: 30_000,
    });

  it("on a terminal: + green, - red; not with NO_COLOR, nor into a pipe", () => {
    const coloured = onTerminal({ NO_COLOR: "" });
    expect(coloured.stdout).toMatch(/\x1b\[31m- :KUBE-SEP-/);
    expect(onTerminal({ NO_COLOR: "1" }).stdout).not.toContain("\x1b[");
    expect(cli(["diff", beforeFile, afterFile], { env: { NO_COLOR: "" } }).stdout).not.toContain("\x1b[");
  });
});
