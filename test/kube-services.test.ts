// The Service map of the bundled samples: the full expected tables for the kubeadm/flannel and
// modern samples, and for every sample the structural reading of KUBE-* chains checked against the
// tracer's answer (one source of truth: every endpoint share reported is one the tracer computed).

import { describe, expect, it } from "vitest";
import { parseRuleset } from "../src/index.js";
import { resolveServices, type ServiceMap } from "../src/analysis/kube/index.js";
import { defaultContext } from "../src/analysis/trace/context.js";
import { createTracer } from "../src/analysis/trace/walk.js";
import { frontendDestination, protocolNumber } from "../src/analysis/kube/resolve.js";
import { ClientPicker } from "../src/analysis/kube/clients.js";
import { frontendLabel, renderServicesText, resolutionText } from "../src/render/services-text.js";
import { answerWhere, parseWhereTarget, type WhereTarget } from "../src/analysis/kube/where.js";
import { readServiceMap } from "../src/analysis/kube/structure.js";
import type { TraceContext } from "../src/analysis/trace/types.js";
import { sampleFiles } from "./support/files.js";

const samples = new Map(sampleFiles().map((s) => [s.name, s]));

function mapOf(name: string): ServiceMap {
  const { ruleset, diagnostics } = parseRuleset(samples.get(name)!.text);
  expect(diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  return resolveServices(ruleset);
}

/** One line per frontend and client class, in the words of the services table. */
function table(map: ServiceMap): string[] {
  return map.services.flatMap((s) =>
    s.frontends.flatMap((f) =>
      f.resolutions.map((r) => {
        const masqueraded = r.endpoints.length > 0 && r.endpoints.every((e) => e.masquerade) ? " (masqueraded)" : "";
        return `${s.name.key} ${f.kind} ${frontendLabel(f, map.family)} from ${r.client} → ${resolutionText(s, r)}${masqueraded}`;
      }),
    ),
  );
}

describe("services on the kubeadm/flannel sample (old rule layout)", () => {
  const map = mapOf("kubeadm-flannel");

  it("lists every service port with its endpoints and shares", () => {
    expect(table(map)).toEqual([
      "default/echo clusterIP 10.106.212.82:80/tcp from off-cluster → 10.244.1.5:8080 50% · 10.244.1.6:8080 50% (masqueraded)",
      "default/kubernetes:https clusterIP 10.96.0.1:443/tcp from off-cluster → 192.168.1.2:6443 100% (masqueraded)",
      "ingress-nginx/ingress-nginx:http clusterIP 10.97.42.166:80/tcp from off-cluster → 10.244.2.7:80 100% (masqueraded)",
      "ingress-nginx/ingress-nginx:http nodePort :30071/tcp from off-cluster → 10.244.2.7:80 100% (masqueraded)",
      "ingress-nginx/ingress-nginx:https clusterIP 10.97.42.166:443/tcp from off-cluster → 10.244.2.7:443 100% (masqueraded)",
      "ingress-nginx/ingress-nginx:https nodePort :31001/tcp from off-cluster → 10.244.2.7:443 100% (masqueraded)",
      "kube-system/kube-dns:dns clusterIP 10.96.0.10:53/udp from off-cluster → 10.244.0.8:53 50% · 10.244.0.9:53 50% (masqueraded)",
      "kube-system/kube-dns:dns-tcp clusterIP 10.96.0.10:53/tcp from off-cluster → 10.244.0.8:53 50% · 10.244.0.9:53 50% (masqueraded)",
      "kube-system/kube-dns:metrics clusterIP 10.96.0.10:9153/tcp from off-cluster → 10.244.0.8:9153 50% · 10.244.0.9:9153 50% (masqueraded)",
      "kubernetes-dashboard/dashboard-metrics-scraper clusterIP 10.99.170.149:8000/tcp from off-cluster → 10.244.2.3:8000 100% (masqueraded)",
      "kubernetes-dashboard/kubernetes-dashboard clusterIP 10.106.164.67:443/tcp from off-cluster → 10.244.2.4:8443 100% (masqueraded)",
    ]);
  });

  it("reads the layout, the cluster CIDR and the masquerade rules", () => {
    expect(map.generation).toBe("old");
    expect(map.clusterCidrs).toEqual(["10.244.0.0/16"]);
    expect(map.masqueradeMark).toBe(0x4000);
    const dns = map.services.find((s) => s.name.key === "kube-system/kube-dns:dns")!;
    expect(dns).toMatchObject({ protocol: "udp", type: "ClusterIP", state: "ok", name: { namespace: "kube-system", name: "kube-dns", portName: "dns", from: "comment" } });
    expect(dns.frontends[0]!.masquerade).toEqual({ kind: "off-cluster", clusterCidr: "10.244.0.0/16", line: 148 });
    expect(dns.endpoints.map((e) => [e.address, e.chain, e.line])).toEqual([
      ["10.244.0.8:53", "KUBE-SEP-SISP6ORRA37L3ZYK", 127],
      ["10.244.0.9:53", "KUBE-SEP-LBMQNJ35ID4UIQ2A", 121],
    ]);
    // The kernel stores --probability 0.5 exactly; each endpoint gets half.
    expect(dns.frontends[0]!.resolutions[0]!.endpoints.map((e) => e.probability)).toEqual([0.5, 0.5]);
    const http = map.services.find((s) => s.name.key === "ingress-nginx/ingress-nginx:http")!;
    expect(http.type).toBe("NodePort");
    expect(http.frontends[1]).toMatchObject({ kind: "nodePort", port: 30071, localhost: true, masquerade: { kind: "all", line: 109 } });
  });

  it("says which node address NodePorts were traced to", () => {
    expect(map.nodeAddresses.map((a) => a.address)).toEqual(["192.168.1.2"]);
    expect(map.notes.map((n) => n.kind)).toEqual(["node-address-inferred"]);
  });
});

describe("services on the modern sample (new rule layout)", () => {
  const map = mapOf("kube-proxy-modern");

  it("lists every service port with its endpoints, shares and Local policies", () => {
    expect(table(map)).toEqual([
      "auth/session:http clusterIP 10.97.200.5:80/tcp from off-cluster → 100.64.1.60:8080 50% · 100.64.2.61:8080 50% (masqueraded)",
      "batch/reports:http clusterIP 10.99.1.1:8080/tcp from off-cluster → REJECT (no endpoints)",
      "default/kubernetes:https clusterIP 10.96.0.1:443/tcp from off-cluster → 10.0.1.10:6443 100% (masqueraded)",
      "ingress/edge:https clusterIP 10.101.9.33:443/tcp from off-cluster → 100.64.2.30:8443 50% · 100.64.3.31:8443 50% (masqueraded)",
      "ingress/edge:https loadBalancerIP 203.0.113.50:443/tcp from off-cluster → 100.64.2.30:8443 50% · 100.64.3.31:8443 50% (masqueraded)",
      "ingress/edge:https nodePort :31443/tcp from off-cluster → 100.64.2.30:8443 50% · 100.64.3.31:8443 50% (masqueraded)",
      "ingress/public-gw:http clusterIP 10.109.77.4:80/tcp from off-cluster → 100.64.1.40:8080 50% (local) · 100.64.2.41:8080 50% (masqueraded)",
      "ingress/public-gw:http loadBalancerIP 203.0.113.60:80/tcp from off-cluster → 100.64.1.40:8080 100% (local)",
      "ingress/public-gw:http loadBalancerIP 203.0.113.60:80/tcp from pod → 100.64.1.40:8080 50% (local) · 100.64.2.41:8080 50%",
      "ingress/public-gw:http nodePort :32080/tcp from off-cluster → 100.64.1.40:8080 100% (local)",
      "ingress/public-gw:http nodePort :32080/tcp from pod → 100.64.1.40:8080 50% (local) · 100.64.2.41:8080 50%",
      "ingress/remote-only:http clusterIP 10.98.3.14:80/tcp from off-cluster → 100.64.3.50:80 100% (masqueraded)",
      "ingress/remote-only:http loadBalancerIP 203.0.113.70:80/tcp from off-cluster → DROP (no local endpoints)",
      "ingress/remote-only:http loadBalancerIP 203.0.113.70:80/tcp from pod → 100.64.3.50:80 100%",
      "ingress/remote-only:http nodePort :30900/tcp from off-cluster → DROP (no local endpoints)",
      "ingress/remote-only:http nodePort :30900/tcp from pod → 100.64.3.50:80 100%",
      "kube-system/kube-dns:dns clusterIP 10.96.0.10:53/udp from off-cluster → 100.64.1.5:53 50% · 100.64.2.6:53 50% (masqueraded)",
      "kube-system/kube-dns:dns-tcp clusterIP 10.96.0.10:53/tcp from off-cluster → 100.64.1.5:53 50% · 100.64.2.6:53 50% (masqueraded)",
      "kube-system/kube-dns:metrics clusterIP 10.96.0.10:9153/tcp from off-cluster → 100.64.1.5:9153 50% · 100.64.2.6:9153 50% (masqueraded)",
      "monitoring/node-agent:metrics clusterIP 10.96.120.20:9100/tcp from off-cluster → 100.64.1.80:9100 100% (local) (masqueraded)",
      "shop/catalog:http clusterIP 10.96.45.12:8080/tcp from off-cluster → 100.64.1.21:8080 33.3% · 100.64.2.17:8080 33.3% · 100.64.3.9:8080 33.3% (masqueraded)",
      "shop/frontend:http clusterIP 10.104.12.7:80/tcp from off-cluster → 100.64.1.22:8080 50% · 100.64.3.10:8080 50% (masqueraded)",
      "shop/frontend:http nodePort :30080/tcp from off-cluster → 100.64.1.22:8080 50% · 100.64.3.10:8080 50% (masqueraded)",
      "web/static:http clusterIP 10.103.8.8:80/tcp from off-cluster → 100.64.3.70:80 100% (masqueraded)",
      "web/static:http externalIP 192.0.2.200:80/tcp from off-cluster → 100.64.3.70:80 100% (masqueraded)",
    ]);
  });

  it("reads policies, affinity, health checks and source ranges", () => {
    const port = (key: string) => map.services.find((s) => s.name.key === key)!;
    expect(map.generation).toBe("new");
    expect(map.clusterCidrs).toEqual(["100.64.0.0/16"]);
    expect(port("auth/session:http").affinity).toEqual({ seconds: 10800, line: 195 });
    expect(port("batch/reports:http")).toMatchObject({ state: "no-endpoints", endpoints: [], chains: {} });
    expect(port("ingress/public-gw:http")).toMatchObject({
      type: "LoadBalancer",
      externalTrafficPolicy: "Local",
      internalTrafficPolicy: "Cluster",
      healthCheckNodePort: { port: 31999, line: 42 },
    });
    expect(port("ingress/remote-only:http")).toMatchObject({ state: "no-local-endpoints", externalTrafficPolicy: "Local" });
    expect(port("monitoring/node-agent:metrics")).toMatchObject({ internalTrafficPolicy: "Local", chains: { svl: "KUBE-SVL-7ZRWR6KQIW2KY5TJ" } });
    const edge = port("ingress/edge:https").frontends.find((f) => f.kind === "loadBalancerIP")!;
    expect(edge.sourceRanges).toEqual(["198.51.100.0/24", "192.0.2.0/25"]);
    // Traced from inside the first range that does not hold the node.
    expect(edge.resolutions[0]!.source).toBe("198.51.100.1");
    const catalog = port("shop/catalog:http").frontends[0]!.resolutions[0]!.endpoints.map((e) => e.probability);
    // kube-proxy wrote 0.3333333333, the kernel keeps 0.33333333349: the first share is that, the others split the rest.
    expect(catalog[0]).toBeCloseTo(0.33333333349, 10);
    expect(catalog[1]).toBeCloseTo((1 - 0.33333333349) / 2, 10);
    expect(catalog.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  });

  it("renders an aligned table with the flags an operator needs", () => {
    const text = renderServicesText(map);
    const lines = text.split("\n");
    const header = lines[1]!;
    const column = header.indexOf("FRONTEND");
    for (const line of lines.slice(2).filter((l) => /\d+\/(tcp|udp)/.test(l))) expect(line.slice(column)).toMatch(/^ {0,2}(\S|from)/);
    expect(text).toContain("eTP=Local");
    expect(text).toContain("iTP=Local");
    expect(text).toContain("affinity 10800s");
    expect(text).toContain("ranges 198.51.100.0/24,192.0.2.0/25");
    expect(text).toContain("health :31999");
    expect(text).toContain("REJECT (no endpoints)");
    expect(text).toMatch(/^ +from pods /m);
    expect(text).toContain("'from pods': from a pod");
  });

  it("explains 'from …' rows under the table only when it has some", () => {
    const text = renderServicesText(mapOf("kubeadm-flannel"));
    expect(text).not.toMatch(/^ +from /m);
    expect(text.split("\n").find((l) => l.startsWith("shares:"))).toBe("shares: new connections from a client off the cluster (inside the source ranges, if any)");
  });
});

describe("every sample: the structural reading agrees with the tracer", () => {
  for (const sample of sampleFiles()) {
    it(sample.name, () => {
      const { ruleset } = parseRuleset(sample.text);
      const map = resolveServices(ruleset);
      const tracer = createTracer(ruleset);
      const podAddress = new ClientPicker(map).pod();
      let podChecks = 0;
      const kubeComments = new Set(
        [...sample.text.matchAll(/-A KUBE-SERVICES .*--comment "?([a-z0-9.-]+\/[a-z0-9.-]+(?::[a-z0-9-]+)?) (?:cluster IP|has no endpoints)/g)].map((m) => m[1]),
      );
      // Every service port with a cluster IP rule (nat or filter) is in the map, and nothing else is.
      expect(new Set(map.services.filter((s) => s.frontends.some((f) => f.kind === "clusterIP")).map((s) => s.name.key))).toEqual(kubeComments);
      for (const service of map.services) {
        for (const frontend of service.frontends) {
          const resolution = frontend.resolutions[0]!;
          const label = `${service.name.key} ${frontendLabel(frontend, map.family)}`;
          const all = resolution.endpoints.reduce((sum, e) => sum + e.probability, 0) + resolution.other.reduce((sum, o) => sum + o.probability, 0);
          expect(all, label).toBeCloseTo(1, 12);
          // Every endpoint the tracer reaches is one the KUBE-SEP chains of this service port name.
          const known = new Set(service.endpoints.map((e) => e.address));
          for (const share of resolution.endpoints) expect(known.has(share.address), `${label} → ${share.address}`).toBe(true);
          if (service.externalTrafficPolicy === "Cluster" && service.internalTrafficPolicy === "Cluster" && resolution.verdict === "dnat") {
            expect(new Set(resolution.endpoints.map((e) => e.address)), label).toEqual(known);
          }
          // A pod asking the same frontend reaches the same endpoints, with the same shares.
          if (frontend.kind === "clusterIP" && podAddress !== undefined && resolution.verdict === "dnat") {
            const pod = tracer.trace(
              { src: podAddress, dst: frontendDestination(map, frontend), protocol: protocolNumber(frontend.protocol), dport: frontend.port },
              defaultContext({ origin: "pod", nodeAddresses: map.nodeAddresses, assumeNoAffinity: true }),
            );
            // Shares among the DNATed connections: an uncertain drop before the nat table (calico's
            // rpfilter) may take its part of either client's connections.
            const shares = new Map<string, number>();
            for (const o of pod.outcomes) if (o.dnat) shares.set(o.dnat.to, (shares.get(o.dnat.to) ?? 0) + o.probability);
            const podTotal = [...shares.values()].reduce((a, b) => a + b, 0);
            const total = resolution.endpoints.reduce((sum, e) => sum + e.probability, 0);
            for (const share of resolution.endpoints) {
              expect(shares.get(share.address)! / podTotal, `${label} from a pod`).toBeCloseTo(share.probability / total, 12);
            }
            podChecks++;
          }
        }
      }
      expect(podChecks > 0).toBe(map.clusterCidrs.length > 0);
    });
  }

  it("finds nothing in a dump without kube-proxy and says so", () => {
    const map = mapOf("docker");
    expect(map.services).toEqual([]);
    expect(map.notes.map((n) => n.kind)).toEqual(["no-kube-proxy-rules"]);
  });
});

describe("kube-proxy's other local-traffic detectors and NodePort addresses", () => {
  const text = (name: string) => samples.get(name)!.text;
  const where = (dump: string, target: string, context: Partial<TraceContext>) => {
    const { ruleset } = parseRuleset(dump);
    const map = readServiceMap(ruleset);
    const report = answerWhere(ruleset, map, parseWhereTarget(target, ruleset.family) as WhereTarget, {
      context: defaultContext({ nodeAddresses: map.nodeAddresses, ...context }),
    });
    return { map, report };
  };

  it("--masquerade-all: every client of a cluster IP is masqueraded, pods too", () => {
    const dump = text("kube-proxy-modern").replace(/ ! -s 100\.64\.0\.0\/16 (-d \S+ -p)/g, " $1");
    const { map, report } = where(dump, "10.96.0.10:53/udp", { origin: "pod" });
    const dns = map.services.find((s) => s.name.key === "kube-system/kube-dns:dns")!;
    expect(dns.frontends[0]!.masquerade).toEqual({ kind: "all", line: 220 });
    // The "pod traffic" rules of Local services still reveal the cluster CIDR.
    expect(map.clusterCidrs).toEqual(["100.64.0.0/16"]);
    expect(report.sourceChosen).toBe("pod-in-cluster-cidr");
    expect(report.answers[0]!.resolution.endpoints.map((e) => e.masquerade)).toEqual([true, true]);
  });

  it("an interface detector (! -i cni0): masquerade depends on where the client arrives", () => {
    const dump = text("kubeadm-flannel").replaceAll("! -s 10.244.0.0/16 ", "! -i cni0 ");
    const onBridge = where(dump, "10.96.0.10:53/udp", { origin: "pod", inInterface: "cni0" });
    const dns = onBridge.map.services.find((s) => s.name.key === "kube-system/kube-dns:dns")!;
    expect(dns.frontends[0]!.masquerade).toEqual({ kind: "not-from-interface", interface: "cni0", line: 148 });
    expect(onBridge.map.clusterCidrs).toEqual([]);
    expect(onBridge.report.sourceChosen).toBe("no-cluster-cidr");
    expect(onBridge.report.answers[0]!.resolution.endpoints.map((e) => e.masquerade)).toEqual([false, false]);
    const fromOutside = where(dump, "10.96.0.10:53/udp", { origin: "external", inInterface: "eth0" });
    expect(fromOutside.report.answers[0]!.resolution.endpoints.map((e) => e.masquerade)).toEqual([true, true]);
  });

  it("--nodeport-addresses: the addresses in the rules are the node's, and NodePorts are traced to them", () => {
    const dump = text("kubeadm-flannel").replace("-m addrtype --dst-type LOCAL -j KUBE-NODEPORTS", "-d 192.168.1.9/32 -j KUBE-NODEPORTS");
    const { ruleset } = parseRuleset(dump);
    const map = resolveServices(ruleset);
    expect(map.nodeAddresses.map((a) => a.address)).toEqual(["192.168.1.9"]);
    expect(map.notes).toEqual([]);
    const http = map.services.find((s) => s.name.key === "ingress-nginx/ingress-nginx:http")!;
    expect(http.frontends[1]!.resolutions[0]).toMatchObject({ verdict: "dnat", endpoints: [{ address: "10.244.2.7:80", probability: 1 }] });
  });
});
