// A tracer compiles chains as walks first enter them, keeps a chain's compiled rules only once walks have gone
// through it twice, compiles a rule's target when the rule first matches, and finds candidates in its chain
// index: none of this may change an answer. Each packet is traced by a fresh tracer (every chain met for the
// first time), then twice by one tracer shared by all packets (chains half or fully compiled by earlier walks,
// in another order), with and without paths: every answer must be the same.

import { describe, expect, it } from "vitest";
import { parseRuleset } from "../src/index.js";
import { readServiceMap } from "../src/analysis/kube/index.js";
import { defaultContext, inferNodeAddresses } from "../src/analysis/trace/context.js";
import type { Origin, PacketSpec, TraceContext, TraceResult } from "../src/analysis/trace/types.js";
import { createTracer } from "../src/analysis/trace/walk.js";
import type { Ruleset } from "../src/model/types.js";
import { labContext } from "./support/agreement.js";
import { generateKubeProxyDumpWithTruth, mulberry32, RICH_FEATURE_MIX } from "./support/kubegen.js";
import { generateRestoreInput } from "./support/rulegen.js";
import { generateTraceCase } from "./support/tracegen.js";

interface Question {
  packet: PacketSpec;
  context: TraceContext;
}

const withoutPaths = (result: TraceResult): TraceResult => ({ ...result, outcomes: result.outcomes.map((o) => ({ ...o, path: [] })) });

/** Traces every question on fresh tracers and on shared ones; returns how many answers were compared. */
function expectSameAnswers(ruleset: Ruleset, questions: readonly Question[]): number {
  const fresh = questions.map(({ packet, context }) => createTracer(ruleset).trace(packet, context));
  const shared = createTracer(ruleset);
  const sharedWithoutPaths = createTracer(ruleset, { paths: false });
  // Backwards, so that the shared tracers meet the chains in another order than the first answers did.
  const order = questions.map((_, i) => questions.length - 1 - i);
  for (let round = 0; round < 2; round++) {
    for (const i of order) {
      const { packet, context } = questions[i]!;
      const label = `round ${round}: ${context.origin} ${packet.src} → ${packet.dst}:${packet.dport}`;
      expect(shared.trace(packet, context), label).toEqual(fresh[i]);
      expect(sharedWithoutPaths.trace(packet, context), label).toEqual(withoutPaths(fresh[i]!));
    }
  }
  return questions.length;
}

function parsed(text: string, family?: "ipv4" | "ipv6"): Ruleset {
  const { ruleset, diagnostics } = parseRuleset(text, family ? { family } : {});
  expect(diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  return ruleset;
}

const ORIGINS: readonly Origin[] = ["external", "pod", "node"];

describe("a tracer's caches change no answer", () => {
  it("generated lab cases: user chains, jumps, gotos, RETURNs, marks, NAT and random shares, in both families", () => {
    let compared = 0;
    for (let seed = 0; seed < 24; seed++) {
      const lab = generateTraceCase(seed);
      const questions = lab.flows.flatMap((flow) => {
        const context = labContext(lab.topology, flow, lab.ruleset);
        const packet: PacketSpec = { src: flow.src, dst: flow.dst, protocol: flow.proto === "tcp" ? 6 : 17, sport: 40000, dport: flow.dport };
        // The same packet with nothing said about interfaces, ipsets or the source port: uncertain splits.
        return [{ packet, context }, { packet: { ...packet, sport: undefined }, context: defaultContext({ origin: context.origin, nodeAddresses: context.nodeAddresses }) }];
      });
      compared += expectSameAnswers(parsed(lab.ruleset, lab.family), questions);
    }
    expect(compared).toBeGreaterThan(500);
  });

  it("random restore inputs: every table, user chains and the rarer matches and targets", () => {
    let compared = 0;
    for (let seed = 0; seed < 16; seed++) {
      const family = seed % 2 === 0 ? 4 : 6;
      const ruleset = parsed(generateRestoreInput(seed, family, 40));
      const nodeAddresses = inferNodeAddresses(ruleset);
      const named = ruleset.tables.flatMap((t) => t.chains.flatMap((c) => c.rules.flatMap((r) => [r.source, r.destination].flatMap((a) => (a && a.value.prefix !== 0 ? [a.value.address] : [])))));
      const random = mulberry32(seed);
      const pick = () => named[Math.floor(random() * named.length)] ?? (family === 4 ? "10.0.0.1" : "fd00::1");
      const questions = Array.from({ length: 12 }, (_, i): Question => ({
        packet: { src: pick(), dst: pick(), protocol: [6, 17, 1][i % 3]!, ...(i % 3 === 2 ? { icmpType: 8, icmpCode: 0 } : { sport: 1000 + i, dport: 80 + (i % 5) }) },
        context: defaultContext({ origin: ORIGINS[i % 3]!, nodeAddresses: i % 2 === 0 ? nodeAddresses : [], assumeNoAffinity: i % 4 === 1, mark: i % 5 === 0 ? 0x4000 : 0 }),
      }));
      compared += expectSameAnswers(ruleset, questions);
    }
    expect(compared).toBe(16 * 12);
  });

  for (const family of ["ipv4", "ipv6"] as const) {
    it(`kube-proxy dumps (${family}): every frontend from every origin, endpoint chains met once and again`, () => {
      const { text } = generateKubeProxyDumpWithTruth({ services: 30, seed: 11, family, mix: RICH_FEATURE_MIX, endpointsPerService: [0, 20] });
      const ruleset = parsed(text);
      const map = readServiceMap(ruleset);
      const client = family === "ipv4" ? "203.0.113.9" : "2001:db8:ffff::9";
      const questions = map.services.flatMap((service) =>
        service.frontends.flatMap((frontend) =>
          ORIGINS.map((origin) => ({
            packet: { src: client, dst: frontend.address ?? map.nodeAddresses[0]!.address, protocol: frontend.protocol === "tcp" ? 6 : frontend.protocol === "udp" ? 17 : 132, dport: frontend.port },
            context: defaultContext({ origin, nodeAddresses: map.nodeAddresses, assumeNoAffinity: true }),
          })),
        ),
      );
      expect(expectSameAnswers(ruleset, questions)).toBeGreaterThan(100);
    });
  }
});
