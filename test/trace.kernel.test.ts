// Proof against the kernel: every flow here is sent as real packets through the ruleset loaded in a
// private namespace (test/support/netlab.ts), and every packet's fate — verdict, where it went, the
// packet as it arrived (DNAT, SNAT, masquerade) — and the rules the kernel counted must agree with the
// tracer's prediction.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { judgeFlow, tracersFor, type FlowVerdict } from "./support/agreement.js";
import { samplesDir } from "./support/files.js";
import { generateKubeProxyDumpWithTruth, type FeatureMix, type GeneratedDump } from "./support/kubegen.js";
import { netlabDescribe, runLab, type LabFlow, type LabTopology } from "./support/netlab.js";

const ndescribe = netlabDescribe();
const LAB_TIMEOUT = 120_000;
const sample = (name: string) => readFileSync(join(samplesDir, `${name}.txt`), "utf8");

const tally = { flows: 0, packets: 0, agreed: 0 };
afterAll(() => {
  if (tally.flows > 0) console.log(`kernel agreement: ${tally.agreed}/${tally.flows} flows, ${tally.packets} packets`);
});

async function agreement(ruleset: string, topology: LabTopology, flows: LabFlow[]): Promise<void> {
  const tracers = tracersFor(ruleset);
  const observations = await runLab(ruleset, topology, flows);
  const verdicts: FlowVerdict[] = observations.map((o) => judgeFlow(tracers, ruleset, topology, o));
  const failures: string[] = [];
  for (const v of verdicts) {
    tally.flows++;
    tally.packets += v.flow.packets;
    if (v.problems.length === 0) tally.agreed++;
    else failures.push(`${v.flow.from} ${v.flow.proto} ${v.flow.src} → ${v.flow.dst}:${v.flow.dport}\n    ${v.problems.join("\n    ")}`);
  }
  expect(failures, failures.join("\n")).toEqual([]);
}

const flannelTopology: LabTopology = {
  family: "ipv4",
  external: { ifname: "eth0", nodeAddresses: ["192.168.1.2/24"], clientAddresses: ["192.168.1.100", "203.0.113.7"] },
  pods: { ifname: "cni0", gateway: "10.244.0.1/24", localPodAddresses: ["10.244.0.5", "10.244.0.8", "10.244.0.9"] },
  remote: { ifname: "flannel.1", routes: ["10.244.1.0/24", "10.244.2.0/24"], addresses: ["10.244.1.5"], nodeAddress: "10.244.0.0/32" },
};

ndescribe("tracer agrees with the kernel", () => {
  it("samples/kubeadm-flannel.txt: ClusterIP, NodePort, API server, remote endpoints, unserved ports", { timeout: LAB_TIMEOUT }, async () => {
    await agreement(sample("kubeadm-flannel"), flannelTopology, [
      { from: "pod", proto: "udp", src: "10.244.0.5", dst: "10.96.0.10", dport: 53, packets: 30 },
      { from: "pod", proto: "tcp", src: "10.244.0.5", dst: "10.96.0.10", dport: 9153, packets: 20 },
      { from: "remote", proto: "tcp", src: "10.244.1.5", dst: "10.96.0.10", dport: 53, packets: 20 },
      { from: "pod", proto: "tcp", src: "10.244.0.5", dst: "10.96.0.1", dport: 443, packets: 1 },
      { from: "pod", proto: "tcp", src: "10.244.0.5", dst: "10.106.212.82", dport: 80, packets: 20 },
      { from: "external", proto: "tcp", src: "203.0.113.7", dst: "192.168.1.2", dport: 30071, packets: 3 },
      { from: "external", proto: "tcp", src: "192.168.1.100", dst: "192.168.1.2", dport: 31001, packets: 3 },
      { from: "node", proto: "tcp", src: "192.168.1.2", dst: "192.168.1.2", dport: 30071, packets: 2 },
      { from: "node", proto: "udp", src: "192.168.1.2", dst: "10.96.0.10", dport: 53, packets: 20 },
      { from: "external", proto: "tcp", src: "203.0.113.7", dst: "192.168.1.2", dport: 12345, packets: 1 },
      { from: "pod", proto: "tcp", src: "10.244.0.5", dst: "10.96.0.99", dport: 80, packets: 1 },
      { from: "pod", proto: "udp", src: "10.244.0.8", dst: "198.51.100.20", dport: 4000, packets: 1 },
    ]);
  });
});

const RICH_MIX: Partial<FeatureMix> = {
  nodePort: 0.35,
  loadBalancer: 0.3,
  loadBalancerSourceRanges: 0.6,
  externalIPs: 0.3,
  externalTrafficPolicyLocal: 0.5,
  internalTrafficPolicyLocal: 0.15,
  noLocalEndpoints: 0.4,
  clientIPAffinity: 0.25,
  noEndpoints: 0.15,
  udp: 0.25,
  multiPort: 0.2,
  localEndpoint: 0.4,
};

interface Addresses {
  nodePrefix: number;
  podGateway: string;
  clientPod: string;
  remoteRoute: string;
  remoteNode: string;
  /** One client inside each of kubegen's load-balancer source ranges, then one outside all of them. */
  externalClients: string[];
}

