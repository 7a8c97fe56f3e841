// How `services` sums a trace up and which clients it traces. summarize looks endpoints and shares up by
// address, scanning short lists and indexing long ones: against a plain statement of the summary, on services
// of a few and of many endpoints. The client picker checks only its candidates against the addresses the map
// names: when the map names the first candidates, it moves on exactly as a check against every name would.

import { describe, expect, it } from "vitest";
import { parseRuleset } from "../src/index.js";
import { readServiceMap, resolveServiceMap } from "../src/analysis/kube/index.js";
import { ClientPicker } from "../src/analysis/kube/clients.js";
import { frontendDestination, masqueraded, protocolNumber, summarize } from "../src/analysis/kube/resolve.js";
import type { EndpointShare, FrontendResolution, ServiceMap, ServicePort } from "../src/analysis/kube/types.js";
import { defaultContext } from "../src/analysis/trace/context.js";
import type { Outcome, TraceResult } from "../src/analysis/trace/types.js";
import { createTracer } from "../src/analysis/trace/walk.js";
import { generateKubeProxyDumpWithTruth, RICH_FEATURE_MIX } from "./support/kubegen.js";

const sum = (outcomes: readonly Outcome[]) => outcomes.reduce((total, o) => total + o.probability, 0);

/** The summary, address by address: what the outcomes DNATed to it add up to, the rest by verdict. */
function plainSummary(result: TraceResult, service: ServicePort, mark: number | undefined): Omit<FrontendResolution, "client" | "source" | "verdict"> {
  const dnatted = result.outcomes.filter((o) => o.dnat !== undefined);
  const addresses = [...new Set(dnatted.map((o) => o.dnat!.to))];
  const rank = (address: string) => {
    const at = service.endpoints.map((e) => e.address).lastIndexOf(address);
    return at < 0 ? Number.MAX_SAFE_INTEGER : at;
  };
  const endpoints = addresses.map((address): EndpointShare => {
    const hits = dnatted.filter((o) => o.dnat!.to === address);
    const marks = new Set(hits.map((o) => masqueraded(o, mark)));
    const blocked = hits.filter((o) => o.verdict !== "ACCEPT");
    const endpoint = service.endpoints.find((e) => e.address === address);
    return {
      address,
      probability: sum(hits),
      masquerade: marks.has(true),
      ...(endpoint ? { chain: endpoint.chain, ...(endpoint.local !== undefined ? { local: endpoint.local } : {}) } : {}),
      ...(marks.size > 1 ? { masqueradeUncertain: true } : {}),
      ...(blocked.length > 0 ? { blocked: { verdict: blocked.at(-1)!.verdict, probability: sum(blocked), uncertain: blocked.some((o) => o.uncertain.length > 0) } } : {}),
    };
  });
  const rest = result.outcomes.filter((o) => o.dnat === undefined);
  const kinds = [...new Set(rest.map((o) => `${o.verdict} ${o.delivery}`))];
  const other = kinds.map((kind) => {
    const same = rest.filter((o) => `${o.verdict} ${o.delivery}` === kind);
    return { verdict: same[0]!.verdict, ...(same[0]!.delivery ? { delivery: same[0]!.delivery } : {}), probability: sum(same) };
  });
  endpoints.sort((a, b) => rank(a.address) - rank(b.address) || a.address.localeCompare(b.address));
  return { endpoints, other, uncertain: result.outcomes.some((o) => o.uncertain.length > 0) };
}

