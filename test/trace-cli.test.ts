// `iptscope trace` as a user runs it (the built CLI): the answer, the JSON contract, and usage errors.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { TraceResult } from "../src/analysis/trace/types.js";
import { repoRoot } from "./support/files.js";

const bin = join(repoRoot, "bin", "iptscope.js");
const sample = join(repoRoot, "samples", "kubeadm-flannel.txt");
const work = mkdtempSync(join(tmpdir(), "iptscope-trace-"));

function cli(args: string[]) {
  return spawnSync(process.execPath, [bin, "trace", ...args], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" }, timeout: 30_000 });
}

describe("iptscope trace", () => {
  it("answers a pod's DNS query with both endpoints, their shares and the path with source lines", () => {
    const run = cli([sample, "--src", "10.244.1.5", "--dst", "10.96.0.10", "--proto", "udp", "--dport", "53", "--in", "flannel.1"]);
    expect(run.status).toBe(0);
    expect(run.stderr).toBe("");
    expect(run.stdout).toMatch(/^outcome 1 of 2 · 50\.0% · ACCEPT, forwarded$/m);
    expect(run.stdout).toMatch(/^ {2}dnat {8}10\.96\.0\.10:53 → 10\.244\.0\.(8|9):53 \(line \d+\)$/m);
    expect(run.stdout).toMatch(/^ {4}PREROUTING {2}nat\/KUBE-SERVICES #\d+ \(line \d+\): -A KUBE-SERVICES -d 10\.96\.0\.10\/32 -p udp .* → jump KUBE-SVC-/m);
    expect(run.stdout).toContain("(source port 40000 was assumed");
  });

  it("prints the documented JSON: shares summing to 1, every step naming its line and the rule written there", () => {
    const run = cli([sample, "--from", "external", "--src", "203.0.113.7", "--dst", "192.168.1.2", "--dport", "30071", "--in", "eth0", "--json"]);
    expect(run.status).toBe(0);
    const result = JSON.parse(run.stdout) as TraceResult & { file: string };
    expect(result).toMatchObject({ schemaVersion: 1, kind: "iptscope.trace", family: "ipv4", packet: { src: "203.0.113.7", dst: "192.168.1.2", dport: 30071, sport: 40000, proto: "tcp" } });
    expect(result.context).toMatchObject({ origin: "external", state: "new", inInterface: "eth0" });
    expect(result.context.nodeAddresses[0]).toMatchObject({ address: "192.168.1.2", source: { kind: "inferred" } });
    expect(result.outcomes.reduce((sum, o) => sum + o.probability, 0)).toBeCloseTo(1, 12);
    expect(result.file).toBe(sample);
    const lines = readFileSync(sample, "utf8").split("\n");
    for (const outcome of result.outcomes) {
      expect(outcome).toMatchObject({ verdict: "ACCEPT", delivery: "forward", masquerade: true });
      // A rule step carries its line as written; a policy or end-of-chain step, the chain's declaration.
      for (const step of outcome.path) expect(lines[step.line - 1], `line ${step.line}`).toBe(step.text);
    }
  });

  it("refuses what it cannot use with a usage error and no stack trace", () => {
    const bad: [string[], RegExp][] = [
      [[sample, "--src", "10.0.0.1"], /dst/],
      [[sample, "--src", "10.0.0.1", "--dst", "2001:db8::1", "--dport", "80"], /--dst '2001:db8::1': expected an IPv4 address/],
      [[sample, "--src", "10.0.0.1", "--dst", "10.0.0.2", "--proto", "nonsense", "--dport", "1"], /unknown protocol/],
      [[sample, "--src", "10.0.0.1", "--dst", "10.0.0.2"], /--dport is required for tcp/],
      [[sample, "--dst", "10.0.0.2", "--dport", "1", "--from", "node", "--node-ip", "bogus"], /--node-ip 'bogus'/],
      [[sample, "--src", "10.0.0.1", "--dst", "10.0.0.2", "--dport", "1", "--route", "10.0.0.0/8"], /--route '10\.0\.0\.0\/8': expected CIDR=IFACE/],
      [[sample, "--src", "10.0.0.1", "--dst", "10.0.0.2", "--dport", "1", "--ipset-file", join(work, "missing")], /--ipset-file: cannot read/],
      [[sample, "--src", "10.0.0.1", "--dst", "10.0.0.2", "--dport", "1", "--mark", "0xZZ"], /--mark '0xZZ'/],
    ];
    for (const [args, message] of bad) {
      const run = cli(args);
      expect(run.status, args.join(" ")).toBe(64);
      expect(run.stderr).toMatch(message);
      expect(run.stderr).not.toMatch(/\n\s+at /);
      expect(run.stdout).toBe("");
    }
  });

  it("decides ipset matches from an ipset save file and reports a bad one by line", () => {
    const dump = join(work, "set.rules");
    writeFileSync(dump, "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A FORWARD -m set --match-set blocked src -j DROP\nCOMMIT\n");
    const sets = join(work, "sets.save");
    writeFileSync(sets, "create blocked hash:ip family inet\nadd blocked 10.0.0.1\n");
    const traced = (src: string) => JSON.parse(cli([dump, "--src", src, "--dst", "10.9.9.9", "--dport", "80", "--ipset-file", sets, "--json"]).stdout) as TraceResult;
    expect(traced("10.0.0.1").outcomes.map((o) => o.verdict)).toEqual(["DROP"]);
    expect(traced("10.0.0.2").outcomes.map((o) => o.verdict)).toEqual(["ACCEPT"]);
    writeFileSync(sets, "create blocked hash:ip family inet\nbogus line\n");
    const run = cli([dump, "--src", "10.0.0.1", "--dst", "10.9.9.9", "--dport", "80", "--ipset-file", sets]);
    expect(run.status).toBe(64);
    expect(run.stderr).toContain(`${sets}:2:`);
  });
});
