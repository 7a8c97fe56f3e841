// The matches -p loads besides tcp, udp and icmp: read in restore spelling, printed as the kernel
// saves them, and traced exactly where the packet says enough (sctp and dccp ports) or as uncertain
// where it does not (an ESP packet's SPI).

import { describe, expect, it } from "vitest";
import { formatRuleset, parseRuleset } from "../src/index.js";
import { defaultContext } from "../src/analysis/trace/context.js";
import type { PacketSpec, TraceResult } from "../src/analysis/trace/types.js";
import { createTracer } from "../src/analysis/trace/walk.js";

const filter = (rules: string) => `*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n${rules}COMMIT\n`;

function trace(dump: string, packet: Partial<PacketSpec>): TraceResult {
  const { ruleset, diagnostics } = parseRuleset(dump);
  expect(diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  const spec: PacketSpec = { src: "10.0.0.5", dst: "192.168.1.2", protocol: 132, sport: 40000, dport: 80, ...packet };
  return createTracer(ruleset).trace(spec, defaultContext({ origin: "external", nodeAddresses: [{ address: "192.168.1.2", source: { kind: "given" } }] }));
}

const verdicts = (result: TraceResult) => result.outcomes.map((o) => [o.verdict, o.uncertain.length > 0]);

describe("implicit protocol matches", () => {
  it("-p sctp, -p 132 and -p DCCP load their match, printed as iptables-save prints it", () => {
    const text = filter("-A INPUT -p 132 ! --sport 1:1000 --destination-port 80 -j ACCEPT\n-A INPUT -p DCCP --dccp-types ack,request -j ACCEPT\n-A INPUT -p esp --espspi 0x10:0x20 -j ACCEPT\n");
    const { ruleset, diagnostics } = parseRuleset(text);
    expect(diagnostics).toEqual([]);
    expect(ruleset.tables[0]!.chains[0]!.rules.map((r) => r.matches.map((m) => `${m.name}:${m.known}`))).toEqual([["sctp:true"], ["dccp:true"], ["esp:true"]]);
    expect(formatRuleset(ruleset, { canonical: true }).split("\n").filter((l) => l.startsWith("-A"))).toEqual([
      "-A INPUT -p sctp -m sctp ! --sport 1:1000 --dport 80 -j ACCEPT",
      "-A INPUT -p dccp -m dccp --dccp-types REQUEST,ACK -j ACCEPT",
      "-A INPUT -p esp -m esp --espspi 16:32 -j ACCEPT",
    ]);
  });

  it("a match of the other family is an error, as iptables refuses to load it", () => {
    const v4 = parseRuleset(filter("-A INPUT -p mh --mh-type 5 -j ACCEPT\n-A INPUT -m hl --hl-eq 1 -j ACCEPT\n-A INPUT -p ah --ahlen 3 -j ACCEPT\n"), { family: "ipv4" });
    expect(v4.diagnostics.map((d) => [d.kind, d.line])).toEqual([
      ["unknown-option", 5],
      ["extension-not-in-family", 6],
      ["unknown-option", 7],
    ]);
    const v6 = parseRuleset(filter("-A INPUT -p icmp --icmp-type 8 -j ACCEPT\n-A INPUT -p mh --mh-type bu -j ACCEPT\n"), { family: "ipv6" });
    expect(v6.diagnostics.map((d) => [d.kind, d.line])).toEqual([["unknown-option", 5]]);
  });

  it("NAT ports need -p tcp, udp, sctp, dccp or icmp", () => {
    const nat = (rule: string) => parseRuleset(`*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING ${rule}\nCOMMIT\n`).diagnostics.map((d) => d.kind);
    expect(nat("-p gre -j DNAT --to-destination 10.0.0.1:80")).toEqual(["option-needs-protocol"]);
    expect(nat("-j REDIRECT --to-ports 8080")).toEqual(["option-needs-protocol"]);
    expect(nat("-p gre -j DNAT --to-destination 10.0.0.1")).toEqual([]);
    expect(nat("! -p tcp -j DNAT --to-destination 10.0.0.1:80")).toEqual([]);
    expect(nat("-p sctp -j REDIRECT --to-ports 8080")).toEqual([]);
  });
});

describe("tracing sctp and dccp ports", () => {
  const rules = filter("-A INPUT -p sctp -m sctp --dport 80 -j ACCEPT\n-A INPUT -p dccp -m dccp --sport 5:6 -j ACCEPT\n-A INPUT -p esp -m esp --espspi 5 -j ACCEPT\n");

  it("matches an sctp packet's destination port exactly", () => {
    expect(verdicts(trace(rules, { dport: 80 }))).toEqual([["ACCEPT", false]]);
    expect(verdicts(trace(rules, { dport: 81 }))).toEqual([["DROP", false]]);
  });

  it("tells dccp ports from sctp ones by the protocol", () => {
    expect(verdicts(trace(rules, { protocol: 33, sport: 5, dport: 81 }))).toEqual([["ACCEPT", false]]);
    expect(verdicts(trace(rules, { protocol: 132, sport: 5, dport: 81 }))).toEqual([["DROP", false]]);
  });

  it("an ESP packet's SPI is not known: both branches, marked uncertain", () => {
    const result = trace(rules, { protocol: 50, sport: undefined, dport: undefined });
    expect(verdicts(result).sort()).toEqual([["ACCEPT", true], ["DROP", true]]);
  });
});
