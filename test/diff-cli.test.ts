// `iptscope diff` as scripts use it: exit status as diff(1) (0 same, 1 different, 2 trouble), text for people
// (colour only on a terminal, never with NO_COLOR), JSON with a versioned envelope.

import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { repoRoot } from "./support/files.js";
import { generateCluster, renderDump } from "./support/kubegen.js";

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
const scaled = structuredClone(cluster);
scaled.services[3].pods.pop();
const after = renderDump(scaled, { backend: "legacy", counters: true });
const beforeFile = file("before.txt", before);
const restoreFile = file("before-restore.rules", renderDump(cluster, { order: "restore" }));
const afterFile = file("after.txt.gz", gzipSync(after));

describe("iptscope diff: exit status", () => {
  it("0 and 'no differences' for the same ruleset in another spelling", () => {
    const result = cli(["diff", beforeFile, restoreFile]);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.stdout.split("\n").slice(0, 3)).toEqual([`--- OLD ${beforeFile}`, `+++ NEW ${restoreFile}`, "[rules] no differences"]);
  });

  it("1 with the changes, each with its OLD/NEW line, and the levels not compared", () => {
    const result = cli(["diff", beforeFile, afterFile]);
    expect(result.status).toBe(1);
    const lines = result.stdout.split("\n");
    expect(lines[2]).toMatch(/^\[rules\] 1 chain removed, 1 chain with rule changes; \d+ rules removed/);
    expect(lines).toContain("*nat");
    expect(lines.some((l) => /^- :KUBE-SEP-[A-Z2-7]{16} - {2}\(OLD:\d+, 2 rules\)$/.test(l))).toBe(true);
    expect(lines.some((l) => /^ {4}- OLD:\d+ #\d+ +-A KUBE-SVC-/.test(l))).toBe(true);
    expect(lines.filter((l) => l.startsWith("[services] not compared: ") || l.startsWith("[traffic] not compared: "))).toHaveLength(2);
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
    { name: "--level services (not available yet)", args: () => ["diff", "--level", "services", beforeFile, afterFile], message: /--level services is not available/ },
    { name: "--level traffic (not available yet)", args: () => ["diff", "--level", "traffic", beforeFile, afterFile], message: /--level traffic is not available/ },
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
    expect(json.levels.services).toEqual({ status: "not-compared", reason: expect.any(String) });
    expect(json.levels.rules).toEqual(expect.objectContaining({ status: "compared", differs: true }));
    expect(json.levels.rules.summary.chainsRemoved).toBe(1);
    const nat = json.levels.rules.tables.find((t: { table: string }) => t.table === "nat");
    expect(nat.presence).toBe("both");
  });

  it("--level rules: only that level", () => {
    const json = JSON.parse(cli(["diff", "--json", "--level", "rules", beforeFile, restoreFile]).stdout);
    expect(Object.keys(json.levels)).toEqual(["rules"]);
    expect(json.differs).toBe(false);
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
