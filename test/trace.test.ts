// Tracer semantics on small rulesets, each built to tell one netfilter rule apart from a plausible
// mistake (goto vs jump, RETURN from a goto'd chain, nat only for NEW, loopback re-entry, …).

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseRuleset } from "../src/index.js";
import { defaultContext } from "../src/analysis/trace/context.js";
import { parseIpsetSave } from "../src/analysis/trace/ipset.js";
import type { PacketSpec, TraceContext, TraceResult } from "../src/analysis/trace/types.js";
import { createTracer } from "../src/analysis/trace/walk.js";
import { buildRuleGraph, findJumpLoops } from "../src/analysis/rule-graph.js";
import { repoRoot } from "./support/files.js";

function trace(dump: string, packet: Partial<PacketSpec> = {}, context: Partial<TraceContext> = {}): TraceResult {
  const { ruleset, diagnostics } = parseRuleset(dump);
  expect(diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  const spec: PacketSpec = { src: "10.0.0.5", dst: "10.1.0.9", protocol: 6, sport: 40000, dport: 80, ...packet };
  return createTracer(ruleset).trace(spec, defaultContext({ origin: "external", nodeAddresses: [{ address: "192.168.1.2", source: { kind: "given" } }], ...context }));
}

const filter = (chains: string, rules: string, forward = "ACCEPT") =>
  `*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ${forward} [0:0]\n:OUTPUT ACCEPT [0:0]\n${chains}${rules}COMMIT\n`;

const verdicts = (r: TraceResult) => r.outcomes.map((o) => `${o.verdict}${o.delivery ? "/" + o.delivery : ""}`);
const lines = (r: TraceResult, i = 0) => r.outcomes[i]!.path.map((s) => s.line);

describe("chains, jumps and policies", () => {
  it("RETURN from a goto'd chain goes back to the caller of the chain that did the goto", () => {
    const dump = filter(
      ":A - [0:0]\n:B - [0:0]\n",
      "-A FORWARD -j A\n-A FORWARD -j DROP\n-A A -g B\n-A A -j ACCEPT\n-A B -j RETURN\n",
    );
    const r = trace(dump);
    // B returns to FORWARD (A's caller), not to A: the next rule met is FORWARD's DROP (line 10).
    expect(verdicts(r)).toEqual(["DROP"]);
    expect(lines(r)).toEqual([7, 9, 11, 8]);
  });

  it("a jump comes back, and the end of a user chain returns to the rule after the jump", () => {
    const dump = filter(":A - [0:0]\n", "-A FORWARD -j A\n-A FORWARD -p tcp -j REJECT\n-A A -p udp -j ACCEPT\n");
    const r = trace(dump);
    expect(verdicts(r)).toEqual(["REJECT"]);
    expect(r.outcomes[0]!.path.map((s) => s.effect.kind)).toEqual(["jump", "end-of-chain", "verdict"]);
  });

  it("RETURN in a built-in chain applies its policy", () => {
    const r = trace(filter("", "-A FORWARD -j RETURN\n-A FORWARD -j ACCEPT\n", "DROP"));
    expect(verdicts(r)).toEqual(["DROP"]);
    expect(r.outcomes[0]!.path.at(-1)).toMatchObject({ rule: 0, action: "policy DROP", line: 3 });
  });

  it("walks a 10,000-deep chain of jumps without recursion", () => {
    const depth = 10_000;
    const names = Array.from({ length: depth }, (_, i) => `C${i}`);
    const declarations = names.map((n) => `:${n} - [0:0]\n`).join("");
    const jumps = names.map((n, i) => (i + 1 < depth ? `-A ${n} -j ${names[i + 1]}\n` : `-A ${n} -j DROP\n`)).join("");
    const r = trace(filter(declarations, `-A FORWARD -j C0\n${jumps}`));
    expect(verdicts(r)).toEqual(["DROP"]);
    expect(r.outcomes[0]!.path).toHaveLength(depth + 1);
  });

  it("reports a jump loop as an error outcome instead of following it", () => {
    const { ruleset } = parseRuleset(filter(":A - [0:0]\n:B - [0:0]\n", "-A FORWARD -j A\n-A A -j B\n-A B -j A\n"), { lenient: true });
    const r = createTracer(ruleset).trace({ src: "10.0.0.5", dst: "10.1.0.9", protocol: 6, sport: 1, dport: 2 }, defaultContext({ origin: "external" }));
    expect(verdicts(r)).toEqual(["ERROR"]);
    expect(r.outcomes[0]!.error).toMatch(/loop/);
  });
});

describe("hooks and NAT", () => {
  const nat = (rules: string) =>
    `*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n${rules}COMMIT\n`;

  it("routes after DNAT by the new destination: a DNAT to the node delivers locally", () => {
    const r = trace(nat("-A PREROUTING -d 10.1.0.9/32 -p tcp -j DNAT --to-destination 192.168.1.2:8080\n") + filter("", "-A INPUT -p tcp --dport 8080 -j ACCEPT\n-A INPUT -j DROP\n"));
    expect(verdicts(r)).toEqual(["ACCEPT/local"]);
    expect(r.outcomes[0]!.packet).toMatchObject({ dst: "192.168.1.2", dport: 8080 });
    expect(r.outcomes[0]!.dnat).toMatchObject({ from: "10.1.0.9:80", to: "192.168.1.2:8080" });
  });

  it("consults nat only for a connection's first packet", () => {
    const dump = nat("-A PREROUTING -p tcp -j DNAT --to-destination 10.9.9.9\n");
    expect(trace(dump).outcomes[0]!.packet.dst).toBe("10.9.9.9");
    expect(trace(dump, {}, { state: "established" }).outcomes[0]!.packet.dst).toBe("10.1.0.9");
  });

  it("sees the DNAT conntrack state and the original destination after DNAT", () => {
    const dump =
      nat("-A PREROUTING -p tcp -j DNAT --to-destination 10.9.9.9:81\n") +
      filter("", "-A FORWARD -m conntrack --ctstate DNAT --ctorigdst 10.1.0.9 --ctorigdstport 80 -j ACCEPT\n", "DROP");
    expect(verdicts(trace(dump))).toEqual(["ACCEPT/forward"]);
  });

  it("masquerades with the outgoing interface's address when it is known", () => {
    const dump = nat("-A POSTROUTING -o eth0 -j MASQUERADE\n");
    const r = trace(dump, {}, { routes: [{ network: "0.0.0.0/0", interface: "eth0" }], nodeAddresses: [{ address: "192.168.1.2", interface: "eth0", source: { kind: "given" } }] });
    expect(r.outcomes).toHaveLength(1);
    expect(r.outcomes[0]).toMatchObject({ masquerade: true, packet: { src: "192.168.1.2" }, outInterface: "eth0" });
  });

  it("sends a node's packet to its own address through OUTPUT, POSTROUTING, then PREROUTING and INPUT", () => {
    const dump = filter("", "-A INPUT -i lo -p tcp --dport 80 -j REJECT\n-A OUTPUT -o lo -j ACCEPT\n");
    const r = trace(dump, { src: "192.168.1.2", dst: "192.168.1.2" }, { origin: "node" });
    expect(verdicts(r)).toEqual(["REJECT"]);
    expect(r.outcomes[0]!.path.map((s) => `${s.hook}:${s.table}`)).toEqual(["OUTPUT:filter", "INPUT:filter"]);
  });
});

describe("marks", () => {
  it("sets, saves and restores marks as MARK and CONNMARK do", () => {
    const dump =
      "*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n" +
      "-A PREROUTING -j MARK --set-xmark 0x5/0xff\n-A PREROUTING -j CONNMARK --save-mark --nfmask 0xf --ctmask 0xf\n" +
      "-A PREROUTING -j MARK --set-mark 0x0\n-A PREROUTING -j CONNMARK --restore-mark --nfmask 0x3 --ctmask 0x3\nCOMMIT\n" +
      filter("", "-A FORWARD -m mark --mark 0x1/0xff -m connmark --mark 0x5 -j ACCEPT\n", "DROP");
    const r = trace(dump);
    expect(verdicts(r)).toEqual(["ACCEPT/forward"]);
    expect(r.outcomes[0]).toMatchObject({ mark: 1, ctmark: 5 });
  });
});

describe("branches", () => {
  it("splits on statistic random and gives exact shares as the kernel stores them", () => {
    const dump = filter("", "-A FORWARD -m statistic --mode random --probability 0.25 -j DROP\n-A FORWARD -j REJECT\n");
    const r = trace(dump);
    expect(r.outcomes.map((o) => [o.verdict, o.probability])).toEqual([
      ["REJECT", 1 - Math.round(0.25 * 2 ** 31) / 2 ** 31],
      ["DROP", Math.round(0.25 * 2 ** 31) / 2 ** 31],
    ]);
  });

  it("marks an ipset match uncertain, shows both branches, and decides it from ipset save output", () => {
    const dump = filter("", "-A FORWARD -m set --match-set blocked src -j DROP\n");
    const unknown = trace(dump);
    expect(unknown.outcomes.map((o) => [o.verdict, o.probability, o.uncertain.map((u) => `${u.kind}=${u.assumed}`)])).toEqual([
      ["ACCEPT", 0.5, ["ipset-contents=false"]],
      ["DROP", 0.5, ["ipset-contents=true"]],
    ]);
    const ipsets = parseIpsetSave("create blocked hash:net family inet hashsize 1024 maxelem 65536\nadd blocked 10.0.0.0/24\nadd blocked 10.0.0.5 nomatch\n");
    expect(ipsets.problems).toEqual([]);
    expect(verdicts(trace(dump, {}, { ipsets: ipsets.facts }))).toEqual(["ACCEPT/forward"]);
    expect(verdicts(trace(dump, { src: "10.0.0.6" }, { ipsets: ipsets.facts }))).toEqual(["DROP"]);
  });

  it("drops an uncertainty that does not change the outcome", () => {
    const dump = filter("", "-A FORWARD -m limit --limit 5/min -j LOG --log-prefix \"x \"\n-A FORWARD -j ACCEPT\n");
    const r = trace(dump);
    expect(r.outcomes).toHaveLength(1);
    expect(r.outcomes[0]).toMatchObject({ probability: 1, uncertain: [], merged: 2 });
  });

  it("answers the same question about an unknown interface the same way twice", () => {
    const dump = filter("", "-A FORWARD -i eth0 -j RETURN\n-A FORWARD ! -i eth0 -j REJECT\n-A FORWARD -j ACCEPT\n", "DROP");
    const r = trace(dump);
    expect(r.outcomes.map((o) => [o.verdict, o.uncertain.map((u) => u.assumed)])).toEqual([
      ["DROP", [true]],
      ["REJECT", [false]],
    ]);
    expect(verdicts(trace(dump, {}, { inInterface: "eth1" }))).toEqual(["REJECT"]);
  });

  it("assumes no affinity history only when told", () => {
    const dump = filter("", "-A FORWARD -m recent --rcheck --seconds 60 --name S -j DROP\n");
    expect(trace(dump).outcomes.map((o) => o.uncertain[0]?.kind)).toEqual(["recent-list", "recent-list"]);
    expect(verdicts(trace(dump, {}, { assumeNoAffinity: true }))).toEqual(["ACCEPT/forward"]);
  });
});

describe("rule graph", () => {
  it("has a node per chain and rule, and jump/goto/return/fall-through edges that mirror the rules", () => {
    const dump = filter(":A - [0:0]\n:B - [0:0]\n", "-A FORWARD -j A\n-A FORWARD -g B\n-A A -j RETURN\n-A A -j DROP\n-A B -j ACCEPT\n");
    const { ruleset } = parseRuleset(dump);
    const { graph, diagnostics } = buildRuleGraph(ruleset);
    expect(diagnostics).toEqual([]);
    expect(graph.order).toBe(5 + 5);
    const edges = graph.mapEdges((_, a, source, target) => `${source} -${a.kind}-> ${target}`).sort();
    expect(edges).toEqual(
      [
        "filter/FORWARD -entry-> filter/FORWARD#1",
        "filter/FORWARD#1 -jump-> filter/A",
        "filter/FORWARD#1 -fallthrough-> filter/FORWARD#2",
        "filter/FORWARD#2 -goto-> filter/B",
        "filter/FORWARD#2 -policy-> filter/FORWARD",
        "filter/A -entry-> filter/A#1",
        "filter/A#1 -return-> filter/A",
        "filter/A#1 -fallthrough-> filter/A#2",
        "filter/A#2 -return-> filter/A",
        "filter/B -entry-> filter/B#1",
        "filter/B#1 -return-> filter/B",
      ].sort(),
    );
  });

  it("reports every jump loop with its cycle, iteratively", () => {
    const depth = 10_000;
    const names = Array.from({ length: depth }, (_, i) => `C${i}`);
    const declarations = names.map((n) => `:${n} - [0:0]\n`).join("");
    const jumps = names.map((n, i) => `-A ${n} -j ${names[(i + 1) % depth]}\n`).join("");
    const { ruleset } = parseRuleset(filter(declarations, `-A FORWARD -j C0\n${jumps}`), { lenient: true });
    const loops = findJumpLoops(ruleset);
    expect(loops).toHaveLength(1);
    expect(loops[0]).toMatchObject({ kind: "jump-loop", severity: "error", line: 4 + depth + 1 + depth });
    expect(loops[0]!.details).toMatchObject({ cycle: expect.arrayContaining(["filter/C0", "filter/C9999"]) });
  });

  it("finds a loop no built-in chain reaches only when searched from chains that lead to it", () => {
    const text = filter(":A - [0:0]\n:B - [0:0]\n:C - [0:0]\n", "-A FORWARD -j C\n-A A -j B\n-A B -j A\n");
    const { ruleset, diagnostics } = parseRuleset(text);
    expect(diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    expect(findJumpLoops(ruleset)).toEqual([]);
    expect(findJumpLoops(ruleset, () => ["C"])).toEqual([]);
    const fromA = findJumpLoops(ruleset, (table) => (table.name === "filter" ? ["A"] : []));
    expect(fromA.map((d) => d.details)).toEqual([{ cycle: ["filter/A", "filter/B", "filter/A"] }]);
  });
});

describe("addresses known by role and merged shares", () => {
  const sample = (name: string) => readFileSync(join(repoRoot, "samples", `${name}.txt`), "utf8");

  it("takes a node address known only by role to be none of the hosts the rules name", () => {
    const { ruleset } = parseRuleset(sample("kubeadm-flannel"));
    const r = createTracer(ruleset).trace(
      { src: "203.0.113.7", dst: "@node", protocol: 6, sport: 40000, dport: 30071 },
      defaultContext({ origin: "external", inInterface: "eth0" }),
    );
    expect(r.outcomes.map((o) => [o.verdict, o.packet.dst, o.packet.dport, o.uncertain.length])).toEqual([["ACCEPT", "10.244.2.7", 80, 0]]);
  });

  it("keeps apart outcomes whose share depends on an uncertain match", () => {
    const { ruleset } = parseRuleset(sample("kube-proxy-modern"));
    const r = createTracer(ruleset).trace({ src: "100.64.9.9", dst: "10.97.200.5", protocol: 6, sport: 40000, dport: 80 }, defaultContext({ origin: "pod" }));
    // auth/session has affinity: a client with history goes to its endpoint (share 1 given that), a new one 50/50.
    const shares = r.outcomes.map((o) => [o.packet.dst, o.conditionalProbability, o.uncertain.filter((u) => u.assumed).length]).sort();
    expect(shares).toEqual([
      ["100.64.1.60", 0.5, 0],
      ["100.64.1.60", 1, 1],
      ["100.64.2.61", 0.5, 0],
      ["100.64.2.61", 1, 1],
    ]);
    expect(r.outcomes.reduce((sum, o) => sum + o.probability, 0)).toBeCloseTo(1, 12);
  });
});

// Each case below is a disagreement the random kernel sweep (test/support/sweep-kernel.ts) found; the kernel
// behaviour it pins down is named in the test.
describe("conntrack entries, address types and source selection as the kernel has them", () => {
  const raw = (rules: string) => `*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n${rules}COMMIT\n`;
  const mangle = (rules: string) =>
    `*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n${rules}COMMIT\n`;
  const marks = (r: TraceResult) => r.outcomes.map((o) => o.mark);

  it("sees no conntrack entry in the raw table: the state is INVALID and connmark matches nothing", () => {
    // The conntrack hook (priority -200) runs after raw (-300).
    const dump = raw(
      "-A PREROUTING -m conntrack --ctstate NEW -j MARK --or-mark 0x1\n" +
        "-A PREROUTING -m state --state INVALID -j MARK --or-mark 0x2\n" +
        "-A PREROUTING -m connmark ! --mark 0x5 -j MARK --or-mark 0x4\n" +
        "-A PREROUTING -j CONNMARK --set-mark 0x7\n",
    ) + mangle("-A PREROUTING -m conntrack --ctstate NEW -m connmark --mark 0x0 -j MARK --or-mark 0x10\n");
    const r = trace(dump);
    expect(marks(r)).toEqual([0x12]);
    expect(r.outcomes[0]!.ctmark).toBe(0);
  });

  it("checks only --ctstate on an untracked packet, and leaves it out of nat", () => {
    const dump =
      raw("-A PREROUTING -j NOTRACK\n") +
      mangle(
        "-A PREROUTING -m conntrack --ctstate UNTRACKED --ctorigdst 192.0.2.1 -j MARK --or-mark 0x1\n" +
          "-A PREROUTING -m conntrack ! --ctorigdst 192.0.2.1 -j MARK --or-mark 0x2\n" +
          "-A PREROUTING -m connmark --mark 0x0 -j MARK --or-mark 0x4\n",
      ) +
      "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n-A PREROUTING -j DNAT --to-destination 10.9.9.9\nCOMMIT\n";
    const r = trace(dump);
    expect(marks(r)).toEqual([0x1]);
    expect(r.outcomes[0]!.packet.dst).toBe("10.1.0.9");
  });

  it("keeps the entry of a looped-back packet: NOTRACK leaves it alone and its status is CONFIRMED", () => {
    const dump =
      raw("-A PREROUTING -i lo -j NOTRACK\n") +
      mangle("-A INPUT -m conntrack --ctstate NEW --ctstatus CONFIRMED -j MARK --set-mark 0x1\n-A OUTPUT -m conntrack --ctstatus CONFIRMED -j MARK --set-mark 0x2\n");
    const r = trace(dump, { src: "192.168.1.2", dst: "192.168.1.2" }, { origin: "node" });
    expect(r.outcomes.map((o) => [o.verdict, o.delivery, o.mark])).toEqual([["ACCEPT", "local", 0x1]]);
  });

  it("counts a node's own IPv6 address as UNICAST, so LOCAL,UNICAST means local (IPv4: either type)", () => {
    const rules = "-A INPUT -m addrtype --dst-type UNICAST -j MARK --or-mark 0x1\n-A INPUT -m addrtype --dst-type LOCAL,UNICAST -j MARK --or-mark 0x2\n";
    const v6 = parseRuleset(mangle(rules), { family: "ipv6" });
    const context = defaultContext({ origin: "external", inInterface: "eth0", nodeAddresses: [{ address: "2001:db8::10", source: { kind: "given" } }] });
    const local6 = createTracer(v6.ruleset).trace({ src: "2001:db8::5", dst: "2001:db8::10", protocol: 17, sport: 1000, dport: 53 }, context);
    expect(marks(local6)).toEqual([0x3]);
    const forward6 = createTracer(parseRuleset(mangle(rules.replaceAll("INPUT", "FORWARD")), { family: "ipv6" }).ruleset).trace(
      { src: "2001:db8::5", dst: "2001:db8:1::9", protocol: 17, sport: 1000, dport: 53 },
      context,
    );
    expect(marks(forward6)).toEqual([0x1]);
    expect(marks(trace(mangle(rules), { dst: "192.168.1.2" }))).toEqual([0x2]);
  });

  it("decides addrtype --limit-iface-out from the interfaces the node addresses are on", () => {
    const dump = mangle("-A POSTROUTING -o eth1 -m addrtype ! --src-type LOCAL --limit-iface-out -j MARK --set-mark 0x1\n");
    const nodeAddresses = [
      { address: "192.168.1.2", interface: "eth0", source: { kind: "given" as const } },
      { address: "10.0.9.1", interface: "eth1", source: { kind: "given" as const } },
    ];
    const routes = [{ network: "10.0.9.0/24", interface: "eth1" }];
    const from = (src: string) => marks(trace(dump, { src, dst: "10.0.9.7" }, { origin: "node", nodeAddresses, routes }));
    expect(from("192.168.1.2")).toEqual([0x1]);
    expect(from("10.0.9.1")).toEqual([0]);
  });

  it("knows the range NAT picks a random source port from, as a looped-back packet shows", () => {
    // nf_nat_l4proto_unique_tuple: the given range, else the original port's class (1024-65535 here).
    const nat = (target: string) => `*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -p tcp -j ${target}\nCOMMIT\n`;
    const input = (ports: string) => filter("", `-A INPUT -p tcp -m tcp --sport ${ports} -j DROP\n`);
    const loop = (dump: string) => trace(dump, { src: "192.168.1.2", dst: "192.168.1.2", sport: 40000 }, { origin: "node" });
    expect(verdicts(loop(nat("SNAT --to-source 198.51.100.20:1992-2912") + input("1024:65535")))).toEqual(["DROP"]);
    expect(verdicts(loop(nat("SNAT --to-source 198.51.100.20:1992-2912") + input("3000:4000")))).toEqual(["ACCEPT/local"]);
    expect(verdicts(loop(nat("MASQUERADE --random-fully") + input("1024:65535")))).toEqual(["DROP"]);
    const straddling = loop(nat("SNAT --to-source 198.51.100.20:1992-2912") + input("2000:2100"));
    expect(straddling.outcomes.map((o) => [o.verdict, o.uncertain.map((u) => `${u.kind}=${u.assumed}`)])).toEqual([
      ["ACCEPT", ["nat-port=false"]],
      ["DROP", ["nat-port=true"]],
    ]);
  });

  it("routes a packet from another interface to a loopback address as the kernel does: IPv6 never, IPv4 only with route_localnet", () => {
    const dnat = (to: string) => `*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n-A PREROUTING -j DNAT --to-destination ${to}\nCOMMIT\n`;
    const v4 = trace(dnat("127.0.0.1"), {}, { inInterface: "eth0" });
    expect(v4.outcomes.map((o) => [o.verdict, o.delivery, o.uncertain.map((u) => `${u.kind} ${u.subject}=${u.assumed}`)])).toEqual([
      ["ACCEPT", "local", ["route-localnet eth0=true"]],
      ["DROP", undefined, ["route-localnet eth0=false"]],
    ]);
    // IPv6 looks ::1 up strictly: only a route back out of the incoming interface counts.
    const tracer = createTracer(parseRuleset(dnat("::1"), { family: "ipv6" }).ruleset);
    const v6 = (inInterface: string) =>
      tracer.trace(
        { src: "2001:db8::5", dst: "2001:db8::10", protocol: 17, sport: 1000, dport: 53 },
        defaultContext({ origin: "external", inInterface, routes: [{ network: "::/0", interface: "eth0" }, { network: "fd00::/64", interface: "cni0" }] }),
      ).outcomes.map((o) => [o.verdict, o.outInterface ?? o.error]);
    expect(v6("eth0")).toEqual([["ACCEPT", "eth0"]]);
    expect(v6("cni0")).toEqual([["REJECT", "routing: no route to ::1 through cni0 (ICMPv6 no route)"]]);
  });

  it("decides rpfilter from the routes it is given: the way back to the source must be the way in", () => {
    const routes = [{ network: "10.244.0.0/24", interface: "cni0" }, { network: "0.0.0.0/0", interface: "eth0" }];
    const check = (options: string, inInterface: string, given = routes) =>
      trace(raw(`-A PREROUTING -m rpfilter ${options} --invert -j DROP\n`), { src: "10.244.0.5" }, { inInterface, routes: given }).outcomes.map((o) => o.verdict);
    expect(check("", "cni0")).toEqual(["ACCEPT"]);
    expect(check("", "eth0")).toEqual(["DROP"]);
    expect(check("--loose", "eth0")).toEqual(["ACCEPT"]);
    expect(check("", "lo")).toEqual(["ACCEPT"]);
    expect(check("", "cni0", []).sort()).toEqual(["ACCEPT", "DROP"]);
  });

  it("masquerades an IPv6 packet to a local address with that address (RFC 6724 rule 1)", () => {
    const dump = "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -j MASQUERADE\nCOMMIT\n";
    const { ruleset } = parseRuleset(dump, { family: "ipv6" });
    const nodeAddresses = [
      { address: "2001:db8::10", interface: "eth0", source: { kind: "given" as const } },
      { address: "fd00::1", interface: "flannel.1", source: { kind: "given" as const } },
    ];
    const r = createTracer(ruleset).trace({ src: "2001:db8::10", dst: "fd00::1", protocol: 6, sport: 40000, dport: 80 }, defaultContext({ origin: "node", nodeAddresses }));
    expect(r.outcomes.map((o) => [o.delivery, o.packet.src])).toEqual([["local", "fd00::1"]]);
  });

  it("counts a MASQUERADE that leaves the source as it was as no source NAT (--ctstate SNAT)", () => {
    const dump =
      "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -j MASQUERADE\nCOMMIT\n" +
      filter("", "-A INPUT -m conntrack --ctstate SNAT -j DROP\n");
    const nodeAddresses = [
      { address: "192.168.1.2", interface: "eth0", source: { kind: "given" as const } },
      { address: "10.244.0.1", interface: "cni0", source: { kind: "given" as const } },
    ];
    const fate = (src: string) => trace(dump, { src, dst: src, protocol: 17 }, { origin: "node", nodeAddresses }).outcomes.map((o) => [o.verdict, o.packet.src]);
    // Out of lo, masquerade takes the first address of the node: the packet's own, or not.
    expect(fate("192.168.1.2")).toEqual([["ACCEPT", "192.168.1.2"]]);
    expect(fate("10.244.0.1")).toEqual([["DROP", "192.168.1.2"]]);
  });

  it("masquerades an IPv6 packet to ::1 sent back out another interface with that interface's address (host scope)", () => {
    const dump =
      "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n" +
      "-A PREROUTING -p tcp -d fd00::1/128 -j DNAT --to-destination [::1]:80\n-A POSTROUTING -j MASQUERADE\nCOMMIT\n";
    const { ruleset } = parseRuleset(dump, { family: "ipv6" });
    const nodeAddresses = [
      { address: "2001:db8::10", interface: "eth0", source: { kind: "given" as const } },
      { address: "fd00::1", interface: "flannel.1", source: { kind: "given" as const } },
    ];
    const r = createTracer(ruleset).trace(
      { src: "2001:db8:ff::9", dst: "fd00::1", protocol: 6, sport: 40000, dport: 443 },
      defaultContext({ origin: "external", inInterface: "eth0", nodeAddresses, routes: [{ network: "::/0", interface: "eth0" }] }),
    );
    expect(r.outcomes.map((o) => [o.delivery, o.outInterface, `${o.packet.src} → ${o.packet.dst}`])).toEqual([["forward", "eth0", "2001:db8::10 → ::1"]]);
  });

  it("keeps a destination port already in a DNAT or REDIRECT port range, and gives any other the range's first port", () => {
    const nat = (rules: string) => `*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n${rules}COMMIT\n`;
    const dump = nat("-A PREROUTING -p tcp -d 10.96.0.10/32 -j DNAT --to-destination 10.244.0.5:8000-8100\n-A PREROUTING -p tcp -d 10.96.0.20/32 -j REDIRECT --to-ports 50-100\n-A PREROUTING -p tcp -d 10.96.0.30/32 -j DNAT --to-destination 10.244.0.5:8000-8100 --random\n");
    const to = (dst: string, dport: number) => trace(dump, { dst, dport }, { inInterface: "eth0", nodeAddresses: [{ address: "192.168.1.2", interface: "eth0", source: { kind: "given" } }] })
      .outcomes.map((o) => [`${o.packet.dst}:${o.packet.dport}`, o.uncertain.map((u) => u.kind)]);
    expect(to("10.96.0.10", 8080)).toEqual([["10.244.0.5:8080", []]]);
    expect(to("10.96.0.10", 80)).toEqual([["10.244.0.5:8000", []]]);
    expect(to("10.96.0.20", 80)).toEqual([["192.168.1.2:80", []]]);
    expect(to("10.96.0.20", 8080)).toEqual([["192.168.1.2:50", []]]);
    // --random picks any port of the range, the one already there too.
    expect(to("10.96.0.30", 8080)).toEqual([["10.244.0.5:8000", ["nat-range"]]]);
  });

  it("picks from an address range as find_best_ips_proto hashes the connection's addresses (kernel-observed picks)", () => {
    const nat = (rules: string) => `*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n${rules}COMMIT\n`;
    const v4 = nat(
      "-A PREROUTING -d 10.96.0.0/12 -j DNAT --to-destination 10.244.0.5-10.244.0.9\n" +
        "-A POSTROUTING -s 10.244.0.5/32 -j SNAT --to-source 192.168.1.2-192.168.1.9\n" +
        "-A POSTROUTING -s 10.244.0.8/32 -j SNAT --to-source 10.244.0.1-10.244.0.9\n" +
        "-A POSTROUTING -s 10.244.0.9/32 -j SNAT --to-source 198.51.100.1-198.51.100.9 --persistent\n",
    );
    const packet = (dump: string, src: string, dst: string, family: "ipv4" | "ipv6" = "ipv4") =>
      createTracer(parseRuleset(dump, { family }).ruleset)
        .trace({ src, dst, protocol: 17, sport: 20000, dport: 53 }, defaultContext({ origin: "external", inInterface: "eth0" }))
        .outcomes.map((o) => [`${o.packet.src} → ${o.packet.dst}`, o.uncertain.length]);
    expect(packet(v4, "192.168.1.100", "10.96.0.10")).toEqual([["192.168.1.100 → 10.244.0.9", 0]]);
    expect(packet(v4, "192.168.1.100", "10.96.0.20")).toEqual([["192.168.1.100 → 10.244.0.6", 0]]);
    expect(packet(v4, "203.0.113.7", "10.96.0.20")).toEqual([["203.0.113.7 → 10.244.0.7", 0]]);
    expect(packet(v4, "10.244.0.5", "198.51.100.20")).toEqual([["192.168.1.5 → 198.51.100.20", 0]]);
    expect(packet(v4, "10.244.0.5", "203.0.113.7")).toEqual([["192.168.1.3 → 203.0.113.7", 0]]);
    // A source already in the range stays; --persistent leaves the destination out of the hash.
    expect(packet(v4, "10.244.0.8", "203.0.113.7")).toEqual([["10.244.0.8 → 203.0.113.7", 0]]);
    expect(packet(v4, "10.244.0.9", "192.168.1.100")).toEqual([["198.51.100.9 → 192.168.1.100", 0]]);
    expect(packet(v4, "10.244.0.9", "203.0.113.7")).toEqual([["198.51.100.9 → 203.0.113.7", 0]]);
    const v6 = nat(
      "-A PREROUTING -d fd00:10:96::/112 -j DNAT --to-destination fd00:10:244:1::5-fd00:10:244:1::9\n" +
        "-A POSTROUTING -s fd00:10:244:1::5/128 -j SNAT --to-source 2001:db8:0:1::10-2001:db8:0:1::1:20\n",
    );
    expect(packet(v6, "2001:db8:0:1::5", "fd00:10:96::a", "ipv6")).toEqual([["2001:db8:0:1::5 → fd00:10:244:1::9", 0]]);
    expect(packet(v6, "2001:db8:0:1::5", "fd00:10:96::14", "ipv6")).toEqual([["2001:db8:0:1::5 → fd00:10:244:1::6", 0]]);
    expect(packet(v6, "2001:db8:ff::9", "fd00:10:96::a", "ipv6")).toEqual([["2001:db8:ff::9 → fd00:10:244:1::6", 0]]);
    expect(packet(v6, "fd00:10:244:1::5", "2001:db8:0:1::5", "ipv6")).toEqual([["2001:db8:0:1::716 → 2001:db8:0:1::5", 0]]);
    expect(packet(v6, "fd00:10:244:1::5", "2001:db8:ff00::20", "ipv6")).toEqual([["2001:db8:0:1::b6f3 → 2001:db8:ff00::20", 0]]);
    // Destination NAT mixes each word it has just picked into the hash, not the destination's: it writes over it first.
    const wide = nat("-A PREROUTING -p udp -j DNAT --to-destination [fd00:10:96::1-fd00:10:96::f]:80\n");
    expect(packet(wide, "2001:db8:ff::9", "fd00:10:244:ff::1", "ipv6")).toEqual([["2001:db8:ff::9 → fd00:10:96::f", 0]]);
    expect(packet(wide, "2001:db8:ff::9", "2001:db8:ff00::20", "ipv6")).toEqual([["2001:db8:ff::9 → fd00:10:96::c", 0]]);
  });

  it("takes one off the TTL when forwarding, before FORWARD, and answers a packet with none left with time exceeded", () => {
    const dump = mangle("-A PREROUTING -s 10.0.0.8/32 -j TTL --ttl-set 1\n-A FORWARD -m ttl --ttl-eq 64 -j DROP\n-A POSTROUTING -m ttl --ttl-eq 63 -j MARK --set-mark 0x63\n-A INPUT -m ttl --ttl-eq 64 -j MARK --set-mark 0x64\n");
    const fate = (src: string, dst: string, ttl?: number) =>
      trace(dump, { src, dst, ...(ttl === undefined ? {} : { ttl }) }).outcomes.map((o) => [o.verdict, o.delivery, `0x${o.mark.toString(16)}`, o.error]);
    expect(fate("10.0.0.5", "10.1.0.9", 64)).toEqual([["ACCEPT", "forward", "0x63", undefined]]);
    expect(fate("10.0.0.5", "192.168.1.2", 64)).toEqual([["ACCEPT", "local", "0x64", undefined]]);
    expect(fate("10.0.0.8", "10.1.0.9", 64)).toEqual([["REJECT", undefined, "0x0", "routing: TTL 1 cannot be forwarded (ICMP time exceeded)"]]);
    // A TTL the trace was not given stays unknown: the matches on it are asked, nothing is decremented.
    expect(fate("10.0.0.5", "10.1.0.9").map(([verdict]) => verdict).sort()).toEqual(["ACCEPT", "DROP"]);
  });

  it("asks how '! --sport A ! --dport B' was loaded when one port is equal: iptables-nft 1.8.8 to 1.8.10 compare both as one", () => {
    const rules = "-A FORWARD -p tcp -m tcp ! --sport 53 ! --dport 443 -j DROP\n-A FORWARD -p udp -m udp ! --sport 53 ! --dport 443 -j DROP\n";
    const header = (saver: string) => `# Generated by ${saver} on Thu Nov 26 19:48:00 2026\n`;
    const fates = (dump: string, packet: Partial<PacketSpec>) => trace(dump, packet).outcomes.map((o) => [o.verdict, o.uncertain.map((u) => `${u.kind}=${u.assumed}`)]);
    const dport443 = { sport: 40000, dport: 443 };
    expect(fates(filter("", rules), dport443)).toEqual([
      ["ACCEPT", ["inverted-port-pair=false"]],
      ["DROP", ["inverted-port-pair=true"]],
    ]);
    expect(fates(filter("", rules), { protocol: 17, sport: 53, dport: 80 })).toEqual([
      ["ACCEPT", ["inverted-port-pair=false"]],
      ["DROP", ["inverted-port-pair=true"]],
    ]);
    // Where the two readings agree there is nothing to ask.
    expect(fates(filter("", rules), { sport: 40000, dport: 80 })).toEqual([["DROP", []]]);
    expect(fates(filter("", rules), { sport: 53, dport: 443 })).toEqual([["ACCEPT", []]]);
    // The header names the tool: legacy and fixed iptables-nft ask each port, 1.8.8 to 1.8.10 both at once.
    expect(fates(header("iptables-save v1.8.9") + filter("", rules), dport443)).toEqual([["ACCEPT", []]]);
    expect(fates(header("iptables-nft-save v1.8.11 (nf_tables)") + filter("", rules), dport443)).toEqual([["ACCEPT", []]]);
    expect(fates(header("iptables-nft-save v1.8.9 (nf_tables)") + filter("", rules), dport443)).toEqual([["DROP", []]]);
    // A range on either side is asked on its own by every version.
    expect(fates(filter("", "-A FORWARD -p tcp -m tcp ! --sport 53 ! --dport 400:500 -j DROP\n"), { sport: 40000, dport: 443 })).toEqual([["ACCEPT", []]]);
  });
});
