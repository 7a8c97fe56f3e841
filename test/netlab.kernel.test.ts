// The packet lab observed against rulesets whose outcome is known independently: the DNAT targets and rules
// written in the dump itself (read through the project's parser), kubegen's ground truth, and the agreement of the
// lab's separate observers (nft records, conntrack, rule counters) with each other.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { parseRuleset } from "../src/index.js";
import { addressInNetwork, formatIpv4, parseAddressMask, parseIpv4 } from "../src/model/addresses.js";
import type { Family, Rule, Table, TableName } from "../src/model/types.js";
import { samplesDir } from "./support/files.js";
import { generateKubeProxyDumpWithTruth, type Generation, type TruthFrontend } from "./support/kubegen.js";
import {
  NetLab, netlabDescribe, runLab,
  type LabFlow, type LabObservation, type LabTopology, type PacketObservation, type Tuple,
} from "./support/netlab.js";

const ndescribe = netlabDescribe();
const LAB_TIMEOUT = 30_000;

const sample = (name: string) => readFileSync(join(samplesDir, `${name}.txt`), "utf8");

function table(dump: string, name: TableName): Table {
  const found = parseRuleset(dump).ruleset.tables.find((t) => t.name === name);
  if (!found) throw new Error(`no ${name} table`);
  return found;
}

function rules(t: Table, chain: string): Rule[] {
  const found = t.chains.find((c) => c.name === chain);
  if (!found) throw new Error(`no chain ${chain} in ${t.name}`);
  return found.rules;
}

function findRule(t: Table, chain: string, predicate: (rule: Rule) => boolean): Rule {
  const found = rules(t, chain).find(predicate);
  if (!found) throw new Error(`no matching rule in ${t.name} ${chain}`);
  return found;
}

const commentOf = (rule: Rule) => {
  const value = rule.matches.find((m) => m.name === "comment")?.options[0]?.value;
  return value?.kind === "string" ? value.value : undefined;
};

const dportOf = (rule: Rule) => {
  for (const m of rule.matches) {
    for (const o of m.options) if (o.name === "dport" && o.value.kind === "port-range") return o.value.range.from;
  }
  return undefined;
};

interface DnatRule {
  chain: string;
  position: number;
  ip: string;
  port: number;
}

/** DNAT rules reachable from `chain` through jumps and gotos, as the dump writes them. */
function dnatRules(t: Table, chain: string, seen = new Set<string>()): DnatRule[] {
  if (seen.has(chain)) return [];
  seen.add(chain);
  return rules(t, chain).flatMap((rule): DnatRule[] => {
    if (rule.target?.kind === "chain") return dnatRules(t, rule.target.name, seen);
    if (rule.target?.name !== "DNAT") return [];
    const range = rule.target.options.find((o) => o.name === "to-destination")?.value;
    if (range?.kind !== "nat-range" || !range.range.fromAddress || range.range.fromPort === undefined) return [];
    return [{ chain: rule.chain, position: rule.position, ip: range.range.fromAddress, port: range.range.fromPort }];
  });
}

const hitsOf = (observation: LabObservation, rule: { table?: TableName; chain: string; position: number }, tableName: TableName) =>
  observation.ruleHits.find((h) => h.table === (rule.table ?? tableName) && h.chain === rule.chain && h.position === rule.position)?.packets ?? 0;

function inNetwork(ip: string, cidr: string, family: Family = "ipv4"): boolean {
  const network = parseAddressMask(cidr, family);
  if (typeof network === "string") throw new Error(`bad CIDR ${cidr}`);
  return addressInNetwork(ip, network);
}

const endpointKey = (ip: string, port: number) => `${ip} ${port}`;

function forwardedPacket(p: PacketObservation): Tuple & { interface: string } {
  if (p.fate.kind !== "forwarded") throw new Error(`expected a forwarded packet, got ${JSON.stringify(p.fate)}`);
  return { ...p.fate.packet, interface: p.fate.interface };
}

// ---------------------------------------------------------------------------------------------------------------

