// The services and traffic levels trace only what a change can reach (src/analysis/diff/reach.ts). That is an
// optimisation, so it must never change an answer: here every pair is compared twice, pruned and exhaustive
// (every target traced in both snapshots), and the answers must be identical. The edits aim at the analysis'
// weak spots: rules that test the translated destination (an endpoint, after DNAT), the original destination
// port after DNAT (conntrack), packet marks, chains reached from several hooks, DNAT chains, generic rules.

import { describe, expect, it } from "vitest";
import { diffRulesets, parseRuleset, type RulesetDiff, type ServicesDiff, type TrafficDiff } from "../src/index.js";
import { insertRule, randomLineEdits } from "./support/dump-edits.js";
import { generateCluster, groundTruth, mulberry32, renderDump, type Cluster } from "./support/kubegen.js";
import { generateRestoreInput } from "./support/rulegen.js";

const MIX = {
  nodePort: 0.3, loadBalancer: 0.2, loadBalancerSourceRanges: 0.5, externalIPs: 0.1, externalTrafficPolicyLocal: 0.3,
  internalTrafficPolicyLocal: 0.1, clientIPAffinity: 0.1, noEndpoints: 0.1, udp: 0.2,
};

function levels(diff: RulesetDiff): { services: ServicesDiff; traffic: TrafficDiff } {
  const { services, traffic } = diff.levels;
  if (services?.status !== "compared" || traffic?.status !== "compared") throw new Error("services and traffic must be compared");
  return { services, traffic };
}

function compareBothWays(oldText: string, newText: string, family: "ipv4" | "ipv6"): { pruned: ReturnType<typeof levels>; exhaustive: ReturnType<typeof levels> } {
  const oldRuleset = parseRuleset(oldText, { family }).ruleset;
  const newRuleset = parseRuleset(newText, { family }).ruleset;
  const pruned = levels(diffRulesets(oldRuleset, newRuleset, { levels: ["services", "traffic"] }));
  const exhaustive = levels(diffRulesets(oldRuleset, newRuleset, { levels: ["services", "traffic"], exhaustive: true }));
  expect(pruned.traffic.changes).toEqual(exhaustive.traffic.changes);
  expect(pruned.services.servicePorts).toEqual(exhaustive.services.servicePorts);
  expect(exhaustive.traffic.summary.targetsTraced).toBe(exhaustive.traffic.summary.targets);
  return { pruned, exhaustive };
}

/** Rules that exercise the reach analysis, aimed at what the cluster serves. */
function adversarialEdits(cluster: Cluster, seed: number): ((text: string) => string)[] {
  const random = mulberry32(seed);
  const truth = groundTruth(cluster).filter((t) => t.endpoints.length > 0);
  const pick = <T,>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const port = pick(truth);
  const endpoint = pick(port.endpoints);
  const other = pick(truth);
  const host = cluster.family === "ipv4" ? "/32" : "/128";
  const nodePort = truth.flatMap((t) => t.frontends.filter((f) => f.kind === "nodePort"))[0];
  const clusterIp = port.frontends[0]!.ip!;
  const bracket = (ip: string) => (cluster.family === "ipv4" ? ip : `[${ip}]`);
  const edits: ((text: string) => string)[] = [
    // The translated destination: only packets DNATed to this endpoint meet it.
    (t) => insertRule(t, "filter", `-A FORWARD -d ${endpoint.ip}${host} -p ${port.protocol} -j REJECT`, "top"),
    // A custom chain reached only by packets to one endpoint.
    (t) =>
      insertRule(
        insertRule(t, "filter", `-A FORWARD -d ${endpoint.ip}${host} -j GUARD`, "top", "GUARD"),
        "filter",
        `-A GUARD -p ${port.protocol} -m ${port.protocol} --dport ${endpoint.port} -j DROP`,
        "end",
      ),
    // A second DNAT in front of kube-proxy's: one service's cluster IP sent to another's.
    (t) =>
      insertRule(t, "nat", `-A PREROUTING -d ${clusterIp}${host} -p ${port.protocol} -m ${port.protocol} --dport ${port.frontends[0]!.port} -j DNAT --to-destination ${bracket(other.endpoints[0]!.ip)}:${other.endpoints[0]!.port}`, "top"),
    // The masquerade mark, set for everything.
    (t) => insertRule(t, "mangle", "-A PREROUTING -j MARK --set-xmark 0x4000/0x4000", "top"),
    // Nothing is masqueraded any more.
    (t) => insertRule(t, "nat", "-A POSTROUTING -j RETURN", "top"),
    // The policy of a built-in chain.
    (t) => t.replace(":FORWARD ACCEPT", ":FORWARD DROP"),
    // A goto into an empty chain: what matches it skips the rest of FORWARD (kube-proxy's REJECTs among them).
    (t) => insertRule(t, "filter", `-A FORWARD -p ${port.protocol} -g SHORTCUT`, "top", "SHORTCUT"),
  ];
  if (nodePort) {
    // After DNAT the destination port is the endpoint's; conntrack still knows the NodePort.
    edits.push((t) => insertRule(t, "filter", `-A FORWARD -p ${nodePort.protocol} -m conntrack --ctorigdstport ${nodePort.port} -j DROP`, "top"));
    edits.push((t) => insertRule(t, "raw", `-A PREROUTING -p ${nodePort.protocol} -m ${nodePort.protocol} --dport ${nodePort.port} -j DROP`, "top"));
  }
  return edits;
}

