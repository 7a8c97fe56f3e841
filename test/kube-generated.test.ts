// The Service map of generated kube-proxy dumps against the generator's ground truth: every
// service port, frontend, endpoint, share and masquerade decision, for both rule generations,
// both orders (iptables-save's and kube-proxy's own), IPv4 and IPv6, and feature mixes.

import { describe, expect, it } from "vitest";
import { parseRuleset } from "../src/index.js";
import { resolveServices, type Frontend, type FrontendResolution, type ServiceMap, type ServicePort } from "../src/analysis/kube/index.js";
import { generateKubeProxyDumpWithTruth, RICH_FEATURE_MIX, type FeatureMix, type GeneratedDump, type KubeGenOptions, type TruthEndpoint, type TruthFrontend } from "./support/kubegen.js";

function resolve(dump: GeneratedDump): ServiceMap {
  const { ruleset, diagnostics } = parseRuleset(dump.text);
  expect(diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  return resolveServices(ruleset, { nodeAddresses: [{ address: dump.cluster.nodeIP, source: { kind: "given" } }] });
}

const VERDICTS: Record<TruthFrontend["verdict"], FrontendResolution["verdict"]> = { dnat: "dnat", reject: "reject", drop: "drop", forward: "pass" };

function shares(list: readonly { address: string; probability: number }[]): [string, number][] {
  return list.map((e): [string, number] => [e.address, e.probability]).sort((a, b) => a[0].localeCompare(b[0]));
}

function expectShares(got: readonly { address: string; probability: number }[], want: readonly TruthEndpoint[], label: string, digits: number): void {
  const g = shares(got);
  const w = shares(want);
  expect(g.map(([a]) => a), label).toEqual(w.map(([a]) => a));
  // kube-proxy's probabilities as the kernel stores them: 5 decimals in the old generation, 10 in the new.
  g.forEach(([, p], i) => expect(p, label).toBeCloseTo(w[i]![1], digits));
}

/** The frontend of the map that stands for a truth frontend (REJECT rules do not say external from LB IP). */
function frontendFor(service: ServicePort, truth: TruthFrontend): Frontend | undefined {
  return service.frontends.find(
    (f) => f.address === truth.ip && f.port === truth.port && f.protocol === truth.protocol && (f.kind === truth.kind || f.kind === "externalOrLoadBalancerIP"),
  );
}

function compareWithTruth(dump: GeneratedDump, map: ServiceMap): number {
  const generation = dump.cluster.generation;
  const digits = generation === "old" ? 4 : 9;
  expect(map.generation).toBe(generation);
  expect(map.services.map((s) => `${s.name.key}/${s.protocol}`).sort()).toEqual(dump.truth.map((t) => `${t.key}/${t.protocol}`).sort());
  let frontends = 0;
  for (const truth of dump.truth) {
    const service = map.services.find((s) => s.name.key === truth.key && s.protocol === truth.protocol)!;
    const label = `${truth.key}/${truth.protocol}`;
    expect(service.name, label).toMatchObject({ namespace: truth.namespace, name: truth.name, portName: truth.portName, from: "comment" });
    expect(service.frontends.length, label).toBe(truth.frontends.length);
    const hasEndpoints = truth.endpoints.length > 0;
    // Without endpoints kube-proxy writes only REJECTs: type, policies and ranges leave no trace.
    if (hasEndpoints) {
      expect(service.type, label).toBe(truth.type);
      expect(service.internalTrafficPolicy, label).toBe(truth.internalTrafficPolicy);
      if (truth.frontends.some((f) => f.kind !== "clusterIP")) expect(service.externalTrafficPolicy, label).toBe(truth.externalTrafficPolicy);
      expect(service.affinity?.seconds, label).toBe(truth.affinitySeconds);
      expect(new Set(service.endpoints.map((e) => e.chain)), label).toEqual(new Set(truth.chains.sep));
    }
    // Old kube-proxy had no health-check rules in iptables.
    if (generation === "new") expect(service.healthCheckNodePort?.port, label).toBe(truth.healthCheckNodePort);
    for (const tf of truth.frontends) {
      const where = `${label} ${tf.kind} ${tf.ip ?? "node"}:${tf.port}`;
      const frontend = frontendFor(service, tf);
      expect(frontend, where).toBeDefined();
      const resolution = frontend!.resolutions[0]!;
      expect(resolution.client).toBe("off-cluster");
      expect(resolution.verdict, where).toBe(VERDICTS[tf.verdict]);
      expectShares(resolution.endpoints, tf.endpoints, where, digits);
      for (const share of resolution.endpoints) {
        expect(share.masquerade, `${where} → ${share.address} masquerade`).toBe(tf.masquerade);
        const endpoint = tf.endpoints.find((e) => e.address === share.address)!;
        if (share.local !== undefined) expect(share.local, `${where} → ${share.address} local`).toBe(endpoint.local);
        expect(share.chain, where).toBe(endpoint.sepChain);
      }
      if (hasEndpoints) expect(frontend!.sourceRanges, where).toEqual(tf.sourceRanges);
      // A pod outside the load balancer's source ranges is dropped like any other client.
      if (tf.podEndpoints && !tf.sourceRanges) {
        const pod = frontend!.resolutions.find((r) => r.client === "pod");
        expect(pod, `${where} from a pod`).toBeDefined();
        expectShares(pod!.endpoints, tf.podEndpoints, `${where} from a pod`, digits);
      }
      frontends++;
    }
  }
  return frontends;
}

const CASES: KubeGenOptions[] = [];
for (const generation of ["old", "new"] as const)
  for (const family of ["ipv4", "ipv6"] as const)
    for (const order of ["canonical", "restore"] as const)
      CASES.push({ services: 50, seed: 100 + CASES.length, generation, family, order, mix: RICH_FEATURE_MIX, endpointsPerService: [0, 5] });

describe("services against kube-proxy ground truth", () => {
  for (const options of CASES) {
    it(`${options.generation} generation, ${options.family}, ${options.order} order (seed ${options.seed})`, () => {
      const dump = generateKubeProxyDumpWithTruth(options);
      const map = resolve(dump);
      expect(compareWithTruth(dump, map)).toBeGreaterThan(80);
      expect(map.notes).toEqual([]);
    });
  }

  it("default feature mix, legacy iptables-save, with counters (new generation)", () => {
    const dump = generateKubeProxyDumpWithTruth({ services: 120, seed: 7, backend: "legacy", counters: true, endpointsPerService: [1, 4] });
    expect(compareWithTruth(dump, resolve(dump))).toBeGreaterThan(120);
  });

  it("default feature mix, old generation, many endpoints per service", () => {
    const dump = generateKubeProxyDumpWithTruth({ services: 40, seed: 8, generation: "old", endpointsPerService: [10, 30] });
    expect(compareWithTruth(dump, resolve(dump))).toBeGreaterThan(40);
  });
});

describe("large clusters: kube-proxy leaves out endpoint comments", () => {
  for (const generation of ["old", "new"] as const) {
    it(`${generation} generation: names still come from the service rules, and the map says comments are missing`, () => {
      const dump = generateKubeProxyDumpWithTruth({ services: 40, seed: 21, generation, mix: RICH_FEATURE_MIX, endpointsPerService: [1, 4], largeClusterMode: true });
      const map = resolve(dump);
      compareWithTruth(dump, map);
      expect(map.notes.map((n) => n.kind)).toEqual(["endpoint-comments-omitted"]);
    });
  }

  it("with no comments at all, service ports are named by their chains and still resolved", () => {
    const dump = generateKubeProxyDumpWithTruth({ services: 30, seed: 22, mix: { ...RICH_FEATURE_MIX, noEndpoints: 0, noLocalEndpoints: 0 }, endpointsPerService: [1, 4] });
    const stripped = dump.text.replace(/ -m comment --comment (?:"[^"]*"|\S+)/g, "");
    const { ruleset } = parseRuleset(stripped);
    const map = resolveServices(ruleset, { nodeAddresses: [{ address: dump.cluster.nodeIP, source: { kind: "given" } }] });
    expect(map.services.length).toBe(dump.truth.length);
    for (const truth of dump.truth) {
      const chain = truth.chains.svc ?? truth.chains.svl!;
      const service = map.services.find((s) => s.hash === chain.slice(-16))!;
      expect(service.name, truth.key).toEqual({ key: expect.stringMatching(/^KUBE-(SVC|SVL|EXT|FW)-/), from: "chain" });
      for (const tf of truth.frontends) {
        if (tf.verdict !== "dnat") continue;
        const frontend = service.frontends.find((f) => f.address === tf.ip && f.port === tf.port)!;
        expectShares(frontend.resolutions[0]!.endpoints, tf.endpoints, `${truth.key} ${tf.kind}`, 9);
      }
    }
    expect(new Set(map.notes.map((n) => n.kind))).toEqual(new Set(["name-from-chain", "endpoint-comments-omitted"]));
  });
});

describe("the same cluster in both rule generations", () => {
  it("gives the same service map", () => {
    // No internalTrafficPolicy (the old generation predates it), no external IPs (old kube-proxy
    // did not apply externalTrafficPolicy=Local to them), and every service has local endpoints
    // where its policy needs them, so that both generations serve every frontend alike.
    const mix: Partial<FeatureMix> = { ...RICH_FEATURE_MIX, internalTrafficPolicyLocal: 0, externalIPs: 0, noLocalEndpoints: 0, noEndpoints: 0 };
    const options: KubeGenOptions = { services: 60, seed: 31, mix, endpointsPerService: [1, 5] };
    const view = (map: ServiceMap) =>
      map.services.map((s) => ({
        key: s.name.key,
        protocol: s.protocol,
        type: s.type,
        externalTrafficPolicy: s.externalTrafficPolicy,
        affinity: s.affinity?.seconds,
        frontends: s.frontends.map((f) => ({
          kind: f.kind,
          address: f.address,
          port: f.port,
          sourceRanges: f.sourceRanges,
          // A pod outside the source ranges: old kube-proxy marks it for dropping, but only checks
          // the mark on INPUT/OUTPUT, so a forwarded packet goes on; new kube-proxy drops it.
          resolutions: f.resolutions.filter((r) => !(r.client === "pod" && f.sourceRanges)).map((r) => ({
            client: r.client,
            verdict: r.verdict,
            endpoints: r.endpoints.map((e) => ({ address: e.address, probability: Math.round(e.probability * 1e4) / 1e4, local: e.local, masquerade: e.masquerade })),
          })),
        })),
      }));
    const old = view(resolve(generateKubeProxyDumpWithTruth({ ...options, generation: "old" })));
    const current = view(resolve(generateKubeProxyDumpWithTruth({ ...options, generation: "new", order: "restore" })));
    expect(old.length).toBeGreaterThan(60);
    for (let i = 0; i < old.length; i++) expect(current[i], old[i]!.key).toEqual(old[i]);
  });
});
