// `iptscope where` and `iptscope services` as people and scripts use them: the answer lines, exit
// statuses (0 served, 1 nothing serves, 64 usage), JSON envelopes and the verbose trace.

import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseWhereTarget } from "../src/analysis/kube/where.js";
import { repoRoot, samplesDir } from "./support/files.js";

const bin = join(repoRoot, "bin", "iptscope.js");
const flannel = join(samplesDir, "kubeadm-flannel.txt");
const modern = join(samplesDir, "kube-proxy-modern.txt");
const ipv6 = join(samplesDir, "ip6tables.txt");

function cli(args: string[], input?: string) {
  return spawnSync(process.execPath, [bin, ...args], { input, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" }, timeout: 30_000 });
}

/** The answer lines: those with an arrow. */
const answers = (stdout: string) => stdout.split("\n").filter((l) => l.includes("  →  "));

describe("where TARGET", () => {
  it("answers kube-dns for 10.96.0.10:53/udp on the kubeadm/flannel sample", () => {
    const result = cli(["where", "10.96.0.10:53/udp", flannel]);
    expect(result.status).toBe(0);
    expect(answers(result.stdout)).toEqual([
      "10.96.0.10:53/udp  kube-system/kube-dns:dns  →  10.244.0.8:53 50%  ·  10.244.0.9:53 50%  (masquerade: from off-cluster sources)",
    ]);
    expect(result.stdout).toMatch(/^new connections from a pod \(10\.244\.255\.254, an address in the cluster CIDR; pass --src to choose\):/);
  });

  it("without a protocol, answers every protocol served on the port", () => {
    const result = cli(["where", "10.96.0.10:53", flannel]);
    expect(result.status).toBe(0);
    expect(answers(result.stdout).map((l) => l.split(/\s+/).slice(0, 2).join(" "))).toEqual([
      "10.96.0.10:53/udp kube-system/kube-dns:dns",
      "10.96.0.10:53/tcp kube-system/kube-dns:dns-tcp",
    ]);
  });

  it("answers default/kubernetes for 10.96.0.1:443 and ingress-nginx's http port for :30071", () => {
    const api = cli(["where", "10.96.0.1:443", flannel]);
    expect(api.status).toBe(0);
    expect(answers(api.stdout)).toEqual(["10.96.0.1:443/tcp  default/kubernetes:https  →  192.168.1.2:6443 100%  (masquerade: from off-cluster sources)"]);
    const nodePort = cli(["where", ":30071", flannel]);
    expect(nodePort.status).toBe(0);
    expect(answers(nodePort.stdout)).toEqual([":30071/tcp  ingress-nginx/ingress-nginx:http  →  10.244.2.7:80 100%  (masqueraded: this frontend masquerades every client)"]);
    // The node's own address on that port is the same NodePort; the node's address alone, every NodePort.
    expect(answers(cli(["where", "192.168.1.2:30071/tcp", flannel]).stdout)).toEqual(answers(nodePort.stdout));
    expect(answers(cli(["where", "192.168.1.2", flannel]).stdout).map((l) => l.split(/\s+/).slice(0, 2).join(" "))).toEqual([
      ":30071/tcp ingress-nginx/ingress-nginx:http",
      ":31001/tcp ingress-nginx/ingress-nginx:https",
    ]);
  });

  it("answers every port of a service by name, and every port on an address", () => {
    const byName = cli(["where", "kube-system/kube-dns", flannel]);
    expect(byName.status).toBe(0);
    expect(answers(byName.stdout)).toHaveLength(3);
    const byAddress = cli(["where", "10.97.42.166", flannel]);
    expect(answers(byAddress.stdout).map((l) => l.split(/\s+/)[0])).toEqual(["10.97.42.166:80/tcp", "10.97.42.166:443/tcp"]);
  });

  it("says plainly when nothing serves the target, what the packet meets instead, and exits 1", () => {
    const result = cli(["where", "10.96.0.99:80", flannel]);
    expect(result.status).toBe(1);
    expect(result.stdout).toContain("nothing serves 10.96.0.99:80 in this dump");
    expect(result.stdout).toContain("a new tcp connection to 10.96.0.99:80 meets instead: forwarded to 10.96.0.99:80, not translated");
    const name = cli(["where", "default/nothing", flannel]);
    expect(name.status).toBe(1);
    expect(name.stdout).toContain("nothing is named default/nothing");
  });

  it("exits 1 for a service without endpoints, with the rule that refuses it", () => {
    const result = cli(["where", "10.99.1.1:8080", modern]);
    expect(result.status).toBe(1);
    expect(answers(result.stdout)).toEqual(["10.99.1.1:8080/tcp  batch/reports:http  →  REJECT (no endpoints) at filter/KUBE-SERVICES #1 (line 45)"]);
  });

  it("from outside, an externalTrafficPolicy=Local load balancer keeps the client address and only uses local endpoints", () => {
    const result = cli(["where", "203.0.113.60:80", modern, "--from", "external"]);
    expect(result.status).toBe(0);
    expect(answers(result.stdout)).toEqual([
      "203.0.113.60:80/tcp  ingress/public-gw:http  →  100.64.1.40:8080 100% (local)  (client address kept: only the node's own connections are masqueraded; externalTrafficPolicy=Local)",
    ]);
  });

  it("shows session affinity honestly: shares are for new clients, returning clients stick", () => {
    const result = cli(["where", "10.97.200.5:80", modern]);
    expect(answers(result.stdout)).toEqual([
      "10.97.200.5:80/tcp  auth/session:http  →  100.64.1.60:8080 50%  ·  100.64.2.61:8080 50%  (masquerade: from off-cluster sources; session affinity 10800s: shares are for new clients)",
    ]);
    expect(result.stdout).toContain("    if the client has affinity to 100.64.1.60:8080 (it connected in the last 10800s): → 100.64.1.60:8080 (line 195)\n");
    expect(result.stdout).toContain("    if the client has affinity to 100.64.2.61:8080 (it connected in the last 10800s): → 100.64.2.61:8080 (line 196)\n");
  });

  it("shows outcomes that rest on assumptions, with what they depend on", () => {
    const result = cli(["where", "10.101.33.7:80", join(samplesDir, "calico-kube-proxy.txt")]);
    expect(result.status).toBe(0);
    expect(answers(result.stdout)[0]).toContain("uncertain: the shares rest on assumptions, below");
    expect(result.stdout).toMatch(/\n {4}uncertain: DROP at raw\/cali-PREROUTING #4 \(line 43\), depending on in-interface-unknown cali\+ \(line 41\)/);
  });

  it("reads IPv6 targets and dumps", () => {
    const result = cli(["where", "[fd00:10:96::a]:53/udp", ipv6]);
    expect(result.status).toBe(0);
    expect(answers(result.stdout)[0]).toMatch(/^\[fd00:10:96::a\]:53\/udp  kube-system\/kube-dns:dns  →  \[fd00:10:244:1::3\]:53 50%  ·  \[fd00:10:244:2::4\]:53 50%/);
  });

  it("--verbose prints the tracer's path under each answer", () => {
    const result = cli(["where", "10.96.0.10:53/udp", flannel, "--verbose"]);
    expect(result.stdout).toContain("outcome 1 of 2");
    expect(result.stdout).toMatch(/nat\/KUBE-SERVICES #\d+ \(line \d+\): .*kube-system\/kube-dns:dns cluster IP.* → jump KUBE-SVC-TCOU7JCQXEZGVUNU/);
    expect(result.stdout).toMatch(/nat\/KUBE-SEP-SISP6ORRA37L3ZYK #2 \(line 127\): .* → DNAT → 10\.244\.0\.8:53/);
  });

  it("--json gives the service identity and the tracer's outcomes", () => {
    const result = cli(["where", "10.96.0.10:53/udp", "-", "--json"], readFileSync(flannel, "utf8"));
    expect(result.status).toBe(0);
    const json = JSON.parse(result.stdout);
    expect(json).toMatchObject({ schemaVersion: 1, kind: "iptscope.where", file: "<stdin>", target: "10.96.0.10:53/udp", client: "pod" });
    expect(json.answers).toHaveLength(1);
    expect(json.answers[0].service).toMatchObject({ key: "kube-system/kube-dns:dns", namespace: "kube-system", name: "kube-dns", portName: "dns", protocol: "udp" });
    expect(json.answers[0].trace.kind).toBe("iptscope.trace");
    expect(json.answers[0].trace.outcomes.map((o: { dnat: { to: string }; probability: number }) => [o.dnat.to, o.probability]).sort()).toEqual([
      ["10.244.0.8:53", 0.5],
      ["10.244.0.9:53", 0.5],
    ]);
  });

  it("refuses a bad target or source with a usage error", () => {
    for (const args of [["where", "10.96.0.10:99999", flannel], ["where", "10.96.0.10:53/icmp", flannel], ["where", "fd00::1", flannel], ["where", "10.96.0.10:53", flannel, "--src", "nonsense"]]) {
      const result = cli(args);
      expect(result.status, args.join(" ")).toBe(64);
      expect(result.stderr, args.join(" ")).toMatch(/^iptscope where: /);
    }
  });
});

describe("parseWhereTarget", () => {
  it("reads every form of TARGET", () => {
    expect(parseWhereTarget("10.96.0.10:53", "ipv4")).toEqual({ kind: "address-port", address: "10.96.0.10", port: 53 });
    expect(parseWhereTarget("10.96.0.10:53/UDP", "ipv4")).toEqual({ kind: "address-port", address: "10.96.0.10", port: 53, protocol: "udp" });
    expect(parseWhereTarget("10.96.0.10", "ipv4")).toEqual({ kind: "address", address: "10.96.0.10" });
    expect(parseWhereTarget(":30071", "ipv4")).toEqual({ kind: "node-port", port: 30071 });
    expect(parseWhereTarget(":30071/tcp", "ipv6")).toEqual({ kind: "node-port", port: 30071, protocol: "tcp" });
    expect(parseWhereTarget("kube-system/kube-dns", "ipv4")).toEqual({ kind: "service", key: "kube-system/kube-dns" });
    expect(parseWhereTarget("kube-system/kube-dns:dns-tcp", "ipv4")).toEqual({ kind: "service", key: "kube-system/kube-dns:dns-tcp" });
    expect(parseWhereTarget("[fd00:10:96:0::a]:53", "ipv6")).toEqual({ kind: "address-port", address: "fd00:10:96::a", port: 53 });
    expect(parseWhereTarget("fd00:10:96::a", "ipv6")).toEqual({ kind: "address", address: "fd00:10:96::a" });
    expect(parseWhereTarget("10.96.0.10:53", "ipv6")).toMatch(/not an IPv6 address/);
    expect(parseWhereTarget("10.96.0.10/udp", "ipv4")).toMatch(/needs a port/);
  });
});

describe("services", () => {
  it("prints the table for a dump on standard input", () => {
    const result = cli(["services", "-"], readFileSync(flannel, "utf8"));
    expect(result.status).toBe(0);
    const lines = result.stdout.split("\n");
    expect(lines[0]).toBe("9 service port(s) · IPv4 · kube-proxy's old rule layout (KUBE-XLB) · cluster CIDR 10.244.0.0/16");
    expect(lines[1]).toMatch(/^SERVICE +KIND +FRONTEND +ENDPOINTS \(share of new connections\) +FLAGS$/);
    expect(result.stdout).toMatch(/\nkube-system\/kube-dns:dns +ClusterIP +10\.96\.0\.10:53\/udp +10\.244\.0\.8:53 50% · 10\.244\.0\.9:53 50% +masquerade: from off-cluster sources\n/);
  });

  it("--namespace keeps one namespace; --json is the versioned Service map", () => {
    const result = cli(["services", modern, "--namespace", "ingress", "--json"]);
    expect(result.status).toBe(0);
    const json = JSON.parse(result.stdout);
    expect(json).toMatchObject({ schemaVersion: 1, kind: "iptscope.services", family: "ipv4", generation: "new", clusterCidrs: ["100.64.0.0/16"] });
    expect(json.services.map((s: { name: { key: string } }) => s.name.key)).toEqual(["ingress/edge:https", "ingress/public-gw:http", "ingress/remote-only:http"]);
  });

  it("says so when a dump has no kube-proxy rules", () => {
    const result = cli(["services", join(samplesDir, "docker.txt")]);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("note: no kube-proxy (iptables mode) service rules in this dump");
    expect(cli(["where", "10.96.0.10:53", join(samplesDir, "docker.txt")]).status).toBe(1);
  });

  it("--node-ip traces NodePorts to the given address", () => {
    const json = JSON.parse(cli(["services", flannel, "--json", "--node-ip", "192.168.1.7"]).stdout);
    expect(json.nodeAddresses).toEqual([{ address: "192.168.1.7", source: { kind: "given" } }]);
    expect(json.notes).toEqual([]);
  });
});