const flannel = sample("kubeadm-flannel");
const flannelTopology: LabTopology = {
  family: "ipv4",
  external: { ifname: "eth0", nodeAddresses: ["192.168.1.2/24"], clientAddresses: ["192.168.1.100", "203.0.113.7"] },
  pods: { ifname: "cni0", gateway: "10.244.0.1/24", localPodAddresses: ["10.244.0.5", "10.244.0.8", "10.244.0.9"] },
  remote: { ifname: "flannel.1", routes: ["10.244.1.0/24", "10.244.2.0/24"], addresses: ["10.244.1.5"], nodeAddress: "10.244.0.0/32" },
  extraLinks: [{ ifname: "docker0", nodeAddresses: ["172.17.0.1/16"] }],
};
const flannelNat = table(flannel, "nat");
const flannelFilter = table(flannel, "filter");

ndescribe("packet lab on samples/kubeadm-flannel.txt", () => {
  let lab: NetLab;
  beforeAll(async () => {
    lab = await NetLab.open(flannel, flannelTopology);
  }, LAB_TIMEOUT);
  afterAll(() => lab?.close());

  it("ClusterIP UDP from a pod reaches every endpoint; nft records, conntrack and counters agree packet by packet", async () => {
    const serviceRule = findRule(flannelNat, "KUBE-SERVICES", (r) => commentOf(r) === "kube-system/kube-dns:dns cluster IP" && r.target?.name.startsWith("KUBE-SVC-") === true);
    const endpoints = dnatRules(flannelNat, serviceRule.target!.name);
    expect(endpoints.length).toBeGreaterThan(1);
    const client = "10.244.0.5";
    const [observation] = await lab.run([{ from: "pod", proto: "udp", src: client, dst: "10.96.0.10", dport: 53, packets: 40 }]);

    const perEndpoint = new Map(endpoints.map((e) => [endpointKey(e.ip, e.port), 0]));
    for (const p of observation!.perPacket) {
      const seen = forwardedPacket(p);
      expect(seen).toEqual({ src: client, sport: p.sport, dst: seen.dst, dport: seen.dport, interface: "cni0" });
      const key = endpointKey(seen.dst, seen.dport);
      expect(perEndpoint.has(key), key).toBe(true);
      perEndpoint.set(key, perEndpoint.get(key)! + 1);
      expect(p.conntrack?.original).toEqual({ src: client, sport: p.sport, dst: "10.96.0.10", dport: 53 });
      expect(p.conntrack?.reply).toEqual({ src: seen.dst, sport: seen.dport, dst: client, dport: p.sport });
      expect(p.responses).toEqual([]);
    }
    for (const e of endpoints) {
      const packets = perEndpoint.get(endpointKey(e.ip, e.port))!;
      expect(packets, `${e.ip}:${e.port}`).toBeGreaterThan(0);
      expect(hitsOf(observation!, e, "nat"), `${e.chain} #${e.position}`).toBe(packets);
    }
    expect(hitsOf(observation!, serviceRule, "nat")).toBe(40);
    expect(observation!.policyHits).toContainEqual({ table: "nat", chain: "POSTROUTING", policy: "ACCEPT", packets: 40 });
  }, LAB_TIMEOUT);

  it("a NodePort connection from outside is DNATed to its endpoint and masqueraded out of the overlay", async () => {
    const nodePortRule = findRule(flannelNat, "KUBE-NODEPORTS", (r) => dportOf(r) === 30071 && r.target?.name.startsWith("KUBE-SVC-") === true);
    const [endpoint] = dnatRules(flannelNat, nodePortRule.target!.name);
    const masquerade = findRule(flannelNat, "KUBE-POSTROUTING", (r) => r.target?.name === "MASQUERADE");
    const markMasq = findRule(flannelNat, "KUBE-NODEPORTS", (r) => dportOf(r) === 30071 && r.target?.name === "KUBE-MARK-MASQ");
    const [observation] = await lab.run([{ from: "external", proto: "tcp", src: "203.0.113.7", dst: "192.168.1.2", dport: 30071, packets: 1 }]);
    const [p] = observation!.perPacket;
    const seen = forwardedPacket(p!);
    expect(seen).toMatchObject({ src: "10.244.0.0", dst: endpoint!.ip, dport: endpoint!.port, interface: "flannel.1" });
    expect(p!.conntrack).toMatchObject({ state: "SYN_SENT", reply: { src: endpoint!.ip, sport: endpoint!.port, dst: "10.244.0.0", dport: seen.sport } });
    expect(hitsOf(observation!, endpoint!, "nat")).toBe(1);
    expect(hitsOf(observation!, masquerade, "nat")).toBe(1);
    expect(hitsOf(observation!, markMasq, "nat")).toBe(1);
  }, LAB_TIMEOUT);

  it("a packet a DROP rule drops is 'dropped' and that rule's counter moved; the same packet unmarked leaves", async () => {
    const drop = findRule(flannelFilter, "KUBE-FIREWALL", (r) => r.target?.name === "DROP");
    const flow: LabFlow = { from: "node", proto: "tcp", src: "192.168.1.2", dst: "192.168.1.100", dport: 8080, packets: 1 };
    const [marked, unmarked, datagram] = await lab.run([
      { ...flow, mark: 0x8000 },
      flow,
      { ...flow, proto: "udp", mark: 0x8000 },
    ]);
    expect(marked!.perPacket[0]).toMatchObject({ fate: { kind: "dropped" }, responses: [] });
    expect(marked!.perPacket[0]!.conntrack).toBeUndefined();
    expect(hitsOf(marked!, drop, "filter")).toBe(1);
    expect(marked!.policyHits.filter((h) => h.chain === "POSTROUTING" || (h.table === "filter" && h.chain === "OUTPUT"))).toEqual([]);

    const sport = unmarked!.perPacket[0]!.sport;
    expect(unmarked!.perPacket[0]!.fate).toEqual({ kind: "forwarded", interface: "eth0", packet: { src: "192.168.1.2", sport, dst: "192.168.1.100", dport: 8080 } });
    expect(hitsOf(unmarked!, drop, "filter")).toBe(0);
    expect(unmarked!.policyHits).toContainEqual({ table: "filter", chain: "OUTPUT", policy: "ACCEPT", packets: 1 });

    expect(datagram!.perPacket[0]).toMatchObject({ fate: { kind: "dropped" }, sendError: "EPERM" });
    expect(hitsOf(datagram!, drop, "filter")).toBe(1);
  }, LAB_TIMEOUT);

  it("a packet nothing accepts in FORWARD is dropped by the policy, which the policy counter shows", async () => {
    const [observation] = await lab.run([{ from: "external", proto: "tcp", src: "203.0.113.7", dst: "198.51.100.20", dport: 80, packets: 2 }]);
    for (const p of observation!.perPacket) expect(p).toMatchObject({ fate: { kind: "dropped" }, responses: [] });
    expect(observation!.policyHits).toContainEqual({ table: "filter", chain: "FORWARD", policy: "DROP", packets: 2 });
    expect(observation!.ruleHits.filter((h) => h.chain === "FLANNEL-FWD")).toEqual([]);
  }, LAB_TIMEOUT);

  it("packets to closed node ports are delivered locally and answered with a reset or a port unreachable", async () => {
    const [tcp, udp] = await lab.run([
      { from: "external", proto: "tcp", src: "192.168.1.100", dst: "192.168.1.2", dport: 22, packets: 1 },
      { from: "external", proto: "udp", src: "192.168.1.100", dst: "192.168.1.2", dport: 5353, packets: 1 },
    ]);
    const tcpPacket = tcp!.perPacket[0]!;
    expect(tcpPacket.fate).toEqual({ kind: "local", packet: { src: "192.168.1.100", sport: tcpPacket.sport, dst: "192.168.1.2", dport: 22 } });
    expect(tcpPacket.responses).toEqual([{ kind: "tcp-reset" }]);
    expect(tcp!.policyHits).toContainEqual({ table: "filter", chain: "INPUT", policy: "ACCEPT", packets: 1 });
    expect(udp!.perPacket[0]).toMatchObject({ fate: { kind: "local" }, responses: [{ kind: "icmp", type: 3, code: 3 }] });
  }, LAB_TIMEOUT);

  it("pod-to-pod traffic crosses the node (as through a bridge with br_netfilter) and is accepted by flannel's rules", async () => {
    const fromPods = findRule(flannelFilter, "FLANNEL-FWD", (r) => r.source?.value.address === "10.244.0.0");
    const [local, remote] = await lab.run([
      { from: "pod", proto: "tcp", src: "10.244.0.5", dst: "10.244.0.8", dport: 8080, packets: 1 },
      { from: "remote", proto: "udp", src: "10.244.1.5", dst: "10.244.0.9", dport: 53, packets: 1 },
    ]);
    const p = local!.perPacket[0]!;
    expect(p.fate).toEqual({ kind: "forwarded", interface: "cni0", packet: { src: "10.244.0.5", sport: p.sport, dst: "10.244.0.8", dport: 8080 } });
    expect(hitsOf(local!, fromPods, "filter")).toBe(1);
    const q = remote!.perPacket[0]!;
    expect(q.fate).toEqual({ kind: "forwarded", interface: "cni0", packet: { src: "10.244.1.5", sport: q.sport, dst: "10.244.0.9", dport: 53 } });
    expect(hitsOf(remote!, fromPods, "filter")).toBe(1);
  }, LAB_TIMEOUT);

  it("a connection from the node into docker0's subnet leaves through docker0", async () => {
    const [observation] = await lab.run([{ from: "node", proto: "tcp", src: "172.17.0.1", dst: "172.17.0.2", dport: 80, packets: 1 }]);
    const p = observation!.perPacket[0]!;
    expect(p.fate).toEqual({ kind: "forwarded", interface: "docker0", packet: { src: "172.17.0.1", sport: p.sport, dst: "172.17.0.2", dport: 80 } });
    expect(observation!.policyHits).toContainEqual({ table: "nat", chain: "POSTROUTING", policy: "ACCEPT", packets: 1 });
  }, LAB_TIMEOUT);

  it("a ClusterIP connection from the node to an endpoint on the node itself is delivered locally", async () => {
    const serviceRule = findRule(flannelNat, "KUBE-SERVICES", (r) => commentOf(r) === "default/kubernetes:https cluster IP" && r.target?.name.startsWith("KUBE-SVC-") === true);
    const [endpoint] = dnatRules(flannelNat, serviceRule.target!.name);
    const [observation] = await lab.run([{ from: "node", proto: "tcp", src: "192.168.1.2", dst: "10.96.0.1", dport: 443, packets: 1 }]);
    const p = observation!.perPacket[0]!;
    expect(p.fate).toEqual({ kind: "local", packet: { src: "192.168.1.2", sport: p.sport, dst: endpoint!.ip, dport: endpoint!.port } });
    expect(p.responses).toEqual([{ kind: "tcp-reset" }]);
    expect(hitsOf(observation!, endpoint!, "nat")).toBe(1);
    expect(observation!.policyHits).toContainEqual({ table: "filter", chain: "INPUT", policy: "ACCEPT", packets: 1 });
  }, LAB_TIMEOUT);

  it("a flow that repeats an earlier packet's ports is still a new connection, with its own counters", async () => {
    const repeated: LabFlow = { from: "external", proto: "tcp", src: "203.0.113.7", dst: "192.168.1.2", dport: 30071, sport: 40_000, packets: 1 };
    const observations = await lab.run([repeated, repeated]);
    const nodePortRule = findRule(flannelNat, "KUBE-NODEPORTS", (r) => dportOf(r) === 30071 && r.target?.name.startsWith("KUBE-SVC-") === true);
    for (const observation of observations) {
      expect(observation.perPacket[0]).toMatchObject({ sport: 40_000, fate: { kind: "forwarded" }, conntrack: { state: "SYN_SENT" } });
      expect(hitsOf(observation, nodePortRule, "nat")).toBe(1);
    }
  }, LAB_TIMEOUT);

  it("a NodePort on 127.0.0.1 from the node works with route_localnet (the lab's default) and not without", async () => {
    const flow: LabFlow = { from: "node", proto: "tcp", src: "127.0.0.1", dst: "127.0.0.1", dport: 30071, packets: 1 };
    const [withLocalnet] = await lab.run([flow]);
    expect(withLocalnet!.perPacket[0]!.fate).toMatchObject({ kind: "forwarded", interface: "flannel.1", packet: { src: "10.244.0.0" } });
    const sysctls = { "net.ipv4.conf.all.route_localnet": "0" };
    const [withoutLocalnet] = await runLab(flannel, { ...flannelTopology, sysctls }, [flow]);
    expect(withoutLocalnet!.perPacket[0]).toMatchObject({ fate: { kind: "dropped" }, responses: [] });
    expect(withoutLocalnet!.ruleHits.some((h) => h.chain.startsWith("KUBE-SEP-"))).toBe(true);
  }, LAB_TIMEOUT);

  it("refuses a flow from an address the topology does not give that side", async () => {
    await expect(lab.run([{ from: "pod", proto: "tcp", src: "192.168.1.100", dst: "10.96.0.1", dport: 443, packets: 1 }])).rejects.toThrow(
      /not an address of the pod side/,
    );
  });
});

