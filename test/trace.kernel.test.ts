// Proof against the kernel: every flow here is sent as real packets through the ruleset loaded in a
// private namespace (test/support/netlab.ts), and every packet's fate — verdict, where it went, the
// packet as it arrived (DNAT, SNAT, masquerade) — and the rules the kernel counted must agree with the
// tracer's prediction.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { judgeFlow, tracerFor, type FlowVerdict } from "./support/agreement.js";
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
  const tracer = tracerFor(ruleset);
  const observations = await runLab(ruleset, topology, flows);
  const verdicts: FlowVerdict[] = observations.map((o) => judgeFlow(tracer, ruleset, topology, o));
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