describe("pruned and exhaustive comparisons agree", () => {
  for (const [seed, generation, family] of [[1, "new", "ipv4"], [2, "old", "ipv4"], [3, "new", "ipv6"]] as const) {
    const cluster = generateCluster({ services: 30, seed, generation, family, mix: MIX, endpointsPerService: [0, 4] });
    const before = renderDump(cluster);
    const edits = adversarialEdits(cluster, seed);
    edits.forEach((edit, index) => {
      it(`${generation} generation ${family}, targeted edit ${index + 1}`, () => {
        const { pruned } = compareBothWays(before, edit(before), family);
        expect(pruned.traffic.changes.length).toBeGreaterThan(0);
      });
    });
    for (const editSeed of [11, 12, 13]) {
      it(`${generation} generation ${family}, random line edits (seed ${editSeed})`, () => {
        compareBothWays(before, randomLineEdits(before, editSeed * seed, 4), family);
      });
    }
  }

  for (const seed of [1, 2, 3, 4]) {
    it(`random ruleset of every modelled module with random edits (seed ${seed})`, () => {
      const family = seed % 2 === 0 ? 6 : 4;
      const text = generateRestoreInput(seed, family, 80);
      compareBothWays(text, randomLineEdits(text, seed, 6), family === 4 ? "ipv4" : "ipv6");
    });
  }
});

describe("what a change can reach", () => {
  const cluster = generateCluster({ services: 200, seed: 7, mix: MIX, endpointsPerService: [1, 4] });
  const before = renderDump(cluster);

  it("scaling one service traces its frontends only", () => {
    const after = structuredClone(cluster);
    const index = after.services.findIndex((s) => s.pods.length >= 2 && s.type === "ClusterIP" && s.externalIPs.length === 0);
    after.services[index]!.pods.pop();
    const { pruned, exhaustive } = compareBothWays(before, renderDump(after), "ipv4");
    const frontends = groundTruth(after).filter((t) => t.namespace === after.services[index]!.namespace && t.name === after.services[index]!.name).flatMap((t) => t.frontends);
    expect(pruned.traffic.summary.targetsTraced).toBe(frontends.length);
    expect(exhaustive.traffic.summary.targets).toBeGreaterThan(200);
  });

  it("a new chain called from a built-in chain: only what its rules can match is traced", () => {
    const nodePort = groundTruth(cluster).flatMap((t) => t.frontends).find((f) => f.kind === "nodePort")!;
    const firewall = insertRule(before, "raw", "-A PREROUTING -j NODE-FIREWALL", "top", "NODE-FIREWALL");
    const after = insertRule(firewall, "raw", `-A NODE-FIREWALL -p ${nodePort.protocol} -m ${nodePort.protocol} --dport ${nodePort.port} -j DROP`, "end");
    const { pruned } = compareBothWays(before, after, "ipv4");
    const samePort = groundTruth(cluster).flatMap((t) => t.frontends).filter((f) => f.port === nodePort.port && f.protocol === nodePort.protocol);
    expect(pruned.traffic.summary.targetsTraced).toBe(samePort.length);
    expect(pruned.traffic.changes.map((c) => c.origin)).toEqual(["pod", "external"]);
  });

  it("the same ruleset: nothing traced", () => {
    const { pruned } = compareBothWays(before, renderDump(cluster, { backend: "legacy", counters: true }), "ipv4");
    expect(pruned.traffic.summary.targetsTraced).toBe(0);
    expect(pruned.services.summary.sharesTraced).toBe(0);
  });
});