// Flows whose outcome does not depend on random choices; MASQUERADE without --random-fully keeps the port.
const DETERMINISTIC_FLOWS: LabFlow[] = [
  { from: "external", proto: "tcp", src: "203.0.113.7", dst: "192.168.1.2", dport: 30071, packets: 1 },
  { from: "node", proto: "tcp", src: "192.168.1.2", dst: "192.168.1.100", dport: 8080, packets: 1, mark: 0x8000 },
  { from: "external", proto: "udp", src: "203.0.113.7", dst: "198.51.100.20", dport: 80, packets: 1 },
  { from: "external", proto: "tcp", src: "192.168.1.100", dst: "192.168.1.2", dport: 22, packets: 1 },
  { from: "pod", proto: "tcp", src: "10.244.0.9", dst: "10.244.0.8", dport: 8080, packets: 1 },
];

ndescribe("packet lab backends", () => {
  it("iptables-legacy and iptables-nft give the same observations", async () => {
    // Each lab hands out the same source ports in the same order, so even the ports must agree.
    const nft = await runLab(flannel, flannelTopology, DETERMINISTIC_FLOWS, { backend: "nft" });
    const legacy = await runLab(flannel, flannelTopology, DETERMINISTIC_FLOWS, { backend: "legacy" });
    expect(legacy).toEqual(nft);
    expect(nft.map((o) => o.perPacket[0]!.fate.kind)).toEqual(["forwarded", "dropped", "dropped", "local", "forwarded"]);
  }, LAB_TIMEOUT);
});

