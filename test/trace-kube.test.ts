// The tracer against kube-proxy's own intent: for generated clusters of every generation, order
// and family, a packet to each frontend must end where the generator's ground truth says —
// same verdict, same endpoints with the same shares, same masquerade decision.

import { describe, expect, it } from "vitest";
import { parseRuleset } from "../src/index.js";
import { defaultContext } from "../src/analysis/trace/context.js";
import { formatEndpoint, parseNet } from "../src/analysis/ip.js";
import { createTracer } from "../src/analysis/trace/walk.js";
import type { Outcome } from "../src/analysis/trace/types.js";
import { generateKubeProxyDumpWithTruth, RICH_FEATURE_MIX, type KubeGenOptions, type TruthFrontend } from "./support/kubegen.js";

const RICH_MIX = RICH_FEATURE_MIX;

/** A client address inside `range` (its second address), or a documentation address off-cluster. */
function clientAddress(family: "ipv4" | "ipv6", range: string | undefined): string {
  if (!range) return family === "ipv4" ? "203.0.113.50" : "2001:db8:ffff::50";
  const net = parseNet(range, family)!;
  const words = [...net.words];
  words[3] = (words[3]! + 1) >>> 0;
  if (family === "ipv4") return [24, 16, 8, 0].map((s) => (words[3]! >>> s) & 255).join(".");
  const hex: string[] = [];
  for (const w of words) hex.push((w >>> 16).toString(16), (w & 0xffff).toString(16));
  return hex.join(":");
}

function summarize(outcomes: readonly Outcome[], family: "ipv4" | "ipv6") {
  return outcomes
    .map((o) => ({
      verdict: o.verdict,
      to: o.verdict === "ACCEPT" ? formatEndpoint(o.packet.dst, o.packet.dport, family) : undefined,
      probability: o.probability,
      // kube-proxy marks a connection for masquerading (newer versions clear the mark as they
      // masquerade); POSTROUTING does it, and an endpoint on the node itself never gets there.
      marked: o.masquerade || (o.mark & 0x4000) !== 0,
      masquerade: o.masquerade,
      uncertain: o.uncertain.map((u) => u.kind),
    }))
    .sort((a, b) => (a.to ?? "").localeCompare(b.to ?? ""));
}

function expected(frontend: TruthFrontend, nodeIP: string) {
  if (frontend.verdict === "forward") {
    return [{ verdict: "ACCEPT", to: formatEndpoint(frontend.ip!, frontend.port, frontend.ip!.includes(":") ? "ipv6" : "ipv4"), probability: 1, marked: false, masquerade: false, uncertain: [] }];
  }
  if (frontend.verdict !== "dnat") return [{ verdict: frontend.verdict === "drop" ? "DROP" : "REJECT", to: undefined, probability: 1, marked: false, masquerade: false, uncertain: [] }];
  return frontend.endpoints
    .map((e) => ({
      verdict: "ACCEPT",
      to: e.address,
      probability: e.probability,
      marked: frontend.masquerade,
      masquerade: frontend.masquerade && e.ip !== nodeIP,
      uncertain: [],
    }))
    .sort((a, b) => a.to.localeCompare(b.to));
}

const CASES: KubeGenOptions[] = [];
for (const generation of ["old", "new"] as const)
  for (const family of ["ipv4", "ipv6"] as const)
    for (const order of ["canonical", "restore"] as const)
      CASES.push({ services: 40, seed: CASES.length + 11, generation, family, order, mix: RICH_MIX, endpointsPerService: [0, 5] });

describe("tracer vs kube-proxy ground truth", () => {
  for (const options of CASES) {
    it(`${options.generation} generation, ${options.family}, ${options.order} order (seed ${options.seed})`, () => {
      const dump = generateKubeProxyDumpWithTruth(options);
      const { ruleset, diagnostics } = parseRuleset(dump.text);
      expect(diagnostics.filter((d) => d.severity === "error")).toEqual([]);
      const tracer = createTracer(ruleset);
      const family = options.family!;
      const context = defaultContext({
        origin: "external",
        nodeAddresses: [{ address: dump.cluster.nodeIP, source: { kind: "given" } }],
        assumeNoAffinity: true,
      });
      let checked = 0;
      for (const port of dump.truth) {
        for (const frontend of port.frontends) {
          const dst = frontend.ip ?? dump.cluster.nodeIP;
          const src = clientAddress(family, frontend.sourceRanges?.[0]);
          const result = tracer.trace({ src, dst, protocol: frontend.protocol === "tcp" ? 6 : 17, sport: 40000, dport: frontend.port }, context);
          const label = `${port.key}/${frontend.protocol} ${frontend.kind} ${formatEndpoint(dst, frontend.port, family)} from ${src}`;
          const got = summarize(result.outcomes, family);
          const want = expected(frontend, dump.cluster.nodeIP);
          const withoutShares = (list: { probability: number }[]) => list.map((o) => ({ ...o, probability: undefined }));
          expect(withoutShares(got), label).toEqual(withoutShares(want));
          // Probabilities as the kernel stores them: kube-proxy wrote 5 decimals before 1.25ish, 10 after.
          got.forEach((o, i) => expect(o.probability, label).toBeCloseTo(want[i]!.probability, options.generation === "old" ? 4 : 9));
          const total = result.outcomes.reduce((sum, o) => sum + o.probability, 0);
          expect(total, label).toBeCloseTo(1, 12);
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(40);
    });
  }
});