function mapOf(text: string): ServiceMap {
  const { ruleset, diagnostics } = parseRuleset(text);
  expect(diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  return readServiceMap(ruleset);
}

describe("summarize", () => {
  for (const family of ["ipv4", "ipv6"] as const) {
    it(`sums every frontend's trace up as the plain summary does, for services of none to 40 endpoints (${family})`, () => {
      const { text } = generateKubeProxyDumpWithTruth({ services: 40, seed: 5, family, mix: RICH_FEATURE_MIX, endpointsPerService: [0, 40] });
      const { ruleset } = parseRuleset(text);
      const map = readServiceMap(ruleset);
      const tracer = createTracer(ruleset, { paths: false });
      let large = 0;
      for (const origin of ["external", "pod", "node"] as const) {
        const context = defaultContext({ origin, nodeAddresses: map.nodeAddresses, assumeNoAffinity: origin !== "node" });
        for (const service of map.services) {
          if (service.endpoints.length > 16) large++;
          for (const frontend of service.frontends) {
            const packet = { src: family === "ipv4" ? "203.0.113.9" : "2001:db8:ffff::9", dst: frontendDestination(map, frontend), protocol: protocolNumber(frontend.protocol), dport: frontend.port };
            const result = tracer.trace(packet, context);
            expect(summarize(result, "off-cluster", service, map.masqueradeMark)).toEqual({ client: "off-cluster", source: packet.src, verdict: expect.any(String), ...plainSummary(result, service, map.masqueradeMark) });
          }
        }
      }
      expect(large).toBeGreaterThan(10);
    });
  }

  it("names an endpoint listed twice after its first listing and ranks it by its last, in short and long lists", () => {
    const map = mapOf(generateKubeProxyDumpWithTruth({ services: 3, seed: 2, endpointsPerService: 3 }).text);
    const service = map.services.find((s) => s.endpoints.length === 3)!;
    const [a, b] = service.endpoints;
    const twice = { ...a!, chain: "KUBE-SEP-SECOND" };
    const outcome = (to: string, probability: number, verdict: Outcome["verdict"] = "ACCEPT"): Outcome => ({
      probability,
      conditionalProbability: probability,
      verdict,
      packet: { src: "203.0.113.9", dst: to.split(":")[0]!, proto: "tcp" },
      masquerade: probability > 0.02,
      mark: 0,
      ctmark: 0,
      path: [],
      merged: 1,
      uncertain: [],
      dnat: { from: "10.96.0.1:80", to, line: 1 },
    });
    const fillers = Array.from({ length: 20 }, (_, i) => ({ ...b!, address: `10.250.0.${i}:80`, ip: `10.250.0.${i}` }));
    for (const endpoints of [[a!, b!, twice], [a!, ...fillers, b!, twice]]) {
      const outcomes = [outcome(a!.address, 0.3), outcome(b!.address, 0.3), outcome("10.9.9.9:80", 0.01, "DROP"), ...fillers.map((f, i) => outcome(f.address, 0.01 + i / 1000)), outcome(a!.address, 0.01, "REJECT")];
      const result = { packet: { src: "203.0.113.9" }, outcomes } as TraceResult;
      const sample = { ...service, endpoints };
      const summary = summarize(result, "off-cluster", sample, undefined);
      expect(summary).toMatchObject(plainSummary(result, sample, undefined));
      expect(summary.endpoints.find((e) => e.address === a!.address)?.chain).toBe(a!.chain);
      expect(summary.endpoints.at(-1)!.address).toBe("10.9.9.9:80");
    }
  });
});

describe("the client picker", () => {
  const text = generateKubeProxyDumpWithTruth({ services: 12, seed: 9, mix: RICH_FEATURE_MIX, endpointsPerService: [1, 3] }).text;

  /** The map with endpoints added at `addresses`: names a rule would give them. */
  function naming(...addresses: string[]): ServiceMap {
    const map = mapOf(text);
    const service = map.services.find((s) => s.endpoints.length > 0)!;
    for (const ip of addresses) service.endpoints.push({ ...service.endpoints[0]!, ip, address: `${ip}:80` });
    return map;
  }

  it("passes over off-cluster candidates the rules name", () => {
    expect(new ClientPicker(naming()).offCluster()).toBe("203.0.113.77");
    expect(new ClientPicker(naming("203.0.113.77")).offCluster()).toBe("198.51.100.77");
    expect(new ClientPicker(naming("203.0.113.77", "198.51.100.77")).offCluster()).toBe("192.0.2.77");
  });

  it("passes over pod candidates the rules name", () => {
    const map = naming();
    expect(map.clusterCidrs.length).toBeGreaterThan(0);
    const first = new ClientPicker(map).pod()!;
    const second = new ClientPicker(naming(first)).pod()!;
    expect(second).not.toBe(first);
    expect(new ClientPicker(naming(first, second)).pod()).not.toBe(second);
  });

  it("passes over hosts of source ranges the rules name, for the map's ranges and for others", () => {
    const map = naming();
    const ranges = map.services.flatMap((s) => s.frontends.flatMap((f) => f.sourceRanges ?? []));
    expect(ranges.length).toBeGreaterThan(0);
    const range = ranges.find((r) => r.startsWith("198.51.100.") || r.startsWith("192.0.2.") || r.startsWith("203.0.113."))!;
    const first = new ClientPicker(map).inside([range]);
    const second = new ClientPicker(naming(first)).inside([range]);
    expect(second).not.toBe(first);
    expect(new ClientPicker(naming(first, second)).inside([range])).not.toBe(second);
    // A range the map does not hold: its hosts were no candidates, so every name the map gives is asked.
    expect(new ClientPicker(naming("198.18.7.1")).inside(["198.18.7.0/24"])).toBe("198.18.7.2");
  });

  it("never traces the services map from an address the rules name", () => {
    const map = naming();
    resolveServiceMap(parseRuleset(text).ruleset, map);
    const sources = new Set(map.services.flatMap((s) => s.frontends.flatMap((f) => f.resolutions.map((r) => r.source))));
    const named = new Set(map.services.flatMap((s) => [...s.endpoints.map((e) => e.ip), ...s.frontends.flatMap((f) => (f.address ? [f.address] : []))]));
    expect([...sources].filter((s) => named.has(s))).toEqual([]);
  });
});
