// The services and traffic levels of `diff` on realistic pairs: kube-proxy clusters from the generator (whose
// ground truth says which service ports, frontends and endpoints each change touches, and where connections
// go), and the samples, checked against the service resolver of each snapshot.

import { describe, expect, it } from "vitest";
import {
  diffRulesets,
  formatRuleset,
  parseRuleset,
  resolveServices,
  type DiffOptions,
  type RulesDiff,
  type Ruleset,
  type ServicePortChange,
  type ServicesDiff,
  type TrafficChange,
  type TrafficDiff,
} from "../src/index.js";
import { insertRule, withoutComments } from "./support/dump-edits.js";
import { sampleFiles } from "./support/files.js";
import { generateCluster, groundTruth, RICH_FEATURE_MIX, renderDump, type Cluster, type FeatureMix, type TruthServicePort } from "./support/kubegen.js";

function parsed(text: string): Ruleset {
  const { ruleset, diagnostics } = parseRuleset(text);
  expect(diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  return ruleset;
}

interface Levels {
  rules: RulesDiff;
  services: ServicesDiff;
  traffic: TrafficDiff;
}

function allLevels(oldText: string, newText: string, options: DiffOptions = {}): Levels {
  const diff = diffRulesets(parsed(oldText), parsed(newText), options);
  const { rules, services, traffic } = diff.levels;
  if (rules?.status !== "compared" || services?.status !== "compared" || traffic?.status !== "compared") throw new Error("a level was not compared");
  expect(diff.differs).toBe(rules.differs || services.differs || traffic.differs);
  return { rules, services, traffic };
}

const nodeAddressOf = (levels: Levels) => levels.traffic.setup.nodeAddresses[0]!.address;

/** `destination port protocol` of each frontend, NodePorts at the node's address. */
function frontendTargets(ports: readonly TruthServicePort[], nodeAddress: string): string[] {
  return ports.flatMap((t) => t.frontends.map((f) => `${f.ip ?? nodeAddress} ${f.port} ${f.protocol}`));
}

const targetOf = (change: TrafficChange) => `${change.target.destination} ${change.target.port} ${change.target.protocol}`;
const changedTargets = (traffic: TrafficDiff) => [...new Set(traffic.changes.map(targetOf))].sort();
const translatedShares = (outcomes: TrafficChange["old"]) =>
  outcomes.filter((o) => o.translated && o.verdict === "ACCEPT").map((o) => [o.to, o.probability] as const).sort();
const truthShares = (endpoints: TruthServicePort["endpoints"]) => endpoints.map((e) => [e.address, 1 / endpoints.length] as const).sort();

function expectShares(actual: readonly (readonly [string, number])[], expected: readonly (readonly [string, number])[]): void {
  expect(actual.map(([address]) => address)).toEqual(expected.map(([address]) => address));
  actual.forEach(([, share], i) => expect(share).toBeCloseTo(expected[i]![1], 6));
}

function portsOf(truth: readonly TruthServicePort[], namespace: string, name: string): TruthServicePort[] {
  return truth.filter((t) => t.namespace === namespace && t.name === name);
}

const MIX: Partial<FeatureMix> = { nodePort: 0.4, loadBalancer: 0.2, externalIPs: 0.2, clientIPAffinity: 0.1, noEndpoints: 0.05, udp: 0.2, multiPort: 0.3 };

describe("an endpoint scaled out and in", () => {
  const cluster = generateCluster({ services: 80, seed: 4, mix: MIX, endpointsPerService: [2, 4] });
  const truth = groundTruth(cluster);
  const before = renderDump(cluster);
  // Cluster policies: every client of every frontend meets the endpoint that comes or goes.
  const index = cluster.services.findIndex(
    (s) => s.type !== "ClusterIP" && s.externalTrafficPolicy === "Cluster" && s.internalTrafficPolicy === "Cluster" && s.loadBalancerSourceRanges.length === 0 && s.externalIPs.length > 0,
  );
  const service = cluster.services[index]!;

  for (const direction of ["out", "in"] as const) {
    it(`scaled ${direction}: that service's ports change, endpoint by endpoint, and every client of its frontends sees the new shares`, () => {
      const scaled: Cluster = structuredClone(cluster);
      const pods = scaled.services[index]!.pods;
      if (direction === "out") pods.push({ ip: service.pods[0]!.ip.replace(/\d+$/, "250"), local: false });
      else pods.pop();
      const scaledTruth = groundTruth(scaled);
      const levels = allLevels(before, renderDump(scaled));

      const oldPorts = portsOf(truth, service.namespace, service.name);
      const newPorts = portsOf(scaledTruth, service.namespace, service.name);
      const { services } = levels;
      expect(services.servicePorts.map((d) => d.kind === "changed" && `${d.new.key}/${d.new.protocol}`)).toEqual(newPorts.map((t) => `${t.key}/${t.protocol}`).sort());
      for (const diff of services.servicePorts) {
        if (diff.kind !== "changed") throw new Error(diff.kind);
        const oldPort = oldPorts.find((t) => t.key === diff.new.key)!;
        const newPort = newPorts.find((t) => t.key === diff.new.key)!;
        const addresses = (t: TruthServicePort) => t.endpoints.map((e) => e.address);
        const of = (kind: ServicePortChange["kind"]) => diff.changes.filter((c) => c.kind === kind);
        expect(of("endpoint-added").map((c) => c.kind === "endpoint-added" && c.new.address)).toEqual(addresses(newPort).filter((a) => !addresses(oldPort).includes(a)));
        expect(of("endpoint-removed").map((c) => c.kind === "endpoint-removed" && c.old.address)).toEqual(addresses(oldPort).filter((a) => !addresses(newPort).includes(a)));
        const shares = of("shares");
        expect(shares).toHaveLength(1);
        if (shares[0]!.kind !== "shares") throw new Error("shares");
        expect(shares[0]!.frontends).toHaveLength(newPort.frontends.length);
        expectShares(shares[0]!.new.endpoints.map((e) => [e.address, e.probability] as const).sort(), truthShares(newPort.endpoints));
        expect(diff.changes.filter((c) => !["endpoint-added", "endpoint-removed", "shares"].includes(c.kind))).toEqual([]);
      }
      expect(services.summary).toEqual(
        expect.objectContaining({ servicePortsChanged: newPorts.length, servicePortsAdded: 0, servicePortsRemoved: 0, [direction === "out" ? "endpointsAdded" : "endpointsRemoved"]: newPorts.length }),
      );

      const { traffic } = levels;
      expect(changedTargets(traffic)).toEqual(frontendTargets(newPorts, nodeAddressOf(levels)).sort());
      for (const target of changedTargets(traffic)) {
        const changes = traffic.changes.filter((c) => targetOf(c) === target);
        expect(changes.map((c) => c.origin)).toEqual(["pod", "node", "external"]);
        const newPort = newPorts.find((t) => frontendTargets([t], nodeAddressOf(levels)).includes(target))!;
        for (const change of changes) {
          expect(change.target.presence).toBe("both");
          expectShares(translatedShares(change.new), truthShares(newPort.endpoints));
        }
      }
      expect(traffic.summary.targetsTraced).toBe(frontendTargets(newPorts, nodeAddressOf(levels)).length);
    });
  }
});

describe("a service added and removed", () => {
  const cluster = generateCluster({ services: 60, seed: 6, mix: MIX, endpointsPerService: [1, 3] });
  const index = cluster.services.findIndex((s) => s.type === "NodePort" && s.pods.length > 0 && s.ports.length > 1);
  const service = cluster.services[index]!;
  const ports = portsOf(groundTruth(cluster), service.namespace, service.name);
  const withService = renderDump(cluster);
  const withoutService = renderDump({ ...cluster, services: cluster.services.filter((_, i) => i !== index) });

  for (const [name, oldText, newText, kind] of [
    ["removed", withService, withoutService, "removed"],
    ["added", withoutService, withService, "added"],
  ] as const) {
    it(`${name}: its ports at the services level, its frontends served ${name === "added" ? "from now on" : "no longer"} at the traffic level`, () => {
      const levels = allLevels(oldText, newText);
      const { services, traffic } = levels;
      expect(services.servicePorts.map((d) => d.kind)).toEqual(ports.map(() => kind));
      for (const diff of services.servicePorts) {
        if (diff.kind === "changed") throw new Error("changed");
        const ref = diff.kind === "added" ? diff.new : diff.old;
        const port = ports.find((t) => t.key === ref.key && t.protocol === ref.protocol)!;
        expect(diff.endpoints.map((e) => e.address).sort()).toEqual(port.endpoints.map((e) => e.address).sort());
        expect(diff.frontends.map((f) => `${f.kind} ${f.address ?? ""} ${f.port}`).sort()).toEqual(port.frontends.map((f) => `${f.kind} ${f.ip ?? ""} ${f.port}`).sort());
      }
      expect(services.summary[name === "added" ? "servicesAdded" : "servicesRemoved"]).toBe(1);

      expect(changedTargets(traffic)).toEqual(frontendTargets(ports, nodeAddressOf(levels)).sort());
      for (const change of traffic.changes) {
        expect(change.target.presence).toBe(name === "added" ? "new-only" : "old-only");
        const served = name === "added" ? change.new : change.old;
        const unserved = name === "added" ? change.old : change.new;
        const port = ports.find((t) => frontendTargets([t], nodeAddressOf(levels)).includes(targetOf(change)))!;
        expectShares(translatedShares(served), truthShares(port.endpoints));
        expect(unserved.some((o) => o.translated)).toBe(false);
      }
    });
  }
});

describe("a service port's own settings", () => {
  const mix = { ...MIX, externalTrafficPolicyLocal: 0, clientIPAffinity: 0, multiPort: 0, localEndpoint: 0.5 };
  const cluster = generateCluster({ services: 40, seed: 21, mix, endpointsPerService: [2, 3] });
  const index = cluster.services.findIndex((s) => s.type === "NodePort" && s.pods.some((p) => p.local) && s.externalIPs.length === 0);
  const before = renderDump(cluster);
  const changed = (edit: (service: Cluster["services"][number]) => void) => {
    const after = structuredClone(cluster);
    edit(after.services[index]!);
    const levels = allLevels(before, renderDump(after));
    expect(levels.services.servicePorts).toHaveLength(1);
    const [diff] = levels.services.servicePorts;
    if (diff!.kind !== "changed") throw new Error(diff!.kind);
    return { changes: diff!.changes, levels, truth: portsOf(groundTruth(after), after.services[index]!.namespace, after.services[index]!.name)[0]! };
  };

  it("no endpoints left: 'has no endpoints' appears, and every client is refused", () => {
    const { changes, levels, truth } = changed((s) => (s.pods = []));
    expect(changes.filter((c) => c.kind === "state")).toEqual([{ kind: "state", old: "ok", new: "no-endpoints" }]);
    expect(changes.filter((c) => c.kind === "endpoint-removed")).toHaveLength(cluster.services[index]!.pods.length);
    expect(changedTargets(levels.traffic)).toEqual(frontendTargets([truth], nodeAddressOf(levels)).sort());
    for (const change of levels.traffic.changes) expect(change.new.map((o) => o.verdict)).toEqual(["REJECT"]);
  });

  it("externalTrafficPolicy Cluster → Local: the policy, and clients off the cluster sent to local endpoints only", () => {
    const { changes, truth } = changed((s) => {
      s.externalTrafficPolicy = "Local";
      s.healthCheckNodePort = 32000;
    });
    expect(changes.filter((c) => c.kind === "traffic-policy")).toEqual([{ kind: "traffic-policy", policy: "external", old: "Cluster", new: "Local" }]);
    const nodePort = truth.frontends.find((f) => f.kind === "nodePort")!;
    const shares = changes.find((c) => c.kind === "shares" && c.client === "off-cluster" && c.frontends.includes(`:${nodePort.port}/${nodePort.protocol}`));
    expect(shares?.kind === "shares" && shares.new.endpoints.map((e) => [e.address, e.probability] as const).sort()).toEqual(truthShares(nodePort.endpoints));
  });

  it("session affinity set", () => {
    const { changes } = changed((s) => (s.sessionAffinityTimeoutSeconds = 10800));
    expect(changes.filter((c) => c.kind === "affinity").map((c) => c.kind === "affinity" && [c.old, c.new?.seconds])).toEqual([[undefined, 10800]]);
  });
});

describe("kube-proxy's old and new rule layouts of one cluster", () => {
  // Behaviours the two generations really do differ in are left out: internalTrafficPolicy (the old one
  // predates it), external IPs and pods outside source ranges (old kube-proxy lets them through), and
  // services without (local) endpoints (their REJECT and DROP rules differ).
  const mix: Partial<FeatureMix> = {
    ...RICH_FEATURE_MIX, internalTrafficPolicyLocal: 0, externalIPs: 0, noLocalEndpoints: 0, noEndpoints: 0, loadBalancerSourceRanges: 0,
  };
  for (const family of ["ipv4", "ipv6"] as const) {
    it(`${family}: the rules differ, the services and the traffic do not`, () => {
      const cluster = generateCluster({ services: 50, seed: 31, mix, family, endpointsPerService: [1, 5] });
      const old = renderDump({ ...cluster, generation: "old" });
      const current = renderDump({ ...cluster, generation: "new" }, { order: "restore" });
      const levels = allLevels(old, current);
      expect(levels.rules.differs).toBe(true);
      expect(levels.rules.summary.chainsAdded + levels.rules.summary.chainsRemoved).toBeGreaterThan(10);
      expect(levels.services.servicePorts).toEqual([]);
      expect(levels.services.summary.oldServicePorts).toBe(groundTruth(cluster).length);
      expect(levels.traffic.changes).toEqual([]);
      // Not vacuous: every chain changed, so every frontend was traced in both layouts.
      expect(levels.traffic.summary.targetsTraced).toBe(levels.traffic.summary.targets);
      expect(levels.traffic.summary.targets).toBeGreaterThanOrEqual(frontendTargets(groundTruth(cluster), nodeAddressOf(levels)).length);
    });
  }
});

describe("a NodePort closed by a new DROP rule in a custom chain", () => {
  const cluster = generateCluster({ services: 40, seed: 12, mix: MIX, endpointsPerService: [1, 3] });
  const truth = groundTruth(cluster);
  const port = truth.find((t) => t.externalTrafficPolicy === "Cluster" && t.endpoints.length > 0 && t.frontends.some((f) => f.kind === "nodePort"))!;
  const nodePort = port.frontends.find((f) => f.kind === "nodePort")!;
  const before = renderDump(cluster);
  const ways = [
    {
      name: "raw PREROUTING, before any translation",
      edit: (text: string) =>
        insertRule(insertRule(text, "raw", "-A PREROUTING -j NODE-FIREWALL", "top", "NODE-FIREWALL"), "raw", `-A NODE-FIREWALL -p ${nodePort.protocol} -m ${nodePort.protocol} --dport ${nodePort.port} -j DROP`, "end"),
      chain: "raw NODE-FIREWALL",
    },
    {
      name: "filter FORWARD, by the connection's original port",
      edit: (text: string) =>
        insertRule(insertRule(text, "filter", "-A FORWARD -j NODE-FIREWALL", "top", "NODE-FIREWALL"), "filter", `-A NODE-FIREWALL -p ${nodePort.protocol} -m conntrack --ctorigdstport ${nodePort.port} -j DROP`, "end"),
      chain: "filter NODE-FIREWALL",
    },
  ];
  for (const way of ways) {
    it(`${way.name}: the traffic level shows pods and outside clients dropped; the node's own connections go on`, () => {
      const levels = allLevels(before, way.edit(before));
      expect(levels.rules.tables.flatMap((t) => t.chains.filter((c) => c.kind === "added").map((c) => `${t.table} ${c.chain}`))).toEqual([way.chain]);

      const target = `${nodeAddressOf(levels)} ${nodePort.port} ${nodePort.protocol}`;
      expect(changedTargets(levels.traffic)).toEqual([target]);
      const changes = levels.traffic.changes;
      expect(changes.map((c) => c.origin)).toEqual(["pod", "external"]);
      for (const change of changes) {
        expectShares(translatedShares(change.old), truthShares(port.endpoints));
        expect(change.new.every((o) => o.verdict === "DROP")).toBe(true);
        expect(change.new.reduce((sum, o) => sum + o.probability, 0)).toBeCloseTo(1, 9);
        expect(change.target.services).toEqual([port.key]);
        expect(change.target.nodePort).toBe(true);
      }
      // The services level traces the same NodePort for a client off the cluster, and says so too.
      const [diff] = levels.services.servicePorts;
      expect(levels.services.servicePorts).toHaveLength(1);
      expect(diff!.kind === "changed" && diff!.changes.map((c) => c.kind === "shares" && [c.client, c.frontends, c.new.endpoints.every((e) => e.blocked === "DROP") || c.new.verdict])).toEqual([
        ["off-cluster", [`:${nodePort.port}/${nodePort.protocol}`], expect.anything()],
      ]);
    });
  }
});

describe("noise is no difference at any level", () => {
  const cluster = generateCluster({ services: 150, seed: 5, mix: MIX });
  const expectNone = (levels: Levels) => {
    expect([levels.rules.differs, levels.services.differs, levels.traffic.differs]).toEqual([false, false, false]);
    expect(levels.traffic.summary.targetsTraced).toBe(0);
    expect(levels.traffic.summary.targets).toBeGreaterThan(150);
  };

  it("counters only", () => {
    const before = renderDump(cluster, { counters: true });
    const after = renderDump({ ...cluster, seed: 99 }, { counters: true });
    expect(before).not.toBe(after);
    expectNone(allLevels(before, after));
  });

  it("the backend that saved it (legacy against nft), and restore order against saved order", () => {
    expectNone(allLevels(renderDump(cluster, { backend: "nft" }), renderDump(cluster, { backend: "legacy" })));
    expectNone(allLevels(renderDump(cluster, { order: "restore" }), renderDump(cluster)));
  });

  for (const sample of sampleFiles()) {
    it(`${sample.name}: as saved, and printed back by the other backend`, () => {
      const ruleset = parsed(sample.text);
      const levels = allLevels(sample.text, formatRuleset(ruleset, { backend: "legacy" }));
      expect([levels.rules.differs, levels.services.differs, levels.traffic.differs]).toEqual([false, false, false]);
    });
  }
});

describe("rules without comments", () => {
  const cluster = generateCluster({ services: 60, seed: 14, mix: MIX, endpointsPerService: [2, 3] });
  const before = renderDump(cluster);

  it("service ports are paired by frontend, and say so; nothing else differs", () => {
    const levels = allLevels(before, withoutComments(before));
    expect(levels.rules.differs).toBe(true);
    expect(levels.services.servicePorts).toEqual([]);
    expect(levels.services.summary.matchedByFrontend).toBe(groundTruth(cluster).length);
    expect(levels.services.notes.map((n) => n.kind)).toContain("matched-by-frontend");
    expect(levels.traffic.changes).toEqual([]);
  });

  it("a scaled service is found on both sides without names", () => {
    const scaled = structuredClone(cluster);
    const index = scaled.services.findIndex((s) => s.pods.length >= 2 && s.externalTrafficPolicy === "Cluster");
    scaled.services[index]!.pods.pop();
    const levels = allLevels(withoutComments(before), withoutComments(renderDump(scaled)));
    const ports = portsOf(groundTruth(scaled), scaled.services[index]!.namespace, scaled.services[index]!.name);
    expect(levels.services.servicePorts).toHaveLength(ports.length);
    for (const diff of levels.services.servicePorts) {
      expect(diff.kind === "changed" && [diff.matchedBy, diff.new.key.startsWith("KUBE-"), diff.changes.filter((c) => c.kind === "endpoint-removed").length]).toEqual(["frontend", true, 1]);
    }
    expect(changedTargets(levels.traffic)).toEqual(frontendTargets(ports, nodeAddressOf(levels)).sort());
  });
});

describe("samples", () => {
  const sample = (name: string) => sampleFiles().find((s) => s.name === name)!.text;

  it("kubeadm/flannel: kube-dns scaled in to one pod, as the service resolver of each snapshot has it", () => {
    const before = sample("kubeadm-flannel");
    // kube-proxy drops the endpoint's chain and the jump to it.
    const after = before.split("\n").filter((line) => !line.includes("KUBE-SEP-SISP6ORRA37L3ZYK")).join("\n");
    const levels = allLevels(before, after);
    const resolved = (text: string) => resolveServices(parsed(text), { nodeAddresses: levels.traffic.setup.nodeAddresses }).services.find((s) => s.name.key === "kube-system/kube-dns:dns")!;
    const [oldDns, newDns] = [resolved(before), resolved(after)];
    const removed = oldDns.endpoints.filter((e) => !newDns.endpoints.some((n) => n.address === e.address)).map((e) => e.address);
    expect(removed).toHaveLength(1);

    expect(levels.services.servicePorts).toHaveLength(1);
    const [diff] = levels.services.servicePorts;
    expect(diff!.kind === "changed" && diff!.changes.filter((c) => c.kind === "endpoint-removed").map((c) => c.kind === "endpoint-removed" && c.old.address)).toEqual(removed);

    const clusterIp = oldDns.frontends[0]!;
    expect(changedTargets(levels.traffic)).toEqual([`${clusterIp.address} ${clusterIp.port} udp`]);
    const fromPod = levels.traffic.changes.find((c) => c.origin === "pod")!;
    const shares = (service: typeof oldDns) => service.frontends[0]!.resolutions[0]!.endpoints.map((e) => [e.address, e.probability] as const).sort();
    expectShares(translatedShares(fromPod.old), shares(oldDns));
    expectShares(translatedShares(fromPod.new), shares(newDns));
  });

  it("kubeadm/flannel behind a firewall: a port no longer ACCEPTed on INPUT is a traffic change", () => {
    const firewalled = insertRule(
      insertRule(
        insertRule(sample("kubeadm-flannel").replace(/(\*filter\n:INPUT) ACCEPT/, "$1 DROP"), "filter", "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT", "top"),
        "filter",
        "-A INPUT -j NODE-SERVICES",
        "end",
        "NODE-SERVICES",
      ),
      "filter",
      "-A NODE-SERVICES -p tcp -m multiport --dports 80,443 -j ACCEPT",
      "end",
    );
    expect(firewalled).toMatch(/\*filter\n:INPUT DROP/);
    const closed = firewalled.replace("--dports 80,443", "--dports 80");
    const levels = allLevels(firewalled, closed);
    expect(levels.services.differs).toBe(false);
    const node = nodeAddressOf(levels);
    expect(changedTargets(levels.traffic)).toEqual([`${node} 443 tcp`]);
    for (const change of levels.traffic.changes) {
      expect(change.target.published).toEqual(expect.objectContaining({ side: "old", table: "filter", chain: "NODE-SERVICES" }));
      expect(change.target.presence).toBe("old-only");
      expect(change.old.map((o) => [o.verdict, o.delivery])).toEqual([["ACCEPT", "local"]]);
      expect(change.new.map((o) => o.verdict)).toEqual(["DROP"]);
    }
    expect(levels.traffic.changes.map((c) => c.origin)).toContain("external");
  });

  it("docker: a published port taken away is a traffic change, and no service change", () => {
    const before = sample("docker");
    const line = before.split("\n").find((l) => l.includes("--dport 8080 -j DNAT"))!;
    const levels = allLevels(before, before.replace(`${line}\n`, ""));
    expect(levels.services.differs).toBe(false);
    expect(levels.services.notes.map((n) => n.kind)).toEqual(["no-service-rules"]);
    const targets = changedTargets(levels.traffic);
    expect(targets).toEqual([`${nodeAddressOf(levels)} 8080 tcp`]);
    for (const change of levels.traffic.changes) {
      expect(change.target.presence).toBe("old-only");
      expect(change.target.published).toEqual(expect.objectContaining({ side: "old", table: "nat", chain: "DOCKER" }));
    }
    const fromOutside = levels.traffic.changes.find((c) => c.origin === "external")!;
    // The tracer does not know which interface the packet arrives on (`! -i docker0`): some outcomes are assumed.
    expect(new Set(fromOutside.old.filter((o) => o.translated).map((o) => o.to))).toEqual(new Set(["172.17.0.2:80"]));
    expect(fromOutside.new.some((o) => o.translated)).toBe(false);
  });
});