const ADDRESSES: Record<"ipv4" | "ipv6", Addresses> = {
  ipv4: {
    nodePrefix: 24,
    podGateway: "10.128.0.1/24",
    clientPod: "10.128.0.253",
    remoteRoute: "10.128.0.0/9",
    remoteNode: "10.128.0.0/32",
    externalClients: ["203.0.113.50", "198.51.100.7", "192.0.2.130", "100.64.0.9"],
  },
  ipv6: {
    nodePrefix: 64,
    podGateway: "fd00:10:244::1/64",
    clientPod: "fd00:10:244::fd",
    remoteRoute: "fd00:10:244::/48",
    remoteNode: "fd00:10:244:ffff::/128",
    externalClients: ["2001:db8:100::50", "2001:db8:200::7", "2001:db8:300:8000::9", "2001:db8:ffff::50"],
  },
};

/** The lab for a generated cluster: this node, its local pods on cni0, every other node's pods behind flannel.1. */
function clusterTopology(dump: GeneratedDump): LabTopology {
  const family = dump.cluster.family;
  const a = ADDRESSES[family];
  const localPods = new Set<string>([a.clientPod]);
  for (const port of dump.truth) for (const e of port.endpoints) if (e.local && e.ip !== dump.cluster.nodeIP) localPods.add(e.ip);
  return {
    family,
    external: { ifname: "eth0", nodeAddresses: [`${dump.cluster.nodeIP}/${a.nodePrefix}`], clientAddresses: a.externalClients },
    pods: { ifname: "cni0", gateway: a.podGateway, localPodAddresses: [...localPods] },
    remote: { ifname: "flannel.1", routes: [a.remoteRoute], addresses: [], nodeAddress: a.remoteNode },
  };
}

/** Flows covering every frontend of every service port, from each kind of client that frontend serves. */
function clusterFlows(dump: GeneratedDump): LabFlow[] {
  const family = dump.cluster.family;
  const a = ADDRESSES[family];
  const node = dump.cluster.nodeIP;
  const outside = a.externalClients[a.externalClients.length - 1]!;
  const flows: LabFlow[] = [];
  const sourceRanges = [
    ["203.0.113.0/24", "198.51.100.0/25", "192.0.2.128/26"],
    ["2001:db8:100::/48", "2001:db8:200::/56", "2001:db8:300:8000::/49"],
  ][family === "ipv4" ? 0 : 1]!;
  for (const port of dump.truth) {
    const packets = port.affinitySeconds !== undefined ? 4 : port.endpoints.length > 1 ? 36 : 2;
    const proto = port.protocol;
    for (const f of port.frontends) {
      if (f.kind === "clusterIP") {
        flows.push({ from: "pod", proto, src: a.clientPod, dst: f.ip!, dport: f.port, packets });
        flows.push({ from: "node", proto, src: node, dst: f.ip!, dport: f.port, packets: Math.min(packets, 12) });
      } else if (f.kind === "nodePort") {
        flows.push({ from: "external", proto, src: outside, dst: node, dport: f.port, packets });
        flows.push({ from: "node", proto, src: node, dst: node, dport: f.port, packets: Math.min(packets, 12) });
      } else if (f.kind === "externalIP") {
        flows.push({ from: "external", proto, src: outside, dst: f.ip!, dport: f.port, packets });
      } else {
        const inside = f.sourceRanges?.[0] ? a.externalClients[sourceRanges.indexOf(f.sourceRanges[0])] : undefined;
        flows.push({ from: "external", proto, src: inside ?? outside, dst: f.ip!, dport: f.port, packets });
        if (inside) flows.push({ from: "external", proto, src: outside, dst: f.ip!, dport: f.port, packets: 1 });
      }
    }
  }
  // Ports nobody serves: on the node, and on a cluster IP no service has.
  flows.push({ from: "external", proto: "tcp", src: outside, dst: node, dport: 23456, packets: 1 });
  flows.push({ from: "pod", proto: "udp", src: a.clientPod, dst: family === "ipv4" ? "10.111.222.33" : "fd00:10:96::7777", dport: 53, packets: 1 });
  return flows;
}

const GENERATED = [
  { generation: "old", family: "ipv4", seed: 101 },
  { generation: "new", family: "ipv4", seed: 102 },
  { generation: "new", family: "ipv6", seed: 103 },
  { generation: "old", family: "ipv6", seed: 104 },
] as const;

ndescribe("tracer agrees with the kernel on generated kube-proxy rulesets", () => {
  for (const g of GENERATED) {
    it(`${g.generation} generation, ${g.family} (seed ${g.seed}): every frontend from pods, the node and outside`, { timeout: LAB_TIMEOUT }, async () => {
      const dump = generateKubeProxyDumpWithTruth({ services: 14, seed: g.seed, generation: g.generation, family: g.family, order: "restore", mix: RICH_MIX, endpointsPerService: [0, 3] });
      const flows = clusterFlows(dump);
      expect(flows.length).toBeGreaterThan(20);
      await agreement(dump.text, clusterTopology(dump), flows);
    });
  }
});
