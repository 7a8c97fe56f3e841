// The chain index (by destination host, and by the one destination port a rule requires) only skips rules that
// cannot match: with it and without it (the linear scan, rule by rule) every trace must be the same, paths,
// assumptions and shares included. Kube-proxy dumps of every generation and family, every frontend from every
// origin, and hand-made chains where an undecidable question comes before the port.

import { describe, expect, it } from "vitest";
import { parseRuleset } from "../src/index.js";
import { readServiceMap } from "../src/analysis/kube/index.js";
import { defaultContext } from "../src/analysis/trace/context.js";
import { createTracer } from "../src/analysis/trace/walk.js";
import type { Origin, PacketSpec, TraceContext } from "../src/analysis/trace/types.js";
import type { Ruleset } from "../src/model/types.js";
import { generateKubeProxyDumpWithTruth, RICH_FEATURE_MIX } from "./support/kubegen.js";

function parsed(text: string): Ruleset {
  const { ruleset, diagnostics } = parseRuleset(text);
  expect(diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  return ruleset;
}

/** Traces every packet with and without the index, each on a fresh tracer, and compares the answers. */
function expectSameTraces(ruleset: Ruleset, packets: readonly PacketSpec[], contexts: readonly TraceContext[]): number {
  const indexed = createTracer(ruleset);
  const linear = createTracer(ruleset, { index: false });
  let compared = 0;
  for (const context of contexts) {
    for (const packet of packets) {
      expect(indexed.trace(packet, context), `${context.origin} ${packet.src} → ${packet.dst}:${packet.dport}`).toEqual(linear.trace(packet, context));
      compared++;
    }
  }
  return compared;
}

const ORIGINS: readonly Origin[] = ["external", "pod", "node"];

describe("the chain index changes no trace", () => {
  for (const generation of ["new", "old"] as const) {
    for (const family of ["ipv4", "ipv6"] as const) {
      it(`kube-proxy ${generation} generation, ${family}: every frontend from every origin, and ports no rule names`, () => {
        const { text } = generateKubeProxyDumpWithTruth({ services: 40, seed: 7, generation, family, mix: RICH_FEATURE_MIX, endpointsPerService: [0, 4] });
        const ruleset = parsed(text);
        const map = readServiceMap(ruleset);
        const node = map.nodeAddresses[0]!.address;
        const client = family === "ipv4" ? "203.0.113.9" : "2001:db8:ffff::9";
        const packets: PacketSpec[] = [];
        for (const service of map.services) {
          for (const frontend of service.frontends) {
            const protocol = frontend.protocol === "tcp" ? 6 : frontend.protocol === "udp" ? 17 : 132;
            packets.push({ src: client, dst: frontend.address ?? node, protocol, dport: frontend.port });
            packets.push({ src: client, dst: frontend.address ?? node, protocol, dport: frontend.port + 1 });
          }
        }
        packets.push({ src: client, dst: node, protocol: 1, icmpType: 8, icmpCode: 0 });
        // Without --in, an external packet's interface is unknown: the interface questions split the walks.
        const contexts = ORIGINS.flatMap((origin) => [
          defaultContext({ origin, nodeAddresses: map.nodeAddresses }),
          defaultContext({ origin, nodeAddresses: map.nodeAddresses, assumeNoAffinity: true }),
        ]);
        expect(expectSameTraces(ruleset, packets, contexts)).toBeGreaterThan(400);
      });
    }
  }

  it("undecidable questions before the port: interfaces, ipsets, a source port, an address known only by role", () => {
    const filler = Array.from({ length: 40 }, (_, i) => `-A PORTS -d 192.0.2.${i + 1}/32 -p tcp -m tcp --dport ${1000 + i} -j ACCEPT`);
    const text = [
      "*nat",
      ":PREROUTING ACCEPT [0:0]",
      ":INPUT ACCEPT [0:0]",
      ":OUTPUT ACCEPT [0:0]",
      ":POSTROUTING ACCEPT [0:0]",
      ":PORTS - [0:0]",
      "-A PREROUTING -j PORTS",
      "-A OUTPUT -j PORTS",
      "-A POSTROUTING -o eth9 -j MASQUERADE",
      ...filler,
      "-A PORTS -i eth1 -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.0.0.1:8080",
      "-A PORTS -p tcp -m set --match-set allowed src -m tcp --dport 80 -j DNAT --to-destination 10.0.0.2:8080",
      "-A PORTS -p tcp -m tcp --sport 1024:65535 --dport 80 -j DNAT --to-destination 10.0.0.3:8080",
      "-A PORTS -p tcp -m comment --comment web -m tcp --dport 80 -j DNAT --to-destination 10.0.0.4:8080",
      "-A PORTS -p udp -m udp --dport 53 -m statistic --mode random --probability 0.5 -j DNAT --to-destination 10.0.0.5:53",
      "-A PORTS -p udp -m udp --dport 53 -j DNAT --to-destination 10.0.0.6:53",
      "-A PORTS -s 198.51.100.0/24 -p tcp -m tcp --dport 443 -j REDIRECT --to-ports 8443",
      "-A PORTS -p tcp -m tcp ! --dport 443 -j RETURN",
      "-A PORTS -p tcp -m tcp --dport 443 -j DNAT --to-destination 10.0.0.7:443",
      "COMMIT",
      "",
    ].join("\n");
    const ruleset = parsed(text);
    const nodeAddresses = [{ address: "192.0.2.200", source: { kind: "given" as const } }];
    const packets: PacketSpec[] = [];
    for (const dst of ["192.0.2.200", "192.0.2.5", "198.18.0.1", "@node"]) {
      for (const [protocol, dport] of [[6, 80], [6, 443], [6, 1004], [17, 53], [6, 81]] as const) {
        packets.push({ src: "198.51.100.7", dst, protocol, dport }, { src: "203.0.113.7", dst, protocol, dport, sport: 999 });
      }
    }
    const contexts = ORIGINS.flatMap((origin) => [defaultContext({ origin, nodeAddresses }), defaultContext({ origin, nodeAddresses, inInterface: "eth1" })]);
    expect(expectSameTraces(ruleset, packets, contexts)).toBe(240);
    // The questions asked before the port were asked: the walks split on them.
    const answer = createTracer(ruleset).trace({ src: "203.0.113.7", dst: "192.0.2.200", protocol: 6, dport: 80 }, defaultContext({ origin: "external", nodeAddresses }));
    expect([...new Set(answer.outcomes.flatMap((o) => o.uncertain.map((u) => u.kind)))]).toEqual(expect.arrayContaining(["in-interface-unknown", "ipset-contents"]));
  });
});