// ---------------------------------------------------------------------------------------------------------------

const ip6 = sample("ip6tables");
const ip6Topology: LabTopology = {
  family: "ipv6",
  external: { ifname: "eth0", nodeAddresses: ["2001:db8:0:1::10/64"], clientAddresses: ["2001:db8:0:1::5", "2001:db8:0:1::99"] },
  pods: { ifname: "cni0", gateway: "fd00:10:244:1::1/64", localPodAddresses: ["fd00:10:244:1::20"] },
  remote: { ifname: "flannel.1", routes: ["fd00:10:244:2::/64", "fd00:10:244:3::/64"], addresses: [], nodeAddress: "fd00:10:244:ff::1/128" },
};

// ICMPv6 destination-unreachable codes (RFC 4443) of the --reject-with names in the sample.
const ICMP6_UNREACHABLE_CODE: Record<string, number> = { "icmp6-adm-prohibited": 1, "icmp6-port-unreachable": 4 };

ndescribe("packet lab on samples/ip6tables.txt (IPv6)", () => {
  it("NodePort, host firewall and REJECT answers are observed as the dump says", async () => {
    const nat = table(ip6, "nat");
    const filter = table(ip6, "filter");
    const nodePort = findRule(nat, "KUBE-NODEPORTS", (r) => dportOf(r) === 30080);
    const endpoints = dnatRules(nat, nodePort.target!.name);
    const sshAllowed = findRule(filter, "HOST-IN", (r) => r.source?.value.address === "2001:db8:0:1::5" && dportOf(r) === 22);
    const resetRule = findRule(filter, "HOST-IN", (r) => r.target?.name === "REJECT" && r.protocol?.value.name === "tcp");
    const rejectWith = (rule: Rule) => {
      const value = rule.target?.options.find((o) => o.name === "reject-with")?.value;
      return value?.kind === "string" ? value.value : "";
    };
    const hostReject = findRule(filter, "HOST-IN", (r) => r.target?.name === "REJECT" && r.protocol === undefined);
    const noEndpoints = findRule(filter, "KUBE-SERVICES", (r) => r.target?.name === "REJECT");
    const clusterIp = noEndpoints.destination!.value.address;

    const [nodePortFlow, allowed, reset, prohibited, unreachable] = await runLab(ip6, ip6Topology, [
      { from: "external", proto: "tcp", src: "2001:db8:0:1::99", dst: "2001:db8:0:1::10", dport: 30080, packets: 40 },
      { from: "external", proto: "tcp", src: "2001:db8:0:1::5", dst: "2001:db8:0:1::10", dport: 22, packets: 1 },
      { from: "external", proto: "tcp", src: "2001:db8:0:1::99", dst: "2001:db8:0:1::10", dport: 22, packets: 1 },
      { from: "external", proto: "udp", src: "2001:db8:0:1::99", dst: "2001:db8:0:1::10", dport: 9999, packets: 1 },
      { from: "pod", proto: "tcp", src: "fd00:10:244:1::20", dst: clusterIp, dport: dportOf(noEndpoints)!, packets: 1 },
    ]);

    const reached = new Set<string>();
    for (const p of nodePortFlow!.perPacket) {
      const seen = forwardedPacket(p);
      const endpoint = endpoints.find((e) => e.ip === seen.dst && e.port === seen.dport);
      expect(endpoint, `${seen.dst}:${seen.dport}`).toBeDefined();
      reached.add(endpointKey(seen.dst, seen.dport));
      const [outInterface, masqueradeSource] = inNetwork(seen.dst, "fd00:10:244:1::/64", "ipv6")
        ? ["cni0", "fd00:10:244:1::1"]
        : ["flannel.1", "fd00:10:244:ff::1"];
      expect(seen).toMatchObject({ interface: outInterface, src: masqueradeSource });
      // --random-fully picks the port; conntrack's reply tuple must name the same one.
      expect(p.conntrack?.reply).toEqual({ src: seen.dst, sport: seen.dport, dst: masqueradeSource, dport: seen.sport });
    }
    expect(reached.size).toBe(endpoints.length);

    expect(allowed!.perPacket[0]).toMatchObject({ fate: { kind: "local" }, responses: [{ kind: "tcp-reset" }] });
    expect(hitsOf(allowed!, sshAllowed, "filter")).toBe(1);
    expect(reset!.perPacket[0]).toMatchObject({ fate: { kind: "dropped" }, responses: [{ kind: "tcp-reset" }] });
    expect(hitsOf(reset!, resetRule, "filter")).toBe(1);
    expect(prohibited!.perPacket[0]).toMatchObject({
      fate: { kind: "dropped" },
      responses: [{ kind: "icmp", type: 1, code: ICMP6_UNREACHABLE_CODE[rejectWith(hostReject)] }],
    });
    expect(hitsOf(prohibited!, hostReject, "filter")).toBe(1);
    expect(unreachable!.perPacket[0]).toMatchObject({
      fate: { kind: "dropped" },
      responses: [{ kind: "icmp", type: 1, code: ICMP6_UNREACHABLE_CODE[rejectWith(noEndpoints)] }],
    });
    expect(hitsOf(unreachable!, noEndpoints, "filter")).toBe(1);
  }, LAB_TIMEOUT);
});

