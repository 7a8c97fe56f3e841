// Proof against the kernel: every flow here is sent as real packets through the ruleset loaded in a
// private namespace (test/support/netlab.ts), and every packet's fate — verdict, where it went, the
// packet as it arrived (DNAT, SNAT, masquerade) —, the rules the kernel counted and, where the walk splits at
// random, the shares seen must agree with the tracer's prediction.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { judgeFlow, sampledFlows, tracersFor, type FlowVerdict } from "./support/agreement.js";
import { samplesDir } from "./support/files.js";
import { generateKubeProxyDumpWithTruth, type FeatureMix, type GeneratedDump } from "./support/kubegen.js";
import { kernelRoundTrip, type Backend } from "./support/kernel.js";
import { netlabDescribe, runLab, type LabFlow, type LabTopology } from "./support/netlab.js";
import { generateTraceCase, traceTopology } from "./support/tracegen.js";
import { BUILTIN_CHAINS, type BuiltinChainName, type TableName } from "../src/model/types.js";

const ndescribe = netlabDescribe();
const LAB_TIMEOUT = 120_000;
const sample = (name: string) => readFileSync(join(samplesDir, `${name}.txt`), "utf8");

/** A table as iptables-save prints it: its built-in chains (ACCEPT unless `policies` says), the rules, COMMIT. */
const table = (name: TableName, rules: readonly string[], policies: Partial<Record<BuiltinChainName, "DROP">> = {}): string[] => [
  `*${name}`,
  ...BUILTIN_CHAINS[name].map((chain) => `:${chain} ${policies[chain] ?? "ACCEPT"} [0:0]`),
  ...rules,
  "COMMIT",
];
const dump = (...tables: string[][]): string => [...tables.flat(), ""].join("\n");

const tally = { flows: 0, packets: 0, agreed: 0 };
afterAll(() => {
  if (tally.flows > 0) console.log(`kernel agreement: ${tally.agreed}/${tally.flows} flows, ${tally.packets} packets`);
});