// ---------------------------------------------------------------------------------------------------------------

const CUSTOM_RULES = `*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -p udp -m udp --dport 9999 -j CT --notrack
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -o eth0 -j MASQUERADE
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:EGRESS - [0:0]
:LOGGED - [0:0]
-A FORWARD -p udp -m udp --dport 9999 -j ACCEPT
-A FORWARD -p tcp -m tcp --dport 443 -j EGRESS
-A FORWARD -p tcp -m tcp --dport 8443 -m set --match-set allowed-clients src -j ACCEPT
-A FORWARD -p tcp -j REJECT --reject-with icmp-host-prohibited
-A EGRESS -s 10.244.0.5/32 -j RETURN
-A EGRESS -g LOGGED
-A LOGGED -j ACCEPT
COMMIT
`;

ndescribe("packet lab on a hand-written ruleset (untracked packets, RETURN, goto, ipset, REJECT)", () => {
  it("sees untracked packets leave unchanged, follows RETURN and goto through the counters, loads ipset members", async () => {
    const filter = table(CUSTOM_RULES, "filter");
    const topology: LabTopology = { ...flannelTopology, ipsets: [{ name: "allowed-clients", type: "hash:net", members: ["10.244.0.8"] }] };
    const [untracked, returned, accepted, inSet, notInSet] = await runLab(CUSTOM_RULES, topology, [
      { from: "pod", proto: "udp", src: "10.244.0.8", dst: "198.51.100.20", dport: 9999, packets: 3 },
      { from: "pod", proto: "tcp", src: "10.244.0.5", dst: "198.51.100.20", dport: 443, packets: 1 },
      { from: "pod", proto: "tcp", src: "10.244.0.8", dst: "198.51.100.20", dport: 443, packets: 1 },
      { from: "pod", proto: "tcp", src: "10.244.0.8", dst: "198.51.100.20", dport: 8443, packets: 1 },
      { from: "pod", proto: "tcp", src: "10.244.0.9", dst: "198.51.100.20", dport: 8443, packets: 1 },
    ]);
    for (const p of untracked!.perPacket) {
      expect(p.conntrack).toBeUndefined();
      expect(p.fate).toEqual({ kind: "forwarded", interface: "eth0", packet: { src: "10.244.0.8", sport: p.sport, dst: "198.51.100.20", dport: 9999 } });
    }
    expect(returned!.perPacket[0]).toMatchObject({ fate: { kind: "dropped" }, responses: [{ kind: "icmp", type: 3, code: 10 }] });
    const position = (chain: string, n: number) => ({ chain, position: rules(filter, chain)[n - 1]!.position });
    expect(hitsOf(returned!, position("EGRESS", 1), "filter")).toBe(1);
    expect(hitsOf(returned!, position("FORWARD", 4), "filter")).toBe(1);
    expect(hitsOf(returned!, position("LOGGED", 1), "filter")).toBe(0);

    const p = accepted!.perPacket[0]!;
    expect(forwardedPacket(p)).toMatchObject({ interface: "eth0", src: "192.168.1.2", dst: "198.51.100.20", dport: 443 });
    expect(hitsOf(accepted!, position("EGRESS", 2), "filter")).toBe(1);
    expect(hitsOf(accepted!, position("LOGGED", 1), "filter")).toBe(1);
    expect(hitsOf(accepted!, position("FORWARD", 4), "filter")).toBe(0);

    expect(inSet!.perPacket[0]!.fate).toMatchObject({ kind: "forwarded", interface: "eth0" });
    expect(hitsOf(inSet!, position("FORWARD", 3), "filter")).toBe(1);
    expect(notInSet!.perPacket[0]).toMatchObject({ fate: { kind: "dropped" }, responses: [{ kind: "icmp", type: 3, code: 10 }] });
    expect(hitsOf(notInSet!, position("FORWARD", 4), "filter")).toBe(1);
  }, LAB_TIMEOUT);
});

// ---------------------------------------------------------------------------------------------------------------

/** The first address of a range plus 7, e.g. 203.0.113.7 for 203.0.113.0/24: a client inside it. */
function clientIn(range: string): string {
  const network = parseAddressMask(range, "ipv4");
  if (typeof network === "string") throw new Error(range);
  return formatIpv4(parseIpv4(network.address)! + 7);
}

ndescribe("packet lab against kubegen's ground truth", () => {
  it.each<Generation>(["new", "old"])("%s kube-proxy rules: every frontend from outside does what the truth says", async (generation) => {
    const { text, cluster, truth } = generateKubeProxyDumpWithTruth({
      services: 10,
      seed: 7,
      generation,
      endpointsPerService: [0, 3],
      mix: { nodePort: 0.4, loadBalancer: 0.3, loadBalancerSourceRanges: 0.5, externalIPs: 0.3, externalTrafficPolicyLocal: 0.5, noLocalEndpoints: 0.4, udp: 0.2, localEndpoint: 0.3 },
    });
    const localPodCidr = "10.128.0.0/24"; // kubegen gives this node the first /24 of the cluster CIDR
    const outside = ["203.0.113.0/24", "198.51.100.0/25", "192.0.2.128/26"].map(clientIn);
    const topology: LabTopology = {
      family: "ipv4",
      external: { ifname: "eth0", nodeAddresses: [`${cluster.nodeIP}/24`], clientAddresses: outside },
      pods: { ifname: "cni0", gateway: "10.128.0.1/24", localPodAddresses: ["10.128.0.254"] },
      remote: { ifname: "flannel.1", routes: [cluster.clusterCIDR], addresses: [], nodeAddress: "10.128.0.0/32" },
    };
    const linkOf = (ip: string): { ifname: string; nodeAddress: string } | "local" => {
      if (ip === cluster.nodeIP) return "local";
      if (inNetwork(ip, localPodCidr)) return { ifname: "cni0", nodeAddress: "10.128.0.1" };
      if (inNetwork(ip, cluster.clusterCIDR)) return { ifname: "flannel.1", nodeAddress: "10.128.0.0" };
      return { ifname: "eth0", nodeAddress: cluster.nodeIP };
    };
    const cases = truth.flatMap((port) => port.frontends.map((frontend) => ({ port: port.key, frontend })));
    const clientFor = (f: TruthFrontend) => {
      const ranges = f.sourceRanges ?? [];
      return outside.find((c) => ranges.length === 0 || ranges.some((r) => inNetwork(c, r)))!;
    };
    const flows: LabFlow[] = cases.map(({ frontend }) => ({
      from: "external", proto: frontend.protocol, src: clientFor(frontend), dst: frontend.ip ?? cluster.nodeIP, dport: frontend.port, packets: 2,
    }));
    expect(new Set(cases.map((c) => c.frontend.verdict)).size).toBeGreaterThanOrEqual(3);

    const observations = await runLab(text, topology, flows);
    observations.forEach((observation, i) => {
      const { port, frontend } = cases[i]!;
      const what = `${port} ${frontend.kind} ${frontend.ip ?? "node"}:${frontend.port} (${frontend.verdict})`;
      for (const p of observation.perPacket) {
        const client = observation.flow.src;
        switch (frontend.verdict) {
          case "dnat": {
            const fate = p.fate;
            if (fate.kind !== "local" && fate.kind !== "forwarded") throw new Error(`${what}: ${JSON.stringify(fate)}`);
            const endpoint = frontend.endpoints.find((e) => e.ip === fate.packet.dst && e.port === fate.packet.dport);
            expect(endpoint, what).toBeDefined();
            const link = linkOf(fate.packet.dst);
            if (link === "local") expect(fate.kind, what).toBe("local");
            else {
              expect(fate, what).toMatchObject({ kind: "forwarded", interface: link.ifname });
              expect(fate.packet.src, what).toBe(frontend.masquerade ? link.nodeAddress : client);
            }
            break;
          }
          case "forward":
            expect(p.fate, what).toMatchObject({ kind: "forwarded", interface: "eth0", packet: { src: client, dst: observation.flow.dst, dport: frontend.port } });
            break;
          case "reject":
            expect(p.fate.kind, what).toBe("dropped");
            expect(p.responses.length, what).toBeGreaterThan(0);
            break;
          case "drop":
            expect(p.fate.kind, what).toBe("dropped");
            expect(p.responses, what).toEqual([]);
            break;
        }
      }
    });
  }, LAB_TIMEOUT);
});

ndescribe("packet lab hygiene", () => {
  it("deletes its namespaces when closed", async () => {
    const lab = await NetLab.open(CUSTOM_RULES, flannelTopology);
    const names = [lab.plan.node.name, ...lab.plan.peers.map((p) => p.name)];
    expect(names.every((n) => existsSync(`/run/netns/${n}`))).toBe(true);
    await lab.close();
    expect(names.filter((n) => existsSync(`/run/netns/${n}`))).toEqual([]);
  }, LAB_TIMEOUT);
});