/** `generated`: a random case, whose flows get enough packets wherever shares are worth checking. */
async function agreement(ruleset: string, topology: LabTopology, flows: LabFlow[], generated?: { repro: string }, backend: Backend = "nft"): Promise<void> {
  const tracers = tracersFor(ruleset, topology.family);
  const observations = await runLab(ruleset, topology, generated ? sampledFlows(tracers, ruleset, topology, flows) : flows, { backend });
  const verdicts: FlowVerdict[] = observations.map((o) => judgeFlow(tracers, ruleset, topology, o));
  const failures: string[] = [];
  for (const v of verdicts) {
    tally.flows++;
    tally.packets += v.flow.packets;
    if (v.problems.length === 0) tally.agreed++;
    else failures.push(`${v.flow.from} ${v.flow.proto} ${v.flow.src} → ${v.flow.dst}:${v.flow.dport}\n    ${v.problems.join("\n    ")}`);
  }
  expect(failures, [...failures, ...(generated && failures.length > 0 ? [`minimal repro: ${generated.repro}`] : [])].join("\n")).toEqual([]);
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

const modernTopology: LabTopology = {
  family: "ipv4",
  external: { ifname: "eth0", nodeAddresses: ["10.0.1.21/24"], clientAddresses: ["10.0.1.50", "198.51.100.9", "203.0.113.99"] },
  pods: { ifname: "cni0", gateway: "100.64.1.1/24", localPodAddresses: ["100.64.1.200", "100.64.1.5", "100.64.1.21", "100.64.1.22", "100.64.1.40", "100.64.1.60", "100.64.1.80"] },
  remote: { ifname: "flannel.1", routes: ["100.64.0.0/16"], addresses: ["100.64.2.99"], nodeAddress: "100.64.1.0/32" },
};

const dockerTopology: LabTopology = {
  family: "ipv4",
  external: { ifname: "eth0", nodeAddresses: ["192.168.10.20/24"], clientAddresses: ["192.168.10.5", "203.0.113.9", "198.51.100.4"] },
  pods: { ifname: "docker0", gateway: "172.17.0.1/16", localPodAddresses: ["172.17.0.2", "172.17.0.3"] },
  extraLinks: [{ ifname: "br-5e3c7a19d2f4", nodeAddresses: ["172.18.0.1/16"] }],
};

const ip6Topology: LabTopology = {
  family: "ipv6",
  external: { ifname: "eth0", nodeAddresses: ["2001:db8:0:1::10/64"], clientAddresses: ["2001:db8:0:1::5", "2001:db8:0:1::99"] },
  pods: { ifname: "cni0", gateway: "fd00:10:244:1::1/64", localPodAddresses: ["fd00:10:244:1::20", "fd00:10:244:1::3", "fd00:10:244:1::5"] },
  remote: { ifname: "flannel.1", routes: ["fd00:10:244:2::/64", "fd00:10:244:3::/64"], addresses: [], nodeAddress: "fd00:10:244:ff::1/128" },
};

// Hand-written filter chains: RETURN, goto, marks and connmarks across tables, a default-DROP policy on
// INPUT and FORWARD, DNAT to a local port, REJECT variants.
const CUSTOM_CHAINS = `*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:CLASSIFY-IN - [0:0]
-A PREROUTING -i eth0 -j CLASSIFY-IN
-A CLASSIFY-IN -p tcp -m multiport --dports 8080,8443 -j MARK --set-xmark 0x10/0xff
-A CLASSIFY-IN -s 203.0.113.0/24 -j MARK --or-mark 0x100
-A CLASSIFY-IN -m mark --mark 0x100/0x100 -j CONNMARK --save-mark --nfmask 0xff00 --ctmask 0xff00
-A CLASSIFY-IN -j RETURN
-A CLASSIFY-IN -j MARK --set-xmark 0xdead/0xffff
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -d 192.168.1.2/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.244.0.8:80
-A PREROUTING -d 192.168.1.2/32 -p tcp -m tcp --dport 2222 -j REDIRECT --to-ports 22
-A POSTROUTING -m mark --mark 0x10/0xff -o cni0 -j MASQUERADE
-A POSTROUTING -s 10.244.0.0/16 -o eth0 -j SNAT --to-source 192.168.1.2
COMMIT
*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:HOST - [0:0]
:FWD - [0:0]
:DENY - [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -j HOST
-A HOST -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A HOST -p tcp -m tcp --dport 22 -m conntrack --ctstate DNAT -j ACCEPT
-A HOST -p tcp -m tcp --dport 22 -s 192.168.1.0/24 -j ACCEPT
-A HOST -p udp -j RETURN
-A HOST -p tcp -j REJECT --reject-with tcp-reset
-A INPUT -p udp -m udp --dport 53 -j ACCEPT
-A FORWARD -j FWD
-A FWD -m mark --mark 0x100/0x100 -g DENY
-A FWD -m connmark --mark 0x100/0xff00 -j DROP
-A FWD -m mark --mark 0x10/0xff -m conntrack --ctstate DNAT --ctorigdstport 8080 -j ACCEPT
-A FWD -s 10.244.0.0/16 -o eth0 -j ACCEPT
-A FWD -j RETURN
-A DENY -p tcp -j REJECT --reject-with icmp-admin-prohibited
-A DENY -j RETURN
COMMIT
`;

ndescribe("tracer agrees with the kernel on the other samples and hand-written chains", () => {
  it("samples/kube-proxy-modern.txt: LoadBalancer source ranges, traffic policy Local, localhost NodePorts, affinity", { timeout: LAB_TIMEOUT }, async () => {
    await agreement(sample("kube-proxy-modern"), modernTopology, [
      { from: "pod", proto: "udp", src: "100.64.1.200", dst: "10.96.0.10", dport: 53, packets: 30 },
      { from: "remote", proto: "tcp", src: "100.64.2.99", dst: "10.96.0.10", dport: 53, packets: 20 },
      { from: "external", proto: "tcp", src: "10.0.1.50", dst: "10.0.1.21", dport: 30080, packets: 20 },
      { from: "node", proto: "tcp", src: "127.0.0.1", dst: "127.0.0.1", dport: 30080, packets: 10 },
      { from: "external", proto: "tcp", src: "198.51.100.9", dst: "203.0.113.50", dport: 443, packets: 20 },
      { from: "external", proto: "tcp", src: "203.0.113.99", dst: "203.0.113.50", dport: 443, packets: 1 },
      { from: "external", proto: "tcp", src: "10.0.1.50", dst: "203.0.113.60", dport: 80, packets: 3 },
      { from: "pod", proto: "tcp", src: "100.64.1.200", dst: "203.0.113.60", dport: 80, packets: 20 },
      { from: "external", proto: "tcp", src: "10.0.1.50", dst: "203.0.113.70", dport: 80, packets: 1 },
      { from: "external", proto: "tcp", src: "10.0.1.50", dst: "10.0.1.21", dport: 30900, packets: 1 },
      { from: "external", proto: "tcp", src: "10.0.1.50", dst: "10.0.1.21", dport: 31999, packets: 1 },
      { from: "pod", proto: "tcp", src: "100.64.1.200", dst: "10.96.0.1", dport: 443, packets: 1 },
      { from: "node", proto: "tcp", src: "10.0.1.21", dst: "10.96.120.20", dport: 9100, packets: 2 },
    ]);
  });

  it("samples/docker.txt: published ports, DOCKER-USER, isolation, hairpin, masquerade", { timeout: LAB_TIMEOUT }, async () => {
    await agreement(sample("docker"), dockerTopology, [
      { from: "external", proto: "tcp", src: "192.168.10.5", dst: "192.168.10.20", dport: 8080, packets: 2 },
      { from: "external", proto: "tcp", src: "203.0.113.9", dst: "192.168.10.20", dport: 8080, packets: 1 },
      { from: "external", proto: "tcp", src: "198.51.100.4", dst: "192.168.10.20", dport: 5432, packets: 1 },
      { from: "external", proto: "tcp", src: "192.168.10.5", dst: "192.168.10.20", dport: 5432, packets: 1 },
      { from: "external", proto: "tcp", src: "198.51.100.4", dst: "192.168.10.20", dport: 8443, packets: 1 },
      { from: "external", proto: "udp", src: "198.51.100.4", dst: "192.168.10.20", dport: 51820, packets: 1 },
      { from: "pod", proto: "tcp", src: "172.17.0.2", dst: "198.51.100.20", dport: 443, packets: 1 },
      { from: "pod", proto: "tcp", src: "172.17.0.3", dst: "192.168.10.20", dport: 8080, packets: 1 },
      { from: "pod", proto: "tcp", src: "172.17.0.2", dst: "172.18.0.3", dport: 443, packets: 1 },
      { from: "node", proto: "tcp", src: "192.168.10.20", dst: "192.168.10.20", dport: 8080, packets: 1 },
      { from: "node", proto: "tcp", src: "127.0.0.1", dst: "127.0.0.1", dport: 9000, packets: 1 },
    ]);
  });

  it("samples/ip6tables.txt: IPv6 NodePort, host firewall with default DROP, REJECT answers", { timeout: LAB_TIMEOUT }, async () => {
    await agreement(sample("ip6tables"), ip6Topology, [
      { from: "external", proto: "tcp", src: "2001:db8:0:1::99", dst: "2001:db8:0:1::10", dport: 30080, packets: 20 },
      { from: "external", proto: "tcp", src: "2001:db8:0:1::5", dst: "2001:db8:0:1::10", dport: 22, packets: 1 },
      { from: "external", proto: "tcp", src: "2001:db8:0:1::99", dst: "2001:db8:0:1::10", dport: 22, packets: 1 },
      { from: "external", proto: "udp", src: "2001:db8:0:1::99", dst: "2001:db8:0:1::10", dport: 4444, packets: 1 },
      { from: "pod", proto: "udp", src: "fd00:10:244:1::20", dst: "fd00:10:96::a", dport: 53, packets: 20 },
      { from: "pod", proto: "tcp", src: "fd00:10:244:1::20", dst: "fd00:10:96::77", dport: 8080, packets: 1 },
      { from: "pod", proto: "tcp", src: "fd00:10:244:1::20", dst: "2001:db8:0:1::10", dport: 10250, packets: 1 },
    ]);
  });

  it("hand-written chains: RETURN, goto, MARK/CONNMARK across tables, default DROP, DNAT/REDIRECT/SNAT", { timeout: LAB_TIMEOUT }, async () => {
    await agreement(CUSTOM_CHAINS, flannelTopology, [
      { from: "external", proto: "tcp", src: "192.168.1.100", dst: "192.168.1.2", dport: 8080, packets: 2 },
      { from: "external", proto: "tcp", src: "203.0.113.7", dst: "192.168.1.2", dport: 8080, packets: 1 },
      { from: "external", proto: "udp", src: "203.0.113.7", dst: "10.244.0.9", dport: 8080, packets: 1 },
      { from: "external", proto: "tcp", src: "203.0.113.7", dst: "192.168.1.2", dport: 2222, packets: 1 },
      { from: "external", proto: "tcp", src: "192.168.1.100", dst: "192.168.1.2", dport: 22, packets: 1 },
      { from: "external", proto: "tcp", src: "203.0.113.7", dst: "192.168.1.2", dport: 22, packets: 1 },
      { from: "external", proto: "udp", src: "203.0.113.7", dst: "192.168.1.2", dport: 53, packets: 1 },
      { from: "external", proto: "udp", src: "203.0.113.7", dst: "192.168.1.2", dport: 54, packets: 1 },
      { from: "pod", proto: "tcp", src: "10.244.0.5", dst: "198.51.100.20", dport: 443, packets: 1 },
      { from: "pod", proto: "udp", src: "10.244.0.5", dst: "10.244.1.5", dport: 53, packets: 1 },
      { from: "node", proto: "udp", src: "192.168.1.2", dst: "192.168.1.2", dport: 53, packets: 1 },
    ]);
  });
});

// Cases the random sweep (npm run sweep:kernel) and probes around its findings turned up, cut down to what each needs.
ndescribe("tracer agrees with the kernel on what the random sweep and probes around it found", () => {
  it("a datagram the node's own POSTROUTING drops fails its send (EPERM) with no answer: a drop, not INPUT's REJECT", { timeout: LAB_TIMEOUT }, async () => {
    const ruleset = dump(
      table("mangle", [
        "-A POSTROUTING -p udp -m conntrack --ctstate NEW -m statistic --mode random --probability 0.33333333349 -j DROP",
      ]),
      table("filter", [
        "-A INPUT -m statistic --mode random --probability 0.75 -j REJECT --reject-with icmp6-port-unreachable",
      ], { INPUT: "DROP" }),
    );
    await agreement(ruleset, traceTopology("ipv6"), [{ from: "node", proto: "udp", src: "2001:db8:0:1::10", dst: "2001:db8:0:1::10", dport: 8080, packets: 240 }]);
  });

  it("a rule on a source port range counts only the packets whose own source port is in it", { timeout: LAB_TIMEOUT }, async () => {
    const ruleset = dump(
      table("mangle", [
        "-A PREROUTING -p tcp -m tcp --sport 20000:20100 --dport 22 -j MARK --and-mark 0x1ff",
        "-A FORWARD -p tcp -m multiport --sports 20000:20009,20030 -j MARK --set-xmark 0x1/0xffffffff",
      ]),
    );
    // The lab gives each packet a source port of its own, counting up from 20000 across a run's flows.
    await agreement(ruleset, traceTopology("ipv4"), [
      { from: "external", proto: "tcp", src: "203.0.113.7", dst: "198.51.100.20", dport: 22, packets: 60 },
      { from: "external", proto: "tcp", src: "203.0.113.7", dst: "198.51.100.20", dport: 22, packets: 60 },
    ]);
  });

  it("DNAT and REDIRECT to a port range keep a destination port in it and give any other the range's first", { timeout: LAB_TIMEOUT }, async () => {
    const ruleset = dump(
      table("nat", [
        "-A PREROUTING -p tcp -d 10.96.0.10/32 -j DNAT --to-destination 10.244.0.5:8000-8100",
        "-A PREROUTING -p tcp -d 10.96.0.20/32 -j REDIRECT --to-ports 50-100",
        "-A OUTPUT -p udp -d 10.96.0.10/32 -j DNAT --to-destination 10.244.0.8:50-100",
        "-A OUTPUT -p udp -d 10.96.0.20/32 -j REDIRECT --to-ports 8000-8100",
      ]),
    );
    const flows: LabFlow[] = [];
    for (const dport of [8080, 80]) {
      for (const dst of ["10.96.0.10", "10.96.0.20"]) {
        flows.push({ from: "external", proto: "tcp", src: "192.168.1.100", dst, dport, packets: 1 }, { from: "node", proto: "udp", src: "192.168.1.2", dst, dport, packets: 1 });
      }
    }
    await agreement(ruleset, traceTopology("ipv4"), flows);
  });

  it("DNAT and SNAT to an address range pick by a hash of the connection's addresses; a source in the range stays", { timeout: LAB_TIMEOUT }, async () => {
    const nat = (rules: string[]) => dump(table("nat", rules));
    const v4 = nat([
      "-A PREROUTING -d 10.96.0.0/12 -j DNAT --to-destination 10.244.0.5-10.244.0.9",
      "-A POSTROUTING -o eth0 -s 10.244.0.5/32 -j SNAT --to-source 192.168.1.2-192.168.1.9",
      "-A POSTROUTING -o eth0 -s 10.244.0.8/32 -j SNAT --to-source 10.244.0.1-10.244.0.9",
      "-A POSTROUTING -o eth0 -s 10.244.0.9/32 -j SNAT --to-source 198.51.100.1-198.51.100.9 --persistent",
    ]);
    const flows = (clients: string[], services: string[], pods: string[], outside: string[]): LabFlow[] => [
      ...clients.flatMap((src) => services.map((dst): LabFlow => ({ from: "external", proto: "udp", src, dst, dport: 53, packets: 1 }))),
      ...pods.flatMap((src) => outside.map((dst): LabFlow => ({ from: "pod", proto: "udp", src, dst, dport: 53, packets: 1 }))),
    ];
    await agreement(v4, traceTopology("ipv4"), flows(["192.168.1.100", "203.0.113.7"], ["10.96.0.10", "10.96.0.20"], ["10.244.0.5", "10.244.0.8", "10.244.0.9"], ["192.168.1.100", "198.51.100.20", "203.0.113.7"]));
    const v6 = nat([
      "-A PREROUTING -d fd00:10:96::/112 -j DNAT --to-destination fd00:10:244:1::5-fd00:10:244:1::9",
      "-A POSTROUTING -o eth0 -s fd00:10:244:1::5/128 -j SNAT --to-source 2001:db8:0:1::10-2001:db8:0:1::1:20",
      "-A POSTROUTING -o eth0 -s fd00:10:244:1::8/128 -j SNAT --to-source fd00:10:244:1::1-fd00:10:244:1::9",
      "-A PREROUTING -p tcp -d fd00:10:244:ff::1/128 -j DNAT --to-destination [fd00:10:96::1-fd00:10:96::f]:80",
      "-A PREROUTING -p tcp -d 2001:db8:ff00::20/128 -j DNAT --to-destination [fd00:10:96::1-fd00:10:96::f]:80",
    ]);
    await agreement(v6, traceTopology("ipv6"), flows(["2001:db8:0:1::5", "2001:db8:ff::9"], ["fd00:10:96::a", "fd00:10:96::14"], ["fd00:10:244:1::5", "fd00:10:244:1::8"], ["2001:db8:0:1::5", "2001:db8:ff00::20", "2001:db8:ff::9"]).concat(
      ["fd00:10:244:ff::1", "2001:db8:ff00::20"].map((dst): LabFlow => ({ from: "external", proto: "tcp", src: "2001:db8:ff::9", dst, dport: 443, packets: 1 })),
    ));
  });

  it("IPv6 masquerade of a packet DNATed to ::1 and sent back out eth0 takes eth0's address, not ::1", { timeout: LAB_TIMEOUT }, async () => {
    const ruleset = dump(
      table("nat", [
        "-A PREROUTING -p tcp -d fd00:10:244:ff::1/128 -j DNAT --to-destination [::1]:80",
        "-A POSTROUTING -j MASQUERADE",
      ]),
    );
    await agreement(ruleset, traceTopology("ipv6"), [
      { from: "external", proto: "tcp", src: "2001:db8:ff::9", dst: "fd00:10:244:ff::1", dport: 443, packets: 2 },
      { from: "node", proto: "tcp", src: "::1", dst: "::1", dport: 80, packets: 1 },
      { from: "node", proto: "tcp", src: "2001:db8:0:1::10", dst: "fd00:10:244:ff::1", dport: 443, packets: 1 },
    ]);
  });

  it("a MASQUERADE that leaves the source as it was is no source NAT for --ctstate SNAT", { timeout: LAB_TIMEOUT }, async () => {
    const ruleset = dump(
      table("nat", [
        "-A POSTROUTING -j MASQUERADE",
      ]),
      table("filter", [
        "-A INPUT -m conntrack --ctstate SNAT -j DROP",
      ]),
    );
    const own = (addresses: string[]) => addresses.map((src): LabFlow => ({ from: "node", proto: "udp", src, dst: src, dport: 53, packets: 1 }));
    await agreement(ruleset, traceTopology("ipv4"), own(["192.168.1.2", "10.244.0.1", "127.0.0.1"]));
    await agreement(ruleset, traceTopology("ipv6"), [...own(["2001:db8:0:1::10", "::1"]), { from: "node", proto: "udp", src: "fd00:10:244:1::1", dst: "2001:db8:0:1::10", dport: 53, packets: 1 }]);
  });

  for (const family of ["ipv4", "ipv6"] as const) {
    it(`forwarding takes one off the ${family === "ipv4" ? "TTL" : "hop limit"} before FORWARD, and refuses a packet with one left (${family})`, { timeout: LAB_TIMEOUT }, async () => {
      const [match, target] = family === "ipv4" ? ["-m ttl --ttl-eq", "-j TTL --ttl-set"] : ["-m hl --hl-eq", "-j HL --hl-set"];
      const topology = traceTopology(family);
      const [client, pod, one, two] = family === "ipv4" ? ["192.168.1.100", "10.244.0.5", "10.244.0.8", "10.244.0.9"] : ["2001:db8:0:1::5", "fd00:10:244:1::5", "fd00:10:244:1::8", "fd00:10:244:1::9"];
      const host = family === "ipv4" ? 32 : 128;
      const ruleset = dump(
        table("mangle", [
          `-A PREROUTING -s ${one}/${host} ${target} 1`,
          `-A PREROUTING -s ${two}/${host} ${target} 2`,
          `-A FORWARD ${match} 64 -j DROP`,
          `-A POSTROUTING ${match} 1 -j DROP`,
          `-A INPUT ${match} 64 -j MARK --set-xmark 0x64/0xffffffff`,
        ]),
      );
      await agreement(ruleset, topology, [
        ...[pod, one, two].map((src): LabFlow => ({ from: "pod", proto: "udp", src, dst: client, dport: 53, packets: 1 })),
        { from: "pod", proto: "udp", src: pod, dst: topology.external.nodeAddresses[0]!.split("/")[0]!, dport: 53, packets: 1 },
      ]);
    });
  }

  // iptables-nft 1.8.8 to 1.8.10 compare the two ports as one word: the rule matches unless both are equal.
  for (const backend of ["nft", "legacy"] as const) {
    it(`'! --sport A ! --dport B' with one port equal, loaded by iptables-${backend} and saved with its header`, { timeout: LAB_TIMEOUT }, async () => {
      const rules = dump(
        table("mangle", [
          "-A POSTROUTING -p tcp -m tcp ! --sport 53 ! --dport 443 -j MARK --set-xmark 0x1/0xffffffff",
          "-A POSTROUTING -p udp -m udp ! --sport 53 ! --dport 443 -j DROP",
        ]),
      );
      const saved = kernelRoundTrip(rules, { backend });
      expect(saved.ok).toBe(true);
      if (!saved.ok) return;
      expect(saved.saved).toMatch(/^# Generated by /);
      const topology = traceTopology("ipv4");
      const flows: LabFlow[] = [
        { from: "node", proto: "tcp", src: "192.168.1.2", dst: "192.168.1.2", dport: 443, packets: 2 },
        { from: "node", proto: "udp", src: "192.168.1.2", dst: "10.244.0.5", dport: 443, packets: 2 },
        { from: "pod", proto: "udp", src: "10.244.0.5", dst: "192.168.1.100", dport: 443, packets: 2 },
      ];
      await agreement(saved.saved, topology, flows, undefined, backend);
      // Without the header the tracer asks, and one of its answers is the kernel's.
      await agreement(rules, topology, flows, undefined, backend);
    });
  }
});

// Calico (IPIP, CrossSubnet) beside kube-proxy: each pod sits behind its own cali* veth, other nodes' blocks
// are reached over tunl0 or straight over eth0, and policy reads ipsets. The lab has two sending links besides
// eth0, so the kube-system pods (dns) send from cali17c36e10e71 and the default pod (web) from cali4cb69fbbe33;
// the lab only routes a prefix to a link holding an address in it, hence the node's 192.168.88.128 on tunl0.
const calicoTopology: LabTopology = {
  family: "ipv4",
  external: { ifname: "eth0", nodeAddresses: ["10.10.0.11/24"], clientAddresses: ["10.10.0.50", "10.10.0.60", "203.0.113.40"] },
  pods: { ifname: "cali17c36e10e71", gateway: "192.168.52.64/26", localPodAddresses: ["192.168.52.67", "192.168.52.70"] },
  remote: { ifname: "cali4cb69fbbe33", routes: ["192.168.52.66/32"], addresses: ["192.168.52.66"] },
  extraLinks: [{ ifname: "tunl0", nodeAddresses: ["192.168.88.128/26"] }],
  ipsets: [
    { name: "cali40all-hosts-net", type: "hash:net", members: ["10.10.0.0/24"] },
    { name: "cali40masq-ipam-pools", type: "hash:net", members: ["192.168.0.0/16"] },
    { name: "cali40all-ipam-pools", type: "hash:net", members: ["192.168.0.0/16"] },
    // The frontends that policy allow-frontend lets reach the web pod on 8080.
    { name: "cali40s:78GPaYBKvm_WMAJs_Ggxqv", type: "hash:net", members: ["192.168.52.70", "10.10.0.60/32"] },
  ],
};

ndescribe("tracer agrees with the kernel on Calico", () => {
  it("samples/calico-kube-proxy.txt: workload dispatch, profiles, ipset policy, nat-outgoing, IPIP masquerade", { timeout: LAB_TIMEOUT }, async () => {
    await agreement(sample("calico-kube-proxy"), calicoTopology, [
      // web ClusterIP from a pod the policy does not allow (local endpoint dropped, remote one forwarded) and one it does.
      { from: "pod", proto: "tcp", src: "192.168.52.67", dst: "10.101.33.7", dport: 80, packets: 24 },
      { from: "pod", proto: "tcp", src: "192.168.52.70", dst: "10.101.33.7", dport: 80, packets: 24 },
      // dns: one endpoint is the sender itself (hairpin out of its own cali link), the other across the subnet on eth0.
      { from: "pod", proto: "udp", src: "192.168.52.67", dst: "10.96.0.10", dport: 53, packets: 24 },
      { from: "remote", proto: "tcp", src: "192.168.52.66", dst: "10.96.0.10", dport: 9153, packets: 24 },
      // nat-outgoing: pool to the internet is masqueraded, pool to pool is not.
      { from: "remote", proto: "tcp", src: "192.168.52.66", dst: "198.51.100.20", dport: 443, packets: 2 },
      { from: "pod", proto: "udp", src: "192.168.52.70", dst: "192.168.88.130", dport: 8080, packets: 1 },
      // Workloads may not send VXLAN; an unknown workload interface is dropped.
      { from: "remote", proto: "udp", src: "192.168.52.66", dst: "192.168.17.3", dport: 4789, packets: 1 },
      // API server endpoint on the node itself: INPUT from a workload goes to cali-wl-to-host.
      { from: "pod", proto: "tcp", src: "192.168.52.67", dst: "10.96.0.1", dport: 443, packets: 1 },
      { from: "pod", proto: "tcp", src: "192.168.52.70", dst: "10.10.0.11", dport: 10250, packets: 1 },
      // NodePort from outside: masqueraded, and the web pod's policy admits only the frontend set.
      { from: "external", proto: "tcp", src: "10.10.0.50", dst: "10.10.0.11", dport: 31380, packets: 24 },
      { from: "external", proto: "tcp", src: "10.10.0.60", dst: "10.10.0.11", dport: 31380, packets: 24 },
      { from: "external", proto: "tcp", src: "203.0.113.40", dst: "10.10.0.11", dport: 22, packets: 1 },
      // Forwarded from outside straight to a pod: nothing marks it accepted, FORWARD's policy drops it.
      { from: "external", proto: "tcp", src: "10.10.0.50", dst: "192.168.52.67", dport: 53, packets: 1 },
      // From the node: ClusterIP (masqueraded out of the cali link or tunl0) and the host's own services.
      { from: "node", proto: "tcp", src: "10.10.0.11", dst: "10.101.33.7", dport: 80, packets: 12 },
      { from: "node", proto: "udp", src: "10.10.0.11", dst: "10.96.0.10", dport: 53, packets: 12 },
      { from: "node", proto: "tcp", src: "10.10.0.11", dst: "10.10.0.11", dport: 31380, packets: 12 },
      { from: "node", proto: "tcp", src: "10.10.0.11", dst: "192.168.88.130", dport: 8080, packets: 1 },
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

// Random rulesets over all four tables (test/support/tracegen.ts): a few seeds here, as many as wanted with
// `npm run sweep:kernel -- --seeds N --start S`, which also cuts a disagreement down to a minimal repro.
const RANDOM_SEEDS = [1, 2, 3, 4, 5, 6];

ndescribe("tracer agrees with the kernel on random rulesets", () => {
  for (const seed of RANDOM_SEEDS) {
    const testCase = generateTraceCase(seed);
    it(`seed ${seed} (${testCase.family}): chains, jumps, gotos, policies, marks, conntrack, NAT, NOTRACK, REJECT, random shares`, { timeout: LAB_TIMEOUT }, async () => {
      expect(testCase.flows.length).toBeGreaterThan(0);
      await agreement(testCase.ruleset, testCase.topology, testCase.flows, { repro: `npm run sweep:kernel -- --seeds 1 --start ${seed}` });
    });
  }
});
